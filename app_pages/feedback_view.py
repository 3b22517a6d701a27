"""The feedback page: the respondent's scores beside the averages, right answers, where to learn.

Scores come from :func:`analysis.scoring.feedback` (the same rules as the analysis); the
national and provincial averages from :func:`analysis.averages.score_averages` on the stored
responses, cached for a few minutes and shared by every session.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import plotly.graph_objects as go
import streamlit as st

from analysis.averages import ScoreAverages, score_averages
from analysis.errors import AnalysisError
from analysis.results import Estimate
from analysis.scoring import DIMENSION_PREFIX, Feedback, ItemFeedback, feedback
from app_pages.common import registry, store
from app_pages.questions import md
from questionnaires.model import Questionnaire
from responses.errors import ResponseError, StoreError

#: Fewest responses an average on the feedback page may rest on.
MIN_N = 30
#: Seconds the averages are kept before they are computed again from the store.
AVERAGES_TTL = 300

CJK_FONTS = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "PingFang SC", '
    '"Microsoft YaHei", "Droid Sans Fallback", sans-serif'
)


@dataclass(frozen=True)
class AveragesResult:
    """The averages, or why there are none (a message for the page)."""

    averages: ScoreAverages | None
    problem: str | None = None


@st.cache_resource(ttl=AVERAGES_TTL, show_spinner=False, max_entries=32)
def cached_averages(questionnaire_id: str, version: str) -> AveragesResult:
    """Averages of the stored responses to one questionnaire version (cached, shared)."""
    try:
        questionnaire = registry().get(questionnaire_id, version)
        frame = store().read(questionnaire_id, version=version)
        return AveragesResult(score_averages(frame, questionnaire, min_n=MIN_N))
    except (KeyError, AnalysisError, ResponseError, StoreError) as exc:
        return AveragesResult(None, str(exc))


def _tr(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


def _fmt(value: float | None) -> str:
    return (
        "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.0f}"
    )


def _province(
    questionnaire: Questionnaire, answers: dict[str, object], lang: str
) -> tuple[int | None, str | None]:
    question = questionnaire.role("province")
    if question is None or question.choices is None:
        return None, None
    value = answers.get(question.name)
    option = question.choices.choice(value) if isinstance(value, str) else None
    if option is None:
        return None, None
    return option.code, option.label.get(lang)


def _rows(fb: Feedback) -> list[tuple[str, str, float | None]]:
    """(variable, label, the respondent's score), index first."""
    rows: list[tuple[str, str, float | None]] = []
    if fb.index is not None:
        value = fb.index.value
        rows.append((fb.index.name, fb.index.label, float(value) if value is not None else None))
    if fb.index is None or len(fb.dimensions) > 1:  # one dimension would repeat the index
        rows.extend((DIMENSION_PREFIX + d.name, d.label, d.score) for d in fb.dimensions)
    return rows


def _bar(
    name: str,
    labels: list[str],
    estimates: list[Estimate | None],
    color: str,
) -> go.Bar:
    values = [e.estimate if e is not None else None for e in estimates]
    plus = [e.ci_upper - e.estimate if e is not None else None for e in estimates]
    minus = [e.estimate - e.ci_lower if e is not None else None for e in estimates]
    return go.Bar(
        name=name,
        y=labels,
        x=values,
        orientation="h",
        marker_color=color,
        error_x={"type": "data", "array": plus, "arrayminus": minus, "thickness": 1.2},
        text=[_fmt(v) for v in values],
        textposition="inside",
        insidetextanchor="start",
        textfont={"color": "#1f2328"},
        hovertemplate="%{y}: %{x:.1f}<extra>" + name + "</extra>",
    )


def chart(
    fb: Feedback,
    averages: ScoreAverages | None,
    *,
    province: int | None,
    province_label: str | None,
    lang: str,
    national_label: str | None = None,
) -> go.Figure:
    """Horizontal bars: the respondent's scores, the national and the provincial averages."""
    rows = _rows(fb)
    labels = [label for _, label, _ in rows]
    you = [score for _, _, score in rows]
    traces = [
        go.Bar(
            name=_tr(lang, "您的得分", "You"),
            y=labels,
            x=you,
            orientation="h",
            marker_color="#1d5fbf",
            text=[_fmt(v) for v in you],
            # inside the bar, or beside it when the bar is too short to hold the number
            textposition=["inside" if v is not None and v >= 12 else "outside" for v in you],
            insidetextanchor="start",
            textfont={
                "color": ["#ffffff" if v is not None and v >= 12 else "#1f2328" for v in you]
            },
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.1f}<extra></extra>",
        )
    ]
    if averages is not None:
        national = [averages.national_mean(v) for v, _, _ in rows]
        if any(e is not None for e in national):
            name = national_label or _tr(lang, "全国平均", "National average")
            traces.append(_bar(name, labels, national, "#9aa4b2"))
        regional = [averages.province_mean(v, province) for v, _, _ in rows]
        if any(e is not None for e in regional):
            name = _tr(lang, f"{province_label}平均", f"{province_label} average")
            traces.append(_bar(name, labels, regional, "#f0883e"))
    figure = go.Figure(traces)
    figure.update_layout(
        barmode="group",
        height=120 + 34 * len(rows) * len(traces),
        margin={"l": 8, "r": 28, "t": 8, "b": 8},
        xaxis={"range": [0, 108], "tickvals": [0, 20, 40, 60, 80, 100], "fixedrange": True},
        yaxis={"autorange": "reversed", "automargin": True, "fixedrange": True},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0},
        font={"family": CJK_FONTS, "size": 14},
        bargap=0.25,
        uniformtext={"minsize": 11, "mode": "show"},
    )
    return figure


def _alt(fb: Feedback, lang: str) -> str:
    parts = [f"{label} {_fmt(score)}" for _, label, score in _rows(fb)]
    return _tr(lang, "您的得分：", "Your scores: ") + ("；" if lang == "zh" else "; ").join(parts)


def _averages_note(
    averages: ScoreAverages | None,
    problem: str | None,
    *,
    province: int | None,
    province_label: str | None,
    lang: str,
    national: bool = True,
) -> str:
    if averages is None:
        return _tr(
            lang,
            "暂时无法计算平均分。",
            "The averages cannot be computed at the moment.",
        ) + (f" ({problem})" if problem else "")
    if not len(averages.national):
        return _tr(
            lang,
            f"目前收到的答卷还不足 {averages.min_n} 份（现有 {averages.n} 份），"
            "暂不显示平均分，以免少数答卷给出误导性的数字。",
            f"Fewer than {averages.min_n} answer sheets have been received so far "
            f"({averages.n}), so no average is shown: a handful of answers would give "
            "a misleading figure.",
        )
    if not national:
        return _tr(
            lang,
            f"平均分是全部 {averages.n} 份答卷的简单平均（横线为95%置信区间）。",
            f"The average is the plain mean of all {averages.n} answer sheets (lines show 95% "
            "confidence intervals).",
        )
    if averages.weighted_on:
        how = _tr(
            lang,
            f"全国平均基于 {averages.n} 份答卷，按第七次全国人口普查的人口结构加权估计"
            "（横线为95%置信区间）。",
            f"The national average rests on {averages.n} answer sheets, weighted to the "
            "population structure of the 2020 census (lines show 95% confidence intervals).",
        )
    else:
        how = _tr(
            lang,
            f"全国平均是 {averages.n} 份答卷的简单平均（样本尚不足以按人口普查加权，"
            "仅供参考；横线为95%置信区间）。",
            f"The national average is the plain mean of {averages.n} answer sheets (too few yet "
            "to weight them to the census, so take it as a rough guide; lines show 95% "
            "confidence intervals).",
        )
    if province is not None and province_label:
        got = averages.province_n(province)
        if got < averages.min_n:
            how += _tr(
                lang,
                f" {province_label}目前只有 {got} 份答卷，不足 {averages.min_n} 份，"
                "暂不显示本省平均分。",
                f" {province_label} has only {got} answer sheets so far (fewer than "
                f"{averages.min_n}), so no provincial average is shown.",
            )
    return how


def _item(item: ItemFeedback, lang: str, number: int) -> None:
    if item.correct is True:
        verdict = _tr(lang, ":green[**✓ 回答正确**]", ":green[**✓ Correct**]")
    elif item.correct is False:
        verdict = _tr(lang, ":red[**✗ 回答错误**]", ":red[**✗ Not correct**]")
    else:
        verdict = _tr(lang, "**— 未作答**", "**— Not answered**")
    with st.container(border=True, key=f"fb_item_{item.name}"):
        st.markdown(f"{verdict}  \n**{number}.** " + md(item.question))
        if item.stem:
            st.caption(md(item.stem))
        answer = item.answer if item.answer is not None else _tr(lang, "（未作答）", "(none)")
        right = ("、" if lang == "zh" else "; ").join(item.right_answers)
        st.markdown(
            _tr(lang, "您的答案：", "Your answer: ")
            + md(answer)
            + "  \n"
            + _tr(lang, "正确答案：", "Right answer: ")
            + f"**{md(right)}**"
        )
        if item.explanation:
            st.caption(md(item.explanation))


LEARN_MORE_ZH = "\n".join(
    (
        "- **遇到金融纠纷，先找金融机构。** 金融机构是处理投诉的第一责任主体：先向办理业务的银行、"
        "保险公司、证券公司等投诉，保留好合同、凭证和沟通记录。",
        "- **对处理结果不满意，可以找金融管理部门。** 中国人民银行金融消费权益保护咨询投诉电话 "
        "**12363**（支付、征信、人民币等）；国家金融监督管理总局 **12378**（银行、保险）；"
        "中国证监会 **12386**（证券、期货、基金）。也可以申请金融纠纷调解、仲裁或提起诉讼。",
        "- **学习金融知识。** 每年 **9月** 是“金融知识普及月”，3月15日前后有消费者权益保护"
        "教育宣传活动，银行网点、社区和学校都有讲座和资料；中国人民银行、国家金融监督管理总局等"
        "官方网站和公众号也发布风险提示。",
        "- **守住钱袋子。** 不向陌生人转账，不透露验证码和密码；“高收益、零风险”的承诺多半是"
        "陷阱；借钱前看清年化利率和全部费用。",
    )
)

LEARN_MORE_EN = "\n".join(
    (
        "- **In a dispute, go to the financial institution first.** It is first responsible "
        "for handling complaints: complain to the bank, insurer or securities firm concerned, "
        "and keep the contract, receipts and messages.",
        "- **If you are not satisfied with its answer, go to the financial authorities.** The "
        "People's Bank of China's financial consumer enquiry and complaint line is **12363** "
        "(payments, credit reporting, cash); the National Financial Regulatory "
        "Administration's is **12378** (banking, insurance); the China Securities Regulatory "
        "Commission's is **12386** (securities, futures, funds). Mediation, arbitration and "
        "the courts are also open to you.",
        "- **Learn more.** Every **September** is Financial Knowledge Month (金融知识普及月), "
        "and around 15 March there are consumer-rights campaigns; bank branches, communities "
        "and schools hold talks. The official websites and accounts of the People's Bank of "
        "China and the National Financial Regulatory Administration publish risk warnings.",
        "- **Keep your money safe.** Never transfer money to strangers or share verification "
        'codes and passwords; a promise of "high return, no risk" is almost always a trap; '
        "before borrowing, check the annual rate and every fee.",
    )
)


def draw(
    questionnaire: Questionnaire,
    answers: dict[str, object],
    *,
    lang: str,
) -> None:
    """The whole feedback section for one respondent's answers."""
    try:
        fb = feedback(answers, questionnaire, language=lang)
    except AnalysisError as exc:
        st.warning(_tr(lang, "暂时无法计算您的得分。", "Your scores cannot be shown.") + f" {exc}")
        return
    if not fb.dimensions and not fb.items:
        return
    province, province_label = _province(questionnaire, answers, lang)
    # a questionnaire without a province (the training quiz) compares with all its answers
    nationwide = questionnaire.role("province") is not None
    national_label = (
        _tr(lang, "全国平均", "National average")
        if nationwide
        else _tr(lang, "所有答卷平均", "Average of all answers")
    )
    with st.spinner(_tr(lang, "正在计算全国和本省的平均分…", "Working out the averages…")):
        result = cached_averages(questionnaire.id, questionnaire.version)
    averages = result.averages

    st.subheader(_tr(lang, "您的金融素养得分", "Your financial literacy scores"))
    if fb.index is not None and isinstance(fb.index.value, float):
        national = averages.national_mean(fb.index.name) if averages is not None else None
        delta = None
        if national is not None:
            diff = fb.index.value - national.estimate
            delta = _tr(
                lang,
                f"比{national_label}{'高' if diff >= 0 else '低'} {abs(diff):.0f} 分",
                f"{abs(diff):.0f} points {'above' if diff >= 0 else 'below'} the "
                + national_label[0].lower()
                + national_label[1:],
            )
        st.metric(
            fb.index.label + _tr(lang, "（满分100）", " (out of 100)"),
            f"{fb.index.value:.0f}",
            delta=delta,
            delta_color="normal"
            if national is None or fb.index.value >= national.estimate
            else "inverse",
            delta_arrow="off",
        )
    figure = chart(
        fb,
        averages,
        province=province,
        province_label=province_label,
        lang=lang,
        national_label=national_label,
    )
    st.plotly_chart(
        figure,
        config={"displayModeBar": False, "responsive": True},
        key="feedback_chart",
        alt=_alt(fb, lang),
    )
    st.caption(
        _averages_note(
            averages,
            result.problem,
            province=province,
            province_label=province_label,
            lang=lang,
            national=nationwide,
        )
    )
    if questionnaire.index is not None and questionnaire.index.note is not None:
        with st.expander(_tr(lang, "得分是怎么算的？", "How are the scores worked out?")):
            st.markdown(md(questionnaire.index.note.get(lang)))

    if fb.items:
        st.subheader(_tr(lang, "题目解析", "The answers explained"))
        numbered = list(enumerate(fb.items, start=1))
        wrong = [(i, item) for i, item in numbered if item.correct is not True]
        right = [(i, item) for i, item in numbered if item.correct is True]
        st.markdown(
            _tr(
                lang,
                f"您答对了 {len(right)} 道题（共 {len(fb.items)} 道有标准答案的题）。",
                f"You answered {len(right)} of the {len(fb.items)} questions with a right "
                "answer correctly.",
            )
        )
        for i, item in wrong:
            _item(item, lang, i)
        if right:
            with st.expander(
                _tr(lang, f"查看答对的 {len(right)} 道题", f"Show the {len(right)} you got right")
            ):
                for i, item in right:
                    _item(item, lang, i)

    st.subheader(_tr(lang, "去哪里学习、向谁投诉", "Where to learn more and to complain"))
    st.markdown(LEARN_MORE_EN if lang == "en" else LEARN_MORE_ZH)
