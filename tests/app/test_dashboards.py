"""The analyst dashboards in the app (streamlit.testing.v1.AppTest, in-process).

A data folder with synthetic responses (compacted cfl responses, a few submitted through the
app's own path, unfinished drafts, an edu_quiz before/after) and an analyst account; each test
runs ``survey_app.py``, signs in from the sidebar and opens dashboard pages. What the pages draw
is compared with what :mod:`analysis.dashboard` returns for the same filters.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

import access
from access.settings import AccessSettings
from analysis import dashboard as db
from questionnaires import load_registry
from responses.store import ParquetResponseStore
from tests.analysis.samples import shipped
from tests.analysis.synthetic import (
    save_drafts,
    submit_rows,
    synthetic_frame,
    synthetic_prepost,
    write_compacted,
)

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "survey_app.py")
PASSWORD = "correct horse battery staple"  # noqa: S105 - a test password
CHEAP = {"argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1}
PAGES = {
    "dash_overview": ("概览", "Overview"),
    "dash_literacy": ("金融素养水平", "Financial literacy"),
    "dash_items": ("题目分析", "Item analysis"),
    "dash_effectiveness": ("金融教育效果", "Financial education effectiveness"),
    "dash_weighting": ("权重", "Weighting"),
    "dash_quality": ("数据质量", "Data quality"),
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with responses, drafts and two accounts."""
    root = tmp_path_factory.mktemp("dashboards")
    cfl = shipped("cfl")
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=30)
    frame = synthetic_frame(cfl, 1515, seed=8, start=start, days=28)
    write_compacted(root, frame.iloc[15:], cfl)
    store = ParquetResponseStore(root)
    submit_rows(store, cfl, frame.iloc[:15])
    save_drafts(store, cfl, ["knowledge", "knowledge", "attitude"],
                now=dt.datetime.now(dt.UTC) - dt.timedelta(days=2))
    quiz = shipped("edu_quiz")
    write_compacted(root, synthetic_prepost(quiz, 120, seed=2), quiz)
    settings = AccessSettings(data_dir=root, **CHEAP)
    access.add_user("ana.lyst", PASSWORD, role="analyst", name="Ana", settings=settings)
    access.add_user("bo.locked", PASSWORD, role="analyst", settings=settings)
    return root


@pytest.fixture
def app_env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The app's environment: this data folder, cheap Argon2, no wait between failures; fresh
    Streamlit caches (they hold the configuration and the loaded data)."""
    for name in list(os.environ):
        if name.startswith("SURVEY_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SURVEY_DATA_DIR", str(data_dir))
    monkeypatch.setenv("SURVEY_ACCESS_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("SURVEY_ACCESS_ARGON2_MEMORY_KIB", "8")
    monkeypatch.setenv("SURVEY_ACCESS_ARGON2_PARALLELISM", "1")
    monkeypatch.setenv("SURVEY_ACCESS_FAILURE_DELAY_SECONDS", "0")
    st.cache_data.clear()
    st.cache_resource.clear()
    yield data_dir
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(scope="module")
def api(data_dir: Path) -> db.DashboardData:
    """The same data, loaded by the analysis API directly."""
    return db.load_dashboard(ParquetResponseStore(data_dir), load_registry(data_dir), "cfl")


def sign_in(at: AppTest, username: str = "ana.lyst", password: str = PASSWORD) -> AppTest:
    at.sidebar.text_input(key="signin_user").input(username)
    at.sidebar.text_input(key="signin_password").input(password)
    return at.sidebar.get("form_submit_button")[0].click().run()


def open_app(lang: str = "zh") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    if lang != "zh":
        at.query_params["lang"] = lang
    return at.run()


def signed_in_page(page: str, lang: str = "zh") -> AppTest:
    at = sign_in(open_app(lang))
    assert not at.exception, [e.value for e in at.exception]
    return at.switch_page(f"app_pages/{page}.py").run()


def charts(at: AppTest) -> dict[str, dict]:
    """The page's Plotly figures by chart name (the key after ``chart_``)."""
    out = {}
    for element in at.get("plotly_chart"):
        name = element.proto.id.split("-chart_", 1)[1]
        out[name] = json.loads(element.proto.spec)
    return out


def array(value: object) -> list:
    """A figure's data array: a list, or Plotly's typed array ``{"dtype", "bdata"}``."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return list(value)  # type: ignore[call-overload]


def bars(figure: dict) -> tuple[list, list, list, list]:
    """Categories, estimates and CI limits of a bar chart with error bars (all its traces)."""
    labels, values, lower, upper = [], [], [], []
    for trace in figure["data"]:
        y = array(trace["y"])
        labels += array(trace["x"])
        values += y
        upper += [v + e for v, e in zip(y, array(trace["error_y"]["array"]), strict=True)]
        lower += [v - e for v, e in zip(y, array(trace["error_y"]["arrayminus"]), strict=True)]
    return labels, values, lower, upper


def assert_bars(figure: dict, table: pd.DataFrame, label: str = "label") -> None:
    """The bars equal the estimates of ``table`` (estimates_table rows of one outcome)."""
    labels, values, lower, upper = bars(figure)
    got = pd.DataFrame({"label": labels, "estimate": values, "lo": lower, "hi": upper})
    got = got.set_index("label").loc[table[label].tolist()]
    np.testing.assert_allclose(got["estimate"], table["estimate"], rtol=1e-12)
    np.testing.assert_allclose(got["lo"], table["ci_lower"], rtol=1e-12)
    np.testing.assert_allclose(got["hi"], table["ci_upper"], rtol=1e-12)


def assert_literacy_page(
    at: AppTest, data: db.DashboardData, filters: db.Filters, outcome: str | None = None
) -> None:
    """Every literacy chart of the page equals db.literacy for ``filters`` (the map, region
    and group charts for ``outcome``, default the index)."""
    assert not at.exception, [e.value for e in at.exception]
    result = db.literacy(data, filters)
    figures = charts(at)
    national = db.estimates_table(result.national, data, lang="zh")
    national["label"] = national["outcome_label"]
    assert_bars(figures["literacy-national"], national)
    assert [m.value for m in at.metric] == [f"{v:.1f}" for v in national["estimate"]]
    index = outcome or data.outcomes[0]
    provinces = db.estimates_table(result.provinces, data, by="province", lang="zh")
    provinces = provinces[provinces["outcome"] == index]
    shown = figures["literacy-map"]["data"][0]
    z = dict(zip(array(shown["locations"]), array(shown["z"]), strict=True))
    assert z == pytest.approx(dict(zip(provinces["province"].astype(int),
                                       provinces["estimate"], strict=True)), rel=1e-12)
    flagged = {int(p) for p, f in zip(provinces["province"], provinces["flags"], strict=True)
               if f}
    outlined = next((t for t in figures["literacy-map"]["data"]
                     if t["name"].startswith("精度低")), {"locations": []})
    assert set(array(outlined["locations"])) == flagged
    for by, name in (("region", "literacy-regions"), *((g, f"literacy-{g}")
                                                        for g in data.groups)):
        estimates = result.regions if by == "region" else result.groups[by]
        table = db.estimates_table(estimates, data, by=by, lang="zh")
        table = table[table["outcome"] == index]
        if table.empty:
            assert name not in figures
            continue
        assert_bars(figures[name], table)
        flagged_trace = [t for t in figures[name]["data"] if t["name"] == "精度低"]
        flagged_labels = set(array(flagged_trace[0]["x"])) if flagged_trace else set()
        assert flagged_labels == set(table.loc[table["flags"] != "", "label"])


# ------------------------------------------------------------------------------------ pages


@pytest.mark.parametrize("page", list(PAGES))
def test_each_dashboard_page_renders(app_env, page):
    at = signed_in_page(page)
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == [PAGES[page][0]]
    assert not at.error, [e.value for e in at.error]
    assert at.get("plotly_chart"), "every dashboard page draws charts"


def test_literacy_figures_equal_the_analysis(app_env, api):
    at = signed_in_page("dash_literacy")
    assert_literacy_page(at, api, db.Filters("cfl"))
    national = at.dataframe[0].value
    result = db.literacy(api, db.Filters("cfl"))
    np.testing.assert_allclose(national["估计值"], [round(e.estimate, 2) for e in result.national])


def test_the_measure_chosen_is_drawn(app_env, api):
    at = signed_in_page("dash_literacy")
    at.selectbox(key="lit_outcome").set_value("dim__knowledge").run()
    assert_literacy_page(at, api, db.Filters("cfl"), outcome="dim__knowledge")


def test_filter_changes_follow_the_analysis_on_every_page(app_env, api):
    at = signed_in_page("dash_literacy")
    at.toggle(key="dash_weighted").set_value(False).run()
    assert_literacy_page(at, api, db.Filters("cfl", weighted=False))
    at.multiselect(key="dash_regions").set_value(["East"]).run()
    at.multiselect(key="dash_sex").set_value(["female"]).run()
    filters = db.Filters("cfl", weighted=False, regions=("East",), sex=("female",))
    assert_literacy_page(at, api, filters)
    # the same filters on the next page
    at.switch_page("app_pages/dash_weighting.py").run()
    assert at.toggle(key="dash_weighted").value is False
    assert at.multiselect(key="dash_regions").value == ["East"]
    report = db.weighting_report(api, filters)
    assert at.metric[0].value == f"{int(report.summary.iloc[0]['n']):,}"
    at.switch_page("app_pages/dash_literacy.py").run()
    assert_literacy_page(at, api, filters)
    first = min(api.frame["day"])
    start = dt.date(1970, 1, 1) + dt.timedelta(days=int(first) + 3)
    end = start + dt.timedelta(days=9)
    at.date_input(key="dash_dates").set_value((start, end)).run()
    assert_literacy_page(at, api, db.Filters("cfl", weighted=False, regions=("East",),
                                             sex=("female",), start=start, end=end))


def test_excluding_flagged_responses_applies_to_every_page(app_env, api):
    at = signed_in_page("dash_quality")
    assert at.info and "所有答卷都计入" in at.info[0].value
    at.toggle(key="dash_exclude").set_value(True).run()
    assert at.success and "已排除" in at.success[0].value
    quality = db.data_quality(api, db.Filters("cfl", exclude_flagged=True))
    assert at.metric[2].value == f"{quality.n_excluded:,}"
    at.switch_page("app_pages/dash_literacy.py").run()
    assert at.toggle(key="dash_exclude").value is True
    assert_literacy_page(at, api, db.Filters("cfl", exclude_flagged=True))


def test_overview_numbers_equal_the_analysis(app_env, api):
    at = signed_in_page("dash_overview")
    drafts = ParquetResponseStore(app_env).state.count_drafts("cfl")
    result = db.overview(api, db.Filters("cfl"), drafts=drafts)
    assert result.completes == 1515 and result.break_offs == 3
    values = [m.value for m in at.metric]
    assert values[0] == f"{result.completes:,}" and values[1] == "3"
    assert values[2] == f"{result.break_off_rate:.1%}"
    daily = charts(at)["overview-daily"]["data"]
    assert sum(array(daily[0]["y"])) == result.completes and sum(array(daily[1]["y"])) == 3
    provinces = charts(at)["overview-provinces"]["data"][0]
    assert sum(array(provinces["y"])) == result.completes


def test_effectiveness_forest_plot_equals_the_analysis(app_env, api):
    at = signed_in_page("dash_effectiveness")
    result = db.effectiveness(api, db.Filters("cfl"))
    forest = charts(at)["effect-forest"]
    points = forest["data"][0]
    np.testing.assert_allclose(array(points["x"]), [e.effect_sd for e in result.effects],
                               rtol=1e-12)
    np.testing.assert_allclose(array(points["error_x"]["array"]),
                               [e.ci_upper_sd - e.effect_sd for e in result.effects],
                               rtol=1e-9)
    lines = [s for s in forest["layout"]["shapes"] if s["x0"] != 0]
    assert sorted(s["x0"] for s in lines) == [0.1, 0.2]  # Kaiser et al. 2022
    assert "prepost-effect" in charts(at)  # the edu_quiz before/after is shown


def test_tables_download_as_utf8_csv_with_bom(app_env, monkeypatch):
    saved: list[tuple[bytes, str | None]] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        if mimetype == "text/csv":
            saved.append((bytes(path_or_data), filename))
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    at = signed_in_page("dash_literacy")
    assert at.get("download_button")
    data, name = saved[0]
    assert name is not None and name.startswith("literacy-national-") and name.endswith(".csv")
    assert data.startswith(b"\xef\xbb\xbf")
    table = pd.read_csv(pd.io.common.BytesIO(data), encoding="utf-8-sig")
    assert table.columns[0] == "指标" and table["指标"].iloc[0] == "金融素养指数"


def test_pages_speak_english(app_env):
    at = signed_in_page("dash_literacy", lang="en")
    assert [t.value for t in at.title] == ["Financial literacy"]
    assert at.toggle(key="dash_weighted").label == "Census-weighted"
    assert at.metric[0].label == "Financial literacy index"
    for page, (_, english) in PAGES.items():
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert [t.value for t in at.title] == [english]


# ------------------------------------------------------------------------------ who may see


@pytest.mark.parametrize("page", list(PAGES))
def test_a_respondent_cannot_reach_a_dashboard(app_env, page):
    at = open_app()
    assert [t.value for t in at.title] != [PAGES[page][0]]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(f"app_pages/{page}.py")
    # run directly, the page itself refuses (it calls require("view_dashboards"))
    direct = AppTest.from_file(str(ROOT / "app_pages" / f"{page}.py"), default_timeout=60).run()
    assert not direct.exception
    assert [e.value for e in direct.error] == ["此页面仅限授权工作人员访问。"]
    assert not direct.get("plotly_chart") and not direct.title


def test_signing_out_removes_the_dashboards(app_env):
    at = signed_in_page("dash_overview")
    at.sidebar.button(key="sign_out").click().run()
    assert not at.get("plotly_chart")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/dash_overview.py")


def test_a_wrong_password_is_refused(app_env):
    at = sign_in(open_app(), "ana.lyst", "not the password")
    assert [e.value for e in at.sidebar.error] == ["The username or password is not right."]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/dash_literacy.py")


def test_repeated_failures_lock_the_username(app_env):
    at = open_app()
    for _ in range(5):
        at = sign_in(at, "bo.locked", "wrong wrong wrong")
    assert at.sidebar.error[0].value == (
        "The username or password is not right. After 5 failed sign-ins in a row this username "
        "is locked for 15 minutes; wait, or ask an administrator to unlock it."
    )
    at = sign_in(at, "bo.locked", PASSWORD)  # this browser must wait out the lock
    wait = at.sidebar.warning[0].value
    assert wait.startswith("请 ") and wait.endswith(" 秒后再试。")
    assert 850 < float(wait.split()[1]) <= 900
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/dash_literacy.py")
    at = sign_in(open_app(), "bo.locked", PASSWORD)  # another browser: the username is locked
    assert at.sidebar.error[0].value.startswith(
        "Too many failed sign-ins for this username: it is locked for")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/dash_literacy.py")
