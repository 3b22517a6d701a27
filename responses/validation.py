"""Answer validation: which questions apply, what a valid answer is, and how it is stored.

The respondent app holds answers in the natural form of the expression evaluator
(:meth:`questionnaires.expressions.Expression.evaluate`), keyed by question (or matrix item)
name:

=============================================  ==============================================
question                                       answer
=============================================  ==============================================
``integer``, ``decimal``                       ``int`` / ``float``
``single_choice``, ``likert``, matrix item     the option's *name* (``"female"``)
``multiple_choice``                            a set of option names (a list or tuple is read
                                               as a set)
``text``                                       ``str``
any question with ``special``                  ``"dont_know"`` / ``"prefer_not"``
not answered, or skipped                       absent or ``None`` (also ``""``, an empty set,
                                               NaN)
=============================================  ==============================================

Everything that decides what is valid and how it is stored lives here, so that the app, the
simulator and the tests share it:

- :func:`relevant_questions` and :func:`prune_irrelevant`: skip logic.
- :func:`validate_answers` (a list of :class:`~responses.errors.Problem`, optionally for one
  page) and :func:`check_answers` (raises :class:`~responses.errors.ResponseError` listing every
  problem, returns the cleaned answers).
- :func:`to_columns` / :func:`from_columns`: answers <-> stored coded values.
- :func:`contact_details`: the ``role: contact`` answers, which are stored apart.

Rules
-----
Skip logic follows XLSForm. Sections and questions are walked in order; a section's
``relevant`` is evaluated first (an irrelevant section makes all its questions irrelevant), then
each question's, then, for a matrix, each item's. Expressions see the answers of the questions
found relevant so far: **an answer to an irrelevant question counts as empty**, so a question
whose relevance depends on an irrelevant question sees an empty value.

An answer to a question that skip logic made irrelevant is a validation error (rule
``irrelevant``), not silently dropped: it usually means the app kept an answer the respondent
can no longer see. The app calls :func:`prune_irrelevant` whenever answers change, which
removes exactly those answers, so a submission from the app never carries one.

Checked for every relevant question: required (only when relevant; a matrix item takes its
matrix's ``required``), type, whole numbers for ``integer`` (``25.0`` is accepted as 25),
``min``/``max`` (inclusive), ``decimals`` (decimal places of the number as written: ``1.25`` has
two), option names, special answers allowed on that question, ``min_selected`` /
``max_selected`` (the minimum does not apply when an ``exclusive`` option is chosen on its own),
exclusive options and special answers (which cannot be combined with other options), text
``max_length`` (characters after normalisation), and ``constraint`` (evaluated only on a
non-empty, well-typed answer that is not a special answer: a special answer is a coded
non-answer). For the whole submission: names that are not questions (with a close-match
suggestion), notes and matrices (which take no answer of their own), and the size limit.

Text is normalised before it is checked and stored: ``\\r\\n`` and ``\\r`` become ``\\n``;
control characters other than newline and tab are removed; the text is put in Unicode NFC;
leading and trailing white space is removed (white space only is an empty answer). A text with
lone surrogates (which no UTF-8 file can hold) is refused.

Size: the answers of one submission may take at most :data:`MAX_SUBMISSION_BYTES` (256 KiB)
counted as UTF-8 (texts, names, 8 bytes per number). That is ten times the largest legitimate
submission of the shipped questionnaires (a few texts of at most 5000 characters); a larger one
is refused with a single ``size`` problem before anything else is looked at, so an oversized
payload costs no further work.
"""

from __future__ import annotations

import difflib
import math
import numbers
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Final

from questionnaires.expressions import Expression, parse
from questionnaires.model import SPECIAL_CODES, SPECIAL_LABELS, Question, Questionnaire
from responses.errors import Problem, ResponseError

__all__ = [
    "MAX_SUBMISSION_BYTES",
    "AnswerValue",
    "Problem",
    "Relevance",
    "check_answers",
    "contact_details",
    "from_columns",
    "normalize_text",
    "prune_irrelevant",
    "relevant_questions",
    "to_columns",
    "validate_answers",
]

AnswerValue = int | float | str | frozenset[str]
"""A cleaned answer: a number, an option name or special answer, a set of option names, a text."""

StoredValue = int | float | str | None
"""A stored coded value (one cell of a response row)."""

#: Largest accepted answer payload of one submission, in bytes (see the module docstring).
MAX_SUBMISSION_BYTES: Final = 256 * 1024

_DEFAULT_MAX_LENGTH: Final = 500
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_SPECIAL_BY_CODE: Final = {code: name for name, code in SPECIAL_CODES.items()}
_CHOICE_TYPES: Final = frozenset({"single_choice", "likert", "matrix_item"})
_KEEP_CONTROLS: Final = frozenset("\n\t")

# --- the message catalogue -------------------------------------------------------------------

MESSAGES: Final[Mapping[str, Mapping[str, str]]] = {
    "required": {"zh": "此题为必答题", "en": "This question is required"},
    "int_between": {
        "zh": "请输入 {min} 到 {max} 之间的整数",
        "en": "Enter a whole number from {min} to {max}",
    },
    "int_min": {"zh": "请输入不小于 {min} 的整数", "en": "Enter a whole number of at least {min}"},
    "int_max": {"zh": "请输入不大于 {max} 的整数", "en": "Enter a whole number of at most {max}"},
    "int_any": {"zh": "请输入整数", "en": "Enter a whole number"},
    "num_between": {
        "zh": "请输入 {min} 到 {max} 之间的数字",
        "en": "Enter a number from {min} to {max}",
    },
    "num_min": {"zh": "请输入不小于 {min} 的数字", "en": "Enter a number of at least {min}"},
    "num_max": {"zh": "请输入不大于 {max} 的数字", "en": "Enter a number of at most {max}"},
    "num_any": {"zh": "请输入数字", "en": "Enter a number"},
    "decimals": {"zh": "最多保留 {n} 位小数", "en": "Use at most {n} decimal places"},
    "decimals_1": {"zh": "最多保留 1 位小数", "en": "Use at most 1 decimal place"},
    "choose_one": {"zh": "请从选项中选择一项", "en": "Choose one of the options"},
    "choose_many": {"zh": "请从选项中选择", "en": "Choose from the options"},
    "not_option": {
        "zh": "“{value}”不是此题的选项",
        "en": '"{value}" is not an option of this question',
    },
    "special": {"zh": "此题不能选择“{special}”", "en": 'This question does not offer "{special}"'},
    "min_selected": {"zh": "请至少选择 {n} 项", "en": "Select at least {n} options"},
    "min_selected_1": {"zh": "请至少选择 1 项", "en": "Select at least 1 option"},
    "max_selected": {"zh": "最多只能选择 {n} 项", "en": "Select at most {n} options"},
    "max_selected_1": {"zh": "最多只能选择 1 项", "en": "Select at most 1 option"},
    "exclusive": {
        "zh": "“{option}”不能与其他选项同时选择",
        "en": '"{option}" cannot be combined with other options',
    },
    "text": {"zh": "请输入文字", "en": "Enter text"},
    "max_length": {
        "zh": "最多 {n} 个字，现在有 {m} 个",
        "en": "Use at most {n} characters (there are {m})",
    },
    "characters": {
        "zh": "包含无法识别的字符，请删除后重新输入",
        "en": "This text contains characters that cannot be read; delete them and type it again",
    },
    "constraint": {
        "zh": "答案不符合要求，请检查",
        "en": "This answer is not valid; please check it",
    },
    "irrelevant": {
        "zh": "根据您前面的回答，此题无需作答，请清除此题的答案",
        "en": "This question does not apply given your earlier answers; clear its answer",
    },
    "unknown": {
        "zh": "问卷中没有“{name}”这道题",
        "en": 'There is no question "{name}" in this questionnaire',
    },
    "unknown_hint": {"zh": "（您是不是指“{guess}”？）", "en": ' (did you mean "{guess}"?)'},
    "note": {"zh": "这是说明文字，不需要作答", "en": "This is a note and takes no answer"},
    "matrix": {
        "zh": "这是表格题，请分别回答每一行",
        "en": "This is a table: answer each of its rows",
    },
    "key_type": {
        "zh": "题目名称必须是文字，而不是 {key}",
        "en": "Question names must be text, not {key}",
    },
    "size": {
        "zh": "提交的答案过大（{size} KB），上限为 {limit} KB",
        "en": "The answers are too large to submit ({size} KB; the limit is {limit} KB)",
    },
    "answers": {
        "zh": "答案必须是“题目名称 → 答案”的映射，而不是 {kind}",
        "en": "Answers must be a mapping of question name to answer, not {kind}",
    },
    "closed": {
        "zh": "本调查已结束，感谢您的关注",
        "en": "This survey has closed. Thank you for your interest",
    },
    "consent": {
        "zh": "请先阅读并同意知情同意书（版本 {version}）",
        "en": "Please read and agree to the consent statement (version {version}) first",
    },
    "token_missing": {
        "zh": "本调查仅限受邀者参加：请使用邀请中的链接或邀请码打开问卷",
        "en": "This survey is by invitation only: open it with the link or code in your invitation",
    },
    "token_unknown": {
        "zh": "邀请码无效：请检查邀请中的链接，确保完整地打开了它",
        "en": "The invitation code is not valid: check that you opened the link in your "
        "invitation exactly as it was sent",
    },
    "token_used": {
        "zh": "此邀请已被使用：每个邀请只能提交一份问卷",
        "en": "This invitation has already been used: each invitation is for one response",
    },
    "quota_full": {
        "zh": "感谢您的参与！您所在群体的问卷已经收满，本次调查对您所在的群体已关闭",
        "en": "Thank you for taking part! We have all the responses we need from your group, "
        "so the survey is now closed for it",
    },
    "too_many_attempts": {
        "zh": "尝试次数过多，请 {minutes} 分钟后再试",
        "en": "Too many attempts; please try again in {minutes} minutes",
    },
    "page": {
        "zh": "问卷中没有“{page}”这一页{hint}",
        "en": 'There is no page "{page}" in this questionnaire{hint}',
    },
}


def language_of(language: object) -> str:
    """The message language for ``language``: ``"en"`` for English (``en``, ``en-GB`` ...),
    otherwise ``"zh"``."""
    if isinstance(language, str) and language.lower().split("-")[0] == "en":
        return "en"
    return "zh"


def message(key: str, language: str, /, **values: object) -> str:
    """A message of the catalogue in ``language`` (``zh`` or ``en``), filled in."""
    return MESSAGES[key][language_of(language)].format(**values)


def _show_number(x: float | None) -> str:
    if x is None:
        return ""
    value = float(x)
    return str(int(value)) if value.is_integer() else repr(value)


def _show_value(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= 40 else text[:39] + "…"


def _range_message(q: Question, language: str) -> str:
    kind = "int" if q.type == "integer" else "num"
    if q.min is not None and q.max is not None:
        key = f"{kind}_between"
    elif q.min is not None:
        key = f"{kind}_min"
    elif q.max is not None:
        key = f"{kind}_max"
    else:
        key = f"{kind}_any"
    return message(key, language, min=_show_number(q.min), max=_show_number(q.max))


# --- text ------------------------------------------------------------------------------------


def _has_lone_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


def normalize_text(text: str) -> str:
    """Text as it is checked and stored.

    ``\\r\\n`` and ``\\r`` become ``\\n``; control characters (Unicode category ``Cc``) other
    than newline and tab are removed; the result is put in Unicode NFC and stripped of leading
    and trailing white space. Lone surrogates are left in place (the validator refuses them).

    Examples
    --------
    >>> normalize_text("  Cafe\\u0301\\r\\n\\x00ok ")
    'Café\\nok'
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if any(unicodedata.category(c) == "Cc" and c not in _KEEP_CONTROLS for c in text):
        text = "".join(c for c in text if c in _KEEP_CONTROLS or unicodedata.category(c) != "Cc")
    if not _has_lone_surrogate(text):
        text = unicodedata.normalize("NFC", text)
    return text.strip()


# --- one answer ------------------------------------------------------------------------------

_Found = tuple[object, list[tuple[str, str]]]
"""(the answer as normalised, or as given when it cannot be; None when empty), problems."""


def _is_empty(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str | set | frozenset | list | tuple | dict) and not value:
        return True
    return type(value).__name__ == "NAType"


def _label(q: Question, language: str) -> str:
    return q.label.get(language)


def _special(q: Question, name: str, language: str) -> _Found:
    if name in q.special:
        return name, []
    label = SPECIAL_LABELS[name].get(language)
    return name, [("special", message("special", language, special=label))]


def _as_number(value: object) -> int | float | None:
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return math.nan
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except (OverflowError, ValueError):
            return math.nan
    return None


def _decimal_places(value: int | float) -> int:
    if isinstance(value, int):
        return 0
    try:
        exponent = Decimal(repr(value)).normalize().as_tuple().exponent
    except InvalidOperation:  # pragma: no cover - a finite float always has a repr
        return 0
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _check_number(q: Question, raw: object, language: str) -> _Found:
    if isinstance(raw, str) and raw in SPECIAL_CODES:
        return _special(q, raw, language)
    number = _as_number(raw)
    if number is None or (isinstance(number, float) and not math.isfinite(number)):
        return raw, [("type", _range_message(q, language))]
    low = q.min if q.min is not None else -math.inf
    high = q.max if q.max is not None else math.inf
    if q.type == "integer":
        if isinstance(number, float):
            if not number.is_integer():
                return number, [("integer", _range_message(q, language))]
            number = int(number)
        if not (low <= number <= high and _INT64_MIN <= number <= _INT64_MAX):
            return number, [("range", _range_message(q, language))]
        return number, []
    places = _decimal_places(number)
    try:
        value = float(number)
    except OverflowError:
        return raw, [("type", _range_message(q, language))]
    problems: list[tuple[str, str]] = []
    if not low <= value <= high:
        problems.append(("range", _range_message(q, language)))
    if q.decimals is not None and places > q.decimals:
        if q.decimals == 0:
            problems.append(("decimals", message("int_any", language)))
        else:
            key = "decimals_1" if q.decimals == 1 else "decimals"
            problems.append(("decimals", message(key, language, n=q.decimals)))
    return value, problems


def _check_choice(q: Question, raw: object, language: str) -> _Found:
    if not isinstance(raw, str):
        return raw, [("type", message("choose_one", language))]
    if raw in SPECIAL_CODES:
        return _special(q, raw, language)
    if q.choices is None or q.choices.choice(raw) is None:
        return raw, [("choice", message("not_option", language, value=_show_value(raw)))]
    return raw, []


def _option_label(q: Question, name: str, language: str) -> str:
    if name in SPECIAL_LABELS:
        return SPECIAL_LABELS[name].get(language)
    option = q.choices.choice(name) if q.choices is not None else None
    return option.label.get(language) if option is not None else name


def _check_multiple(q: Question, raw: object, language: str) -> _Found:
    if isinstance(raw, str):
        if raw in SPECIAL_CODES:
            return _special(q, raw, language)
        return raw, [("type", message("choose_many", language))]
    if not isinstance(raw, set | frozenset | list | tuple) or not all(
        isinstance(x, str) for x in raw
    ):
        return raw, [("type", message("choose_many", language))]
    chosen = frozenset(raw)
    specials = [s for s in SPECIAL_CODES if s in chosen]
    if len(specials) == 1 and len(chosen) == 1:
        return _special(q, specials[0], language)
    options = q.choices.names if q.choices is not None else ()
    problems: list[tuple[str, str]] = []
    unknown = [x for x in sorted(chosen) if x not in options and x not in SPECIAL_CODES]
    if unknown:
        sep = "、" if language == "zh" else '", "'
        shown = sep.join(_show_value(x) for x in unknown)
        problems.append(("choice", message("not_option", language, value=shown)))
    for s in specials:
        if s not in q.special:
            problems.extend(_special(q, s, language)[1])
        else:
            label = _option_label(q, s, language)
            problems.append(("exclusive", message("exclusive", language, option=label)))
    for e in q.exclusive:
        if e in chosen and len(chosen) > 1:
            label = _option_label(q, e, language)
            problems.append(("exclusive", message("exclusive", language, option=label)))
    n = len(chosen)
    alone_exclusive = n == 1 and next(iter(chosen)) in q.exclusive
    if q.min_selected is not None and n < q.min_selected and not alone_exclusive:
        key = "min_selected_1" if q.min_selected == 1 else "min_selected"
        problems.append(("min_selected", message(key, language, n=q.min_selected)))
    if q.max_selected is not None and n > q.max_selected:
        key = "max_selected_1" if q.max_selected == 1 else "max_selected"
        problems.append(("max_selected", message(key, language, n=q.max_selected)))
    return chosen, problems


def _check_text(q: Question, raw: object, language: str) -> _Found:
    if not isinstance(raw, str):
        return raw, [("type", message("text", language))]
    text = normalize_text(raw)
    if not text:
        return None, []
    if _has_lone_surrogate(text):
        cleaned = "".join(c for c in text if not "\ud800" <= c <= "\udfff")
        return cleaned or None, [("characters", message("characters", language))]
    limit = q.max_length or _DEFAULT_MAX_LENGTH
    if len(text) > limit:
        return text, [("max_length", message("max_length", language, n=limit, m=len(text)))]
    return text, []


def _check_value(q: Question, raw: object, language: str) -> _Found:
    """The answer normalised (or as given when it cannot be), and what is wrong with it."""
    if _is_empty(raw):
        return None, []
    if q.type in _CHOICE_TYPES:
        return _check_choice(q, raw, language)
    if q.type == "multiple_choice":
        return _check_multiple(q, raw, language)
    if q.type in ("integer", "decimal"):
        return _check_number(q, raw, language)
    if q.type == "text":
        return _check_text(q, raw, language)
    return raw, []  # pragma: no cover - notes and matrices are never checked


# --- the walk through the questionnaire ------------------------------------------------------


@lru_cache(maxsize=4096)
def _expression(text: str) -> Expression:
    return parse(text)


def _holds(text: str | None, values: Mapping[str, object], self_value: object = None) -> bool:
    if text is None:
        return True
    return _expression(text).evaluate_condition(values, self_value=self_value)


@dataclass(frozen=True)
class _Entry:
    question: Question
    relevant: bool
    value: object
    problems: list[tuple[str, str]]


@dataclass(frozen=True)
class _Walk:
    sections: tuple[str, ...]
    relevant: tuple[str, ...]
    entries: tuple[_Entry, ...]
    values: dict[str, object]


def _walk(qn: Questionnaire, answers: Mapping[Any, object], language: str) -> _Walk:
    values: dict[str, object] = {}
    sections: list[str] = []
    relevant: list[str] = []
    entries: list[_Entry] = []

    def visit(q: Question, is_relevant: bool) -> None:
        if is_relevant:
            relevant.append(q.name)
        if not q.is_answerable:
            return
        value, problems = _check_value(q, answers.get(q.name), language)
        if is_relevant and value is not None:
            values[q.name] = value
        entries.append(_Entry(q, is_relevant, value, problems))

    for section in qn.sections:
        section_relevant = _holds(section.relevant, values)
        if section_relevant:
            sections.append(section.name)
        for q in section.questions:
            q_relevant = section_relevant and _holds(q.relevant, values)
            visit(q, q_relevant)
            for item in q.items:
                visit(item, q_relevant and _holds(item.relevant, values))
    return _Walk(tuple(sections), tuple(relevant), tuple(entries), values)


@dataclass(frozen=True)
class Relevance:
    """Which sections (pages) and questions apply, given the answers so far.

    Attributes
    ----------
    sections
        Names of the relevant sections, in order.
    questions
        Names of the relevant questions, in order: notes, matrices and matrix items included.
    values
        The values the expressions saw: the answers to relevant questions, normalised where
        they could be (an answer to an irrelevant question is left out, i.e. empty).
    """

    sections: tuple[str, ...]
    questions: tuple[str, ...]
    values: Mapping[str, object]

    def __contains__(self, name: object) -> bool:
        return name in self.questions or name in self.sections

    def is_relevant(self, name: str) -> bool:
        """Whether the question, matrix item or section ``name`` applies."""
        return name in self


def _check_mapping(answers: object, language: str) -> Mapping[Any, object]:
    if not isinstance(answers, Mapping):
        raise ResponseError(
            Problem(
                None,
                "answers",
                message("answers", language, kind=type(answers).__name__),
                language=language,
            )
        )
    return answers


def relevant_questions(questionnaire: Questionnaire, answers: Mapping[str, object]) -> Relevance:
    """Which sections and questions apply, given the answers so far.

    Parameters
    ----------
    questionnaire
        The questionnaire being answered.
    answers
        The answers so far, in the app's form (see the module docstring).

    Returns
    -------
    Relevance
        The relevant sections and questions (``"age" in relevance``).

    Notes
    -----
    Sections, questions and matrix items are visited in order; each ``relevant`` sees the
    answers of the questions found relevant before it, and an answer to an irrelevant question
    counts as empty (the XLSForm rule). A question in an irrelevant section, or an item of an
    irrelevant matrix, is irrelevant.
    """
    walk = _walk(questionnaire, _check_mapping(answers, "zh"), "zh")
    return Relevance(walk.sections, walk.relevant, walk.values)


def prune_irrelevant(
    questionnaire: Questionnaire, answers: Mapping[str, object]
) -> dict[str, object]:
    """The answers without those to questions that skip logic has made irrelevant.

    Call it whenever answers change (e.g. the respondent changed an earlier answer so that a
    later question no longer applies): the answers it returns never break the ``irrelevant``
    rule. Every other entry, also an unknown name or an invalid value, is kept as given.
    One pass is enough, because an answer to an irrelevant question already counts as empty
    when the later questions' relevance is evaluated.
    """
    walk = _walk(questionnaire, _check_mapping(answers, "zh"), "zh")
    dropped = {e.question.name for e in walk.entries if not e.relevant}
    return {k: v for k, v in answers.items() if k not in dropped}


def _payload_bytes(answers: Mapping[Any, object], limit: int) -> int:
    """UTF-8 size of names and texts plus 8 bytes per number; stops counting past ``limit``."""

    def size(value: object) -> int:
        if isinstance(value, str):
            return len(value.encode("utf-8", "surrogatepass"))
        if isinstance(value, set | frozenset | list | tuple):
            total = 2
            for item in value:
                total += (
                    len(item.encode("utf-8", "surrogatepass")) if isinstance(item, str) else 8
                ) + 1
                if total > limit:
                    break
            return total
        return 8

    total = 0
    for key, value in answers.items():
        total += size(key) + size(value) + 2
        if total > limit:
            break
    return total


def _problem(q: Question, rule: str, text: str, language: str) -> Problem:
    return Problem(q.name, rule, text, _label(q, language), q.section, language)


def _validate(
    qn: Questionnaire,
    answers: object,
    language: str,
    page: str | None,
) -> tuple[list[Problem], dict[str, AnswerValue]]:
    lang = language_of(language)
    mapping = _check_mapping(answers, lang)
    if page is not None and page not in {s.name for s in qn.sections}:
        names = [s.name for s in qn.sections]
        guess = difflib.get_close_matches(str(page), names, n=1)
        hint = (
            message("unknown_hint", lang, guess=guess[0])
            if guess
            else (
                "（共有：" + "、".join(names) + "）"
                if lang == "zh"
                else " (pages: " + ", ".join(names) + ")"
            )
        )
        raise ResponseError(
            Problem(None, "page", message("page", lang, page=page, hint=hint), language=lang)
        )
    size = _payload_bytes(mapping, MAX_SUBMISSION_BYTES)
    if size > MAX_SUBMISSION_BYTES:
        text = message(
            "size", lang, size=math.ceil(size / 1024), limit=MAX_SUBMISSION_BYTES // 1024
        )
        return [Problem(None, "size", text, language=lang)], {}
    walk = _walk(qn, mapping, lang)
    problems: list[Problem] = []
    cleaned: dict[str, AnswerValue] = {}
    for entry in walk.entries:
        q = entry.question
        if page is not None and q.section != page:
            if entry.relevant and entry.value is not None and not entry.problems:
                cleaned[q.name] = entry.value  # type: ignore[assignment]
            continue
        if not entry.relevant:
            if entry.value is not None:
                problems.append(_problem(q, "irrelevant", message("irrelevant", lang), lang))
            continue
        if entry.value is None:
            if q.required:
                problems.append(_problem(q, "required", message("required", lang), lang))
            elif entry.problems:  # e.g. a text of lone surrogates only
                problems.extend(_problem(q, rule, text, lang) for rule, text in entry.problems)
            continue
        if entry.problems:
            problems.extend(_problem(q, rule, text, lang) for rule, text in entry.problems)
            continue
        if (
            q.constraint is not None
            and entry.value not in SPECIAL_CODES
            and not _holds(q.constraint, walk.values, entry.value)
        ):
            text = (
                q.constraint_message.get(lang)
                if q.constraint_message is not None
                else message("constraint", lang)
            )
            problems.append(_problem(q, "constraint", text, lang))
            continue
        cleaned[q.name] = entry.value  # type: ignore[assignment]
    if page is None:
        problems.extend(_name_problems(qn, mapping, lang))
    return problems, cleaned


def _name_problems(qn: Questionnaire, answers: Mapping[Any, object], lang: str) -> list[Problem]:
    """Entries under names that are not answerable questions (only when they hold an answer)."""
    answerable = [q.name for q in qn.questions if q.is_answerable]
    known = set(answerable)
    problems: list[Problem] = []
    for key, value in answers.items():
        if _is_empty(value) or (isinstance(key, str) and key in known):
            continue
        if not isinstance(key, str):
            shown = _show_value(key)
            text = message("key_type", lang, key=shown)
            problems.append(Problem(shown, "unknown", text, language=lang))
            continue
        try:
            q = qn.question(key)
        except KeyError:
            # suggestions for the first names only: a flood of junk keys stays cheap
            guess = difflib.get_close_matches(key, answerable, n=1) if len(problems) < 20 else []
            text = message("unknown", lang, name=_show_value(key))
            if guess:
                text += message("unknown_hint", lang, guess=guess[0])
            problems.append(Problem(key, "unknown", text, language=lang))
            continue
        text = message("matrix" if q.type == "matrix" else "note", lang)
        problems.append(Problem(key, "not_answerable", text, _label(q, lang), q.section, lang))
    return problems


def validate_answers(
    questionnaire: Questionnaire,
    answers: Mapping[str, object],
    *,
    language: str = "zh",
    page: str | None = None,
) -> list[Problem]:
    """Every problem with the answers, in questionnaire order, worded for the respondent.

    Parameters
    ----------
    questionnaire
        The questionnaire being answered.
    answers
        The answers, in the app's form (see the module docstring).
    language
        The respondent's language: messages and labels are in English for ``en``, otherwise
        in Chinese.
    page
        A section name: only the problems of that page's questions (for inline validation
        when the respondent leaves a page). Relevance and constraints still see every answer.
        Problems of the submission as a whole (unknown names, size) are reported only
        without ``page``.

    Returns
    -------
    list of Problem
        Empty when the answers are valid. Each names the question, the rule and the message
        (``Problem.message``; ``str(problem)`` puts the question's label in front).

    Raises
    ------
    ResponseError
        When ``answers`` is not a mapping or ``page`` is not a section name.

    Notes
    -----
    The rules are listed in the module docstring.
    """
    return _validate(questionnaire, answers, language, page)[0]


def check_answers(
    questionnaire: Questionnaire,
    answers: Mapping[str, object],
    *,
    language: str = "zh",
    page: str | None = None,
) -> dict[str, AnswerValue]:
    """Check the answers; return them cleaned, or raise listing every problem.

    Parameters
    ----------
    questionnaire, answers, language, page
        As for :func:`validate_answers`.

    Returns
    -------
    dict
        The answers of the relevant, answered questions in questionnaire order, normalised:
        integers as ``int``, decimals as ``float``, multiple choice as ``frozenset``, text
        normalised (:func:`normalize_text`); empty answers left out.

    Raises
    ------
    ResponseError
        Listing every problem (``exc.details`` holds the :class:`Problem` objects, ``exc.problems``
        their texts), in the respondent's language.
    """
    problems, cleaned = _validate(questionnaire, answers, language, page)
    if problems:
        raise ResponseError(problems)
    return cleaned


# --- stored values ---------------------------------------------------------------------------


def _code_of(q: Question, name: str) -> int:
    if name in SPECIAL_CODES:
        return SPECIAL_CODES[name]
    return q.option_codes()[name]


def encode_answers(
    questionnaire: Questionnaire, cleaned: Mapping[str, AnswerValue]
) -> dict[str, StoredValue]:
    """Cleaned answers (from :func:`check_answers`) -> stored columns, without checking them.

    Use :func:`to_columns` unless the answers were just checked.
    """
    out: dict[str, StoredValue] = {}
    for q in questionnaire.questions:
        if q.role == "contact" or not q.is_answerable:
            continue
        value = cleaned.get(q.name)
        if q.type == "multiple_choice":
            options = q.choices.names if q.choices is not None else ()
            for option in options:
                column = f"{q.name}__{option}"
                if value is None:
                    out[column] = None
                elif isinstance(value, str):
                    out[column] = SPECIAL_CODES[value]
                else:
                    out[column] = 1 if option in value else 0  # type: ignore[operator]
        elif value is None:
            out[q.name] = None
        elif q.type in _CHOICE_TYPES:
            out[q.name] = _code_of(q, str(value))
        elif q.type == "integer":
            out[q.name] = SPECIAL_CODES[value] if isinstance(value, str) else int(value)  # type: ignore[arg-type]
        elif q.type == "decimal":
            out[q.name] = (
                float(SPECIAL_CODES[value]) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
            )
        else:
            out[q.name] = str(value)
    return out


def to_columns(
    questionnaire: Questionnaire,
    answers: Mapping[str, object],
    *,
    language: str = "zh",
) -> dict[str, StoredValue]:
    """The stored coded values of a respondent's answers (one response row, without metadata).

    Parameters
    ----------
    questionnaire
        The questionnaire answered.
    answers
        The answers, in the app's form; they are checked first (:func:`check_answers`).
    language
        Language of the messages if they are refused.

    Returns
    -------
    dict
        Column name -> value, for every column of ``questionnaire.columns(include_contact=False)``
        in that order: a choice as its option's code; a multiple choice as one 0/1 column per
        option, ``<question>__<option>`` (a special answer as -1/-2 in every option column of
        the question); a special answer as -1 (don't know) / -2 (prefer not to say); an integer
        as ``int``, a decimal as ``float``; a text normalised; a skipped or unanswered question
        as ``None``. Contact details (``role: contact``) are left out: see
        :func:`contact_details`.

    Raises
    ------
    ResponseError
        When the answers are not valid (every problem listed).
    """
    return encode_answers(questionnaire, check_answers(questionnaire, answers, language=language))


def _plain(value: object) -> object:
    """Missing values (None, NaN, pandas NA) -> None; numpy scalars -> Python scalars."""
    if value is None or type(value).__name__ == "NAType":
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    item = getattr(value, "item", None)
    if item is not None and not isinstance(value, str):
        value = item()
        if isinstance(value, float) and math.isnan(value):
            return None
    return value


def _stored_code(q: Question, column: str, value: object) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and not value.is_integer())
    ):
        raise ResponseError(
            f"stored column '{column}' holds {value!r}: a code of question '{q.name}' must be a "
            "whole number."
        )
    return int(value)


def from_columns(
    questionnaire: Questionnaire,
    row: Mapping[str, Any],
    *,
    contact: Mapping[str, str] | None = None,
) -> dict[str, AnswerValue]:
    """The respondent's answers back from a stored row (to resume, or for the feedback page).

    Parameters
    ----------
    questionnaire
        The questionnaire version the row answers.
    row
        Column -> stored value (a dict, a ``pandas`` row, an Arrow ``to_pylist()`` row); other
        columns (metadata) are ignored, missing columns read as skipped. ``None``, NaN and
        ``pandas.NA`` are missing.
    contact
        Contact details (:func:`contact_details`) to put back, if known.

    Returns
    -------
    dict
        The answers in the app's form, in questionnaire order; skipped questions are absent.
        For valid answers ``a``:
        ``from_columns(q, to_columns(q, a), contact=contact_details(q, a)) == check_answers(q, a)``.

    Raises
    ------
    ResponseError
        When a stored code is not an option (or allowed special answer) of its question, or a
        multiple choice's columns disagree (some -1, some 1 ...).
    """
    out: dict[str, AnswerValue] = {}
    for q in questionnaire.questions:
        if not q.is_answerable:
            continue
        if q.role == "contact":
            if contact and contact.get(q.name):
                out[q.name] = contact[q.name]
            continue
        if q.type == "multiple_choice":
            options = q.choices.names if q.choices is not None else ()
            cells = {o: _plain(row.get(f"{q.name}__{o}")) for o in options}
            present = {o: v for o, v in cells.items() if v is not None}
            if not present:
                continue
            codes = {o: _stored_code(q, f"{q.name}__{o}", v) for o, v in present.items()}
            distinct = set(codes.values())
            if len(distinct) == 1 and next(iter(distinct)) in _SPECIAL_BY_CODE:
                name = _SPECIAL_BY_CODE[next(iter(distinct))]
                if name in q.special and len(present) == len(options):
                    out[q.name] = name
                    continue
            if len(present) != len(options) or not distinct <= {0, 1}:
                raise ResponseError(
                    f"the stored columns of multiple choice '{q.name}' disagree ({codes}): they "
                    "must all be 0/1, all the same special code, or all missing."
                )
            chosen = frozenset(o for o, c in codes.items() if c == 1)
            if chosen:
                out[q.name] = chosen
            continue
        value = _plain(row.get(q.name))
        if value is None:
            continue
        if q.type in _CHOICE_TYPES:
            code = _stored_code(q, q.name, value)
            names = {c: n for n, c in q.option_codes().items()}
            if code not in names:
                raise ResponseError(
                    f"stored column '{q.name}' holds code {code}, which is not an option of "
                    f"question '{q.name}' (codes: {sorted(names)})."
                )
            out[q.name] = names[code]
        elif q.type in ("integer", "decimal"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ResponseError(
                    f"stored column '{q.name}' holds {value!r}: question '{q.name}' is a number."
                )
            special = _SPECIAL_BY_CODE.get(int(value)) if float(value).is_integer() else None
            if special is not None and special in q.special:
                out[q.name] = special
            elif q.type == "integer":
                out[q.name] = _stored_code(q, q.name, value)
            else:
                out[q.name] = float(value)
        else:
            out[q.name] = str(value)
    return out


def contact_details(
    questionnaire: Questionnaire,
    answers: Mapping[str, object],
    *,
    language: str = "zh",
) -> dict[str, str]:
    """The answers to ``role: contact`` questions (checked and normalised), to store apart.

    They are never part of :func:`to_columns`; :func:`responses.submission.submit_answers`
    keeps them in the state database's contact store, linked to the response by its random id.
    """
    return split_contact(questionnaire, check_answers(questionnaire, answers, language=language))


def split_contact(
    questionnaire: Questionnaire, cleaned: Mapping[str, AnswerValue]
) -> dict[str, str]:
    """The contact answers among already checked answers (see :func:`contact_details`)."""
    return {
        q.name: str(cleaned[q.name])
        for q in questionnaire.questions
        if q.role == "contact" and q.name in cleaned
    }
