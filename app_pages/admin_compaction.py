"""Administration: compaction of the response store (merging one-response files)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.admin_common import error, wide_page
from app_pages.common import require, store, tr
from responses.administration import CompactionSummary, compact_store, compaction_backlog

RESULT = "compaction_result"


def _backlog() -> dict[str, int]:
    try:
        backlog = compaction_backlog(store())
    except ValueError as exc:
        error(exc)
        return {}
    if not backlog:
        st.info(tr("还没有任何回答。", "There are no responses yet."))
        return backlog
    st.dataframe(
        pd.DataFrame(
            {
                tr("问卷", "Questionnaire"): list(backlog),
                tr("待压缩的文件", "Files waiting"): list(backlog.values()),
            }
        ),
        hide_index=True,
        width="stretch",
        key="compaction_backlog",
    )
    return backlog


def _result(summary: CompactionSummary) -> None:
    st.success(
        tr(
            f"压缩完成：合并 {summary.files_merged} 个文件，写入 {summary.files_written} 个，"
            f"共 {summary.rows} 行，用时 {summary.seconds:.1f} 秒。",
            f"Compaction done: {summary.files_merged} files merged into "
            f"{summary.files_written}, {summary.rows} rows, {summary.seconds:.1f} s.",
        )
    )
    if summary.duplicates_dropped or summary.conflicts or summary.quarantined:
        st.warning(
            tr(
                f"去除重复行 {summary.duplicates_dropped} 行；其中答案不一致的 "
                f"{summary.conflicts} 个（保留最早提交的一份）；无法读取而移入隔离区的文件 "
                f"{summary.quarantined} 个。",
                f"{summary.duplicates_dropped} duplicate rows dropped, {summary.conflicts} of "
                "them with different answers (the first stored copy was kept); "
                f"{summary.quarantined} unreadable files moved to quarantine.",
            )
        )
    st.dataframe(
        pd.DataFrame(
            {
                tr("问卷", "Questionnaire"): [r.questionnaire_id for r in summary.results],
                tr("分区", "Partitions"): [r.partitions for r in summary.results],
                tr("合并的文件", "Files merged"): [r.files_merged for r in summary.results],
                tr("写入的文件", "Files written"): [r.files_written for r in summary.results],
                tr("行数", "Rows"): [r.rows for r in summary.results],
                tr("去重", "Duplicates dropped"): [r.duplicates_dropped for r in summary.results],
                tr("秒", "Seconds"): [round(r.seconds, 2) for r in summary.results],
            }
        ),
        hide_index=True,
        width="stretch",
        key="compaction_result_table",
    )


def main() -> None:
    session = require("compact_store")
    wide_page()
    st.title(tr("数据维护：压缩", "Data: compaction"))
    st.caption(
        tr(
            "每份提交先存为一个小文件；压缩把每个省份分区的小文件合并成一个大文件，"
            "读取和分析会快得多。压缩期间仍可继续提交，不会丢失数据。",
            "Each submission is first stored as one small file; compaction merges each "
            "province partition's small files into one large file, which makes reading and "
            "analysis much faster. Submissions go on during compaction and nothing is lost.",
        )
    )
    backlog = _backlog()
    if backlog and st.button(tr("立即压缩", "Compact now"), type="primary", key="compact_run"):
        bar = st.progress(0.0, text=tr("准备中……", "Starting…"))

        def progress(done: int, total: int, qid: str) -> None:
            text = tr(f"正在压缩 {qid}……", f"Compacting {qid}…") if qid else tr("完成", "Done")
            bar.progress(done / total if total else 1.0, text=text)

        try:
            summary = compact_store(store(), actor=session.username, progress=progress)
        except ValueError as exc:
            error(exc)
            return
        st.session_state[RESULT] = summary
        st.rerun()
    kept = st.session_state.get(RESULT)
    if isinstance(kept, CompactionSummary):
        _result(kept)


main()
