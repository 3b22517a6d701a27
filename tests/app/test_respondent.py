"""The respondent page, in-process (AppTest): every step, and paths through the skip logic.

Each test drives ``survey_app.py`` with real widgets (by key), writes through the real Parquet
store in a fresh data folder, and reads the stored row back to compare it with
:func:`responses.validation.to_columns` of the answers given.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import responses.store as store_module
from analysis.averages import score_averages
from analysis.scoring import feedback
from app_pages.flow import option_order
from app_pages.questions import key
from questionnaires import load_registry
from questionnaires.model import Questionnaire
from responses.record import new_response_id
from responses.state import format_resume_code
from responses.store import ParquetResponseStore
from responses.submission import resume, save_progress
from responses.validation import to_columns
from tests.app.answering import fill_store, random_answers
from tests.app.driver import agree, answer_screen, click, complete, find, has, messages
from tests.security.test_escaping import markup_leaks
from tests.security.xss import PAYLOADS

REGISTRY = load_registry()


def shipped(name: str) -> Questionnaire:
    return REGISTRY.latest(name)


def stored_row(store: ParquetResponseStore, qid: str) -> pd.Series:
    frame = store.read(qid)
    assert len(frame) == 1, f"{len(frame)} rows stored"
    return frame.iloc[0]


def assert_stored(
    store: ParquetResponseStore, q: Questionnaire, answers: dict[str, Any]
) -> pd.Series:
    """The one stored row holds exactly the coded answers."""
    row = stored_row(store, q.id)
    expected = to_columns(q, answers)
    province = q.role("province")
    for column, value in expected.items():
        if province is not None and column == province.name == "province":
            got = row["province"]
        else:
            got = row[column]
        if value is None:
            assert pd.isna(got), (column, got)
        else:
            assert got == value, (column, got, value)
    return row


# --- landing -------------------------------------------------------------------------------------


def test_landing_lists_the_open_questionnaires_with_their_time(app):
    at = app()
    cards = [b.key for b in at.button if str(b.key).startswith("start_")]
    assert cards == ["start_cfl", "start_edu_quiz", "start_oecd_infe"]
    text = " ".join(str(m.value) for m in at.markdown) + " ".join(str(c.value) for c in at.caption)
    assert "消费者金融素养调查" in " ".join(str(s.value) for s in at.subheader)
    assert "分钟" in text and "道题" in text
    assert find(at, "text_input", "resume_code_input") is not None


def test_the_landing_page_switches_to_english_and_the_sidebar_follows(app):
    at = app()
    at.segmented_control(key="landing_lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == "Financial literacy surveys"
    assert at.radio(key="lang_switch").value == "en"
    assert at.query_params["lang"] == "en"
    at.radio(key="lang_switch").set_value("zh").run()
    assert at.title[0].value == "金融素养调查"
    assert at.segmented_control(key="landing_lang").value == "zh"


def test_a_link_opens_the_consent_page_in_english(app):
    at = app(q="oecd_infe", lang="en")
    assert at.title[0].value == "OECD/INFE core financial literacy questions"
    consent = " ".join(str(m.value) for m in at.markdown)
    assert "What is collected" in consent and "Retention" in consent
    assert has(at, "consent_agree") and has(at, "consent_decline")


def test_an_unknown_questionnaire_link_says_so_and_lists_the_others(app):
    at = app(q="nope")
    assert any("nope" in str(w.value) for w in at.warning)
    assert has(at, "start_cfl")


# --- consent -------------------------------------------------------------------------------------


def test_declining_consent_records_nothing(app, store):
    at = app(q="cfl")
    click(at, "consent_decline")
    assert has(at, "start_cfl")
    assert any("没有记录任何信息" in str(i.value) for i in at.info)
    assert store.count("cfl") == 0


def test_no_question_before_consent_and_the_version_is_stored(app, store):
    q = shipped("edu_quiz")
    at = app(q="edu_quiz")
    assert not any(str(w.key).startswith("q__") for w in [*at.radio, *at.text_input])
    agree(at)
    answers = random_answers(q, random.Random(3))
    complete(at, q, answers)
    row = assert_stored(store, q, answers)
    assert row["consent_version"] == q.consent.version
    assert row["language"] == "zh"


# --- pages, validation --------------------------------------------------------------------------


def test_a_required_question_left_empty_is_flagged_inline_and_nothing_is_lost(app):
    q = shipped("cfl")
    at = app(q="cfl")
    agree(at)
    click(at, "nav_next")  # background page: nothing chosen
    assert "此题为必答题" in messages(at)
    at.checkbox(key=key("fin_products", "debit_card")).check()
    click(at, "nav_next")
    assert messages(at) == []
    # knowledge page: answer two, leave the rest, go on
    at.radio(key=key("k_inflation")).set_value("less")
    at.radio(key=key("k_compound")).set_value("dont_know")
    click(at, "nav_next")
    errors = messages(at)
    left = len(q.section("knowledge").questions) - 2
    assert errors[0] == f"有 {left} 道题需要修改，请查看标红的提示。"
    assert errors.count("此题为必答题") == left
    assert at.radio(key=key("k_inflation")).value == "less"
    assert at.radio(key=key("k_compound")).value == "dont_know"
    click(at, "nav_back")
    assert at.checkbox(key=key("fin_products", "debit_card")).value is True
    click(at, "nav_next")
    assert at.radio(key=key("k_inflation")).value == "less"
    assert len(q.sections) > 2


def test_validation_messages_are_in_english_on_the_english_page(app):
    at = app(q="cfl", lang="en")
    agree(at)
    click(at, "nav_next")
    assert "This question is required" in messages(at)


def test_a_constraint_message_is_shown_on_its_question(app):
    q = shipped("cfl")
    at = app(q="cfl")
    agree(at)
    answers = random_answers(q, random.Random(5), overrides={"monthly_income": 5000})
    for _ in range(4):  # background, knowledge, rights, skills
        answer_screen(at, q, answers)
        click(at, "nav_next")
    answer_screen(at, q, answers)  # attitude
    click(at, "nav_next")
    answer_screen(at, q, {**answers, "monthly_saving": 9000})
    click(at, "nav_next")
    texts = messages(at)
    assert any("收入" in t for t in texts[1:]), texts
    assert at.number_input(key=key("monthly_saving")).value == 9000


def test_multiple_choice_keeps_exclusive_options_alone(app):
    at = app(q="cfl")
    agree(at)
    at.checkbox(key=key("fin_products", "debit_card")).check()
    at.checkbox(key=key("fin_products", "credit_card")).check().run()
    at.checkbox(key=key("fin_products", "none")).check().run()
    values = {c.key: c.value for c in at.checkbox if str(c.key).startswith("q__fin_products")}
    assert values[key("fin_products", "none")] is True
    assert sum(values.values()) == 1
    at.checkbox(key=key("fin_products", "loan")).check().run()
    values = {c.key: c.value for c in at.checkbox if str(c.key).startswith("q__fin_products")}
    assert values[key("fin_products", "none")] is False
    assert values[key("fin_products", "loan")] is True


def test_skip_logic_applies_as_answers_change(app):
    """b_check_apr appears when b_online_borrow is yes, and its answer goes when it is no."""
    q = shipped("cfl")
    at = app(q="cfl")
    agree(at)
    answers = random_answers(
        q,
        random.Random(8),
        overrides={"fin_products": frozenset({"mobile_pay"}), "b_online_borrow": "yes"},
    )
    while not has(at, key("b_online_borrow")):
        answer_screen(at, q, answers)
        click(at, "nav_next")
    assert not has(at, key("b_check_apr"))
    at.radio(key=key("b_online_borrow")).set_value("yes").run()
    assert has(at, key("b_check_apr"))
    at.radio(key=key("b_check_apr")).set_value(at.radio(key=key("b_check_apr")).options[0]).run()
    at.radio(key=key("b_online_borrow")).set_value("no").run()
    assert not has(at, key("b_check_apr"))
    at.radio(key=key("b_online_borrow")).set_value("yes").run()
    assert at.radio(key=key("b_check_apr")).value is None  # the old answer was dropped


def test_one_question_per_screen(app, store):
    q = shipped("edu_quiz")
    at = app(q="edu_quiz")
    agree(at, one_per_page=True)
    shown = [w.key for w in [*at.radio, *at.text_input] if str(w.key).startswith("q__")]
    assert shown == [key("participant_code")]
    answers = random_answers(q, random.Random(11))
    screens_seen = complete(at, q, answers)
    assert screens_seen == len([x for x in q.questions if x.is_answerable])
    row = assert_stored(store, q, answers)
    assert set(json.loads(row["page_seconds"])) == {s.name for s in q.sections}


def test_a_questionnaire_can_force_one_question_per_screen(app, data_dir):
    folder = data_dir / "questionnaires"
    folder.mkdir()
    text = (REGISTRY.path("edu_quiz", "2026.1")).read_text(encoding="utf-8")
    text = text.replace("id: edu_quiz", "id: quiz_big").replace(
        "one_question_per_page: false", "one_question_per_page: true"
    )
    (folder / "quiz_big.yaml").write_text(text, encoding="utf-8")
    at = app(q="quiz_big")
    box = at.checkbox(key="opt_one_per_page")
    assert box.value is True and box.disabled
    agree(at)
    assert find(at, "text_input", key("participant_code")) is not None
    assert find(at, "radio", key("phase")) is None


def test_options_are_shuffled_per_respondent_stably_and_recorded(app, store):
    q = shipped("edu_quiz")
    at = app(q="edu_quiz")
    agree(at)
    answers = random_answers(q, random.Random(2))
    answer_screen(at, q, answers)
    click(at, "nav_next")
    shown = at.radio(key=key("q_diversify")).options
    at.run()
    assert at.radio(key=key("q_diversify")).options == shown
    run = at.session_state["survey_run"]
    order = option_order(q.question("q_diversify"), run.response_id)
    labels = {c.name: c.label.get("zh") for c in q.question("q_diversify").choices}
    assert shown == [labels[n] for n in order] + ["不知道"]
    complete(at, q, answers)
    row = stored_row(store, "edu_quiz")
    recorded = json.loads(row["option_order"])
    assert recorded["q_diversify"] == list(order)
    randomised = {x.name for x in q.questions if x.randomize}
    assert set(recorded) == randomised


# --- paths through every shipped questionnaire -----------------------------------------------


PATHS = [
    ("cfl", 1, {}),
    ("cfl", 2, {"fin_products": frozenset({"none"}), "monthly_income": "prefer_not"}),
    (
        "cfl",
        3,
        {
            "fin_products": frozenset({"mobile_pay", "credit_card"}),
            "b_online_borrow": "yes",
            "edu_exposure": frozenset({"month", "school"}),
        },
    ),
    (
        "cfl",
        4,
        {
            "fin_products": frozenset({"mobile_pay"}),
            "b_online_borrow": "no",
            "edu_exposure": frozenset({"none"}),
        },
    ),
    ("oecd_infe", 1, {"qf11": "yes", "qp3": frozenset({"current_account"})}),
    ("oecd_infe", 2, {"qf11": "no", "qp3": frozenset({"none"})}),
    ("oecd_infe", 3, {"qk4": "dont_know", "qk5": 102.0, "qf11": "prefer_not"}),
    ("edu_quiz", 1, {"phase": "pre"}),
    ("edu_quiz", 2, {"phase": "post", "q_simple_interest": "dont_know"}),
]


@pytest.mark.parametrize(("qid", "seed", "overrides"), PATHS)
def test_a_path_through_the_skip_logic_is_stored_as_answered(app, store, qid, seed, overrides):
    q = shipped(qid)
    valid = {
        k: v
        for k, v in overrides.items()
        if not isinstance(v, frozenset) or all(o in q.question(k).choices.names for o in v)
    }
    assert valid == overrides, "a path names an option the questionnaire does not have"
    answers = random_answers(q, random.Random(seed), overrides=overrides)
    at = app(q=qid)
    agree(at)
    complete(at, q, answers)
    assert at.title[0].value.startswith("提交成功")
    row = assert_stored(store, q, answers)
    assert row["device_class"] == "unknown"  # AppTest sends no User-Agent
    assert row["duration_seconds"] >= 0


# --- save and resume ------------------------------------------------------------------------------


def test_continue_later_gives_a_code_that_restores_every_answer_and_the_page(app, store):
    q = shipped("cfl")
    at = app(q="cfl")
    agree(at)
    answers = random_answers(q, random.Random(21))
    for _ in range(3):
        answer_screen(at, q, answers)
        click(at, "nav_next")
    answer_screen(at, q, answers)  # skills page filled, not left
    click(at, "save_later")
    run = at.session_state["survey_run"]
    code = format_resume_code(run.resume_code)
    shown = [str(c.value) for c in at.code]
    assert shown[0] == code
    assert shown[1].endswith(f"/?resume={code}")
    assert at.query_params["resume"] == run.resume_code

    fresh = app()
    fresh.text_input(key="resume_code_input").input(code.lower().replace("-", " "))
    fresh.button(key="resume_submit").click().run()
    assert not fresh.exception
    assert fresh.subheader[0].value == q.section("skills").title.get("zh")
    for name in ("s_loan_interest", "s_return_calc"):
        assert fresh.number_input(key=key(name)).value == answers[name] or answers[name] in (
            "dont_know",
        )
    again = fresh.session_state["survey_run"]
    assert again.response_id == run.response_id
    click(fresh, "nav_back")
    assert fresh.radio(key=key("r_hotline")).value == answers["r_hotline"]
    click(fresh, "nav_next")
    complete(fresh, q, answers)
    assert_stored(store, q, answers)


def test_a_resume_link_opens_the_saved_page(app):
    q = shipped("edu_quiz")
    at = app(q="edu_quiz", lang="en")
    agree(at)
    answers = random_answers(q, random.Random(4))
    answer_screen(at, q, answers)
    click(at, "nav_next")
    code = at.session_state["survey_run"].resume_code
    resumed = app(resume=code, lang="en")
    assert resumed.subheader[0].value == "Financial knowledge quiz"
    assert any("saved answers are back" in str(i.value) for i in resumed.info)


def test_a_draft_saved_under_the_current_consent_continues_on_its_page(app, store):
    q = shipped("cfl")
    at = app(q="cfl")
    agree(at)
    answers = random_answers(q, random.Random(22))
    answer_screen(at, q, answers)
    click(at, "nav_next")
    run = at.session_state["survey_run"]
    page = at.subheader[0].value
    progress = resume(store.state, run.resume_code)
    assert q.consent is not None and q.consent.version == "2026-2"
    assert progress is not None and progress.consent_version == "2026-2"
    resumed = app(resume=run.resume_code)
    assert not has(resumed, "consent_agree")
    assert resumed.subheader[0].value == page
    assert any("已恢复" in str(i.value) for i in resumed.info)
    again = resumed.session_state["survey_run"]
    assert again.consent_version == "2026-2" and again.started_at == run.started_at
    complete(resumed, q, answers)
    row = assert_stored(store, q, answers)
    assert row["consent_version"] == "2026-2"
    assert row["response_id"] == run.response_id and row["started_at"] == run.started_at


@pytest.mark.parametrize(
    ("saved_under", "lang", "note"),
    [
        ("2026-1", "zh", "自您开始作答以来，知情同意书已经更新"),
        (None, "en", "Please read and agree to the consent statement again to continue"),
    ],
    ids=["older_version", "not_recorded"],
)
def test_a_draft_saved_under_another_consent_asks_for_consent_again(
    app, store, saved_under, lang, note
):
    """The cfl consent changed from 2026-1 to 2026-2: a draft started under 2026-1 (or saved
    before drafts recorded the version) is not stored as agreed to 2026-2 unseen."""
    q = shipped("cfl")
    answers = random_answers(q, random.Random(21))
    rid = new_response_id()
    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=2, hours=3)
    code = save_progress(
        store.state,
        q,
        answers,
        page="skills",
        response_id=rid,
        language=lang,
        started_at=started,
        consent_version=saved_under,
    )
    at = app(resume=code, lang=lang)
    assert not any(str(w.key).startswith("q__") for w in [*at.radio, *at.number_input])
    assert any(note in str(i.value) for i in at.info)
    assert any("2026-2" in str(c.value) for c in at.caption)  # the version now in force
    assert at.button(key="consent_agree").label == tr(lang, "同意并继续作答", "I agree, continue")
    agree(at)
    assert at.subheader[0].value == q.section("skills").title.get(lang)
    run = at.session_state["survey_run"]
    assert (run.response_id, run.started_at, run.consent_version) == (rid, started, "2026-2")
    # the draft saved on agreeing records the version now agreed to
    progress = resume(store.state, code)
    assert progress is not None and progress.consent_version == "2026-2"
    click(at, "nav_back")
    assert at.radio(key=key("r_hotline")).value == answers["r_hotline"]
    click(at, "nav_next")
    complete(at, q, answers)
    row = assert_stored(store, q, answers)
    assert row["consent_version"] == "2026-2"
    assert row["response_id"] == rid and row["started_at"] == started


def test_declining_the_changed_consent_on_resume_stores_no_response(app, store):
    q = shipped("cfl")
    code = save_progress(
        store.state,
        q,
        random_answers(q, random.Random(23)),
        page="skills",
        response_id=new_response_id(),
        consent_version="2026-1",
    )
    assert resume(store.state, code) is not None
    at = app(resume=code)
    click(at, "consent_decline")
    assert has(at, "start_cfl")
    assert any("草稿已删除" in str(i.value) for i in at.info)
    assert "resume" not in at.query_params
    assert store.count("cfl") == 0
    assert resume(store.state, code) is None  # the draft with the earlier answers is gone


def tr(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def test_a_wrong_resume_code_is_refused_plainly(app):
    at = app(resume="ABCD-EFGH-JKMN")
    assert any("找不到" in str(w.value) for w in at.warning)
    assert has(at, "start_cfl")


# --- submission ------------------------------------------------------------------------------


def test_submit_twice_stores_one_row(app, store):
    q = shipped("edu_quiz")
    at = app(q="edu_quiz")
    agree(at)
    answers = random_answers(q, random.Random(6))
    complete(at, q, answers)
    run = at.session_state["survey_run"]
    # a second click that arrives after the first was handled: the page has moved on
    run.stage = "questions"
    at.run()
    click(at, "nav_submit")
    assert at.session_state["survey_run"].duplicate is True
    assert store.count("edu_quiz") == 1
    stored = store.read("edu_quiz", columns=["response_id"])["response_id"].tolist()
    assert [str(c.value) for c in at.code] == stored  # the retry shows the same receipt


def test_a_full_disk_keeps_the_answers_and_offers_a_retry(app, store, monkeypatch):
    q = shipped("edu_quiz")
    at = app(q="edu_quiz")
    agree(at)
    answers = random_answers(q, random.Random(7))

    def full(file: Any, data: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module, "_write_bytes", full)
    complete(at, q, answers)
    assert not at.exception
    texts = messages(at)
    assert any("提交没有成功" in t for t in texts)
    assert any("disk full" in str(c.value) for c in at.caption)
    assert at.button(key="nav_submit").label == "重新提交"
    assert store.count("edu_quiz") == 0
    monkeypatch.undo()
    click(at, "nav_submit")
    assert at.title[0].value.startswith("提交成功")
    assert_stored(store, q, answers)


# --- receipt ---------------------------------------------------------------------------------


def test_the_consent_promises_a_number_to_withdraw_with_and_the_receipt_shows_it(app, store):
    q = shipped("cfl")
    at = app(q="cfl")
    consent = " ".join(str(m.value) for m in at.markdown)
    assert "答卷编号" in consent and "撤回" in consent and "通常无法" not in consent
    assert q.consent is not None and q.consent.version == "2026-2"
    agree(at)
    complete(at, q, random_answers(q, random.Random(41)))
    assert at.title[0].value.startswith("提交成功")
    frame = store.read("cfl", columns=["response_id", "consent_version"])
    [rid] = frame["response_id"].tolist()
    assert frame["consent_version"].tolist() == ["2026-2"]
    codes = [str(c.value) for c in at.code]
    assert codes == [rid] == [at.session_state["survey_run"].response_id]
    captions = " ".join(str(c.value) for c in at.caption)
    assert "请保存好这个编号" in captions and "调查组织方" in captions and "身份" in captions
    # a rerun (a click elsewhere, the browser reconnecting) keeps the receipt on the page
    at.run()
    assert [str(c.value) for c in at.code] == [rid]
    at.sidebar.radio(key="lang_switch").set_value("en").run()
    assert not at.exception
    assert [str(c.value) for c in at.code] == [rid]
    assert any(str(m.value) == "**Your answer-sheet number**" for m in at.markdown)
    captions = " ".join(str(c.value) for c in at.caption)
    assert "quote it to the survey organiser" in captions
    assert "not linked to your identity" in captions


def test_the_receipt_shows_its_number_as_text_never_markup(app):
    q = shipped("edu_quiz")
    at = app(q="edu_quiz", lang="en")
    agree(at)
    complete(at, q, random_answers(q, random.Random(42)))
    hostile = "\n".join(PAYLOADS)  # no real id looks like this; the box must not care
    at.session_state["survey_run"].response_id = hostile
    at.run()
    assert not at.exception
    assert [str(c.value) for c in at.code] == [hostile]
    assert [c.language for c in at.code] == ["plaintext"]  # no highlighting either
    assert markup_leaks(at) == []
    for element in [*at.markdown, *at.caption, *at.success, *at.title]:
        assert hostile not in str(element.value)


# --- feedback --------------------------------------------------------------------------------


def test_feedback_with_an_empty_store_says_there_are_too_few_answers(app):
    q = shipped("cfl")
    at = app(q="cfl")
    agree(at)
    complete(at, q, random_answers(q, random.Random(12)))
    captions = " ".join(str(c.value) for c in at.caption)
    assert "不足 30 份" in captions
    assert any("12363" in str(m.value) for m in at.markdown)
    assert any(str(s.value) == "题目解析" for s in at.subheader)
    assert at.metric[0].label.startswith("金融素养指数")


def chart_traces(at) -> dict[str, list[Any]]:
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    return {t["name"]: t["x"] for t in spec["data"]}


def test_feedback_compares_with_weighted_national_and_provincial_averages(app, store):
    q = shipped("cfl")
    fill_store(store, q, 45, seed=5, overrides={"province": "gd"})
    at = app(q="cfl", lang="en")
    agree(at)
    mine = random_answers(q, random.Random(13), overrides={"province": "gd"})
    complete(at, q, mine)
    captions = " ".join(str(c.value) for c in at.caption)
    # 45 stored + this respondent; all from one province, so only the national margins
    assert "The national average rests on 46 answer sheets, weighted" in captions
    expected = score_averages(store.read("cfl"), q, min_n=30)
    assert expected.weighted_on == ("sex", "age_band", "urban")
    traces = chart_traces(at)
    assert list(traces) == ["You", "National average", "Guangdong average"]
    variables = ["literacy_index", *(f"dim__{d.name}" for d in q.dimensions)]
    assert traces["National average"] == pytest.approx(
        [expected.national_mean(v).estimate for v in variables]
    )
    assert traces["Guangdong average"] == pytest.approx(
        [expected.province_mean(v, 44).estimate for v in variables]
    )
    fb = feedback(mine, q, language="en")
    assert traces["You"] == pytest.approx([fb.index.value, *(d.score for d in fb.dimensions)])
    assert "points" in (at.metric[0].delta or "")
    explained = [m for m in at.markdown if "Right answer" in str(m.value)]
    assert len(explained) == len(fb.items)


def test_feedback_leaves_out_a_province_with_too_few_answers(app, store):
    q = shipped("cfl")
    fill_store(store, q, 40, seed=6, overrides={"province": "gd"})
    at = app(q="cfl")
    agree(at)
    complete(at, q, random_answers(q, random.Random(14), overrides={"province": "bj"}))
    assert list(chart_traces(at)) == ["您的得分", "全国平均"]
    captions = " ".join(str(c.value) for c in at.caption)
    assert "北京市目前只有 1 份答卷，不足 30 份，暂不显示本省平均分" in captions


# --- invitations and quotas -------------------------------------------------------------------


def _invitation_questionnaire(data_dir: Path, *, quotas: str = "") -> Questionnaire:
    folder = data_dir / "questionnaires"
    folder.mkdir(exist_ok=True)
    text = REGISTRY.path("edu_quiz", "2026.1").read_text(encoding="utf-8")
    text = text.replace("id: edu_quiz", "id: staff_quiz")
    if quotas:
        text = text.replace(
            "  one_question_per_page: false", "  one_question_per_page: false\n" + quotas
        )
    else:
        text = text.replace("invitation_only: false", "invitation_only: true")
    (folder / "staff_quiz.yaml").write_text(text, encoding="utf-8")
    return load_registry(data_dir).latest("staff_quiz")


def test_an_invitation_only_questionnaire_refuses_a_missing_or_used_token(app, store, data_dir):
    q = _invitation_questionnaire(data_dir)
    tokens = store.state.generate_tokens(q.id, 2, actor="test")
    at = app(q=q.id)
    assert any("仅限受邀者" in str(e.value) for e in at.error)
    assert not has(at, "consent_agree")
    at = app(q=q.id, token="not-a-real-token")  # noqa: S106
    assert any("邀请码无效" in str(e.value) for e in at.error)

    at = app(q=q.id, token=tokens[0])
    agree(at)
    answers = random_answers(q, random.Random(1))
    complete(at, q, answers)
    row = assert_stored(store, q, answers)
    assert row["token_hash"] is not None
    used = app(q=q.id, token=tokens[0])
    assert any("此邀请已被使用" in str(e.value) for e in used.error)
    assert not has(used, "consent_agree")


def test_an_invitation_link_resumes_its_own_draft(app, store, data_dir):
    q = _invitation_questionnaire(data_dir)
    token = store.state.generate_tokens(q.id, 1, actor="test")[0]
    at = app(q=q.id, token=token)
    agree(at)
    answers = random_answers(q, random.Random(9))
    answer_screen(at, q, answers)
    click(at, "nav_next")
    first = at.session_state["survey_run"].response_id
    again = app(q=q.id, token=token)
    assert again.session_state["survey_run"].response_id == first
    assert again.subheader[0].value == q.section("quiz").title.get("zh")
    click(again, "nav_back")
    assert again.text_input(key=key("participant_code")).value == answers["participant_code"]


def test_a_full_quota_cell_thanks_the_respondent_and_stores_nothing(app, store, data_dir):
    quotas = '  quotas:\n    by: [phase]\n    cells: {"1": 2, "2": 100}\n'
    q = _invitation_questionnaire(data_dir, quotas=quotas)
    fill_store(store, q, 2, seed=3, overrides={"phase": "pre"})
    at = app(q=q.id)
    agree(at)
    answers = random_answers(q, random.Random(1), overrides={"phase": "pre"})
    answer_screen(at, q, answers)
    click(at, "nav_next")
    assert at.title[0].value == "感谢您的参与"
    assert any("已经收满" in str(i.value) for i in at.info)
    assert store.count(q.id) == 2
    assert not at.code  # nothing stored: no answer-sheet number to quote
    assert at.session_state["survey_run"].answers == {}

    other = app(q=q.id)
    agree(other)
    post = random_answers(q, random.Random(1), overrides={"phase": "post"})
    complete(other, q, post)
    assert store.count(q.id) == 3


def test_switching_language_mid_page_keeps_every_answer(app):
    q = shipped("cfl")
    at = app(q="cfl")
    agree(at)
    at.checkbox(key=key("fin_products", "loan")).check()
    click(at, "nav_next")
    at.radio(key=key("k_inflation")).set_value("less")
    at.radio(key=key("k_compound")).set_value("dont_know").run()
    at.radio(key="lang_switch").set_value("en").run()
    assert not at.exception
    assert at.subheader[0].value == q.section("knowledge").title.get("en")
    assert at.radio(key=key("k_inflation")).value == "less"
    assert at.radio(key=key("k_compound")).value == "dont_know"
    assert "Don't know" in at.radio(key=key("k_compound")).options
    click(at, "nav_back")
    assert at.checkbox(key=key("fin_products", "loan")).value is True
    assert at.checkbox(key=key("fin_products", "loan")).label.startswith("Bank loan")


def test_a_closed_questionnaire_link_says_the_survey_has_closed(app, data_dir):
    folder = data_dir / "questionnaires"
    folder.mkdir()
    text = REGISTRY.path("edu_quiz", "2026.1").read_text(encoding="utf-8")
    text = text.replace("id: edu_quiz", "id: old_quiz").replace("status: open", "status: closed")
    (folder / "old_quiz.yaml").write_text(text, encoding="utf-8")
    at = app(q="old_quiz")
    assert any("本调查已结束" in str(e.value) for e in at.error)
    assert not has(at, "start_old_quiz")


def test_a_matrix_on_its_own_screen_in_one_question_mode(app, store):
    q = shipped("oecd_infe")
    at = app(q="oecd_infe", lang="en")
    agree(at, one_per_page=True)
    answers = random_answers(q, random.Random(40))
    while not has(at, key("qs1_1")):
        answer_screen(at, q, answers)
        click(at, "nav_next")
    items = [r.key for r in at.radio if str(r.key).startswith("q__qs")]
    assert sorted(items) == sorted(key(i.name) for i in q.question("qs").items)
    complete(at, q, answers)
    assert_stored(store, q, answers)


WIDGETS_YAML = """\
id: widgets
version: "1.0"
title: {zh: 题型测试, en: Question types}
languages: [zh, en]
consent:
  version: "w1"
  text: {zh: 同意书, en: Consent}
choices:
  agree4:
    - {name: a1, label: {zh: 很不同意, en: Strongly disagree}}
    - {name: a2, label: {zh: 不同意, en: Disagree}}
    - {name: a3, label: {zh: 同意, en: Agree}}
    - {name: a4, label: {zh: 很同意, en: Strongly agree}}
sections:
  - name: one
    title: {zh: 第一页, en: Page one}
    questions:
      - name: intro
        type: note
        label: {zh: 下面几道题没有对错。, en: There are no right answers below.}
      - name: mood
        type: likert
        label: {zh: 我喜欢记账。, en: I like keeping accounts.}
        choices: agree4
        special: [prefer_not]
      - name: rate
        type: decimal
        label: {zh: 您估计的年利率是多少？, en: What annual rate do you expect?}
        unit: {zh: "%", en: "%"}
        min: 0
        max: 100
        hint: {zh: 可以填小数。, en: Decimals are fine.}
      - name: channels
        type: multiple_choice
        label: {zh: 您通过哪些渠道了解理财？, en: Where do you learn about money?}
        min_selected: 1
        max_selected: 2
        choices:
          - {name: tv, label: {zh: 电视, en: TV}}
          - {name: web, label: {zh: 网络, en: The web}}
          - {name: friends, label: {zh: 亲友, en: Friends}}
        special: [dont_know]
  - name: two
    title: {zh: 第二页, en: Page two}
    questions:
      - name: story
        type: text
        max_length: 1000
        required: false
        label: {zh: 请描述一次理财经历。, en: Tell us about a money decision.}
      - name: email
        type: text
        role: contact
        required: false
        label: {zh: 如愿参加抽奖，请留下邮箱。, en: "Your e-mail for the prize draw, if you like."}
"""


def test_every_question_type_draws_and_stores(app, store, data_dir):
    folder = data_dir / "questionnaires"
    folder.mkdir()
    (folder / "widgets.yaml").write_text(WIDGETS_YAML, encoding="utf-8")
    q = load_registry(data_dir).latest("widgets")
    at = app(q="widgets")
    agree(at)
    assert any("没有对错" in str(i.value) for i in at.info)  # the note
    assert at.radio(key=key("mood")).horizontal
    at.checkbox(key=key("channels", "tv")).check()
    at.checkbox(key=key("channels", "web")).check()
    at.checkbox(key=key("channels", "friends")).check()
    at.number_input(key=key("rate")).set_value(3.25)
    at.radio(key=key("mood")).set_value("prefer_not")
    click(at, "nav_next")
    assert messages(at)[1:] == ["最多只能选择 2 项"]
    at.checkbox(key=key("channels", "friends")).uncheck()
    click(at, "nav_next")
    assert find(at, "text_area", key("story")) is not None  # long text gets a text area
    answers = {
        "mood": "prefer_not",
        "rate": 3.25,
        "channels": frozenset({"tv", "web"}),
        "story": "第一次买基金。",
        "email": "someone@example.org",
    }
    at.text_area(key=key("story")).input(answers["story"])
    at.text_input(key=key("email")).input(answers["email"])
    click(at, "nav_submit")
    assert at.title[0].value.startswith("提交成功")
    row = assert_stored(store, q, answers)
    assert "email" not in row.index  # contact details are kept apart from the answers
    contacts = store.state.list_contacts("widgets")
    assert [c.details for c in contacts] == [{"email": "someone@example.org"}]
    assert contacts[0].response_id == row["response_id"]


def test_a_problem_on_an_earlier_page_at_submission_leads_back_to_it(app, store):
    """A draft saved with an invalid answer (drafts are not validated) is caught on submit."""
    q = shipped("edu_quiz")
    answers = random_answers(q, random.Random(41))
    draft = {**answers, "participant_code": "AB"}
    code = save_progress(
        store.state,
        q,
        draft,
        page="quiz",
        response_id=new_response_id(),
        language="zh",
        consent_version=q.consent.version if q.consent is not None else None,
    )
    at = app(resume=code)
    assert at.subheader[0].value == q.section("quiz").title.get("zh")
    click(at, "nav_submit")
    assert at.subheader[0].value == q.section("identification").title.get("zh")
    assert "个人编码应为6至12位字母或数字，例如ZXL0815。" in messages(at)
    assert store.count("edu_quiz") == 0
    at.text_input(key=key("participant_code")).input(answers["participant_code"])
    click(at, "nav_next")
    click(at, "nav_submit")
    assert_stored(store, q, answers)


def test_guessing_resume_codes_is_limited(app):
    at = app()
    for _ in range(10):
        at.text_input(key="resume_code_input").input("ABCD-EFGH-JKMN")
        click(at, "resume_submit")
        assert any("找不到" in str(w.value) for w in at.warning)
    at.text_input(key="resume_code_input").input("ABCD-EFGH-JKMP")
    click(at, "resume_submit")
    assert any("尝试次数过多" in str(w.value) for w in at.warning)


def test_the_quiz_compares_with_all_its_answers_not_a_national_figure(app, store):
    q = shipped("edu_quiz")
    fill_store(store, q, 35, seed=8)
    at = app(q="edu_quiz")
    agree(at)
    complete(at, q, random_answers(q, random.Random(15)))
    traces = chart_traces(at)
    assert list(traces) == ["您的得分", "所有答卷平均"]
    assert len(traces["您的得分"]) == 1  # one dimension: only the quiz score
    captions = " ".join(str(c.value) for c in at.caption)
    assert "平均分是全部 36 份答卷的简单平均" in captions
    assert "所有答卷平均" in (at.metric[0].delta or "")


def test_large_text_on_the_consent_page_is_the_sidebar_option(app):
    at = app(q="cfl")
    at.checkbox(key="opt_large_text").check().run()
    assert at.toggle(key="large_text").value is True
    assert any("font-size: 1.2rem" in str(m.value) for m in at.markdown)
    at.toggle(key="large_text").set_value(False).run()
    assert at.checkbox(key="opt_large_text").value is False
