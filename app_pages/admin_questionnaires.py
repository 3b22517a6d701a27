"""Administration: the questionnaires on offer, uploading and publishing a new version (with a
preview), opening and closing versions, quotas, and downloads as YAML or XLSForm."""

from __future__ import annotations

from typing import Literal

import pandas as pd
import streamlit as st

from app_pages.admin_common import (
    error,
    notify,
    plain,
    show_notice,
    status_label,
    title_of,
    wide_page,
)
from app_pages.admin_preview import draw_preview
from app_pages.common import language, registry, require, store, tr
from questionnaires.model import Question, Questionnaire, Quotas
from questionnaires.publishing import UploadCheck, check_upload, export_questionnaire
from responses.administration import (
    MAX_LISTED_CELLS,
    VersionOverview,
    publish_questionnaire,
    questionnaire_overview,
    quota_progress,
)
from responses.overrides import (
    make_quotas,
    reset_override,
    set_quotas,
    set_status,
)

UPLOAD_COUNTER = "qn_upload_round"


def _quota_text(q: Questionnaire) -> str:
    quotas = q.settings.quotas
    if quotas is None:
        return "—"
    parts = [tr("按 ", "by ") + ", ".join(quotas.by)]
    if quotas.default is not None:
        parts.append(tr(f"默认 {quotas.default}", f"default {quotas.default}"))
    if quotas.cells:
        parts.append(tr(f"{len(quotas.cells)} 个单元格另设", f"{len(quotas.cells)} cells set"))
    return tr("；", "; ").join(parts)


def _progress_text(row: VersionOverview) -> str:
    try:
        progress = quota_progress(store(), row.questionnaire, language=language())
    except ValueError as exc:  # the store could not be read
        return str(exc)
    if progress is None:
        return "—"
    full = tr(f"，{progress.full} 个已满", f", {progress.full} full")
    return f"{progress.completes} / {progress.target}{full if progress.full else ''}"


def _overview(rows: list[VersionOverview]) -> None:
    st.subheader(tr("全部问卷与版本", "All questionnaires and versions"))
    table = pd.DataFrame(
        {
            tr("问卷", "Questionnaire"): [r.id for r in rows],
            tr("版本", "Version"): [r.version for r in rows],
            tr("标题", "Title"): [title_of(r.title) for r in rows],
            tr("状态", "Status"): [
                status_label(r.status)
                + (tr("（管理员设置）", " (set by admin)") if r.status_overridden else "")
                for r in rows
            ],
            tr("向新受访者提供", "Offered"): [r.offered for r in rows],
            tr("回答数", "Responses"): [r.responses for r in rows],
            tr("配额", "Quotas"): [
                _quota_text(r.questionnaire)
                + (tr("（管理员设置）", " (set by admin)") if r.quotas_overridden else "")
                for r in rows
            ],
            tr("配额进度", "Quota progress"): [_progress_text(r) for r in rows],
            tr("来源", "Source"): [
                tr("内置", "shipped") if r.source == "shipped" else tr("上传", "uploaded")
                for r in rows
            ],
        }
    )
    st.dataframe(table, hide_index=True, width="stretch", key="qn_overview")
    st.caption(
        tr(
            "新受访者得到每份问卷中版本最新的开放版本；回答数按版本统计，配额按问卷的所有版本统计。",
            "New respondents get the newest open version of each questionnaire. Responses are "
            "counted per version; quotas count every version of the questionnaire.",
        )
    )
    for problem in registry().problems:
        st.warning(plain(problem.message))


# --- upload, preview, publish ------------------------------------------------------------------


def _problems_list(check: UploadCheck) -> None:
    st.error(
        plain(
            tr(
                f"{check.filename} 有 {len(check.problems)} 个问题，请全部改正后再上传：",
                f"{check.filename} has {len(check.problems)} problem(s); fix them all and "
                "upload it again:",
            )
        ),
        icon=":material/error:",
    )
    lines = []
    for p in check.problems:
        where = ", ".join(x for x in (p.where, p.part) if x)
        text = plain(p.message)
        lines.append(f"1. **{plain(where)}**: {text}" if where else f"1. {text}")
    with st.container(border=True, key="qn_upload_problems"):
        st.markdown("\n".join(lines))


def _upload() -> None:
    st.subheader(tr("上传新版本", "Upload a new version"))
    st.caption(
        tr(
            "上传 YAML（questionnaires/FORMAT.md 所述格式）或 XLSForm（.xlsx）文件。"
            "发布后该版本不可再修改：修改请提高版本号后重新上传。",
            "Upload a YAML file (the format of questionnaires/FORMAT.md) or an XLSForm "
            "workbook (.xlsx). A published version never changes: to change it, raise the "
            "version and upload again.",
        )
    )
    round_ = int(st.session_state.get(UPLOAD_COUNTER, 0))
    uploaded = st.file_uploader(
        tr("问卷文件", "Questionnaire file"),
        type=["yaml", "yml", "xlsx"],
        key=f"qn_upload_{round_}",
    )
    if uploaded is None:
        return
    data = uploaded.getvalue()
    check = check_upload(data, uploaded.name, registry=registry())
    if check.problems:
        _problems_list(check)
        if check.suggested_version:
            st.info(
                tr(
                    f"建议的新版本号：{check.suggested_version}",
                    f"Suggested new version: {check.suggested_version}",
                )
            )
    for remark in check.warnings:
        st.warning(plain(remark), icon=":material/warning:")
    q = check.questionnaire
    if q is None:
        return
    answerable = sum(1 for x in q.questions if x.is_answerable)
    if check.ok:
        st.success(
            plain(
                tr(
                    f"文件有效：问卷 {q.id}，版本 {q.version}，{len(q.sections)} 个部分，"
                    f"{answerable} 道题。",
                    f"The file is valid: questionnaire {q.id}, version {q.version}, "
                    f"{len(q.sections)} sections, {answerable} questions.",
                )
            )
        )
    with st.expander(
        tr("预览（受访者看到的样子）", "Preview (as a respondent sees it)"), expanded=True
    ):
        draw_preview(q, key=f"upload_{round_}")
    if check.ok and st.button(
        tr(f"发布 {q.id} {q.version}", f"Publish {q.id} {q.version}"),
        type="primary",
        key="qn_publish",
    ):
        session = require("manage_questionnaires")
        try:
            published = publish_questionnaire(store(), data, uploaded.name, actor=session.username)
        except ValueError as exc:
            error(exc)
            return
        registry.clear()
        st.session_state[UPLOAD_COUNTER] = round_ + 1
        notify(
            "success",
            tr(
                f"已发布 {q.id} {q.version}（{published.path.name}）。",
                f"Published {q.id} {q.version} ({published.path.name}).",
            ),
        )
        st.rerun()


# --- one version: status, quotas, downloads ----------------------------------------------------


def _choice_questions(q: Questionnaire) -> list[Question]:
    return [x for x in q.questions if x.type in ("single_choice", "likert")]


def _status(row: VersionOverview, actor: str) -> None:
    q = row.questionnaire
    offered = tr("，向新受访者提供", ", offered to new respondents") if row.offered else ""
    st.markdown(
        plain(
            tr(f"当前状态：{status_label(q.status)}", f"Status: {status_label(q.status)}")
            + offered
            + (
                tr("（文件中为", " (the file says ") + status_label(row.file_status) + tr("）", ")")
                if row.status_overridden
                else ""
            )
        )
    )
    wanted: Literal["open", "closed"] = "closed" if q.status == "open" else "open"
    label = (
        tr("关闭此版本", "Close this version")
        if wanted == "closed"
        else tr("开放此版本", "Open this version")
    )
    if st.button(label, key="qn_toggle_status"):
        try:
            set_status(store().state, registry(), q.id, q.version, wanted, actor=actor)
        except ValueError as exc:
            error(exc)
            return
        notify(
            "success",
            tr(
                f"{q.id} {q.version} 已{status_label(wanted)}。",
                f"{q.id} {q.version} is now {status_label(wanted)}.",
            ),
        )
        st.rerun()


def _cells_frame(q: Questionnaire, by: list[str], quotas: Quotas | None) -> pd.DataFrame | None:
    questions = [q.question(name) for name in by]
    combos: list[tuple[str, str]] = [("", "")]
    for question in questions:
        options = list(question.choices) if question.choices is not None else []
        combos = [
            (
                f"{cell}|{c.code}" if cell else str(c.code),
                f"{label} / {c.label.get(language())}" if label else c.label.get(language()),
            )
            for cell, label in combos
            for c in options
        ]
        if len(combos) > MAX_LISTED_CELLS:
            return None
    current = dict(quotas.cells) if quotas is not None and list(quotas.by) == by else {}
    return pd.DataFrame(
        {
            "cell": [c for c, _ in combos],
            "label": [label for _, label in combos],
            "target": pd.array([current.get(c) for c, _ in combos], dtype="Int64"),
        }
    )


def _quotas(row: VersionOverview, actor: str) -> None:
    q = row.questionnaire
    quotas = q.settings.quotas
    st.markdown(plain(tr("当前配额：", "Quotas in force: ") + _quota_text(q)))
    progress = quota_progress(store(), q, language=language())
    if progress is not None:
        st.dataframe(
            pd.DataFrame(
                {
                    tr("单元格", "Cell"): [c.label for c in progress.cells],
                    tr("目标", "Target"): pd.array(
                        [c.target for c in progress.cells], dtype="Int64"
                    ),
                    tr("已完成", "Completes"): [c.completes for c in progress.cells],
                    tr("进度", "Progress"): [min(c.share or 0.0, 1.0) for c in progress.cells],
                }
            ),
            column_config={
                tr("进度", "Progress"): st.column_config.ProgressColumn(
                    min_value=0.0, max_value=1.0, format="percent"
                ),
            },
            hide_index=True,
            width="stretch",
            key="qn_quota_progress",
        )
    choices = _choice_questions(q)
    if not choices:
        st.caption(
            tr(
                "此版本没有可用于配额的单选题。",
                "This version has no single-choice question to set quotas by.",
            )
        )
        return
    names = [c.name for c in choices]
    province = q.role("province")
    default_by = (
        list(quotas.by)
        if quotas is not None
        else ([province.name] if province is not None else names[:1])
    )
    labels = {c.name: f"{c.name} · {c.label.get(language())}" for c in choices}
    by = st.multiselect(
        tr("配额依据的问题", "Quotas by"),
        options=names,
        default=[n for n in default_by if n in names],
        format_func=lambda n: labels.get(n, n),
        key=f"qn_quota_by_{q.id}_{q.version}",
    )
    use_default = st.checkbox(
        tr("未单独设定的单元格使用默认目标", "Cells without their own target use a default target"),
        value=quotas is None or quotas.default is not None,
        key=f"qn_quota_use_default_{q.id}_{q.version}",
    )
    default = st.number_input(
        tr("默认目标（每个单元格的计划完成数）", "Default target (planned completes per cell)"),
        min_value=0,
        step=1,
        value=int(quotas.default) if quotas is not None and quotas.default is not None else 0,
        disabled=not use_default,
        key=f"qn_quota_default_{q.id}_{q.version}",
    )
    cells: dict[str, int] = {}
    frame = _cells_frame(q, by, quotas) if by else None
    if frame is not None:
        st.caption(
            tr(
                "单独设定某些单元格的目标（留空则用默认目标）：",
                "Targets of particular cells (leave empty for the default):",
            )
        )
        edited = st.data_editor(
            frame,
            column_config={
                "cell": st.column_config.TextColumn(tr("单元格代码", "Cell code")),
                "label": st.column_config.TextColumn(tr("单元格", "Cell")),
                "target": st.column_config.NumberColumn(tr("目标", "Target"), min_value=0, step=1),
            },
            disabled=["cell", "label"],
            hide_index=True,
            width="stretch",
            key=f"qn_quota_cells_{q.id}_{q.version}_{'|'.join(by)}",
        )
        for cell, target in zip(edited["cell"], edited["target"], strict=True):
            if not pd.isna(target):
                cells[str(cell)] = int(target)
    elif by:
        st.caption(
            tr(
                f"单元格超过 {MAX_LISTED_CELLS} 个，无法逐一设定；请使用默认目标。",
                f"More than {MAX_LISTED_CELLS} cells: use a default target.",
            )
        )
    left, middle, right = st.columns(3)
    if left.button(tr("保存配额", "Save quotas"), type="primary", key="qn_quota_save"):
        try:
            new = make_quotas(q, by=by, default=int(default) if use_default else None, cells=cells)
            set_quotas(store().state, registry(), q.id, q.version, new, actor=actor)
        except ValueError as exc:
            error(exc)
            return
        notify(
            "success",
            tr(f"{q.id} {q.version} 的配额已保存。", f"Quotas of {q.id} {q.version} saved."),
        )
        st.rerun()
    if middle.button(tr("取消配额", "No quotas"), key="qn_quota_none"):
        try:
            set_quotas(store().state, registry(), q.id, q.version, None, actor=actor)
        except ValueError as exc:
            error(exc)
            return
        notify(
            "success",
            tr(f"{q.id} {q.version} 不再设配额。", f"{q.id} {q.version} has no quotas now."),
        )
        st.rerun()
    if (row.status_overridden or row.quotas_overridden) and right.button(
        tr("恢复文件中的设置", "Back to the file's settings"), key="qn_reset"
    ):
        try:
            reset_override(store().state, registry(), q.id, q.version, actor=actor)
        except ValueError as exc:
            error(exc)
            return
        notify(
            "success",
            tr(
                f"{q.id} {q.version} 恢复为文件中的状态和配额。",
                f"{q.id} {q.version} uses its file's status and quotas again.",
            ),
        )
        st.rerun()


def _downloads(row: VersionOverview) -> None:
    left, right = st.columns(2)
    for column, fmt, label in (
        (left, "yaml", tr("下载 YAML", "Download YAML")),
        (right, "xlsform", tr("下载 XLSForm（.xlsx）", "Download XLSForm (.xlsx)")),
    ):
        try:
            exported = export_questionnaire(registry(), row.id, row.version, format=fmt)  # type: ignore[arg-type]
        except (KeyError, ValueError) as exc:
            with column:
                error(exc)
            continue
        column.download_button(
            label,
            data=exported.data,
            file_name=exported.filename,
            mime=exported.mime,
            key=f"qn_download_{fmt}",
        )


def _manage(rows: list[VersionOverview], actor: str) -> None:
    st.subheader(tr("管理一个版本", "Manage a version"))
    if not rows:
        return
    keys = [f"{r.id} {r.version}" for r in rows]
    titles = {f"{r.id} {r.version}": f"{r.id} {r.version} · {title_of(r.title)}" for r in rows}
    chosen = st.selectbox(
        tr("版本", "Version"),
        options=keys,
        format_func=lambda k: titles.get(k, k),
        key="qn_manage_choice",
    )
    row = rows[keys.index(chosen)] if chosen in keys else rows[0]
    tabs = st.tabs(
        [tr("开放与关闭", "Open and close"), tr("配额", "Quotas"), tr("下载", "Download")]
    )
    with tabs[0]:
        _status(row, actor)
    with tabs[1]:
        _quotas(row, actor)
    with tabs[2]:
        _downloads(row)
    st.caption(tr("所有更改都记入审计日志。", "Every change is recorded in the audit log."))


def main() -> None:
    session = require("manage_questionnaires")
    wide_page()
    st.title(tr("问卷管理", "Questionnaires"))
    show_notice()
    try:
        rows = questionnaire_overview(store(), registry())
    except ValueError as exc:
        error(exc)
        return
    _overview(rows)
    st.divider()
    _upload()
    st.divider()
    _manage(rows, session.username)


main()
