"""Literacy: the index and its dimensions with confidence intervals, on a map of the provinces,
by region and by group, weighted or unweighted, with low-precision estimates marked."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analysis import dashboard as db
from analysis.geo import choropleth_figure, load_provinces_geojson
from analysis.results import Estimates
from app_pages.common import language, require, tr
from app_pages.dash_charts import (
    bar_with_ci,
    error_box,
    flag_text,
    show_figure,
    show_table,
    styled,
)
from app_pages.dash_filters import cached, column_label, panel

require("view_dashboards")
lang = language()
st.title(tr("金融素养水平", "Financial literacy"))
selection = panel()
if selection is None:
    st.stop()
data, filters = selection.data, selection.filters

st.session_state.setdefault("dash_min_n", st.session_state.get("dash_state", {}).get(
    "dash_min_n", 30))
st.session_state.setdefault("dash_max_cv", st.session_state.get("dash_state", {}).get(
    "dash_max_cv", 30))
with st.expander(tr("精度标记", "Precision flags")):
    cols = st.columns(2)
    min_n = int(cols[0].number_input(tr("最少样本量", "Smallest n"), min_value=1, step=5,
                                     key="dash_min_n"))
    max_cv = float(cols[1].number_input(tr("最大变异系数（%）", "Largest CV (%)"), min_value=1,
                                        max_value=200, step=5, key="dash_max_cv")) / 100
    st.caption(tr("样本量小于此值或变异系数（标准误/估计值）大于此值的估计被标记为精度低。",
                  "Estimates from fewer respondents, or with a coefficient of variation "
                  "(SE / estimate) above this, are marked as low precision."))
    st.session_state.setdefault("dash_state", {}).update(
        dash_min_n=min_n, dash_max_cv=round(max_cv * 100))

try:
    result = cached(
        "literacy", selection.cache_key(min_n, max_cv),
        lambda: db.literacy(data, filters, min_n=min_n, max_cv=max_cv),
    )
except ValueError as exc:
    error_box(exc)
    st.stop()

if result.n == 0:
    st.warning(tr("筛选范围内没有答卷，请放宽筛选条件。",
                  "No responses are in the selected domain; widen the filters."))
    st.stop()

weighting = data.sample(filters.exclude_flagged).weighting
if filters.weighted:
    st.caption(tr(
        f"人口普查加权估计（{result.n:,} 名受访者）；95%置信区间考虑了加权（校准）的影响。",
        f"Census-weighted estimates ({result.n:,} respondents); the 95% confidence intervals "
        "account for the weighting (calibration).",
    ))
    if result.n_without_weight:
        st.info(tr(
            f"筛选范围内有 {result.n_without_weight:,} 名受访者缺少省份、性别、年龄或城乡信息"
            "（或未满15岁），没有普查权重，未计入加权估计（计入不加权估计）。",
            f"{result.n_without_weight:,} respondents in the domain lack province, sex, age or "
            "urban/rural (or are under 15), so they have no census weight: they are left out "
            "of the weighted estimates (they count in the unweighted ones).",
        ))
    if weighting.scheme != "full":
        st.info(tr(
            f"权重方案：{weighting.scheme}（完整方案无法实施，详见“权重”页）。",
            f"Weighting scheme: {weighting.scheme} (the full scheme could not be used; see "
            "the Weighting page).",
        ))
    if weighting.uncovered_provinces:
        st.info(tr(
            f"{len(weighting.uncovered_provinces)} 个省份没有受访者，加权估计代表其余省份的人口。",
            f"{len(weighting.uncovered_provinces)} provinces have no respondents: weighted "
            "figures describe the population of the other provinces.",
        ))
else:
    st.caption(tr(
        f"不加权的样本估计（{result.n:,} 名受访者），不代表总体。",
        f"Unweighted sample estimates ({result.n:,} respondents); they do not represent the "
        "population.",
    ))

HEADERS = {
    "label": tr("组别", "Group"),
    "outcome_label": tr("指标", "Measure"),
    "estimate": tr("估计值", "Estimate"),
    "ci_lower": tr("95%置信下限", "95% CI lower"),
    "ci_upper": tr("95%置信上限", "95% CI upper"),
    "se": tr("标准误", "SE"),
    "n": tr("样本量", "n"),
    "cv": tr("变异系数", "CV"),
    "deff": tr("设计效应", "Design effect"),
    "precision": tr("精度", "Precision"),
}


@dataclass(frozen=True)
class Part:
    """A section's figure and table (either may be missing)."""

    figure: go.Figure | None
    table: pd.DataFrame
    flagged: tuple[object, ...] = ()


def display(estimates: Estimates, by: str | None = None) -> pd.DataFrame:
    """A readable table of estimates (labels in the current language)."""
    table = db.estimates_table(estimates, data, by=by, lang=lang)
    table["precision"] = [flag_text(f, min_n, max_cv) for f in table["flags"]]
    columns = [*(["label"] if by else []), "outcome_label", "estimate", "ci_lower", "ci_upper",
               "se", "n", "cv", *(["deff"] if filters.weighted else []), "precision"]
    out = table[columns].rename(columns=HEADERS)
    return out.round({HEADERS[c]: 2 for c in ("estimate", "ci_lower", "ci_upper", "se")}
                     | {HEADERS["cv"]: 3} | ({HEADERS["deff"]: 2} if filters.weighted else {}))


def bars(estimates: Estimates, by: str, outcome: str) -> Part:
    """One outcome by group as bars with error bars, and every outcome's table."""
    table = db.estimates_table(estimates, data, by=by, lang=lang)
    table = table[table["outcome"] == outcome].reset_index(drop=True)
    if table.empty:
        return Part(None, display(estimates, by=by))
    figure = styled(bar_with_ci(table, label="label",
                                value_title=data.outcome_label(outcome, lang)))
    return Part(figure, display(estimates, by=by))


def province_map(outcome: str) -> Part:
    """The outcome on the map, low-precision provinces outlined."""
    name = data.outcome_label(outcome, lang)
    provinces = db.estimates_table(result.provinces, data, by="province", lang=lang)
    provinces = provinces[provinces["outcome"] == outcome].reset_index(drop=True)
    if provinces.empty:
        return Part(None, display(result.provinces, by="province"))
    ci_label, n_label, flag_label = tr("95%置信区间", "95% CI"), tr("样本量", "n"), tr("精度",
                                                                                   "Precision")
    values = pd.DataFrame({
        "gb_code": provinces["province"].astype(int),
        name: provinces["estimate"],
        ci_label: [f"{lo:.1f}–{hi:.1f}" for lo, hi in zip(provinces["ci_lower"],
                                                          provinces["ci_upper"], strict=True)],
        n_label: provinces["n"],
        flag_label: [flag_text(f, min_n, max_cv) or tr("正常", "OK") for f in provinces["flags"]],
    })
    figure = choropleth_figure(values, value=name, label_language=lang,
                               hover=[ci_label, n_label, flag_label])
    flagged = tuple(int(c) for c in provinces.loc[provinces["flags"].astype(str) != "",
                                                  "province"])
    if flagged:
        features = [f for f in load_provinces_geojson()["features"]
                    if f["properties"]["gb_code"] in set(flagged)]
        figure.add_trace(go.Choroplethmap(
            geojson={"type": "FeatureCollection", "features": features},
            featureidkey="properties.gb_code", locations=list(flagged),
            z=[0.0] * len(flagged), colorscale=[[0.0, "rgba(0,0,0,0)"], [1.0, "rgba(0,0,0,0)"]],
            showscale=False, marker={"line": {"color": "#d35400", "width": 2.5}},
            name=tr("精度低（样本少或变异系数大）", "Low precision (small n or high CV)"),
            showlegend=False, hoverinfo="skip",
        ))
    return Part(styled(figure), display(result.provinces, by="province"), flagged)


def view(outcome: str) -> dict[str, Part]:
    """Every section's figure and table: built once per selection, then served from cache."""
    national = db.estimates_table(result.national, data, lang=lang)
    national["label"] = national["outcome_label"]
    parts = {
        "national": Part(styled(bar_with_ci(national, label="label",
                                            value_title=tr("得分（0-100）", "Score (0-100)"))),
                         display(result.national)),
        "provinces": province_map(outcome),
        "regions": bars(result.regions, "region", outcome),
    }
    for group in data.groups:
        parts[group] = bars(result.groups[group], group, outcome)
    return parts


# ----------------------------------------------------------------------------- national
st.subheader(tr("全国", "National"))
national = db.estimates_table(result.national, data, lang=lang)
metric_cols = st.columns(max(1, len(national)))
for col, row in zip(metric_cols, national.itertuples(), strict=False):
    col.metric(row.outcome_label, f"{row.estimate:.1f}")
    col.caption(tr(f"95%置信区间 {row.ci_lower:.1f}–{row.ci_upper:.1f}",
                   f"95% CI {row.ci_lower:.1f}–{row.ci_upper:.1f}"))
outcome = str(st.session_state.get("lit_outcome", data.outcomes[0]))
if outcome not in data.outcomes:
    outcome = data.outcomes[0]
parts = cached("literacy-view", selection.cache_key(min_n, max_cv, outcome, lang),
               lambda: view(outcome))
left, right = st.columns([3, 2])
with left:
    show_figure(parts["national"].figure, "literacy-national")
with right:
    show_table(parts["national"].table, "literacy-national")

# ----------------------------------------------------------------------------- provinces
st.subheader(tr("分省", "By province"))
outcome_labels = {o: data.outcome_label(o, lang) for o in data.outcomes}
st.selectbox(tr("指标", "Measure"), list(data.outcomes), key="lit_outcome",
             format_func=outcome_labels.__getitem__,
             index=list(data.outcomes).index(outcome))
part = parts["provinces"]
if part.figure is None:
    st.info(tr("没有省份信息。", "There is no province information."))
else:
    show_figure(part.figure, "literacy-map")
    if part.flagged:
        names = ", ".join(data.value_label("province", c, lang) for c in part.flagged)
        st.caption(tr(f"橙色边框：精度低的省份（{names}），解读时需谨慎。",
                      f"Orange outline: low-precision provinces ({names}); interpret with care."))
    show_table(part.table, "literacy-provinces", height=360)

# ----------------------------------------------------------------------------- regions
st.subheader(tr("分地区", "By region"))
part = parts["regions"]
if part.figure is not None:
    show_figure(part.figure, "literacy-regions")
    show_table(part.table, "literacy-regions")

# ----------------------------------------------------------------------------- groups
if data.groups:
    st.subheader(tr("分人群", "By group"))
    tabs = st.tabs([column_label(g) for g in data.groups])
    for tab, group in zip(tabs, data.groups, strict=True):
        with tab:
            part = parts[group]
            if part.figure is None:
                st.info(tr("筛选范围内没有该分组的信息。", "No information on this group here."))
                continue
            show_figure(part.figure, f"literacy-{group}")
            show_table(part.table, f"literacy-{group}")
