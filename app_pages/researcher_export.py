"""Researcher page: pseudonymised microdata, its codebook and estimate tables, for download.

Everything is computed by :mod:`analysis.exports`; this page only collects the choices, shows
progress, and offers the files it wrote (kept in a temporary folder of this browser session,
replaced by the next export). Every file written is in the audit log.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import streamlit as st

from analysis.exports import (
    FORMAT_SUFFIXES,
    FORMATS,
    GROUP_COLUMNS,
    ExportFilter,
    ExportOptions,
    prepare_export,
)
from analysis.targets import load_census
from app_pages.common import language, registry, require, store, tr

_STATE = "researcher_export"
_MIME = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
    "dta": "application/x-stata-dta",
    "sav": "application/x-spss-sav",
    "html": "text/html",
}
_FORMAT_NAMES = {
    "csv": ("CSV（Excel 可直接打开，UTF-8）", "CSV (opens in Excel, UTF-8)"),
    "xlsx": ("Excel（.xlsx，含变量说明表）", "Excel (.xlsx, with a labels sheet)"),
    "parquet": ("Parquet（Python、R）", "Parquet (Python, R)"),
    "dta": ("Stata（.dta，Stata 14 及以上）", "Stata (.dta, Stata 14 or later)"),
    "sav": ("SPSS（.sav）", "SPSS (.sav)"),
}
_REGIONS = {
    "East": ("东部", "East"),
    "Central": ("中部", "Central"),
    "West": ("西部", "West"),
    "Northeast": ("东北", "Northeast"),
}
_AGE_GROUPS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
_GROUP_NAMES = {
    "sex": ("性别", "Sex"),
    "age_group": ("年龄组", "Age group"),
    "age_band": ("年龄段（普查）", "Age band (census)"),
    "urban": ("城乡", "Urban or rural"),
    "education": ("学历", "Education"),
    "income": ("收入", "Income"),
    "occupation": ("职业", "Occupation"),
    "exposure_any": ("接受过金融教育", "Received financial education"),
    "phase": ("测试阶段", "Phase"),
}


def _name(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "zh" else pair[1]


def _group_options(questionnaire: Any, column: str) -> dict[str, str]:
    """Value -> label of a grouping column for this questionnaire (empty when it has none)."""
    role = GROUP_COLUMNS[column]
    q = questionnaire.role(role)
    if q is None:
        return {}
    if column == "age_group":
        return {v: v for v in _AGE_GROUPS}
    if column == "age_band":
        return {v: v for v in ("15-59", "60+")}
    if column == "exposure_any":
        return {"1": tr("是", "Yes"), "0": tr("否", "No")}
    if q.choices is None:
        return {}
    return {c.name: c.label.get(language()) for c in q.choices}


def _forget_files() -> None:
    old = st.session_state.pop(_STATE, None)
    if old:
        shutil.rmtree(old["folder"], ignore_errors=True)


def _prepare(flt: ExportFilter, options: ExportOptions, fmt: str, tables: bool, actor: str) -> None:
    _forget_files()
    folder = Path(tempfile.mkdtemp(prefix="survey-download-"))
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
    bar = st.progress(0.0, text=tr("正在准备……", "Preparing ..."))
    stages = {
        "reading": tr("正在读取和计分", "Reading and scoring"),
        "weighting": tr("正在计算权重", "Weighting"),
        "prepared": tr("已准备", "Prepared"),
        "writing": tr("正在写入文件", "Writing the file"),
        "finishing": tr("正在完成", "Finishing"),
        "done": tr("完成", "Done"),
    }

    def progress(fraction: float, stage: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=stages.get(stage, stage))

    files: list[dict[str, str]] = []
    notes: list[str] = []
    table_problem = ""
    summary: dict[str, Any] = {}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with prepare_export(
                store(), registry(), flt, options=options, progress=progress
            ) as prepared:
                q = prepared.questionnaire
                base = f"{q.id}-{q.version}-{stamp}"
                data = prepared.write(
                    folder / f"{base}{FORMAT_SUFFIXES[fmt]}", fmt, actor=actor, progress=progress
                )
                files.append({"kind": "data", "path": str(data.path), "mime": _MIME[fmt]})
                book = prepared.write_codebook(folder / f"{base}-codebook.html", actor=actor)
                files.append({"kind": "codebook", "path": str(book.path), "mime": _MIME["html"]})
                summary = {
                    "rows": data.rows,
                    "columns": data.columns,
                    "total": prepared.n_total,
                    "shortened": [
                        (s.format, s.variable, s.kind, s.written, s.full) for s in data.shortened
                    ],
                    "weighting": prepared.weighting.describe().get(language()),
                }
                if tables:
                    kind = "xlsx" if fmt == "xlsx" else "csv"
                    try:
                        found = prepared.estimate_tables()
                        written = prepared.write_estimates(
                            folder / f"{base}-estimates.{kind}", kind, actor=actor, tables=found
                        )
                    except ValueError as error:  # the data file stands on its own
                        table_problem = str(error)
                    else:
                        files.append(
                            {"kind": "tables", "path": str(written.path), "mime": _MIME[kind]}
                        )
                        summary["suppressed"] = int(
                            found.to_frame()["flags"].str.contains("suppressed").sum()
                        )
            notes = list(dict.fromkeys(str(w.message) for w in caught))
            if table_problem:
                notes.append(
                    tr("估计表无法生成：", "The estimate tables could not be made: ")
                    + table_problem
                )
    except ValueError as error:  # the project's errors (ExportError, ResponseError ...)
        bar.empty()
        shutil.rmtree(folder, ignore_errors=True)
        st.error(str(error))
        return
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    bar.progress(1.0, text=tr("完成", "Done"))
    st.session_state[_STATE] = {
        "folder": str(folder),
        "files": files,
        "notes": notes,
        "summary": summary,
    }


def _reader(path: str) -> Any:
    def read() -> bytes:
        return Path(path).read_bytes()

    return read


def _offer() -> None:
    found = st.session_state.get(_STATE)
    if not found:
        return
    summary = found["summary"]
    st.success(
        tr(
            f"已导出 {summary['rows']} 行 × {summary['columns']} 列"
            f"（该版本共 {summary['total']} 份答卷）。",
            f"Exported {summary['rows']} rows x {summary['columns']} columns (of "
            f"{summary['total']} responses to the version).",
        )
    )
    for note in found["notes"]:
        st.warning(note)
    labels = {
        "data": tr("下载数据文件", "Download the data file"),
        "codebook": tr("下载变量说明（HTML）", "Download the codebook (HTML)"),
        "tables": tr("下载估计表", "Download the estimate tables"),
    }
    for i, item in enumerate(found["files"]):
        path = Path(item["path"])
        if not path.is_file():
            continue
        st.download_button(
            labels[item["kind"]],
            data=_reader(str(path)),
            file_name=path.name,
            mime=item["mime"],
            key=f"download_{item['kind']}_{i}",
            on_click="ignore",
            icon=":material/download:",
        )
    if "suppressed" in summary:
        st.caption(
            tr(
                f"估计表中有 {summary['suppressed']} 个单元格因样本过少而隐藏。",
                f"{summary['suppressed']} cells of the estimate tables are suppressed (too "
                "few respondents).",
            )
        )
    if summary.get("shortened"):
        with st.expander(
            tr(
                f"{len(summary['shortened'])} 个标签超出了文件格式的长度限制，"
                "已缩短（完整文字见变量说明）",
                f"{len(summary['shortened'])} labels were too long for the format and were "
                "shortened (full text in the codebook)",
            )
        ):
            st.dataframe(
                [
                    {"format": f, "variable": v, "kind": k, "written": w, "full": full}
                    for f, v, k, w, full in summary["shortened"]
                ],
                hide_index=True,
            )
    with st.expander(tr("权重说明", "About the weights")):
        st.text(summary["weighting"])


def main() -> None:
    session = require("export_microdata")
    st.title(tr("数据导出", "Data export"))
    st.caption(
        tr(
            "导出的数据已作匿名化处理：答卷编号换成带密钥的匿名编号，不含邀请码、续答码、联系方式、"
            "设备标识或作答时间点（只保留总用时和设备类型）。每次导出都会记入审计日志。",
            "Exports are pseudonymised: response ids are replaced by keyed pseudonyms; there are "
            "no invitation tokens, resume codes, contact details, device identifiers or "
            "timestamps (only the total duration and the device class). Every export is "
            "recorded in the audit log.",
        )
    )
    reg = registry()
    data_store = store()
    ids = [i for i in reg.ids() if i in data_store.list_questionnaires()]
    if not ids:
        st.info(tr("还没有可以导出的答卷。", "There are no responses to export yet."))
        return
    lang = language()
    qid = st.selectbox(
        tr("问卷", "Questionnaire"),
        ids,
        format_func=lambda i: f"{reg.latest(i).title.get(lang)} ({i})",
        key="export_questionnaire",
    )
    versions = [v for v in reversed(data_store.list_versions(qid)) if v in reg.versions(qid)]
    if not versions:
        st.info(tr("该问卷还没有答卷。", "This questionnaire has no responses yet."))
        return
    version = st.selectbox(tr("版本", "Version"), versions, key="export_version")
    questionnaire = reg.get(qid, version)

    with st.expander(tr("筛选条件", "Filters"), expanded=True):
        left, right = st.columns(2)
        date_from = left.date_input(
            tr("提交日期自", "Submitted from"), value=None, key="export_from"
        )
        date_to = right.date_input(tr("提交日期至", "Submitted until"), value=None, key="export_to")
        census = load_census()
        names = dict(
            zip(
                census["gb_code"].astype(int),
                census["name_zh" if lang == "zh" else "name_en"],
                strict=True,
            )
        )
        provinces = st.multiselect(
            tr("省份", "Provinces"), list(names), format_func=names.get, key="export_provinces"
        )
        regions = st.multiselect(
            tr("地区", "Regions"),
            list(_REGIONS),
            format_func=lambda r: _name(_REGIONS[r], lang),
            key="export_regions",
        )
        groups: dict[str, list[str]] = {}
        for column in GROUP_COLUMNS:
            options = _group_options(questionnaire, column)
            if not options:
                continue
            chosen = st.multiselect(
                _name(_GROUP_NAMES[column], lang),
                list(options),
                format_func=options.get,
                key=f"export_group_{column}",
            )
            if chosen:
                groups[column] = chosen
        exclude_flagged = st.checkbox(
            tr("排除有质量标记的答卷", "Leave out responses with a quality flag"),
            key="export_exclude_flagged",
        )

    fmt = st.radio(
        tr("文件格式", "File format"),
        list(FORMATS),
        format_func=lambda f: _name(_FORMAT_NAMES[f], lang),
        key="export_format",
    )
    label_language = st.radio(
        tr("标签语言", "Language of the labels"),
        ["zh", "en"],
        format_func=lambda x: "中文" if x == "zh" else "English",
        horizontal=True,
        key="export_label_language",
    )
    include_text = st.checkbox(
        tr("包含开放题文字回答", "Include free-text answers"), key="export_include_text"
    )
    if include_text:
        st.warning(
            tr(
                "开放题回答可能含有姓名、电话等能识别个人的信息。共享文件前请逐条检查。",
                "Free-text answers may contain names, phone numbers or other details that "
                "identify someone. Read them before sharing the file.",
            )
        )
    top_income = top_age = None
    with st.expander(tr("顶部编码（可选）", "Top-coding (optional)")):
        income_q = questionnaire.role("income")
        if income_q is not None:
            if income_q.is_choice and income_q.choices is not None:
                codes = {c.code: c.label.get(lang) for c in income_q.choices}
                top_income = st.selectbox(
                    tr("收入上限（合并更高的选项）", "Income: merge options above"),
                    [None, *codes],
                    format_func=lambda c: (
                        ("不编码" if lang == "zh" else "No top-coding") if c is None else codes[c]
                    ),
                    key="export_top_income",
                )
            else:
                top_income = st.number_input(
                    tr("收入上限", "Income limit"),
                    min_value=0.0,
                    value=None,
                    key="export_top_income",
                )
        age_q = questionnaire.role("age")
        if age_q is not None and age_q.type == "integer":
            top_age = st.number_input(
                tr("年龄上限", "Age limit"),
                min_value=0,
                max_value=120,
                value=None,
                step=1,
                key="export_top_age",
            )
    tables = st.checkbox(
        tr(
            "同时生成估计表（按省份、地区和分组）",
            "Also make estimate tables (province, region, groups)",
        ),
        value=True,
        key="export_tables",
    )
    min_cell = st.number_input(
        tr("估计表最小单元格人数", "Smallest cell shown in the tables"),
        min_value=1,
        value=10,
        step=1,
        key="export_min_cell",
    )
    if st.button(tr("生成文件", "Make the files"), type="primary", key="export_go"):
        try:
            flt = ExportFilter(
                qid,
                version=version,
                date_from=date_from,
                date_to=date_to,
                provinces=tuple(provinces),
                regions=tuple(regions),
                groups=groups,
                exclude_flagged=exclude_flagged,
            )
            options = ExportOptions(
                language=label_language,
                include_text=include_text,
                top_code_income=None if top_income is None else float(top_income),
                top_code_age=None if top_age is None else float(top_age),
                min_cell=int(min_cell),
            )
        except ValueError as error:
            st.error(str(error))
        else:
            _prepare(flt, options, fmt, tables, session.username)
    _offer()


main()
