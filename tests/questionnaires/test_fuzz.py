"""Random documents never make the loader fail with anything but QuestionnaireError."""

from __future__ import annotations

import copy
import io
import math
import warnings
from typing import Any

import openpyxl
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from questionnaires import (
    QuestionnaireError,
    QuestionnaireWarning,
    parse_questionnaire,
    read_xlsform,
    write_xlsform,
)
from questionnaires.validation import (
    ALL_QUESTION_KEYS,
    DERIVED_KEYS,
    DIMENSION_KEYS,
    OPTION_KEYS,
    SCORE_KEYS,
    SECTION_KEYS,
    TOP_KEYS,
)
from tests.questionnaires.samples import FULL_YAML

KEYS = sorted(
    {*TOP_KEYS, *SECTION_KEYS, *ALL_QUESTION_KEYS, *OPTION_KEYS, *SCORE_KEYS, *DIMENSION_KEYS,
     *DERIVED_KEYS, "zh", "en", "by", "default", "cells", "items", "text"}
)  # fmt: skip
WORDS = [
    "single_choice", "multiple_choice", "likert", "matrix", "integer", "decimal", "text", "note",
    "provinces", "agree5", "sex", "knowledge", "dont_know", "prefer_not", "zh", "en", "open",
    "closed", "province", "male", "female", "${age} >= 18", ". > 0", "selected(${x}, 'a')",
    "yes", "no", "less", "2026.1", "", "a__b", "Q1",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WORDS),
    st.text(max_size=12),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=8), st.integers(-3, 3), st.booleans())
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=6),
    ),
    max_leaves=40,
)


def load_quietly(text: str) -> None:
    """Parse ``text``; only QuestionnaireError may escape, only QuestionnaireWarning be warned."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parse_questionnaire(text, source="fuzz.yaml")
        except QuestionnaireError as exc:
            assert str(exc)
            assert "Traceback" not in str(exc)
    assert all(issubclass(w.category, QuestionnaireWarning) for w in caught), [
        str(w.message) for w in caught
    ]


def dump(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_random_documents(doc: Any) -> None:
    load_quietly(dump(doc))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    load_quietly(text)


BASE = yaml.safe_load(FULL_YAML)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(paths(v, (*prefix, i)))
    return out


ALL_PATHS = paths(BASE)[1:]


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent = doc
        try:
            for step in path[:-1]:
                parent = parent[step]
            last = path[-1]
            action = draw(st.sampled_from(["replace", "delete", "duplicate", "rename"]))
            if action == "replace":
                parent[last] = draw(documents)
            elif action == "delete":
                del parent[last]
            elif action == "duplicate" and isinstance(parent, list):
                parent.insert(last, copy.deepcopy(parent[last]))
            elif action == "rename" and isinstance(parent, dict):
                parent[draw(keys)] = parent.pop(last)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this path
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_of_a_valid_questionnaire(doc: Any) -> None:
    load_quietly(dump(doc))


def _full_workbook() -> bytes:
    buffer = io.BytesIO()
    write_xlsform(parse_questionnaire(FULL_YAML), buffer)
    return buffer.getvalue()


WORKBOOK = _full_workbook()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["survey", "choices", "settings", "dimensions", "derived", "quotas"]),
            st.integers(1, 40),
            st.integers(1, 30),
            st.one_of(scalars, st.sampled_from(["begin_group", "end_group", "select_one agree5"])),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_mutations_of_a_valid_xlsform(changes: list[tuple[str, int, int, Any]]) -> None:
    book = openpyxl.load_workbook(io.BytesIO(WORKBOOK))
    for sheet, row, column, value in changes:
        if isinstance(value, float) and not math.isfinite(value):
            value = str(value)
        if isinstance(value, str):
            value = "".join(ch for ch in value if ch.isprintable())
        book[sheet].cell(row=row, column=column, value=value)
    buffer = io.BytesIO()
    book.save(buffer)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            read_xlsform(buffer.getvalue(), name="fuzz.xlsx")
        except QuestionnaireError as exc:
            assert str(exc)
    assert all(issubclass(w.category, QuestionnaireWarning) for w in caught)
