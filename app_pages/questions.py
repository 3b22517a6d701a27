"""Drawing questions as widgets, and reading the answers back from them.

The answers of a :class:`~app_pages.flow.SurveyRun` are the truth; widgets are seeded from them
each time a screen is drawn and read back at the start of every rerun (:func:`sync_answers`), so
nothing is lost when the respondent goes back, forth, or resumes on another device.

Widget keys, also used by the tests (``streamlit.testing`` finds widgets by key):

==========================  =========================================================
question                    widgets
==========================  =========================================================
single choice, likert,      ``q__<name>``: a radio (a select box past 12 options) whose
matrix item                 value is the option name or special answer
multiple choice             ``q__<name>__<option>``: one checkbox per option and per
                            special answer
integer, decimal            ``q__<name>``: a number input; ``q__<name>__<special>``: a
                            checkbox per special answer
text                        ``q__<name>``: a text input (a text area when ``max_length``
                            allows more than 100 characters, except contact details and
                            participant codes)
==========================  =========================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import streamlit as st

from app_pages.flow import SurveyRun
from questionnaires.model import SPECIAL_CODES, SPECIAL_LABELS, Question

LabelVisibility = Literal["visible", "hidden", "collapsed"]

PREFIX = "q__"
#: Past this many options a single choice is a select box instead of a radio.
SELECTBOX_FROM = 13
#: A text question whose ``max_length`` is at least this gets a text area.
TEXT_AREA_FROM = 101


def key(question: str, part: str | None = None) -> str:
    """The widget key of a question (``part``: an option or special answer)."""
    return f"{PREFIX}{question}" if part is None else f"{PREFIX}{question}__{part}"


def md(text: str) -> str:
    """Author text made safe for Streamlit markdown (``$`` would start LaTeX)."""
    return text.replace("$", "\\$")


def _options(question: Question, run: SurveyRun) -> list[str]:
    return [*run.order_of(question), *question.special]


def _option_label(question: Question, lang: str) -> Callable[[str], str]:
    labels: dict[str, str] = {}
    if question.choices is not None:
        labels.update({c.name: c.label.get(lang) for c in question.choices})
    labels.update({s: SPECIAL_LABELS[s].get(lang) for s in SPECIAL_CODES})
    return lambda name: labels.get(name, name)


def _multi_parts(question: Question) -> list[str]:
    names = list(question.choices.names) if question.choices is not None else []
    return [*names, *question.special]


def widget_keys(question: Question) -> list[str]:
    """Every widget key a question (or matrix: its items) uses."""
    if question.type == "matrix":
        return [k for item in question.items for k in widget_keys(item)]
    if question.type == "multiple_choice":
        return [key(question.name, p) for p in _multi_parts(question)]
    if question.type in ("integer", "decimal"):
        return [key(question.name), *(key(question.name, s) for s in question.special)]
    if question.type == "note":
        return []
    return [key(question.name)]


def clear_widgets() -> None:
    """Forget every question widget's state (they are seeded from the answers again).

    Call it from a callback (before widgets are drawn), e.g. when moving to another screen.
    """
    for name in [k for k in st.session_state if str(k).startswith(PREFIX)]:
        del st.session_state[name]


def _seed(question: Question, answers: Mapping[str, Any]) -> None:
    """Give the question's widgets the current answer, unless they already hold a value."""
    value = answers.get(question.name)
    state = st.session_state
    if question.type == "multiple_choice":
        chosen: set[str] = set()
        if isinstance(value, str):
            chosen = {value}
        elif isinstance(value, Iterable):
            chosen = {str(v) for v in value}
        for part in _multi_parts(question):
            state.setdefault(key(question.name, part), part in chosen)
    elif question.type in ("integer", "decimal"):
        special = value if isinstance(value, str) and value in SPECIAL_CODES else None
        number = None if special is not None or isinstance(value, str) else value
        if question.type == "integer" and isinstance(number, float) and number.is_integer():
            number = int(number)
        state.setdefault(key(question.name), number)
        for s in question.special:
            state.setdefault(key(question.name, s), s == special)
    elif question.type == "text":
        state.setdefault(key(question.name), value if isinstance(value, str) else "")
    elif question.is_choice:
        state.setdefault(key(question.name), value if isinstance(value, str) else None)


def read_answer(question: Question) -> tuple[bool, Any]:
    """(whether the question's widgets exist, the answer they hold or ``None``)."""
    state = st.session_state
    if question.type == "multiple_choice":
        keys = {p: key(question.name, p) for p in _multi_parts(question)}
        if not any(k in state for k in keys.values()):
            return False, None
        chosen = frozenset(p for p, k in keys.items() if state.get(k))
        if len(chosen) == 1 and next(iter(chosen)) in SPECIAL_CODES:
            return True, next(iter(chosen))
        return True, chosen or None
    if question.type in ("integer", "decimal"):
        main = key(question.name)
        if main not in state:
            return False, None
        for s in question.special:
            if state.get(key(question.name, s)):
                return True, s
        return True, state.get(main)
    if question.type == "text":
        main = key(question.name)
        if main not in state:
            return False, None
        text = state.get(main)
        return True, text if isinstance(text, str) and text.strip() else None
    if question.is_choice:
        main = key(question.name)
        if main not in state:
            return False, None
        return True, state.get(main)
    return False, None


def sync_answers(questions: Iterable[Question], run: SurveyRun) -> bool:
    """Copy what the widgets of ``questions`` hold into ``run.answers``; True if any changed.

    A question whose answer changed loses its validation message.
    """
    changed = False
    for q in questions:
        present, value = read_answer(q)
        if not present:
            continue
        if value is None:
            if q.name in run.answers:
                del run.answers[q.name]
                changed = True
            else:
                continue
        elif run.answers.get(q.name) != value:
            run.answers[q.name] = value
            changed = True
        else:
            continue
        run.errors.pop(q.name, None)
    return changed


# --- callbacks: exclusive options -----------------------------------------------------------


def _on_multi(question: Question, part: str) -> None:
    """A checkbox of a multiple choice changed: keep exclusive options and specials alone."""
    state = st.session_state
    if not state.get(key(question.name, part)):
        return
    alone = set(question.exclusive) | set(question.special)
    for other in _multi_parts(question):
        if other == part:
            continue
        if part in alone or other in alone:
            state[key(question.name, other)] = False


def _on_special(question: Question, special: str) -> None:
    """A special answer of a number question was ticked: untick the other special answer."""
    state = st.session_state
    if not state.get(key(question.name, special)):
        return
    for other in question.special:
        if other != special:
            state[key(question.name, other)] = False


# --- drawing ----------------------------------------------------------------------------------


def heading(question: Question, lang: str, number: int | None) -> str:
    """The question's text as markdown: number, text and, when required, a red asterisk."""
    prefix = f"**{number}.** " if number is not None else ""
    mark = " :red[**\\***]" if question.required and question.type != "note" else ""
    return f"{prefix}{md(question.label.get(lang))}{mark}"


def _error(run: SurveyRun, name: str) -> None:
    message = run.errors.get(name)
    if message:
        st.error(message, icon=":material/error:")


def _unit(question: Question, lang: str) -> str | None:
    return question.unit.get(lang) if question.unit is not None else None


def _aria(question: Question, lang: str) -> str:
    """The accessible label of an input: the question text (and unit)."""
    text = " ".join(question.label.get(lang).split())
    unit = _unit(question, lang)
    return md(
        f"{text}（{unit}）" if unit and lang == "zh" else f"{text} ({unit})" if unit else text
    )


def draw_question(
    question: Question,
    run: SurveyRun,
    *,
    lang: str,
    number: int | None,
    relevant: Callable[[str], bool],
) -> None:
    """Draw one top-level question (a matrix with its relevant items) and its messages."""
    if question.type == "note":
        st.info(md(question.label.get(lang)), icon=":material/info:")
        return
    with st.container(key=f"block_{question.name}"):
        st.markdown(heading(question, lang, number))
        if question.hint is not None:
            st.caption(md(question.hint.get(lang)))
        if question.type == "matrix":
            _draw_matrix(question, run, lang=lang, relevant=relevant)
            return
        _seed(question, run.answers)
        if question.type == "multiple_choice":
            _draw_multiple(question, run, lang)
        elif question.type in ("integer", "decimal"):
            _draw_number(question, run, lang)
        elif question.type == "text":
            _draw_text(question, lang)
        elif question.type == "likert":
            with st.container(key=f"scale_{question.name}"):
                _draw_choice(question, run, lang, horizontal=True)
        else:
            _draw_choice(question, run, lang, horizontal=False)
        _error(run, question.name)


def _draw_choice(
    question: Question,
    run: SurveyRun,
    lang: str,
    *,
    horizontal: bool,
    label: str | None = None,
) -> None:
    options = _options(question, run)
    fmt = _option_label(question, lang)
    shown = label if label is not None else _aria(question, lang)
    visibility: LabelVisibility = "visible" if label is not None else "collapsed"
    if len(options) >= SELECTBOX_FROM:
        st.selectbox(
            shown,
            options,
            index=None,
            format_func=fmt,
            key=key(question.name),
            placeholder="请选择…" if lang == "zh" else "Choose…",
            label_visibility=visibility,
        )
    else:
        st.radio(
            shown,
            options,
            index=None,
            format_func=fmt,
            key=key(question.name),
            horizontal=horizontal,
            label_visibility=visibility,
            width="stretch" if horizontal else "content",
        )


def _draw_matrix(
    question: Question,
    run: SurveyRun,
    *,
    lang: str,
    relevant: Callable[[str], bool],
) -> None:
    items = {item.name: item for item in question.items}
    for name in run.order_of(question):
        item = items[name]
        if not relevant(item.name):
            continue
        _seed(item, run.answers)
        with st.container(border=True, key=f"item_{item.name}"):
            _draw_choice(item, run, lang, horizontal=True, label=md(item.label.get(lang)))
            _error(run, item.name)


def _draw_multiple(question: Question, run: SurveyRun, lang: str) -> None:
    fmt = _option_label(question, lang)
    for part in [*run.order_of(question), *question.special]:
        st.checkbox(
            md(fmt(part)),
            key=key(question.name, part),
            on_change=_on_multi,
            args=(question, part),
        )
    if question.exclusive or question.special:
        alone = [fmt(p) for p in (*question.exclusive, *question.special)]
        sep = "、" if lang == "zh" else ", "
        st.caption(
            f"“{sep.join(alone)}”不能与其他选项同时选择"
            if lang == "zh"
            else f"{sep.join(alone)}: choose on its own"
        )


def _draw_number(question: Question, run: SurveyRun, lang: str) -> None:
    special_on = any(st.session_state.get(key(question.name, s)) for s in question.special)
    integer = question.type == "integer"
    decimals = question.decimals if question.decimals is not None else 2
    unit = _unit(question, lang)
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        st.number_input(
            _aria(question, lang),
            value=None,
            step=1 if integer else 10.0**-decimals,
            format="%d" if integer else f"%.{decimals}f",
            key=key(question.name),
            disabled=special_on,
            placeholder="请输入数字" if lang == "zh" else "Type a number",
            label_visibility="collapsed",
            width=220,
        )
        if unit:
            st.markdown(md(unit))
    for s in question.special:
        st.checkbox(
            SPECIAL_LABELS[s].get(lang),
            key=key(question.name, s),
            on_change=_on_special,
            args=(question, s),
        )


def _draw_text(question: Question, lang: str) -> None:
    limit = question.max_length or 500
    short_roles = ("contact", "participant_code")
    if limit >= TEXT_AREA_FROM and question.role not in short_roles:
        st.text_area(
            _aria(question, lang),
            key=key(question.name),
            max_chars=limit,
            label_visibility="collapsed",
        )
    else:
        st.text_input(
            _aria(question, lang),
            key=key(question.name),
            max_chars=limit,
            label_visibility="collapsed",
        )
