"""Tests of analysis.scoring: item, dimension, derived and index scores, analysis columns,
index weights and the feedback page, on hand-made stored rows of the shipped questionnaires.

Reference values: ``tests/reference/scoring.R`` (R 4, psych 2.2.9, stats) scores 400 synthetic
stored responses of the questionnaire ``REFQ_YAML`` independently and computes PCA (``prcomp``,
weighted ``eigen(cov.wt(cor = TRUE))``) and one-factor maximum likelihood (``factanal``) of
the dimension scores; its outputs are committed beside it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.design import Design
from analysis.errors import AnalysisWarning, ScoringError
from analysis.estimation import estimate_mean
from analysis.scoring import (
    ANALYSIS_COLUMNS,
    IndexWeights,
    ScoredResponses,
    ScoringWarning,
    feedback,
    index_weights,
    score_responses,
)
from analysis.targets import census_targets
from analysis.weighting import calibrate
from questionnaires import Questionnaire, parse_questionnaire
from tests.analysis.samples import REFERENCE, REFQ_YAML, SCORING_REFERENCE, refq, shipped, stored

RTOL = 1e-10


@pytest.fixture(scope="module")
def cfl() -> Questionnaire:
    return shipped("cfl")


@pytest.fixture(scope="module")
def oecd() -> Questionnaire:
    return shipped("oecd_infe")


@pytest.fixture(scope="module")
def quiz() -> Questionnaire:
    return shipped("edu_quiz")


def value(scored: ScoredResponses, column: str, row: int = 0) -> Any:
    """One cell of the scored frame, with missing values as None."""
    v = scored.frame[column].iloc[row]
    if pd.isna(v):
        return None
    return v.item() if isinstance(v, np.generic) else v


def best(qn: Questionnaire) -> dict[str, object]:
    """The answer to every scored item that earns its highest score."""
    out: dict[str, object] = {}
    for q in qn.scored_items():
        s = q.score
        assert s is not None
        if q.type == "multiple_choice":
            out[q.name] = set(s.correct)
        elif s.correct_value is not None:
            out[q.name] = s.correct_value
        elif s.correct:
            out[q.name] = s.correct[0]
        elif s.points:
            out[q.name] = max(s.points, key=lambda kv: kv[1])[0]
        else:
            assert q.choices is not None
            out[q.name] = q.choices.names[0] if s.reverse else q.choices.names[-1]
    return out


def worst(qn: Questionnaire) -> dict[str, object]:
    """The answer to every scored item that earns 0."""
    out: dict[str, object] = {}
    for q in qn.scored_items():
        s = q.score
        assert s is not None and q.type != "multiple_choice"
        if s.correct_value is not None:
            out[q.name] = s.correct_value + s.tolerance + 5
        elif s.correct:
            assert q.choices is not None
            out[q.name] = next(n for n in q.choices.names if n not in s.correct)
        elif s.points:
            out[q.name] = min(s.points, key=lambda kv: kv[1])[0]
        else:
            assert q.choices is not None
            out[q.name] = q.choices.names[-1] if s.reverse else q.choices.names[0]
    return out


CFL_PERSON: dict[str, object] = {
    "fin_products": {"debit_card", "credit_card", "mobile_pay"},
    "b_online_borrow": "yes",
    "monthly_income": 6000,
    "monthly_saving": 1000,
    "att_check": "agree",
    "province": "bj",
    "urban": "urban",
    "sex": "female",
    "age": 30,
    "education_level": "bachelor",
    "household_income": "k80_150",
    "occupation": "enterprise",
    "edu_exposure": {"month", "bank"},
    "edu_recency": "m12",
}


# =========================================================================== cfl
def test_cfl_all_right_scores_100(cfl: Questionnaire) -> None:
    scored = score_responses(stored(cfl, [{**CFL_PERSON, **best(cfl)}]), cfl)
    for item in scored.items:
        assert value(scored, f"score__{item}") == 1.0, item
    for dim in ("knowledge", "attitude", "behaviour", "skills"):
        assert value(scored, f"dim__{dim}") == pytest.approx(100.0)
    assert value(scored, "n_items__knowledge") == 19
    assert value(scored, "n_items__behaviour") == 10
    assert value(scored, "literacy_index") == pytest.approx(100.0)


def test_cfl_all_wrong_scores_0(cfl: Questionnaire) -> None:
    scored = score_responses(stored(cfl, [{**CFL_PERSON, **worst(cfl)}]), cfl)
    for item in scored.items:
        assert value(scored, f"score__{item}") == 0.0, item
    for dim in ("knowledge", "attitude", "behaviour", "skills"):
        assert value(scored, f"dim__{dim}") == 0.0
    assert value(scored, "literacy_index") == 0.0


def test_cfl_all_dont_know_scores_0_and_counts_as_answered(cfl: Questionnaire) -> None:
    dont_know = {
        q.name: "dont_know"
        for q in cfl.scored_items()
        if q.score is not None and q.score.dimension in ("knowledge", "skills")
    }
    assert len(dont_know) == 26
    scored = score_responses(stored(cfl, [{**CFL_PERSON, **best(cfl), **dont_know}]), cfl)
    assert value(scored, "dim__knowledge") == 0.0
    assert value(scored, "dim__skills") == 0.0
    assert value(scored, "n_items__knowledge") == 19
    assert value(scored, "n_items__skills") == 7
    assert value(scored, "dim__attitude") == pytest.approx(100.0)
    assert value(scored, "literacy_index") == pytest.approx(50.0)


def test_cfl_skipped_section_leaves_its_dimension_and_the_index_empty(
    cfl: Questionnaire,
) -> None:
    answers = {**CFL_PERSON, **best(cfl)}
    for q in cfl.scored_items("knowledge"):
        del answers[q.name]
    scored = score_responses(stored(cfl, [answers]), cfl)
    assert value(scored, "n_items__knowledge") == 0
    assert value(scored, "dim__knowledge") is None
    assert value(scored, "score__k_inflation") is None
    assert value(scored, "dim__skills") == pytest.approx(100.0)
    assert value(scored, "literacy_index") is None


def test_cfl_hand_coded_rows(cfl: Questionnaire) -> None:
    """Stored codes written by hand: k_inflation 3 = 'less' (right), 1 = 'more' (wrong)."""
    base = {**CFL_PERSON, **best(cfl)}
    scored = score_responses(
        stored(cfl, [{**base, "k_inflation": 3}, {**base, "k_inflation": 1}]), cfl
    )
    assert list(scored.frame["score__k_inflation"]) == [1.0, 0.0]
    assert value(scored, "dim__knowledge", 1) == pytest.approx(100 * 18 / 19)
    assert value(scored, "literacy_index", 1) == pytest.approx(25 * 18 / 19 + 75)


@pytest.mark.parametrize(
    ("item", "code", "expected"),
    [
        # agree5 is listed strongly_disagree (1) ... strongly_agree (5)
        ("att_live_today", 1, 1.0),  # reverse: disagreeing with "live for today" is best
        ("att_live_today", 2, 0.75),
        ("att_live_today", 3, 0.5),
        ("att_live_today", 4, 0.25),
        ("att_live_today", 5, 0.0),
        ("att_plan_retire", 5, 1.0),
        ("att_plan_retire", 2, 0.25),
        ("att_plan_retire", 1, 0.0),
        # freq5 is listed never (1) ... always (5)
        ("beh_public_wifi", 1, 1.0),  # reverse
        ("beh_public_wifi", 4, 0.25),
        ("beh_record", 4, 0.75),
    ],
)
def test_cfl_scale_and_reverse_items(
    cfl: Questionnaire, item: str, code: int, expected: float
) -> None:
    scored = score_responses(stored(cfl, [{**CFL_PERSON, **best(cfl), item: code}]), cfl)
    assert value(scored, f"score__{item}") == pytest.approx(expected)


@pytest.mark.parametrize(
    ("item", "answer", "expected"),
    [
        ("b_budget", "detailed", 1.0),
        ("b_budget", "rough", 0.5),
        ("b_budget", "none", 0.0),
        ("b_emergency", "m1_3", 1 / 3),
        ("b_emergency", "m3_6", 2 / 3),
        ("b_emergency", "dont_know", 0.0),
        ("b_overdue", "once", 0.0),
        ("b_overdue", "prefer_not", 0.0),
        ("b_compare", "one_institution", 0.5),
        ("b_compare", None, None),
    ],
)
def test_cfl_points_items(
    cfl: Questionnaire, item: str, answer: object, expected: float | None
) -> None:
    scored = score_responses(stored(cfl, [{**CFL_PERSON, **best(cfl), item: answer}]), cfl)
    got = value(scored, f"score__{item}")
    assert got == (pytest.approx(expected) if expected is not None else None)
    assert value(scored, "n_items__behaviour") == (10 if expected is not None else 9)


@pytest.mark.parametrize(
    ("item", "answer", "expected"),
    [
        ("s_loan_interest", 800, 1.0),
        ("s_loan_interest", 799, 0.0),
        ("s_loan_interest", 8000, 0.0),
        ("s_loan_interest", "dont_know", 0.0),
        ("s_return_calc", 150, 1.0),
        ("s_return_calc", 148, 1.0),  # tolerance 2
        ("s_return_calc", 152, 1.0),
        ("s_return_calc", 147, 0.0),
        ("s_return_calc", 153, 0.0),
    ],
)
def test_cfl_number_items(cfl: Questionnaire, item: str, answer: object, expected: float) -> None:
    scored = score_responses(stored(cfl, [{**CFL_PERSON, **best(cfl), item: answer}]), cfl)
    assert value(scored, f"score__{item}") == expected


def test_cfl_dimension_is_the_mean_of_the_answered_items(cfl: Questionnaire) -> None:
    answers = {
        **CFL_PERSON,
        **best(cfl),
        "b_budget": "rough",  # 0.5
        "beh_record": "sometimes",  # 0.5
        "beh_check_statement": "often",  # 0.75
        "beh_read_terms": "never",  # 0
        "beh_public_wifi": "rarely",  # reverse: 0.75
        "b_save": "when_left",  # 0.5
        "b_emergency": "m1_3",  # 1/3
        "b_compare": None,  # skipped
        "b_check_apr": None,  # skipped
        "b_overdue": "never",  # 1
    }
    scored = score_responses(stored(cfl, [answers]), cfl)
    items = [0.5, 0.5, 0.75, 0.0, 0.75, 0.5, 1 / 3, 1.0]
    assert value(scored, "n_items__behaviour") == 8
    assert value(scored, "dim__behaviour") == pytest.approx(100 * sum(items) / 8, rel=RTOL)
    expected_index = 0.25 * (100 + 100 + 100 * sum(items) / 8 + 100)
    assert value(scored, "literacy_index") == pytest.approx(expected_index, rel=RTOL)


def test_cfl_index_weights_override(cfl: Questionnaire) -> None:
    answers = {**CFL_PERSON, **worst(cfl), **best(cfl)}
    answers.update({q.name: "dont_know" for q in cfl.scored_items("knowledge")})
    frame = stored(cfl, [answers])
    scored = score_responses(frame, cfl, index_weights={"knowledge": 3, "skills": 1})
    assert dict(scored.weights) == {
        "knowledge": 0.75,
        "attitude": 0.0,
        "behaviour": 0.0,
        "skills": 0.25,
    }
    assert value(scored, "literacy_index") == pytest.approx(25.0)
    assert dict(score_responses(frame, cfl).weights) == dict.fromkeys(
        ("knowledge", "attitude", "behaviour", "skills"), 0.25
    )


def test_scored_frame_layout(cfl: Questionnaire) -> None:
    frame = stored(cfl, [{**CFL_PERSON, **best(cfl)}] * 3)
    frame.index = pd.Index([10, 20, 30])
    frame["submitted_at"] = pd.Timestamp("2026-03-01", tz="UTC")
    scored = score_responses(frame, cfl)
    out = scored.frame
    assert list(out.index) == [10, 20, 30]
    assert list(out.columns[:4]) == [
        "response_id",
        "questionnaire_id",
        "questionnaire_version",
        "submitted_at",
    ]
    assert scored.items == tuple(q.name for q in cfl.scored_items())
    assert [c for c in out.columns if c.startswith("score__")] == [
        f"score__{i}" for i in scored.items
    ]
    assert list(out.columns[4 + len(scored.items) : 4 + len(scored.items) + 9]) == [
        "n_items__knowledge",
        "dim__knowledge",
        "n_items__attitude",
        "dim__attitude",
        "n_items__behaviour",
        "dim__behaviour",
        "n_items__skills",
        "dim__skills",
        "literacy_index",
    ]
    assert scored.analysis_columns == tuple(
        c for c in ANALYSIS_COLUMNS if c not in ("participant_code", "phase")
    )
    assert list(out.columns[-len(scored.analysis_columns) :]) == list(scored.analysis_columns)
    assert str(out["score__k_inflation"].dtype) == "Float64"
    assert str(out["dim__knowledge"].dtype) == "Float64"
    assert out["n_items__knowledge"].dtype == np.int64
    assert scored.item_column("k_inflation") == "score__k_inflation"
    assert scored.dimension_column("skills") == "dim__skills"
    with pytest.raises(KeyError, match="'att_check' is not a scored item"):
        scored.item_column("att_check")
    with pytest.raises(KeyError, match="'money' is not a dimension"):
        scored.dimension_column("money")
    assert scored.n == 3
    lean = score_responses(frame, cfl, item_scores=False)
    assert not [c for c in lean.frame.columns if c.startswith("score__")]
    pd.testing.assert_series_equal(lean.frame["literacy_index"], out["literacy_index"])


# =========================================================================== OECD/INFE
KNOWLEDGE_RIGHT: dict[str, object] = {
    "qk3": "less",
    "qk4": 0.0,
    "qk5": 102.0,
    "qk6": "more_than_110",
    "qk7_1": "is_true",
    "qk7_2": "is_true",
    "qk7_3": "is_true",
}
KNOWLEDGE_WRONG: dict[str, object] = {
    "qk3": "depends",
    "qk4": 25.0,
    "qk5": 100.0,
    "qk6": "exactly_110",
    "qk7_1": "is_false",
    "qk7_2": "is_false",
    "qk7_3": "is_false",
}
OECD_PERSON: dict[str, object] = {"qd1": "male", "qd7": 45, "province": "sh", "urban": "urban"}
BEHAVIOUR_BEST: dict[str, object] = {
    "qf1": "self",
    "qf2": {"plan_budget"},
    "qf3": {"deposit_account"},
    "qf11": "no",
    "qp3": {"savings_account"},
    "qp5": "several_companies",
    "qp7": {"comparison_site"},
    "qs2_3": "agree_completely",
    "qs2_5": "agree",
    "qs1_5": "agree",
    "qs1_8": "agree_completely",
}
BEHAVIOUR_NONE: dict[str, object] = {
    "qf1": "someone_else",
    "qf2": {"none"},
    "qf3": {"none"},
    "qf11": "yes",
    "qf12": {"borrow_family"},
    "qp3": {"none"},
    "qs2_3": "neutral",
    "qs2_5": "disagree",
    "qs1_5": "disagree_completely",
    "qs1_8": "dont_know",
}
ATTITUDE_BEST = {"qs1_1": "disagree_completely", "qs1_3": "disagree_completely",
                 "qs3_11": "disagree_completely"}
ATTITUDE_WORST = {"qs1_1": "agree_completely", "qs1_3": "agree_completely",
                  "qs3_11": "agree_completely"}


def oecd_scores(oecd: Questionnaire, *rows: Mapping[str, object]) -> ScoredResponses:
    return score_responses(stored(oecd, [{**OECD_PERSON, **r} for r in rows]), oecd)


def test_oecd_best_and_worst_totals(oecd: Questionnaire) -> None:
    scored = oecd_scores(
        oecd,
        {**KNOWLEDGE_RIGHT, **BEHAVIOUR_BEST, **ATTITUDE_BEST},
        {**KNOWLEDGE_WRONG, **BEHAVIOUR_NONE, **ATTITUDE_WORST},
    )
    f = scored.frame
    assert list(f["oecd_knowledge"]) == [7.0, 0.0]
    assert list(f["oecd_behaviour"]) == [9.0, 0.0]
    assert list(f["oecd_attitude"]) == [5.0, 1.0]
    assert list(f["oecd_total"]) == [21.0, 1.0]
    assert list(f["oecd_total_2022"]) == [20.0, 0.0]
    assert list(f["oecd_knowledge_target"]) == [True, False]
    assert list(f["oecd_attitude_target"]) == [True, False]
    assert list(f["oecd_behaviour_target"]) == [True, False]
    assert str(f["oecd_total"].dtype) == "Float64"
    assert str(f["oecd_knowledge_target"].dtype) == "boolean"
    assert list(f["literacy_index"]) == [100.0, 0.0]
    for dim in ("knowledge", "behaviour", "attitude"):
        assert list(f[f"dim__{dim}"]) == [100.0, 0.0]


@pytest.mark.parametrize("item", sorted(KNOWLEDGE_RIGHT))
def test_oecd_knowledge_each_item_counts_once(oecd: Questionnaire, item: str) -> None:
    scored = oecd_scores(oecd, {**KNOWLEDGE_RIGHT, item: KNOWLEDGE_WRONG[item]})
    expected = 5.0 if item == "qk5" else 6.0  # a wrong QK5 also loses QK6
    assert value(scored, "oecd_knowledge") == expected
    assert value(scored, f"score__{item}") == 0.0
    assert value(scored, "oecd_knowledge_target") is True
    assert value(scored, "dim__knowledge") == pytest.approx(100 * expected / 7, rel=RTOL)


def test_oecd_qk6_counts_only_when_qk5_is_right(oecd: Questionnaire) -> None:
    scored = oecd_scores(
        oecd,
        {**KNOWLEDGE_RIGHT, "qk5": 101.5},
        {**KNOWLEDGE_RIGHT, "qk5": "dont_know"},
        {**KNOWLEDGE_RIGHT, "qk5": None},
        {**KNOWLEDGE_RIGHT, "qk6": "cannot_tell"},
    )
    assert list(scored.frame["oecd_knowledge"]) == [5.0, 5.0, 5.0, 6.0]
    # the item score of QK6 itself is right or wrong on its own
    assert list(scored.frame["score__qk6"]) == [1.0, 1.0, 1.0, 0.0]
    assert value(scored, "score__qk5", 2) is None
    assert value(scored, "n_items__knowledge", 2) == 6


@pytest.mark.parametrize("special", ["dont_know", "prefer_not"])
def test_oecd_knowledge_specials_and_skips_score_0(oecd: Questionnaire, special: str) -> None:
    scored = oecd_scores(oecd, dict.fromkeys(KNOWLEDGE_RIGHT, special), {})
    assert list(scored.frame["oecd_knowledge"]) == [0.0, 0.0]
    assert value(scored, "n_items__knowledge", 0) == 7
    assert value(scored, "n_items__knowledge", 1) == 0
    assert value(scored, "oecd_knowledge_target", 1) is False


@pytest.mark.parametrize(
    ("answers", "component", "expected"),
    [
        ({"qf1": "self", "qf2": {"note_bills"}}, "fb_budget", 1),
        ({"qf1": "jointly", "qf2": {"auto_pay", "use_app"}}, "fb_budget", 1),
        ({"qf1": "someone_else", "qf2": {"plan_budget"}}, "fb_budget", 0),
        ({"qf1": "self", "qf2": {"none"}}, "fb_budget", 0),
        ({"qf1": "self", "qf2": "prefer_not"}, "fb_budget", 0),
        ({"qf1": "dont_know", "qf2": {"plan_budget"}}, "fb_budget", 0),
        ({"qf3": {"cash_home"}}, "fb_saving", 1),
        ({"qf3": {"crypto", "other"}}, "fb_saving", 1),
        ({"qf3": {"none"}}, "fb_saving", 0),
        ({"qf3": "dont_know"}, "fb_saving", 0),
        ({"qs2_3": "agree"}, "fb_afford", 1),
        ({"qs2_3": "neutral"}, "fb_afford", 0),
        ({"qs2_5": "agree_completely"}, "fb_bills", 1),
        ({"qs2_5": "prefer_not"}, "fb_bills", 0),
        ({"qs1_5": "agree"}, "fb_watch", 1),
        ({"qs1_5": "disagree"}, "fb_watch", 0),
        ({"qs1_8": "agree"}, "fb_goals", 1),
        ({}, "fb_goals", 0),
        ({"qp3": {"stocks"}, "qp7": {"independent_adviser", "advert"}}, "fb_choose", 2),
        ({"qp3": {"stocks"}, "qp5": "one_company", "qp7": {"advert"}}, "fb_choose", 1),
        ({"qp3": {"stocks"}, "qp5": "several_companies", "qp7": {"none"}}, "fb_choose", 1),
        ({"qp3": {"stocks"}, "qp5": "no_alternatives", "qp7": {"none"}}, "fb_choose", 1),
        ({"qp3": {"stocks"}, "qp5": "no_comparison", "qp7": {"none"}}, "fb_choose", 0),
        ({"qp3": {"none"}}, "fb_choose", 0),
        ({"qf11": "no"}, "fb_no_borrow", 1),
        ({"qf11": "yes", "qf12": {"draw_savings", "family_gift"}}, "fb_no_borrow", 1),
        ({"qf11": "yes", "qf12": {"cut_spending", "pay_late"}}, "fb_no_borrow", 0),
        ({"qf11": "yes", "qf12": {"online_loan"}}, "fb_no_borrow", 0),
        ({"qf11": "dont_know"}, "fb_no_borrow", 1),
    ],
)
def test_oecd_behaviour_components(
    oecd: Questionnaire, answers: dict[str, object], component: str, expected: int
) -> None:
    scored = oecd_scores(oecd, answers)
    assert value(scored, component) == expected


@pytest.mark.parametrize(
    ("answer", "points"),
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
def test_oecd_attitude_statements(oecd: Questionnaire, answer: object, points: int) -> None:
    scored = oecd_scores(oecd, {"qs1_1": answer, "qs1_3": "agree", "qs3_11": "disagree"})
    assert value(scored, "fa_spend") == points
    assert value(scored, "oecd_attitude") == pytest.approx((points + 2 + 4) / 3, rel=RTOL)
    assert value(scored, "oecd_attitude_target") is ((points + 6) / 3 > 3)
    assert value(scored, "dim__attitude") == pytest.approx(
        100 * ((points + 6) / 3 - 1) / 4, rel=RTOL
    )


def test_oecd_minimum_targets_at_their_thresholds(oecd: Questionnaire) -> None:
    four = {**KNOWLEDGE_RIGHT, "qk3": "more", "qk4": 3.0, "qk7_1": "dont_know"}
    scored = oecd_scores(
        oecd,
        {**KNOWLEDGE_RIGHT, "qk3": "more", "qk4": 3.0},  # 5 of 7
        four,  # 4 of 7
        {"qs1_1": "neutral", "qs1_3": "neutral", "qs3_11": "neutral"},  # attitude exactly 3
        {"qs1_1": "disagree", "qs1_3": "neutral", "qs3_11": "neutral"},  # 3.33
        {**BEHAVIOUR_BEST, "qs2_3": "neutral", "qs2_5": "neutral", "qs1_5": "neutral"},  # 6
        {**BEHAVIOUR_BEST, "qs2_3": "neutral", "qs2_5": "neutral", "qs1_5": "neutral",
         "qs1_8": "neutral"},  # 5
    )
    f = scored.frame
    assert list(f["oecd_knowledge"].iloc[:2]) == [5.0, 4.0]
    assert list(f["oecd_knowledge_target"].iloc[:2]) == [True, False]
    assert list(f["oecd_attitude_target"].iloc[2:4]) == [False, True]
    assert list(f["oecd_behaviour"].iloc[4:]) == [6.0, 5.0]
    assert list(f["oecd_behaviour_target"].iloc[4:]) == [True, False]


def test_oecd_index_is_the_rescaled_toolkit_total(oecd: Questionnaire) -> None:
    rows = [
        {**KNOWLEDGE_RIGHT, **BEHAVIOUR_BEST, **ATTITUDE_BEST},
        {**KNOWLEDGE_RIGHT, "qk6": "cannot_tell", "qs2_5": "neutral", "qs1_1": "agree"},
        {},
        {**KNOWLEDGE_WRONG, **BEHAVIOUR_BEST, "qs1_3": "disagree"},
    ]
    f = oecd_scores(oecd, *rows).frame
    total = f["oecd_total"].to_numpy(dtype=float)
    np.testing.assert_allclose(f["literacy_index"].to_numpy(dtype=float), (total - 1) / 20 * 100)
    np.testing.assert_allclose(
        f["dim__behaviour"].to_numpy(dtype=float),
        f["oecd_behaviour"].to_numpy(dtype=float) / 9 * 100,
    )
    assert list(f["n_items__behaviour"]) == [0, 0, 0, 0]  # no item is scored into behaviour


def test_oecd_decimal_answers_must_be_exact(oecd: Questionnaire) -> None:
    scored = oecd_scores(
        oecd, {"qk5": 102.0}, {"qk5": 102.5}, {"qk5": 101.99}, {"qk4": 0.0}, {"qk4": 0.01}
    )
    assert list(scored.frame["score__qk5"].iloc[:3]) == [1.0, 0.0, 0.0]
    assert list(scored.frame["score__qk4"].iloc[3:]) == [1.0, 0.0]


# =========================================================================== edu_quiz
def test_quiz_scores_and_linking_columns(quiz: Questionnaire) -> None:
    rows = [
        {"participant_code": " zxl0815 ", "phase": "pre", **worst(quiz)},
        {"participant_code": "ZXL0815", "phase": "post", **best(quiz)},
        {"participant_code": "", "phase": "post", **best(quiz), "q_hotline": "dont_know"},
    ]
    scored = score_responses(stored(quiz, rows), quiz)
    f = scored.frame
    assert scored.index == "quiz_score"
    assert list(f["quiz_score"].iloc[:2]) == [0.0, 100.0]
    assert f["quiz_score"].iloc[2] == pytest.approx(100 * 12 / 13)
    assert list(f["participant_code"].iloc[:2]) == ["ZXL0815", "ZXL0815"]
    assert pd.isna(f["participant_code"].iloc[2])
    assert list(f["phase"]) == ["pre", "post", "post"]
    assert list(f["phase"].cat.categories) == ["pre", "post"]
    assert scored.analysis_columns == ("participant_code", "phase")


# =========================================================================== analysis columns
@pytest.mark.parametrize(
    ("province", "code", "zh", "en", "region"),
    [
        ("bj", 11, "北京市", "Beijing", "East"),
        ("hl", 23, "黑龙江省", "Heilongjiang", "Northeast"),
        ("hb", 42, "湖北省", "Hubei", "Central"),
        ("sc", 51, "四川省", "Sichuan", "West"),
        ("xj", 65, "新疆维吾尔自治区", "Xinjiang", "West"),
    ],
)
def test_province_names_and_region(
    cfl: Questionnaire, province: str, code: int, zh: str, en: str, region: str
) -> None:
    scored = score_responses(stored(cfl, [{**CFL_PERSON, "province": province}]), cfl)
    assert value(scored, "province") == code
    assert value(scored, "province_name_zh") == zh
    assert value(scored, "province_name_en") == en
    assert value(scored, "region") == region
    assert str(scored.frame["province"].dtype) == "Int64"
    assert list(scored.frame["region"].cat.categories) == ["East", "Central", "West", "Northeast"]


@pytest.mark.parametrize(
    ("age", "band", "group"),
    [
        (18, "15-59", "18-24"),
        (24, "15-59", "18-24"),
        (25, "15-59", "25-34"),
        (54, "15-59", "45-54"),
        (59, "15-59", "55-64"),
        (60, "60+", "55-64"),
        (64, "60+", "55-64"),
        (65, "60+", "65+"),
        (100, "60+", "65+"),
    ],
)
def test_age_band_and_group(cfl: Questionnaire, age: int, band: str, group: str) -> None:
    scored = score_responses(stored(cfl, [{**CFL_PERSON, "age": age}]), cfl)
    assert value(scored, "age") == age
    assert value(scored, "age_band") == band
    assert value(scored, "age_group") == group


def test_age_groups_option(cfl: Questionnaire) -> None:
    frame = stored(cfl, [{**CFL_PERSON, "age": a} for a in (18, 30, 45, 70)])
    scored = score_responses(frame, cfl, age_groups=(20, 40, 60))
    assert list(scored.frame["age_group"]) == ["<20", "20-39", "40-59", "60+"]
    assert list(scored.frame["age_group"].cat.categories) == ["<20", "20-39", "40-59", "60+"]
    for bad in ((), (30, 20), (18.5, 30), "18"):
        with pytest.raises(ScoringError, match="age_groups must be increasing whole numbers"):
            score_responses(frame, cfl, age_groups=bad)  # type: ignore[arg-type]


def test_demographic_columns(cfl: Questionnaire) -> None:
    rows = [
        CFL_PERSON,
        {**CFL_PERSON, "sex": "male", "urban": "rural", "household_income": "prefer_not",
         "education_level": "primary_or_less", "occupation": "farmer"},
        {**CFL_PERSON, "household_income": "prefer_not"},
    ]
    scored = score_responses(stored(cfl, rows), cfl)
    f = scored.frame
    assert list(f["sex"]) == ["female", "male", "female"]
    assert list(f["sex"].cat.categories) == ["male", "female"]
    assert list(f["urban"]) == ["urban", "rural", "urban"]
    assert list(f["education"].iloc[:2]) == ["bachelor", "primary_or_less"]
    assert list(f["occupation"].iloc[:2]) == ["enterprise", "farmer"]
    assert f["income"].iloc[0] == "k80_150"
    assert f["income"].isna().tolist() == [False, True, True]
    assert scored.special_answers == {"income": {"prefer_not": 2}}
    assert scored.special_answers_frame().to_dict("records") == [
        {"role": "income", "answer": "prefer_not", "n": 2}
    ]


@pytest.mark.parametrize(
    ("exposure", "recency", "expected"),
    [
        ({"month", "bank"}, "m12", {"any": 1, "month": 1, "bank": 1, "recency": 12}),
        ({"online"}, "m3", {"any": 1, "online": 1, "recency": 3}),
        ({"consumer_day", "school", "other"}, "m60",
         {"any": 1, "consumer_day": 1, "school": 1, "other": 1, "recency": 60}),
        ({"none"}, None, {"any": 0}),
        ({"school"}, "dont_know", {"any": 1, "school": 1}),
        (None, None, None),
    ],
)
def test_exposure_columns(
    cfl: Questionnaire,
    exposure: set[str] | None,
    recency: str | None,
    expected: dict[str, int] | None,
) -> None:
    scored = score_responses(
        stored(cfl, [{**CFL_PERSON, "edu_exposure": exposure, "edu_recency": recency}]), cfl
    )
    kinds = ("month", "consumer_day", "school", "bank", "online", "other")
    if expected is None:
        for column in ("exposure_any", *(f"exposure_{k}" for k in kinds)):
            assert value(scored, column) is None
    else:
        assert value(scored, "exposure_any") == expected["any"]
        for kind in kinds:
            assert value(scored, f"exposure_{kind}") == expected.get(kind, 0), kind
    assert value(scored, "exposure_recency_months") == (expected or {}).get("recency")
    assert str(scored.frame["exposure_any"].dtype) == "Int8"
    if recency == "dont_know":
        assert scored.special_answers == {"exposure_recency": {"dont_know": 1}}


OTHER_ROLES_YAML = """\
id: roles_demo
version: "1.0"
title: {zh: 角色, en: Roles}
languages: [zh, en]
dimensions:
  - {name: knowledge, label: {zh: 知识, en: Knowledge}}
index: {name: literacy_index, label: {zh: 指数, en: Index}}
sections:
  - name: s
    title: {zh: 题, en: Questions}
    questions:
      - name: age_band_q
        type: single_choice
        role: age
        label: {zh: 年龄段, en: Age band}
        special: [prefer_not]
        choices:
          - {name: a18_29, label: {zh: 18-29, en: 18-29}}
          - {name: a30_59, label: {zh: 30-59, en: 30-59}}
          - {name: a55_64, label: {zh: 55-64, en: 55-64}}
          - {name: a60_plus, label: {zh: 60+, en: 60+}}
      - name: pay
        type: integer
        role: income
        label: {zh: 收入, en: Income}
        min: 0
        max: 1000000
        special: [prefer_not]
      - name: k1
        type: single_choice
        label: {zh: 题1, en: Q1}
        choices:
          - {name: x, label: {zh: 甲, en: X}}
          - {name: y, label: {zh: 乙, en: Y}}
        score: {dimension: knowledge, correct: [x]}
"""


def test_roles_age_bands_numeric_income_and_store_province() -> None:
    qn = parse_questionnaire(OTHER_ROLES_YAML, source="roles.yaml")
    frame = stored(
        qn,
        [
            {"age_band_q": "a18_29", "pay": 5000, "k1": "x"},
            {"age_band_q": "a60_plus", "pay": "prefer_not", "k1": "y"},
            {"age_band_q": "a55_64", "pay": 0, "k1": "x"},
            {"age_band_q": "prefer_not", "k1": "x"},
        ],
        province=pd.array([44, 11, None, 65], dtype="Int64"),
    )
    with pytest.warns(ScoringWarning, match="options a55_64 do not name an age range"):
        scored = score_responses(frame, qn)
    f = scored.frame
    assert f["age"].isna().all()
    assert f["age_group"].tolist()[:3] == ["a18_29", "a60_plus", "a55_64"]
    assert f["age_band"].tolist()[:2] == ["15-59", "60+"]
    assert f["age_band"].isna().tolist() == [False, False, True, True]
    assert f["income"].tolist()[0] == 5000.0
    assert f["income"].isna().tolist() == [False, True, False, True]
    assert f["province"].tolist()[:2] == [44, 11]
    assert f["province_name_en"].tolist()[:2] == ["Guangdong", "Beijing"]
    assert f["region"].isna().tolist() == [False, False, True, False]
    assert scored.special_answers == {"age": {"prefer_not": 1}, "income": {"prefer_not": 1}}


def test_store_province_that_is_not_a_province_is_an_error() -> None:
    qn = parse_questionnaire(OTHER_ROLES_YAML, source="roles.yaml")
    frame = stored(qn, [{"k1": "x"}, {"k1": "y"}], province=pd.array([44, 81], dtype="Int64"))
    with (
        pytest.warns(ScoringWarning),
        pytest.raises(ScoringError, match=r"column 'province' has codes that are not mainland "
                      r"provinces: 81; province codes are the GB/T 2260 codes"),
    ):
        score_responses(frame, qn)


def test_scored_frame_feeds_weighting_and_estimation(cfl: Questionnaire) -> None:
    """The analysis columns are what census_targets, calibrate and the design expect."""
    rng = np.random.default_rng(7)
    rows = []
    for region_province in ("bj", "hb", "sc", "ln"):
        for sex in ("male", "female"):
            for age in (30, 70):
                for urban in ("urban", "rural"):
                    for _ in range(int(rng.integers(1, 4))):
                        rows.append({**CFL_PERSON, **best(cfl), "province": region_province,
                                     "sex": sex, "age": age, "urban": urban})
    scored = score_responses(stored(cfl, rows), cfl)
    targets = census_targets(margins=("region", "sex", "age_band", "urban"))
    result = calibrate(scored.frame, targets, method="rake")
    assert result.converged
    totals = pd.Series(result.weights).groupby(scored.frame["sex"].to_numpy()).sum()
    assert totals["male"] == pytest.approx(targets.margins["sex"]["male"], rel=1e-6)
    design = Design(
        scored.frame.assign(w=result.weights), weights="w", calibration=result.model
    )
    by_region = estimate_mean(design, "literacy_index", by="region").to_frame()
    assert by_region["region"].tolist() == ["East", "Central", "West", "Northeast"]
    assert by_region["estimate"].to_numpy() == pytest.approx(100.0)


# =========================================================================== errors
def test_error_lists_every_problem(cfl: Questionnaire) -> None:
    frame = stored(cfl, [{**CFL_PERSON, **best(cfl)}])
    frame = frame.drop(columns=["k_compound", "edu_exposure__bank"])
    frame["k_inflation"] = pd.array([7], dtype="Int64")
    frame["sex"] = pd.array(["female"], dtype="str")
    frame["questionnaire_version"] = pd.array(["2025.1"], dtype="str")
    with pytest.raises(ScoringError) as info:
        score_responses(frame, cfl)
    message = str(info.value)
    assert message.splitlines()[0] == "Cannot score the responses with 'cfl' version '2026.1':"
    assert (
        "- column 'questionnaire_version' has '2025.1' in 1 row(s), but the questionnaire is "
        "'cfl' version '2026.1'; score each questionnaire version separately (select its rows "
        "first)." in message
    )
    assert (
        "- column 'k_inflation' has 1 code(s) that are not options of question 'k_inflation' "
        "(7); its codes are 1, 2, 3, -1. Were these responses given to another questionnaire "
        "version?" in message
    )
    assert (
        "- column 'k_compound' (answer to 'k_compound') is missing: the responses do not match "
        "the questionnaire; score each questionnaire version with its own definition."
        in message
    )
    assert "- column 'edu_exposure__bank' (option of 'edu_exposure') is missing" in message
    assert (
        "- column 'sex' must hold integer codes, but it has dtype str; read the responses with "
        "the store's schema (codes as Int64)." in message
    )


@pytest.mark.parametrize("dtype", ["Int8", "Int16", "Int64"])
@pytest.mark.parametrize(
    ("item", "code", "allowed"),
    [("k_inflation", 7, "1, 2, 3, -1"), ("k_inflation", -100, "1, 2, 3, -1")],
)
def test_codes_that_are_no_option_are_named_at_every_width(
    cfl: Questionnaire, dtype: str, item: str, code: int, allowed: str
) -> None:
    """Narrow (int8 table) and wide (shifted lookup) codes report the same problem."""
    frame = stored(cfl, [{**CFL_PERSON, **best(cfl)}, {**CFL_PERSON, **best(cfl)}])
    frame[item] = pd.array([code, None], dtype=dtype)
    with pytest.raises(ScoringError) as info:
        score_responses(frame, cfl, item_scores=False)
    assert (
        f"- column '{item}' has 1 code(s) that are not options of question '{item}' "
        f"({code}); its codes are {allowed}." in str(info.value)
    )


def test_error_multiple_choice_values(cfl: Questionnaire) -> None:
    frame = stored(cfl, [{**CFL_PERSON, **best(cfl)}])
    frame["edu_exposure__month"] = pd.array([2], dtype="Int64")
    with pytest.raises(
        ScoringError,
        match=r"column 'edu_exposure__month' must be 0 or 1 \(or no special code for a special "
        r"answer\), but has 1 other value\(s\) such as 2\.",
    ):
        score_responses(frame, cfl)


def test_error_non_integer_codes(cfl: Questionnaire) -> None:
    frame = stored(cfl, [{**CFL_PERSON, **best(cfl)}])
    frame["k_inflation"] = [2.5]
    with pytest.raises(
        ScoringError,
        match=r"column 'k_inflation' must hold integer codes, but has 1 non-integer value\(s\) "
        r"such as 2\.5",
    ):
        score_responses(frame, cfl)
    frame["k_inflation"] = [3.0]  # whole floats are codes
    assert value(score_responses(frame, cfl), "score__k_inflation") == 1.0


def test_error_arguments(cfl: Questionnaire) -> None:
    frame = stored(cfl, [{**CFL_PERSON, **best(cfl)}])
    with pytest.raises(ScoringError, match="responses must be a pandas DataFrame"):
        score_responses(frame.to_dict(), cfl)  # type: ignore[arg-type]
    with pytest.raises(ScoringError, match="questionnaire must be a loaded Questionnaire"):
        score_responses(frame, "cfl")  # type: ignore[arg-type]
    with pytest.raises(
        ScoringError,
        match=r"index_weights names 'money', which is not a dimension of 'cfl'; use the "
        r"dimension names knowledge, attitude, behaviour, skills\.",
    ):
        score_responses(frame, cfl, index_weights={"money": 1})
    with pytest.raises(ScoringError, match=r"index weight of dimension 'skills' is -1\.0"):
        score_responses(frame, cfl, index_weights={"skills": -1})
    with pytest.raises(ScoringError, match="the index weights of 'cfl' are all 0"):
        score_responses(frame, cfl, index_weights={"skills": 0})
    with pytest.raises(ScoringError, match="must be a number, got 'a'"):
        score_responses(frame, cfl, index_weights={"skills": "a"})  # type: ignore[dict-item]
    with pytest.raises(ScoringError, match="index_weights must be a mapping"):
        score_responses(frame, cfl, index_weights=[0.25] * 4)  # type: ignore[arg-type]


CLASH_YAML = """\
id: clash
version: "1.0"
title: {zh: 冲突, en: Clash}
languages: [zh, en]
dimensions:
  - {name: knowledge, label: {zh: 知识, en: Knowledge}, score: region}
sections:
  - name: s
    title: {zh: 题, en: Questions}
    questions:
      - {name: province, type: single_choice, role: province, choices: provinces,
         label: {zh: 省, en: Province}}
      - {name: x, type: integer, label: {zh: 数, en: Number}, min: 0, max: 10}
derived:
  - {name: region, label: {zh: 分, en: Score}, expression: "${x} * 2", min: 0, max: 10}
"""


def test_derived_score_outside_its_range_warns_and_name_clash_is_an_error() -> None:
    qn = parse_questionnaire(CLASH_YAML, source="clash.yaml")
    frame = stored(qn, [{"province": "bj", "x": 3}, {"province": "bj", "x": 9}])
    with (
        pytest.warns(
            ScoringWarning,
            match=r"'clash': derived score 'region' is outside its range \[0, 10\] in 1 "
            r"row\(s\) \(e\.g\. 18\); check its expression or its min and max\.",
        ),
        pytest.raises(ScoringError, match=r"the name\(s\) 'region' of a derived score"),
    ):
        score_responses(frame, qn)


# =========================================================================== multiple choice
MULTI_YAML = """\
id: multi
version: "1.0"
title: {zh: 多选, en: Multi}
languages: [zh, en]
dimensions:
  - {name: knowledge, label: {zh: 知识, en: Knowledge}}
  - {name: attitude, label: {zh: 态度, en: Attitude}}
sections:
  - name: s
    title: {zh: 题, en: Questions}
    questions:
      - name: scams
        type: multiple_choice
        label: {zh: 哪些是诈骗？, en: Which are scams?}
        special: [dont_know]
        choices:
          - {name: safe_account, label: {zh: 安全账户, en: Safe account}}
          - {name: refund_call, label: {zh: 退款电话, en: Refund call}}
          - {name: bank_app, label: {zh: 官方App, en: Official app}}
        score: {dimension: knowledge, correct: [safe_account, refund_call]}
        explanation: {zh: 两者都是诈骗。, en: Both are scams.}
      - name: calm
        type: likert
        label: {zh: 我很冷静, en: I stay calm}
        special: [dont_know, prefer_not]
        choices:
          - {name: no, label: {zh: 否, en: "No"}}
          - {name: somewhat, label: {zh: 有点, en: Somewhat}}
          - {name: yes, label: {zh: 是, en: "Yes"}}
        score: {dimension: attitude}
"""


@pytest.fixture(scope="module")
def multi() -> Questionnaire:
    return parse_questionnaire(MULTI_YAML.replace("name: no,", "name: 'no',").replace(
        "name: yes,", "name: 'yes',"), source="multi.yaml")


@pytest.mark.parametrize(
    ("scams", "calm", "expected_item", "expected_calm"),
    [
        ({"safe_account", "refund_call"}, "yes", 1.0, 1.0),
        ({"safe_account"}, "somewhat", 0.0, 0.5),
        ({"safe_account", "refund_call", "bank_app"}, "no", 0.0, 0.0),
        (set(), "dont_know", 0.0, None),  # nothing chosen: answered, wrong
        ("dont_know", "prefer_not", 0.0, None),  # specials on a scale item are left out
        (None, None, None, None),
    ],
)
def test_multiple_choice_and_scale_specials(
    multi: Questionnaire,
    scams: object,
    calm: object,
    expected_item: float | None,
    expected_calm: float | None,
) -> None:
    row: dict[str, object] = {"calm": calm}
    if scams == set():
        row.update({"scams__safe_account": 0, "scams__refund_call": 0, "scams__bank_app": 0})
    else:
        row["scams"] = scams
    scored = score_responses(stored(multi, [row]), multi)
    assert value(scored, "score__scams") == expected_item
    assert value(scored, "score__calm") == expected_calm
    assert value(scored, "n_items__attitude") == (0 if expected_calm is None else 1)
    assert value(scored, "dim__attitude") == (
        None if expected_calm is None else 100 * expected_calm
    )


# =========================================================================== R reference
def refq_responses() -> tuple[pd.DataFrame, np.ndarray]:
    raw = pd.read_csv(SCORING_REFERENCE / "refq_stored.csv", dtype=str, keep_default_na=False)
    qn = refq()
    frame = pd.DataFrame({"response_id": pd.array(raw["response_id"], dtype="str")})
    for column in qn.columns():
        frame[column.name] = pd.array(
            [None if v == "" else int(v) for v in raw[column.name]], dtype="Int64"
        )
    return frame, raw["w"].astype(float).to_numpy()


R_SCORES = pd.read_csv(SCORING_REFERENCE / "scoring_r_scores.csv", na_values=["NA"])
R_VALUES = pd.read_csv(SCORING_REFERENCE / "scoring_r.csv", keep_default_na=False)


def r_value(quantity: str, dimension: str = "", item: str = "", option: str = "") -> float:
    rows = R_VALUES[
        (R_VALUES["quantity"] == quantity)
        & (R_VALUES["dimension"] == dimension)
        & (R_VALUES["item"] == item)
        & (R_VALUES["option"] == option)
    ]
    assert len(rows) == 1, (quantity, dimension, item, option)
    return float(rows["value"].iloc[0])


def test_scores_match_r_scoring() -> None:
    """Item, dimension and index scores of 400 stored responses agree with the independent
    R implementation of FORMAT.md's rules (tests/reference/scoring.R)."""
    frame, _ = refq_responses()
    scored = score_responses(frame, refq())
    assert scored.frame["response_id"].tolist() == R_SCORES["response_id"].tolist()
    for column in R_SCORES.columns[1:]:
        ours = column if column.startswith("dim__") or column == "literacy_index" else (
            f"score__{column}"
        )
        np.testing.assert_allclose(
            scored.frame[ours].to_numpy(dtype=float, na_value=np.nan),
            R_SCORES[column].to_numpy(dtype=float),
            rtol=1e-13,
            atol=0,
            err_msg=column,
        )
    assert int(scored.frame["score__k5"].isna().sum()) == int(R_SCORES["k5"].isna().sum()) > 0
    assert int(scored.frame["score__a5"].isna().sum()) > 0  # don't know on a scale item


@pytest.fixture(scope="module")
def refq_scored() -> tuple[ScoredResponses, np.ndarray]:
    frame, w = refq_responses()
    return score_responses(frame, refq()), w


def test_pca_weights_match_r_prcomp(refq_scored: tuple[ScoredResponses, np.ndarray]) -> None:
    """R: prcomp(D, scale. = TRUE) on the complete dimension scores D."""
    scored, _ = refq_scored
    result = index_weights(scored)
    dims = ("knowledge", "skills", "attitude", "behaviour")
    assert result.dimensions == dims
    assert result.n == r_value("n_index")
    for j, dim in enumerate(dims):
        assert result.loadings[dim] == pytest.approx(r_value("pca_loading", dim), rel=1e-10)
        assert result.eigenvalues[j] == pytest.approx(
            r_value("pca_eigenvalue", item=str(j + 1)), rel=1e-10
        )
    loadings = np.array([r_value("pca_loading", d) for d in dims])
    for dim, loading in zip(dims, loadings, strict=True):
        assert result.weights[dim] == pytest.approx(loading / loadings.sum(), rel=1e-10)
    assert sum(result.weights.values()) == pytest.approx(1.0, abs=1e-15)
    assert result.explained_variance == pytest.approx(r_value("pca_eigenvalue", item="1") / 4)
    assert result.method == "pca" and not result.weighted and result.converged
    frame = result.to_frame()
    assert list(frame.columns) == ["dimension", "loading", "uniqueness", "weight"]
    np.testing.assert_allclose(frame["uniqueness"], 1 - loadings**2, rtol=1e-9)


def test_weighted_pca_matches_r_cov_wt(refq_scored: tuple[ScoredResponses, np.ndarray]) -> None:
    """R: eigen(cov.wt(D, wt = w, cor = TRUE)$cor)."""
    scored, w = refq_scored
    with_column = ScoredResponses(**{**scored.__dict__, "frame": scored.frame.assign(w=w)})
    for result in (index_weights(scored, weights=w), index_weights(with_column, weights="w")):
        assert result.weighted
        for j, dim in enumerate(result.dimensions):
            assert result.loadings[dim] == pytest.approx(
                r_value("pca_weighted_loading", dim), rel=1e-10
            )
            assert result.eigenvalues[j] == pytest.approx(
                r_value("pca_weighted_eigenvalue", item=str(j + 1)), rel=1e-10
            )


def test_pca_matches_numpy_and_statsmodels(
    refq_scored: tuple[ScoredResponses, np.ndarray],
) -> None:
    from statsmodels.multivariate.pca import PCA

    scored, _ = refq_scored
    dims = [c for c in scored.frame.columns if c.startswith("dim__")]
    data = scored.frame[dims].dropna().to_numpy(dtype=float)
    pca = PCA(data, ncomp=4, standardize=True, method="eig")
    eigenvalues = np.asarray(pca.eigenvals) / len(data)  # statsmodels: of X'X, standardised X
    result = index_weights(scored)
    np.testing.assert_allclose(result.eigenvalues, eigenvalues, rtol=1e-10)
    vector = np.asarray(pca.eigenvecs)[:, 0]
    vector = vector * np.sign(vector.sum())
    np.testing.assert_allclose(
        [result.weights[d] for d in result.dimensions], vector / vector.sum(), rtol=1e-10
    )
    np.testing.assert_allclose(
        result.correlation.to_numpy(), np.corrcoef(data, rowvar=False), rtol=1e-12
    )


def test_one_factor_weights_match_r_factanal_and_statsmodels(
    refq_scored: tuple[ScoredResponses, np.ndarray],
) -> None:
    """R: factanal(covmat = cor(D), factors = 1, n.obs = nrow(D)) (and with cov.wt weights).
    R's optimiser stops earlier than ours: agreement to 1e-5 relative."""
    from statsmodels.multivariate.factor import Factor

    scored, w = refq_scored
    result = index_weights(scored, method="factor")
    weighted = index_weights(scored, method="factor", weights=w)
    for dim in result.dimensions:
        assert result.loadings[dim] == pytest.approx(r_value("factor_loading", dim), rel=1e-5)
        assert result.uniquenesses[dim] == pytest.approx(
            r_value("factor_uniqueness", dim), rel=1e-4
        )
        assert weighted.loadings[dim] == pytest.approx(
            r_value("factor_weighted_loading", dim), rel=1e-5
        )
    assert result.converged
    corr = result.correlation.to_numpy()
    fit = Factor(corr=corr, n_factor=1, method="ml", nobs=result.n).fit()
    loadings = np.asarray(fit.loadings)[:, 0]
    loadings = loadings * np.sign(loadings.sum())
    np.testing.assert_allclose(
        [result.loadings[d] for d in result.dimensions], loadings, rtol=1e-5
    )
    np.testing.assert_allclose(
        [result.uniquenesses[d] for d in result.dimensions], fit.uniqueness, rtol=1e-4
    )
    raw = np.array([result.loadings[d] for d in result.dimensions])
    np.testing.assert_allclose(
        [result.weights[d] for d in result.dimensions], raw / raw.sum(), rtol=1e-12
    )
    assert result.explained_variance == pytest.approx(float(np.sum(raw**2) / 4))
    squared = index_weights(scored, method="factor", normalisation="squared")
    np.testing.assert_allclose(
        [squared.weights[d] for d in result.dimensions], raw**2 / np.sum(raw**2), rtol=1e-9
    )


def test_one_factor_on_three_variables_has_the_closed_form() -> None:
    """With three variables the one-factor model is exactly identified:
    lambda_1^2 = r12 r13 / r23."""
    from analysis.scoring import _one_factor

    corr = np.array([[1.0, 0.42, 0.35], [0.42, 1.0, 0.30], [0.35, 0.30, 1.0]])
    loadings, psi, converged = _one_factor(corr)
    expected = np.sqrt(
        [0.42 * 0.35 / 0.30, 0.42 * 0.30 / 0.35, 0.35 * 0.30 / 0.42]
    )
    assert converged
    np.testing.assert_allclose(np.abs(loadings), expected, rtol=1e-6)
    np.testing.assert_allclose(psi, 1 - expected**2, rtol=1e-6)


def test_index_weights_feed_score_responses(
    refq_scored: tuple[ScoredResponses, np.ndarray],
) -> None:
    scored, _ = refq_scored
    frame, _ = refq_responses()
    weights = index_weights(scored)
    rescored = score_responses(frame, refq(), index_weights=weights)
    dims = np.column_stack(
        [
            scored.frame[f"dim__{d}"].to_numpy(dtype=float, na_value=np.nan)
            for d in weights.dimensions
        ]
    )
    expected = dims @ np.array([weights.weights[d] for d in weights.dimensions])
    np.testing.assert_allclose(
        rescored.frame["literacy_index"].to_numpy(dtype=float, na_value=np.nan),
        expected,
        rtol=1e-12,
    )


def test_index_weights_errors_and_warnings(
    quiz: Questionnaire, refq_scored: tuple[ScoredResponses, np.ndarray]
) -> None:
    scored, w = refq_scored
    one = score_responses(stored(quiz, [best(quiz)] * 5), quiz)
    with pytest.raises(ScoringError, match="'edu_quiz' has 1 dimension"):
        index_weights(one)
    with pytest.raises(ScoringError, match="method must be 'pca' or 'factor', got 'svd'"):
        index_weights(scored, method="svd")  # type: ignore[arg-type]
    with pytest.raises(ScoringError, match="normalisation must be 'loadings' or 'squared'"):
        index_weights(scored, normalisation="abs")  # type: ignore[arg-type]
    with pytest.raises(ScoringError, match="weights column 'w' is not in the scored frame"):
        index_weights(scored, weights="w")
    with pytest.raises(ScoringError, match=r"weights must have one value per response \(400\)"):
        index_weights(scored, weights=w[:10])
    with pytest.raises(ScoringError, match="weights must be finite and >= 0"):
        index_weights(scored, weights=-w)
    with pytest.raises(ScoringError, match="scored must be the result of score_responses"):
        index_weights(scored.frame)  # type: ignore[arg-type]
    # a dimension that runs against the others loads negatively
    frame = scored.frame.copy()
    frame["dim__skills"] = 100 - frame["dim__skills"]
    flipped = ScoredResponses(**{**scored.__dict__, "frame": frame})
    with pytest.warns(ScoringWarning, match="dimension\\(s\\) skills load negatively"):
        result = index_weights(flipped)
    assert result.weights["skills"] < 0
    assert issubclass(ScoringWarning, AnalysisWarning)
    assert isinstance(result, IndexWeights)


# =========================================================================== feedback
def test_feedback_for_one_cfl_respondent(cfl: Questionnaire) -> None:
    answers = {
        **CFL_PERSON,
        **best(cfl),
        "k_compound": "same",
        "k_risk_return": "dont_know",
        "k_deposit_insurance": None,
        "s_loan_interest": 780,
    }
    result = feedback(answers, cfl, language="en")
    assert result.language == "en"
    by_name = {item.name: item for item in result.items}
    assert len(result.items) == 26  # every knowledge and skills item has a right answer
    inflation = by_name["k_inflation"]
    assert inflation.answer == "less than today"
    assert inflation.correct is True and inflation.score == 1.0
    assert inflation.right_answers == ("less than today",)
    assert inflation.explanation is not None
    assert inflation.explanation.startswith("The interest rate (1.5%) is below inflation")
    assert inflation.question.startswith("Suppose the interest rate on your savings account")
    assert inflation.stem is None
    compound = by_name["k_compound"]
    assert (compound.answer, compound.correct) == ("They are the same", False)
    assert compound.right_answers == ("Compound interest gives more",)
    assert (by_name["k_risk_return"].answer, by_name["k_risk_return"].correct) == (
        "Don't know",
        False,
    )
    skipped = by_name["k_deposit_insurance"]
    assert (skipped.answer, skipped.correct, skipped.score) == (None, None, None)
    loan = by_name["s_loan_interest"]
    assert (loan.answer, loan.correct, loan.right_answers) == ("780 yuan", False, ("800 yuan",))
    assert by_name["s_return_calc"].right_answers == ("150 yuan (±2)",)
    dims = {d.name: d for d in result.dimensions}
    assert dims["knowledge"].label == "Financial knowledge"
    assert dims["knowledge"].n_items == 18
    assert dims["knowledge"].score == pytest.approx(100 * 16 / 18)
    assert result.index is not None
    assert result.index.label == "Financial literacy index"
    table = result.to_frame()
    assert len(table) == 26 and table.columns[0] == "name"


def test_feedback_in_chinese_and_from_a_stored_row(cfl: Questionnaire) -> None:
    answers = {**CFL_PERSON, **best(cfl), "s_loan_interest": "dont_know"}
    frame = stored(cfl, [answers])
    from_app = feedback(answers, cfl, language="zh")
    from_row = feedback(frame.iloc[0], cfl, language="zh")
    from_frame = feedback(frame, cfl, language="zh")
    assert from_app == from_row == from_frame
    loan = next(i for i in from_app.items if i.name == "s_loan_interest")
    assert (loan.answer, loan.right_answers) == ("不知道", ("800元",))
    assert from_app.dimensions[0].label == "金融知识"


def test_feedback_matrix_items_multiple_choice_and_derived(
    oecd: Questionnaire, multi: Questionnaire
) -> None:
    result = feedback({**KNOWLEDGE_RIGHT, **BEHAVIOUR_BEST, **ATTITUDE_BEST}, oecd, language="en")
    item = next(i for i in result.items if i.name == "qk7_1")
    assert item.stem == oecd.question("qk7").label.get("en")
    assert item.right_answers == ("True",)
    derived = {d.name: d.value for d in result.derived}
    assert derived["oecd_total"] == 21.0
    assert derived["oecd_knowledge_target"] is True
    qk5 = next(i for i in result.items if i.name == "qk5")
    assert qk5.answer == "102 yuan"
    scams = feedback({"scams": {"refund_call", "safe_account"}}, multi, language="en")
    assert scams.items[0].answer == "Safe account; Refund call"
    assert scams.items[0].correct is True
    assert scams.items[0].right_answers == ("Safe account", "Refund call")
    assert feedback({"scams": "dont_know"}, multi, language="zh").items[0].answer == "不知道"


def test_feedback_errors(cfl: Questionnaire, multi: Questionnaire) -> None:
    with pytest.raises(ScoringError, match=r"language 'fr' is not a language of 'cfl' \(zh, en\)"):
        feedback({}, cfl, language="fr")
    with pytest.raises(
        ScoringError,
        match=r"'k_inflation': 'lots' is not one of its options \(more, same, less, "
        r"dont_know\)",
    ):
        feedback({"k_inflation": "lots"}, cfl, language="en")
    with pytest.raises(
        ScoringError, match="'sex': the special answer 'dont_know' is not allowed on this question"
    ):
        feedback({"sex": "dont_know"}, cfl, language="en")
    with pytest.raises(ScoringError, match="'scams': 'phone' is not an option"):
        feedback({"scams": {"phone"}}, multi, language="en")
    with pytest.raises(ScoringError, match="give the chosen option names as a set"):
        feedback({"scams": "safe_account"}, multi, language="en")
    with pytest.raises(ScoringError, match="feedback is for one respondent, but the frame has 2"):
        feedback(stored(multi, [{}, {}]), multi, language="en")
    with pytest.raises(ScoringError, match="answers must be a mapping"):
        feedback(["k_inflation"], cfl, language="en")  # type: ignore[arg-type]


# =========================================================================== properties
def _answer_strategy(q: Any) -> st.SearchStrategy[object]:
    specials = [st.just(s) for s in q.special]
    if q.type == "multiple_choice":
        names = q.choices.names
        return st.one_of(st.none(), *specials, st.sets(st.sampled_from(names), min_size=1))
    if q.is_choice:
        return st.one_of(st.none(), *specials, st.sampled_from(q.choices.names))
    if q.type == "integer":
        low, high = int(q.min if q.min is not None else 0), int(q.max if q.max is not None else 100)
        near = []
        if q.score is not None and q.score.correct_value is not None:
            near = [st.just(int(q.score.correct_value))]
        return st.one_of(st.none(), *specials, *near, st.integers(low, min(high, low + 10**6)))
    if q.type == "decimal":
        low, high = float(q.min or 0), float(q.max if q.max is not None else 100)
        near = []
        if q.score is not None and q.score.correct_value is not None:
            near = [st.just(float(q.score.correct_value))]
        return st.one_of(
            st.none(), *specials, *near,
            st.integers(int(low * 100), int(min(high, low + 10**5) * 100)).map(lambda v: v / 100),
        )
    if q.type == "text":
        return st.one_of(st.none(), st.text(alphabet="ABCxyz0123 ", max_size=12))
    raise AssertionError(q.type)


@st.composite
def answer_rows(draw: st.DrawFn, qn: Questionnaire, max_rows: int = 4) -> list[dict[str, object]]:
    n = draw(st.integers(1, max_rows))
    rows = []
    for _ in range(n):
        row: dict[str, object] = {}
        for q in qn.questions:
            if q.is_answerable:
                answer = draw(_answer_strategy(q))
                if answer is not None:
                    row[q.name] = answer
        rows.append(row)
    return rows


SHIPPED = {name: shipped(name) for name in ("cfl", "oecd_infe", "edu_quiz")}
PROPERTY = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY
@given(data=st.data(), name=st.sampled_from(sorted(SHIPPED)))
def test_scores_are_always_within_range(data: st.DataObject, name: str) -> None:
    qn = SHIPPED[name]
    rows = data.draw(answer_rows(qn))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scored = score_responses(stored(qn, rows), qn)
    f = scored.frame
    for item in scored.items:
        s = f[f"score__{item}"].dropna()
        assert ((s >= 0) & (s <= 1)).all(), item
    for dim in scored.dimensions:
        d = f[f"dim__{dim}"].dropna()
        assert ((d >= 0) & (d <= 100 + 1e-9)).all(), dim
        n_items = len(qn.scored_items(dim))
        assert f[f"n_items__{dim}"].between(0, n_items).all()
    assert scored.index is not None
    index = f[scored.index].dropna()
    assert ((index >= 0) & (index <= 100 + 1e-9)).all()
    for d in qn.derived:
        if d.min is not None and d.max is not None:
            values = f[d.name].dropna()
            assert ((values >= d.min - 1e-9) & (values <= d.max + 1e-9)).all(), d.name


@PROPERTY
@given(data=st.data(), name=st.sampled_from(sorted(SHIPPED)))
def test_scores_do_not_depend_on_the_option_order_shown(data: st.DataObject, name: str) -> None:
    qn = SHIPPED[name]
    rows = data.draw(answer_rows(qn))
    frame = stored(qn, rows)
    orders = []
    for _ in rows:
        shown = {}
        for q in qn.questions:
            if q.randomize and q.choices is not None:
                shown[q.name] = data.draw(st.permutations(list(q.choices.names)))
        orders.append(json.dumps(shown))
    shuffled = frame.assign(option_order=pd.array(orders, dtype="str"))
    pd.testing.assert_frame_equal(
        score_responses(frame, qn).frame, score_responses(shuffled, qn).frame
    )


def narrowed(frame: pd.DataFrame, junk: int) -> pd.DataFrame:
    """The frame with each Int64 column as the narrowest masked type that holds it (as
    ``store.read(narrow_integers=True)`` gives), and ``junk`` under every missing value."""
    out = {}
    for name, column in frame.items():
        if str(column.dtype) != "Int64":
            out[name] = column
            continue
        values = column.to_numpy(dtype=np.int64, na_value=0)
        missing = column.isna().to_numpy()
        for width in (np.int8, np.int16, np.int32, np.int64):
            info = np.iinfo(width)
            if values.size == 0 or (info.min <= values.min() and values.max() <= info.max):
                break
        narrow = values.astype(width)
        narrow[missing] = np.array(junk).astype(width)
        out[name] = pd.arrays.IntegerArray(narrow, missing)
    return pd.DataFrame(out, index=frame.index)


@PROPERTY
@given(data=st.data(), name=st.sampled_from(sorted(SHIPPED)), junk=st.sampled_from([0, 99, -7]))
def test_narrow_integer_columns_score_as_int64_ones(
    data: st.DataObject, name: str, junk: int
) -> None:
    """Codes read as Int8/Int16 (the store's narrow read), whatever lies under the missing
    mask, score exactly as Int64 codes, with or without the item columns kept."""
    qn = SHIPPED[name]
    frame = stored(qn, data.draw(answer_rows(qn)))
    wide = score_responses(frame, qn).frame
    narrow = narrowed(frame, junk)
    assert any(str(t) == "Int8" for t in narrow.dtypes)
    pd.testing.assert_frame_equal(score_responses(narrow, qn).frame, wide)
    lean = score_responses(narrow, qn, item_scores=False).frame
    kept = [c for c in wide.columns if not c.startswith("score__")]
    pd.testing.assert_frame_equal(lean, wide[kept])


ABCD_LINES = {
    line.split("name: ")[1].split(",")[0]: line
    for line in REFQ_YAML.splitlines()
    if line.startswith("    - {name: ") and "code: " in line and "label: {zh: " in line
    and line.split("name: ")[1].split(",")[0] in "abcd"
}


@PROPERTY
@given(order=st.permutations(["a", "b", "c", "d"]), data=st.data())
def test_right_wrong_scores_do_not_depend_on_option_list_order(
    order: list[str], data: st.DataObject
) -> None:
    """Listing the options of right/wrong items in another order (same names and codes)
    changes nothing: only the list order of a scale matters."""
    original_block = "\n".join(ABCD_LINES[n] for n in "abcd")
    assert original_block in REFQ_YAML
    reordered = parse_questionnaire(
        REFQ_YAML.replace(original_block, "\n".join(ABCD_LINES[n] for n in order)),
        source="reordered.yaml",
    )
    assert reordered.choice_list("abcd").names == tuple(order)
    original = refq()
    frame = stored(original, data.draw(answer_rows(original, max_rows=3)))
    a = score_responses(frame, original).frame
    b = score_responses(frame, reordered).frame
    columns = [
        f"score__{q.name}"
        for q in original.scored_items()
        if q.choices is not None and q.choices.name == "abcd"
    ]
    assert len(columns) == 7
    pd.testing.assert_frame_equal(a[[*columns, "dim__knowledge"]], b[[*columns, "dim__knowledge"]])


@PROPERTY
@given(data=st.data(), name=st.sampled_from([*sorted(SHIPPED), "refq"]))
def test_feedback_agrees_with_score_responses(data: st.DataObject, name: str) -> None:
    qn = refq() if name == "refq" else SHIPPED[name]
    rows = data.draw(answer_rows(qn, max_rows=1))
    frame = stored(qn, rows)
    scored = score_responses(frame, qn).frame.iloc[0]
    for source in (rows[0], frame.iloc[0]):
        result = feedback(source, qn, language="en")
        assert result.index is not None
        expected_index = scored[result.index.name]
        if pd.isna(expected_index):
            assert result.index.value is None
        else:
            assert result.index.value == pytest.approx(float(expected_index), rel=1e-12)
        for dim in result.dimensions:
            expected = scored[f"dim__{dim.name}"]
            assert dim.n_items == scored[f"n_items__{dim.name}"]
            if pd.isna(expected):
                assert dim.score is None
            else:
                assert dim.score == pytest.approx(float(expected), rel=1e-12)
        for item in result.items:
            expected = scored[f"score__{item.name}"]
            if pd.isna(expected):
                assert item.correct is None and item.answer is None
            else:
                assert item.correct is (float(expected) == 1.0)
        for d in result.derived:
            expected = scored[d.name]
            assert (d.value is None) == bool(pd.isna(expected))


# =========================================================================== R script
@pytest.mark.r
def test_r_script_reproduces_the_committed_reference(tmp_path: Path) -> None:
    """Rerun ``Rscript tests/reference/scoring.R <tmp>`` and compare with the committed output
    (needs R with psych; deselect with ``-m "not r"`` where R is absent)."""
    rscript = shutil.which("Rscript")
    assert rscript is not None, (
        "Rscript is not on PATH: install R and psych (Debian: r-base-core, r-cran-psych), or "
        "deselect this test with -m 'not r'."
    )
    subprocess.run(
        [rscript, str(REFERENCE / "scoring.R"), str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    for name in ("refq_stored.csv", "scoring_r.csv", "scoring_r_scores.csv"):
        assert (tmp_path / name).read_text(encoding="utf-8") == (
            SCORING_REFERENCE / name
        ).read_text(encoding="utf-8"), name
