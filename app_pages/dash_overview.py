"""Overview: responses over time, completes and break-offs, responses by province against the
plan, data-quality counts."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import streamlit as st

from analysis import dashboard as db
from app_pages.common import language, require, store, tr
from app_pages.dash_charts import (
    COLOUR,
    FLAG_LABELS,
    FLAGGED_COLOUR,
    error_box,
    show_figure,
    show_table,
)
from app_pages.dash_filters import REFRESH_SECONDS, cached, panel

require("view_dashboards")
lang = language()
st.title(tr("概览", "Overview"))
selection = panel()
if selection is None:
    st.stop()
data, filters = selection.data, selection.filters


@st.cache_data(ttl=REFRESH_SECONDS, show_spinner=False)
def drafts(questionnaire_id: str) -> list:
    """Saved drafts never submitted (break-offs), re-read at most once a minute."""
    return store().state.count_drafts(questionnaire_id)


try:
    counts = drafts(filters.questionnaire)
    result = cached("overview", selection.cache_key(repr(counts)),
                    lambda: db.overview(data, filters, drafts=counts))
except ValueError as exc:
    error_box(exc)
    st.stop()

cols = st.columns(4)
cols[0].metric(tr("已提交答卷", "Completed responses"), f"{result.completes:,}")
cols[1].metric(tr("中断（已保存未提交）", "Break-offs (saved, not submitted)"),
               f"{result.break_offs:,}" if result.break_offs is not None else "–")
rate = result.break_off_rate
cols[2].metric(tr("中断率", "Break-off rate"), "–" if math.isnan(rate) else f"{rate:.1%}")
flagged = result.quality.set_index("flag")
share = flagged.loc["flag_any", "share"]
cols[3].metric(tr("有质量标记", "Flagged for quality"),
               f"{int(flagged.loc['flag_any', 'n']):,}",
               help=tr("至少一项质量标记的答卷（详见“数据质量”页）。",
                       "Responses with at least one quality flag (see Data quality)."))
st.caption(tr(
    "中断指保存过但从未提交的答卷：未保存就离开的受访者不留痕迹，草稿过期后被删除，刚保存的"
    "草稿也可能仍在作答，所以这是中断人数的下限；中断不受省份和人群筛选影响（草稿尚无这些信息）。"
    + ("" if math.isnan(share) else f" 质量标记比例 {share:.1%}。"),
    "A break-off is a response saved and never submitted: respondents who leave without "
    "saving leave no trace, drafts are deleted when they expire, and a draft saved minutes "
    "ago may still be finished, so this is a lower bound; break-offs ignore the province and "
    "group filters (a draft has no demographics yet)."
    + ("" if math.isnan(share) else f" Share flagged: {share:.1%}."),
))

st.subheader(tr("每日答卷", "Responses per day"))
daily = result.daily
figure = go.Figure()
figure.add_bar(x=daily["date"], y=daily["completes"], name=tr("已提交", "Completed"),
               marker_color=COLOUR)
if result.break_offs is not None:
    figure.add_bar(x=daily["date"], y=daily["break_offs"], name=tr("中断", "Break-offs"),
                   marker_color=FLAGGED_COLOUR)
figure.update_layout(barmode="stack", height=340, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                     xaxis_title=tr("日期（北京时间）", "Date (China time)"),
                     yaxis_title=tr("答卷数", "Responses"), legend={"orientation": "h", "y": 1.1})
show_figure(figure, "overview-daily")
show_table(daily.rename(columns={"date": tr("日期", "Date"), "completes": tr("已提交", "Completed"),
                                 "break_offs": tr("中断", "Break-offs")}), "overview-daily",
           height=240)

st.subheader(tr("各省答卷与计划", "Responses by province against the plan"))
provinces = result.provinces.sort_values("province")
names = provinces["name_zh" if lang == "zh" else "name_en"]
has_target = provinces["target"].notna().any()
figure = go.Figure()
figure.add_bar(x=names, y=provinces["completes"], name=tr("已提交", "Completed"),
               marker_color=COLOUR)
figure.add_scatter(
    x=names, y=provinces["target"] if has_target else provinces["expected"], mode="markers",
    marker={"symbol": "line-ew-open", "size": 18, "color": "#c0392b", "line": {"width": 3}},
    name=tr("配额目标", "Quota target") if has_target
    else tr("按成年人口比例应有", "Expected in proportion to adults"),
)
figure.update_layout(height=380, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                     yaxis_title=tr("答卷数", "Responses"), legend={"orientation": "h", "y": 1.1})
show_figure(figure, "overview-provinces")
st.caption(tr(
    "红线：问卷设有分省配额时为配额目标，否则为按2020年人口普查成年人口比例分配当前答卷数时"
    "各省应有的数量。",
    "Red marks: the questionnaire's quota by province where it has one, otherwise the number "
    "each province would have if the responses were spread in proportion to its adult "
    "population (2020 census).",
))
name = "name_zh" if lang == "zh" else "name_en"
columns = ["province", name, "completes", "share", "census_share", "expected"]
if has_target:
    columns += ["target", "progress"]
headers = {
    "province": tr("代码", "Code"), name: tr("省份", "Province"),
    "completes": tr("已提交", "Completed"), "share": tr("占样本", "Share of sample"),
    "census_share": tr("占成年人口", "Share of adults"),
    "expected": tr("按人口比例应有", "Expected"), "target": tr("配额目标", "Quota target"),
    "progress": tr("完成率", "Progress"),
}
table = provinces[columns].rename(columns=headers)
show_table(table, "overview-provinces", height=360, formats={
    headers["share"]: "percent", headers["census_share"]: "percent",
    headers["expected"]: "%.0f", headers["progress"]: "percent"})

halves = st.columns(2)
with halves[0]:
    st.subheader(tr("中断发生的页面", "Where break-offs stopped"))
    if result.break_off_pages.empty:
        st.caption(tr("没有中断记录。", "No break-offs recorded."))
    else:
        sections = {s.name: s.title.get(lang) for s in data.questionnaire.sections}
        pages = result.break_off_pages.assign(
            page=[sections.get(p, p) for p in result.break_off_pages["page"]])
        show_table(pages.rename(columns={"page": tr("页面", "Page"), "n": tr("人数", "n")}),
                   "overview-break-off-pages")
with halves[1]:
    st.subheader(tr("质量标记", "Quality flags"))
    quality = result.quality.assign(flag=[FLAG_LABELS.get(f, (f, f))[lang != "zh"]
                                          for f in result.quality["flag"]])
    show_table(quality.rename(columns={"flag": tr("标记", "Flag"), "n": tr("人数", "n"),
                                       "share": tr("比例", "Share")}),
               "overview-quality", formats={tr("比例", "Share"): "percent"})
