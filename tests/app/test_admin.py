"""The administration pages in-process (AppTest): signing in as an administrator, each page,
uploading broken and valid questionnaires, publishing, preview, open/close as respondents see
it, quotas, invitations and their CSV, compaction, deletion, the audit log; and that an analyst
or a respondent cannot reach any of them."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

import access
from questionnaires import load_registry
from responses.record import new_response_id
from responses.store import ParquetResponseStore
from responses.submission import Paradata, submit_answers
from tests.app.driver import agree, complete
from tests.questionnaires.uploads import BROKEN_YAML, upload_xlsform, upload_yaml

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "survey_app.py"
PASSWORD = "correct horse battery staple"  # noqa: S105 - a test password
PAGES = {
    "questionnaires": "app_pages/admin_questionnaires.py",
    "invitations": "app_pages/admin_invitations.py",
    "compaction": "app_pages/admin_compaction.py",
    "deletion": "app_pages/admin_deletion.py",
    "audit": "app_pages/admin_audit.py",
}
TITLES = {
    "questionnaires": "问卷管理",
    "invitations": "邀请码",
    "compaction": "数据维护：压缩",
    "deletion": "删除请求",
    "audit": "审计日志",
}
PILOT_ANSWERS = {"province": "bj", "age": 30, "saves": "yes_"}


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data folder for the app, cheap Argon2, an admin and an analyst account."""
    for name in [n for n in __import__("os").environ if n.startswith("SURVEY_")]:
        monkeypatch.delenv(name)
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("SURVEY_DATA_DIR", str(folder))
    monkeypatch.setenv("SURVEY_ACCESS_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("SURVEY_ACCESS_ARGON2_MEMORY_KIB", "8")
    monkeypatch.setenv("SURVEY_ACCESS_ARGON2_PARALLELISM", "1")
    access.add_user("wang.li", PASSWORD, role="admin", name="Wang Li")
    access.add_user("li.na", PASSWORD, role="analyst")
    st.cache_resource.clear()
    st.cache_data.clear()
    yield folder
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def store(data_dir: Path) -> Iterator[ParquetResponseStore]:
    with ParquetResponseStore(data_dir) as s:
        yield s


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def sign_in(at: AppTest, username: str) -> AppTest:
    at.text_input(key="signin_user").input(username)
    at.text_input(key="signin_password").input(PASSWORD)
    next(b for b in at.button if b.label in ("登录", "Sign in")).click()
    return ok(at.run())


@pytest.fixture
def admin(data_dir: Path) -> Callable[[str], AppTest]:
    """The app, signed in as the administrator, on one of the admin pages."""

    def open_page(page: str) -> AppTest:
        at = ok(AppTest.from_file(str(APP), default_timeout=60).run())
        sign_in(at, "wang.li")
        return ok(at.switch_page(PAGES[page]).run())

    return open_page


def button(at: AppTest, key: str) -> Any:
    return at.button(key=key)


def texts(elements: Any) -> list[str]:
    """The texts shown (markdown backslash escapes removed, as the reader sees them)."""
    return [re.sub(r"\\(.)", r"\1", str(e.value)) for e in elements]


#: A table's first column -> how the tests name the table.
TABLES = {
    "qn_overview": "问卷",
    "qn_quota_progress": "单元格",
    "inv_summary": "问卷",
    "compaction_backlog": "问卷",
    "deletion_rows": "问卷",
    "audit_table": "时间（北京时间）",
    "signin_table": "时间（北京时间）",
}


def problem_lines(at: AppTest) -> list[str]:
    """The numbered list of an upload's problems, as the reader sees it."""
    found = [t for t in texts(at.markdown) if t.startswith("1. ")]
    assert len(found) == 1, found
    return [line[3:].replace("**", "") for line in found[0].splitlines()]


def frame(at: AppTest, name: str) -> Any:
    """The table ``name`` (st.dataframe has no key in AppTest: found by its columns)."""
    found = [d.value for d in at.dataframe if list(d.value.columns)[:1] == [TABLES[name]]]
    if name == "signin_table":
        found = [f for f in found if "事件" in f.columns]
    elif name == "audit_table":
        found = [f for f in found if "对象" in f.columns]
    elif name == "deletion_rows":
        found = [f for f in found if "版本" in f.columns]
    elif name == "qn_overview":
        found = [f for f in found if "来源" in f.columns]
    assert found, f"no table {name} on the page"
    return found[0]


def publish_pilot(data_dir: Path, version: str = "1") -> None:
    folder = data_dir / "questionnaires"
    folder.mkdir(exist_ok=True)
    (folder / f"pilot-{version}.yaml").write_bytes(upload_yaml(version))


def submit_pilot(store: ParquetResponseStore, **answers: Any) -> str:
    q = load_registry(store.root).latest("pilot")
    receipt = submit_answers(
        store,
        q,
        {**PILOT_ANSWERS, **answers},
        response_id=new_response_id(),
        language="zh",
        started_at=None,
        consent_version=None,
        paradata=Paradata(),
    )
    return receipt.response_id


# --- pages render ------------------------------------------------------------------------------


@pytest.mark.parametrize("page", list(PAGES))
def test_each_admin_page_renders_for_an_administrator(admin, page):
    at = admin(page)
    assert texts(at.title) == [TITLES[page]]
    assert not at.error


def test_pages_render_in_english(admin):
    at = admin("questionnaires")
    at.sidebar.radio(key="lang_switch").set_value("en")
    ok(at.run())
    assert texts(at.title) == ["Questionnaires"]


# --- questionnaires ----------------------------------------------------------------------------


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader[0].set_value((name, data, "application/octet-stream"))
    return ok(at.run())


def test_a_broken_upload_lists_every_problem(admin, data_dir):
    at = upload(admin("questionnaires"), "pilot.yaml", BROKEN_YAML.encode("utf-8"))
    assert any("pilot.yaml 有 3 个问题" in e for e in texts(at.error))
    assert problem_lines(at) == [
        "line 11, question 'age': unknown key 'lable' (did you mean 'label'?)",
        "line 14, question 'saves': unknown question type 'single_choise' (did you mean "
        "'single_choice'?); the types are single_choice, multiple_choice, likert, matrix, "
        "integer, decimal, text, note",
        "line 18, question 'income': 'label' has no 'en' text; every text needs zh, en",
    ]
    assert not [b for b in at.button if b.key == "qn_publish"]
    assert not (data_dir / "questionnaires").exists()


def test_a_broken_xlsform_names_sheets_rows_and_columns(admin):
    at = upload(admin("questionnaires"), "survey.xlsx", upload_xlsform(broken=True))
    assert [line.split(": ")[0] for line in problem_lines(at)] == [
        "sheet 'survey', row 3, column 'min', question 'age'",
        "sheet 'survey', row 4, column 'type', question 'saves'",
    ]


def test_a_valid_upload_is_previewed_published_and_listed(admin, data_dir, store):
    at = upload(admin("questionnaires"), "pilot.yaml", upload_yaml("1"))
    assert any("文件有效：问卷 pilot，版本 1" in s for s in texts(at.success))
    # the preview draws the respondent's widgets: the first screen asks the province
    assert any(w.key == "q__province" for w in [*at.selectbox, *at.radio])
    ok(button(at, "qn_publish").click().run())
    assert any("已发布 pilot 1" in s for s in texts(at.success))
    assert (data_dir / "questionnaires" / "pilot-1.yaml").read_bytes() == upload_yaml("1")
    overview = frame(at, "qn_overview")
    assert ("pilot", "1") in set(zip(overview.iloc[:, 0], overview.iloc[:, 1], strict=True))
    [entry] = store.state.read_audit(action="publish_questionnaire")
    assert (entry.actor, entry.target) == ("wang.li", "pilot 1")
    # the same file again: refused with the next version suggested
    at = upload(at, "pilot.yaml", upload_yaml("1"))
    [line] = problem_lines(at)
    assert line.startswith("version: questionnaire 'pilot' version '1' already exists")
    assert line.endswith('change the version to "2" in the file and upload it again')
    assert any("建议的新版本号：2" in s for s in texts(at.info))


def test_the_preview_checks_answers_like_the_respondent_page(admin, data_dir):
    at = upload(admin("questionnaires"), "pilot.yaml", upload_yaml("1"))
    ok(button(at, "preview_next_upload_0").click().run())
    assert any("有 3 道题需要修改" in e for e in texts(at.error))  # all three are required
    province = next(w for w in [*at.selectbox, *at.radio] if w.key == "q__province")
    province.set_value("bj")
    at.number_input(key="q__age").set_value(17)  # below the minimum of 18
    at.radio(key="q__saves").set_value("yes_")
    ok(button(at, "preview_next_upload_0").click().run())
    assert any("有 1 道题需要修改" in e for e in texts(at.error))
    at.number_input(key="q__age").set_value(30)
    ok(button(at, "preview_next_upload_0").click().run())
    assert any("所有答案都符合问卷的规则" in s for s in texts(at.success))
    assert not (data_dir / "responses").exists()  # nothing stored


def test_closing_a_version_hides_it_from_respondents(admin, data_dir, store):
    publish_pilot(data_dir)
    landing = ok(AppTest.from_file(str(APP), default_timeout=60).run())
    assert [b for b in landing.button if b.key == "start_pilot"]
    at = admin("questionnaires")
    at.selectbox(key="qn_manage_choice").set_value("pilot 1")
    ok(at.run())
    ok(button(at, "qn_toggle_status").click().run())
    assert any("pilot 1 已关闭" in s for s in texts(at.success))
    assert store.state.read_override("pilot", "1").status == "closed"
    assert (data_dir / "questionnaires" / "pilot-1.yaml").read_bytes() == upload_yaml("1")
    landing = ok(AppTest.from_file(str(APP), default_timeout=60).run())
    assert not [b for b in landing.button if b.key == "start_pilot"]
    [entry] = store.state.read_audit(action="set_status")
    assert entry.details["status"] == "closed"


def test_quotas_are_set_from_the_page(admin, data_dir, store):
    publish_pilot(data_dir)
    submit_pilot(store)
    at = admin("questionnaires")
    at.selectbox(key="qn_manage_choice").set_value("pilot 1")
    ok(at.run())
    at.number_input(key="qn_quota_default_pilot_1").set_value(10)
    ok(at.run())
    ok(button(at, "qn_quota_save").click().run())
    assert any("配额已保存" in s for s in texts(at.success))
    override = store.state.read_override("pilot", "1")
    assert override is not None and override.quotas_set
    assert dict(override.quotas) == {"by": ["province"], "default": 10, "cells": {"11": 2}}
    progress = frame(at, "qn_quota_progress")
    beijing = progress[progress.iloc[:, 0] == "北京市"]
    assert (int(beijing.iloc[0, 1]), int(beijing.iloc[0, 2])) == (2, 1)
    ok(button(at, "qn_quota_none").click().run())
    assert store.state.read_override("pilot", "1").quotas is None


def test_bad_quotas_show_every_problem_not_a_traceback(admin, data_dir):
    publish_pilot(data_dir)
    at = admin("questionnaires")
    at.selectbox(key="qn_manage_choice").set_value("pilot 1")
    ok(at.run())
    at.multiselect(key="qn_quota_by_pilot_1").set_value([])
    at.checkbox(key="qn_quota_use_default_pilot_1").uncheck()
    ok(at.run())
    ok(button(at, "qn_quota_save").click().run())
    assert any("at least one question in 'by'" in e for e in texts(at.error))


def test_downloads_of_a_version(admin, data_dir, monkeypatch):
    publish_pilot(data_dir)
    saved = capture_downloads(monkeypatch)
    at = admin("questionnaires")
    at.selectbox(key="qn_manage_choice").set_value("pilot 1")
    ok(at.run())
    assert {d.label for d in at.download_button} >= {"下载 YAML", "下载 XLSForm（.xlsx）"}
    assert saved["pilot-1.yaml"] == upload_yaml("1")
    assert saved["pilot-1.xlsx"].startswith(b"PK\x03\x04")


# --- invitations -------------------------------------------------------------------------------


def capture_downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """File name -> bytes of every download the app offers from now on."""
    saved: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):  # type: ignore[no-untyped-def]
        if filename is not None and isinstance(path_or_data, bytes | str):
            data = path_or_data.encode() if isinstance(path_or_data, str) else path_or_data
            saved[filename] = data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return saved


def test_invitations_are_generated_and_downloadable(admin, data_dir, store, monkeypatch):
    publish_pilot(data_dir)
    saved = capture_downloads(monkeypatch)
    at = admin("invitations")
    at.selectbox(key="inv_questionnaire").set_value("pilot")
    at.number_input(key="inv_count").set_value(3)
    next(b for b in at.button if b.label == "生成").click()
    ok(at.run())
    assert any("已为 pilot 生成 3 个邀请码" in s for s in texts(at.success))
    assert at.download_button(key="inv_download") is not None
    [name] = [n for n in saved if n.startswith("invitations-pilot-")]
    rows = list(csv.DictReader(io.StringIO(saved[name].decode("utf-8"))))
    assert len(rows) == 3
    for row in rows:
        assert row["link"] == f"http://localhost:8501/?q=pilot&token={row['token']}"
        assert store.state.token_status("pilot", row["token"]) == "unused"
    summary = frame(at, "inv_summary")
    pilot = summary[summary.iloc[:, 0] == "pilot"]
    assert (int(pilot.iloc[0, 3]), int(pilot.iloc[0, 4]), int(pilot.iloc[0, 6])) == (3, 0, 3)
    [entry] = store.state.read_audit(action="generate_tokens")
    assert (entry.actor, entry.details["n"]) == ("wang.li", 3)
    ok(button(at, "inv_forget").click().run())
    assert not at.download_button


# --- data --------------------------------------------------------------------------------------


def test_compaction_runs(admin, data_dir, store):
    publish_pilot(data_dir)
    for province in ("bj", "sh", "sh"):
        submit_pilot(store, province=province)
    at = admin("compaction")
    backlog = frame(at, "compaction_backlog")
    assert list(backlog.iloc[:, 1]) == [3]
    ok(button(at, "compact_run").click().run())
    assert any("压缩完成：合并 3 个文件，写入 2 个" in s for s in texts(at.success))
    assert list(frame(at, "compaction_backlog").iloc[:, 1]) == [0]
    assert store.count("pilot") == 3
    assert [e.actor for e in store.state.read_audit(action="compact")] == ["wang.li"]


def test_deletion_shows_the_response_then_removes_it(admin, data_dir, store):
    publish_pilot(data_dir)
    keep = submit_pilot(store)
    gone = submit_pilot(store, province="sh")
    at = admin("deletion")
    at.text_input(key="deletion_id").input(gone)
    next(b for b in at.button if b.label == "查找").click()
    ok(at.run())
    rows = frame(at, "deletion_rows")
    assert list(rows.iloc[:, 0]) == ["pilot"] and int(rows.iloc[0, 3]) == 31
    at.text_area(key="deletion_reason").input("受访者电话要求删除")
    at.checkbox(key="deletion_sure").check()
    next(b for b in at.button if b.label == "永久删除").click()
    ok(at.run())
    assert any(f"已删除 {gone}" in s for s in texts(at.success))
    assert store.read("pilot", columns=["response_id"])["response_id"].tolist() == [keep]
    [entry] = store.state.read_audit(action="delete")
    assert (entry.actor, entry.target, entry.details["reason"]) == (
        "wang.li",
        gone,
        "受访者电话要求删除",
    )


def test_deletion_needs_the_confirmation_and_a_valid_id(admin, data_dir, store):
    publish_pilot(data_dir)
    rid = submit_pilot(store)
    at = admin("deletion")
    at.text_input(key="deletion_id").input("not-an-id")
    next(b for b in at.button if b.label == "查找").click()
    ok(at.run())
    assert at.error and not at.exception
    at.text_input(key="deletion_id").input(rid)
    next(b for b in at.button if b.label == "查找").click()
    ok(at.run())
    at.text_area(key="deletion_reason").input("asked")
    next(b for b in at.button if b.label == "永久删除").click()
    ok(at.run())
    assert "请先勾选确认。" in texts(at.error)
    assert store.count("pilot") == 1 and not store.state.read_audit(action="delete")


def test_the_respondents_receipt_pasted_with_spaces_finds_and_deletes_the_answers(
    admin, data_dir, store
):
    publish_pilot(data_dir)
    keep = submit_pilot(store)
    q = load_registry(data_dir).latest("pilot")
    you = ok(AppTest.from_file(str(APP), default_timeout=60))
    you.query_params["q"] = "pilot"
    ok(you.run())
    agree(you)
    complete(you, q, PILOT_ANSWERS)
    [shown] = [str(c.value) for c in you.code]  # the receipt, as the respondent copies it
    assert set(store.read("pilot", columns=["response_id"])["response_id"]) == {keep, shown}
    at = admin("deletion")
    at.text_input(key="deletion_id").input(f"  {shown} \n")
    next(b for b in at.button if b.label == "查找").click()
    ok(at.run())
    assert not at.error
    assert list(frame(at, "deletion_rows").iloc[:, 0]) == ["pilot"]
    at.text_area(key="deletion_reason").input("受访者提供了答卷编号")
    at.checkbox(key="deletion_sure").check()
    next(b for b in at.button if b.label == "永久删除").click()
    ok(at.run())
    assert any(f"已删除 {shown}" in s for s in texts(at.success))
    assert store.read("pilot", columns=["response_id"])["response_id"].tolist() == [keep]
    assert [e.target for e in store.state.read_audit(action="delete")] == [shown]


def test_the_audit_log_is_filtered_and_paged(admin, data_dir, store):
    for i in range(60):
        store.state.append_audit("compact" if i % 2 else "export", actor="system", target=f"t{i}")
    store.state.append_audit("delete", actor="li.na", target="x")
    at = admin("audit")
    table = frame(at, "audit_table")
    assert len(table) == 50 and table.iloc[0, 3] == "x"
    ok(button(at, "audit_next").click().run())
    assert len(frame(at, "audit_table")) == 11
    at.selectbox(key="audit_action").set_value("delete")
    ok(at.run())
    table = frame(at, "audit_table")
    assert list(table.iloc[:, 3]) == ["x"] and list(table.iloc[:, 1]) == ["li.na"]
    signins = frame(at, "signin_table")
    assert "signin_succeeded" in set(signins.iloc[:, 1])


# --- who may reach the pages -------------------------------------------------------------------


@pytest.mark.parametrize("page", list(PAGES))
def test_an_analyst_cannot_reach_admin_pages(data_dir, page):
    at = ok(AppTest.from_file(str(APP), default_timeout=60).run())
    sign_in(at, "li.na")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(PAGES[page])
    # and the page itself refuses, whatever the route
    session = access.authenticate("li.na", PASSWORD)
    assert isinstance(session, access.Session)
    direct = AppTest.from_file(str(ROOT / PAGES[page]), default_timeout=60)
    direct.session_state["staff_session_id"] = session.session_id
    ok(direct.run())
    assert texts(direct.error) == ["此页面仅限授权工作人员访问。"] and not direct.title


@pytest.mark.parametrize("page", list(PAGES))
def test_a_respondent_cannot_reach_admin_pages(data_dir, page):
    at = ok(AppTest.from_file(str(APP), default_timeout=60).run())
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(PAGES[page])
    direct = ok(AppTest.from_file(str(ROOT / PAGES[page]), default_timeout=60).run())
    assert texts(direct.error) == ["此页面仅限授权工作人员访问。"] and not direct.title
