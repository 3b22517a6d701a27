"""Scores of stored responses: item, dimension and derived scores, the index, analysis columns.

:func:`score_responses` turns stored responses (one row per response, the columns of
``Questionnaire.columns()`` plus the store's metadata) into scores and the standard analysis
columns that weighting (:mod:`analysis.weighting`), estimation and the dashboards use.
:func:`index_weights` derives index weights from the data (first principal component or a
one-factor model) and :func:`feedback` gives one respondent's results for the feedback page.
Nothing here reads or writes files, and nothing loops over respondents in Python.

Scoring rules (FORMAT.md, "Scoring")
------------------------------------
Item scores ``score__<item>`` are on 0-1:

============ ===================================================================================
``correct``  1 when right, else 0. A choice is right when its option is one of ``correct``; a
             multiple choice when exactly the ``correct`` options are chosen; a number when
             ``|answer - correct| <= tolerance`` (plus 1e-9 x max(1, \\|correct\\|), which only
             absorbs binary rounding of decimals such as 0.1).
``points``   points of the chosen option / the largest points; an option without points is 0.
``scale``    (likert and matrix items without ``correct``/``points``) position of the option in
             the scale's list order, 0 for the first, divided by (number of options - 1);
             ``reverse: true`` gives 1 - that. Codes do not matter, only list order.
============ ===================================================================================

Special answers: "don't know" (-1) and "prefer not to say" (-2) score 0 on ``correct`` and
``points`` items (not knowing is not knowing the answer) and are left out (null) on ``scale``
items. Skipped (null) items are left out. Option order shown to the respondent
(``option_order``) plays no part: answers are stored as codes.

Dimensions ``dim__<name>`` are on 0-100: 100 x the mean of the dimension's answered (non-null)
item scores, null when none is answered; ``n_items__<name>`` counts the answered items. A
dimension with ``score: <derived>`` is instead ``100 x (value - min) / (max - min)`` of that
derived score (null when it is null); its ``n_items__`` still counts the items scored into it.

Derived scores are evaluated in file order with :meth:`Expression.evaluate_frame`, each seeing the
answers and the derived scores before it, into columns named by the score (``Float64`` for
numbers, ``boolean`` for conditions).

The index (column ``index.name``) is :math:`\\sum_j w_j D_j` with the dimensions' weights
normalised to sum 1 (or ``index_weights``); it is null when any dimension with a positive weight
is null, so that every index value averages the same dimensions.

Analysis columns (FORMAT.md, "Roles")
-------------------------------------
Made from the questions carrying each role, when the questionnaire has it, in this order
(:data:`ANALYSIS_COLUMNS`):

``province``
    GB/T 2260 code (``Int64``); from the store's ``province`` column when no question has
    the role.
``province_name_zh``, ``province_name_en``, ``region``
    Names and NBS region (``East``, ``Central``, ``West``, ``Northeast``) from
    ``data/reference/china_provinces_census2020.csv`` (categorical).
``sex``, ``urban``, ``education``, ``occupation``, ``phase``
    The option name (categorical, categories in list order): ``"male"``/``"female"``,
    ``"urban"``/``"rural"``, ``"pre"``/``"post"``, ...
``income``
    The option name, or the number (``Float64``) for a number question.
``age``, ``age_band``, ``age_group``
    Whole years (``Int64``); the census bands ``"0-14"``, ``"15-59"``, ``"60+"`` of
    :mod:`analysis.targets`; reporting groups from ``age_groups`` (default ``"18-24"``,
    ``"25-34"``, ``"35-44"``, ``"45-54"``, ``"55-64"``, ``"65+"``, younger ages ``"<18"``).
``exposure_any``, ``exposure_<kind>``
    ``Int8`` 0/1: any education kind other than ``none`` chosen; each of ``month``,
    ``consumer_day``, ``school``, ``bank``, ``online``, ``other`` chosen. Null when the
    question was skipped or answered with a special answer.
``exposure_recency_months``
    The chosen option's ``recency_months`` (``Int64``; null for options without it, special
    answers and skips).
``participant_code``
    The text with surrounding spaces removed and letters upper-cased, so that ``'zxl0815 '``
    and ``'ZXL0815'`` link.

Special answers to these questions become null; how many is in
:attr:`ScoredResponses.special_answers`. An age given as a ``single_choice`` of bands gives
``age_group`` = the option name and, where option names read ``<letters><lo>_<hi>`` or
``<letters><lo>_plus`` (``a18_24``, ``age60_plus``), ``age_band``; ``age`` is then null.
"""

from __future__ import annotations

import itertools
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import ArrayLike, NDArray

from analysis.errors import AnalysisWarning, ScoringError
from analysis.targets import load_census
from questionnaires.expressions import Expression, parse
from questionnaires.model import (
    SPECIAL_CODES,
    SPECIAL_LABELS,
    Question,
    Questionnaire,
    Text,
)

__all__ = [
    "AGE_GROUP_EDGES",
    "ANALYSIS_COLUMNS",
    "COUNT_PREFIX",
    "DIMENSION_PREFIX",
    "EXPOSURE_KINDS",
    "ITEM_PREFIX",
    "KEPT_COLUMNS",
    "DimensionFeedback",
    "Feedback",
    "IndexWeights",
    "ItemFeedback",
    "ScoreFeedback",
    "ScoredResponses",
    "ScoringWarning",
    "feedback",
    "index_weights",
    "score_responses",
]

#: Prefix of item score columns (``score__k_inflation``).
ITEM_PREFIX = "score__"
#: Prefix of dimension score columns (``dim__knowledge``).
DIMENSION_PREFIX = "dim__"
#: Prefix of the answered-item counts per dimension (``n_items__knowledge``).
COUNT_PREFIX = "n_items__"
#: The education kinds that get an ``exposure_<kind>`` column.
EXPOSURE_KINDS: tuple[str, ...] = ("month", "consumer_day", "school", "bank", "online", "other")
#: Lower edges of the reporting age groups: 18-24, 25-34, 35-44, 45-54, 55-64, 65+.
AGE_GROUP_EDGES: tuple[int, ...] = (18, 25, 35, 45, 55, 65)
#: Metadata columns of the store carried into the scored frame when present.
KEPT_COLUMNS: tuple[str, ...] = (
    "response_id",
    "questionnaire_id",
    "questionnaire_version",
    "submitted_at",
)
#: Every analysis column that roles can give, in the order they appear in the scored frame.
ANALYSIS_COLUMNS: tuple[str, ...] = (
    "province",
    "province_name_zh",
    "province_name_en",
    "region",
    "sex",
    "age",
    "age_band",
    "age_group",
    "urban",
    "education",
    "income",
    "occupation",
    "exposure_any",
    *(f"exposure_{kind}" for kind in EXPOSURE_KINDS),
    "exposure_recency_months",
    "participant_code",
    "phase",
)
_REGIONS = ("East", "Central", "West", "Northeast")
_CATEGORICAL_ROLES = ("sex", "urban", "education", "occupation", "phase")
_INVALID = -3  # demographic lookup: not an option
_EPS = 1e-9

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class _Buffers:
    """Per-row work arrays reused across the answer columns of one scoring call, so that a
    column costs passes over memory already in use rather than fresh allocations."""

    index: IntArray  # shifted codes of a table lookup
    scores: FloatArray | None  # an item's scores, when they are not kept as a column
    numerators: NDArray[np.int8]  # an item's score numerators (see _Item.numerators)
    flags: BoolArray
    missing: BoolArray

    @classmethod
    def of(cls, n: int, *, keep_scores: bool) -> _Buffers:
        return cls(
            index=np.empty(n, dtype=np.int64),
            scores=None if keep_scores else np.empty(n),
            numerators=np.empty(n, dtype=np.int8),
            flags=np.empty(n, dtype=bool),
            missing=np.empty(n, dtype=bool),
        )


class ScoringWarning(AnalysisWarning):
    """Scores were computed but something looks wrong (e.g. a derived score outside its range)."""


# ============================================================================ results
@dataclass(frozen=True, eq=False)
class ScoredResponses:
    """Scores and analysis columns of stored responses (from :func:`score_responses`).

    Attributes
    ----------
    frame
        One row per response, aligned to the input's index: the kept metadata
        (``response_id``, ``questionnaire_id``, ``questionnaire_version``, ``submitted_at``,
        where present), item scores, per dimension ``n_items__<d>`` and ``dim__<d>``, the
        derived scores, the index and the analysis columns. Treat it as read-only (copy
        before changing it).
    questionnaire_id, questionnaire_version
        The questionnaire scored.
    items
        Scored item names, in questionnaire order (columns ``score__<item>``).
    item_dimensions
        Item name -> its dimension.
    dimensions
        Dimension names, in order (columns ``dim__<d>``, ``n_items__<d>``).
    derived
        Derived score names, in order (columns named by the score).
    index
        The index column name (``None`` when the questionnaire has no index).
    weights
        Dimension -> index weight used, normalised to sum 1.
    analysis_columns
        The analysis columns made from roles, in frame order.
    special_answers
        Role -> {special answer name -> count} for special answers to demographic questions
        that became null.
    """

    frame: pd.DataFrame
    questionnaire_id: str
    questionnaire_version: str
    items: tuple[str, ...]
    item_dimensions: Mapping[str, str]
    dimensions: tuple[str, ...]
    derived: tuple[str, ...]
    index: str | None
    weights: Mapping[str, float]
    analysis_columns: tuple[str, ...]
    special_answers: Mapping[str, Mapping[str, int]]

    @property
    def n(self) -> int:
        """Number of responses."""
        return len(self.frame)

    def item_column(self, item: str) -> str:
        """The column of ``item``'s score (KeyError when the item is not scored)."""
        if item not in self.item_dimensions:
            raise KeyError(f"{item!r} is not a scored item of {self.questionnaire_id!r}")
        return ITEM_PREFIX + item

    def dimension_column(self, dimension: str) -> str:
        """The column of ``dimension``'s score (KeyError when there is no such dimension)."""
        if dimension not in self.dimensions:
            raise KeyError(f"{dimension!r} is not a dimension of {self.questionnaire_id!r}")
        return DIMENSION_PREFIX + dimension

    def special_answers_frame(self) -> pd.DataFrame:
        """Special answers to demographic questions: columns ``role, answer, n``."""
        rows = [
            (role, answer, n)
            for role, counts in self.special_answers.items()
            for answer, n in counts.items()
        ]
        return pd.DataFrame(rows, columns=["role", "answer", "n"])


# ============================================================================ the plan
@dataclass(frozen=True, eq=False)
class _Item:
    """How one scored question or matrix item is turned into a 0-1 score."""

    question: Question
    dimension: str
    kind: str
    columns: tuple[str, ...]
    # choice questions: score and validity per code, indexed by code - offset
    offset: int = 0
    table: FloatArray | None = None
    # choice questions whose scores are fractions with small whole numerators over one
    # denominator (right/wrong: n/1; points: p/max; scale: position/(k - 1)): the numerator
    # per code in the layout of ``table``, with -1 for "not a code" and -2 for "left out" (a
    # scale's special answers). Dimension sums then add int8 numerators (exactly).
    denominator: int = 0
    numerators: NDArray[np.int8] | None = None
    # multiple choice with correct: per option column, whether it must be chosen
    must_choose: tuple[bool, ...] = ()
    # number questions
    correct_value: float = 0.0
    tolerance: float = 0.0
    specials: tuple[int, ...] = ()


@dataclass(frozen=True, eq=False)
class _Plan:
    items: tuple[_Item, ...]
    derived: tuple[tuple[str, Expression, str, float | None, float | None], ...]
    weights: Mapping[str, float]


def _code_table(
    question: Question, values: Mapping[str, float], special_value: float
) -> tuple[int, FloatArray]:
    """Score lookup over the codes of ``question``'s options and special answers.

    Returns ``(offset, table)``: ``table[code - offset]`` is the score of an option
    (``values[name]``, names not given scoring 0) or of an allowed special answer
    (``special_value``); codes that are neither, and the trailing sentinel slot, hold -1.
    """
    low, high = _code_range(question)
    table = _new_table(low, high, -1.0, np.float64)
    for name, code in question.option_codes(with_special=False).items():
        table[code - low + 1] = values.get(name, 0.0)
    for special in question.special:
        table[SPECIAL_CODES[special] - low + 1] = special_value
    return low, table


def _item_rule(question: Question) -> _Item:
    score = question.score
    if score is None:  # pragma: no cover - only scored items are planned
        raise ScoringError(f"question '{question.name}' has no score")
    kind = score.kind
    if question.type == "multiple_choice":
        options = question.choices.names if question.choices is not None else ()
        return _Item(
            question,
            score.dimension,
            kind,
            tuple(f"{question.name}__{o}" for o in options),
            must_choose=tuple(o in score.correct for o in options),
            specials=tuple(SPECIAL_CODES[s] for s in question.special),
        )
    if question.type in ("integer", "decimal"):
        return _Item(
            question,
            score.dimension,
            kind,
            (question.name,),
            correct_value=float(score.correct_value or 0.0),
            tolerance=float(score.tolerance),
            specials=tuple(SPECIAL_CODES[s] for s in question.special),
        )
    names = question.choices.names if question.choices is not None else ()
    values: dict[str, float]
    special_value = 0.0
    if kind == "correct":
        values = {name: float(name in score.correct) for name in names}
    elif kind == "points":
        top = score.max_points
        values = {name: p / top for name, p in score.points}
    else:
        last = max(len(names) - 1, 1)
        values = {name: i / last for i, name in enumerate(names)}
        if score.reverse:
            values = {name: 1.0 - v for name, v in values.items()}
        special_value = math.nan
    offset, table = _code_table(question, values, special_value)
    fractions = _integer_scores(question)
    if fractions is None:
        return _Item(question, score.dimension, kind, (question.name,), offset, table)
    numerators, denominator = fractions
    special_numerator = -2 if kind == "scale" else 0
    _, small = _code_table(question, numerators, special_numerator)
    return _Item(
        question,
        score.dimension,
        kind,
        (question.name,),
        offset,
        table,
        denominator=denominator,
        numerators=small.astype(np.int8),
    )


def _integer_scores(question: Question) -> tuple[dict[str, float], int] | None:
    """Each option's score as ``numerator / denominator`` with whole numerators 0 ... 127 over
    one denominator, or None (scores that are not such fractions are added as floats)."""
    score = question.score
    names = question.choices.names if question.choices is not None else ()
    if score is None or not names:
        return None
    if score.kind == "correct":
        return {name: float(name in score.correct) for name in names}, 1
    if score.kind == "points":
        top = score.max_points
        if not float(top).is_integer() or top <= 0:
            return None
        numerators = {name: float(p) for name, p in score.points}
        if not all(v.is_integer() and 0 <= v <= 127 for v in numerators.values()):
            return None
        return numerators, int(top)
    last = max(len(names) - 1, 1)
    if last > 127:
        return None
    positions = {name: float(i) for i, name in enumerate(names)}
    if score.reverse:
        positions = {name: last - v for name, v in positions.items()}
    return positions, last


@lru_cache(maxsize=32)
def _plan(questionnaire: Questionnaire) -> _Plan:
    items = tuple(_item_rule(q) for q in questionnaire.scored_items())
    derived = tuple(
        (d.name, parse(d.expression), d.type, d.min, d.max) for d in questionnaire.derived
    )
    weights = _normalise_weights(
        {d.name: float(d.weight) for d in questionnaire.dimensions}, questionnaire
    )
    return _Plan(items, derived, weights)


def _normalise_weights(
    weights: Mapping[str, float], questionnaire: Questionnaire
) -> dict[str, float]:
    names = [d.name for d in questionnaire.dimensions]
    unknown = [k for k in weights if k not in names]
    if unknown:
        raise ScoringError(
            f"index_weights names {', '.join(map(repr, unknown))}, which "
            f"{'is not a dimension' if len(unknown) == 1 else 'are not dimensions'} of "
            f"{questionnaire.id!r}; use the dimension names {', '.join(names)}."
        )
    out: dict[str, float] = {}
    for name in names:
        value = weights.get(name, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise ScoringError(
                f"index weight of dimension {name!r} must be a number, got {value!r}."
            )
        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise ScoringError(
                f"index weight of dimension {name!r} is {value}; weights must be finite and "
                ">= 0 (a dimension may have weight 0, at least one must be positive)."
            )
        out[name] = value
    total = sum(out.values())
    if names and total <= 0:
        raise ScoringError(
            f"the index weights of {questionnaire.id!r} are all 0; give at least one dimension "
            "a positive weight."
        )
    return {name: w / total for name, w in out.items()} if names else {}


# ============================================================================ reading columns
def _column(frame: pd.DataFrame, name: str, what: str, problems: list[str]) -> pd.Series | None:
    if name in frame.columns:
        return frame[name]
    problems.append(
        f"column '{name}' ({what}) is missing: the responses do not match the questionnaire; "
        "score each questionnaire version with its own definition."
    )
    return None


def _masked(series: pd.Series) -> tuple[NDArray[Any], BoolArray] | None:
    """The values and the missing mask of a nullable numeric column, without copying.

    Values under the mask are arbitrary. Reads the two buffers of pandas' masked arrays
    (``Int64``, ``Float64``); for plain numpy columns the mask is ``isnan`` (or all False).
    """
    array = series.array
    data = getattr(array, "_data", None)
    mask = getattr(array, "_mask", None)
    if isinstance(data, np.ndarray) and isinstance(mask, np.ndarray):
        return data, mask
    values = series.to_numpy()
    if values.dtype.kind in "iu":
        return values, np.zeros(len(values), dtype=bool)
    if values.dtype.kind == "f":
        return values, np.isnan(values)
    return None


def _integers(
    series: pd.Series, name: str, problems: list[str]
) -> tuple[NDArray[np.integer], BoolArray] | None:
    """Codes (arbitrary where missing) and the missing mask; None and a problem if not.

    Integer columns keep their width (``Int8`` codes stay int8: a read with narrowed
    integers is scored without widening); whole floats become int64. Neither array may be
    written to: they can be the column's own buffers.
    """
    dtype = series.dtype
    parts = None
    if not pd.api.types.is_bool_dtype(dtype) and pd.api.types.is_numeric_dtype(dtype):
        parts = _masked(series)
    if parts is None:
        problems.append(
            f"column '{name}' must hold integer codes, but it has dtype {dtype}; read the "
            "responses with the store's schema (codes as Int64)."
        )
        return None
    values, missing = parts
    if values.dtype.kind in "iu":
        return values, missing
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(values) & (values == np.round(values))
    if not (whole | missing).all():
        bad = values[~missing & ~whole]
        problems.append(
            f"column '{name}' must hold integer codes, but has {len(bad)} non-integer value(s) "
            f"such as {float(bad[0])!r}."
        )
        return None
    return np.where(missing, 0, values).astype(np.int64), missing


def _numbers(
    series: pd.Series, name: str, problems: list[str]
) -> tuple[FloatArray, BoolArray] | None:
    """Values as float64 (arbitrary where missing) and the missing mask (NaN counts as missing)."""
    dtype = series.dtype
    parts = None
    if not pd.api.types.is_bool_dtype(dtype) and pd.api.types.is_numeric_dtype(dtype):
        parts = _masked(series)
    if parts is None:
        problems.append(
            f"column '{name}' must hold numbers, but it has dtype {dtype}; read the responses "
            "with the store's schema."
        )
        return None
    values, missing = parts
    if values.dtype.kind == "f":
        values = values.astype(np.float64, copy=False)
        nan = np.isnan(values)
        if nan.any():
            missing = missing | nan
        return values, missing
    return values.astype(np.float64), missing


_INT8_CODES = np.arange(-128, 128, dtype=np.int64)


def _lookup(
    codes: NDArray[np.integer],
    low: int,
    table: NDArray[Any],
    *,
    out: NDArray[Any] | None = None,
    index: IntArray | None = None,
) -> NDArray[Any]:
    """``table[code - low + 1]`` per row, codes outside the table getting its end slots.

    ``table`` covers the codes ``low - 1 ... low + len(table) - 2``: its first and last slots
    are sentinels (value of "not a code") that also catch every code below or above, as
    ``numpy.take(mode="clip")`` clamps the index. int8 codes (a read with narrowed integers)
    index a 256-entry copy of the table at ``code & 0xFF`` directly (``pyarrow.compute.take``);
    wider codes are shifted in int64. ``out`` (the table's dtype) and ``index`` (int64), of
    the codes' length, are buffers to reuse instead of allocating.
    """
    if codes.dtype == np.int8:
        # Arrow takes with uint8 indices as they are (numpy would first widen them to intp).
        byte = np.empty(256, dtype=table.dtype)
        byte[_INT8_CODES & 0xFF] = table.take(_INT8_CODES - (low - 1), mode="clip")
        taken = pc.take(pa.array(byte), pa.array(codes.view(np.uint8))).to_numpy()
        if out is None:
            out = np.empty(len(codes), dtype=table.dtype)
        np.copyto(out, taken)
        return out
    shifted = np.subtract(codes, low - 1, out=index, dtype=np.int64)
    result: NDArray[Any] = table.take(shifted, mode="clip", out=out)
    return result


def _new_table(low: int, high: int, fill: float, dtype: Any) -> NDArray[Any]:
    """A lookup table for codes ``low ... high`` (see :func:`_lookup`), filled with ``fill``."""
    return np.full(high - low + 3, fill, dtype=dtype)


def _code_range(question: Question) -> tuple[int, int]:
    codes = [*question.option_codes(with_special=False).values()]
    codes.extend(SPECIAL_CODES[s] for s in question.special)
    return min(codes), max(codes)


def _bad_codes(
    name: str, codes: NDArray[np.integer], bad: BoolArray, question: Question
) -> str:
    found = np.unique(codes[bad])
    shown = ", ".join(str(int(c)) for c in found[:5])
    allowed = ", ".join(str(c) for c in question.option_codes().values())
    return (
        f"column '{name}' has {int(bad.sum())} code(s) that are not options of question "
        f"'{question.name}' ({shown}{', ...' if len(found) > 5 else ''}); its codes are "
        f"{allowed}. Were these responses given to another questionnaire version?"
    )


# ============================================================================ item scores
Scores = tuple[FloatArray, BoolArray]
"""An item's scores with 0 where left out, and the left-out mask."""


def _item_codes(
    frame: pd.DataFrame, item: _Item, problems: list[str]
) -> tuple[NDArray[np.integer], BoolArray] | None:
    """A choice item's codes and missing mask (see :func:`_integers`); None and a problem if
    its column is missing or not integer codes."""
    q = item.question
    series = _column(frame, item.columns[0], f"answer to '{q.name}'", problems)
    if series is None:
        return None
    return _integers(series, q.name, problems)


def _rejects_codes(
    codes: NDArray[np.integer],
    invalid: BoolArray,
    given_missing: BoolArray,
    question: Question,
    problems: list[str],
) -> bool:
    """Whether a present code is no option of ``question`` (``invalid`` from the lookup's
    "not a code" slots); if so, the problem is added."""
    if not invalid.any():
        return False
    bad = invalid & ~given_missing
    if not bad.any():
        return False
    problems.append(_bad_codes(question.name, codes, bad, question))
    return True


def _score_item(
    frame: pd.DataFrame, item: _Item, problems: list[str], buffers: _Buffers | None = None
) -> Scores | None:
    """The item's scores and left-out mask.

    With ``buffers`` whose ``scores`` is set, a choice item's scores are written there and
    its mask is a buffer or the column's own mask: both hold only until the next call, and
    neither may be written to.
    """
    q = item.question
    index = None if buffers is None else buffers.index
    if q.type == "multiple_choice":
        return _score_multiple(frame, item, problems, index)
    series = _column(frame, item.columns[0], f"answer to '{q.name}'", problems)
    if series is None:
        return None
    if q.type in ("integer", "decimal"):
        read = _numbers(series, q.name, problems)
        if read is None:
            return None
        values, missing = read
        slack = item.tolerance + _EPS * max(1.0, abs(item.correct_value))
        with np.errstate(invalid="ignore"):
            right = np.abs(values - item.correct_value) <= slack
        for code in item.specials:
            if abs(item.correct_value - code) <= slack:  # a special code is never right
                right &= values != code
        out = right.astype(np.float64)
        missing = missing.copy()
        np.putmask(out, missing, 0.0)
        return out, missing
    codes_read = _integers(series, q.name, problems)
    if codes_read is None:
        return None
    codes, given_missing = codes_read
    if item.table is None:  # pragma: no cover - set for choice items
        raise ScoringError(f"question '{q.name}' has no code table")
    reuse = buffers is not None and buffers.scores is not None
    out = _lookup(
        codes, item.offset, item.table, out=buffers.scores if buffers else None, index=index
    )
    invalid = np.less(out, 0, out=buffers.flags if buffers else None)
    if _rejects_codes(codes, invalid, given_missing, q, problems):
        return None
    if item.kind == "scale":
        missing = np.isnan(out, out=buffers.missing if reuse and buffers else None)
        missing |= given_missing
    else:
        missing = given_missing if reuse else given_missing.copy()
    np.putmask(out, missing, 0.0)
    return out, missing


def _score_numerators(
    frame: pd.DataFrame, item: _Item, problems: list[str], buffers: _Buffers
) -> tuple[NDArray[np.int8], BoolArray] | None:
    """A choice item's score numerators (0 where left out) and its left-out mask, both in
    ``buffers`` or the column's own mask: valid until the next call, not to be written to."""
    q = item.question
    codes_read = _item_codes(frame, item, problems)
    if codes_read is None:
        return None
    codes, given_missing = codes_read
    numerators = _numerator_table(item.numerators, q.name)
    out = _lookup(codes, item.offset, numerators, out=buffers.numerators, index=buffers.index)
    invalid = np.equal(out, -1, out=buffers.flags)
    if _rejects_codes(codes, invalid, given_missing, q, problems):
        return None
    if item.kind == "scale":
        missing = np.equal(out, -2, out=buffers.missing)
        missing |= given_missing
    else:
        missing = given_missing
    np.putmask(out, missing, 0)
    return out, missing


def _numerator_table(value: NDArray[np.int8] | None, name: str) -> NDArray[np.int8]:
    if value is None:  # pragma: no cover - only planned for items with numerators
        raise ScoringError(f"question '{name}' has no numerator table")
    return value


_MULTI_TABLE = np.array([-3, -2, -1, 0, 1, -3], dtype=np.int8)  # codes -3 ... 2; -3 invalid


def _multiple_codes(
    frame: pd.DataFrame,
    question: Question,
    column: str,
    problems: list[str],
    index: IntArray | None = None,
) -> tuple[NDArray[np.int8], BoolArray] | None:
    """A multiple-choice option column as int8 (1 chosen, 0 not, -1/-2 special) and its mask.

    ``index``: an int64 buffer for the lookup (see :func:`_lookup`)."""
    series = _column(frame, column, f"option of '{question.name}'", problems)
    if series is None:
        return None
    read = _integers(series, column, problems)
    if read is None:
        return None
    codes, missing = read
    allowed = [0, 1, *(SPECIAL_CODES[s] for s in question.special)]
    table = _MULTI_TABLE.copy()
    for code in (-2, -1):
        if code not in allowed:
            table[code + 3] = -3
    out = _lookup(codes, -2, table, index=index)
    invalid = out == -3
    if invalid.any():
        bad = invalid & ~missing
        if bad.any():
            problems.append(
                f"column '{column}' must be 0 or 1 (or "
                f"{', '.join(map(str, allowed[2:])) or 'no special code'} for a special "
                f"answer), but has {int(bad.sum())} other value(s) such as "
                f"{int(codes[bad][0])}."
            )
            return None
    return out, missing


def _score_multiple(
    frame: pd.DataFrame, item: _Item, problems: list[str], index: IntArray | None = None
) -> Scores | None:
    q = item.question
    right: BoolArray | None = None
    first_missing: BoolArray | None = None
    special: BoolArray | None = None
    for column, must in zip(item.columns, item.must_choose, strict=True):
        read = _multiple_codes(frame, q, column, problems, index)
        if read is None:
            return None
        codes, missing = read
        ok = codes == 1 if must else codes != 1
        if right is None:
            right, first_missing = ok, missing.copy()
            special = codes < 0
        else:
            right &= ok
    if right is None or first_missing is None or special is None:
        problems.append(f"multiple choice '{q.name}' has no options to score.")
        return None
    out = (right & ~special).astype(np.float64)
    np.putmask(out, first_missing, 0.0)
    return out, first_missing


# ============================================================================ analysis columns
@lru_cache(maxsize=1)
def _census() -> pd.DataFrame:
    return load_census()


def _categorical(codes: NDArray[np.integer], categories: Sequence[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(list(categories)))


def _choice_codes(
    frame: pd.DataFrame,
    question: Question,
    problems: list[str],
    specials_seen: dict[str, dict[str, int]],
    role: str,
    values: Sequence[int] | None = None,
    index: IntArray | None = None,
) -> NDArray[np.integer] | None:
    """Per row ``values[i]`` for option ``i`` (default: ``i``, the list position), -1 where
    missing or special (int16 when the values fit); special answers are counted into
    ``specials_seen[role]``."""
    series = _column(frame, question.name, f"question with role '{role}'", problems)
    if series is None:
        return None
    read = _integers(series, question.name, problems)
    if read is None:
        return None
    codes, missing = read
    options = question.choices.choices if question.choices is not None else ()
    low, high = _code_range(question)
    # -1 dont_know, -2 prefer_not, -3 not a code of the question, -4 missing
    targets = range(len(options)) if values is None else values
    narrow = max(targets, default=0) < np.iinfo(np.int16).max
    table = _new_table(low, high, -3, np.int16 if narrow else np.int64)
    for i, option in enumerate(options):
        table[option.code - low + 1] = i if values is None else values[i]
    for special in question.special:
        table[SPECIAL_CODES[special] - low + 1] = SPECIAL_CODES[special]
    out = _lookup(codes, low, table, index=index)
    np.putmask(out, missing, -4)
    invalid = out == -3
    if invalid.any():
        problems.append(_bad_codes(question.name, codes, invalid, question))
        return None
    for special in question.special:
        count = int(np.count_nonzero(out == SPECIAL_CODES[special]))
        if count:
            specials_seen.setdefault(role, {})[special] = count
    np.maximum(out, -1, out=out)
    return out


def _number(
    frame: pd.DataFrame,
    question: Question,
    problems: list[str],
    specials_seen: dict[str, dict[str, int]],
    role: str,
) -> tuple[FloatArray, BoolArray] | None:
    """A number question's values (arbitrary where missing) and mask; specials are missing."""
    series = _column(frame, question.name, f"question with role '{role}'", problems)
    if series is None:
        return None
    read = _numbers(series, question.name, problems)
    if read is None:
        return None
    values, missing = read
    for special in question.special:
        hit = (values == SPECIAL_CODES[special]) & ~missing
        count = int(hit.sum())
        if count:
            specials_seen.setdefault(role, {})[special] = count
            missing = missing | hit
    return values, missing


_AGE_NAME = re.compile(r"^[a-z_]*?(\d+)(?:_(\d+)|_?plus)$")


def _age_bounds(name: str) -> tuple[int, int | None] | None:
    match = _AGE_NAME.match(name)
    if match is None:
        return None
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) is not None else None
    return low, high


def _age_band_of(low: float, high: float | None) -> str | None:
    if high is not None and high <= 14:
        return "0-14"
    if low >= 15 and high is not None and high <= 59:
        return "15-59"
    if low >= 60:
        return "60+"
    return None


def _age_labels(edges: Sequence[int]) -> list[str]:
    labels = [f"<{edges[0]}"]
    for low, high in itertools.pairwise(edges):
        labels.append(f"{low}-{high - 1}")
    labels.append(f"{edges[-1]}+")
    return labels


def _analysis_columns(
    frame: pd.DataFrame,
    questionnaire: Questionnaire,
    age_groups: Sequence[int],
    problems: list[str],
    specials_seen: dict[str, dict[str, int]],
    index: IntArray | None = None,
) -> dict[str, Any]:
    roles = questionnaire.roles()
    n = len(frame)
    out: dict[str, Any] = {}

    # -- province, names and region
    census = _census()
    gb_codes = census["gb_code"].to_numpy(dtype=np.int64)
    position = {int(code): i for i, code in enumerate(gb_codes)}
    row: NDArray[np.integer] | None = None  # census row per response, -1 when missing
    q = roles.get("province")
    if q is not None:
        options = q.choices.choices if q.choices is not None else ()
        row = _choice_codes(
            frame,
            q,
            problems,
            specials_seen,
            "province",
            [position[c.code] for c in options],
            index,
        )
    elif "province" in frame.columns:
        read = _integers(frame["province"], "province", problems)
        if read is not None:
            stored, stored_missing = read
            table = _new_table(0, 99, -3, np.int64)
            table[gb_codes + 1] = np.arange(len(gb_codes))
            row = _lookup(stored, 0, table, index=index)
            np.putmask(row, stored_missing, -1)
            if (row == -3).any():
                bad = sorted({int(v) for v in stored[row == -3]})
                problems.append(
                    f"column 'province' has codes that are not mainland provinces: "
                    f"{', '.join(map(str, bad[:5]))}; province codes are the GB/T 2260 codes "
                    "of data/reference/china_provinces_census2020.csv (11 ... 65)."
                )
                row = None
    if row is not None:
        missing = row < 0
        out["province"] = pd.arrays.IntegerArray(np.take(gb_codes, row), missing)
        out["province_name_zh"] = _categorical(row, census["name_zh"].tolist())
        out["province_name_en"] = _categorical(row, census["name_en"].tolist())
        region_of = np.array([_REGIONS.index(r) for r in census["nbs_region"]] + [-1])
        out["region"] = _categorical(region_of[row], _REGIONS)

    # -- choice demographics
    for role in ("sex", "urban"):
        q = roles.get(role)
        if q is None:
            continue
        codes = _choice_codes(frame, q, problems, specials_seen, role, index=index)
        if codes is not None:
            out[role] = _categorical(codes, q.choices.names if q.choices else ())

    # -- age
    q = roles.get("age")
    if q is not None:
        labels = _age_labels(age_groups)
        if q.type == "single_choice":
            codes = _choice_codes(frame, q, problems, specials_seen, "age", index=index)
            if codes is not None:
                names = q.choices.names if q.choices else ()
                bands = ["0-14", "15-59", "60+"]
                band_of = []
                for name in names:
                    bounds = _age_bounds(name)
                    band = _age_band_of(*bounds) if bounds is not None else None
                    band_of.append(bands.index(band) if band is not None else -1)
                unmapped = [nm for nm, b in zip(names, band_of, strict=True) if b < 0]
                if unmapped:
                    warnings.warn(
                        f"age question '{q.name}': options {', '.join(unmapped)} do not name "
                        "an age range within 0-14, 15-59 or 60+ (e.g. 'a18_24', 'a60_plus'); "
                        "their age_band is null.",
                        ScoringWarning,
                        stacklevel=3,
                    )
                band_index = np.array([*band_of, -1], dtype=np.int64)
                out["age"] = pd.array(np.full(n, None), dtype="Int64")
                out["age_band"] = _categorical(band_index[codes], bands)
                out["age_group"] = _categorical(codes, names)
        else:
            read_age = _number(frame, q, problems, specials_seen, "age")
            if read_age is not None:
                age, missing = read_age
                years = np.floor(np.where(missing, 0.0, age))
                out["age"] = pd.arrays.IntegerArray(years.astype(np.int64), missing.copy())
                band_codes = (years >= 15).astype(np.int8)
                band_codes += years >= 60
                np.putmask(band_codes, missing, -1)
                out["age_band"] = _categorical(band_codes, ["0-14", "15-59", "60+"])
                group = np.zeros(len(years), dtype=np.int8)
                for edge in age_groups:
                    group += years >= edge
                np.putmask(group, missing, -1)
                out["age_group"] = _categorical(group, labels)

    for role in ("education", "income", "occupation"):
        q = roles.get(role)
        if q is None:
            continue
        if q.type in ("integer", "decimal"):
            read_number = _number(frame, q, problems, specials_seen, role)
            if read_number is not None:
                values, missing = read_number
                out[role] = pd.arrays.FloatingArray(
                    np.where(missing, 0.0, values), missing.copy()
                )
        else:
            codes = _choice_codes(frame, q, problems, specials_seen, role, index=index)
            if codes is not None:
                out[role] = _categorical(codes, q.choices.names if q.choices else ())

    # -- exposure to financial education
    q = roles.get("exposure")
    if q is not None:
        out.update(_exposure(frame, q, problems, specials_seen, index))
    q = roles.get("exposure_recency")
    if q is not None:
        codes = _choice_codes(frame, q, problems, specials_seen, "exposure_recency", index=index)
        if codes is not None:
            months = np.array(
                [c.recency_months if c.recency_months is not None else -1 for c in q.choices or ()]
                + [-1],
                dtype=np.int64,
            )
            value = months[np.where(codes >= 0, codes, len(months) - 1)]
            out["exposure_recency_months"] = pd.arrays.IntegerArray(
                np.where(value < 0, 0, value), value < 0
            )

    # -- pre/post quiz
    q = roles.get("participant_code")
    if q is not None:
        series = _column(frame, q.name, "question with role 'participant_code'", problems)
        if series is not None:
            text = series.astype("str").str.strip().str.upper()
            text = text.where(series.notna() & (text != ""), None)
            out["participant_code"] = text.array
    q = roles.get("phase")
    if q is not None:
        codes = _choice_codes(frame, q, problems, specials_seen, "phase", index=index)
        if codes is not None:
            out["phase"] = _categorical(codes, q.choices.names if q.choices else ())
    order = {name: i for i, name in enumerate(ANALYSIS_COLUMNS)}
    return dict(sorted(out.items(), key=lambda kv: order[kv[0]]))


def _exposure(
    frame: pd.DataFrame,
    question: Question,
    problems: list[str],
    specials_seen: dict[str, dict[str, int]],
    index: IntArray | None = None,
) -> dict[str, Any]:
    n = len(frame)
    kinds: dict[str, BoolArray] = {k: np.zeros(n, dtype=bool) for k in EXPOSURE_KINDS}
    any_kind = np.zeros(n, dtype=bool)
    empty: BoolArray | None = None
    for i, option in enumerate(question.choices or ()):
        column = f"{question.name}__{option.name}"
        read = _multiple_codes(frame, question, column, problems, index)
        if read is None:
            return {}
        codes, missing = read
        if i == 0:
            empty = missing | (codes < 0)
            for special in question.special:
                count = int(((codes == SPECIAL_CODES[special]) & ~missing).sum())
                if count:
                    specials_seen.setdefault("exposure", {})[special] = count
        chosen = codes == 1
        if option.exposure in kinds:
            kinds[option.exposure] |= chosen
        if option.exposure is not None and option.exposure != "none":
            any_kind |= chosen
    if empty is None:
        return {}
    out: dict[str, Any] = {
        "exposure_any": pd.arrays.IntegerArray(any_kind.view(np.int8), empty.copy())
    }
    for kind, chosen in kinds.items():
        out[f"exposure_{kind}"] = pd.arrays.IntegerArray(chosen.view(np.int8), empty.copy())
    return out


# ============================================================================ score_responses
def _all_equal_or_missing(values: pd.Series, expected: str) -> bool:
    """Whether every present value is ``expected``: one Arrow comparison for Arrow-backed
    text (the store's), False (look closer) for anything else."""
    if not isinstance(values.dtype, pd.StringDtype | pd.ArrowDtype):
        return False
    try:
        array = pa.chunked_array(pa.array(values.array))
    except (pa.ArrowException, TypeError, ValueError):
        return False
    if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
        return False
    return not pc.any(pc.not_equal(array, expected)).as_py()


def _check_questionnaire(frame: pd.DataFrame, questionnaire: Questionnaire) -> list[str]:
    problems = []
    for column, expected in (
        ("questionnaire_id", questionnaire.id),
        ("questionnaire_version", questionnaire.version),
    ):
        if column in frame.columns:
            values = frame[column]
            if _all_equal_or_missing(values, expected):
                continue
            other = values.notna() & (values != expected)
            if other.any():
                found = sorted({str(v) for v in pd.unique(values[other])})
                problems.append(
                    f"column '{column}' has {', '.join(map(repr, found[:5]))} in "
                    f"{int(other.sum())} row(s), but the questionnaire is {questionnaire.id!r} "
                    f"version {questionnaire.version!r}; score each questionnaire version "
                    "separately (select its rows first)."
                )
    return problems


def score_responses(
    responses: pd.DataFrame,
    questionnaire: Questionnaire,
    *,
    index_weights: Mapping[str, float] | IndexWeights | None = None,
    item_scores: bool = True,
    age_groups: Sequence[int] = AGE_GROUP_EDGES,
) -> ScoredResponses:
    """Score stored responses to one questionnaire version.

    Parameters
    ----------
    responses
        One row per response, as the response store gives them: the answer columns of
        ``questionnaire.columns()`` (choice codes as integers, multiple choice as
        ``<question>__<option>`` 0/1, special answers -1/-2, null when skipped) and the
        store's metadata (``response_id`` ... ``token_hash``). Rows of another questionnaire
        or version are an error.
    questionnaire
        The questionnaire version the responses answer.
    index_weights
        Dimension -> weight of the index, overriding the questionnaire's ``weight``s, or an
        :class:`IndexWeights` result of :func:`index_weights`. Dimensions left out get 0;
        weights are >= 0, at least one positive, and are normalised to sum 1.
    item_scores
        Keep the ``score__<item>`` columns (``False`` saves memory when only dimensions and
        the index are needed; dimensions are computed either way).
    age_groups
        Increasing lower edges of the reporting age groups (column ``age_group``).

    Returns
    -------
    ScoredResponses
        The frame of scores and analysis columns, aligned to ``responses.index``, and what
        was computed (see the module docstring for every rule).

    Raises
    ------
    ScoringError
        Listing every problem at once: missing answer columns, codes that are not options,
        columns of the wrong type, rows of another questionnaire version, bad
        ``index_weights``, output names that clash.

    Warns
    -----
    ScoringWarning
        A derived score outside its ``min``/``max`` (the dimension taken from it would leave
        0-100); an age band option whose name gives no age range.

    Notes
    -----
    Each item is scored with one array lookup from its codes (``table[code - offset]``; for
    int8 codes, ``table[code & 0xFF]``). Right/wrong, points and scale items, whose scores are
    whole numerators over one denominator, add int8 numerators into integer sums, divided
    once per dimension (so the sums are exact); dimensions accumulate sums and counts,
    derived scores use :meth:`questionnaires.expressions.Expression.evaluate_frame`, and
    demographics become categoricals through code tables, so the cost is a few passes over
    each answer column.
    """
    if not isinstance(responses, pd.DataFrame):
        raise ScoringError(
            f"responses must be a pandas DataFrame (one row per response), got "
            f"{type(responses).__name__}."
        )
    if not isinstance(questionnaire, Questionnaire):
        raise ScoringError(
            f"questionnaire must be a loaded Questionnaire, got {type(questionnaire).__name__}; "
            "load it with questionnaires.load_questionnaire(path)."
        )
    edges = _check_age_groups(age_groups)
    plan = _plan(questionnaire)
    weights = (
        plan.weights
        if index_weights is None
        else _normalise_weights(_weights_mapping(index_weights), questionnaire)
    )
    problems = _check_questionnaire(responses, questionnaire)
    n = len(responses)

    columns: dict[str, Any] = {}
    for name in KEPT_COLUMNS:
        if name in responses.columns:
            columns[name] = responses[name].array

    sums = {d.name: np.zeros(n) for d in questionnaire.dimensions}
    # items left out per row and dimension: int16 holds any questionnaire's item count
    width = np.dtype(np.int16 if len(plan.items) < np.iinfo(np.int16).max else np.int32)
    skipped: dict[str, NDArray[np.signedinteger]] = {
        d.name: np.zeros(n, dtype=width) for d in questionnaire.dimensions
    }
    planned = {d.name: 0 for d in questionnaire.dimensions}
    item_arrays: dict[str, Scores] = {}
    # Lookups reuse one index buffer; without item columns to keep, so do the scores.
    buffers = _Buffers.of(n, keep_scores=item_scores)
    # Items scored num / den add their int8 numerators into one integer sum per dimension
    # and denominator (int16 while the largest possible sum fits).
    bound: dict[tuple[str, int], int] = {}
    for item in plan.items:
        if item.numerators is not None:
            key = (item.dimension, item.denominator)
            bound[key] = bound.get(key, 0) + max(int(item.numerators.max()), 0)
    numerator_sums: dict[tuple[str, int], NDArray[np.signedinteger]] = {
        key: np.zeros(n, dtype=np.int16 if top < np.iinfo(np.int16).max else np.int32)
        for key, top in bound.items()
    }
    for item in plan.items:
        planned[item.dimension] += 1
        if item.numerators is not None:
            read = _score_numerators(responses, item, problems, buffers)
            if read is None:
                continue
            numerators, left_out = read
            numerator_sums[(item.dimension, item.denominator)] += numerators
            skipped[item.dimension] += left_out
            if item_scores:
                item_arrays[item.question.name] = (
                    np.divide(numerators, float(item.denominator)),
                    left_out.copy(),
                )
            continue
        scores = _score_item(responses, item, problems, buffers)
        if scores is None:
            continue
        values, missing = scores
        sums[item.dimension] += values
        skipped[item.dimension] += missing
        if item_scores:
            item_arrays[item.question.name] = scores

    specials_seen: dict[str, dict[str, int]] = {}
    analysis = _analysis_columns(
        responses, questionnaire, edges, problems, specials_seen, buffers.index
    )
    if problems:
        raise ScoringError(_problem_text(questionnaire, problems))

    for name, (values, missing) in item_arrays.items():
        columns[ITEM_PREFIX + name] = pd.arrays.FloatingArray(values, missing)

    derived_values = _evaluate_derived(responses, questionnaire, plan)

    for (dimension, denominator), total in numerator_sums.items():
        if denominator == 1:
            sums[dimension] += total
        else:
            sums[dimension] += total / denominator

    index_sum = np.zeros(n)
    for d in questionnaire.dimensions:
        count = planned[d.name] - skipped[d.name]
        if d.score is not None:
            low, high = _derived_range(questionnaire, d.score)
            values = derived_values[d.score].to_numpy(dtype=np.float64, na_value=np.nan)
            dim = 100.0 * (values - low) / (high - low)
        else:
            # 100 * sum / count, in place; no item answered: the sum is 0, and 0 / 0 is NaN.
            dim = np.multiply(sums[d.name], 100.0, out=sums[d.name])
            with np.errstate(invalid="ignore", divide="ignore"):
                np.divide(dim, count, out=dim)
        columns[COUNT_PREFIX + d.name] = count.astype(np.int64)
        missing = np.isnan(dim)
        if weights.get(d.name, 0.0) > 0:
            index_sum += weights[d.name] * dim
        np.putmask(dim, missing, 0.0)
        columns[DIMENSION_PREFIX + d.name] = pd.arrays.FloatingArray(dim, missing)
    for name, values in derived_values.items():
        columns[name] = values.array
    if questionnaire.index is not None:
        missing = np.isnan(index_sum)
        columns[questionnaire.index.name] = pd.arrays.FloatingArray(
            np.where(missing, 0.0, index_sum), missing
        )
    clashes = sorted(set(columns) & set(analysis))
    if clashes:
        raise ScoringError(
            f"{questionnaire.id!r}: the name(s) {', '.join(map(repr, clashes))} of a derived "
            "score or the index are also analysis columns made from roles; rename the derived "
            "score or the index in the questionnaire."
        )
    columns.update(analysis)
    frame = pd.DataFrame(columns, index=responses.index, copy=False)
    return ScoredResponses(
        frame=frame,
        questionnaire_id=questionnaire.id,
        questionnaire_version=questionnaire.version,
        items=tuple(item.question.name for item in plan.items),
        item_dimensions=MappingProxyType(
            {item.question.name: item.dimension for item in plan.items}
        ),
        dimensions=tuple(d.name for d in questionnaire.dimensions),
        derived=tuple(d.name for d in questionnaire.derived),
        index=questionnaire.index.name if questionnaire.index is not None else None,
        weights=MappingProxyType(dict(weights)),
        analysis_columns=tuple(analysis),
        special_answers=MappingProxyType(
            {role: MappingProxyType(c) for role, c in specials_seen.items()}
        ),
    )


def _weights_mapping(weights: Any) -> Mapping[str, float]:
    if isinstance(weights, IndexWeights):
        return weights.weights
    if not isinstance(weights, Mapping):
        raise ScoringError(
            "index_weights must be a mapping of dimension name -> weight (or an IndexWeights "
            f"result), got {type(weights).__name__}."
        )
    return weights


def _check_age_groups(edges: Sequence[int]) -> tuple[int, ...]:
    values: list[object] = []
    if not isinstance(edges, str | bytes):
        try:
            values = list(edges)
        except TypeError:
            values = []
    whole = bool(values) and all(
        isinstance(e, int | float | np.integer | np.floating)
        and not isinstance(e, bool)
        and float(e).is_integer()
        for e in values
    )
    out = tuple(int(e) for e in values) if whole else ()  # type: ignore[call-overload]
    if not whole or any(b <= a for a, b in itertools.pairwise(out)):
        raise ScoringError(
            f"age_groups must be increasing whole numbers (lower edges of the groups), such as "
            f"{AGE_GROUP_EDGES}; got {edges!r}."
        )
    return out


def _derived_range(questionnaire: Questionnaire, name: str) -> tuple[float, float]:
    d = questionnaire.derived_score(name)
    if d.min is None or d.max is None or d.max <= d.min:  # the loader guarantees a range
        raise ScoringError(
            f"dimension score '{name}' needs a derived number score with min < max."
        )
    return float(d.min), float(d.max)


def _evaluate_derived(
    responses: pd.DataFrame, questionnaire: Questionnaire, plan: _Plan
) -> dict[str, pd.Series]:
    if not plan.derived:
        return {}
    symbols = questionnaire.symbols()
    work = responses.copy(deep=False)
    out: dict[str, pd.Series] = {}
    for name, expression, kind, low, high in plan.derived:
        series = expression.evaluate_frame(work, symbols)
        series = series.astype("boolean" if kind == "boolean" else "Float64")
        if kind == "number" and (low is not None or high is not None):
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            with np.errstate(invalid="ignore"):
                outside = np.zeros(len(values), dtype=bool)
                if low is not None:
                    outside |= values < low - _EPS
                if high is not None:
                    outside |= values > high + _EPS
            if outside.any():
                warnings.warn(
                    f"{questionnaire.id!r}: derived score '{name}' is outside its range "
                    f"[{low:g}, {high:g}] in {int(outside.sum())} row(s) (e.g. "
                    f"{values[outside][0]:g}); check its expression or its min and max.",
                    ScoringWarning,
                    stacklevel=3,
                )
        work[name] = series
        out[name] = series
    return out


def _problem_text(questionnaire: Questionnaire, problems: list[str]) -> str:
    head = (
        f"Cannot score the responses with {questionnaire.id!r} version "
        f"{questionnaire.version!r}:"
    )
    return "\n".join([head, *(f"- {p}" for p in problems)])


# ============================================================================ index weights
@dataclass(frozen=True, eq=False)
class IndexWeights:
    """Index weights derived from the correlations of the dimension scores.

    Attributes
    ----------
    method
        ``"pca"`` (first principal component) or ``"factor"`` (one-factor maximum likelihood).
    normalisation
        ``"loadings"`` (weights proportional to the loadings) or ``"squared"`` (to the
        squared loadings).
    dimensions
        Dimension names, in questionnaire order.
    weights
        Dimension -> weight, summing to 1; pass to ``score_responses(index_weights=...)``.
    loadings
        Dimension -> loading on the first component / the factor (sign chosen so that the
        loadings sum to a positive number).
    uniquenesses
        Factor model: dimension -> uniqueness :math:`\\psi_j = 1 - \\lambda_j^2`; PCA:
        :math:`1 - \\lambda_j^2` as well (the variance the component leaves).
    eigenvalues
        Eigenvalues of the correlation matrix, largest first.
    explained_variance
        Share of the total standardised variance explained: :math:`\\ell_1 / p` (PCA) or
        :math:`\\sum_j \\lambda_j^2 / p` (factor).
    correlation
        The (weighted) correlation matrix used.
    n
        Responses used (every dimension score present).
    weighted
        Whether survey weights were used.
    converged
        Factor model: whether the optimiser met its tolerance (always True for PCA).
    """

    method: Literal["pca", "factor"]
    normalisation: Literal["loadings", "squared"]
    dimensions: tuple[str, ...]
    weights: Mapping[str, float]
    loadings: Mapping[str, float]
    uniquenesses: Mapping[str, float]
    eigenvalues: tuple[float, ...]
    explained_variance: float
    correlation: pd.DataFrame
    n: int
    weighted: bool
    converged: bool = True

    def to_frame(self) -> pd.DataFrame:
        """One row per dimension: ``dimension, loading, uniqueness, weight``."""
        return pd.DataFrame(
            {
                "dimension": list(self.dimensions),
                "loading": [self.loadings[d] for d in self.dimensions],
                "uniqueness": [self.uniquenesses[d] for d in self.dimensions],
                "weight": [self.weights[d] for d in self.dimensions],
            }
        )


def _weighted_correlation(values: FloatArray, w: FloatArray | None) -> FloatArray:
    if w is None:
        w = np.ones(len(values))
    w = w / w.sum()
    mean = w @ values
    centred = values - mean
    cov = (centred * w[:, None]).T @ centred
    sd = np.sqrt(np.diag(cov))
    if (sd <= 0).any():
        raise ScoringError("a dimension score is constant; it has no correlation to weigh.")
    corr: FloatArray = cov / np.outer(sd, sd)
    return corr


def _one_factor(corr: FloatArray) -> tuple[FloatArray, FloatArray, bool]:
    """Maximum-likelihood one-factor model of a correlation matrix.

    Minimises the discrepancy
    :math:`F(\\Psi) = \\sum_{k>1} (\\log \\theta_k - \\theta_k)` negated, over the uniquenesses
    :math:`\\Psi` (bounded below by 0.005), where :math:`\\theta_k` are the eigenvalues of
    :math:`\\Psi^{-1/2} R \\Psi^{-1/2}`; loadings are
    :math:`\\Psi^{1/2} u_1 \\sqrt{\\max(\\theta_1 - 1, 0)}` (Lawley and Maxwell 1971; the
    parametrisation of R's ``factanal``).
    """
    from scipy.optimize import minimize

    p = corr.shape[0]

    def parts(psi: FloatArray) -> tuple[FloatArray, FloatArray]:
        scale = 1.0 / np.sqrt(psi)
        values, vectors = np.linalg.eigh(corr * np.outer(scale, scale))
        return values[::-1], vectors[:, ::-1]

    def objective(psi: FloatArray) -> float:
        values, _ = parts(psi)
        rest = values[1:]
        return -float(np.sum(np.log(rest) - rest) - 1 + p)

    def loadings_of(psi: FloatArray) -> FloatArray:
        values, vectors = parts(psi)
        out: FloatArray = np.sqrt(psi) * vectors[:, 0] * math.sqrt(max(values[0] - 1.0, 0.0))
        return out

    def gradient(psi: FloatArray) -> FloatArray:
        lam = loadings_of(psi)
        g = np.outer(lam, lam) + np.diag(psi) - corr
        out: FloatArray = np.diag(g) / psi**2
        return out

    start = 1.0 - 0.5 / np.diag(np.linalg.inv(corr))
    result = minimize(
        objective,
        start,
        jac=gradient,
        method="L-BFGS-B",
        bounds=[(0.005, 1.0)] * p,
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 1000},
    )
    psi = np.asarray(result.x, dtype=np.float64)
    # L-BFGS-B may stop with a line-search message at the optimum itself: judge convergence
    # by the projected gradient (zero for uniquenesses inside their bounds).
    free = (psi > 0.005 + 1e-9) & (psi < 1.0 - 1e-9)
    grad = gradient(psi)
    converged = bool(result.success) or bool(np.all(np.abs(grad[free]) < 1e-6))
    return loadings_of(psi), psi, converged


def index_weights(
    scored: ScoredResponses,
    *,
    method: Literal["pca", "factor"] = "pca",
    weights: str | ArrayLike | None = None,
    normalisation: Literal["loadings", "squared"] = "loadings",
) -> IndexWeights:
    """Index weights from the first principal component or a one-factor model.

    Parameters
    ----------
    scored
        Scores from :func:`score_responses` (at least two dimensions; three for
        ``"factor"``). Responses missing any dimension score are left out.
    method
        ``"pca"``: the first eigenvector of the correlation matrix of the dimension scores.
        ``"factor"``: maximum-likelihood one-factor model of that matrix.
    weights
        Survey weights (a column of ``scored.frame`` or an array aligned to it) for the
        correlation matrix; ``None`` for equal weights.
    normalisation
        ``"loadings"``: :math:`w_j = \\lambda_j / \\sum_k \\lambda_k`; ``"squared"``:
        :math:`w_j = \\lambda_j^2 / \\sum_k \\lambda_k^2` (the OECD/JRC handbook's choice).

    Returns
    -------
    IndexWeights
        Weights (summing to 1), loadings, uniquenesses, eigenvalues, explained variance.

    Raises
    ------
    ScoringError
        Unknown ``method``/``normalisation``, too few dimensions or complete responses, a
        constant dimension, bad survey weights.

    Warns
    -----
    ScoringWarning
        A dimension loads negatively (its weight would be negative: the dimensions do not
        share one common factor); a uniqueness at its lower bound (a Heywood case); the
        optimiser did not converge.

    Notes
    -----
    The correlation matrix is :math:`R = D^{-1/2} S D^{-1/2}` with the weighted covariance
    :math:`S = \\sum_i w_i (x_i - \\bar x)(x_i - \\bar x)' / \\sum_i w_i` of the dimension scores
    (the scale of the weights cancels). PCA loadings are :math:`\\lambda = \\sqrt{\\ell_1}\\,u_1`
    for the largest eigenvalue :math:`\\ell_1` and its eigenvector :math:`u_1` of :math:`R`.
    The weights are applied to the dimension scores on their 0-100 scale, so the index stays
    on 0-100: a weighted mean of the dimensions. The People's Bank of China builds its
    consumer financial literacy index from a common factor of its four dimensions (principal
    components / factor analysis; PBoC, *Consumer Financial Literacy Survey Report*, 2017,
    2019, 2021); normalising the first component's loadings to sum 1 is the usual way to turn
    that factor into weights of a 0-100 index. The squared-loadings variant follows the
    OECD/JRC *Handbook on Constructing Composite Indicators* (2008), sec. 6.1.
    """
    if method not in ("pca", "factor"):
        raise ScoringError(f"method must be 'pca' or 'factor', got {method!r}.")
    if normalisation not in ("loadings", "squared"):
        raise ScoringError(
            f"normalisation must be 'loadings' or 'squared', got {normalisation!r}."
        )
    if not isinstance(scored, ScoredResponses):
        raise ScoringError(
            f"scored must be the result of score_responses, got {type(scored).__name__}."
        )
    dims = scored.dimensions
    needed = 3 if method == "factor" else 2
    if len(dims) < needed:
        need = "a one-factor model needs at least 3" if method == "factor" else "at least 2"
        raise ScoringError(
            f"{scored.questionnaire_id!r} has {len(dims)} dimension(s); index weights need "
            f"{need} (with one dimension the index is that dimension)."
        )
    values = np.column_stack(
        [
            scored.frame[DIMENSION_PREFIX + d].to_numpy(dtype=np.float64, na_value=np.nan)
            for d in dims
        ]
    )
    w = _survey_weights(scored.frame, weights)
    complete = ~np.isnan(values).any(axis=1)
    if w is not None:
        complete &= ~np.isnan(w)
    if complete.sum() <= len(dims):
        raise ScoringError(
            f"only {int(complete.sum())} response(s) have every dimension score; index weights "
            f"need more than {len(dims)}."
        )
    corr = _weighted_correlation(values[complete], None if w is None else w[complete])
    eigenvalues, vectors = np.linalg.eigh(corr)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, vectors = eigenvalues[order], vectors[:, order]
    converged = True
    if method == "pca":
        loadings = vectors[:, 0] * math.sqrt(eigenvalues[0])
        explained = float(eigenvalues[0] / len(dims))
        uniq = 1.0 - loadings**2
    else:
        loadings, uniq, converged = _one_factor(corr)
        explained = float(np.sum(loadings**2) / len(dims))
        if not converged:
            warnings.warn(
                "index_weights: the one-factor model did not converge; its loadings are the "
                "last iterate.",
                ScoringWarning,
                stacklevel=2,
            )
        if (uniq <= 0.005 + 1e-6).any():
            warnings.warn(
                "index_weights: a uniqueness reached its lower bound 0.005 (a Heywood case); "
                "the one-factor loadings are unreliable, consider method='pca'.",
                ScoringWarning,
                stacklevel=2,
            )
    if loadings.sum() < 0:
        loadings = -loadings
    if (loadings < 0).any():
        neg = [d for d, v in zip(dims, loadings, strict=True) if v < 0]
        warnings.warn(
            f"index_weights: dimension(s) {', '.join(neg)} load negatively on the common "
            "component, so their weights are negative; the dimensions do not measure one "
            "common trait.",
            ScoringWarning,
            stacklevel=2,
        )
    raw = loadings if normalisation == "loadings" else loadings**2
    normalised = raw / raw.sum()
    return IndexWeights(
        method=method,
        normalisation=normalisation,
        dimensions=dims,
        weights=MappingProxyType(dict(zip(dims, map(float, normalised), strict=True))),
        loadings=MappingProxyType(dict(zip(dims, map(float, loadings), strict=True))),
        uniquenesses=MappingProxyType(dict(zip(dims, map(float, uniq), strict=True))),
        eigenvalues=tuple(float(v) for v in eigenvalues),
        explained_variance=explained,
        correlation=pd.DataFrame(corr, index=list(dims), columns=list(dims)),
        n=int(complete.sum()),
        weighted=w is not None,
        converged=converged,
    )


def _survey_weights(frame: pd.DataFrame, weights: str | ArrayLike | None) -> FloatArray | None:
    if weights is None:
        return None
    if isinstance(weights, str):
        if weights not in frame.columns:
            raise ScoringError(
                f"weights column {weights!r} is not in the scored frame; add it (aligned to "
                "the responses) or pass the weights as an array."
            )
        w = frame[weights].to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        w = np.asarray(weights, dtype=np.float64)
    if w.shape != (len(frame),):
        raise ScoringError(
            f"weights must have one value per response ({len(frame)}), got shape {w.shape}."
        )
    present = w[~np.isnan(w)]
    if (present < 0).any() or not np.isfinite(present).all() or present.sum() <= 0:
        raise ScoringError(
            "weights must be finite and >= 0 with a positive total (missing weights leave "
            "their rows out)."
        )
    return w


# ============================================================================ feedback
@dataclass(frozen=True)
class ScoreFeedback:
    """A score on the feedback page: a dimension, a derived score or the index."""

    name: str
    label: str
    value: float | bool | None


@dataclass(frozen=True)
class DimensionFeedback:
    """A dimension score (0-100) and how many of its items were answered."""

    name: str
    label: str
    score: float | None
    n_items: int


@dataclass(frozen=True)
class ItemFeedback:
    """One item with a right answer, as the feedback page shows it.

    Attributes
    ----------
    name, dimension
        The item and its dimension.
    question
        The question text (for a matrix item: the item's own text).
    stem
        For a matrix item, the matrix's question text; else ``None``.
    answer
        The respondent's answer as shown (option labels, a number with its unit, the
        special answer's label), or ``None`` when the item was skipped.
    correct
        Whether it was right (``None`` when skipped).
    score
        The item score, 0-1 (``None`` when skipped).
    right_answers
        Labels of the right answer(s) (for a number, the value with its unit and tolerance).
    explanation
        The explanation, or ``None``.
    """

    name: str
    dimension: str
    question: str
    stem: str | None
    answer: str | None
    correct: bool | None
    score: float | None
    right_answers: tuple[str, ...]
    explanation: str | None


@dataclass(frozen=True)
class Feedback:
    """One respondent's results in one language (from :func:`feedback`)."""

    questionnaire_id: str
    questionnaire_version: str
    language: str
    index: ScoreFeedback | None
    dimensions: tuple[DimensionFeedback, ...]
    derived: tuple[ScoreFeedback, ...]
    items: tuple[ItemFeedback, ...]

    def to_frame(self) -> pd.DataFrame:
        """The items, one row each, with the fields of :class:`ItemFeedback` as columns."""
        names = [f.name for f in ItemFeedback.__dataclass_fields__.values()]
        return pd.DataFrame(
            [[getattr(item, name) for name in names] for item in self.items], columns=names
        )


_LIST_SEPARATOR = {"zh": "、", "en": "; "}


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and value == "":
        return True
    return isinstance(value, set | frozenset | list | tuple) and len(value) == 0


def _stored_value(question: Question, value: object, problems: list[str]) -> object:
    """One answer, in the app's form or stored form, as its stored value."""
    if _is_missing(value):
        return None
    if isinstance(value, str) and value in SPECIAL_CODES:
        if value not in question.special:
            problems.append(
                f"'{question.name}': the special answer {value!r} is not allowed on this "
                f"question (allowed: {', '.join(question.special) or 'none'})."
            )
            return None
        return SPECIAL_CODES[value]
    if question.is_choice:
        codes = question.option_codes()
        if isinstance(value, str):
            if value not in codes:
                problems.append(
                    f"'{question.name}': {value!r} is not one of its options "
                    f"({', '.join(codes)})."
                )
                return None
            return codes[value]
        if isinstance(value, int | np.integer) and not isinstance(value, bool):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif question.type in ("integer", "decimal"):
        if isinstance(value, int | float | np.number) and not isinstance(value, bool):
            return value
    elif question.type == "text":
        return str(value)
    problems.append(
        f"'{question.name}' ({question.type}): {value!r} is not an answer of that kind; give "
        "an option name or code, a number, or a special answer name."
    )
    return None


def _one_row(
    answers: Mapping[str, object] | pd.Series | pd.DataFrame, q: Questionnaire
) -> pd.DataFrame:
    """Answers of one respondent (app form or stored row) as a one-row stored frame."""
    if isinstance(answers, pd.DataFrame):
        if len(answers) != 1:
            raise ScoringError(
                f"feedback is for one respondent, but the frame has {len(answers)} rows; "
                "pass one row (frame.iloc[[i]] or frame.iloc[i])."
            )
        answers = answers.iloc[0]
    if isinstance(answers, pd.Series):
        answers = {str(k): (None if _is_missing_scalar(v) else v) for k, v in answers.items()}
    if not isinstance(answers, Mapping):
        raise ScoringError(
            "answers must be a mapping of question name -> answer (or a stored row), got "
            f"{type(answers).__name__}."
        )
    problems: list[str] = []
    data: dict[str, Any] = {}
    for question in q.questions:
        if question.type == "multiple_choice":
            data.update(_stored_multiple(question, answers, problems))
        elif question.is_answerable:
            data[question.name] = _stored_value(question, answers.get(question.name), problems)
    if problems:
        raise ScoringError(
            f"Cannot read the answers to {q.id!r}:\n" + "\n".join(f"- {p}" for p in problems)
        )
    row = {
        c.name: pd.array([data[c.name]], dtype=c.dtype if c.dtype != "str" else "str")
        for c in q.columns()
    }
    for meta in ("response_id",):
        if meta in answers and not _is_missing(answers[meta]):
            row[meta] = pd.array([str(answers[meta])], dtype="str")
    if "province" in answers and "province" not in row and not _is_missing(answers["province"]):
        row["province"] = pd.array([answers["province"]], dtype="Int64")
    return pd.DataFrame(row)


def _stored_multiple(
    question: Question, answers: Mapping[str, object], problems: list[str]
) -> dict[str, Any]:
    """The ``<question>__<option>`` values of a multiple choice, from either form."""
    options = question.choices.names if question.choices is not None else ()
    columns = [f"{question.name}__{o}" for o in options]
    if any(c in answers for c in columns):  # stored form
        return {c: (None if _is_missing(answers.get(c)) else answers.get(c)) for c in columns}
    value = answers.get(question.name)
    if _is_missing(value):
        return dict.fromkeys(columns)
    if isinstance(value, str) and value in SPECIAL_CODES:
        code = _stored_value(question, value, problems)
        return dict.fromkeys(columns, code)
    if isinstance(value, set | frozenset | list | tuple):
        chosen = {str(v) for v in value}
        unknown = chosen - set(options)
        if unknown:
            problems.append(
                f"'{question.name}': {', '.join(sorted(map(repr, unknown)))} "
                f"{'is not an option' if len(unknown) == 1 else 'are not options'} "
                f"({', '.join(options)})."
            )
        return {c: int(o in chosen) for c, o in zip(columns, options, strict=True)}
    problems.append(
        f"'{question.name}' (multiple choice): give the chosen option names as a set, or a "
        f"special answer name, not {value!r}."
    )
    return dict.fromkeys(columns)


def _is_missing_scalar(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _number_text(value: float, unit: Text | None, lang: str) -> str:
    text = f"{value:,.10g}" if abs(value) >= 10000 else f"{value:.10g}"
    if unit is not None:
        text = f"{text} {unit.get(lang)}" if lang != "zh" else f"{text}{unit.get(lang)}"
    return text


def _answer_label(question: Question, row: pd.Series, lang: str) -> str | None:
    if question.type == "multiple_choice":
        options = question.choices.choices if question.choices else ()
        first = row[f"{question.name}__{options[0].name}"] if options else None
        if first is None or _is_missing_scalar(first):
            return None
        first_code = int(first)
        for special in question.special:
            if first_code == SPECIAL_CODES[special]:
                return SPECIAL_LABELS[special].get(lang)
        chosen = [c.label.get(lang) for c in options if row[f"{question.name}__{c.name}"] == 1]
        return _LIST_SEPARATOR.get(lang, "; ").join(chosen)
    value = row[question.name]
    if _is_missing_scalar(value):
        return None
    for special in question.special:
        if value == SPECIAL_CODES[special]:
            return SPECIAL_LABELS[special].get(lang)
    if question.is_choice:
        labels = question.value_labels(lang)
        return labels.get(int(value))
    return _number_text(float(value), question.unit, lang)


def _right_answers(question: Question, lang: str) -> tuple[str, ...]:
    score = question.score
    if score is None:  # pragma: no cover - only scored items get feedback
        return ()
    if score.correct_value is not None:
        text = _number_text(score.correct_value, question.unit, lang)
        if score.tolerance:
            text = f"{text} (±{score.tolerance:g})"
        return (text,)
    choices = question.choices
    return tuple(
        c.label.get(lang) for c in (choices.choices if choices else ()) if c.name in score.correct
    )


def feedback(
    answers: Mapping[str, object] | pd.Series | pd.DataFrame,
    questionnaire: Questionnaire,
    *,
    language: str,
) -> Feedback:
    """One respondent's scores, and right answers with explanations, for the feedback page.

    Parameters
    ----------
    answers
        Either the answers as the app holds them (question name -> option name, set of
        option names, number, text, or ``"dont_know"``/``"prefer_not"``), or a stored row
        (column -> code, ``<question>__<option>`` 0/1 columns, -1/-2 for specials; a
        ``pandas.Series`` or a one-row DataFrame from the store). Keys that are not answer
        columns (metadata) are ignored; a missing key is a skipped question.
    questionnaire
        The questionnaire answered.
    language
        One of the questionnaire's languages; every text is given in it.

    Returns
    -------
    Feedback
        The index, the dimension scores (0-100), the derived scores and, for each item with
        a right answer (``correct``), the question, the answer given, whether it was right,
        the right answer(s) and the explanation.

    Raises
    ------
    ScoringError
        A language the questionnaire does not have, answers that are not options, several
        rows.

    Notes
    -----
    The scores are those of :func:`score_responses` on the one row, so the feedback page
    and the analysis can never disagree.
    """
    if not isinstance(questionnaire, Questionnaire):
        raise ScoringError(
            f"questionnaire must be a loaded Questionnaire, got {type(questionnaire).__name__}."
        )
    if language not in questionnaire.languages:
        raise ScoringError(
            f"language {language!r} is not a language of {questionnaire.id!r} "
            f"({', '.join(questionnaire.languages)}); choose one of those."
        )
    stored = _one_row(answers, questionnaire)
    scored = score_responses(stored, questionnaire)
    out = scored.frame.iloc[0]
    row = stored.iloc[0]

    def value(column: str) -> float | None:
        v = out[column]
        return None if _is_missing_scalar(v) else float(v)

    dimensions = tuple(
        DimensionFeedback(
            d.name,
            d.label.get(language),
            value(DIMENSION_PREFIX + d.name),
            int(out[COUNT_PREFIX + d.name]),
        )
        for d in questionnaire.dimensions
    )
    derived = []
    for d in questionnaire.derived:
        v = out[d.name]
        shown: float | bool | None
        if _is_missing_scalar(v):
            shown = None
        elif d.type == "boolean":
            shown = bool(v)
        else:
            shown = float(v)
        derived.append(ScoreFeedback(d.name, d.label.get(language), shown))
    index = None
    if questionnaire.index is not None:
        index = ScoreFeedback(
            questionnaire.index.name,
            questionnaire.index.label.get(language),
            value(questionnaire.index.name),
        )
    items = []
    for q in questionnaire.scored_items():
        if q.score is None or q.score.kind != "correct":
            continue
        score = value(ITEM_PREFIX + q.name)
        stem = None
        if q.parent is not None:
            stem = questionnaire.question(q.parent).label.get(language)
        items.append(
            ItemFeedback(
                name=q.name,
                dimension=q.score.dimension,
                question=q.label.get(language),
                stem=stem,
                answer=_answer_label(q, row, language),
                correct=None if score is None else score == 1.0,
                score=score,
                right_answers=_right_answers(q, language),
                explanation=q.explanation.get(language) if q.explanation else None,
            )
        )
    return Feedback(
        questionnaire_id=questionnaire.id,
        questionnaire_version=questionnaire.version,
        language=language,
        index=index,
        dimensions=dimensions,
        derived=tuple(derived),
        items=tuple(items),
    )
