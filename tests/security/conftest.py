"""Shared pieces of the security and reliability suite: a questionnaire with free text and a
contact question, a store in a temporary folder, and a one-call submission helper."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from questionnaires import parse_questionnaire
from questionnaires.model import Questionnaire
from responses.record import new_response_id
from responses.store import ParquetResponseStore, SubmitReceipt
from responses.submission import Paradata, submit_answers

ROOT = Path(__file__).resolve().parents[2]

SURVEY_YAML = """\
id: {id}
version: "1"
title: {{zh: 安全测试问卷, en: Security test survey}}
languages: [zh, en]
settings:
  invitation_only: {invitation_only}
consent:
  version: "c-2026"
  text: {{zh: 我同意参加。, en: I agree to take part.}}
sections:
  - name: about
    title: {{zh: 基本情况, en: About you}}
    questions:
      - name: province
        type: single_choice
        role: province
        choices: provinces
        label: {{zh: 省份, en: Province}}
      - name: age
        type: integer
        label: {{zh: 年龄, en: Age}}
        min: 18
        max: 100
      - name: savings
        type: decimal
        label: {{zh: 储蓄（万元）, en: Savings (10k yuan)}}
        required: false
        min: 0
        max: 100000
        decimals: 2
      - name: comment
        type: text
        label: {{zh: 意见, en: Comment}}
        required: false
        max_length: 5000
      - name: phone
        type: text
        role: contact
        label: {{zh: 手机号（抽奖用）, en: Phone (prize draw)}}
        required: false
        max_length: 40
"""

SURVEY: Questionnaire = parse_questionnaire(
    SURVEY_YAML.format(id="secq", invitation_only="false")
)
INVITED: Questionnaire = parse_questionnaire(
    SURVEY_YAML.format(id="secinv", invitation_only="true")
)

ANSWERS: dict[str, Any] = {"province": "gd", "age": 41, "savings": 3.5, "comment": "还不错"}
STARTED = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 5, 1, 8, 9, tzinfo=dt.UTC)
UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126 Mobile Safari/537.36"


def submit(
    store: ParquetResponseStore,
    questionnaire: Questionnaire = SURVEY,
    answers: dict[str, Any] | None = None,
    **overrides: Any,
) -> SubmitReceipt:
    """Submit through the app's one call (``submit_answers``) with plausible defaults."""
    kwargs: dict[str, Any] = {
        "response_id": new_response_id(),
        "language": "zh",
        "started_at": STARTED,
        "consent_version": "c-2026",
        "paradata": Paradata(page_seconds={"about": 40.0}, user_agent=UA),
        "now": NOW,
    }
    kwargs.update(overrides)
    return submit_answers(store, questionnaire, ANSWERS if answers is None else answers, **kwargs)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ParquetResponseStore]:
    with ParquetResponseStore(tmp_path / "data") as s:
        yield s


def every_file_bytes(root: Path) -> bytes:
    """The bytes of every file under ``root`` (responses, state database and its log ...)."""
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())
