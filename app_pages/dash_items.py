"""Items: percent correct, difficulty, discrimination, distractors and Cronbach's alpha per
dimension, for one questionnaire version in the domain."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from analysis import dashboard as db
from app_pages.common import language, require, tr
from app_pages.dash_charts import COLOUR, FLAGGED_COLOUR, error_box, show_figure, show_table
from app_pages.dash_filters import cached, panel

require("view_dashboards")
lang = language()
st.title(tr("题目分析", "Item analysis"))
selection = panel()
if selection is None:
    st.stop()
data, filters = selection.data, selection.filters

version = data.versions[-1]
if len(data.versions) > 1:
    version = st.selectbox(tr("分析哪个版本的题目", "Items of version"), list(data.versions),
                           index=len(data.versions) - 1, key="items_version")
questionnaire = data.questionnaires[version]
try:
    with st.spinner(tr("正在计算题目统计…", "Computing item statistics…")):
        result = cached("items", selection.cache_key(version, lang),
                        lambda: db.items(data, filters, version=version, lang=lang))
except ValueError as exc:
    error_box(exc)
    st.stop()

st.caption(tr(
    ("加权" if result.weighted else "不加权") + "统计。难度：答对比例（有标准答案的题）或平均得分"
    "（0-1）；区分度：该题得分与本维度其余题目平均分的相关（校正的题总相关）；"
    "α：Cronbach's α（仅用答完本维度全部题目的答卷）。",
    ("Weighted" if result.weighted else "Unweighted") + " statistics. Difficulty: share "
    "right (items with a right answer) or mean score (0-1); discrimination: correlation of the "
    "item with the mean of the dimension's other items (corrected item-total); alpha: "
    "Cronbach's alpha (responses that answered every item of the dimension).",
))

dims = {d.name: d.label.get(lang) for d in questionnaire.dimensions}
labels = {q.name: q.label.get(lang) for q in questionnaire.scored_items()}

st.subheader(tr("各维度信度", "Reliability by dimension"))
show_table(result.dimensions.assign(dimension=[dims.get(d, d) for d in
                                               result.dimensions["dimension"]]).rename(columns={
    "dimension": tr("维度", "Dimension"), "n_items": tr("题数", "Items"),
    "n_complete": tr("完整作答人数", "Complete responses"), "alpha": "Cronbach's α"}).round(3),
    "items-alpha")

items = result.items.copy()
items["label"] = [labels.get(i, i) for i in items["item"]]
items["dimension_label"] = [dims.get(d, d) for d in items["dimension"]]

st.subheader(tr("难度与区分度", "Difficulty and discrimination"))
low = items["r_item_rest"] < 0.2
figure = go.Figure()
for weak, colour, name in ((False, COLOUR, tr("区分度≥0.2", "Discrimination ≥ 0.2")),
                           (True, "#d35400", tr("区分度<0.2", "Discrimination < 0.2"))):
    part = items[low == weak]
    if part.empty:
        continue
    figure.add_scatter(
        x=part["difficulty"], y=part["r_item_rest"], mode="markers", name=name,
        marker={"color": colour, "size": 10}, text=part["item"], customdata=part["label"],
        hovertemplate="%{text}<br>%{customdata}<br>" + tr("难度", "Difficulty")
        + " %{x:.2f}, " + tr("区分度", "discrimination") + " %{y:.2f}<extra></extra>",
    )
figure.add_hline(y=0.2, line={"color": FLAGGED_COLOUR, "dash": "dash"})
figure.update_layout(height=420, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                     xaxis={"title": tr("难度（答对比例/平均得分）", "Difficulty (share right / "
                                        "mean score)"), "range": [0, 1]},
                     yaxis_title=tr("区分度（校正题总相关）", "Discrimination (item-rest r)"),
                     legend={"orientation": "h", "y": 1.08})
show_figure(figure, "items-difficulty")
table = items[["item", "label", "dimension_label", "n", "percent_correct", "difficulty", "sd",
               "r_item_rest", "alpha_if_deleted"]].rename(columns={
    "item": tr("题目", "Item"), "label": tr("题干", "Question"),
    "dimension_label": tr("维度", "Dimension"), "n": tr("作答人数", "n"),
    "percent_correct": tr("答对率%", "% correct"), "difficulty": tr("难度", "Difficulty"),
    "sd": tr("标准差", "SD"), "r_item_rest": tr("区分度", "Discrimination"),
    "alpha_if_deleted": tr("删除该题后α", "Alpha if deleted")})
show_table(table.round(3), "items", height=420)

st.subheader(tr("选项分布（干扰项）", "Option choices (distractors)"))
choices = sorted(set(result.distractors["item"]), key=list(labels).index)
if choices:
    item = st.selectbox(tr("题目", "Item"), choices, key="items_item",
                        format_func=lambda i: f"{i} · {labels.get(i, i)}")
    options = result.distractors[result.distractors["item"] == item]
    right = options["correct"].fillna(False).astype(bool)
    figure = go.Figure(go.Bar(
        x=options["share"], y=options["label"], orientation="h",
        marker_color=[COLOUR if r else FLAGGED_COLOUR for r in right],
        text=[f"{s:.1%}" for s in options["share"]], textposition="outside",
    ))
    figure.update_layout(height=max(240, 40 * len(options) + 80),
                         margin={"l": 10, "r": 40, "t": 20, "b": 10},
                         yaxis={"autorange": "reversed"},
                         xaxis={"title": tr("选择比例", "Share choosing"), "tickformat": ".0%"})
    show_figure(figure, f"items-options-{item}")
    st.caption(tr("深色：正确选项。", "Dark: the right answer."))
    show_table(result.distractors.rename(columns={
        "item": tr("题目", "Item"), "option": tr("选项", "Option"), "code": tr("代码", "Code"),
        "label": tr("选项内容", "Label"), "score": tr("得分", "Score"),
        "correct": tr("正确", "Right"), "n": tr("人数", "n"), "share": tr("比例", "Share")}
    ).round(4), "items-distractors", height=300)
