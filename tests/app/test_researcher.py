"""AppTest of the researcher export page: who may use it, filters, the files it offers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
import pyreadstat
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import access
from app_pages.navigation import STAFF_PAGES
from responses.store import ParquetResponseStore
from tests.analysis.export_support import fill_store, shipped

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "researcher_export.py")
PASSWORD = "correct horse battery staple"  # noqa: S105 - a test password
STATE = "researcher_export"


@dataclass
class Site:
    data: Path
    store: ParquetResponseStore
    sessions: dict[str, str]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """A data folder with 120 cfl responses and three staff accounts, signed in."""
    import os

    for name in list(os.environ):
        if name.startswith("SURVEY_"):
            monkeypatch.delenv(name)
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("SURVEY_DATA_DIR", str(data))
    monkeypatch.setenv("SURVEY_ACCESS_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("SURVEY_ACCESS_ARGON2_MEMORY_KIB", "8")
    monkeypatch.setenv("SURVEY_ACCESS_ARGON2_PARALLELISM", "1")
    monkeypatch.chdir(tmp_path)
    st.cache_resource.clear()
    st.cache_data.clear()
    store = ParquetResponseStore(data)
    fill_store(store, shipped("cfl"), 120, seed=5)
    sessions = {}
    for user, role in (("li.na", "researcher"), ("wang.fang", "analyst"), ("zhao.min", "admin")):
        access.add_user(user, PASSWORD, role=role)
        result = access.authenticate(user, PASSWORD)
        assert isinstance(result, access.Session)
        sessions[role] = result.session_id
    yield Site(data, store, sessions)
    store.close()
    st.cache_resource.clear()


def page(site: Site, role: str | None, lang: str = "zh") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    if role is not None:
        at.session_state["staff_session_id"] = site.sessions[role]
    at.session_state["lang"] = lang
    return at.run()


def test_the_page_is_a_data_page_for_researchers_and_admins_only():
    row = next(p for p in STAFF_PAGES if p.path == "app_pages/researcher_export.py")
    assert (ROOT / row.path).is_file()
    assert row.action == "export_microdata" and (row.group_zh, row.group_en) == ("数据", "Data")
    assert access.can("researcher", row.action) and access.can("admin", row.action)
    assert not access.can("analyst", row.action)


@pytest.mark.parametrize("role", [None, "analyst"])
def test_others_are_turned_away(site: Site, role):
    at = page(site, role)
    assert not at.exception
    assert [e.value for e in at.error] == ["此页面仅限授权工作人员访问。"]
    assert not at.selectbox and not at.button


def test_a_researcher_downloads_stata_with_codebook_and_tables(site: Site):
    at = page(site, "researcher")
    assert not at.exception
    assert at.title[0].value == "数据导出"
    at.radio(key="export_format").set_value("dta")
    at.button(key="export_go").click().run()
    assert not at.exception and not at.error
    labels = [b.label for b in at.download_button]
    assert labels == ["下载数据文件", "下载变量说明（HTML）", "下载估计表"]
    files = {f["kind"]: Path(f["path"]) for f in at.session_state[STATE]["files"]}
    data, meta = pyreadstat.read_dta(str(files["data"]))
    assert len(data) == 120 and "pid" in data.columns and "response_id" not in data.columns
    assert meta.column_labels[list(data.columns).index("province")] == "省份（GB/T 2260 代码）"
    assert "<!DOCTYPE html>" in files["codebook"].read_text(encoding="utf-8")
    tables = pd.read_csv(files["tables"], encoding="utf-8-sig")
    assert {"province", "region", "sex"} <= set(tables["table"])
    audit = site.store.state.read_audit(action="export")
    assert [(e.actor, e.details["format"]) for e in audit] == [
        ("li.na", "dta"),
        ("li.na", "codebook"),
    ]
    assert site.store.state.read_audit(action="export_estimates")[-1].actor == "li.na"
    assert any("已导出 120 行" in s.value for s in at.success)


def test_filters_and_an_excel_export_in_english(site: Site):
    at = page(site, "admin", lang="en")
    at.radio(key="export_format").set_value("xlsx")
    at.radio(key="export_label_language").set_value("en")
    at.multiselect(key="export_provinces").set_value([11, 44])
    at.multiselect(key="export_group_sex").set_value(["female"])
    at.button(key="export_go").click().run()
    assert not at.exception and not at.error
    files = {f["kind"]: Path(f["path"]) for f in at.session_state[STATE]["files"]}
    book = openpyxl.load_workbook(files["data"], read_only=True)
    rows = list(book["data"].iter_rows(values_only=True))
    header = rows[0]
    province = [r[header.index("province")] for r in rows[1:]]
    sex = [r[header.index("sex")] for r in rows[1:]]
    assert set(province) <= {11, 44} and set(sex) == {2}
    labels = {r[0]: r[1] for r in book["variables"].iter_rows(min_row=2, values_only=True)}
    assert labels["province"] == "Province (GB/T 2260 code)"
    book.close()
    assert files["tables"].suffix == ".xlsx"
    details = site.store.state.read_audit(action="export")[-2].details
    assert details["filter"]["provinces"] == [11, 44]
    assert details["filter"]["groups"] == {"sex": ["female"]}


def test_free_text_warning_and_a_filter_that_selects_nothing(site: Site):
    at = page(site, "researcher", lang="en")
    at.checkbox(key="export_include_text").check().run()
    assert any("Free-text answers may contain names" in w.value for w in at.warning)
    at.date_input(key="export_from").set_value(pd.Timestamp("2030-01-01").date())
    at.button(key="export_go").click().run()
    assert not at.exception
    assert len(at.error) == 1
    assert "no response to cfl 2026.1 matches the filter" in at.error[0].value
    assert not at.download_button
    assert site.store.state.read_audit(action="export") == []


def test_a_new_export_replaces_the_previous_files(site: Site):
    at = page(site, "researcher")
    at.radio(key="export_format").set_value("csv")
    at.checkbox(key="export_tables").uncheck()
    at.button(key="export_go").click().run()
    first = Path(at.session_state[STATE]["folder"])
    assert first.is_dir() and len(at.download_button) == 2
    at.radio(key="export_format").set_value("parquet")
    at.button(key="export_go").click().run()
    second = Path(at.session_state[STATE]["folder"])
    assert not first.exists() and second.is_dir()
    data = next(f for f in at.session_state[STATE]["files"] if f["kind"] == "data")
    assert data["path"].endswith(".parquet")
