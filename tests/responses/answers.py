"""Hypothesis strategies: valid random answer sets for a questionnaire, and invalid mutations.

``valid_answers(q)`` walks the questions in order, asks :func:`relevant_questions` which apply
given the answers drawn so far, leaves optional ones out at random, and draws a value that
meets the type, ``min``/``max``, ``decimals``, ``min_selected``/``max_selected``, exclusive
options, ``max_length`` and the ``constraint`` (redrawing when a constraint fails; a
question that keeps failing is left out if optional, else the example is rejected). Texts are
drawn already normalised, so the answers equal their cleaned form.

``invalid_answers(q)`` takes valid answers and breaks exactly one thing about one question;
it returns the broken answers and the name that must appear in a problem.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from questionnaires.model import SPECIAL_CODES, Question, Questionnaire
from responses.validation import _holds, normalize_text, relevant_questions

_TEXT_ALPHABET = st.characters(
    exclude_categories=("Cs", "Cc", "Co", "Cn"),
    include_characters="\n\t",
)


def _options(q: Question) -> list[str]:
    return list(q.choices.names) if q.choices is not None else []


def _text(q: Question) -> st.SearchStrategy[str]:
    @st.composite
    def text_for(draw: st.DrawFn) -> str:
        return _draw_text(draw, q)

    return text_for()


def _draw_text(draw: st.DrawFn, q: Question) -> str:
    limit = q.max_length or 500
    size = draw(st.integers(1, min(limit, 40)))
    raw = draw(st.text(_TEXT_ALPHABET, min_size=size, max_size=size))
    text = normalize_text(raw)
    assume(text and len(text) <= limit)
    return text


def _value(q: Question) -> st.SearchStrategy[Any]:
    """A well-typed, in-range answer for ``q`` (the constraint is checked by the caller)."""
    specials = st.sampled_from(q.special) if q.special else st.nothing()
    if q.type in ("single_choice", "likert", "matrix_item"):
        return st.sampled_from(_options(q)) | specials
    if q.type == "multiple_choice":
        plain = [o for o in _options(q) if o not in q.exclusive]
        low = max(q.min_selected or 1, 1)
        high = min(q.max_selected if q.max_selected is not None else len(plain), len(plain))
        parts: list[st.SearchStrategy[Any]] = []
        if low <= high:
            parts.append(
                st.lists(st.sampled_from(plain), unique=True, min_size=low, max_size=high).map(
                    frozenset
                )
            )
        if q.exclusive:
            parts.append(st.sampled_from(q.exclusive).map(lambda e: frozenset({e})))
        return st.one_of(*parts) | specials
    if q.type == "integer":
        low = int(q.min) if q.min is not None else -(10**9)
        high = int(q.max) if q.max is not None else 10**9
        return st.integers(low, high) | specials
    if q.type == "decimal":
        lowf = q.min if q.min is not None else -1e9
        highf = q.max if q.max is not None else 1e9
        if q.decimals is None:
            return st.floats(lowf, highf, allow_nan=False, allow_infinity=False) | specials
        scale = 10**q.decimals
        numbers = st.integers(math.ceil(lowf * scale), math.floor(highf * scale)).map(
            lambda k: k / scale
        )
        return numbers | specials
    if q.type == "text":
        return _text(q)
    raise AssertionError(f"no answers for {q.type}")  # pragma: no cover


def valid_answers(questionnaire: Questionnaire) -> st.SearchStrategy[dict[str, Any]]:
    """Valid answers to ``questionnaire`` (see the module docstring)."""

    @st.composite
    def answers_to(draw: st.DrawFn) -> dict[str, Any]:  # no arguments: a short repr
        return _valid(draw, questionnaire)

    return answers_to()


def _valid(draw: st.DrawFn, questionnaire: Questionnaire) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for q in questionnaire.questions:
        if not q.is_answerable:
            continue
        relevance = relevant_questions(questionnaire, answers)
        if q.name not in relevance:
            continue
        if not q.required and draw(st.booleans()):
            continue
        for _ in range(25):
            value = draw(_value(q))
            if value in SPECIAL_CODES or _holds(q.constraint, relevance.values, value):
                answers[q.name] = value
                break
        else:
            assume(not q.required)
    return answers


def _answered(questionnaire: Questionnaire, answers: dict[str, Any]) -> list[Question]:
    return [q for q in questionnaire.questions if q.is_answerable and q.name in answers]


def invalid_answers(
    questionnaire: Questionnaire,
) -> st.SearchStrategy[tuple[dict[str, Any], str, str]]:
    """(broken answers, the name a problem must name, the kind of breakage)."""

    @st.composite
    def broken_answers_to(draw: st.DrawFn) -> tuple[dict[str, Any], str, str]:
        return _invalid(draw, questionnaire)

    return broken_answers_to()


def _invalid(draw: st.DrawFn, questionnaire: Questionnaire) -> tuple[dict[str, Any], str, str]:
    answers = _valid(draw, questionnaire)
    relevance = relevant_questions(questionnaire, answers)
    answered = _answered(questionnaire, answers)
    irrelevant = [q for q in questionnaire.questions if q.is_answerable and q.name not in relevance]
    kinds: dict[str, list[Question]] = {
        "drop_required": [q for q in answered if q.required],
        "unknown_option": [
            q for q in answered if q.type in ("single_choice", "likert", "matrix_item")
        ],
        "special_not_allowed": [
            q for q in answered if q.type != "text" and set(SPECIAL_CODES) - set(q.special)
        ],
        "out_of_range": [
            q
            for q in answered
            if q.type in ("integer", "decimal") and (q.min is not None or q.max is not None)
        ],
        "not_integer": [q for q in answered if q.type == "integer"],
        "wrong_type": answered,
        "too_long": [q for q in answered if q.type == "text"],
        "surrogate": [q for q in answered if q.type == "text"],
        "too_many": [
            q
            for q in answered
            if q.type == "multiple_choice"
            and q.max_selected is not None
            and len([o for o in _options(q) if o not in q.exclusive]) > q.max_selected
        ],
        "exclusive": [q for q in answered if q.type == "multiple_choice" and q.exclusive],
        "irrelevant": irrelevant,
        "unknown_name": [],
    }
    choices = [k for k, qs in kinds.items() if qs or k == "unknown_name"]
    kind = draw(st.sampled_from(choices))
    broken = dict(answers)
    if kind == "unknown_name":
        name = draw(st.sampled_from(["zz_unknown", "agee", "q__x", "Province"]))
        broken[name] = 1
        return broken, name, kind
    q = draw(st.sampled_from(kinds[kind]))
    if kind == "drop_required":
        del broken[q.name]
    elif kind == "unknown_option":
        broken[q.name] = "zz_not_an_option"
    elif kind == "special_not_allowed":
        broken[q.name] = sorted(set(SPECIAL_CODES) - set(q.special))[0]
    elif kind == "out_of_range":
        broken[q.name] = (q.max + 1) if q.max is not None else (q.min - 1)  # type: ignore[operator]
    elif kind == "not_integer":
        broken[q.name] = 2.5
    elif kind == "wrong_type":
        broken[q.name] = {
            "text": 42,
            "multiple_choice": 3,
            "integer": "abc",
            "decimal": "abc",
        }.get(q.type, 12345)
    elif kind == "too_long":
        broken[q.name] = "x" * ((q.max_length or 500) + 1)
    elif kind == "surrogate":
        broken[q.name] = "ab\ud800cd"
    elif kind == "too_many":
        broken[q.name] = frozenset(o for o in _options(q) if o not in q.exclusive)
    elif kind == "exclusive":
        plain = [o for o in _options(q) if o not in q.exclusive]
        broken[q.name] = frozenset({q.exclusive[0], plain[0]})
    elif kind == "irrelevant":
        broken[q.name] = draw(_value(q))
    return broken, q.name, kind
