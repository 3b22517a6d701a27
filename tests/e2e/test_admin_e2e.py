"""The administration pages in a real browser (system Chromium) against ``streamlit run``:
sign in from the sidebar, upload questionnaire files through the real file uploader, see every
problem of a broken one, preview and publish a valid one, and visit every admin page.

Screenshots of each step go to ``tests/artifacts/<test>/``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from access import add_user
from access.settings import AccessSettings
from questionnaires import load_registry
from responses.store import ParquetResponseStore
from tests.browser_support import DESKTOP
from tests.questionnaires.uploads import BROKEN_YAML, upload_xlsform, upload_yaml

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test password
CHEAP = {
    "SURVEY_ACCESS_ARGON2_TIME_COST": "1",
    "SURVEY_ACCESS_ARGON2_MEMORY_KIB": "8",
    "SURVEY_ACCESS_ARGON2_PARALLELISM": "1",
}
_IDLE = (
    "() => { const a = document.querySelector('[data-testid=stApp]');"
    " return a && a.getAttribute('data-test-script-state') === 'notRunning'"
    " && a.getAttribute('data-test-connection-state') === 'CONNECTED'; }"
)


class Admin:
    """One browser page used by an administrator; screenshots go to ``folder``."""

    def __init__(self, page: Any, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.count = 0

    def settle(self) -> None:
        time.sleep(0.3)
        self.page.wait_for_function(_IDLE, timeout=60_000)
        time.sleep(0.2)
        self.page.wait_for_function(_IDLE, timeout=60_000)

    def shot(self, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}_{name}.png"
        height = self.page.evaluate(
            "() => { const m = document.querySelector('[data-testid=stMain]');"
            " return m ? m.scrollHeight : document.body.scrollHeight; }"
        )
        size = self.page.viewport_size
        self.page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
        time.sleep(0.4)
        self.page.screenshot(path=str(path))
        self.page.set_viewport_size(size)
        return path

    def wait_text(self, text: str, timeout: float = 30.0) -> None:
        """Wait until the main area shows ``text`` (a click may run the script twice)."""
        self.page.wait_for_function(
            "(t) => { const m = document.querySelector('[data-testid=stMain]');"
            " return m && m.innerText.includes(t); }",
            arg=text,
            timeout=timeout * 1000,
        )
        self.settle()

    def main_text(self) -> str:
        return str(self.page.locator("[data-testid=stMain]").inner_text())

    def open_sidebar(self) -> None:
        expand = self.page.locator("[data-testid=stExpandSidebarButton]")
        if expand.count() and expand.first.is_visible():
            expand.first.click()
            time.sleep(0.6)

    def sign_in(self, username: str) -> None:
        self.open_sidebar()
        sidebar = self.page.locator("[data-testid=stSidebarContent]")
        sidebar.get_by_text("工作人员登录").click()
        sidebar.locator(".st-key-signin_user input").fill(username)
        sidebar.locator(".st-key-signin_password input").fill(PASSWORD)
        sidebar.get_by_role("button", name="登录").click()
        self.settle()
        self.page.wait_for_selector("[data-testid=stSidebarNav]", timeout=30_000)

    def go(self, title: str, heading: str | None = None) -> None:
        self.open_sidebar()
        self.page.locator("[data-testid=stSidebarNav]").get_by_text(title, exact=True).click()
        self.page.wait_for_selector(f"h1:has-text('{heading or title}')", timeout=30_000)
        self.settle()

    def upload(self, path: Path) -> None:
        self.page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(path))
        self.settle()

    def click(self, key: str) -> None:
        self.page.locator(f".st-key-{key} button").first.click()
        self.settle()


def test_admin_uploads_previews_publishes_and_visits_every_page(
    browser, app_server_factory, artifacts, tmp_path
):
    data_dir = tmp_path / "data"
    settings = AccessSettings(
        data_dir=data_dir, argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1
    )
    add_user("wang.li", PASSWORD, role="admin", name="Wang Li", settings=settings)
    server = app_server_factory(data_dir=data_dir, env=CHEAP)
    broken = tmp_path / "pilot_broken.yaml"
    broken.write_text(BROKEN_YAML, encoding="utf-8")
    valid = tmp_path / "pilot.yaml"
    valid.write_bytes(upload_yaml("1"))
    workbook = tmp_path / "workbook.xlsx"
    workbook.write_bytes(upload_xlsform("1"))

    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    admin = Admin(page, artifacts)
    page.goto(server.url)
    page.wait_for_selector("[data-testid=stMainBlockContainer]", timeout=60_000)
    admin.settle()
    admin.sign_in("wang.li")
    admin.go("问卷管理")
    assert "全部问卷与版本" in admin.main_text()
    admin.shot("questionnaires")

    # a broken file: every problem listed at once, nothing published
    admin.upload(broken)
    text = admin.main_text()
    assert "pilot_broken.yaml 有 3 个问题" in text
    for where, message in (
        ("line 11, question 'age'", "unknown key 'lable' (did you mean 'label'?)"),
        ("line 14, question 'saves'", "unknown question type 'single_choise'"),
        ("line 18, question 'income'", "'label' has no 'en' text"),
    ):
        assert where in text and message in text
    admin.shot("broken_upload")
    assert not (data_dir / "questionnaires").exists()

    # a valid file: preview as a respondent sees it, then publish
    page.locator("[data-testid=stFileChipDeleteBtn]").first.click()
    admin.settle()
    admin.upload(valid)
    assert "文件有效：问卷 pilot，版本 1" in admin.main_text()
    assert page.locator(".st-key-q__age input").count() == 1  # the respondent's number input
    admin.shot("valid_upload_preview")
    admin.click("preview_next_upload_0")  # submit in the preview with nothing answered
    assert "有 3 道题需要修改" in admin.main_text()
    admin.shot("preview_checks")
    admin.click("qn_publish")
    admin.wait_text("已发布 pilot 1")
    assert (data_dir / "questionnaires" / "pilot-1.yaml").read_bytes() == upload_yaml("1")
    assert load_registry(data_dir).latest("pilot").version == "1"
    admin.shot("published")

    # an XLSForm workbook through the same uploader (emptied by publishing)
    admin.upload(workbook)
    assert "文件有效：问卷 xlpilot，版本 1" in admin.main_text()
    admin.click("qn_publish")
    admin.wait_text("已发布 xlpilot 1")
    assert (data_dir / "questionnaires" / "xlpilot-1.yaml").exists()
    admin.shot("published_xlsform")

    # the quotas of the published version, in force from its file
    page.locator(".st-key-qn_manage_choice").click()
    page.keyboard.type("pilot 1")
    page.keyboard.press("Enter")
    admin.settle()
    page.get_by_role("tab", name="配额").click()
    admin.wait_text("当前配额：按 province；默认 3；1 个单元格另设")
    admin.shot("quotas")
    page.get_by_role("tab", name="开放与关闭").click()
    admin.click("qn_toggle_status")
    admin.wait_text("pilot 1 已关闭")
    admin.shot("closed")

    for title, heading, expected in (
        ("邀请码", "邀请码", "生成邀请码"),
        ("数据压缩", "数据维护：压缩", "还没有任何回答"),
        ("删除请求", "删除请求", "答卷编号"),
        ("审计日志", "审计日志", "共 3 条"),
    ):
        admin.go(title, heading)
        assert expected in admin.main_text(), title
        admin.shot(f"page_{title}")
    state = ParquetResponseStore(data_dir).state
    entries = state.read_audit(action="publish_questionnaire")
    assert [e.target for e in entries] == ["pilot 1", "xlpilot 1"]
    override = state.read_override("pilot", "1")
    assert override is not None and override.status == "closed"

    # a respondent (a new browser session) is no longer offered the closed version
    respondent = Admin(context.new_page(), artifacts)
    respondent.count = admin.count
    respondent.page.goto(server.url)
    respondent.page.wait_for_selector(".st-key-card_xlpilot", timeout=60_000)
    respondent.settle()
    assert respondent.page.locator(".st-key-card_pilot").count() == 0
    assert "表格问卷" in respondent.main_text() and "试点问卷" not in respondent.main_text()
    respondent.shot("respondent_landing")
    context.close()
