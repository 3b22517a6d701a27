"""Drive the respondent page in AppTest the way a respondent would: widgets by key, then Next."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streamlit.testing.v1 import AppTest

from app_pages.questions import key
from questionnaires.model import SPECIAL_CODES, Question, Questionnaire

KINDS = ("radio", "selectbox", "checkbox", "number_input", "text_input", "text_area", "button")


def find(at: AppTest, kind: str, name: str) -> Any | None:
    """The widget of ``kind`` with key ``name``, or None when it is not on the screen."""
    for widget in getattr(at, kind):
        if widget.key == name:
            return widget
    return None


def has(at: AppTest, name: str) -> bool:
    """Whether any widget has key ``name``."""
    return any(find(at, kind, name) is not None for kind in KINDS)


def messages(at: AppTest) -> list[str]:
    """Texts of the error boxes on the page."""
    return [str(e.value) for e in at.error]


def _set_question(at: AppTest, q: Question, value: Any) -> bool:
    """Put ``value`` into the question's widgets if they are on screen; True if anything changed."""
    changed = False
    if q.type == "multiple_choice":
        parts = [*(q.choices.names if q.choices else ()), *q.special]
        chosen = {value} if isinstance(value, str) else set(value)
        for part in parts:
            box = find(at, "checkbox", key(q.name, part))
            if box is None:
                return False
            want = part in chosen
            if box.value != want:
                box.set_value(want)
                changed = True
        return changed
    if q.type in ("integer", "decimal"):
        box = find(at, "number_input", key(q.name))
        if box is None:
            return False
        special = value if isinstance(value, str) and value in SPECIAL_CODES else None
        for s in q.special:
            check = find(at, "checkbox", key(q.name, s))
            if check is not None and check.value != (s == special):
                check.set_value(s == special)
                changed = True
        if special is None and box.value != value:
            box.set_value(value)
            changed = True
        return changed
    if q.type == "text":
        box = find(at, "text_input", key(q.name)) or find(at, "text_area", key(q.name))
        if box is None:
            return False
        if box.value != value:
            box.input(value)
            changed = True
        return changed
    widget = find(at, "radio", key(q.name)) or find(at, "selectbox", key(q.name))
    if widget is None:
        return False
    if widget.value != value:
        widget.set_value(value)
        changed = True
    return changed


def answer_screen(at: AppTest, questionnaire: Questionnaire, answers: Mapping[str, Any]) -> None:
    """Fill every widget on screen with ``answers``, rerunning while new questions appear."""
    for _ in range(20):
        changed = False
        for q in questionnaire.questions:
            if q.is_answerable and q.name in answers:
                changed |= _set_question(at, q, answers[q.name])
        if not changed:
            return
        at.run()
        assert not at.exception, at.exception
    raise AssertionError("the screen kept changing")


def agree(at: AppTest, *, one_per_page: bool = False) -> None:
    """Agree to the consent statement (optionally choosing one question per screen)."""
    if one_per_page:
        at.checkbox(key="opt_one_per_page").check()
    at.button(key="consent_agree").click().run()
    assert not at.exception, at.exception


def click(at: AppTest, name: str) -> AppTest:
    """Click the button with key ``name`` and rerun."""
    at.button(key=name).click().run()
    assert not at.exception, at.exception
    return at


def complete(
    at: AppTest,
    questionnaire: Questionnaire,
    answers: Mapping[str, Any],
    *,
    max_screens: int = 120,
) -> int:
    """Answer screen after screen and submit; the number of screens seen."""
    for seen in range(1, max_screens + 1):
        answer_screen(at, questionnaire, answers)
        if find(at, "button", "nav_submit") is not None:
            click(at, "nav_submit")
            return seen
        click(at, "nav_next")
        errors = messages(at)
        assert not errors, errors
    raise AssertionError("never reached the last screen")
