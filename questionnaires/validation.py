"""The rules of the questionnaire format: a raw document in, a valid model (or problems) out.

One function per group of rules (names, texts, choices, questions, scoring, roles, dimensions,
derived scores, settings, expressions), all writing into one :class:`Problems` collector so an
author sees every problem at once. See ``questionnaires/FORMAT.md`` for the rules themselves.
"""

from __future__ import annotations

import csv
import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from questionnaires.document import NOWHERE, Location, Problems, RawList, RawMap
from questionnaires.model import (
    LANGUAGES,
    QUESTION_TYPES,
    ROLES,
    SPECIAL_CODES,
    Choice,
    ChoiceList,
    Consent,
    DerivedScore,
    Dimension,
    Index,
    Question,
    Questionnaire,
    Quotas,
    Score,
    Section,
    Settings,
    Text,
)

__all__ = ["build_questionnaire", "builtin_choice_lists", "is_valid_name", "provinces"]

NAME_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
VERSION_RE = re.compile(r"[0-9]+(\.[0-9]+)*\Z")
NAME_LIMIT = 32
TEXT_MAX_LENGTH_DEFAULT = 500
TEXT_MAX_LENGTH_LIMIT = 5000
EXPOSURE_KINDS = ("month", "consumer_day", "school", "bank", "online", "other", "none")
PROVINCES_CSV = (
    Path(__file__).resolve().parent.parent / "data" / "reference" / "china_provinces_census2020.csv"
)

TOP_KEYS = (
    "id",
    "version",
    "title",
    "description",
    "languages",
    "status",
    "settings",
    "consent",
    "dimensions",
    "index",
    "choices",
    "sections",
    "derived",
)
TOP_REQUIRED = ("id", "version", "title", "sections")
SECTION_KEYS = ("name", "title", "description", "relevant", "questions")
_BASE = ("name", "type", "label", "hint", "required", "relevant", "role")
_CHECK = ("constraint", "constraint_message")
_SCORED = ("score", "explanation")
TYPE_KEYS: dict[str, tuple[str, ...]] = {
    "single_choice": (*_BASE, *_CHECK, "choices", "randomize", "special", *_SCORED, "expected"),
    "multiple_choice": (
        *_BASE,
        *_CHECK,
        "choices",
        "randomize",
        "special",
        "min_selected",
        "max_selected",
        "exclusive",
        *_SCORED,
    ),
    "likert": (*_BASE, *_CHECK, "choices", "special", *_SCORED),
    "matrix": (
        "name",
        "type",
        "label",
        "hint",
        "required",
        "relevant",
        "choices",
        "items",
        "randomize",
        "special",
    ),
    "integer": (*_BASE, *_CHECK, "min", "max", "unit", "special", *_SCORED),
    "decimal": (*_BASE, *_CHECK, "min", "max", "unit", "decimals", "special", *_SCORED),
    "text": (*_BASE, *_CHECK, "max_length"),
    "note": ("name", "type", "label", "hint", "relevant"),
}
ALL_QUESTION_KEYS = tuple(dict.fromkeys(k for keys in TYPE_KEYS.values() for k in keys))
ITEM_KEYS = ("name", "label", "relevant", "score", "explanation")
OPTION_KEYS = ("name", "code", "label", "exposure", "recency_months")
SCORE_KEYS = ("dimension", "correct", "tolerance", "points", "reverse")
DIMENSION_KEYS = ("name", "label", "weight", "score")
INDEX_KEYS = ("name", "label", "note")
DERIVED_KEYS = ("name", "label", "expression", "type", "min", "max")
SETTINGS_KEYS = ("invitation_only", "one_question_per_page", "quotas")
QUOTA_KEYS = ("by", "default", "cells")
CONSENT_KEYS = ("version", "text")
LANGUAGE_ALIASES = {
    "english": "en", "en-us": "en", "en_us": "en", "en-gb": "en", "英文": "en", "英语": "en",
    "chinese": "zh", "cn": "zh", "zh-cn": "zh", "zh_cn": "zh", "zh-hans": "zh", "中文": "zh",
}  # fmt: skip
TYPE_ALIASES = {
    "select_one": "single_choice",
    "select one": "single_choice",
    "single": "single_choice",
    "select_multiple": "multiple_choice",
    "select multiple": "multiple_choice",
    "multiple": "multiple_choice",
    "int": "integer",
    "number": "integer' or 'decimal",
    "float": "decimal",
    "string": "text",
    "scale": "likert",
}
#: Which roles go on which question types.
ROLE_TYPES: dict[str, tuple[str, ...]] = {
    "province": ("single_choice",),
    "sex": ("single_choice",),
    "age": ("integer", "single_choice"),
    "urban": ("single_choice",),
    "education": ("single_choice",),
    "income": ("single_choice", "integer", "decimal"),
    "occupation": ("single_choice",),
    "exposure": ("multiple_choice",),
    "exposure_recency": ("single_choice",),
    "participant_code": ("text",),
    "phase": ("single_choice",),
    "attention_check": ("single_choice",),
    "contact": ("text",),
}
ROLE_OPTIONS: dict[str, tuple[str, ...]] = {
    "sex": ("male", "female"),
    "urban": ("urban", "rural"),
    "phase": ("pre", "post"),
}


# -- small helpers ------------------------------------------------------------------------


def _suggest(word: object, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close match exists, else ``""``."""
    match = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _a(word: str) -> str:
    """``word`` with its indefinite article (``an integer``, ``a text``)."""
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _and(words: Sequence[str]) -> str:
    """``a, b and c``."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _join(words: Iterable[str]) -> str:
    return ", ".join(words)


#: Question key -> a note on which types use it (for "does not belong" messages).
KEY_OWNERS: dict[str, str] = {
    key: f" (it is used by {_and([t for t, keys in TYPE_KEYS.items() if key in keys])} questions)"
    for key in ALL_QUESTION_KEYS
}


def _show(value: object, loc: Location | None = None) -> str:
    """A value as the author wrote it."""
    if loc is not None and loc.text is not None:
        return loc.text
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (RawMap, dict)):
        return "a mapping"
    if isinstance(value, (RawList, list)):
        return "a list"
    return str(value)


def _is_number(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not (isinstance(value, float) and not math.isfinite(value))
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_valid_name(name: object) -> bool:
    """True when ``name`` is a valid identifier of the format."""
    return (
        isinstance(name, str)
        and NAME_RE.match(name) is not None
        and len(name) <= NAME_LIMIT
        and "__" not in name
    )


def _sanitize(name: str) -> str:
    s = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower())
    s = re.sub(r"_{2,}", "_", s).strip("_")
    s = re.sub(r"^[^a-z]+", "", s)
    return s[:NAME_LIMIT].rstrip("_")


def _bool_word(loc: Location, value: bool) -> str:
    if loc.text is not None:
        return loc.text
    return "yes" if value else "no"


# -- built-in choice lists -------------------------------------------------------------------


@lru_cache(maxsize=1)
def provinces() -> ChoiceList:
    """The built-in ``provinces`` list: 31 mainland provinces from the 2020 census file."""
    choices: list[Choice] = []
    with PROVINCES_CSV.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            name = row["iso_code"].split("-")[1].lower()
            label = Text.of({"zh": row["name_zh"], "en": row["name_en"]})
            choices.append(Choice(name, int(row["gb_code"]), label))
    return ChoiceList("provinces", tuple(choices))


def builtin_choice_lists() -> dict[str, ChoiceList]:
    """Name -> built-in choice list (needing no definition)."""
    return {"provinces": provinces()}


# -- the builder -----------------------------------------------------------------------------


@dataclass
class _State:
    """What the builder knows so far."""

    languages: tuple[str, ...] = ("zh",)
    lists: dict[str, ChoiceList] = field(default_factory=dict)
    used_lists: set[str] = field(default_factory=set)
    dimensions: dict[str, Dimension] = field(default_factory=dict)
    # every question-namespace name -> (location, what)
    names: dict[str, tuple[Location, str]] = field(default_factory=dict)
    # raw mapping of each question, for locating problems found later
    raw_questions: dict[str, RawMap] = field(default_factory=dict)
    contexts: dict[str, str] = field(default_factory=dict)
    # names of things that were declared but broken: later references stay quiet about them
    broken_lists: set[str] = field(default_factory=set)
    broken_dimensions: set[str] = field(default_factory=set)
    languages_broken: bool = False
    section_locs: dict[str, Location] = field(default_factory=dict)


class _Builder:
    def __init__(self, problems: Problems) -> None:
        self.p = problems
        self.s = _State()

    # -- generic checks ------------------------------------------------------------------

    def error(self, loc: Location, context: str, message: str) -> None:
        self.p.error(loc, context, message)

    def mapping(self, value: Any, loc: Location, context: str, what: str) -> RawMap | None:
        if isinstance(value, RawMap):
            return value
        self.error(
            loc,
            context,
            f"{what} must be a mapping of keys and values, not "
            f"{_kind(value)}; check the indentation",
        )
        return None

    def keys(
        self,
        m: RawMap,
        context: str,
        allowed: Sequence[str],
        required: Sequence[str],
        *,
        what: str,
        elsewhere: Mapping[str, str] | None = None,
    ) -> None:
        suggested: set[str] = set()
        for key in m:
            if isinstance(key, str) and key in allowed:
                continue
            loc = m.loc_of(key)
            shown = m.key_texts.get(key, str(key))
            if elsewhere is not None and isinstance(key, str) and key in elsewhere:
                self.error(
                    loc,
                    context,
                    f"the key '{key}' does not belong to {what}{elsewhere[key]}; remove it",
                )
                continue
            suggestion = _suggest(shown, allowed)
            suggested.update(difflib.get_close_matches(str(shown), list(allowed), n=1, cutoff=0.6))
            if suggestion:
                self.error(loc, context, f"unknown key '{shown}'{suggestion}")
            else:
                self.error(
                    loc, context, f"unknown key '{shown}'; the keys of {what} are: {_join(allowed)}"
                )
        for key in required:
            if key not in m and key not in suggested:
                self.error(m.loc, context, f"the key '{key}' is missing; {what} needs '{key}'")

    def name(self, value: Any, loc: Location, context: str, what: str) -> str | None:
        if isinstance(value, bool):
            written = _bool_word(loc, value)
            self.error(
                loc,
                context,
                f"the {what} {written} was read by YAML as "
                f'{"true" if value else "false"}; put it in quotes: "{written}"',
            )
            return None
        if not isinstance(value, str):
            self.error(
                loc,
                context,
                f"the {what} must be a word like 'k_interest', not "
                f"{_kind(value)} ({_show(value, loc)})",
            )
            return None
        if not NAME_RE.match(value):
            fixed = _sanitize(value)
            hint = f", e.g. '{fixed}'" if fixed and is_valid_name(fixed) else ""
            self.error(
                loc,
                context,
                f"the {what} '{value}' is not valid: names use lower-case "
                f"letters a-z, digits and _, and start with a letter{hint}",
            )
            return None
        if len(value) > NAME_LIMIT:
            self.error(
                loc,
                context,
                f"the {what} '{value}' is {len(value)} characters long; "
                f"the limit is {NAME_LIMIT} (Stata's), shorten it",
            )
            return None
        if "__" in value:
            self.error(
                loc,
                context,
                f"the {what} '{value}' contains '__', which separates a "
                "multiple-choice question from its options in column names; use a "
                "single _",
            )
            return None
        return value

    def text(
        self, value: Any, loc: Location, context: str, key: str, *, optional: bool = True
    ) -> Text | None:
        if value is None:
            if not optional:
                self.error(
                    loc, context, f"'{key}' is empty; write the text in {_join(self.s.languages)}"
                )
            return None
        langs = self.s.languages
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            if len(langs) == 1:
                return self._text_string(value, loc, context, key, langs[0])
            example = ", ".join(f"{lang}: ..." for lang in langs)
            self.error(
                loc,
                context,
                f"'{key}' must give the text in every language of the "
                f"questionnaire ({_join(langs)}), as {key}: {{{example}}}",
            )
            return None
        if not isinstance(value, RawMap):
            self.error(
                loc,
                context,
                f"'{key}' must be a text, like {key}: "
                f"{{{', '.join(f'{lang}: ...' for lang in langs)}}}, not {_kind(value)}",
            )
            return None
        out: dict[str, str] = {}
        for lang, s in value.items():
            lang_loc = value.loc_of(lang)
            if not isinstance(lang, str) or lang not in langs:
                shown = value.key_texts.get(lang, str(lang))
                if isinstance(lang, str) and lang in LANGUAGES and self.s.languages_broken:
                    pass
                elif isinstance(lang, str) and lang in LANGUAGES:
                    self.error(
                        lang_loc,
                        context,
                        f"'{key}' has a text in '{lang}', which is "
                        f"not in languages ({_join(langs)}); add it to languages or "
                        "remove the text",
                    )
                else:
                    self.error(
                        lang_loc,
                        context,
                        f"'{key}' has a text in unknown language "
                        f"'{shown}'{_suggest(shown, langs)}; the languages are "
                        f"{_join(langs)}",
                    )
                continue
            got = self._text_string(s, lang_loc, context, f"{key}.{lang}", lang)
            if got is not None:
                out[lang] = got.get(lang)
        for lang in langs:
            if lang not in value:
                self.error(
                    value.loc,
                    context,
                    f"'{key}' has no '{lang}' text; every text needs {_join(langs)}",
                )
        if len(out) != len(langs):
            return None
        return Text.of(out)

    def _text_string(
        self, value: Any, loc: Location, context: str, key: str, lang: str
    ) -> Text | None:
        if _is_number(value):
            value = str(value)
        if not isinstance(value, str):
            self.error(
                loc,
                context,
                f"'{key}' must be a string, not {_kind(value)}; put the text in quotes",
            )
            return None
        if not value.strip():
            self.error(loc, context, f"'{key}' is empty; write the text")
            return None
        return Text.of({lang: value})

    def boolean(self, m: RawMap, key: str, context: str, default: bool) -> bool:
        if key not in m:
            return default
        value = m[key]
        if isinstance(value, bool):
            return value
        self.error(
            m.loc_of(key),
            context,
            f"'{key}' must be true or false, not '{_show(value, m.loc_of(key))}'",
        )
        return default

    def integer(
        self,
        m: RawMap,
        key: str,
        context: str,
        *,
        low: int | None = None,
        high: int | None = None,
    ) -> int | None:
        if key not in m or m[key] is None:
            if key in m:
                self.error(
                    m.loc_of(key),
                    context,
                    f"'{key}' is empty; give a whole number or remove the key",
                )
            return None
        value = m[key]
        loc = m.loc_of(key)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not _is_int(value):
            self.error(loc, context, f"'{key}' must be a whole number, not '{_show(value, loc)}'")
            return None
        if low is not None and value < low:
            self.error(loc, context, f"'{key}' is {value}; it must be at least {low}")
            return None
        if high is not None and value > high:
            self.error(loc, context, f"'{key}' is {value}; it must be at most {high}")
            return None
        return int(value)

    def number(self, m: RawMap, key: str, context: str, *, whole: bool = False) -> float | None:
        if key not in m:
            return None
        value = m[key]
        loc = m.loc_of(key)
        if not _is_number(value):
            self.error(loc, context, f"'{key}' must be a number, not '{_show(value, loc)}'")
            return None
        if whole:
            if isinstance(value, float) and not value.is_integer():
                self.error(
                    loc,
                    context,
                    f"'{key}' is {value} but the answer is a whole "
                    "number; use a whole number or type: decimal",
                )
                return None
            return int(value)
        return float(value) if isinstance(value, float) else int(value)

    def string(self, m: RawMap, key: str, context: str) -> str | None:
        if key not in m:
            return None
        value = m[key]
        loc = m.loc_of(key)
        if not isinstance(value, str) or not value.strip():
            self.error(
                loc,
                context,
                f"'{key}' must be a non-empty text, not '{_show(value, loc)}'; put it in quotes",
            )
            return None
        return value

    def word_list(self, m: RawMap, key: str, context: str) -> list[tuple[Any, Location]]:
        """A list of words (a single word is accepted as a list of one)."""
        value = m.get(key)
        loc = m.loc_of(key)
        if isinstance(value, RawList):
            return [(v, value.loc_of(i)) for i, v in enumerate(value)]
        if isinstance(value, (str, bool)):
            return [(value, loc)]
        self.error(loc, context, f"'{key}' must be a list like [a, b], not {_kind(value)}")
        return []

    def claim(self, name: str, loc: Location, context: str, what: str) -> bool:
        """Reserve a name in the question/item/derived namespace."""
        if name in self.s.names:
            first_loc, first_what = self.s.names[name]
            where = f" ({first_loc})" if str(first_loc) else ""
            self.error(
                loc,
                context,
                f"the name '{name}' is already used by {first_what}{where}; "
                "names of questions, matrix items and derived scores must be unique",
            )
            return False
        self.s.names[name] = (loc, what)
        return True

    # -- top level -------------------------------------------------------------------------

    def build(self, raw: Any) -> Questionnaire | None:
        doc = self.mapping(raw, NOWHERE, "", "the questionnaire")
        if doc is None:
            return None
        self.keys(doc, "", TOP_KEYS, TOP_REQUIRED, what="a questionnaire")
        self.s.languages = self.languages(doc)
        qid = self.top_id(doc)
        version = self.version(doc)
        title = (
            self.text(doc["title"], doc.loc_of("title"), "", "title", optional=False)
            if "title" in doc
            else None
        )
        description = self.text(
            doc.get("description"), doc.loc_of("description"), "", "description"
        )
        status = self.status(doc)
        self.choice_lists(doc)
        dimensions = self.dimensions(doc)
        index = self.index(doc)
        sections = self.sections(doc)
        derived = self.derived(doc)
        consent = self.consent(doc)
        settings = self.settings(doc, sections)
        if qid is None or version is None or title is None or sections is None:
            return None
        questionnaire = Questionnaire(
            id=qid,
            version=version,
            title=title,
            languages=self.s.languages,
            sections=sections,
            description=description,
            status=status,
            settings=settings,
            consent=consent,
            dimensions=dimensions,
            index=index,
            choices=tuple(self.s.lists.values()),
            derived=derived,
            source=self.p.source,
        )
        self.cross_checks(questionnaire, doc)
        return questionnaire

    def languages(self, doc: RawMap) -> tuple[str, ...]:
        if "languages" not in doc:
            return ("zh",)
        words = self.word_list(doc, "languages", "")
        langs: list[str] = []
        for value, loc in words:
            if not isinstance(value, str) or value not in LANGUAGES:
                shown = _show(value, loc)
                self.s.languages_broken = True
                alias = LANGUAGE_ALIASES.get(shown.strip().lower())
                self.error(
                    loc,
                    "",
                    f"unknown language '{shown}'"
                    f"{f' (did you mean {alias!r}?)' if alias else _suggest(shown, LANGUAGES)}; "
                    f"the languages are {_join(LANGUAGES)}",
                )
            elif value in langs:
                self.error(loc, "", f"the language '{value}' is listed twice; list it once")
            else:
                langs.append(value)
        if words and "zh" not in langs:
            self.error(doc.loc_of("languages"), "", "languages must include zh (Chinese); add zh")
        if "zh" not in langs:
            langs.insert(0, "zh")
        return tuple(langs)

    def top_id(self, doc: RawMap) -> str | None:
        if "id" not in doc:
            return None
        return self.name(doc["id"], doc.loc_of("id"), "", "id")

    def version(self, doc: RawMap) -> str | None:
        if "version" not in doc:
            return None
        value = doc["version"]
        loc = doc.loc_of("version")
        if _is_number(value):
            written = _show(value, loc)
            self.error(
                loc,
                "",
                f"the version {written} must be quoted, as version: "
                f'"{written}" (unquoted, YAML reads it as a number: 2026.10 would '
                "become 2026.1)",
            )
            return None
        if not isinstance(value, str) or not VERSION_RE.match(value):
            self.error(
                loc,
                "",
                f"the version '{_show(value, loc)}' is not valid: write "
                'dot-separated numbers in quotes, like version: "2026.1"',
            )
            return None
        return value

    def status(self, doc: RawMap) -> Any:
        value = doc.get("status", "open")
        if value in ("open", "closed") and isinstance(value, str):
            return value
        shown = _show(value, doc.loc_of("status"))
        self.error(
            doc.loc_of("status"),
            "",
            f"the status '{shown}' is not valid"
            f"{_suggest(shown, ('open', 'closed'))}; use open or closed",
        )
        return "open"

    # -- choices ---------------------------------------------------------------------------

    def choice_lists(self, doc: RawMap) -> None:
        if "choices" not in doc:
            return
        lists = self.mapping(doc["choices"], doc.loc_of("choices"), "", "'choices'")
        if lists is None:
            return
        for list_name, options in lists.items():
            loc = lists.loc_of(list_name)
            name = self.name(list_name, loc, "", "choice list name")
            if name is None:
                continue
            context = f"choice list '{name}'"
            if name in builtin_choice_lists():
                self.error(
                    loc,
                    context,
                    f"'{name}' is the name of a built-in list; use "
                    f"choices: {name} without defining it, or choose another name",
                )
                continue
            built = self.options(options, loc, context)
            if built is not None:
                self.s.lists[name] = ChoiceList(name, built)
            else:
                self.s.broken_lists.add(name)

    def options(self, raw: Any, loc: Location, context: str) -> tuple[Choice, ...] | None:
        if not isinstance(raw, RawList) or not raw:
            self.error(
                loc, context, "the options must be a non-empty list of {name, label} mappings"
            )
            return None
        choices: list[Choice] = []
        names: dict[str, int] = {}
        codes: dict[int, str] = {}
        ok = True
        for i, item in enumerate(raw):
            item_loc = raw.loc_of(i)
            m = self.mapping(item, item_loc, f"{context}, option {i + 1}", "an option")
            if m is None:
                ok = False
                continue
            raw_name = m.get("name")
            shown_name = raw_name if isinstance(raw_name, str) else i + 1
            octx = (
                f"{context}, option '{shown_name}'"
                if isinstance(raw_name, str)
                else f"{context}, option {i + 1}"
            )
            self.keys(m, octx, OPTION_KEYS, ("name", "label"), what="an option")
            name = (
                self.name(raw_name, m.loc_of("name"), octx, "option name") if "name" in m else None
            )
            label = (
                self.text(m.get("label"), m.loc_of("label"), octx, "label", optional=False)
                if "label" in m
                else None
            )
            code: int | None = i + 1
            if "code" in m:
                code = self.integer(m, "code", octx)
                if code is not None and code < 0:
                    self.error(
                        m.loc_of("code"),
                        octx,
                        f"the code {code} is negative; codes "
                        "must be 0 or more (-1 and -2 are kept for the special answers: "
                        "use special: [dont_know, prefer_not])",
                    )
                    code = None
            if name is not None and name in SPECIAL_CODES:
                self.error(
                    m.loc_of("name"),
                    octx,
                    f"the option name '{name}' is kept for the "
                    f"special answer; remove the option and add special: [{name}] to "
                    "the question",
                )
                name = None
            if name is not None:
                if name in names:
                    self.error(
                        m.loc_of("name"),
                        octx,
                        f"the option name '{name}' is used "
                        f"twice in this list (options {names[name]} and {i + 1}); "
                        "option names must be unique",
                    )
                    name = None
                else:
                    names[name] = i + 1
            if code is not None:
                if code in codes:
                    self.error(
                        m.loc_of("code") if "code" in m else m.loc,
                        octx,
                        f"the code {code} is also the code of option '{codes[code]}'; "
                        "codes must be unique within a list",
                    )
                    code = None
                else:
                    codes[code] = str(shown_name)
            exposure = None
            if "exposure" in m:
                value = m["exposure"]
                if isinstance(value, str) and value in EXPOSURE_KINDS:
                    exposure = value
                else:
                    shown = _show(value, m.loc_of("exposure"))
                    self.error(
                        m.loc_of("exposure"),
                        octx,
                        f"the exposure '{shown}' is not "
                        f"known{_suggest(shown, EXPOSURE_KINDS)}; use one of "
                        f"{_join(EXPOSURE_KINDS)}",
                    )
                    ok = False
            recency = (
                self.integer(m, "recency_months", octx, low=0) if "recency_months" in m else None
            )
            if "recency_months" in m and recency is None:
                ok = False
            if name is None or label is None or code is None:
                ok = False
                continue
            choices.append(Choice(name, code, label, exposure, recency))
        return tuple(choices) if ok else None

    def resolve_choices(self, m: RawMap, context: str, qtype: str) -> ChoiceList | None:
        if "choices" not in m:
            self.error(
                m.loc,
                context,
                f"{_a(qtype)} question needs choices: the name of a "
                "list under choices, or a list of options",
            )
            return None
        value = m["choices"]
        loc = m.loc_of("choices")
        if isinstance(value, str):
            builtin = builtin_choice_lists()
            if value in builtin:
                return builtin[value]
            if value in self.s.lists:
                self.s.used_lists.add(value)
                return self.s.lists[value]
            if value in self.s.broken_lists:
                return None
            known = [*self.s.lists, *builtin]
            self.error(
                loc,
                context,
                f"unknown choice list '{value}'{_suggest(value, known)}; "
                "define it under choices: or use one of "
                f"{_join(known)}",
            )
            return None
        if isinstance(value, RawList):
            built = self.options(value, loc, context)
            return ChoiceList(None, built) if built is not None else None
        self.error(
            loc,
            context,
            f"choices must be the name of a choice list or a list of options, not {_kind(value)}",
        )
        return None

    # -- dimensions and index ----------------------------------------------------------------

    def dimensions(self, doc: RawMap) -> tuple[Dimension, ...]:
        if "dimensions" not in doc:
            return ()
        raw = doc["dimensions"]
        loc = doc.loc_of("dimensions")
        if not isinstance(raw, RawList):
            self.error(
                loc, "", f"dimensions must be a list of {{name, label, weight}}, not {_kind(raw)}"
            )
            return ()
        out: list[Dimension] = []
        for i, item in enumerate(raw):
            m = self.mapping(item, raw.loc_of(i), f"dimension {i + 1}", "a dimension")
            if m is None:
                continue
            ctx = (
                f"dimension '{m['name']}'"
                if isinstance(m.get("name"), str)
                else f"dimension {i + 1}"
            )
            self.keys(m, ctx, DIMENSION_KEYS, ("name", "label"), what="a dimension")
            name = (
                self.name(m["name"], m.loc_of("name"), ctx, "dimension name")
                if "name" in m
                else None
            )
            label = (
                self.text(m.get("label"), m.loc_of("label"), ctx, "label", optional=False)
                if "label" in m
                else None
            )
            weight = self.number(m, "weight", ctx)
            if weight is not None and weight < 0:
                self.error(
                    m.loc_of("weight"),
                    ctx,
                    f"the weight {weight} is negative; weights must be 0 or more",
                )
                weight = None
            score = None
            if "score" in m:
                score = self.name(m["score"], m.loc_of("score"), ctx, "derived score name")
            if name is not None and name in self.s.dimensions:
                self.error(
                    m.loc_of("name"),
                    ctx,
                    f"the dimension '{name}' is declared twice; dimension names must be unique",
                )
                continue
            if name is None or label is None or ("weight" in m and weight is None):
                if name is not None:
                    self.s.broken_dimensions.add(name)
                continue
            dim = Dimension(name, label, 1.0 if weight is None else weight, score)
            self.s.dimensions[name] = dim
            out.append(dim)
        if out and not any(d.weight > 0 for d in out):
            self.error(
                loc,
                "",
                "every dimension weight is 0; give at least one dimension a positive weight",
            )
        return tuple(out)

    def index(self, doc: RawMap) -> Index | None:
        if "index" not in doc:
            return None
        m = self.mapping(doc["index"], doc.loc_of("index"), "index", "'index'")
        if m is None:
            return None
        self.keys(m, "index", INDEX_KEYS, ("name", "label"), what="the index")
        name = (
            self.name(m["name"], m.loc_of("name"), "index", "index name") if "name" in m else None
        )
        label = (
            self.text(m.get("label"), m.loc_of("label"), "index", "label", optional=False)
            if "label" in m
            else None
        )
        note = self.text(m.get("note"), m.loc_of("note"), "index", "note")
        if not self.s.dimensions and "dimensions" not in doc:
            self.error(
                m.loc,
                "index",
                "an index is the weighted mean of the dimensions, but "
                "there are no dimensions; declare them under dimensions:",
            )
        if name is None or label is None:
            return None
        return Index(name, label, note)

    # -- sections and questions ---------------------------------------------------------------

    def sections(self, doc: RawMap) -> tuple[Section, ...] | None:
        if "sections" not in doc:
            return None
        raw = doc["sections"]
        loc = doc.loc_of("sections")
        if not isinstance(raw, RawList) or not raw:
            self.error(
                loc,
                "",
                "sections must be a non-empty list of sections "
                "(each with name, title and questions)",
            )
            return None
        out: list[Section] = []
        seen: dict[str, Location] = {}
        ok = True
        for i, item in enumerate(raw):
            m = self.mapping(item, raw.loc_of(i), f"section {i + 1}", "a section")
            if m is None:
                ok = False
                continue
            ctx = f"section '{m['name']}'" if isinstance(m.get("name"), str) else f"section {i + 1}"
            self.keys(m, ctx, SECTION_KEYS, ("name", "title", "questions"), what="a section")
            name = (
                self.name(m["name"], m.loc_of("name"), ctx, "section name") if "name" in m else None
            )
            if name is not None and name in seen:
                self.error(
                    m.loc_of("name"),
                    ctx,
                    f"the section name '{name}' is already used "
                    f"({seen[name]}); section names must be unique",
                )
                name = None
            elif name is not None:
                seen[name] = m.loc_of("name")
            title = (
                self.text(m.get("title"), m.loc_of("title"), ctx, "title", optional=False)
                if "title" in m
                else None
            )
            description = self.text(
                m.get("description"), m.loc_of("description"), ctx, "description"
            )
            relevant = self.string(m, "relevant", ctx)
            if name is not None:
                self.s.section_locs[name] = m.loc_of("relevant")
            questions = self.questions(m, ctx, name or f"section_{i + 1}")
            if name is None or title is None or questions is None:
                ok = False
                continue
            out.append(Section(name, title, questions, description, relevant, m.loc.line))
        return tuple(out) if ok else None

    def questions(
        self, section: RawMap, ctx: str, section_name: str
    ) -> tuple[Question, ...] | None:
        if "questions" not in section:
            return None
        raw = section["questions"]
        if not isinstance(raw, RawList) or not raw:
            self.error(
                section.loc_of("questions"),
                ctx,
                "questions must be a non-empty list of questions (each with name, type and label)",
            )
            return None
        out: list[Question] = []
        ok = True
        for i, item in enumerate(raw):
            q = self.question(item, raw.loc_of(i), f"question {i + 1} of {ctx}", section_name)
            if q is None:
                ok = False
            else:
                out.append(q)
        return tuple(out) if ok else None

    def question(self, raw: Any, loc: Location, fallback: str, section: str) -> Question | None:
        m = self.mapping(raw, loc, fallback, "a question")
        if m is None:
            return None
        ctx = f"question '{m['name']}'" if isinstance(m.get("name"), str) else fallback
        name = self.name(m["name"], m.loc_of("name"), ctx, "question name") if "name" in m else None
        qtype = self.question_type(m, ctx)
        if qtype is not None:
            self.keys(
                m,
                ctx,
                TYPE_KEYS[qtype],
                ("name", "type", "label"),
                what=f"{_a(qtype)} question",
                elsewhere=KEY_OWNERS,
            )
        else:
            self.keys(m, ctx, ALL_QUESTION_KEYS, ("name", "type", "label"), what="a question")
        if name is not None:
            if self.claim(name, m.loc_of("name"), ctx, f"question '{name}'"):
                self.s.raw_questions[name] = m
                self.s.contexts[name] = ctx
            else:
                name = None
        if qtype is None:
            return None
        label = (
            self.text(m.get("label"), m.loc_of("label"), ctx, "label", optional=False)
            if "label" in m
            else None
        )
        hint = self.text(m.get("hint"), m.loc_of("hint"), ctx, "hint")
        required = self.boolean(m, "required", ctx, qtype != "note")
        relevant = self.string(m, "relevant", ctx)
        constraint = self.string(m, "constraint", ctx)
        constraint_message = self.text(
            m.get("constraint_message"), m.loc_of("constraint_message"), ctx, "constraint_message"
        )
        if "constraint" in m and "constraint_message" not in m:
            self.error(
                m.loc_of("constraint"),
                ctx,
                "a constraint needs a constraint_message "
                "telling the respondent what to enter; add constraint_message: "
                f"{{{', '.join(f'{lang}: ...' for lang in self.s.languages)}}}",
            )
        if "constraint_message" in m and "constraint" not in m:
            self.p.warn(
                m.loc_of("constraint_message"),
                ctx,
                "constraint_message is never "
                "shown because there is no constraint; remove it or add a "
                "constraint",
            )
        explanation = self.text(m.get("explanation"), m.loc_of("explanation"), ctx, "explanation")
        if explanation is not None and "score" not in m:
            self.p.warn(
                m.loc_of("explanation"),
                ctx,
                "the explanation is shown only with the "
                "right answer of a scored question, and this question has no score; "
                "add score: or remove the explanation",
            )
        role = self.role_name(m, ctx)
        choices: ChoiceList | None = None
        if qtype in ("single_choice", "multiple_choice", "likert", "matrix"):
            choices = self.resolve_choices(m, ctx, qtype)
            if qtype in ("likert", "matrix") and choices is not None and len(choices) < 2:
                self.error(
                    m.loc_of("choices"),
                    ctx,
                    f"the scale of {_a(qtype)} question needs "
                    f"at least 2 options; it has {len(choices)}",
                )
        randomize = self.boolean(m, "randomize", ctx, False)
        special = self.special(m, ctx, choices)
        kw: dict[str, Any] = {}
        valid = True
        if qtype in ("integer", "decimal"):
            valid = self.number_keys(m, ctx, qtype, special, kw)
        elif qtype == "text":
            kw["max_length"] = self.integer(m, "max_length", ctx, low=1, high=TEXT_MAX_LENGTH_LIMIT)
            if "max_length" in m and kw["max_length"] is None:
                valid = False
            if kw["max_length"] is None:
                kw["max_length"] = TEXT_MAX_LENGTH_DEFAULT
        elif qtype == "multiple_choice":
            valid = self.multiple_keys(m, ctx, choices, kw)
        if "expected" in m:
            expected = m["expected"]
            if not isinstance(expected, str):
                self.error(
                    m.loc_of("expected"),
                    ctx,
                    "expected must be the name of the option an attentive respondent chooses",
                )
                valid = False
            else:
                kw["expected"] = expected
        score = None
        if "score" in m:
            score = self.score(m["score"], m.loc_of("score"), ctx, qtype, choices)
            if score is None:
                valid = False
        items: tuple[Question, ...] = ()
        if qtype == "matrix":
            built = self.matrix_items(m, ctx, name or "matrix", section, choices, special, required)
            if built is None:
                valid = False
            else:
                items = built
        if name is None or label is None or not valid:
            return None
        if qtype in ("single_choice", "multiple_choice", "likert", "matrix") and choices is None:
            return None
        if any(
            k in m and v is None
            for k, v in (
                ("hint", hint),
                ("relevant", relevant),
                ("constraint", constraint),
                ("constraint_message", constraint_message),
                ("explanation", explanation),
            )
        ):
            return None
        if special is None or ("role" in m and role is None):
            return None
        return Question(
            name=name,
            type=qtype,  # type: ignore[arg-type]
            label=label,
            section=section,
            hint=hint,
            required=required,
            relevant=relevant,
            constraint=constraint,
            constraint_message=constraint_message,
            choices=choices,
            randomize=randomize,
            special=special,
            role=role,
            score=score,
            explanation=explanation,
            items=items,
            line=m.loc.line,
            **kw,
        )

    def question_type(self, m: RawMap, ctx: str) -> str | None:
        if "type" not in m:
            return None
        value = m["type"]
        loc = m.loc_of("type")
        if isinstance(value, str) and value in QUESTION_TYPES:
            return value
        shown = _show(value, loc)
        alias = TYPE_ALIASES.get(shown.strip().lower()) if isinstance(value, str) else None
        hint = f" (did you mean '{alias}'?)" if alias else _suggest(shown, QUESTION_TYPES)
        self.error(
            loc,
            ctx,
            f"unknown question type '{shown}'{hint}; the types are {_join(QUESTION_TYPES)}",
        )
        return None

    def role_name(self, m: RawMap, ctx: str) -> str | None:
        if "role" not in m:
            return None
        value = m["role"]
        if isinstance(value, str) and value in ROLES:
            return value
        shown = _show(value, m.loc_of("role"))
        self.error(
            m.loc_of("role"),
            ctx,
            f"unknown role '{shown}'{_suggest(shown, ROLES)}; the roles are {_join(ROLES)}",
        )
        return None

    def special(self, m: RawMap, ctx: str, choices: ChoiceList | None) -> tuple[str, ...] | None:
        if "special" not in m:
            return ()
        out: list[str] = []
        ok = True
        for value, loc in self.word_list(m, "special", ctx):
            if not isinstance(value, str) or value not in SPECIAL_CODES:
                shown = _show(value, loc)
                self.error(
                    loc,
                    ctx,
                    f"unknown special answer '{shown}'"
                    f"{_suggest(shown, SPECIAL_CODES)}; use dont_know and/or "
                    "prefer_not",
                )
                ok = False
            elif value in out:
                self.error(loc, ctx, f"the special answer '{value}' is listed twice")
                ok = False
            else:
                out.append(value)
        if not isinstance(m.get("special"), (RawList, str, bool)):
            ok = False
        return tuple(out) if ok else None

    def number_keys(
        self,
        m: RawMap,
        ctx: str,
        qtype: str,
        special: tuple[str, ...] | None,
        kw: dict[str, Any],
    ) -> bool:
        whole = qtype == "integer"
        lo = self.number(m, "min", ctx, whole=whole)
        hi = self.number(m, "max", ctx, whole=whole)
        ok = ("min" not in m or lo is not None) and ("max" not in m or hi is not None)
        if lo is not None and hi is not None and lo > hi:
            self.error(
                m.loc_of("min"),
                ctx,
                f"min ({_show(lo)}) is larger than max ({_show(hi)}); swap them",
            )
            ok = False
        if special and (lo is None or lo < 0) and ok:
            self.error(
                m.loc_of("min") if "min" in m else m.loc_of("special"),
                ctx,
                f"{_a(qtype)} question with special answers needs min: 0 or more, "
                "because dont_know and prefer_not are stored as -1 and -2; add "
                "min: 0",
            )
            ok = False
        unit = self.text(m.get("unit"), m.loc_of("unit"), ctx, "unit")
        if "unit" in m and unit is None:
            ok = False
        kw.update(min=lo, max=hi, unit=unit)
        if qtype == "decimal":
            decimals = self.integer(m, "decimals", ctx, low=0, high=10)
            if "decimals" in m and decimals is None:
                ok = False
            kw["decimals"] = decimals
        return ok

    def multiple_keys(
        self, m: RawMap, ctx: str, choices: ChoiceList | None, kw: dict[str, Any]
    ) -> bool:
        n = len(choices) if choices is not None else None
        lo = self.integer(m, "min_selected", ctx, low=0, high=n)
        hi = self.integer(m, "max_selected", ctx, low=1, high=n)
        ok = ("min_selected" not in m or lo is not None) and (
            "max_selected" not in m or hi is not None
        )
        if lo is not None and hi is not None and lo > hi:
            self.error(
                m.loc_of("min_selected"),
                ctx,
                f"min_selected ({lo}) is larger than max_selected ({hi}); swap them",
            )
            ok = False
        exclusive: list[str] = []
        if "exclusive" in m:
            for value, loc in self.word_list(m, "exclusive", ctx):
                if choices is None:
                    continue
                if not isinstance(value, str) or value not in choices.names:
                    shown = _show(value, loc)
                    self.error(
                        loc,
                        ctx,
                        f"exclusive names '{shown}', which is not an option "
                        f"of this question{_suggest(shown, choices.names)}; the options "
                        f"are {_join(choices.names)}",
                    )
                    ok = False
                elif value not in exclusive:
                    exclusive.append(value)
            if not isinstance(m["exclusive"], (RawList, str)):
                ok = False
        kw.update(min_selected=lo, max_selected=hi, exclusive=tuple(exclusive))
        return ok

    def matrix_items(
        self,
        m: RawMap,
        ctx: str,
        matrix: str,
        section: str,
        choices: ChoiceList | None,
        special: tuple[str, ...] | None,
        required: bool,
    ) -> tuple[Question, ...] | None:
        if "items" not in m:
            self.error(
                m.loc,
                ctx,
                "a matrix question needs items: a list of {name, label} rows sharing the scale",
            )
            return None
        raw = m["items"]
        if not isinstance(raw, RawList) or not raw:
            self.error(
                m.loc_of("items"), ctx, "items must be a non-empty list of {name, label} rows"
            )
            return None
        out: list[Question] = []
        ok = True
        for i, item in enumerate(raw):
            im = self.mapping(
                item, raw.loc_of(i), f"item {i + 1} of matrix '{matrix}'", "a matrix item"
            )
            if im is None:
                ok = False
                continue
            ictx = (
                f"item '{im['name']}' of matrix '{matrix}'"
                if isinstance(im.get("name"), str)
                else f"item {i + 1} of matrix '{matrix}'"
            )
            self.keys(
                im,
                ictx,
                ITEM_KEYS,
                ("name", "label"),
                what="a matrix item",
                elsewhere=dict.fromkeys(
                    ("hint", "required", "randomize", "special", "choices"),
                    " (set it on the matrix itself)",
                ),
            )
            name = (
                self.name(im["name"], im.loc_of("name"), ictx, "item name")
                if "name" in im
                else None
            )
            if name is not None:
                if self.claim(name, im.loc_of("name"), ictx, f"matrix item '{name}'"):
                    self.s.raw_questions[name] = im
                    self.s.contexts[name] = ictx
                else:
                    name = None
            label = (
                self.text(im.get("label"), im.loc_of("label"), ictx, "label", optional=False)
                if "label" in im
                else None
            )
            relevant = self.string(im, "relevant", ictx)
            explanation = self.text(
                im.get("explanation"), im.loc_of("explanation"), ictx, "explanation"
            )
            score = None
            if "score" in im:
                score = self.score(im["score"], im.loc_of("score"), ictx, "matrix_item", choices)
                if score is None:
                    ok = False
            elif explanation is not None:
                self.p.warn(
                    im.loc_of("explanation"),
                    ictx,
                    "the explanation is shown only "
                    "with the right answer of a scored item, and this item has no "
                    "score; add score: or remove the explanation",
                )
            if (
                name is None
                or label is None
                or ("relevant" in im and relevant is None)
                or ("explanation" in im and explanation is None)
            ):
                ok = False
                continue
            out.append(
                Question(
                    name=name,
                    type="matrix_item",
                    label=label,
                    section=section,
                    required=required,
                    relevant=relevant,
                    choices=choices,
                    special=special or (),
                    score=score,
                    explanation=explanation,
                    parent=matrix,
                    line=im.loc.line,
                )
            )
        return tuple(out) if ok else None

    # -- scoring --------------------------------------------------------------------------------

    def score(
        self, raw: Any, loc: Location, ctx: str, qtype: str, choices: ChoiceList | None
    ) -> Score | None:
        m = self.mapping(raw, loc, ctx, "score")
        if m is None:
            return None
        self.keys(m, ctx, SCORE_KEYS, ("dimension",), what="a score")
        ok = True
        dimension: str | None = None
        if "dimension" in m:
            value = m["dimension"]
            dloc = m.loc_of("dimension")
            if isinstance(value, str) and value in self.s.dimensions:
                dimension = value
            elif isinstance(value, str) and value in self.s.broken_dimensions:
                pass
            elif not self.s.dimensions:
                self.error(
                    dloc,
                    ctx,
                    f"the score's dimension '{_show(value, dloc)}' is not "
                    "declared; declare it under dimensions: (name, label, weight)",
                )
            else:
                shown = _show(value, dloc)
                self.error(
                    dloc,
                    ctx,
                    f"unknown dimension '{shown}'"
                    f"{_suggest(shown, self.s.dimensions)}; the dimensions are "
                    f"{_join(self.s.dimensions)}",
                )
        number = qtype in ("integer", "decimal")
        has_correct = "correct" in m
        has_points = "points" in m
        reverse = self.boolean(m, "reverse", ctx, False)
        if "reverse" in m and not isinstance(m["reverse"], bool):
            ok = False
        if has_correct and has_points:
            self.error(
                m.loc_of("points"), ctx, "a score has either correct or points, not both; keep one"
            )
            return None
        kw: dict[str, Any] = {}
        if number:
            if not has_correct:
                self.error(
                    m.loc,
                    ctx,
                    f"the score of {_a(qtype)} question needs correct: "
                    "<the right number> (and optionally tolerance:)",
                )
                return None
            value = self.number(m, "correct", ctx, whole=False)
            tolerance = self.number(m, "tolerance", ctx)
            if tolerance is not None and tolerance < 0:
                self.error(
                    m.loc_of("tolerance"),
                    ctx,
                    f"the tolerance {tolerance} is negative; it must be 0 or more",
                )
                tolerance = None
            if value is None or ("tolerance" in m and tolerance is None):
                return None
            kw.update(correct_value=value, tolerance=tolerance or 0.0)
        else:
            names = choices.names if choices is not None else None
            if "tolerance" in m:
                self.error(
                    m.loc_of("tolerance"),
                    ctx,
                    "tolerance applies only to number questions; remove it",
                )
                ok = False
            if has_correct:
                correct: list[str] = []
                for value, vloc in self.word_list(m, "correct", ctx):
                    if names is None:
                        continue
                    shown = _show(value, vloc)
                    if isinstance(value, str) and value in SPECIAL_CODES:
                        self.error(
                            vloc,
                            ctx,
                            f"'{value}' cannot be a correct answer (special "
                            "answers always score 0); name a real option",
                        )
                        ok = False
                    elif not isinstance(value, str) or value not in names:
                        self.error(
                            vloc,
                            ctx,
                            f"the correct answer '{shown}' is not an option "
                            f"of this question{_suggest(shown, names)}; the options are "
                            f"{_join(names)}",
                        )
                        ok = False
                    elif value not in correct:
                        correct.append(value)
                if not isinstance(m["correct"], (RawList, str, bool)) or (
                    isinstance(m["correct"], RawList) and not m["correct"]
                ):
                    if isinstance(m["correct"], RawList):
                        self.error(
                            m.loc_of("correct"),
                            ctx,
                            "correct is an empty list; name the right option(s)",
                        )
                    ok = False
                kw["correct"] = tuple(correct)
            elif has_points:
                if qtype == "multiple_choice":
                    self.error(
                        m.loc_of("points"),
                        ctx,
                        "points are not used on multiple "
                        "choice questions; use correct: [the options making up the "
                        "right answer]",
                    )
                    return None
                kw["points"] = self.points(m, ctx, names)
                if kw["points"] is None:
                    ok = False
            elif qtype not in ("likert", "matrix_item"):
                self.error(
                    m.loc,
                    ctx,
                    f"the score of {_a(qtype)} question needs correct: "
                    "[option] or points: {option: points}; scoring by position on "
                    "the scale is only for likert and matrix questions",
                )
                return None
        if reverse and (has_correct or has_points):
            self.error(
                m.loc_of("reverse"),
                ctx,
                "reverse applies only to scale items (likert "
                "or matrix items scored by position, without correct or points); "
                "remove it",
            )
            ok = False
        if dimension is None or not ok:
            return None
        return Score(dimension=dimension, reverse=reverse, **kw)

    def points(
        self, m: RawMap, ctx: str, names: tuple[str, ...] | None
    ) -> tuple[tuple[str, float], ...] | None:
        raw = m["points"]
        ploc = m.loc_of("points")
        if not isinstance(raw, RawMap) or not raw:
            self.error(ploc, ctx, "points must be a mapping {option: points, ...}")
            return None
        out: list[tuple[str, float]] = []
        ok = True
        for key, value in raw.items():
            kloc = raw.loc_of(key)
            shown = raw.key_texts.get(key, str(key))
            if names is not None and (not isinstance(key, str) or key not in names):
                if isinstance(key, str) and key in SPECIAL_CODES:
                    self.error(
                        kloc,
                        ctx,
                        f"points cannot be given to '{key}' (special "
                        "answers always score 0); remove it",
                    )
                else:
                    self.error(
                        kloc,
                        ctx,
                        f"points names '{shown}', which is not an option of "
                        f"this question{_suggest(shown, names)}; the options are "
                        f"{_join(names)}",
                    )
                ok = False
                continue
            if not _is_number(value) or value < 0:
                self.error(
                    kloc,
                    ctx,
                    f"the points of '{shown}' must be a number, 0 or more, "
                    f"not '{_show(value, kloc)}'",
                )
                ok = False
                continue
            out.append((str(key), value))
        if ok and not any(v > 0 for _, v in out):
            self.error(ploc, ctx, "every option has 0 points; give the best answer the most points")
            ok = False
        return tuple(out) if ok else None

    # -- derived scores ------------------------------------------------------------------------

    def derived(self, doc: RawMap) -> tuple[DerivedScore, ...]:
        if "derived" not in doc:
            return ()
        raw = doc["derived"]
        if not isinstance(raw, RawList):
            self.error(
                doc.loc_of("derived"), "", "derived must be a list of {name, label, expression}"
            )
            return ()
        out: list[DerivedScore] = []
        for i, item in enumerate(raw):
            m = self.mapping(item, raw.loc_of(i), f"derived score {i + 1}", "a derived score")
            if m is None:
                continue
            ctx = (
                f"derived score '{m['name']}'"
                if isinstance(m.get("name"), str)
                else f"derived score {i + 1}"
            )
            self.keys(m, ctx, DERIVED_KEYS, ("name", "label", "expression"), what="a derived score")
            name = (
                self.name(m["name"], m.loc_of("name"), ctx, "derived score name")
                if "name" in m
                else None
            )
            if name is not None:
                if self.claim(name, m.loc_of("name"), ctx, f"derived score '{name}'"):
                    self.s.raw_questions[name] = m
                    self.s.contexts[name] = ctx
                else:
                    name = None
            label = (
                self.text(m.get("label"), m.loc_of("label"), ctx, "label", optional=False)
                if "label" in m
                else None
            )
            expression = self.string(m, "expression", ctx)
            dtype = m.get("type", "number")
            if dtype not in ("number", "boolean") or not isinstance(dtype, str):
                shown = _show(dtype, m.loc_of("type"))
                self.error(
                    m.loc_of("type"),
                    ctx,
                    f"the derived type '{shown}' is not valid"
                    f"{_suggest(shown, ('number', 'boolean'))}; use number or "
                    "boolean",
                )
                dtype = None
            lo = self.number(m, "min", ctx)
            hi = self.number(m, "max", ctx)
            bad = ("min" in m and lo is None) or ("max" in m and hi is None)
            if lo is not None and hi is not None and lo > hi:
                self.error(
                    m.loc_of("min"),
                    ctx,
                    f"min ({_show(lo)}) is larger than max ({_show(hi)}); swap them",
                )
                bad = True
            if dtype == "boolean" and ("min" in m or "max" in m):
                self.error(
                    m.loc_of("min" if "min" in m else "max"),
                    ctx,
                    "a boolean derived score has no min or max; remove them",
                )
                bad = True
            if name is None or label is None or expression is None or dtype is None or bad:
                continue
            out.append(DerivedScore(name, label, expression, dtype, lo, hi, m.loc.line))
        return tuple(out)

    # -- consent and settings -------------------------------------------------------------

    def consent(self, doc: RawMap) -> Consent | None:
        if "consent" not in doc:
            return None
        m = self.mapping(doc["consent"], doc.loc_of("consent"), "consent", "'consent'")
        if m is None:
            return None
        self.keys(m, "consent", CONSENT_KEYS, CONSENT_KEYS, what="the consent")
        version = None
        if "version" in m:
            value = m["version"]
            vloc = m.loc_of("version")
            if isinstance(value, str) and value.strip():
                version = value
            else:
                written = _show(value, vloc)
                self.error(
                    vloc,
                    "consent",
                    f"the consent version {written} must be a text in "
                    f'quotes, as version: "{written}"',
                )
        text = (
            self.text(m.get("text"), m.loc_of("text"), "consent", "text", optional=False)
            if "text" in m
            else None
        )
        if version is None or text is None:
            return None
        return Consent(version, text)

    def settings(self, doc: RawMap, sections: tuple[Section, ...] | None) -> Settings:
        if "settings" not in doc:
            return Settings()
        m = self.mapping(doc["settings"], doc.loc_of("settings"), "settings", "'settings'")
        if m is None:
            return Settings()
        self.keys(m, "settings", SETTINGS_KEYS, (), what="settings")
        quotas = self.quotas(m, sections) if "quotas" in m else None
        return Settings(
            invitation_only=self.boolean(m, "invitation_only", "settings", False),
            one_question_per_page=self.boolean(m, "one_question_per_page", "settings", False),
            quotas=quotas,
        )

    def quotas(self, settings: RawMap, sections: tuple[Section, ...] | None) -> Quotas | None:
        ctx = "settings.quotas"
        m = self.mapping(settings["quotas"], settings.loc_of("quotas"), ctx, "quotas")
        if m is None:
            return None
        self.keys(m, ctx, QUOTA_KEYS, ("by",), what="quotas")
        if "by" not in m:
            return None
        by_questions: list[Question] = []
        by_names: list[str] = []
        all_questions = [q for s in sections or () for q in s.questions]
        all_questions += [i for q in all_questions for i in q.items]
        by_name = {q.name: q for q in all_questions}
        by_role = {q.role: q for q in all_questions if q.role}
        ok = True
        for value, loc in self.word_list(m, "by", ctx):
            q = None
            if isinstance(value, str):
                q = by_name.get(value) or by_role.get(value)
            if q is None:
                shown = _show(value, loc)
                if sections is None or not isinstance(value, str) or value not in self.s.names:
                    known = [*by_name, *by_role]
                    self.error(
                        loc,
                        ctx,
                        f"quotas.by names '{shown}', which is neither a "
                        f"question nor a role{_suggest(shown, known)}",
                    )
                ok = False
                continue
            if q.type not in ("single_choice", "likert"):
                self.error(
                    loc,
                    ctx,
                    f"quotas.by names '{q.name}', a {q.type} question; quota "
                    "cells need single_choice questions",
                )
                ok = False
                continue
            by_questions.append(q)
            by_names.append(q.name)
        if not isinstance(m["by"], (RawList, str)) or (not by_names and ok):
            if isinstance(m["by"], RawList) and not m["by"]:
                self.error(
                    m.loc_of("by"),
                    ctx,
                    "quotas.by is empty; name the question(s) that define the cells",
                )
            ok = False
        default = self.integer(m, "default", ctx, low=0) if "default" in m else None
        if "default" in m and default is None:
            ok = False
        cells: list[tuple[str, int]] = []
        if "cells" in m:
            raw = m["cells"]
            if not isinstance(raw, RawMap):
                self.error(
                    m.loc_of("cells"),
                    ctx,
                    'quotas.cells must be a mapping {"11": 800, ...} from cell key to target',
                )
                ok = False
            else:
                for key, value in raw.items():
                    kloc = raw.loc_of(key)
                    cell = str(key) if _is_int(key) or isinstance(key, str) else None
                    if cell is None:
                        self.error(
                            kloc,
                            ctx,
                            f"the quota cell '{_show(key)}' must be codes "
                            "joined by '|', in quotes, like \"11|2\"",
                        )
                        ok = False
                        continue
                    if not _is_int(value) or value < 0:
                        self.error(
                            kloc,
                            ctx,
                            f"the target of quota cell '{cell}' must be a "
                            f"whole number, 0 or more, not '{_show(value, kloc)}'",
                        )
                        ok = False
                        continue
                    if ok and by_questions and not self.cell_ok(cell, by_questions, kloc, ctx):
                        ok = False
                        continue
                    cells.append((cell, int(value)))
        if "default" not in m and not cells and ok:
            self.error(
                m.loc,
                ctx,
                "quotas need a default target or cells; add default: <planned completes per cell>",
            )
            ok = False
        if not ok:
            return None
        return Quotas(tuple(by_names), default, tuple(cells))

    def cell_ok(self, cell: str, by: list[Question], loc: Location, ctx: str) -> bool:
        parts = cell.split("|")
        if len(parts) != len(by):
            self.error(
                loc,
                ctx,
                f"the quota cell '{cell}' has {len(parts)} code(s) but "
                f"quotas.by names {len(by)} question(s); join one code per question "
                "with '|'",
            )
            return False
        for part, q in zip(parts, by, strict=True):
            codes = sorted(q.choices.codes().values()) if q.choices is not None else []
            if not re.fullmatch(r"[0-9]+", part.strip()) or int(part) not in codes:
                self.error(
                    loc,
                    ctx,
                    f"in quota cell '{cell}', '{part}' is not a code of "
                    f"question '{q.name}'; its codes are "
                    f"{_join(str(c) for c in codes)}",
                )
                return False
        return True

    # -- checks across the questionnaire ----------------------------------------------------

    def cross_checks(self, q: Questionnaire, doc: RawMap) -> None:
        self.check_roles(q)
        self.check_dimensions(q, doc)
        self.check_expressions(q)
        for name in self.s.lists:
            if name not in self.s.used_lists:
                choices = doc.get("choices")
                loc = choices.loc_of(name) if isinstance(choices, RawMap) else NOWHERE
                self.p.warn(
                    loc, f"choice list '{name}'", "no question uses this list; remove it or use it"
                )

    def qloc(self, name: str, key: str | None = None) -> Location:
        m = self.s.raw_questions.get(name)
        if m is None:
            return NOWHERE
        return m.loc_of(key) if key is not None and key in m else m.loc

    def check_roles(self, qn: Questionnaire) -> None:
        seen: dict[str, str] = {}
        for q in qn.questions:
            ctx = self.s.contexts.get(q.name, f"question '{q.name}'")
            if q.expected is not None and q.role != "attention_check":
                self.error(
                    self.qloc(q.name, "expected"),
                    ctx,
                    "expected is used only with "
                    "role: attention_check; add the role or remove expected",
                )
            if q.role is None:
                continue
            role = q.role
            loc = self.qloc(q.name, "role")
            if role in seen:
                self.error(
                    loc,
                    ctx,
                    f"the role '{role}' is already given to question "
                    f"'{seen[role]}'; each role may appear once",
                )
                continue
            seen[role] = q.name
            allowed = ROLE_TYPES[role]
            if q.type not in allowed:
                self.error(
                    loc,
                    ctx,
                    f"the role '{role}' needs a {' or '.join(allowed)} question, not {q.type}",
                )
                continue
            names = q.choices.names if q.choices is not None else ()
            if role == "province" and (q.choices is None or q.choices.name != "provinces"):
                self.error(
                    loc,
                    ctx,
                    "the role 'province' needs choices: provinces (the "
                    "built-in list of the 31 provinces)",
                )
            missing = [n for n in ROLE_OPTIONS.get(role, ()) if n not in names]
            if missing:
                self.error(
                    loc,
                    ctx,
                    f"the role '{role}' needs options named "
                    f"{_join(ROLE_OPTIONS[role])}; missing: {_join(missing)}",
                )
            if role == "exposure" and q.choices is not None:
                lacking = [c.name for c in q.choices if c.exposure is None]
                if lacking:
                    self.error(
                        loc,
                        ctx,
                        "the role 'exposure' needs exposure: (one of "
                        f"{_join(EXPOSURE_KINDS)}) on every option; missing on "
                        f"{_join(lacking)}",
                    )
            if (
                role == "exposure_recency"
                and q.choices is not None
                and not any(c.recency_months is not None for c in q.choices)
            ):
                self.error(
                    loc,
                    ctx,
                    "the role 'exposure_recency' needs recency_months: on "
                    "the options (months since the last activity); add them",
                )
            if role == "attention_check":
                if q.expected is None:
                    self.error(
                        loc,
                        ctx,
                        "the role 'attention_check' needs expected: <the "
                        "option an attentive respondent chooses>",
                    )
                elif q.expected not in names:
                    self.error(
                        self.qloc(q.name, "expected"),
                        ctx,
                        f"expected names "
                        f"'{q.expected}', which is not an option of this question"
                        f"{_suggest(q.expected, names)}; the options are "
                        f"{_join(names)}",
                    )

    def check_dimensions(self, qn: Questionnaire, doc: RawMap) -> None:
        derived = {d.name: d for d in qn.derived}
        raw_dims = doc.get("dimensions")
        for dim in qn.dimensions:
            ctx = f"dimension '{dim.name}'"
            loc = NOWHERE
            if isinstance(raw_dims, RawList):
                for j, item in enumerate(raw_dims):
                    if isinstance(item, RawMap) and item.get("name") == dim.name:
                        loc = item.loc_of("score") if dim.score else raw_dims.loc_of(j)
            items = qn.scored_items(dim.name)
            if dim.score is not None:
                d = derived.get(dim.score)
                if d is None:
                    self.error(
                        loc,
                        ctx,
                        f"the score '{dim.score}' is not a derived score"
                        f"{_suggest(dim.score, derived)}; define it under derived:",
                    )
                elif d.type != "number" or d.min is None or d.max is None or d.min >= d.max:
                    self.error(
                        loc,
                        ctx,
                        f"the derived score '{dim.score}' must be a number "
                        "with min and max (min < max) to be rescaled to 0-100; add "
                        "them",
                    )
            elif not items:
                self.p.warn(
                    loc,
                    ctx,
                    "no question is scored into this dimension; its score will always be missing",
                )
        if qn.index is not None:
            for name in (qn.index.name,):
                if name in self.s.names:
                    m = doc.get("index")
                    iloc = m.loc_of("name") if isinstance(m, RawMap) else NOWHERE
                    self.error(
                        iloc,
                        "index",
                        f"the index name '{name}' is also the name of "
                        f"{self.s.names[name][1]}; rename one",
                    )

    def check_expressions(self, qn: Questionnaire) -> None:
        from questionnaires.expression_checks import check_expressions

        check_expressions(qn, self.p, self.qloc, self.s.contexts, self.s.names, self.s.section_locs)


def _kind(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, RawMap):
        return "a mapping"
    if isinstance(value, RawList):
        return "a list"
    return f"a {type(value).__name__} value"


def build_questionnaire(raw: Any, problems: Problems) -> Questionnaire | None:
    """Check a raw document against every rule and build the model.

    Problems are recorded in ``problems``; the result is None when the document is too broken
    to build (the caller raises then).
    """
    return _Builder(problems).build(raw)
