"""The respondent flow's bookkeeping (no Streamlit): screens, option order, timing, estimates."""

from __future__ import annotations

import pytest

from app_pages.flow import (
    SurveyRun,
    estimated_minutes,
    open_questionnaires,
    option_order,
    question_count,
    screen_index,
    screens,
)
from questionnaires import load_registry

REGISTRY = load_registry()
CFL = REGISTRY.latest("cfl")
OECD = REGISTRY.latest("oecd_infe")
QUIZ = REGISTRY.latest("edu_quiz")


def test_option_order_is_a_stable_shuffle_per_respondent():
    q = CFL.question("k_credit_repair")
    assert q.randomize
    first = option_order(q, "A" * 22)
    assert option_order(q, "A" * 22) == first
    assert sorted(first) == sorted(q.choices.names)
    orders = {option_order(q, f"{i:022d}") for i in range(40)}
    assert len(orders) > 10  # 24 orders possible; respondents see different ones
    assert "dont_know" not in first  # special answers stay last, outside the shuffle


def test_option_order_keeps_the_written_order_unless_randomised():
    q = CFL.question("k_inflation")
    assert not q.randomize
    assert option_order(q, "B" * 22) == q.choices.names


def test_a_randomised_matrix_shuffles_its_items():
    q = CFL.question("att")
    assert q.type == "matrix" and q.randomize
    order = option_order(q, "C" * 22)
    assert sorted(order) == sorted(i.name for i in q.items)


def test_screens_follow_the_skip_logic():
    answers = {"fin_products": frozenset({"none"}), "edu_exposure": frozenset({"none"})}
    by_section = screens(CFL, answers, one_per_page=False)
    assert [s.key for s in by_section] == [s.name for s in CFL.sections]
    one = screens(CFL, answers, one_per_page=True)
    shown = [s.questions[0].name for s in one]
    assert "b_compare" not in shown  # relevant only when some product is used
    assert "edu_recency" not in shown
    assert "att" in shown and "att_live_today" not in shown  # a matrix stays whole
    assert all(s.key == f"{s.section.name}/{s.questions[0].name}" for s in one)
    with_products = screens(CFL, {"fin_products": frozenset({"mobile_pay"})}, one_per_page=True)
    assert "b_compare" in [s.questions[0].name for s in with_products]


def test_screen_answerable_lists_matrix_items():
    screen = next(s for s in screens(OECD, {}, one_per_page=False) if s.key == "statements")
    names = [q.name for q in screen.answerable]
    assert "qs" not in names and "qs1_1" in names


def test_screen_index_falls_back_to_the_section_then_the_start():
    one = screens(QUIZ, {}, one_per_page=True)
    assert screen_index(one, "quiz") == [s.section.name for s in one].index("quiz")
    assert screen_index(one, one[3].key) == 3
    assert screen_index(one, "nowhere") == 0
    assert screen_index(one, None) == 0


def test_estimated_time_is_within_what_the_descriptions_say():
    assert 15 <= estimated_minutes(CFL) <= 20
    assert 5 <= estimated_minutes(QUIZ) <= 8
    assert question_count(QUIZ) == 15
    assert [q.id for q in open_questionnaires(REGISTRY)] == ["cfl", "edu_quiz", "oecd_infe"]


def test_time_per_section_adds_up_across_visits():
    run = SurveyRun("cfl", CFL.version)
    run.enter("background", clock=100.0)
    run.enter("knowledge", clock=130.0)
    run.enter("background", clock=190.5)
    run.enter("knowledge", clock=200.5)
    assert run.page_seconds == {"background": 40.0, "knowledge": 60.5}


def test_paradata_books_the_current_page_and_the_shown_orders():
    run = SurveyRun("cfl", CFL.version, response_id="D" * 22)
    run.answers = {"k_credit_repair": "scam", "k_inflation": "less"}
    run.enter("knowledge")
    paradata = run.paradata(CFL, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile")
    assert set(paradata.page_seconds) == {"knowledge"}
    assert paradata.device_class == "phone"
    assert paradata.option_order == {
        "k_credit_repair": list(option_order(CFL.question("k_credit_repair"), "D" * 22))
    }


@pytest.mark.parametrize("questionnaire", [CFL, OECD, QUIZ], ids=lambda q: q.id)
def test_every_shipped_section_has_a_screen_without_answers(questionnaire):
    keys = [s.key for s in screens(questionnaire, {}, one_per_page=False)]
    assert keys == [s.name for s in questionnaire.sections]
