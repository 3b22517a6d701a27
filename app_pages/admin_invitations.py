"""Administration: single-use invitation codes per questionnaire, generated as a CSV of codes
and links, and how many have been used."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.admin_common import error, title_of, wide_page
from app_pages.common import config, registry, require, store, tr
from responses.administration import InvitationBatch, generate_invitations, invitation_summary

BATCH = "inv_batch"


def _summary() -> None:
    st.subheader(tr("邀请码使用情况", "Invitations so far"))
    try:
        rows = invitation_summary(store().state, registry())
    except ValueError as exc:
        error(exc)
        return
    st.dataframe(
        pd.DataFrame(
            {
                tr("问卷", "Questionnaire"): [r.questionnaire_id for r in rows],
                tr("标题", "Title"): [title_of(r.title) for r in rows],
                tr("仅限受邀", "Invitation only"): [r.invitation_only for r in rows],
                tr("已生成", "Generated"): [r.generated for r in rows],
                tr("已使用", "Used"): [r.used for r in rows],
                tr("其中已提交", "of which submitted"): [r.submitted for r in rows],
                tr("未使用", "Unused"): [r.unused for r in rows],
            }
        ),
        hide_index=True,
        width="stretch",
        key="inv_summary",
    )
    st.caption(
        tr(
            "“已使用”指已用邀请码开始作答（含已提交）。",
            "“Used”: someone started answering with the code (submitted or not).",
        )
    )


def _generate(actor: str) -> None:
    st.subheader(tr("生成邀请码", "Generate invitations"))
    ids = registry().ids()
    if not ids:
        st.info(tr("还没有问卷。", "There is no questionnaire yet."))
        return
    newest = {q.id: q for q in registry().list()}
    with st.form("inv_form", border=False):
        qid = st.selectbox(
            tr("问卷", "Questionnaire"),
            options=ids,
            format_func=lambda i: f"{i} · {title_of(newest[i].title)}",
            key="inv_questionnaire",
        )
        n = st.number_input(
            tr("数量", "How many"),
            min_value=1,
            max_value=100_000,
            value=100,
            step=1,
            key="inv_count",
        )
        submitted = st.form_submit_button(tr("生成", "Generate"), type="primary")
    url = config().public_url
    example = f"{url}?q=<{tr('问卷', 'questionnaire')}>&token=<{tr('邀请码', 'code')}>"
    st.caption(
        tr("链接形如 ", "Links look like ")
        + "`"
        + example.replace("`", "")
        + "`"
        + tr("（设置 public_url）。", " (setting public_url).")
    )
    if submitted:
        try:
            batch = generate_invitations(
                store().state, registry(), str(qid), int(n), actor=actor, public_url=url
            )
        except ValueError as exc:
            error(exc)
            return
        st.session_state[BATCH] = batch
    kept = st.session_state.get(BATCH)
    if isinstance(kept, InvitationBatch):
        _offer(kept)


def _offer(batch: InvitationBatch) -> None:
    q = {x.id: x for x in registry().list()}.get(batch.questionnaire_id)
    st.success(
        tr(
            f"已为 {batch.questionnaire_id} 生成 {batch.count} 个邀请码。",
            f"{batch.count} invitations made for {batch.questionnaire_id}.",
        )
    )
    st.warning(
        tr(
            "平台只保存邀请码的摘要，这个文件是邀请码唯一的副本：请现在下载。生成下一批、"
            "点击“已下载”或关闭此浏览器标签页后，就无法再次下载。文件中的邀请码可直接打开问卷，"
            "请妥善保管。",
            "Only a digest of each code is stored, so this file is the only copy of the "
            "codes: download it now. Once you generate another batch, click “Downloaded” or "
            "close this browser tab, it cannot be downloaded again. Each code opens the "
            "questionnaire: keep the file safe.",
        ),
        icon=":material/key:",
    )
    if q is not None and not q.settings.invitation_only:
        st.info(
            tr(
                "此问卷不要求邀请码，任何人都可以作答；邀请链接仍可使用。",
                "This questionnaire does not require an invitation: anyone may answer it; the "
                "invitation links work all the same.",
            )
        )
    left, right = st.columns(2)
    left.download_button(
        tr("下载邀请码（CSV）", "Download the codes (CSV)"),
        data=batch.csv,
        file_name=batch.filename,
        mime="text/csv",
        key="inv_download",
        type="primary",
    )
    if right.button(tr("已下载，清除", "Downloaded: forget the codes"), key="inv_forget"):
        st.session_state.pop(BATCH, None)
        st.rerun()


def main() -> None:
    session = require("manage_invitations")
    wide_page()
    st.title(tr("邀请码", "Invitations"))
    _generate(session.username)
    st.divider()
    _summary()


main()
