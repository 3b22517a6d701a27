"""Data quality: speeders, straight-liners, attention checks and duplicates in the domain, and
the analyst's choice to exclude flagged responses (which every dashboard page follows)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from analysis import dashboard as db
from app_pages.common import language, require, tr
from app_pages.dash_charts import COLOUR, FLAG_LABELS, error_box, show_figure, show_table
from app_pages.dash_filters import cached, panel

require("view_dashboards")
lang = language()
st.title(tr("数据质量", "Data quality"))
selection = panel()
if selection is None:
    st.stop()
data, filters = selection.data, selection.filters

try:
    result = cached("quality", selection.cache_key(), lambda: db.data_quality(data, filters))
except ValueError as exc:
    error_box(exc)
    st.stop()

counts = result.counts.set_index("flag")
any_n = int(counts.loc["flag_any", "n"])
cols = st.columns(3)
cols[0].metric(tr("筛选范围内答卷", "Responses in the domain"), f"{result.n:,}")
cols[1].metric(tr("有质量标记", "Flagged"), f"{any_n:,}")
if result.n:
    cols[1].caption(tr(f"占 {counts.loc['flag_any', 'share']:.1%}",
                       f"{counts.loc['flag_any', 'share']:.1%} of the domain"))
cols[2].metric(tr("当前排除", "Excluded now"), f"{result.n_excluded:,}")
if result.excluded:
    st.success(tr(
        "已排除有质量标记的答卷：所有分析页面都不含这些答卷，加权样本已单独重新加权。"
        "在页面顶部关闭“排除质量标记答卷”可恢复。",
        "Flagged responses are excluded: no dashboard page includes them, and the sample "
        "without them was weighted on its own. Switch off \"Exclude flagged responses\" at the "
        "top to include them again.",
    ))
else:
    st.info(tr(
        "目前所有答卷都计入分析。如需排除有质量标记的答卷，请在页面顶部打开“排除质量标记答卷”，"
        "所有分析页面都会随之变化。标记只是提示：排除前请先查看。",
        "All responses count in the analyses now. To leave out flagged responses, switch on "
        "\"Exclude flagged responses\" at the top: every dashboard page follows. Flags are "
        "hints: look before you exclude.",
    ))

table = result.counts.assign(label=[FLAG_LABELS.get(f, (f, f))[lang != "zh"]
                                    for f in result.counts["flag"]])
figure = go.Figure(go.Bar(x=table["n"], y=table["label"], orientation="h",
                          marker_color=COLOUR, text=[f"{s:.1%}" for s in table["share"]],
                          textposition="outside"))
figure.update_layout(height=320, margin={"l": 10, "r": 40, "t": 20, "b": 10},
                     yaxis={"autorange": "reversed"}, xaxis_title=tr("答卷数", "Responses"))
show_figure(figure, "quality-flags")
show_table(table[["label", "n", "share"]].rename(columns={
    "label": tr("标记", "Flag"), "n": tr("人数", "n"), "share": tr("比例", "Share")}),
    "quality-flags", formats={tr("比例", "Share"): "percent"})

st.subheader(tr("判定规则", "How the flags are set"))
durations = result.durations
rules = [
    tr("作答过快：用时少于该版本答卷用时中位数的三分之一。",
       "Speeder: faster than a third of the version's median duration."),
    tr("矩阵题直线作答：同一矩阵题（或连续量表题）至少4题选择同一选项。",
       "Straight-lining: at least 4 items of one matrix (or run of scale questions) with the "
       "same answer."),
    tr("长串相同答案：同一量表上连续至少6个相同答案。",
       "Long string: 6 or more identical answers in a row on one scale."),
    tr("注意力题未通过：注意力检查题没有选择要求的选项。",
       "Failed attention check: the attention-check question not answered as instructed."),
    tr("重复：同一邀请码被再次使用，或答案与更早的答卷（同类设备）完全相同。",
       "Duplicates: an invitation used again, or answers identical to an earlier response from "
       "the same kind of device."),
]
st.markdown("\n".join(f"- {r}" for r in rules))
show_table(durations.rename(columns={
    "version": tr("版本", "Version"), "n": tr("答卷数", "Responses"),
    "median_seconds": tr("用时中位数（秒）", "Median duration (s)"),
    "speeder_below_seconds": tr("过快阈值（秒）", "Speeder below (s)")}).round(1),
    "quality-durations")

if not result.by_province.empty:
    st.subheader(tr("各省质量标记", "Flags by province"))
    name = "name_zh" if lang == "zh" else "name_en"
    by_province = result.by_province[["province", name, "n", "flagged", "share"]].rename(
        columns={"province": tr("代码", "Code"), name: tr("省份", "Province"),
                 "n": tr("答卷数", "Responses"), "flagged": tr("有标记", "Flagged"),
                 "share": tr("比例", "Share")})
    show_table(by_province, "quality-provinces", height=360,
               formats={tr("比例", "Share"): "percent"})
