"""Education effectiveness: financial education's effect by every method (forest plot with 95%
intervals beside the Kaiser et al. 2022 benchmark), covariate balance before and after
weighting, and pre/post results of the education quiz when linked data exist."""

from __future__ import annotations

import functools
import math

import pandas as pd
import streamlit as st

from analysis import dashboard as db
from app_pages.common import language, registry, require, store, tr
from app_pages.dash_charts import error_box, forest, love_plot, show_figure, show_table
from app_pages.dash_filters import cached, column_label, load, panel

require("view_dashboards")
lang = language()
st.title(tr("金融教育效果", "Financial education effectiveness"))
selection = panel()
if selection is None:
    st.stop()
data, filters = selection.data, selection.filters

METHOD_LABELS = {
    "difference": ("未调整差异", "Unadjusted difference"),
    "regression": ("回归调整", "Regression adjustment"),
    "ipw": ("逆概率加权（IPW）", "Inverse probability weighting (IPW)"),
    "aipw": ("双重稳健（AIPW）", "Doubly robust (AIPW)"),
}


def method_label(method: str) -> str:
    zh, en = METHOD_LABELS.get(method, (method, method))
    return tr(zh, en)


def treatment_label(name: str) -> str:
    if name == "exposure_any":
        return tr("接受过任何金融教育 vs 没有", "Any financial education vs none")
    if name.startswith("recency_"):
        parts = name.split("_")
        low, high = parts[1], parts[2]
        if high == "inf":
            return tr(f"{low}个月以前 vs 没有", f"More than {low} months ago vs none")
        return tr(f"{low}–{high}个月前 vs 没有", f"{low}–{high} months ago vs none")
    kind = name.removesuffix("_vs_none")
    q = data.questionnaire.role("exposure")
    if q is not None and q.choices is not None:
        for c in q.choices:
            if c.exposure == kind:
                return tr(f"{c.label.get('zh')} vs 没有", f"{c.label.get('en')} vs none")
    return name


options = db.treatments(data)
if not options:
    st.info(tr("该问卷没有金融教育经历题，无法比较。",
               "This questionnaire has no question on financial education, so there is "
               "nothing to compare."))
else:
    cols = st.columns(2)
    outcome = cols[0].selectbox(tr("结果指标", "Outcome"), list(data.outcomes), key="eff_outcome",
                                format_func=lambda o: data.outcome_label(o, lang))
    treatment_labels = {t: treatment_label(t) for t in options}
    treatment = cols[1].selectbox(tr("比较", "Comparison"), list(options), key="eff_treatment",
                                  format_func=treatment_labels.__getitem__)
    try:
        # one method at a time, each cached: the first is quick, the adjusted ones take longer
        progress = st.progress(0.0)
        parts = []
        for i, method in enumerate(db.METHODS):
            progress.progress(i / len(db.METHODS),
                              text=tr(f"正在估计：{method_label(method)}…",
                                      f"Estimating: {method_label(method)}…"))
            parts.append(cached(
                "effect", selection.cache_key(outcome, treatment, method),
                functools.partial(db.effectiveness, data, filters, outcome=outcome,
                                  treatment=treatment, methods=(method,)),
            ))
        progress.empty()
        result = db.combine_effectiveness(parts)
    except ValueError as exc:
        error_box(exc)
        st.stop()
    effects = result.effects.to_frame()
    if effects.empty:
        st.warning(tr("没有方法能在当前筛选范围内估计效果。",
                      "No method could estimate the effect in this domain."))
    else:
        rows = pd.DataFrame({
            "label": [method_label(m) for m in effects["method"]],
            "estimate": effects["effect_sd"],
            "ci_lower": effects["ci_lower_sd"],
            "ci_upper": effects["ci_upper_sd"],
        })
        bench = result.benchmark.drop_duplicates("domain")
        references = [
            (float(b.benchmark_sd), tr(
                f"Kaiser等(2022)：{'知识' if b.domain == 'knowledge' else '行为'} "
                f"{b.benchmark_sd:g} SD",
                f"Kaiser et al. (2022): {b.domain} {b.benchmark_sd:g} SD"))
            for b in bench.itertuples()
        ]
        show_figure(forest(rows, label="label",
                           value_title=tr("效果（结果指标的标准差单位）",
                                          "Effect (standard deviations of the outcome)"),
                           references=references), "effect-forest")
        st.caption(tr(
            "这是受访者自报的教育经历与金融素养的观察性比较，不是随机试验：调整方法只能消除协变量"
            f"（{', '.join(column_label(c) for c in result.covariates)}）所反映的差异。"
            "参照线为Kaiser、Lusardi、Menkhoff和Urban（2022）对76项随机试验的元分析结果：金融教育"
            "使金融知识提高约0.2个标准差、金融行为提高约0.1个标准差。",
            "An observational comparison of self-reported education, not a randomised trial: the "
            "adjusted methods remove only the differences the covariates capture "
            f"({', '.join(column_label(c) for c in result.covariates)}). Reference lines: "
            "Kaiser, Lusardi, Menkhoff & Urban (2022), meta-analysis of 76 randomised "
            "experiments: about 0.2 SD on financial knowledge and 0.1 SD on financial behaviour.",
        ))
        table = effects.assign(method=[method_label(m) for m in effects["method"]])[
            ["method", "effect", "se", "ci_lower", "ci_upper", "p_value", "effect_sd",
             "ci_lower_sd", "ci_upper_sd", "n_treated", "n_control"]]
        show_table(table.rename(columns={
            "method": tr("方法", "Method"), "effect": tr("效果（分）", "Effect (points)"),
            "se": tr("标准误", "SE"), "ci_lower": tr("95%下限", "95% lower"),
            "ci_upper": tr("95%上限", "95% upper"), "p_value": "p",
            "effect_sd": tr("效果（SD）", "Effect (SD)"),
            "ci_lower_sd": tr("下限（SD）", "Lower (SD)"),
            "ci_upper_sd": tr("上限（SD）", "Upper (SD)"),
            "n_treated": tr("教育组", "Educated"),
            "n_control": tr("对照组", "Not educated")}).round(4), "effect-methods",
            formats={"p": "%.3g"})
        with st.expander(tr("与元分析基准的比较", "Against the meta-analytic benchmarks")):
            relation = {"above": tr("高于基准", "above the benchmark"),
                        "below": tr("低于基准", "below the benchmark"),
                        "consistent": tr("与基准一致", "consistent with it"),
                        "unknown": tr("无法判断", "unknown")}
            bench_table = result.benchmark.assign(
                method=[method_label(m) for m in result.benchmark["method"]],
                relation=[relation.get(r, r) for r in result.benchmark["relation"]],
            )[["method", "effect_sd", "ci_lower_sd", "ci_upper_sd", "domain", "benchmark_sd",
               "relation", "note", "source"]]
            show_table(bench_table.rename(columns={
                "method": tr("方法", "Method"), "effect_sd": tr("效果（SD）", "Effect (SD)"),
                "ci_lower_sd": tr("下限（SD）", "Lower (SD)"),
                "ci_upper_sd": tr("上限（SD）", "Upper (SD)"), "domain": tr("领域", "Domain"),
                "benchmark_sd": tr("基准（SD）", "Benchmark (SD)"),
                "relation": tr("比较", "Comparison"), "note": tr("说明", "Note"),
                "source": tr("来源", "Source")}).round(4), "effect-benchmark")
    for method, message in result.errors.items():
        st.info(f"{method_label(method)}：{message}")

    if result.balance is not None:
        st.subheader(tr("协变量平衡（逆概率加权前后）", "Covariate balance before and after IPW"))
        balance = result.balance.copy()
        balance["label"] = [
            f"{column_label(c)}：{data.value_label(c, v, lang)}" if v is not None and v == v
            else column_label(c)
            for c, v in zip(balance["covariate"], balance["level"], strict=True)
        ]
        show_figure(love_plot(balance, before=tr("加权前", "Before"),
                              after=tr("逆概率加权后", "After IPW")), "effect-balance")
        show_table(balance[["label", "mean_treated_before", "mean_control_before", "smd_before",
                            "mean_treated_after", "mean_control_after", "smd_after"]].rename(
            columns={"label": tr("协变量", "Covariate"),
                     "mean_treated_before": tr("教育组（前）", "Educated, before"),
                     "mean_control_before": tr("对照组（前）", "Not educated, before"),
                     "smd_before": tr("SMD（前）", "SMD before"),
                     "mean_treated_after": tr("教育组（后）", "Educated, after"),
                     "mean_control_after": tr("对照组（后）", "Not educated, after"),
                     "smd_after": tr("SMD（后）", "SMD after")}).round(4),
            "effect-balance", height=320)
        st.caption(tr("标准化均值差（SMD）的绝对值小于0.1通常视为平衡良好"
                      "（Austin & Stuart 2015）。",
                      "An absolute standardised mean difference (SMD) below 0.1 is usually taken "
                      "as good balance (Austin & Stuart 2015)."))
    if result.overlap is not None:
        overlap = result.overlap
        low, high = overlap.common_support
        st.caption(tr(
            f"倾向得分共同支持域 {low:.3f}–{high:.3f}；"
            f"教育组有效样本量 {overlap.ess_treated:,.0f}，对照组 {overlap.ess_control:,.0f}。",
            f"Propensity common support {low:.3f}–{high:.3f}; effective sample sizes "
            f"{overlap.ess_treated:,.0f} (educated) and {overlap.ess_control:,.0f} (not).",
        ))

# ------------------------------------------------------------------------------ pre/post
st.subheader(tr("培训前后测验", "Quiz before and after a session"))
quizzes = []
for qid in store().list_questionnaires():
    try:
        latest = registry().latest(qid)
    except (KeyError, ValueError):
        continue
    if latest.role("phase") is not None and latest.role("participant_code") is not None:
        quizzes.append(qid)
if not quizzes:
    st.caption(tr("还没有前后测验（如 edu_quiz）的答卷。",
                  "There are no pre/post quiz (e.g. edu_quiz) responses yet."))
else:
    quiz_id = quizzes[0] if len(quizzes) == 1 else st.selectbox(
        tr("测验问卷", "Quiz"), quizzes, key="eff_quiz")
    try:
        quiz_data, quiz_key = load(quiz_id, None)
        quiz_filters = db.Filters(quiz_id, exclude_flagged=filters.exclude_flagged,
                                  weighted=False)
        paired = cached("prepost", (*quiz_key, quiz_filters.key()),
                        lambda: db.quiz_prepost(quiz_data, quiz_filters))
    except ValueError as exc:
        error_box(exc)
    else:
        quads = st.columns(4)
        quads[0].metric(tr("配对人数", "Pairs"), f"{paired.n:,}")
        quads[1].metric(tr("前测平均分", "Mean before"), f"{paired.mean_pre:.1f}")
        quads[2].metric(tr("后测平均分", "Mean after"), f"{paired.mean_post:.1f}",
                        f"{paired.mean_change:+.1f}")
        quads[3].metric("Hedges' g", f"{paired.hedges_g:.2f}")
        st.caption(tr(
            f"平均提高 {paired.mean_change:.1f} 分（95%置信区间 {paired.ci_lower:.1f}–"
            f"{paired.ci_upper:.1f}，配对t检验 p={paired.p_value:.3g}）；Hedges' g 95%置信区间 "
            f"{paired.g_ci_lower:.2f}–{paired.g_ci_upper:.2f}。前测参与者中配对成功 "
            f"{paired.attrition.retention:.0%}。没有对照组时，前后差异不能完全归因于培训。",
            f"Mean change {paired.mean_change:+.1f} points (95% CI {paired.ci_lower:.1f} to "
            f"{paired.ci_upper:.1f}, paired t-test p={paired.p_value:.3g}); Hedges' g 95% CI "
            f"{paired.g_ci_lower:.2f} to {paired.g_ci_upper:.2f}. "
            f"{paired.attrition.retention:.0%} of the pre-quiz participants were paired. "
            "Without a control group the change cannot all be put down to the session.",
        ))
        if not paired.items.empty:
            quiz_labels = {f"score__{q.name}": q.label.get(lang)
                           for q in quiz_data.questionnaire.scored_items()}
            items = paired.items.assign(item=[quiz_labels.get(i, i) for i in paired.items["item"]])
            show_table(items.rename(columns={
                "item": tr("题目", "Item"), "n": tr("配对人数", "Pairs"),
                "pct_pre": tr("前测答对%", "% right before"),
                "pct_post": tr("后测答对%", "% right after"),
                "change": tr("变化（百分点）", "Change (points)"),
                "right_to_wrong": tr("对→错", "Right to wrong"),
                "wrong_to_right": tr("错→对", "Wrong to right"),
                "mcnemar_p": tr("McNemar p值", "McNemar p")}).round(2), "prepost-items",
                height=300, formats={tr("McNemar p值", "McNemar p"): "%.3g"})
        if not math.isnan(paired.hedges_g):
            show_figure(forest(pd.DataFrame({
                "label": ["Hedges' g"], "estimate": [paired.hedges_g],
                "ci_lower": [paired.g_ci_lower], "ci_upper": [paired.g_ci_upper]}),
                label="label", value_title=tr("标准化变化", "Standardised change"),
                references=[(0.2, "Kaiser et al. (2022) 0.2 SD")]), "prepost-effect")
