"""Content rules of the shipped questionnaires that the format itself cannot check.

The loader checks the structure of ``questionnaires/definitions/*.yaml``; these tests check
what the questionnaires say: every knowledge item has its answer and explanation in both
languages, the consumer financial literacy survey (cfl) covers its four dimensions, the eight
financial consumer rights and the five kinds of financial education, its skip logic and
constraint behave, the OECD/INFE derived scores reproduce the toolkit's scoring rules
(see /work/shared/reference/README.md, "OECD/INFE scoring rules in detail") both for one
respondent and vectorised over stored answers, and the pre/post quiz can link its two sittings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from questionnaires import (
    SPECIAL_CODES,
    Question,
    Questionnaire,
    load_questionnaire,
    load_registry,
    read_xlsform,
    write_xlsform,
)
from questionnaires.expressions import parse
from questionnaires.registry import DEFINITIONS_DIR

SHIPPED = ("cfl", "oecd_infe", "edu_quiz")
LANGUAGES = ("zh", "en")

# The eight rights named in 国办发〔2015〕81号 (State Council General Office guidance on
# strengthening the protection of financial consumers' rights and interests).
EIGHT_RIGHTS = (
    "财产安全权",
    "知情权",
    "自主选择权",
    "公平交易权",
    "依法求偿权",
    "受教育权",
    "受尊重权",
    "信息安全权",
)
EXPOSURE_TYPES = {"month", "consumer_day", "school", "bank", "online"}


def _load(name: str) -> Questionnaire:
    return load_questionnaire(DEFINITIONS_DIR / f"{name}.yaml")


@pytest.fixture(scope="module")
def cfl() -> Questionnaire:
    return _load("cfl")


@pytest.fixture(scope="module")
def oecd() -> Questionnaire:
    return _load("oecd_infe")


@pytest.fixture(scope="module")
def quiz() -> Questionnaire:
    return _load("edu_quiz")


def _items(qn: Questionnaire) -> list[Question]:
    """Answerable questions, with each matrix counted as its items."""
    return [q for q in qn.questions if q.type != "note"]


def _condition(q: Question, attribute: str, values: Mapping[str, object], **kw: Any) -> bool:
    text = getattr(q, attribute)
    assert text is not None, f"{q.name} has no {attribute}"
    return parse(text).evaluate_condition(values, **kw)


# ---------------------------------------------------------------------------------------------
# All shipped questionnaires
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_xlsform_round_trip_gives_the_same_questionnaire(name: str, tmp_path: Path) -> None:
    qn = _load(name)
    path = tmp_path / f"{name}.xlsx"
    write_xlsform(qn, path)
    assert read_xlsform(path) == qn


def test_shipped_definitions_load_in_the_registry_without_problems() -> None:
    registry = load_registry()
    assert registry.problems == ()
    assert set(SHIPPED) <= set(registry.ids())


@pytest.mark.parametrize("name", SHIPPED)
def test_bilingual_with_consent_and_index_note(name: str) -> None:
    qn = _load(name)
    assert qn.languages == LANGUAGES
    assert qn.consent is not None and qn.index is not None and qn.index.note is not None
    for text in (qn.title, qn.description, qn.consent.text, qn.index.note):
        assert text is not None
        for lang in LANGUAGES:
            assert text[lang].strip()


@pytest.mark.parametrize("name", SHIPPED)
def test_consent_says_what_why_how_long_anonymity_and_withdrawal(name: str) -> None:
    qn = _load(name)
    assert qn.consent is not None
    zh, en = qn.consent.text["zh"], qn.consent.text["en"].lower()
    for word in ("收集", "目的", "保存", "自愿", "退出"):
        assert word in zh, word
    for word in ("collected", "purpose", "retention", "voluntary", "stop at any time"):
        assert word in en, word


@pytest.mark.parametrize("name", SHIPPED)
def test_every_knowledge_item_has_answer_explanation_and_dont_know(name: str) -> None:
    qn = _load(name)
    items = qn.scored_items("knowledge")
    assert items
    for q in items:
        score = q.score
        assert score is not None
        if q.type in ("integer", "decimal"):
            assert score.correct_value is not None, q.name
        else:
            assert score.correct, q.name
            assert q.choices is not None
            assert set(score.correct) <= set(q.choices.names), q.name
        assert q.explanation is not None, q.name
        for lang in LANGUAGES:
            assert q.explanation[lang].strip(), (q.name, lang)
        assert "dont_know" in q.special, q.name


def test_no_knowledge_explanation_is_shared_between_items() -> None:
    for name in SHIPPED:
        explanations = [
            q.explanation["zh"] for q in _load(name).scored_items("knowledge") if q.explanation
        ]
        assert len(explanations) == len(set(explanations)), name


# ---------------------------------------------------------------------------------------------
# cfl: consumer financial literacy survey
# ---------------------------------------------------------------------------------------------


def test_cfl_has_40_to_60_items(cfl: Questionnaire) -> None:
    assert 40 <= len(_items(cfl)) <= 60


def test_cfl_four_dimensions_with_equal_documented_weights(cfl: Questionnaire) -> None:
    assert [d.name for d in cfl.dimensions] == ["knowledge", "attitude", "behaviour", "skills"]
    assert [d.weight for d in cfl.dimensions] == [0.25] * 4
    assert all(d.score is None for d in cfl.dimensions)
    assert cfl.index is not None and cfl.index.note is not None
    assert "0.25" in cfl.index.note["zh"] and "主成分" in cfl.index.note["zh"]
    assert "0.25" in cfl.index.note["en"] and "PCA" in cfl.index.note["en"]


def test_cfl_dimensions_are_each_measured_by_several_items(cfl: Questionnaire) -> None:
    counts = {d.name: len(cfl.scored_items(d.name)) for d in cfl.dimensions}
    assert counts["knowledge"] >= 15
    assert counts["skills"] >= 5
    assert counts["attitude"] >= 6
    assert counts["behaviour"] >= 6


def test_cfl_skills_items_are_applied_tasks_with_answers(cfl: Questionnaire) -> None:
    skills = cfl.scored_items("skills")
    for q in skills:
        assert q.score is not None and (q.score.correct or q.score.correct_value is not None)
        assert q.explanation is not None and all(q.explanation[lang] for lang in LANGUAGES)
        assert "dont_know" in q.special
    assert any(q.type == "integer" for q in skills), "at least one computed answer"


def test_cfl_attitude_items_are_likert_with_reverse_coding(cfl: Questionnaire) -> None:
    items = cfl.scored_items("attitude")
    assert all(q.type == "matrix_item" for q in items)
    assert all(q.score is not None and not q.score.correct for q in items)
    reverse = {q.name for q in items if q.score is not None and q.score.reverse}
    # Agreeing with the OECD/INFE short-term statements is the less literate attitude.
    assert {"att_live_today", "att_spend_satisfy", "att_money_spend"} <= reverse
    assert set(q.name for q in items) - reverse, "some statements are scored as agreed"


def test_cfl_behaviour_items_are_frequency_or_points(cfl: Questionnaire) -> None:
    for q in cfl.scored_items("behaviour"):
        assert q.score is not None
        if q.type == "matrix_item":
            assert q.choices is not None and q.choices.names[0] == "never"
        else:
            assert q.score.points, q.name
            assert q.choices is not None
            assert set(q.score.points_dict()) == set(q.choices.names), q.name


def test_cfl_attention_check_sits_with_the_attitude_matrix(cfl: Questionnaire) -> None:
    check = cfl.role("attention_check")
    assert check is not None and check.section == "attitude"
    assert check.score is None
    assert check.choices is not None and check.expected in check.choices.names
    assert "同意" in check.label["zh"] and "Agree" in check.label["en"]
    assert any(q.type == "matrix" for q in cfl.section("attitude").questions)


def test_cfl_names_all_eight_consumer_rights(cfl: Questionnaire) -> None:
    rights = cfl.choice_list("consumer_rights")
    assert [c.label["zh"] for c in rights] == list(EIGHT_RIGHTS)
    scenarios = [q for q in cfl.section("rights").questions if q.choices == rights]
    assert len(scenarios) >= 4
    for q in scenarios:
        assert q.score is not None and q.score.dimension == "knowledge"
        assert q.randomize
    answered = {q.score.correct[0] for q in scenarios if q.score is not None}
    assert len(answered) == len(scenarios), "each scenario tests a different right"


def test_cfl_complaint_channels(cfl: Questionnaire) -> None:
    first = cfl.question("r_complain_first")
    assert first.score is not None and first.score.correct == ("institution",)
    hotline = cfl.question("r_hotline")
    assert hotline.score is not None and hotline.choices is not None
    right = hotline.choices.choice(hotline.score.correct[0])
    assert right is not None and right.label["zh"] == "12363"


@pytest.mark.parametrize(
    "topic",
    [
        "通货膨胀",
        "复利",
        "风险",
        "分散",
        "存款保险",
        "征信",
        "信用卡",
        "保险",
        "假币",
        "非法集资",
        "诈骗",
    ],
)
def test_cfl_knowledge_covers_topic(cfl: Questionnaire, topic: str) -> None:
    texts = [
        q.label["zh"] + (q.explanation["zh"] if q.explanation else "")
        for q in cfl.scored_items("knowledge") + cfl.scored_items("skills")
    ]
    assert any(topic in t for t in texts), topic


def test_cfl_exposure_options_cover_the_five_types(cfl: Questionnaire) -> None:
    exposure = cfl.role("exposure")
    assert exposure is not None and exposure.type == "multiple_choice"
    assert exposure.choices is not None
    kinds = {c.exposure for c in exposure.choices}
    assert kinds == EXPOSURE_TYPES | {"other", "none"}
    none = [c.name for c in exposure.choices if c.exposure == "none"]
    assert exposure.exclusive == tuple(none)


def test_cfl_recency_asked_only_after_some_exposure(cfl: Questionnaire) -> None:
    recency = cfl.role("exposure_recency")
    assert recency is not None
    assert _condition(recency, "relevant", {"edu_exposure": {"bank", "online"}})
    assert _condition(recency, "relevant", {"edu_exposure": {"month"}})
    assert not _condition(recency, "relevant", {"edu_exposure": {"none"}})
    assert not _condition(recency, "relevant", {})
    assert recency.choices is not None
    months = [c.recency_months or 0 for c in recency.choices]
    assert all(m > 0 for m in months)
    assert months == sorted(months) and len(set(months)) == len(months)


def test_cfl_online_lending_only_for_mobile_payers(cfl: Questionnaire) -> None:
    borrow = cfl.question("b_online_borrow")
    assert _condition(borrow, "relevant", {"fin_products": {"mobile_pay", "debit_card"}})
    assert not _condition(borrow, "relevant", {"fin_products": {"debit_card", "credit_card"}})
    assert not _condition(borrow, "relevant", {"fin_products": {"none"}})
    check_apr = cfl.question("b_check_apr")
    assert _condition(check_apr, "relevant", {"b_online_borrow": "yes"})
    assert not _condition(check_apr, "relevant", {"b_online_borrow": "no"})
    assert not _condition(check_apr, "relevant", {})


def test_cfl_overdue_asked_only_of_borrowers(cfl: Questionnaire) -> None:
    overdue = cfl.question("b_overdue")
    assert _condition(overdue, "relevant", {"fin_products": {"credit_card"}})
    assert _condition(
        overdue, "relevant", {"fin_products": {"mobile_pay"}, "b_online_borrow": "yes"}
    )
    assert not _condition(overdue, "relevant", {"fin_products": {"debit_card", "mobile_pay"}})


def test_cfl_monthly_saving_not_above_income(cfl: Questionnaire) -> None:
    saving = cfl.question("monthly_saving")
    assert _condition(saving, "relevant", {"monthly_income": 6000})
    assert not _condition(saving, "relevant", {"monthly_income": "prefer_not"})
    values = {"monthly_income": 6000}
    assert _condition(saving, "constraint", values, self_value=1500)
    assert _condition(saving, "constraint", values, self_value=6000)
    assert not _condition(saving, "constraint", values, self_value=6001)
    assert saving.constraint_message is not None


def test_cfl_demographics(cfl: Questionnaire) -> None:
    roles = cfl.roles()
    expected = {"province", "urban", "sex", "age", "education", "income", "occupation"}
    assert expected <= set(roles)
    assert all(roles[r].section == "demographics" for r in expected)
    province = roles["province"]
    assert province.choices is not None and len(province.choices) == 31
    age = roles["age"]
    assert (age.type, age.min, age.max) == ("integer", 18, 100)
    assert "prefer_not" in roles["income"].special
    assert roles["income"].type == "single_choice"


# Arithmetic stated in the skills items.


def _monthly_rate(principal: float, payment: float, months: int) -> float:
    """The monthly rate r with principal = payment x (1 - (1 + r)^-months) / r (bisection)."""
    low, high = 1e-9, 1.0
    for _ in range(200):
        mid = (low + high) / 2
        value = payment * (1 - (1 + mid) ** -months) / mid
        low, high = (mid, high) if value > principal else (low, mid)
    return (low + high) / 2


def test_cfl_skills_arithmetic(cfl: Questionnaire) -> None:
    interest = cfl.question("s_loan_interest")
    assert interest.score is not None and interest.score.correct_value == 12 * 900 - 10000

    apr = cfl.question("s_loan_apr")
    nominal = 12 * _monthly_rate(10000, 900, 12)
    assert 0.14 < nominal < 0.15 and 0.15 < (1 + nominal / 12) ** 12 - 1 < 0.16
    assert apr.score is not None and apr.score.correct == ("r15",)

    plan = cfl.question("s_repay_plan")
    payment_a = 10000 * 0.01 / (1 - 1.01**-12)
    assert f"{payment_a:.2f}" in plan.label["zh"] and f"{payment_a:.2f}" in plan.label["en"]
    rate_b = _monthly_rate(10000, 10000 / 12 + 80, 12)
    assert payment_a * 12 - 10000 < 80 * 12 and rate_b > 0.01
    assert plan.score is not None and plan.score.correct == ("plan_a",)

    half_year = cfl.question("s_return_calc")
    assert half_year.score is not None and half_year.score.correct_value == 10000 * 0.03 / 2


# ---------------------------------------------------------------------------------------------
# oecd_infe: OECD/INFE toolkit scores as derived scores
# ---------------------------------------------------------------------------------------------


def derive(qn: Questionnaire, answers: Mapping[str, object]) -> dict[str, object]:
    """Every derived score for one respondent, computed in order with the evaluator."""
    values = dict(answers)
    for d in qn.derived:
        values[d.name] = parse(d.expression).evaluate(values)
    return {d.name: values[d.name] for d in qn.derived}


KNOWLEDGE_RIGHT: dict[str, object] = {
    "qk3": "less",
    "qk4": 0,
    "qk5": 102,
    "qk6": "more_than_110",
    "qk7_1": "is_true",
    "qk7_2": "is_true",
    "qk7_3": "is_true",
}
# A respondent who earns every behaviour point and has the most long-term attitude.
BEST: dict[str, object] = {
    **KNOWLEDGE_RIGHT,
    "qf1": "self",
    "qf2": {"plan_budget", "note_spending"},
    "qf3": {"deposit_account"},
    "qf11": "no",
    "qp3": {"savings_account"},
    "qp5": "several_companies",
    "qp7": {"comparison_site"},
    "qs2_3": "agree_completely",
    "qs2_5": "agree",
    "qs1_5": "agree",
    "qs1_8": "agree_completely",
    "qs1_1": "disagree_completely",
    "qs1_3": "disagree_completely",
    "qs3_11": "disagree_completely",
}
# Nothing earned: no behaviour point (borrowed to make ends meet), most short-term attitude.
WORST: dict[str, object] = {
    "qk3": "more",
    "qk4": 1,
    "qk5": 100,
    "qk6": "exactly_110",
    "qk7_1": "is_false",
    "qk7_2": "dont_know",
    "qk7_3": "is_false",
    "qf1": "someone_else",
    "qf2": {"none"},
    "qf3": {"none"},
    "qf11": "yes",
    "qf12": {"cut_spending", "online_loan"},
    "qp3": {"none"},
    "qs2_3": "disagree",
    "qs2_5": "neutral",
    "qs1_5": "disagree_completely",
    "qs1_8": "dont_know",
    "qs1_1": "agree_completely",
    "qs1_3": "agree_completely",
    "qs3_11": "agree_completely",
}


def test_oecd_uses_toolkit_codes(oecd: Questionnaire) -> None:
    codes = [
        "qk3", "qk4", "qk5", "qk6", "qk7_1", "qk7_2", "qk7_3",
        "qf1", "qf2", "qf3", "qf11", "qf12", "qp3", "qp5", "qp7",
        "qs1_1", "qs1_3", "qs1_5", "qs1_8", "qs2_3", "qs2_5", "qs3_11",
    ]  # fmt: skip
    for code in codes:
        oecd.question(code)


def test_oecd_skip_logic(oecd: Questionnaire) -> None:
    for name in ("qp5", "qp7"):
        q = oecd.question(name)
        assert _condition(q, "relevant", {"qp3": {"credit_card", "insurance"}})
        for none in ({"none"}, "dont_know", "prefer_not", None):
            assert not _condition(q, "relevant", {"qp3": none}), none
    qf12 = oecd.question("qf12")
    assert _condition(qf12, "relevant", {"qf11": "yes"})
    for other in ("no", "dont_know", None):
        assert not _condition(qf12, "relevant", {"qf11": other})


def test_oecd_weighting_roles(oecd: Questionnaire) -> None:
    assert {"province", "sex", "age", "urban"} <= set(oecd.roles())


def test_oecd_knowledge_all_right_is_7(oecd: Questionnaire) -> None:
    assert derive(oecd, KNOWLEDGE_RIGHT)["oecd_knowledge"] == 7


def test_oecd_knowledge_all_wrong_or_unknown_is_0(oecd: Questionnaire) -> None:
    assert derive(oecd, WORST)["oecd_knowledge"] == 0
    unknown = {name: "dont_know" for name in KNOWLEDGE_RIGHT}
    assert derive(oecd, unknown)["oecd_knowledge"] == 0
    assert derive(oecd, {})["oecd_knowledge"] == 0


def test_oecd_qk6_counts_only_with_qk5_right(oecd: Questionnaire) -> None:
    qk5_wrong = {**KNOWLEDGE_RIGHT, "qk5": 110}
    assert derive(oecd, qk5_wrong)["oecd_knowledge"] == 5  # neither QK5 nor QK6
    qk5_unknown = {**KNOWLEDGE_RIGHT, "qk5": "dont_know"}
    assert derive(oecd, qk5_unknown)["oecd_knowledge"] == 5
    qk6_wrong = {**KNOWLEDGE_RIGHT, "qk6": "exactly_110"}
    assert derive(oecd, qk6_wrong)["oecd_knowledge"] == 6


@pytest.mark.parametrize(
    ("name", "wrong"),
    [
        ("qk3", "depends"),
        ("qk3", "same"),
        ("qk4", 0.5),
        ("qk7_1", "is_false"),
        ("qk7_2", "prefer_not"),
        ("qk7_3", "is_false"),
    ],
)
def test_oecd_each_knowledge_answer_counts_once(
    oecd: Questionnaire, name: str, wrong: object
) -> None:
    assert derive(oecd, {**KNOWLEDGE_RIGHT, name: wrong})["oecd_knowledge"] == 6


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ("agree_completely", 1),
        ("agree", 2),
        ("neutral", 3),
        ("disagree", 4),
        ("disagree_completely", 5),
        ("dont_know", 3),
        ("prefer_not", 3),
        (None, 3),
    ],
)
def test_oecd_attitude_statement_values(oecd: Questionnaire, answer: object, value: int) -> None:
    for statement, component in (
        ("qs1_1", "fa_spend"),
        ("qs1_3", "fa_money"),
        ("qs3_11", "fa_today"),
    ):
        assert derive(oecd, {statement: answer})[component] == value


def test_oecd_attitude_missing_answer_counts_as_neutral(oecd: Questionnaire) -> None:
    one_missing = {"qs1_1": "disagree_completely", "qs1_3": "disagree_completely"}
    assert derive(oecd, one_missing)["oecd_attitude"] == pytest.approx((5 + 5 + 3) / 3)
    one_unknown = {**one_missing, "qs3_11": "dont_know"}
    assert derive(oecd, one_unknown)["oecd_attitude"] == pytest.approx(13 / 3)
    assert derive(oecd, {})["oecd_attitude"] == 3
    assert derive(oecd, BEST)["oecd_attitude"] == 5
    assert derive(oecd, WORST)["oecd_attitude"] == 1


@pytest.mark.parametrize(
    ("component", "answers", "points"),
    [
        # budgeting: personally or jointly responsible AND budgets
        ("fb_budget", {"qf1": "self", "qf2": {"plan_budget"}}, 1),
        ("fb_budget", {"qf1": "jointly", "qf2": {"auto_pay"}}, 1),
        ("fb_budget", {"qf1": "someone_else", "qf2": {"plan_budget"}}, 0),
        ("fb_budget", {"qf1": "self", "qf2": {"none"}}, 0),
        ("fb_budget", {"qf1": "self", "qf2": "dont_know"}, 0),
        ("fb_budget", {"qf1": "dont_know", "qf2": {"plan_budget"}}, 0),
        # active saving in any way
        ("fb_saving", {"qf3": {"cash_home"}}, 1),
        ("fb_saving", {"qf3": {"stocks_funds", "bonds"}}, 1),
        ("fb_saving", {"qf3": {"none"}}, 0),
        ("fb_saving", {"qf3": "prefer_not"}, 0),
        # the four agreement statements: completely agree or agree
        ("fb_afford", {"qs2_3": "agree_completely"}, 1),
        ("fb_afford", {"qs2_3": "agree"}, 1),
        ("fb_afford", {"qs2_3": "neutral"}, 0),
        ("fb_bills", {"qs2_5": "agree"}, 1),
        ("fb_bills", {"qs2_5": "disagree"}, 0),
        ("fb_watch", {"qs1_5": "agree_completely"}, 1),
        ("fb_watch", {"qs1_5": "dont_know"}, 0),
        ("fb_goals", {"qs1_8": "agree"}, 1),
        ("fb_goals", {"qs1_8": "disagree_completely"}, 0),
        # choosing products: independent information 2, shopping around or other sources 1
        ("fb_choose", {"qp5": "one_company", "qp7": {"independent_adviser"}}, 2),
        ("fb_choose", {"qp5": "no_comparison", "qp7": {"specialist_tables"}}, 2),
        ("fb_choose", {"qp5": "several_companies", "qp7": {"none"}}, 1),
        ("fb_choose", {"qp5": "no_alternatives", "qp7": {"none"}}, 1),
        ("fb_choose", {"qp5": "no_comparison", "qp7": {"provider_staff"}}, 1),
        ("fb_choose", {"qp5": "one_company", "qp7": {"none"}}, 0),
        ("fb_choose", {"qp3": {"none"}}, 0),
        # not borrowing to make ends meet
        ("fb_no_borrow", {"qf11": "no"}, 1),
        ("fb_no_borrow", {"qf11": "yes", "qf12": {"draw_savings", "cut_spending"}}, 1),
        ("fb_no_borrow", {"qf11": "yes", "qf12": {"family_gift"}}, 1),
        ("fb_no_borrow", {"qf11": "yes", "qf12": {"borrow_family"}}, 0),
        ("fb_no_borrow", {"qf11": "yes", "qf12": {"cut_spending", "credit_card"}}, 0),
        ("fb_no_borrow", {"qf11": "yes", "qf12": {"pay_late"}}, 0),
        ("fb_no_borrow", {"qf11": "yes", "qf12": {"online_loan"}}, 0),
    ],
)
def test_oecd_behaviour_components(
    oecd: Questionnaire, component: str, answers: dict[str, object], points: int
) -> None:
    scores = derive(oecd, answers)
    assert scores[component] == points
    others = {
        name: value
        for name, value in scores.items()
        if name.startswith("fb_") and name not in (component, "fb_no_borrow")
    }
    assert all(v == 0 for v in others.values()), others


def test_oecd_behaviour_range_and_target(oecd: Questionnaire) -> None:
    best, worst = derive(oecd, BEST), derive(oecd, WORST)
    assert best["oecd_behaviour"] == 9 and best["oecd_behaviour_target"] is True
    assert worst["oecd_behaviour"] == 0 and worst["oecd_behaviour_target"] is False
    six = {**BEST, "qp7": {"none"}, "qp5": "one_company", "qs1_8": "neutral"}
    assert derive(oecd, six)["oecd_behaviour"] == 6
    assert derive(oecd, six)["oecd_behaviour_target"] is True
    five = {**six, "qs1_5": "neutral"}
    assert derive(oecd, five)["oecd_behaviour"] == 5
    assert derive(oecd, five)["oecd_behaviour_target"] is False


def test_oecd_minimum_targets(oecd: Questionnaire) -> None:
    five = {**KNOWLEDGE_RIGHT, "qk3": "more", "qk4": 25}
    assert derive(oecd, five)["oecd_knowledge"] == 5
    assert derive(oecd, five)["oecd_knowledge_target"] is True
    four = {**five, "qk7_1": "is_false"}
    assert derive(oecd, four)["oecd_knowledge_target"] is False
    neutral = {"qs1_1": "neutral", "qs1_3": "neutral", "qs3_11": "neutral"}
    assert derive(oecd, neutral)["oecd_attitude"] == 3
    assert derive(oecd, neutral)["oecd_attitude_target"] is False  # more than 3
    above = {**neutral, "qs3_11": "disagree"}
    assert derive(oecd, above)["oecd_attitude_target"] is True


def test_oecd_total_1_to_21(oecd: Questionnaire) -> None:
    assert derive(oecd, BEST)["oecd_total"] == 21
    assert derive(oecd, BEST)["oecd_total_2022"] == 20
    assert derive(oecd, WORST)["oecd_total"] == 1
    assert derive(oecd, WORST)["oecd_total_2022"] == 0
    mixed = derive(oecd, {**BEST, "qk6": "cannot_tell", "qs2_5": "neutral", "qs1_1": "agree"})
    assert mixed["oecd_total"] == pytest.approx(6 + 8 + (2 + 5 + 5) / 3)


def _index(qn: Questionnaire, scores: Mapping[str, object]) -> float:
    """The overall index from dimensions that take their score from derived scores."""
    total = weights = 0.0
    for dim in qn.dimensions:
        assert dim.score is not None
        d = qn.derived_score(dim.score)
        assert d.min is not None and d.max is not None
        value = scores[dim.score]
        assert isinstance(value, float)
        total += dim.weight * 100 * (value - d.min) / (d.max - d.min)
        weights += dim.weight
    return total / weights


@pytest.mark.parametrize("answers", [BEST, WORST, {}, {**BEST, "qk5": 1, "qs1_3": "agree"}])
def test_oecd_dimensions_reproduce_the_toolkit_total(
    oecd: Questionnaire, answers: dict[str, object]
) -> None:
    assert {d.name: d.score for d in oecd.dimensions} == {
        "knowledge": "oecd_knowledge",
        "behaviour": "oecd_behaviour",
        "attitude": "oecd_attitude",
    }
    scores = derive(oecd, answers)
    total = scores["oecd_total"]
    assert isinstance(total, float)
    assert _index(oecd, scores) == pytest.approx((total - 1) / 20 * 100)


def _stored(qn: Questionnaire, rows: list[Mapping[str, object]]) -> pd.DataFrame:
    """Answers as the response store keeps them: codes, 0/1 option columns, special codes."""
    data: dict[str, list[object]] = {}
    for column in qn.columns():
        q = qn.question(column.question)
        values: list[object] = []
        for answers in rows:
            answer = answers.get(q.name)
            if answer is None:
                values.append(None)
            elif isinstance(answer, str) and answer in SPECIAL_CODES:
                values.append(SPECIAL_CODES[answer])
            elif column.option is not None:
                assert isinstance(answer, set)
                values.append(int(column.option in answer))
            elif q.choices is not None:
                values.append(q.option_codes()[str(answer)])
            else:
                values.append(answer)
        data[column.name] = values
    dtypes = {c.name: c.dtype for c in qn.columns()}
    return pd.DataFrame({name: pd.array(v, dtype=dtypes[name]) for name, v in data.items()})


def test_oecd_vectorised_scores_equal_scalar_scores(oecd: Questionnaire) -> None:
    rows: list[Mapping[str, object]] = [
        BEST,
        WORST,
        {},
        {**BEST, "qk5": "dont_know", "qf2": "prefer_not", "qs3_11": "prefer_not"},
        {
            **WORST,
            "qf11": "yes",
            "qf12": {"family_gift"},
            "qp3": {"credit_card"},
            "qp5": "one_company",
        },
    ]
    frame = _stored(oecd, rows)
    symbols = oecd.symbols()
    for d in oecd.derived:
        result = parse(d.expression).evaluate_frame(frame, symbols)
        frame[d.name] = result.astype("boolean" if d.type == "boolean" else "Float64")
    for i, answers in enumerate(rows):
        expected = derive(oecd, answers)
        for name, value in expected.items():
            got = frame[name].iloc[i]
            if isinstance(value, bool):
                assert bool(got) is value, (i, name)
            else:
                assert isinstance(value, float)
                assert math.isclose(float(got), value), (i, name, got, value)


def test_oecd_compound_interest_answer(oecd: Questionnaire) -> None:
    assert 100 * 1.02**5 > 110
    qk6 = oecd.question("qk6")
    assert qk6.score is not None and qk6.score.correct == ("more_than_110",)


def test_oecd_description_separates_confirmed_text_from_convention(oecd: Questionnaire) -> None:
    assert oecd.description is not None and oecd.index is not None
    assert oecd.index.note is not None
    for text in (oecd.description, oecd.index.note):
        en = text["en"].lower()
        assert "confirmed from oecd text" in en and "working convention" in en
        assert "OECD原文确认" in text["zh"] and "工作惯例" in text["zh"]


# ---------------------------------------------------------------------------------------------
# edu_quiz: pre/post knowledge quiz
# ---------------------------------------------------------------------------------------------


def test_quiz_has_10_to_15_knowledge_items_in_one_dimension(quiz: Questionnaire) -> None:
    assert [d.name for d in quiz.dimensions] == ["knowledge"]
    scored = quiz.scored_items()
    assert 10 <= len(scored) <= 15
    assert scored == quiz.scored_items("knowledge")


def test_quiz_participant_code_and_phase(quiz: Questionnaire) -> None:
    code = quiz.role("participant_code")
    assert code is not None and code.type == "text"
    for good in ("ZXL0815", "ab1234", "A1B2C3D4E5F6"):
        assert _condition(code, "constraint", {}, self_value=good), good
    for bad in ("ZX081", "A1B2C3D4E5F6G", ""):
        assert not _condition(code, "constraint", {}, self_value=bad), bad
    phase = quiz.role("phase")
    assert phase is not None and phase.choices is not None
    assert phase.choices.names == ("pre", "post")
    assert phase.section == code.section == "identification"


def test_quiz_compound_interest_doubling_time(quiz: Questionnaire) -> None:
    years = math.log(2) / math.log(1.06)
    assert round(years) == 12
    q = quiz.question("q_compound")
    assert q.score is not None and q.score.correct == ("y12",)
    simple = quiz.question("q_simple_interest")
    assert simple.score is not None and simple.score.correct_value == 5000 * 1.02
