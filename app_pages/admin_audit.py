"""Administration: the audit log (data changes) and the sign-in trail, filtered and paged."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import streamlit as st

import access
from access.state import AccessState
from app_pages.admin_common import CHINA_TIME, error, when, wide_page
from app_pages.common import require, store, tr
from responses.administration import AUDIT_PAGE_SIZE, browse_audit

ALL = ""
PAGE = "audit_page"
SIGNIN_LIMIT = 1000


def _reset_page() -> None:
    st.session_state[PAGE] = 1


def _data_log() -> None:
    state = store().state
    try:
        choices = browse_audit(state, page_size=1)
    except ValueError as exc:
        error(exc)
        return
    left, right = st.columns(2)
    action = left.selectbox(
        tr("操作", "Action"),
        options=[ALL, *choices.actions],
        format_func=lambda a: a or tr("全部", "All"),
        key="audit_action",
        on_change=_reset_page,
    )
    actor = right.selectbox(
        tr("操作人", "Actor"),
        options=[ALL, *choices.actors],
        format_func=lambda a: a or tr("全部", "All"),
        key="audit_actor",
        on_change=_reset_page,
    )
    by_day = st.checkbox(
        tr("按日期筛选", "Filter by date"), key="audit_by_day", on_change=_reset_page
    )
    first_day = last_day = None
    if by_day:
        today = dt.datetime.now(CHINA_TIME).date()
        days = st.date_input(
            tr("日期（北京时间，含首尾）", "Days (UTC+8, inclusive)"),
            value=(today - dt.timedelta(days=7), today),
            key="audit_days",
            on_change=_reset_page,
        )
        if isinstance(days, tuple | list) and len(days) == 2:
            first_day, last_day = days[0], days[1]
        elif isinstance(days, tuple | list) and len(days) == 1:
            first_day = last_day = days[0]
    page = int(st.session_state.get(PAGE, 1))
    try:
        result = browse_audit(
            state,
            action=action or None,
            actor=actor or None,
            first_day=first_day,
            last_day=last_day,
            timezone=CHINA_TIME,
            page=page,
            page_size=AUDIT_PAGE_SIZE,
        )
    except ValueError as exc:
        error(exc)
        return
    st.session_state[PAGE] = result.page
    st.caption(
        tr(
            f"共 {result.total} 条，第 {result.page} / {result.pages} 页（最新的在前）",
            f"{result.total} entries, page {result.page} of {result.pages} (newest first)",
        )
    )
    st.dataframe(
        pd.DataFrame(
            {
                tr("时间（北京时间）", "Time (UTC+8)"): [when(e.at) for e in result.entries],
                tr("操作人", "Actor"): [e.actor for e in result.entries],
                tr("操作", "Action"): [e.action for e in result.entries],
                tr("对象", "Target"): [e.target for e in result.entries],
                tr("详情", "Details"): [
                    json.dumps(dict(e.details), ensure_ascii=False) for e in result.entries
                ],
            }
        ),
        hide_index=True,
        width="stretch",
        key="audit_table",
    )
    previous, _, following = st.columns([1, 3, 1])
    if previous.button(tr("上一页", "Previous"), disabled=result.page <= 1, key="audit_prev"):
        st.session_state[PAGE] = result.page - 1
        st.rerun()
    if following.button(
        tr("下一页", "Next"), disabled=result.page >= result.pages, key="audit_next"
    ):
        st.session_state[PAGE] = result.page + 1
        st.rerun()


def _signin_trail() -> None:
    try:
        settings = access.load_settings()
        events = AccessState(
            settings.state_file, timeout=settings.lock_timeout_seconds
        ).audit_events(limit=SIGNIN_LIMIT)
    except ValueError as exc:
        error(exc)
        return
    kinds = sorted({e.event for e in events})
    kind = st.selectbox(
        tr("事件", "Event"),
        options=[ALL, *kinds],
        format_func=lambda a: a or tr("全部", "All"),
        key="signin_event",
    )
    shown = [e for e in reversed(events) if not kind or e.event == kind]
    st.caption(
        tr(
            f"最近 {SIGNIN_LIMIT} 条中的 {len(shown)} 条（最新的在前）",
            f"{len(shown)} of the last {SIGNIN_LIMIT} entries (newest first)",
        )
    )
    st.dataframe(
        pd.DataFrame(
            {
                tr("时间（北京时间）", "Time (UTC+8)"): [when(e.at) for e in shown],
                tr("事件", "Event"): [e.event for e in shown],
                tr("账号", "Account"): [e.username or "" for e in shown],
                tr("操作人", "Actor"): [e.actor or "" for e in shown],
                tr("详情", "Detail"): [e.detail for e in shown],
            }
        ),
        hide_index=True,
        width="stretch",
        key="signin_table",
    )


def main() -> None:
    require("view_audit_trail")
    wide_page()
    st.title(tr("审计日志", "Audit log"))
    data_tab, signin_tab = st.tabs(
        [tr("数据与问卷操作", "Data and questionnaires"), tr("登录与账号", "Sign-ins and accounts")]
    )
    with data_tab:
        _data_log()
    with signin_tab:
        _signin_trail()


main()
