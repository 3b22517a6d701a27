"""Drawing helpers of the dashboards: charts with error bars, tables with CSV downloads.

Every chart is a Plotly figure whose mode bar offers "download as PNG" (drawn in the browser,
no network); every table comes with a CSV download (UTF-8 with a byte-order mark, so that Excel
opens the Chinese text correctly). Only drawing here: the numbers come from
:mod:`analysis.dashboard`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app_pages.common import tr
from app_pages.dash_filters import stamp

#: Colours: the estimate, a low-precision estimate, reference lines.
COLOUR = "#2f6690"
FLAGGED_COLOUR = "#b8c7d6"
REFERENCE_COLOUR = "#c0392b"
#: Quality flags in words (Chinese, English).
FLAG_LABELS: dict[str, tuple[str, str]] = {
    "speeder": ("作答过快", "Speeder"),
    "straightliner": ("矩阵题直线作答", "Straight-lining in a block"),
    "long_string": ("长串相同答案", "Long string of identical answers"),
    "attention_failed": ("注意力题未通过", "Failed attention check"),
    "duplicate_token": ("邀请码重复使用", "Invitation used twice"),
    "duplicate_answers": ("答案完全重复", "Duplicate answer sheet"),
    "flag_any": ("任一标记", "Any flag"),
}
FONT = "Noto Sans CJK SC, WenQuanYi Micro Hei, Microsoft YaHei, PingFang SC, sans-serif"


def plotly_config(name: str) -> dict[str, object]:
    """Mode bar settings: PNG download named after the chart, no Plotly logo."""
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": f"{name}-{stamp()}", "scale": 2},
        "modeBarButtonsToRemove": ["lasso2d", "select2d"],
    }


def styled(figure: go.Figure) -> go.Figure:
    """The dashboards' look (fonts with Chinese glyphs, a white template); returns it."""
    figure.update_layout(font={"family": FONT}, template="plotly_white")
    return figure


def show_figure(figure: go.Figure, name: str) -> None:
    """Draw a figure with the PNG download in its mode bar. A figure built by :func:`styled`
    (e.g. one shared from a cache) is drawn as it is; any other is styled first."""
    if figure.layout.font.family != FONT:
        styled(figure)
    st.plotly_chart(figure, config=plotly_config(name), key=f"chart_{name}")


def csv_bytes(table: pd.DataFrame) -> bytes:
    """A table as CSV, UTF-8 with a byte-order mark."""
    return table.to_csv(index=False).encode("utf-8-sig")


def show_table(
    table: pd.DataFrame,
    name: str,
    *,
    formats: dict[str, str] | None = None,
    height: int | None = None,
) -> None:
    """Draw a table and a button to download it as CSV (the numbers as they are).

    ``formats`` maps a column to a Streamlit number format for display: ``"percent"`` for
    shares (0.125 shows as 12.5%), ``"localized"`` for counts and totals, or a printf format.
    """
    config = {name: st.column_config.NumberColumn(format=fmt)
              for name, fmt in (formats or {}).items() if name in table.columns}
    st.dataframe(table, hide_index=True, column_config=config,
                 height=height if height is not None else "auto")
    st.download_button(
        tr("下载CSV", "Download CSV"),
        data=csv_bytes(table),
        file_name=f"{name}-{stamp()}.csv",
        mime="text/csv",
        key=f"csv_{name}",
        on_click="ignore",
    )


def flag_text(flags: str, min_n: int, max_cv: float) -> str:
    """The low-precision flags of an estimate in words."""
    words = []
    for flag in filter(None, str(flags).split(",")):
        if flag == "small_n":
            words.append(tr(f"样本少于{min_n}", f"n < {min_n}"))
        elif flag == "high_cv":
            words.append(tr(f"变异系数>{max_cv:.0%}", f"CV > {max_cv:.0%}"))
    return "；".join(words) if tr("zh", "en") == "zh" else "; ".join(words)


def bar_with_ci(
    table: pd.DataFrame,
    *,
    label: str,
    value_title: str,
    horizontal: bool = False,
    flagged_note: str | None = None,
) -> go.Figure:
    """Bars of ``estimate`` with ``ci_lower``-``ci_upper`` error bars, one per row of
    ``table`` (labelled by ``label``); flagged rows (non-empty ``flags``) lighter and hatched."""
    flagged = table["flags"].astype(str).str.len() > 0
    fig = go.Figure()
    for is_flagged, colour, name in (
        (False, COLOUR, tr("估计值（95%置信区间）", "Estimate (95% CI)")),
        (True, FLAGGED_COLOUR, flagged_note or tr("精度低", "Low precision")),
    ):
        part = table[flagged == is_flagged]
        if part.empty:
            continue
        upper = (part["ci_upper"] - part["estimate"]).tolist()
        lower = (part["estimate"] - part["ci_lower"]).tolist()
        error = {"type": "data", "array": upper, "arrayminus": lower, "visible": True,
                 "color": "#333333", "thickness": 1.2, "width": 4}
        common = {
            "name": name,
            "marker": {"color": colour, "pattern": {"shape": "/" if is_flagged else ""}},
            "customdata": list(zip(part["ci_lower"], part["ci_upper"], part["n"], strict=True)),
        }
        if horizontal:
            fig.add_bar(y=part[label], x=part["estimate"], orientation="h", error_x=error,
                        hovertemplate="%{y}: %{x:.1f} [%{customdata[0]:.1f}, "
                                      "%{customdata[1]:.1f}], n=%{customdata[2]}<extra></extra>",
                        **common)
        else:
            fig.add_bar(x=part[label], y=part["estimate"], error_y=error,
                        hovertemplate="%{x}: %{y:.1f} [%{customdata[0]:.1f}, "
                                      "%{customdata[1]:.1f}], n=%{customdata[2]}<extra></extra>",
                        **common)
    axis = {"title": value_title, "rangemode": "tozero"}
    order = {"categoryorder": "array", "categoryarray": table[label].tolist()}
    if horizontal:
        fig.update_layout(xaxis=axis, yaxis={**order, "autorange": "reversed"},
                          height=max(260, 28 * len(table) + 120))
    else:
        fig.update_layout(yaxis=axis, xaxis=order, height=380)
    fig.update_layout(barmode="overlay", bargap=0.35 if len(table) > 3 else 0.5,
                      margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      legend={"orientation": "h", "y": 1.08})
    return fig


def forest(
    rows: pd.DataFrame,
    *,
    label: str,
    value_title: str,
    references: Sequence[tuple[float, str]] = (),
) -> go.Figure:
    """A forest plot: one point per row (``estimate`` with ``ci_lower``-``ci_upper``), a line
    at 0 and one per reference value (value, label)."""
    fig = go.Figure()
    fig.add_scatter(
        x=rows["estimate"], y=rows[label], mode="markers",
        marker={"color": COLOUR, "size": 10, "symbol": "square"},
        error_x={"type": "data", "array": (rows["ci_upper"] - rows["estimate"]).tolist(),
                 "arrayminus": (rows["estimate"] - rows["ci_lower"]).tolist(),
                 "color": COLOUR, "thickness": 1.5},
        name=tr("估计值（95%置信区间）", "Estimate (95% CI)"),
        hovertemplate="%{y}: %{x:.3f}<extra></extra>",
    )
    fig.add_vline(x=0, line={"color": "#777777", "width": 1})
    shown = sorted((v, t) for v, t in references if not math.isnan(v))
    for i, (value, text) in enumerate(shown):
        # the smaller reference is labelled on its left, the others on their right
        fig.add_vline(x=value, line={"color": REFERENCE_COLOUR, "dash": "dash", "width": 1.5},
                      annotation_text=text,
                      annotation_position="top left" if i == 0 and len(shown) > 1
                      else "top right",
                      annotation_font_color=REFERENCE_COLOUR)
    fig.update_layout(
        xaxis={"title": value_title, "zeroline": False},
        yaxis={"autorange": "reversed", "categoryorder": "array",
               "categoryarray": rows[label].tolist()},
        height=max(280, 60 * len(rows) + 140),
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        showlegend=False,
    )
    return fig


def love_plot(rows: pd.DataFrame, *, before: str, after: str, threshold: float = 0.1
              ) -> go.Figure:
    """Standardised mean differences before and after weighting, one row per covariate level
    (``label``, ``smd_before``, ``smd_after``), with lines at +-``threshold``."""
    fig = go.Figure()
    fig.add_scatter(x=rows["smd_before"], y=rows["label"], mode="markers", name=before,
                    marker={"color": FLAGGED_COLOUR, "size": 9, "symbol": "circle-open",
                            "line": {"width": 2}})
    fig.add_scatter(x=rows["smd_after"], y=rows["label"], mode="markers", name=after,
                    marker={"color": COLOUR, "size": 9})
    for x in (-threshold, threshold):
        fig.add_vline(x=x, line={"color": REFERENCE_COLOUR, "dash": "dot", "width": 1})
    fig.add_vline(x=0, line={"color": "#777777", "width": 1})
    fig.update_layout(height=max(300, 22 * len(rows) + 120),
                      yaxis={"autorange": "reversed", "categoryorder": "array",
                             "categoryarray": rows["label"].tolist()},
                      xaxis_title="SMD", margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      legend={"orientation": "h", "y": 1.06})
    return fig


def error_box(exc: Exception) -> None:
    """Show one of the project's errors (never a traceback)."""
    st.error(str(exc))
