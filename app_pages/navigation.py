"""The router: which pages exist for whom, the sidebar (language, text size, staff sign-in).

Respondents see only the survey. Staff pages are added to the navigation only for a signed-in
staff member whose role allows the page's action, so they cannot be reached by link; each staff
page also calls :func:`app_pages.common.require` itself.

To add a staff page: write ``app_pages/<name>.py`` and add a row to :data:`STAFF_PAGES`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import streamlit as st

import access
from app_pages.common import (
    client_key,
    end_staff_session,
    escape_markdown,
    language,
    staff_session,
    start_staff_session,
    tr,
)


@dataclass(frozen=True)
class StaffPage:
    """A page for signed-in staff: its file, titles, icon, the action it needs, its group, and
    its layout (``"centered"`` or ``"wide"``, set once per run by the router: a page that set
    it again after the router would race with it in the browser)."""

    path: str
    title_zh: str
    title_en: str
    icon: str
    action: str
    group_zh: str
    group_en: str
    url_path: str
    layout: str = "centered"


#: Staff pages, in menu order. ``action`` is checked with :func:`access.can`.
STAFF_PAGES: tuple[StaffPage, ...] = (
    StaffPage("app_pages/dash_overview.py", "概览", "Overview", ":material/monitoring:",
              "view_dashboards", "分析", "Analysis", "dashboard-overview", "wide"),
    StaffPage("app_pages/dash_literacy.py", "金融素养水平", "Financial literacy",
              ":material/map:", "view_dashboards", "分析", "Analysis", "dashboard-literacy",
              "wide"),
    StaffPage("app_pages/dash_items.py", "题目分析", "Items", ":material/quiz:",
              "view_dashboards", "分析", "Analysis", "dashboard-items", "wide"),
    StaffPage("app_pages/dash_effectiveness.py", "教育效果", "Education effectiveness",
              ":material/school:", "view_dashboards", "分析", "Analysis",
              "dashboard-effectiveness", "wide"),
    StaffPage("app_pages/dash_weighting.py", "权重", "Weighting", ":material/balance:",
              "view_dashboards", "分析", "Analysis", "dashboard-weighting", "wide"),
    StaffPage("app_pages/dash_quality.py", "数据质量", "Data quality", ":material/fact_check:",
              "view_dashboards", "分析", "Analysis", "dashboard-quality", "wide"),
    StaffPage(
        "app_pages/researcher_export.py",
        "数据导出",
        "Data export",
        ":material/download:",
        "export_microdata",
        "数据",
        "Data",
        "export",
    ),
    StaffPage(
        "app_pages/admin_questionnaires.py",
        "问卷管理",
        "Questionnaires",
        ":material/edit_document:",
        "manage_questionnaires",
        "管理",
        "Administration",
        "admin-questionnaires",
        "wide",
    ),
    StaffPage(
        "app_pages/admin_invitations.py",
        "邀请码",
        "Invitations",
        ":material/key:",
        "manage_invitations",
        "管理",
        "Administration",
        "admin-invitations",
        "wide",
    ),
    StaffPage(
        "app_pages/admin_compaction.py",
        "数据压缩",
        "Compaction",
        ":material/compress:",
        "compact_store",
        "管理",
        "Administration",
        "admin-compaction",
        "wide",
    ),
    StaffPage(
        "app_pages/admin_deletion.py",
        "删除请求",
        "Deletion requests",
        ":material/delete:",
        "delete_responses",
        "管理",
        "Administration",
        "admin-deletion",
        "wide",
    ),
    StaffPage(
        "app_pages/admin_audit.py",
        "审计日志",
        "Audit log",
        ":material/history:",
        "view_audit_trail",
        "管理",
        "Administration",
        "admin-audit",
        "wide",
    ),
)

LARGE_TEXT_CSS = """
<style>
html, body, [class*="st-"], .stMarkdown p, label, input, textarea, button {
  font-size: 1.2rem !important;
}
h1 { font-size: 2.3rem !important; }
h2 { font-size: 1.9rem !important; }
h3 { font-size: 1.5rem !important; }
</style>
"""


def _on_language() -> None:
    choice = "en" if st.session_state.get("lang_switch") == "en" else "zh"
    st.session_state["lang"] = choice
    st.query_params["lang"] = choice


def _sidebar() -> access.Session | None:
    with st.sidebar:
        # The widget follows the session's language (which a page may also switch) and
        # switches it through its callback, before anything is drawn.
        st.session_state["lang_switch"] = language()
        st.radio(
            "语言 / Language",
            options=["zh", "en"],
            format_func=lambda code: "中文" if code == "zh" else "English",
            horizontal=True,
            key="lang_switch",
            on_change=_on_language,
        )
        if st.toggle(tr("大字号", "Large text"), key="large_text"):
            st.markdown(LARGE_TEXT_CSS, unsafe_allow_html=True)
        session = staff_session()
        notice = st.session_state.pop("staff_notice", None)
        if notice:
            st.info(notice)
        if session is None:
            _sign_in_form()
        else:
            name = escape_markdown(session.name or session.username)
            st.caption(tr("已登录：", "Signed in: ") + name)
            if st.button(tr("退出登录", "Sign out"), key="sign_out"):
                end_staff_session()
                st.rerun()
        return session


def _sign_in_form() -> None:
    with st.expander(tr("工作人员登录", "Staff sign-in")), st.form("sign_in", border=False):
        username = st.text_input(tr("用户名", "Username"), key="signin_user")
        password = st.text_input(tr("密码", "Password"), type="password", key="signin_password")
        submitted = st.form_submit_button(tr("登录", "Sign in"))
    if not submitted:
        return
    wait = float(st.session_state.get("signin_not_before", 0.0)) - time.time()
    if wait > 0:
        st.sidebar.warning(
            tr(f"请 {wait:.0f} 秒后再试。", f"Please wait {wait:.0f} s before trying again.")
        )
        return
    result = access.authenticate(username, password, client=client_key())
    if isinstance(result, access.Session):
        start_staff_session(result)
        st.session_state.pop("signin_not_before", None)
        st.rerun()
    st.session_state["signin_not_before"] = time.time() + float(result.retry_after or 0.0)
    st.sidebar.error(result.message)


def run() -> None:
    """Configure the page, draw the sidebar and run the page the navigation selects."""
    st.set_page_config(
        page_title="消费者金融素养调查 · Financial literacy survey",
        page_icon="📊",
        initial_sidebar_state="collapsed",
    )
    session = _sidebar()
    lang = language()
    survey = st.Page(
        "app_pages/respondent.py",
        title="问卷" if lang == "zh" else "Survey",
        icon="📝",
        url_path="survey",
        default=True,
    )
    groups: dict[str, list[st.Page]] = {}
    if session is not None:
        for page in STAFF_PAGES:
            if session.can(page.action):
                group = page.group_zh if lang == "zh" else page.group_en
                groups.setdefault(group, []).append(
                    st.Page(
                        page.path,
                        title=page.title_zh if lang == "zh" else page.title_en,
                        icon=page.icon,
                        url_path=page.url_path,
                    )
                )
    if groups:
        # every staff page listed (a collapsed menu hides pages behind "View more")
        nav = st.navigation({tr("受访者", "Respondents"): [survey], **groups}, expanded=True)
    else:
        nav = st.navigation([survey], position="hidden")
    layouts = {page.url_path: page.layout for page in STAFF_PAGES}
    st.set_page_config(layout="wide" if layouts.get(nav.url_path) == "wide" else "centered")
    nav.run()
