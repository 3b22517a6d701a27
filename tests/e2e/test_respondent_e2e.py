"""The respondent's path in a real browser (system Chromium), against ``streamlit run``.

Screenshots of every step go to ``tests/artifacts/<test>/``. The rows are read back from the
Parquet store the server wrote and compared with :func:`responses.validation.to_columns`.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from questionnaires import load_registry
from questionnaires.model import Questionnaire
from responses.record import new_response_id
from responses.store import ParquetResponseStore
from responses.submission import Paradata, submit_answers
from responses.validation import to_columns
from tests.app.answering import fill_store, random_answers
from tests.browser_support import DESKTOP, PHONE
from tests.e2e.survey_browser import DESKTOP_UA, IPHONE_UA, Respondent, css

pytestmark = pytest.mark.browser

REGISTRY = load_registry()


def shipped(name: str) -> Questionnaire:
    return REGISTRY.latest(name)


def check_row(data_dir: Path, q: Questionnaire, answers: dict[str, Any]) -> pd.Series:
    frame = ParquetResponseStore(data_dir).read(q.id)
    assert len(frame) == 1, f"{len(frame)} rows"
    row = frame.iloc[0]
    for column, value in to_columns(q, answers).items():
        got = row[column]
        if value is None:
            assert pd.isna(got), (column, got)
        else:
            assert got == value, (column, got, value)
    return row


def test_cfl_in_chinese_on_a_phone(browser, app_server_factory, artifacts):
    q = shipped("cfl")
    server = app_server_factory()
    store = ParquetResponseStore(server.data_dir)
    fill_store(store, q, 40, seed=2, overrides={"province": "sc"})  # averages to compare with
    answers = random_answers(
        q,
        random.Random(30),
        overrides={"province": "sc", "fin_products": frozenset({"mobile_pay", "debit_card"})},
    )
    context = browser.new_context(viewport=PHONE, user_agent=IPHONE_UA, locale="zh-CN")
    page = context.new_page()
    you = Respondent(page, artifacts, lang="zh")
    you.open(server.url)
    assert "消费者金融素养调查" in you.text()
    assert you.overflow() == []
    you.shot("landing")
    you.click("start_cfl")
    assert "知情同意书" in you.text()
    you.shot("consent")
    you.click("consent_agree")
    you.click("nav_next")  # nothing answered: the message sits on the question
    assert "此题为必答题" in you.text()
    you.shot("required_message")
    screens = you.complete(q, answers, check_layout=True)
    assert screens == len(q.sections)
    assert "提交成功" in you.text()
    legend = page.locator("[data-testid=stPlotlyChart] .legendtext")
    legend.nth(2).wait_for()  # the chart is drawn after the page
    names = legend.evaluate_all("nodes => nodes.map(n => n.textContent)")
    assert names == ["您的得分", "全国平均", "四川省平均"]
    assert "12363" in you.text()
    assert you.overflow() == []
    you.shot("feedback")
    context.close()
    rows = ParquetResponseStore(server.data_dir).read("cfl")
    mine = rows[~rows["response_id"].isin(_ids_before(rows, 40))]
    assert len(mine) == 1
    row = mine.iloc[0]
    for column, value in to_columns(q, answers).items():
        if column == "province":
            assert row["province"] == value
        elif value is None:
            assert pd.isna(row[column]), column
        else:
            assert row[column] == value, (column, row[column], value)
    assert row["device_class"] == "phone"
    assert row["language"] == "zh"


def _ids_before(rows: pd.DataFrame, n: int) -> list[str]:
    """The ids of the ``n`` responses stored before the browser's (earliest submissions)."""
    return list(rows.sort_values("submitted_at")["response_id"].iloc[:n])


def test_oecd_infe_in_english_on_a_desktop(browser, app_server_factory, artifacts):
    q = shipped("oecd_infe")
    server = app_server_factory()
    answers = random_answers(q, random.Random(31), overrides={"qf11": "yes"})
    context = browser.new_context(viewport=DESKTOP, user_agent=DESKTOP_UA, locale="en-GB")
    page = context.new_page()
    you = Respondent(page, artifacts, lang="en")
    you.open(server.url)
    you.shot("landing_zh")
    you.arm()
    page.locator(css("landing_lang")).get_by_text("English", exact=True).click()
    you.settle()
    assert "Financial literacy surveys" in you.text()
    you.shot("landing_en")
    you.click("start_oecd_infe")
    assert "What is collected" in you.text()
    you.shot("consent")
    you.click("consent_agree")
    you.complete(q, answers)
    assert "Thank you! Your answers are in." in you.text()
    assert "Fewer than 30 answer sheets" in you.text()
    receipt = page.locator(css("receipt"))
    assert "Your answer-sheet number" in receipt.inner_text()
    shown = receipt.locator("code").inner_text().strip()
    you.shot("feedback")
    context.close()
    row = check_row(server.data_dir, q, answers)
    assert row["language"] == "en"
    assert row["device_class"] == "desktop"
    assert row["consent_version"] == q.consent.version
    assert shown == row["response_id"]  # the number to quote is the stored one


def test_leave_and_resume_with_the_code_in_a_fresh_browser(browser, app_server_factory, artifacts):
    q = shipped("edu_quiz")
    server = app_server_factory()
    answers = random_answers(q, random.Random(32), overrides={"phase": "post"})
    first = browser.new_context(viewport=PHONE, user_agent=IPHONE_UA)
    you = Respondent(first.new_page(), artifacts)
    you.open(f"{server.url}/?q=edu_quiz")
    you.check("opt_large_text", True)  # the large-text option, chosen on the consent page
    you.shot("consent_large_text")
    you.click("consent_agree")
    you.answer_screen(q, answers)
    assert you.overflow() == [] and you.unlabelled() == []
    you.shot("large_text_page1")
    you.click("nav_next")
    half = {k: v for k, v in answers.items() if k in ("participant_code", "phase", "q_inflation")}
    you.answer_screen(q, half)
    you.click("save_later")
    box = you.page.locator(f"{css('resume_info')} [data-testid=stCode]").first
    box.locator("code").wait_for()  # the code block is drawn after the page
    you.shot("resume_code")
    code = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", box.inner_text())
    assert code is not None, box.inner_text()
    first.close()

    second = browser.new_context(viewport=PHONE, user_agent=IPHONE_UA)
    again = Respondent(second.new_page(), artifacts)
    again.open(server.url)
    again.page.locator(f"{css('resume_code_input')} input").fill(code.group(0))
    again.click("resume_submit")
    again.shot("resumed")
    assert "已恢复您上次保存的答案" in again.text()
    checked = again.page.locator(f"{css('q__q_inflation')} input:checked")
    assert checked.count() == 1
    again.complete(q, answers, shots=False)
    again.shot("feedback")
    second.close()
    check_row(server.data_dir, q, answers)


def test_a_double_click_on_submit_stores_one_row(browser, app_server_factory, artifacts):
    q = shipped("edu_quiz")
    server = app_server_factory()
    answers = random_answers(q, random.Random(33))
    context = browser.new_context(viewport=PHONE, user_agent=IPHONE_UA)
    you = Respondent(context.new_page(), artifacts)
    you.open(f"{server.url}/?q=edu_quiz")
    you.click("consent_agree")
    you.answer_screen(q, answers)
    you.click("nav_next")
    you.answer_screen(q, answers)
    you.shot("before_submit")
    you.arm()
    you.page.locator(f"{css('nav_submit')} button").dblclick()
    you.settle()
    you.page.wait_for_timeout(1500)
    you.settle()
    assert "提交成功" in you.text()
    you.shot("after_double_click")
    context.close()
    check_row(server.data_dir, q, answers)


def test_a_used_invitation_is_refused(browser, app_server_factory, artifacts, tmp_path):
    data_dir = tmp_path / "invited"
    folder = data_dir / "questionnaires"
    folder.mkdir(parents=True)
    text = REGISTRY.path("edu_quiz", "2026.1").read_text(encoding="utf-8")
    text = text.replace("id: edu_quiz", "id: staff_quiz").replace(
        "invitation_only: false", "invitation_only: true"
    )
    (folder / "staff_quiz.yaml").write_text(text, encoding="utf-8")
    q = load_registry(data_dir).latest("staff_quiz")
    store = ParquetResponseStore(data_dir)
    token = store.state.generate_tokens(q.id, 1, actor="test")[0]
    submit_answers(
        store,
        q,
        random_answers(q, random.Random(34)),
        response_id=new_response_id(),
        language="zh",
        started_at=dt.datetime.now(dt.UTC),
        consent_version=q.consent.version,
        paradata=Paradata(),
        token=token,
    )
    server = app_server_factory(data_dir=data_dir)
    context = browser.new_context(viewport=PHONE, user_agent=IPHONE_UA)
    you = Respondent(context.new_page(), artifacts)
    you.open(f"{server.url}/?q=staff_quiz&token={token}")
    assert "此邀请已被使用" in you.text()
    assert not you.present("consent_agree")
    you.shot("used_token")
    you.open(f"{server.url}/?q=staff_quiz")
    assert "仅限受邀者" in you.text()
    you.shot("no_token")
    context.close()
    assert ParquetResponseStore(data_dir).count("staff_quiz") == 1


_ACTIVE = (
    "() => { const e = document.activeElement; const g = e.closest('[role=radiogroup]');"
    " return {tag: e.tagName, type: e.type || '', label: e.getAttribute('aria-label') || '',"
    " text: (e.innerText || '').trim(), group: g ? g.getAttribute('aria-label') : ''}; }"
)


def _tab_to(you: Respondent, wanted: Any, what: str, *, limit: int = 80) -> dict[str, str]:
    """Press Tab until the focused element satisfies ``wanted`` (keyboard only)."""
    for _ in range(limit):
        you.page.keyboard.press("Tab")
        active = you.page.evaluate(_ACTIVE)
        if wanted(active):
            return active
    raise AssertionError(f"Tab never reached {what}")


def test_a_questionnaire_can_be_answered_with_the_keyboard_alone(
    browser, app_server_factory, artifacts
):
    q = shipped("edu_quiz")
    server = app_server_factory()
    rng = random.Random(35)
    answers: dict[str, Any] = {"participant_code": "KEY0815", "phase": "pre"}
    for item in q.section("quiz").questions:
        if item.type == "integer":
            answers[item.name] = rng.randint(0, 500)
        else:
            answers[item.name] = rng.choice(item.choices.names)
    context = browser.new_context(viewport=DESKTOP, user_agent=DESKTOP_UA)
    you = Respondent(context.new_page(), artifacts)
    you.open(f"{server.url}/?q=edu_quiz")
    _tab_to(you, lambda a: a["tag"] == "BUTTON" and "同意并开始" in a["text"], "agree")
    you.arm()
    you.page.keyboard.press("Enter")
    you.settle()
    for section in q.sections:
        for item in section.questions:
            label = " ".join(item.label.get("zh").split())
            value = answers[item.name]
            if item.type in ("text", "integer"):
                _tab_to(
                    you,
                    lambda a, t=label: a["tag"] == "INPUT" and a["label"].startswith(t),
                    item.name,
                )
                you.page.keyboard.type(str(value))
                you.arm()
                you.page.keyboard.press("Enter")
            else:
                _tab_to(you, lambda a, t=label: a["type"] == "radio" and a["group"] == t, item.name)
                order = you.page.locator(
                    f"{css('q__' + item.name)} [data-testid=stRadioOption]"
                ).all_inner_texts()
                labels = {c.name: c.label.get("zh") for c in item.choices}
                position = [o.strip() for o in order].index(labels[value])
                you.arm()
                you.page.keyboard.press("Space")  # the first option
                for _ in range(position):
                    you.settle()
                    you.arm()
                    you.page.keyboard.press("ArrowDown")
            you.settle()
        last = section is q.sections[-1]
        name = "提交" if last else "下一页"
        _tab_to(you, lambda a, t=name: a["tag"] == "BUTTON" and t in a["text"], name)
        you.shot(f"keyboard_{section.name}")
        you.arm()
        you.page.keyboard.press("Enter")
        you.settle()
    assert "提交成功" in you.text()
    you.shot("keyboard_done")
    context.close()
    check_row(server.data_dir, q, answers)
