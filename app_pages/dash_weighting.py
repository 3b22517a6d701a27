"""Weighting: achieved against census margins, the weight distribution, Kish's design effect and
effective sample size, and who has no census weight."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analysis import dashboard as db
from app_pages.common import language, require, tr
from app_pages.dash_charts import COLOUR, FLAGGED_COLOUR, error_box, show_figure, show_table
from app_pages.dash_filters import cached, panel

require("view_dashboards")
lang = language()
st.title(tr("权重", "Weighting"))
selection = panel()
if selection is None:
    st.stop()
data, filters = selection.data, selection.filters

SCHEMES = {
    "full": ("完整方案：省份，以及各省的性别、年龄段、城乡结构",
             "Full: province, and sex, age band and urban/rural within each province"),
    "national": ("简化方案：省份，以及全国的性别、年龄段、城乡结构",
                 "Simplified: province, and national sex, age band and urban/rural"),
    "province": ("仅按省份", "Province only"),
    "demographic": ("全国的性别、年龄段、城乡结构（问卷没有省份题）",
                    "National sex, age band and urban/rural (no province question)"),
    "none": ("无权重", "No weights"),
}
weighting = data.sample(filters.exclude_flagged).weighting
st.markdown(f"**{tr('权重方案', 'Scheme')}**：{SCHEMES[weighting.scheme][lang != 'zh']}")
st.caption(tr(
    "用迭代比例拟合（raking）把样本校准到2020年第七次全国人口普查15岁及以上人口的边际分布。",
    "Raking (iterative proportional fitting) to the margins of the population aged 15+ in the "
    "7th national census (2020).",
))
if weighting.notes:
    with st.expander(tr("为什么用了简化方案", "Why a simpler scheme was used")):
        for note in weighting.notes:
            st.text(note)
if weighting.excluded:
    st.warning(tr("以下受访者没有普查权重，未计入加权估计（计入不加权估计）：",
                  "These respondents have no census weight and are left out of the weighted "
                  "estimates (they count in the unweighted ones):"))
    reasons = {
        "missing province": tr("缺少省份", "missing province"),
        "missing sex": tr("缺少性别", "missing sex"),
        "missing age_band": tr("缺少年龄", "missing age"),
        "missing urban": tr("缺少城乡", "missing urban/rural"),
        "under 15 (outside the census population)": tr("未满15岁（不在普查总体内）",
                                                       "under 15 (outside the census "
                                                       "population)"),
        "province outside the census table": tr("省份不在普查表中",
                                                "province outside the census table"),
    }
    show_table(pd.DataFrame({
        tr("原因", "Reason"): [reasons.get(k, k) for k in weighting.excluded],
        tr("人数", "Respondents"): list(weighting.excluded.values())}), "weighting-excluded")
if weighting.uncovered_provinces:
    names = ", ".join(data.value_label("province", c, lang) for c in weighting.uncovered_provinces)
    st.info(tr(f"没有受访者的省份（不在校准目标中，加权结果不代表这些省份）：{names}",
               f"Provinces without respondents (left out of the targets; the weighted figures "
               f"do not describe them): {names}"))

try:
    report = cached("weighting", selection.cache_key(),
                    lambda: db.weighting_report(data, filters))
except ValueError as exc:
    error_box(exc)
    st.stop()

summary = report.summary.iloc[0]
cols = st.columns(4)
cols[0].metric(tr("加权受访者", "Weighted respondents"), f"{int(summary['n']):,}")
cols[1].metric(tr("设计效应（Kish）", "Design effect (Kish)"), f"{summary['deff']:.2f}",
               help=tr("deff = n·Σw²/(Σw)²：权重不等使方差放大的倍数。",
                       "deff = n·Σw²/(Σw)²: how much unequal weights inflate the variance."))
cols[2].metric(tr("有效样本量", "Effective sample size"), f"{summary['n_effective']:,.0f}",
               help=tr("(Σw)²/Σw²", "(Σw)²/Σw²"))
cols[3].metric(tr("最大/最小权重", "Largest / smallest weight"),
               f"{summary['weight_max'] / summary['weight_min']:,.1f}"
               if summary["n"] else "–")
st.caption(tr("以上为筛选范围内的权重。", "For the weights in the selected domain."))

st.subheader(tr("各省：样本、普查与加权后的比例", "Provinces: sample, census and weighted shares"))
if not report.provinces.empty:
    provinces = report.provinces
    names = provinces["name_zh" if lang == "zh" else "name_en"]
    figure = go.Figure()
    figure.add_bar(x=names, y=provinces["sample_share"], name=tr("样本", "Sample"),
                   marker_color=FLAGGED_COLOUR)
    figure.add_bar(x=names, y=provinces["weighted_share"], name=tr("加权后", "Weighted"),
                   marker_color=COLOUR)
    figure.add_scatter(x=names, y=provinces["census_share"], mode="markers",
                       name=tr("普查", "Census"),
                       marker={"symbol": "line-ew-open", "size": 16, "color": "#c0392b",
                               "line": {"width": 3}})
    figure.update_layout(barmode="group", height=380, yaxis={"tickformat": ".0%"},
                         margin={"l": 10, "r": 10, "t": 30, "b": 10},
                         legend={"orientation": "h", "y": 1.1})
    show_figure(figure, "weighting-provinces")
    if filters.domain() or filters.start or filters.end:
        st.caption(tr("筛选后，加权比例是筛选范围内的比例，普查比例仍为全国。",
                      "With filters, the weighted shares are those within the domain; the census "
                      "shares stay national."))

st.subheader(tr("校准边际：达成值与普查目标", "Raking margins: achieved against census"))
MARGIN_LABELS = {
    "province": tr("省份", "Province"), "province*sex": tr("省份×性别", "Province × sex"),
    "province*age_band": tr("省份×年龄段", "Province × age band"),
    "province*urban": tr("省份×城乡", "Province × urban/rural"),
    "sex": tr("性别", "Sex"), "age_band": tr("年龄段", "Age band"),
    "urban": tr("城乡", "Urban/rural"),
}


def level_label(margin: str, level: str) -> str:
    """A margin's level in words: "44*female" -> 广东省×女, "pool*60+" -> 合并的省份×60+."""
    parts = margin.split("*")
    values = str(level).split("*")
    if len(parts) != len(values):
        return str(level)
    words = []
    for part, value in zip(parts, values, strict=True):
        if part == "province":
            words.append(tr("合并的省份", "pooled provinces") if value == "pool"
                         else data.value_label("province", int(value), lang)
                         if value.isdigit() else value)
        elif value == "all":
            words.append(tr("全部", "all"))
        else:
            words.append(data.value_label(part, value, lang))
    return "×".join(words)


margins = report.margins.assign(
    level=[level_label(m, lv) for m, lv in zip(report.margins["margin"],
                                                report.margins["level"], strict=True)],
    margin=[MARGIN_LABELS.get(m, m) for m in report.margins["margin"]],
).round({"target": 0, "achieved": 0, "base": 0})
headers = {
    "margin": tr("边际", "Margin"), "level": tr("类别", "Level"),
    "target": tr("普查目标", "Census total"), "achieved": tr("加权后", "Achieved"),
    "base": tr("加权前", "Before raking"), "n": tr("受访者", "Respondents"),
    "rel_error": tr("相对误差", "Relative error"),
    "census_share": tr("普查比例", "Census share"), "sample_share": tr("样本比例", "Sample share"),
    "weighted_share": tr("加权比例", "Weighted share")}
show_table(margins.rename(columns=headers), "weighting-margins", height=360, formats={
    headers["target"]: "localized", headers["achieved"]: "localized",
    headers["base"]: "localized", headers["rel_error"]: "%.1e",
    headers["census_share"]: "percent", headers["sample_share"]: "percent",
    headers["weighted_share"]: "percent"})
if weighting.collapsed:
    variables = {"sex": tr("性别", "sex"), "age_band": tr("年龄段", "age band"),
                 "urban": tr("城乡", "urban/rural")}
    lines = [
        f"- {variables.get(d, d)}："
        + ", ".join(data.value_label("province", c, lang) for c in codes)
        for d, codes in weighting.collapsed.items()
    ]
    st.caption(tr(
        f"以下省份的某一类别受访者少于{db.MIN_CELL}人：这些省份合在一起按该变量校准"
        "（显示为 `pool*类别`，目标为这些省份之和）；若合并后仍不足，则各省只按总数校准"
        "（显示为 `代码*all`）。",
        f"In these provinces a category had fewer than {db.MIN_CELL} respondents: they are "
        "raked on that variable together (shown as `pool*category`, its target the sum of "
        "theirs), or, if even the pooled cells are too small, each to its own total only "
        "(`code*all`):",
    ))
    st.markdown("\n".join(lines))

st.subheader(tr("权重分布", "Weight distribution"))
histogram = report.histogram
if len(histogram):
    centres = np.sqrt(histogram["bin_lower"] * histogram["bin_upper"])
    figure = go.Figure(go.Bar(x=centres, y=histogram["n"],
                              width=(histogram["bin_upper"] - histogram["bin_lower"]) * 0.95,
                              marker_color=COLOUR))
    figure.update_layout(height=320, xaxis={"type": "log", "title": tr("权重（对数刻度）",
                                                                       "Weight (log scale)")},
                         yaxis_title=tr("受访者", "Respondents"),
                         margin={"l": 10, "r": 10, "t": 20, "b": 10})
    show_figure(figure, "weighting-histogram")
quantiles = report.quantiles.round(1).reset_index()
quantiles["q"] = [f"{q:.0%}" for q in quantiles["q"]]
show_table(report.summary.round(
    {"weight_sum": 0, "weight_min": 1, "weight_max": 1, "weight_mean": 1, "n_effective": 0}
).rename(columns={
    "n": tr("人数", "n"), "weight_sum": tr("权重和", "Sum"),
    "weight_min": tr("最小", "Min"), "weight_max": tr("最大", "Max"),
    "weight_mean": tr("平均", "Mean"), "weight_cv": tr("变异系数", "CV"),
    "deff": tr("设计效应", "deff"), "n_effective": tr("有效样本量", "Effective n")}),
    "weighting-summary", formats={tr("权重和", "Sum"): "localized",
                                  tr("最小", "Min"): "localized",
                                  tr("最大", "Max"): "localized",
                                  tr("平均", "Mean"): "localized",
                                  tr("变异系数", "CV"): "%.3f",
                                  tr("设计效应", "deff"): "%.3f",
                                  tr("有效样本量", "Effective n"): "localized"})
halves = st.columns(2)
with halves[0]:
    show_table(quantiles.rename(columns={"q": tr("分位数", "Quantile"),
                                         "weight": tr("权重", "Weight")}),
               "weighting-quantiles", formats={tr("权重", "Weight"): "localized"})

