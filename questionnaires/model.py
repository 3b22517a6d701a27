"""The immutable questionnaire model: what a loaded questionnaire file means.

Every public object is a frozen dataclass made of tuples, strings and numbers, so it is hashable
and two models compare with ``==`` (a YAML file and its XLSForm export load to equal models).
Source positions (``line``) are kept for messages but left out of comparisons.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from questionnaires.expressions import Symbol

__all__ = [
    "DONT_KNOW",
    "LANGUAGES",
    "PREFER_NOT",
    "QUESTION_TYPES",
    "ROLES",
    "SPECIAL_CODES",
    "SPECIAL_LABELS",
    "Choice",
    "ChoiceList",
    "Column",
    "Consent",
    "DerivedScore",
    "Dimension",
    "Index",
    "Question",
    "Questionnaire",
    "Quotas",
    "Score",
    "Section",
    "Settings",
    "Text",
]

#: Stored code of the special answer "don't know".
DONT_KNOW = -1
#: Stored code of the special answer "prefer not to say".
PREFER_NOT = -2
#: Special answer name -> stored code.
SPECIAL_CODES: Mapping[str, int] = {"dont_know": DONT_KNOW, "prefer_not": PREFER_NOT}

QuestionType = Literal[
    "single_choice",
    "multiple_choice",
    "likert",
    "matrix",
    "matrix_item",
    "integer",
    "decimal",
    "text",
    "note",
]
#: The types an author may write (``matrix_item`` is made by the loader for matrix items).
QUESTION_TYPES: tuple[str, ...] = (
    "single_choice",
    "multiple_choice",
    "likert",
    "matrix",
    "integer",
    "decimal",
    "text",
    "note",
)
#: Languages a questionnaire may be written in; ``zh`` is required.
LANGUAGES: tuple[str, ...] = ("zh", "en")
#: The roles a question may carry (see FORMAT.md, Roles).
ROLES: tuple[str, ...] = (
    "province",
    "sex",
    "age",
    "urban",
    "education",
    "income",
    "occupation",
    "exposure",
    "exposure_recency",
    "participant_code",
    "phase",
    "attention_check",
    "contact",
)
ScoreKind = Literal["correct", "points", "scale"]
DerivedType = Literal["number", "boolean"]
Status = Literal["open", "closed"]
ColumnDtype = Literal["Int64", "Float64", "str"]
SymbolKind = Literal["number", "text", "choice", "multi", "boolean"]


def _language_order(lang: str) -> tuple[int, str]:
    return (0 if lang == "zh" else 1, lang)


@dataclass(frozen=True)
class Text:
    """A translated text: language -> string.

    Build one with ``Text.of({"zh": "...", "en": "..."})``; ``text.get("en")`` gives the English
    string, falling back to Chinese when there is no English.
    """

    values: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, mapping: Mapping[str, str]) -> Text:
        """Make a text from a mapping (languages are kept in a canonical order, zh first)."""
        return cls(tuple(sorted(mapping.items(), key=lambda kv: _language_order(kv[0]))))

    def get(self, lang: str = "zh") -> str:
        """The text in ``lang``, else in Chinese, else in the first language there is."""
        found = dict(self.values)
        if lang in found:
            return found[lang]
        if "zh" in found:
            return found["zh"]
        return self.values[0][1] if self.values else ""

    def __getitem__(self, lang: str) -> str:
        return dict(self.values)[lang]

    def __contains__(self, lang: object) -> bool:
        return any(k == lang for k, _ in self.values)

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages this text is given in."""
        return tuple(k for k, _ in self.values)

    def as_dict(self) -> dict[str, str]:
        """A plain ``{language: string}`` dict."""
        return dict(self.values)

    def __str__(self) -> str:
        return self.get("zh")


#: Labels of the special answers.
SPECIAL_LABELS: Mapping[str, Text] = {
    "dont_know": Text.of({"zh": "不知道", "en": "Don't know"}),
    "prefer_not": Text.of({"zh": "不愿回答", "en": "Prefer not to say"}),
}


@dataclass(frozen=True)
class Choice:
    """One option of a choice list.

    Attributes
    ----------
    name
        Identifier used in expressions (``${sex} = 'female'``).
    code
        Integer stored in the data (non-negative; specials use -1/-2).
    label
        What the respondent sees.
    exposure
        For the ``exposure`` role: the kind of education (``month``, ``school``, ...).
    recency_months
        For the ``exposure_recency`` role: upper bound of months since the last activity.
    """

    name: str
    code: int
    label: Text
    exposure: str | None = None
    recency_months: int | None = None


@dataclass(frozen=True)
class ChoiceList:
    """A list of options. ``name`` is None for a list written inline on one question."""

    name: str | None
    choices: tuple[Choice, ...]

    def __iter__(self) -> Iterator[Choice]:
        return iter(self.choices)

    def __len__(self) -> int:
        return len(self.choices)

    @property
    def names(self) -> tuple[str, ...]:
        """Option names in order."""
        return tuple(c.name for c in self.choices)

    def choice(self, name: str) -> Choice | None:
        """The option called ``name``, or None."""
        for c in self.choices:
            if c.name == name:
                return c
        return None

    def codes(self) -> dict[str, int]:
        """Option name -> stored code."""
        return {c.name: c.code for c in self.choices}


@dataclass(frozen=True)
class Score:
    """How a question (or matrix item) is scored; see FORMAT.md, Scoring.

    Attributes
    ----------
    dimension
        The dimension the item counts towards.
    correct
        Choice question: the correct option names.
    correct_value, tolerance
        Number question: the right answer and the accepted distance from it.
    points
        Points per option name (the item maximum is the largest).
    reverse
        Scale item: the first option scores highest.
    """

    dimension: str
    correct: tuple[str, ...] = ()
    correct_value: float | None = None
    tolerance: float = 0.0
    points: tuple[tuple[str, float], ...] = ()
    reverse: bool = False

    @property
    def kind(self) -> ScoreKind:
        """``correct`` (right/wrong), ``points`` (points per option) or ``scale`` (position)."""
        if self.correct or self.correct_value is not None:
            return "correct"
        if self.points:
            return "points"
        return "scale"

    @property
    def max_points(self) -> float:
        """The largest of ``points`` (0 when there are none)."""
        return max((p for _, p in self.points), default=0.0)

    def points_dict(self) -> dict[str, float]:
        """``points`` as a dict."""
        return dict(self.points)


@dataclass(frozen=True)
class Question:
    """One question of a section, or one item of a matrix (``type == "matrix_item"``).

    Only the keys that belong to ``type`` are set; the others keep their defaults. A matrix
    item carries its matrix's scale (``choices``), ``special`` and ``required``, and the name
    of its matrix in ``parent``.
    """

    name: str
    type: QuestionType
    label: Text
    section: str
    hint: Text | None = None
    required: bool = True
    relevant: str | None = None
    constraint: str | None = None
    constraint_message: Text | None = None
    choices: ChoiceList | None = None
    randomize: bool = False
    special: tuple[str, ...] = ()
    role: str | None = None
    score: Score | None = None
    explanation: Text | None = None
    expected: str | None = None
    min: float | None = None
    max: float | None = None
    unit: Text | None = None
    decimals: int | None = None
    max_length: int | None = None
    min_selected: int | None = None
    max_selected: int | None = None
    exclusive: tuple[str, ...] = ()
    items: tuple[Question, ...] = ()
    parent: str | None = None
    line: int | None = field(default=None, compare=False, hash=False, repr=False)

    @property
    def is_answerable(self) -> bool:
        """True when the question stores an answer (not a note, not a matrix as a whole)."""
        return self.type not in ("note", "matrix")

    @property
    def is_choice(self) -> bool:
        """True for single choice, likert and matrix items (one option per answer)."""
        return self.type in ("single_choice", "likert", "matrix_item")

    @property
    def special_choices(self) -> tuple[Choice, ...]:
        """The special answers of this question as options (codes -1/-2), in ``special`` order."""
        return tuple(Choice(s, SPECIAL_CODES[s], SPECIAL_LABELS[s]) for s in self.special)

    def option_codes(self, *, with_special: bool = True) -> dict[str, int]:
        """Option name -> stored code, specials included unless ``with_special=False``."""
        codes = self.choices.codes() if self.choices is not None else {}
        if with_special:
            codes.update({s: SPECIAL_CODES[s] for s in self.special})
        return codes

    def value_labels(self, lang: str = "zh") -> dict[int, str]:
        """Stored code -> label in ``lang`` (for exports with value labels)."""
        labels: dict[int, str] = {}
        if self.choices is not None:
            labels.update({c.code: c.label.get(lang) for c in self.choices})
        labels.update({c.code: c.label.get(lang) for c in self.special_choices})
        return labels


@dataclass(frozen=True)
class Section:
    """A titled group of questions, skipped as a whole when ``relevant`` is false."""

    name: str
    title: Text
    questions: tuple[Question, ...]
    description: Text | None = None
    relevant: str | None = None
    line: int | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class Dimension:
    """A scored dimension; ``score`` names a derived score to take it from, if any."""

    name: str
    label: Text
    weight: float
    score: str | None = None


@dataclass(frozen=True)
class Index:
    """The overall index: the weighted mean of the dimension scores."""

    name: str
    label: Text
    note: Text | None = None


@dataclass(frozen=True)
class DerivedScore:
    """A score computed after the answers from an expression."""

    name: str
    label: Text
    expression: str
    type: DerivedType = "number"
    min: float | None = None
    max: float | None = None
    line: int | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class Consent:
    """The consent text shown before the first question, and its version."""

    version: str
    text: Text


@dataclass(frozen=True)
class Quotas:
    """Planned completes per cell. ``cells`` maps a cell key (codes joined by ``|``) to a target."""

    by: tuple[str, ...]
    default: int | None = None
    cells: tuple[tuple[str, int], ...] = ()

    def target(self, cell: str) -> int | None:
        """The target for ``cell`` (the default when the cell is not listed)."""
        return dict(self.cells).get(cell, self.default)


@dataclass(frozen=True)
class Settings:
    """How the questionnaire is run."""

    invitation_only: bool = False
    one_question_per_page: bool = False
    quotas: Quotas | None = None


@dataclass(frozen=True)
class Column:
    """A stored data column.

    Attributes
    ----------
    name
        Column name (the question or item name; ``<question>__<option>`` for multiple choice).
    dtype
        pandas dtype: ``Int64`` (codes, 0/1, integers; specials are -1/-2), ``Float64``, ``str``.
    question
        Name of the question the column belongs to.
    option
        Multiple choice: the option this 0/1 column stands for.
    contact
        True for personal contact data (role ``contact``), kept out of the response file.
    """

    name: str
    dtype: ColumnDtype
    question: str
    option: str | None = None
    contact: bool = False


@dataclass(frozen=True)
class Questionnaire:
    """A loaded, valid questionnaire version. Identified by ``(id, version)``."""

    id: str
    version: str
    title: Text
    languages: tuple[str, ...]
    sections: tuple[Section, ...]
    description: Text | None = None
    status: Status = "open"
    settings: Settings = Settings()
    consent: Consent | None = None
    dimensions: tuple[Dimension, ...] = ()
    index: Index | None = None
    choices: tuple[ChoiceList, ...] = ()
    derived: tuple[DerivedScore, ...] = ()
    source: str = field(default="<string>", compare=False, hash=False, repr=False)

    # -- derived views -------------------------------------------------------------------

    @property
    def key(self) -> tuple[str, str]:
        """``(id, version)``."""
        return (self.id, self.version)

    @cached_property
    def questions(self) -> tuple[Question, ...]:
        """Every question in order, with each matrix replaced by its items (notes included)."""
        out: list[Question] = []
        for section in self.sections:
            for q in section.questions:
                if q.type == "matrix":
                    out.extend(q.items)
                else:
                    out.append(q)
        return tuple(out)

    @cached_property
    def _by_name(self) -> dict[str, Question]:
        found: dict[str, Question] = {}
        for section in self.sections:
            for q in section.questions:
                found[q.name] = q
                for item in q.items:
                    found[item.name] = item
        return found

    def question(self, name: str) -> Question:
        """The question, matrix or matrix item called ``name``.

        Raises
        ------
        KeyError
            When there is no such question.
        """
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"questionnaire {self.id!r} has no question {name!r}") from None

    def section(self, name: str) -> Section:
        """The section called ``name`` (KeyError when there is none)."""
        for s in self.sections:
            if s.name == name:
                return s
        raise KeyError(f"questionnaire {self.id!r} has no section {name!r}")

    def choice_list(self, name: str) -> ChoiceList:
        """The named choice list ``name`` (KeyError when there is none)."""
        for cl in self.choices:
            if cl.name == name:
                return cl
        raise KeyError(f"questionnaire {self.id!r} has no choice list {name!r}")

    def derived_score(self, name: str) -> DerivedScore:
        """The derived score ``name`` (KeyError when there is none)."""
        for d in self.derived:
            if d.name == name:
                return d
        raise KeyError(f"questionnaire {self.id!r} has no derived score {name!r}")

    def dimension(self, name: str) -> Dimension:
        """The dimension ``name`` (KeyError when there is none)."""
        for d in self.dimensions:
            if d.name == name:
                return d
        raise KeyError(f"questionnaire {self.id!r} has no dimension {name!r}")

    def role(self, name: str) -> Question | None:
        """The question carrying role ``name`` (``"province"``, ``"sex"``, ...), or None."""
        for q in self.questions:
            if q.role == name:
                return q
        return None

    def roles(self) -> dict[str, Question]:
        """Role -> question, for every role used."""
        return {q.role: q for q in self.questions if q.role is not None}

    def scored_items(self, dimension: str | None = None) -> tuple[Question, ...]:
        """Questions and matrix items with a ``score``, in order (optionally of one dimension)."""
        return tuple(
            q
            for q in self.questions
            if q.score is not None and (dimension is None or q.score.dimension == dimension)
        )

    def columns(self, *, include_contact: bool = True) -> tuple[Column, ...]:
        """The stored data columns, in question order.

        Single choice, likert and matrix items store the option code (``Int64``); multiple
        choice one 0/1 ``Int64`` column per option named ``<question>__<option>``; integer
        ``Int64``; decimal ``Float64``; text ``str``. Notes store nothing. Derived scores are
        not stored. ``include_contact=False`` leaves out the ``contact`` question.
        """
        out: list[Column] = []
        for q in self.questions:
            contact = q.role == "contact"
            if contact and not include_contact:
                continue
            if q.type == "multiple_choice":
                options = q.choices.choices if q.choices is not None else ()
                out.extend(Column(f"{q.name}__{c.name}", "Int64", q.name, c.name) for c in options)
            elif q.type in ("single_choice", "likert", "matrix_item", "integer"):
                out.append(Column(q.name, "Int64", q.name))
            elif q.type == "decimal":
                out.append(Column(q.name, "Float64", q.name))
            elif q.type == "text":
                out.append(Column(q.name, "str", q.name, contact=contact))
        return tuple(out)

    def symbols(self) -> dict[str, Symbol]:
        """Name -> expression symbol for every answerable question, matrix item and derived score.

        Choice kinds carry their options (name -> code) and special answers, so the expression
        checker can reject a literal that is not an option.
        """
        from questionnaires.expressions import Symbol

        out: dict[str, Symbol] = {}
        for q in self.questions:
            sym = question_symbol(q, Symbol)
            if sym is not None:
                out[q.name] = sym
        for d in self.derived:
            out[d.name] = Symbol(d.name, "boolean" if d.type == "boolean" else "number")
        return out


def question_kind(q: Question) -> SymbolKind | None:
    """The expression value kind of a question (None for notes and matrices)."""
    kinds: dict[str, SymbolKind] = {
        "single_choice": "choice",
        "likert": "choice",
        "matrix_item": "choice",
        "multiple_choice": "multi",
        "integer": "number",
        "decimal": "number",
        "text": "text",
    }
    return kinds.get(q.type)


def question_symbol(q: Question, symbol_type: type[Symbol]) -> Symbol | None:
    """The expression symbol of one question (None for notes and matrices)."""
    kind = question_kind(q)
    if kind is None:
        return None
    options = q.choices.codes() if q.choices is not None else {}
    return symbol_type(q.name, kind, options, frozenset(q.special))
