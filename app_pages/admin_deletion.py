"""Administration: deleting a response on request (the respondent's right to erasure)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.admin_common import error, notify, plain, show_notice, when, wide_page
from app_pages.common import require, store, tr
from responses.administration import DeletionPreview, preview_deletion

PREVIEW = "deletion_preview"


def _find() -> None:
    with st.form("deletion_find", border=False):
        rid = st.text_input(
            tr(
                "答卷编号（response_id，22 个字符）",
                "Answer-sheet number (response_id, 22 characters)",
            ),
            key="deletion_id",
            help=tr(
                "受访者提交后页面上显示的编号，原样粘贴即可（前后的空格会被去掉）。",
                "The number the respondent saw after submitting; paste it as it is (spaces "
                "around it are ignored).",
            ),
        )
        found = st.form_submit_button(tr("查找", "Find"))
    if found:
        try:
            st.session_state[PREVIEW] = preview_deletion(store(), rid)
        except ValueError as exc:
            st.session_state.pop(PREVIEW, None)
            error(exc)


def _show(preview: DeletionPreview, actor: str) -> None:
    st.subheader(tr("将被删除的内容", "What will be deleted"))
    if preview.already_deleted:
        st.info(
            tr(
                "此回答以前已按请求删除过；再次删除会清除任何重新出现的副本（例如从备份恢复的）。",
                "This response was deleted on request before; deleting again removes any copy "
                "that came back (e.g. from a restored backup).",
            )
        )
    if not preview.found:
        st.warning(
            plain(
                tr(
                    f"没有找到编号为 {preview.response_id} 的回答或联系方式。删除仍会记录请求，"
                    "并阻止以后再提交同一编号的回答。",
                    f"Nothing is stored under {preview.response_id}. Deleting still records the "
                    "request and stops a response with this id from being stored later.",
                )
            )
        )
    if preview.responses:
        st.dataframe(
            pd.DataFrame(
                {
                    tr("问卷", "Questionnaire"): [r.questionnaire_id for r in preview.responses],
                    tr("版本", "Version"): [r.questionnaire_version for r in preview.responses],
                    tr("提交时间（北京时间）", "Submitted (UTC+8)"): [
                        when(r.submitted_at) for r in preview.responses
                    ],
                    tr("省份代码", "Province code"): pd.array(
                        [r.province for r in preview.responses], dtype="Int64"
                    ),
                    tr("语言", "Language"): [r.language for r in preview.responses],
                    tr("设备", "Device"): [r.device_class for r in preview.responses],
                }
            ),
            hide_index=True,
            width="stretch",
            key="deletion_rows",
        )
    st.markdown(
        plain(
            tr(
                f"回答 {len(preview.responses)} 份（全部答案），联系方式 {preview.contacts} 条，"
                "以及任何保存的草稿。",
                f"{len(preview.responses)} stored response(s) with all their answers, "
                f"{preview.contacts} contact record(s), and any saved draft.",
            )
        )
    )
    with st.form("deletion_confirm", border=False):
        reason = st.text_area(
            tr(
                "删除原因（记入审计日志，请勿填写个人信息）",
                "Reason (kept in the audit log; no personal data)",
            ),
            key="deletion_reason",
        )
        sure = st.checkbox(
            tr(
                "我确认永久删除，且无法恢复", "I confirm: delete permanently, this cannot be undone"
            ),
            key="deletion_sure",
        )
        go = st.form_submit_button(tr("永久删除", "Delete permanently"), type="primary")
    if not go:
        return
    if not sure:
        st.error(tr("请先勾选确认。", "Tick the confirmation first."))
        return
    try:
        result = store().delete(preview.response_id, reason=reason, actor=actor)
    except ValueError as exc:
        error(exc)
        return
    st.session_state.pop(PREVIEW, None)
    notify(
        "success",
        tr(
            f"已删除 {result.response_id}：移除文件 {result.files_removed} 个，重写文件 "
            f"{result.files_rewritten} 个，草稿 {result.drafts_removed} 份，联系方式 "
            f"{result.contacts_removed} 条。已记入审计日志。",
            f"Deleted {result.response_id}: {result.files_removed} files removed, "
            f"{result.files_rewritten} rewritten, {result.drafts_removed} drafts and "
            f"{result.contacts_removed} contact records removed. Recorded in the audit log.",
        ),
    )
    st.rerun()


def main() -> None:
    session = require("delete_responses")
    wide_page()
    st.title(tr("删除请求", "Deletion requests"))
    st.caption(
        tr(
            "受访者要求删除其回答时使用：先查找并核对，再填写原因后永久删除。",
            "For a respondent who asks for their response to be deleted: find it and check "
            "it first, then give the reason and delete it permanently.",
        )
    )
    show_notice()
    _find()
    preview = st.session_state.get(PREVIEW)
    if isinstance(preview, DeletionPreview):
        _show(preview, session.username)


main()
