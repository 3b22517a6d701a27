"""Answer sets for the app tests: random valid answers along the skip logic, and a store filler.

``random_answers(q, rng)`` walks the questions in order, asks
:func:`responses.validation.relevant_questions` which apply given the answers drawn so far, and
draws a value that meets the question's rules (redrawing when the constraint fails), so every
answer set follows one path through the skip logic. ``overrides`` pins answers to steer the path.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from collections.abc import Mapping
from typing import Any

from questionnaires.model import Question, Questionnaire
from responses.record import new_response_id
from responses.store import ParquetResponseStore
from responses.submission import Paradata, submit_answers
from responses.validation import relevant_questions, validate_answers


def _draw(q: Question, rng: random.Random, *, specials: float, attempt: int = 0) -> Any:
    if q.special and rng.random() < specials:
        return rng.choice(q.special)
    if q.is_choice:
        assert q.choices is not None
        return rng.choice(q.choices.names)
    if q.type == "multiple_choice":
        assert q.choices is not None
        plain = [o for o in q.choices.names if o not in q.exclusive]
        if q.exclusive and rng.random() < 0.15:
            return frozenset({rng.choice(q.exclusive)})
        low = max(q.min_selected or 1, 1)
        high = min(q.max_selected or len(plain), len(plain), 4)
        return frozenset(rng.sample(plain, rng.randint(low, max(low, high))))
    if q.type == "integer":
        low = int(q.min) if q.min is not None else 0
        high = int(q.max) if q.max is not None else low + 1000
        if attempt >= 20:  # a constraint keeps failing: try the smallest values
            return min(high, low + attempt - 20)
        return rng.randint(low, min(high, low + rng.choice([3, 30, 300, 3000, 30000])))
    if q.type == "decimal":
        low = q.min if q.min is not None else 0.0
        high = q.max if q.max is not None else low + 1000
        places = q.decimals if q.decimals is not None else 2
        return round(rng.uniform(low, min(high, low + 500)), places)
    if q.type == "text":
        size = rng.randint(6, min(q.max_length or 12, 12))
        return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(size))
    raise AssertionError(q.type)


def random_answers(
    questionnaire: Questionnaire,
    rng: random.Random,
    *,
    overrides: Mapping[str, Any] | None = None,
    specials: float = 0.1,
) -> dict[str, Any]:
    """A valid answer set following one path through the skip logic."""
    overrides = dict(overrides or {})
    answers: dict[str, Any] = {}
    for q in questionnaire.questions:
        if not q.is_answerable:
            continue
        if q.name not in relevant_questions(questionnaire, answers).questions:
            continue
        if q.name in overrides:
            answers[q.name] = overrides[q.name]
            continue
        if q.role == "contact" or (not q.required and rng.random() < 0.2):
            continue
        for attempt in range(50):
            answers[q.name] = _draw(q, rng, specials=specials, attempt=attempt)
            problems = [
                p
                for p in validate_answers(questionnaire, answers, page=q.section)
                if p.question == q.name
            ]
            if not problems:
                break
        else:
            raise AssertionError(f"no valid answer drawn for {q.name}")
    assert validate_answers(questionnaire, answers) == [], validate_answers(questionnaire, answers)
    return answers


def fill_store(
    store: ParquetResponseStore,
    questionnaire: Questionnaire,
    n: int,
    *,
    seed: int = 1,
    overrides: Mapping[str, Any] | None = None,
) -> list[str]:
    """Submit ``n`` random answer sets through the real submission path; their ids."""
    rng = random.Random(seed)
    ids = []
    consent = questionnaire.consent
    for _ in range(n):
        rid = new_response_id()
        submit_answers(
            store,
            questionnaire,
            random_answers(questionnaire, rng, overrides=overrides),
            response_id=rid,
            language="zh",
            started_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=12),
            consent_version=consent.version if consent is not None else None,
            paradata=Paradata(page_seconds={"x": 10.0}, user_agent="Mozilla/5.0 (iPhone)"),
        )
        ids.append(rid)
    return ids
