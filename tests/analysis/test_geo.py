"""Tests of analysis.geo: the shipped province map and the offline choropleth figure."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pytest
import shapely
from shapely.geometry import shape

from analysis.errors import MapError
from analysis.geo import (
    GEOJSON_PATH,
    NO_DATA_COLOUR,
    NO_DATA_LABEL,
    OUTSIDE_SURVEY_CODES,
    choropleth_figure,
    load_provinces_geojson,
)

ROOT = Path(__file__).resolve().parents[2]
CENSUS = ROOT / "data" / "reference" / "china_provinces_census2020.csv"
ARTIFACTS = ROOT / "tests" / "artifacts" / "map"


@pytest.fixture(scope="module")
def census() -> pd.DataFrame:
    return pd.read_csv(CENSUS)


@pytest.fixture(scope="module")
def geojson() -> dict[str, Any]:
    return load_provinces_geojson()


def _codes_of(figure: go.Figure) -> list[int]:
    return [int(c) for trace in figure.data for c in trace.locations]


# --- the shipped GeoJSON ---------------------------------------------------------------------


def test_file_has_34_features_with_the_four_properties(geojson: dict[str, Any]) -> None:
    assert geojson["type"] == "FeatureCollection"
    features = geojson["features"]
    assert len(features) == 34
    for f in features:
        assert set(f["properties"]) == {"gb_code", "iso_code", "name_zh", "name_en"}
        assert isinstance(f["properties"]["gb_code"], int)
        assert f["id"] == f["properties"]["gb_code"]
    codes = [f["properties"]["gb_code"] for f in features]
    assert len(set(codes)) == 34


def test_mainland_codes_and_names_equal_the_census_table(
    geojson: dict[str, Any], census: pd.DataFrame
) -> None:
    props = {f["properties"]["gb_code"]: f["properties"] for f in geojson["features"]}
    mainland = {c: p for c, p in props.items() if c not in OUTSIDE_SURVEY_CODES}
    assert sorted(mainland) == sorted(census["gb_code"].tolist())
    for row in census.itertuples():
        assert mainland[row.gb_code] == {
            "gb_code": row.gb_code,
            "iso_code": row.iso_code,
            "name_zh": row.name_zh,
            "name_en": row.name_en,
        }
    assert {c: props[c]["iso_code"] for c in OUTSIDE_SURVEY_CODES} == {
        71: "CN-TW",
        81: "CN-HK",
        82: "CN-MO",
    }


def test_every_geometry_is_valid_non_empty_and_borders_do_not_overlap(
    geojson: dict[str, Any],
) -> None:
    geoms = [shape(f["geometry"]) for f in geojson["features"]]
    for f, g in zip(geojson["features"], geoms, strict=True):
        name = f["properties"]["name_en"]
        assert g.geom_type in {"Polygon", "MultiPolygon"}, name
        assert not g.is_empty, name
        assert g.is_valid, (name, shapely.is_valid_reason(g))
        assert g.area > 0, name
    # Neighbours share their simplified borders exactly: a valid polygonal coverage.
    assert shapely.coverage_is_valid(geoms)
    union_area = shapely.union_all(geoms).area
    assert union_area == pytest.approx(sum(g.area for g in geoms), rel=1e-9)


def test_rings_are_closed_counter_clockwise_and_rounded(geojson: dict[str, Any]) -> None:
    for f in geojson["features"]:
        geom = f["geometry"]
        polygons = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
        for polygon in polygons:
            for k, ring in enumerate(polygon):
                assert len(ring) >= 4 and ring[0] == ring[-1]
                for x, y in ring:
                    assert 73 < x < 136 and 3 < y < 54
                    assert round(x, 3) == x and round(y, 3) == y
                signed = shapely.LinearRing(ring).is_ccw
                assert signed is (k == 0), (f["properties"]["name_en"], k)  # RFC 7946


def test_the_map_covers_the_country_and_keeps_the_south_china_sea_islands(
    geojson: dict[str, Any],
) -> None:
    by_code = {f["properties"]["gb_code"]: shape(f["geometry"]) for f in geojson["features"]}
    minx, miny, maxx, maxy = shapely.union_all(list(by_code.values())).bounds
    assert minx < 74 and maxx > 134.5 and maxy > 53 and miny < 4.5  # Pamirs..Wusuli, Mohe..Zengmu
    hainan_parts = shapely.get_parts(by_code[46])
    nansha = [p for p in hainan_parts if p.centroid.y < 12]
    xisha = [p for p in hainan_parts if 15.5 < p.centroid.y < 17.5]
    assert len(nansha) >= 10 and len(xisha) >= 3
    # Places fall in the right province (WGS 84 positions).
    for code, lon, lat in [(11, 116.397, 39.909), (31, 121.474, 31.230), (65, 87.617, 43.826),
                           (81, 114.170, 22.320), (82, 113.544, 22.190), (71, 121.565, 25.033),
                           (54, 91.117, 29.653), (46, 110.35, 20.02)]:  # fmt: skip
        assert by_code[code].contains(shapely.Point(lon, lat)), code


def test_file_is_small() -> None:
    assert GEOJSON_PATH.stat().st_size < 1_500_000


def test_each_load_returns_a_new_dict() -> None:
    first = load_provinces_geojson()
    first["features"].clear()
    assert len(load_provinces_geojson()["features"]) == 34


# --- the figure -------------------------------------------------------------------------------


def test_figure_fetches_nothing_and_has_one_location_per_province(census: pd.DataFrame) -> None:
    figure = choropleth_figure(census, value="mean_years_schooling_15_plus")
    text = figure.to_json()
    assert re.search(r"https?:", text) is None
    assert "mapbox" not in text
    spec = json.loads(text)
    assert spec["layout"]["map"]["style"] == "white-bg"
    assert "layers" not in spec["layout"]["map"]
    assert all(t["type"] == "choroplethmap" for t in spec["data"])
    codes = _codes_of(figure)
    assert len(codes) == len(set(codes)) == 34
    # Each trace carries exactly the features it draws.
    for trace in figure.data:
        in_geojson = [f["properties"]["gb_code"] for f in trace.geojson["features"]]
        assert sorted(in_geojson) == sorted(int(c) for c in trace.locations)


def test_all_mainland_values_leave_only_taiwan_hong_kong_macao_as_no_data(
    census: pd.DataFrame,
) -> None:
    figure = choropleth_figure(census, value="urban_pct")
    data, no_data = figure.data
    assert sorted(data.locations) == sorted(census["gb_code"])
    assert list(data.z) == pytest.approx(census["urban_pct"].tolist())
    assert data.showscale is not False and data.colorbar.title.text == "urban_pct"
    assert sorted(no_data.locations) == list(OUTSIDE_SURVEY_CODES)
    assert no_data.name == NO_DATA_LABEL and no_data.showlegend is True
    assert no_data.showscale is False
    assert {c for _, c in no_data.colorscale} == {NO_DATA_COLOUR}
    assert NO_DATA_LABEL in no_data.hovertemplate


def test_missing_and_nan_provinces_are_drawn_as_no_data(census: pd.DataFrame) -> None:
    values = census[["gb_code", "urban_pct"]].copy()
    values = values[values["gb_code"] != 54]  # Tibet absent
    values.loc[values["gb_code"] == 63, "urban_pct"] = float("nan")  # Qinghai unknown
    figure = choropleth_figure(values, value="urban_pct", label_language="en")
    data, no_data = figure.data
    assert sorted(no_data.locations) == [54, 63, 71, 81, 82]
    assert [row[0] for row in no_data.customdata] == [
        "Tibet (Xizang)",
        "Qinghai",
        "Taiwan",
        "Hong Kong",
        "Macao",
    ]
    assert len(data.locations) == 29 and not any(math.isnan(z) for z in data.z)


def test_no_values_at_all_draws_every_province_as_no_data(census: pd.DataFrame) -> None:
    values = census[["gb_code"]].assign(score=float("nan"))
    figure = choropleth_figure(values, value="score")
    assert len(figure.data) == 1 and len(figure.data[0].locations) == 34
    assert figure.data[0].name == NO_DATA_LABEL


def test_hover_shows_the_name_in_the_chosen_language_and_extra_columns(
    census: pd.DataFrame,
) -> None:
    zh = choropleth_figure(census, value="urban_pct", hover=["population"])
    en = choropleth_figure(census, value="urban_pct", label_language="en")
    beijing_zh = zh.data[0].customdata[list(zh.data[0].locations).index(11)]
    beijing_en = en.data[0].customdata[list(en.data[0].locations).index(11)]
    assert list(beijing_zh) == ["北京市", "21,893,095"]
    assert list(beijing_en) == ["Beijing"]
    assert "population: %{customdata[1]}" in zh.data[0].hovertemplate
    assert "urban_pct: %{z" in zh.data[0].hovertemplate


def test_range_color_title_and_string_codes(census: pd.DataFrame) -> None:
    values = pd.DataFrame({"province": ["11", "31", "44"], "score": [70.0, 65.5, 60.0]})
    figure = choropleth_figure(
        values, value="score", code="province", range_color=(0, 100), title="素养得分"
    )
    data = figure.data[0]
    assert (data.zmin, data.zmax, data.zauto) == (0, 100, False)
    assert list(data.locations) == [11, 31, 44]
    assert figure.layout.title.text == "素养得分"


@pytest.mark.parametrize(
    ("values", "kwargs", "message"),
    [
        (pd.DataFrame({"gb_code": [11]}), {"value": "score"}, r"no column 'score'"),
        (
            pd.DataFrame({"gb_code": [11, 99], "score": [1.0, 2.0]}),
            {"value": "score"},
            r"GB/T 2260 two-digit province codes .*row 1: 99",
        ),
        (
            pd.DataFrame({"gb_code": ["11", "Beijing"], "score": [1.0, 2.0]}),
            {"value": "score"},
            r"row 1: 'Beijing'.*code=",
        ),
        (
            pd.DataFrame({"gb_code": [11, 11], "score": [1.0, 2.0]}),
            {"value": "score"},
            r"more than once \(\[11\]\).*aggregate",
        ),
        (
            pd.DataFrame({"gb_code": [11, 12], "score": ["high", 2.0]}),
            {"value": "score"},
            r"must hold numbers.*row 0: 'high'.*NaN",
        ),
        (
            pd.DataFrame({"gb_code": [11], "score": [math.inf]}),
            {"value": "score"},
            r"infinite values",
        ),
        (
            pd.DataFrame({"gb_code": [11], "score": [1.0]}),
            {"value": "score", "label_language": "fr"},
            r"label_language must be 'zh' or 'en', not 'fr'",
        ),
        (
            pd.DataFrame({"gb_code": [11], "score": [1.0]}),
            {"value": "score", "range_color": (5, 1)},
            r"range_color must be two finite numbers with low < high",
        ),
        (
            pd.DataFrame({"gb_code": [11], "score": [1.0]}),
            {"value": "score", "range_color": ("a", "b")},
            r"range_color must be two numbers",
        ),
        (
            pd.DataFrame({"gb_code": [11], "score": [1.0]}),
            {"value": "score", "hover": "se"},
            r"hover must be a list of column names",
        ),
        (
            pd.DataFrame({"gb_code": [11], "score": [1.0]}),
            {"value": "score", "hover": ["se"]},
            r"no column 'se'.*hover=",
        ),
    ],
)
def test_bad_input_gets_a_clear_error(
    values: pd.DataFrame, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(MapError, match=message):
        choropleth_figure(values, **kwargs)


def test_values_must_be_a_data_frame() -> None:
    with pytest.raises(MapError, match="pandas DataFrame, not dict"):
        choropleth_figure({"gb_code": [11]}, value="score")  # type: ignore[arg-type]


# --- a real browser, no network ----------------------------------------------------------------

MAP_READY = """() => {
  const gd = document.querySelector('.plotly-graph-div');
  const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
  return Boolean(sub && sub.map && sub.map.loaded() && sub.map.areTilesLoaded());
}"""

RENDERED = """() => {
  const m = document.querySelector('.plotly-graph-div')._fullLayout.map._subplot.map;
  const fills = m.getStyle().layers.filter(l => l.type === 'fill').map(l => l.id);
  const seen = {};
  for (const f of m.queryRenderedFeatures({layers: fills})) { seen[f.id] = f.properties.fc; }
  return seen;
}"""

PROJECT = """(points) => {
  const m = document.querySelector('.plotly-graph-div')._fullLayout.map._subplot.map;
  const box = m.getCanvas().getBoundingClientRect();
  return points.map(([lon, lat]) => { const p = m.project([lon, lat]);
                                      return [box.left + p.x, box.top + p.y]; });
}"""


ZOOM_TO = """([lon, lat, zoom]) => new Promise((resolve) => {
  const m = document.querySelector('.plotly-graph-div')._fullLayout.map._subplot.map;
  m.once('idle', () => resolve(true));
  m.jumpTo({center: [lon, lat], zoom: zoom});
})"""


def _rgb(text: str) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in re.findall(r"\d+", text)[:3])
    return r, g, b


@pytest.mark.browser
def test_map_draws_every_province_in_chromium_without_network(
    census: pd.DataFrame, geojson: dict[str, Any], tmp_path: Path
) -> None:
    """Render the figure as a self-contained HTML file in headless Chromium (the Debian package,
    no downloaded browser), block and record every request, and check what MapLibre drew.

    ``--allow-file-access-from-files``: a ``file:`` page has an opaque origin, and Chromium
    will not start MapLibre's web worker (a ``blob:`` URL made in the page) from it; the map
    stays blank. Served over HTTP (as Streamlit does) the flag is not needed.
    """
    from PIL import Image
    from playwright.sync_api import Request, Route, sync_playwright

    values = census[~census["gb_code"].isin([54, 63])]  # Tibet, Qinghai: no data
    figure = choropleth_figure(
        values,
        value="mean_years_schooling_15_plus",
        title="平均受教育年限（15岁及以上）/ mean years of schooling, 15+",
        hover=["population"],
    )
    html = tmp_path / "china_map.html"
    figure.write_html(html, include_plotlyjs=True, full_html=True)
    assert re.search(r"<script[^>]*\bsrc=", html.read_text(encoding="utf-8")) is None  # inline

    requested: list[str] = []
    blocked: list[str] = []
    local = ("file:", "data:", "about:", "blob:")

    def route(route: Route) -> None:
        url = route.request.url
        if url.startswith(local):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    def on_request(request: Request) -> None:
        requested.append(request.url)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "china_map.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--allow-file-access-from-files",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 960, "height": 560}, device_scale_factor=1)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", on_request)
            page.on("websocket", lambda ws: blocked.append(ws.url))
            page.route("**/*", route)
            page.goto(html.as_uri())
            page.wait_for_function(MAP_READY, timeout=60_000)
            page.wait_for_timeout(300)
            rendered: dict[str, str] = page.evaluate(RENDERED)
            page.screenshot(path=str(shot))

            # Hover Beijing: the label shows its Chinese name and value.
            (xy,) = page.evaluate(PROJECT, [[116.2, 40.25]])
            page.mouse.move(*xy)
            page.wait_for_selector(".hoverlayer .hovertext", timeout=10_000)
            hover_text = page.eval_on_selector(".hoverlayer", "el => el.textContent")

            # Interior points of the larger provinces, to read their colour off the screenshot.
            centres: dict[int, tuple[float, float]] = {}
            for f in geojson["features"]:
                largest = max(shapely.get_parts(shape(f["geometry"])), key=lambda g: g.area)
                circle = shapely.maximum_inscribed_circle(largest, 0.01)
                if circle.length >= 0.6:  # radius in degrees: a few pixels at this zoom
                    centres[f["properties"]["gb_code"]] = circle.coords[0]
            pixels = page.evaluate(PROJECT, list(centres.values()))

            page.evaluate(ZOOM_TO, [113.8, 22.35, 8])
            delta: dict[str, str] = page.evaluate(RENDERED)
            page.screenshot(path=str(ARTIFACTS / "pearl_river_delta.png"))
        finally:
            browser.close()

    assert errors == []
    assert blocked == [], f"requests that would leave the machine: {blocked}"
    assert all(u.startswith(local) for u in requested), requested
    # Every province-level division is drawn: 34 distinct shapes, at least the 31 provinces.
    # Country view: every province-level division is drawn, 33 shapes of the 34 (all 31
    # mainland provinces, Taiwan, Hong Kong); Macao (30 km2) is under a pixel at this zoom and
    # MapLibre drops it. Zoomed on the Pearl River Delta, Macao and Hong Kong are drawn.
    drawn = {int(k): _rgb(v) for k, v in rendered.items()}
    all_codes = {f["properties"]["gb_code"] for f in geojson["features"]}
    assert all_codes - set(drawn) == {82}
    grey = _rgb("rgb(217, 217, 217)")
    assert {c for c, colour in drawn.items() if colour == grey} == {54, 63, 71, 81}
    assert {int(k): _rgb(v) for k, v in delta.items()}.items() >= {81: grey, 82: grey}.items()
    assert "北京市" in hover_text and "12.64" in hover_text and "21,893,095" in hover_text

    # The canvas really shows those colours inside each larger province.
    image = Image.open(shot).convert("RGB")
    assert len(centres) >= 20
    for (code, _), (x, y) in zip(centres.items(), pixels, strict=True):
        got = image.getpixel((round(x), round(y)))
        assert isinstance(got, tuple)
        assert all(abs(a - b) <= 3 for a, b in zip(got, drawn[code], strict=True)), (code, got)
