"""Synthetic responses written through the real store, for the export tests."""

from __future__ import annotations

import base64
import datetime as dt
import random
from collections.abc import Mapping, Sequence
from typing import Any

from questionnaires import Questionnaire
from questionnaires.model import SPECIAL_CODES
from responses.record import ResponseRecord, hash_token
from responses.state import SQLiteState
from responses.store import STATE_FILE, ParquetResponseStore

PROVINCES = (11, 31, 44, 51)
T0 = dt.datetime(2026, 3, 1, 0, 0, tzinfo=dt.UTC)
TEXT_SAMPLES = ("还可以", '=HYPERLINK("http://x")', "-2+3", "@SUM(A1)", "  +1", "普通回答", "")


class LenientState(SQLiteState):
    """The real state database, except that any invitation token is accepted, even a used
    one: lets a test store two responses with one token, as a restore from an older backup
    could, so that the duplicate-token flag has something to find."""

    def reserve_token(self, questionnaire_id: str, token_hash: str, *, response_id: str) -> None:
        return None


def lenient_store(root: Any) -> ParquetResponseStore:
    """A store whose state accepts any token (see :class:`LenientState`)."""
    from pathlib import Path

    return ParquetResponseStore(root, state=LenientState(Path(root) / STATE_FILE))


def synthetic_answers(
    questionnaire: Questionnaire,
    rnd: random.Random,
    *,
    province: int | None,
    special_rate: float = 0.05,
    skip_rate: float = 0.05,
) -> dict[str, Any]:
    """One answer sheet: every stored column of ``questionnaire`` (not validated)."""
    answers: dict[str, Any] = {}
    for q in questionnaire.questions:
        if not q.is_answerable:
            continue
        specials = [SPECIAL_CODES[s] for s in q.special]
        special = rnd.choice(specials) if specials and rnd.random() < special_rate else None
        skipped = q.relevant is not None and rnd.random() < skip_rate
        if q.role == "contact":
            continue
        if q.role == "province":
            answers[q.name] = province
            continue
        if q.type == "multiple_choice":
            for c in q.choices or ():
                name = f"{q.name}__{c.name}"
                if skipped:
                    answers[name] = None
                elif special is not None:
                    answers[name] = special
                else:
                    answers[name] = int(rnd.random() < 0.3)
        elif q.type in ("single_choice", "likert", "matrix_item"):
            codes = [c.code for c in q.choices or ()]
            answers[q.name] = (
                None if skipped else special if special is not None else rnd.choice(codes)
            )
        elif q.type in ("integer", "decimal"):
            low = int(q.min) if q.min is not None else 0
            high = int(q.max) if q.max is not None else low + 1000
            value: Any = rnd.randint(low, min(high, low + 1000))
            if q.type == "decimal":
                value = value + rnd.choice([0.0, 0.25, 0.5])
            answers[q.name] = None if skipped else special if special is not None else value
        elif q.type == "text":
            if q.role == "participant_code":
                answers[q.name] = f"p{rnd.randint(1, 40):03d}"
            else:
                answers[q.name] = None if skipped else rnd.choice(TEXT_SAMPLES)
    return answers


def fill_store(
    store: ParquetResponseStore,
    questionnaire: Questionnaire,
    n: int,
    *,
    seed: int = 1,
    provinces: Sequence[int | None] = PROVINCES,
    tokens: Mapping[int, str] | None = None,
    copies: Mapping[int, int] | None = None,
    durations: Mapping[int, float] | None = None,
    special_rate: float = 0.05,
) -> list[ResponseRecord]:
    """Store ``n`` synthetic responses; returns the records stored (the same for one seed,
    response ids included).

    ``tokens`` maps a row to an invitation token (its hash is stored); ``copies`` maps a row to
    an earlier row whose answers it repeats; ``durations`` sets durations (seconds).
    """
    rnd = random.Random(seed)
    records: list[ResponseRecord] = []
    for i in range(n):
        province = provinces[i % len(provinces)]
        if copies and i in copies:
            source = records[copies[i]]
            answers = dict(source.answers)
            province = source.province
            device = source.device_class
        else:
            answers = synthetic_answers(
                questionnaire, rnd, province=province, special_rate=special_rate
            )
            device = rnd.choice(["phone", "desktop", "tablet"])
        if (
            questionnaire.role("province") is not None
            and questionnaire.role("province").name == "province"
        ):  # type: ignore[union-attr]
            answers.pop("province", None)
        started = T0 + dt.timedelta(hours=7 * i, minutes=rnd.randint(0, 59))
        duration = (durations or {}).get(i, float(rnd.randint(400, 1400)))
        token = (tokens or {}).get(i)
        record = ResponseRecord(
            questionnaire.id,
            questionnaire.version,
            answers,
            response_id=base64.urlsafe_b64encode(rnd.randbytes(16)).decode()[:22],
            started_at=started,
            submitted_at=started + dt.timedelta(seconds=duration),
            duration_seconds=duration,
            language="zh" if i % 5 else "en",
            province=province,
            consent_version="2026-1",
            page_seconds={"p1": 12.5},
            device_class=device,
            option_order={"k_inflation": ["a", "b"]} if i % 2 else None,
            token_hash=hash_token(token) if token else None,
        )
        store.submit(record)
        records.append(record)
    return records


#: A questionnaire of edge cases: a question named like a reserved word (``in``), labels longer
#: than Stata and SPSS hold, option columns longer than 32 characters, free text with markup,
#: a contact question, income as a number with special answers.
EDGE_YAML = (
    """\
id: edge
version: "1.0"
title: {zh: 边界测试问卷, en: Edge-case questionnaire}
languages: [zh, en]
dimensions:
  - {name: knowledge, label: {zh: 知识, en: Knowledge}, weight: 1}
index: {name: literacy_index, label: {zh: 指数, en: Index}}
sections:
  - name: main
    title: {zh: 题目, en: Questions}
    questions:
      - {name: province, type: single_choice, role: province, label: {zh: 省份, en: Province},
         choices: provinces}
      - name: sex
        type: single_choice
        role: sex
        label: {zh: 性别, en: Sex}
        choices:
          - {name: male, code: 1, label: {zh: 男, en: Male}}
          - {name: female, code: 2, label: {zh: 女, en: Female}}
      - {name: age, type: integer, role: age, min: 18, max: 100, special: [prefer_not],
         label: {zh: 年龄, en: Age}}
      - name: urban
        type: single_choice
        role: urban
        label: {zh: 城乡, en: Urban or rural}
        choices:
          - {name: urban, code: 1, label: {zh: 城镇, en: Urban}}
          - {name: rural, code: 2, label: {zh: 农村, en: Rural}}
      - {name: income, type: integer, role: income, min: 0, max: 10000000,
         special: [dont_know, prefer_not], label: {zh: 年收入（元）, en: Yearly income (yuan)}}
      - name: in
        type: single_choice
        label: {zh: "@LONGZH@", en: "@LONGEN@"}
        special: [dont_know]
        score: {dimension: knowledge, correct: [a]}
        choices:
          - {name: a, code: 1, label: {zh: "@VALZH@", en: A}}
          - {name: b, code: 2, label: {zh: 乙, en: B}}
      - name: products_with_a_long_name
        type: multiple_choice
        label: {zh: 产品, en: Products}
        special: [prefer_not]
        choices:
          - {name: option_name_of_thirty_two_char_a, code: 1, label: {zh: 甲, en: A}}
          - {name: option_name_of_thirty_two_char_b, code: 2, label: {zh: 乙, en: B}}
      - {name: comment, type: text, required: false,
         label: {zh: "其他意见 <b>|x|</b>", en: "Comments <b>|x|</b>"}}
      - {name: phone, type: text, role: contact, required: false,
         label: {zh: 联系电话, en: Phone}}
""".replace("@LONGZH@", "金" * 120)
    .replace("@LONGEN@", "L" * 300)
    .replace("@VALZH@", "值" * 60)
)


def edge() -> Questionnaire:
    """The edge-case questionnaire (:data:`EDGE_YAML`)."""
    from questionnaires import parse_questionnaire

    return parse_questionnaire(EDGE_YAML, source="edge.yaml")


def shipped(name: str) -> Questionnaire:
    """A shipped questionnaire (cfl, oecd_infe, edu_quiz)."""
    from questionnaires import load_questionnaire
    from questionnaires.registry import DEFINITIONS_DIR

    return load_questionnaire(DEFINITIONS_DIR / f"{name}.yaml")
