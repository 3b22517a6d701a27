"""Synthetic responses written through the real store, for the export tests."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence
from typing import Any

from questionnaires import Questionnaire
from questionnaires.model import SPECIAL_CODES
from responses.record import ResponseRecord, hash_token, new_response_id
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
    """Store ``n`` synthetic responses; returns the records stored.

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
            response_id=new_response_id(),
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
