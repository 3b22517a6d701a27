"""Shared pieces of the "respondent text is data, never markup" tests: the hostile texts, a
questionnaire that collects them, and a data folder in which they are stored everywhere a page
could show them."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import access
from access.settings import AccessSettings
from questionnaires import load_registry, parse_questionnaire
from responses.record import new_response_id
from responses.store import ParquetResponseStore
from responses.submission import Paradata, submit_answers
from tests.app.answering import fill_store

#: ``xss.invalid`` never resolves (RFC 6761): a browser asking for it shows that markup from a
#: respondent's text was rendered.
HOST = "xss.invalid"
PAYLOADS = (
    "<script>window.__xss=1</script>",
    f'<img src="http://{HOST}/i.png" onerror="window.__xss=2">',
    f"![pixel](http://{HOST}/m.png)",
    "[click me](javascript:window.__xss=3)",
    f'<a href="http://{HOST}/a">link</a><iframe src="http://{HOST}/f"></iframe>',
    "<b>bold</b> **strong** $x^2$ :red[red] `code`",
)
#: Fragments that show a payload was passed through unescaped (for Markdown: the raw syntax).
RAW = ("<script", "<img", "![pixel](", "[click me](", "<iframe", "<b>bold", "**strong**",
       ":red[red]")  # fmt: skip
COMMENT = "\n".join(PAYLOADS)
#: edu_quiz's participant code takes 6 to 12 characters: short hostile codes.
CODES = ("<b>xss</b>", "![x](//x.y)", "<i>xss1</i>")

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test password
CHEAP = {
    "SURVEY_ACCESS_ARGON2_TIME_COST": "1",
    "SURVEY_ACCESS_ARGON2_MEMORY_KIB": "8",
    "SURVEY_ACCESS_ARGON2_PARALLELISM": "1",
    "SURVEY_ACCESS_FAILURE_DELAY_SECONDS": "0",
}

PROBE_YAML = """\
id: xss_probe
version: "1"
title: {zh: 意见征集, en: Feedback survey}
languages: [zh, en]
consent:
  version: "p1"
  text: {zh: 我同意参加。, en: I agree to take part.}
dimensions:
  - name: knowledge
    label: {zh: 金融知识, en: Financial knowledge}
index:
  name: probe_score
  label: {zh: 得分, en: Score}
  note: {zh: 测试, en: Test}
sections:
  - name: about
    title: {zh: 基本情况, en: About you}
    questions:
      - name: province
        type: single_choice
        role: province
        choices: provinces
        label: {zh: 省份, en: Province}
      - name: q_interest
        type: single_choice
        label: {zh: 利率上升时债券价格会？, en: "When interest rates rise, bond prices"}
        choices:
          - {name: rise, code: 1, label: {zh: 上升, en: rise}}
          - {name: fall, code: 2, label: {zh: 下降, en: fall}}
        score: {dimension: knowledge, correct: [fall]}
        explanation: {zh: 利率上升，债券价格下降。, en: "Rates up, bond prices down."}
      - name: nickname
        type: text
        required: false
        max_length: 100
        label: {zh: 昵称, en: Nickname}
      - name: comment
        type: text
        required: false
        max_length: 2000
        label: {zh: 意见, en: Comments}
      - name: email
        type: text
        role: contact
        required: false
        max_length: 200
        label: {zh: 电子邮箱（抽奖用）, en: E-mail (prize draw)}
"""

PROBE = parse_questionnaire(PROBE_YAML)
PROBE_ANSWERS: dict[str, Any] = {
    "province": "bj",
    "q_interest": "fall",
    "nickname": PAYLOADS[1],
    "comment": COMMENT,
    "email": PAYLOADS[0] + "@example.org",
}


def prepare(root: Path) -> str:
    """A data folder where hostile text is stored everywhere a page could show it: responses
    to the probe questionnaire (uploaded beside the shipped ones), cfl responses for the
    dashboards, edu_quiz participant codes, an audit entry with a hostile reason, and an admin
    account. Returns the id of one hostile probe response."""
    (root / "questionnaires").mkdir(parents=True, exist_ok=True)
    (root / "questionnaires" / "xss_probe.yaml").write_text(PROBE_YAML, encoding="utf-8")
    store = ParquetResponseStore(root)
    registry = load_registry(root)
    started = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    hostile = ""
    for i in range(12):
        rid = new_response_id()
        hostile = hostile or rid
        submit_answers(
            store, PROBE, {**PROBE_ANSWERS, "q_interest": ("rise", "fall")[i % 2]},
            response_id=rid, language="zh", started_at=started, consent_version="p1",
            paradata=Paradata(page_seconds={"about": 30.0}),
        )  # fmt: skip
    fill_store(store, registry.latest("cfl"), 60, seed=11)
    quiz = registry.latest("edu_quiz")
    rng = random.Random(5)
    for code in CODES:
        for phase in ("pre", "post"):
            answers = {
                q.name: rng.choice(list(q.choices.names))
                for q in quiz.questions
                if q.type == "single_choice" and q.choices is not None and q.role is None
            }
            answers.update({"participant_code": code, "phase": phase, "q_simple_interest": 110})
            submit_answers(
                store, quiz, answers, response_id=new_response_id(), language="zh",
                started_at=started, consent_version=quiz.consent.version if quiz.consent else None,
                paradata=Paradata(),
            )  # fmt: skip
    store.state.append_audit("note", actor="ops", target=PAYLOADS[2], details={"why": COMMENT})
    settings = AccessSettings(
        data_dir=root, argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1
    )
    access.add_user("wang.li", PASSWORD, role="admin", name=PAYLOADS[4][:60], settings=settings)
    store.close()
    return hostile
