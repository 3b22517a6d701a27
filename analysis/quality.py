"""Data-quality flags of stored responses: speeders, straight-lining, attention checks, duplicates.

:func:`quality_flags` gives one boolean column per flag and ``flag_any``; it never drops rows
(what to do with flagged responses is the analyst's decision). :func:`quality_summary` counts
them. The flags, with their thresholds (keyword options of :func:`quality_flags`):

``speeder``
    ``duration_seconds`` below ``speeder_ratio`` (default 1/3) x the median duration of the
    responses given. The store keeps only submitted responses, every required question
    answered, so all of them count as complete; give the responses of one questionnaire
    version (as :func:`analysis.scoring.score_responses` requires), so that the median is that
    version's. Rows without a duration are never flagged and do not enter the median.
``straightliner``
    A block of at least ``straightline_min_items`` (default 4) items answered all with the
    same option. A block is a matrix, or a run of consecutive ``likert`` questions of one
    section on the same choice list. Only real answers count (not skips or special answers):
    a block is flagged when at least ``straightline_min_items`` of its items were answered and
    all of those have the same code.
``long_string``
    The longest run of identical answers, in questionnaire order, over the questions answered
    on a shared scale (single choice, likert and matrix items whose choice list is the same
    named list, e.g. ``agree5``), reaches ``long_string_min`` (default 6). A skip, a special
    answer, or a question on another list ends the run. This catches straight-lining that
    crosses blocks or covers most of a long block.
``attention_failed``
    The question with role ``attention_check`` was answered with something other than its
    ``expected`` option (a special answer fails too). Not asked (skipped) is not failed.
    All False when the questionnaire has no attention check.
``duplicate_token``
    The same invitation ``token_hash`` was used by an earlier response (tokens are single-use,
    so this is a reuse or a double submission). Responses without a token are never flagged.
``duplicate_answers``
    An earlier response has exactly the same answers (every stored answer column, contact
    data excluded) and the same ``device_class``.

What "duplicate" means here, honestly: the store keeps no IP address and no device
fingerprint; ``device_class`` is only ``phone``/``tablet``/``desktop``/``bot``/``unknown``.
So ``duplicate_answers`` finds identical answer sheets from the same kind of device, which is
what a double submission or a copied sheet looks like, but it cannot tell one person
submitting twice from two people who happen to answer alike. On a long questionnaire with
demographics (cfl: 72 answer columns) identical sheets by chance are very unlikely; on a short
questionnaire without demographics they are not (two people answering every quiz item right
agree on everything but their participant code), so review such duplicates before dropping
them. "Earlier" is by ``submitted_at`` (row order when absent); the first response of a group
is never flagged.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analysis.errors import ScoringError
from analysis.scoring import _check_questionnaire
from questionnaires.model import SPECIAL_CODES, ChoiceList, Question, Questionnaire

__all__ = ["FLAGS", "QualitySummary", "quality_flags", "quality_summary"]

#: The flag columns of :func:`quality_flags`, in order (``flag_any`` follows them).
FLAGS: tuple[str, ...] = (
    "speeder",
    "straightliner",
    "long_string",
    "attention_failed",
    "duplicate_token",
    "duplicate_answers",
)

BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]


def _codes(frame: pd.DataFrame, column: str) -> FloatArray:
    if column not in frame.columns:
        raise ScoringError(
            f"column '{column}' is missing: the responses do not match the questionnaire; "
            "check each questionnaire version with its own definition."
        )
    series = frame[column]
    if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(
        series.dtype
    ):
        raise ScoringError(
            f"column '{column}' must hold integer codes, but it has dtype {series.dtype}."
        )
    return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def _real(codes: FloatArray) -> BoolArray:
    """Rows with a real answer: not skipped, not a special code."""
    out: BoolArray = ~np.isnan(codes)
    for code in SPECIAL_CODES.values():
        out &= codes != code
    return out


def _blocks(questionnaire: Questionnaire) -> Iterator[tuple[str, tuple[Question, ...]]]:
    """Matrices, and runs of consecutive likert questions on one choice list in a section."""
    for section in questionnaire.sections:
        run: list[Question] = []
        for q in (*section.questions, None):
            if q is not None and q.type == "likert" and (
                not run or run[-1].choices == q.choices
            ):
                run.append(q)
                continue
            if len(run) >= 2:
                yield f"{run[0].name}..{run[-1].name}", tuple(run)
            run = [q] if q is not None and q.type == "likert" else []
            if q is not None and q.type == "matrix":
                yield q.name, q.items


def _straightliners(
    frame: pd.DataFrame, questionnaire: Questionnaire, min_items: int
) -> BoolArray:
    flagged = np.zeros(len(frame), dtype=bool)
    for _, items in _blocks(questionnaire):
        if len(items) < min_items:
            continue
        first: FloatArray | None = None
        answered = np.zeros(len(frame), dtype=np.int64)
        same = np.ones(len(frame), dtype=bool)
        for q in items:
            codes = _codes(frame, q.name)
            real = _real(codes)
            answered += real
            if first is None:
                first = np.where(real, codes, np.nan)
            else:
                # the first real answer of the block so far
                first = np.where(np.isnan(first) & real, codes, first)
                same &= ~real | (codes == first)
        flagged |= same & (answered >= min_items)
    return flagged


def _shared_list(q: Question) -> ChoiceList | None:
    if q.is_choice and q.choices is not None and q.choices.name is not None:
        return q.choices
    return None


def _long_strings(frame: pd.DataFrame, questionnaire: Questionnaire) -> NDArray[np.int64]:
    """Longest run of identical answers on one shared scale, per row."""
    n = len(frame)
    longest = np.zeros(n, dtype=np.int64)
    run = np.zeros(n, dtype=np.int64)
    previous = np.full(n, np.nan)
    previous_list: ChoiceList | None = None
    for q in questionnaire.questions:
        if not q.is_answerable:
            continue
        choices = _shared_list(q)
        if choices is None:
            run[:] = 0
            previous[:] = np.nan
            previous_list = None
            continue
        codes = _codes(frame, q.name)
        real = _real(codes)
        if choices != previous_list:
            run[:] = 0
            previous[:] = np.nan
        same = real & (codes == previous)
        run = np.where(same, run + 1, np.where(real, 1, 0))
        previous = np.where(real, codes, np.nan)
        previous_list = choices
        np.maximum(longest, run, out=longest)
    return longest


def _attention(frame: pd.DataFrame, questionnaire: Questionnaire) -> BoolArray:
    q = questionnaire.role("attention_check")
    if q is None or q.expected is None:
        return np.zeros(len(frame), dtype=bool)
    codes = _codes(frame, q.name)
    expected = q.option_codes()[q.expected]
    failed: BoolArray = ~np.isnan(codes) & (codes != expected)
    return failed


def _order(frame: pd.DataFrame) -> NDArray[np.intp]:
    """Row positions by ``submitted_at`` (stable; missing times last), else in row order."""
    if "submitted_at" not in frame.columns:
        return np.arange(len(frame), dtype=np.intp)
    submitted = frame["submitted_at"].reset_index(drop=True)
    return np.asarray(
        submitted.sort_values(kind="stable", na_position="last").index, dtype=np.intp
    )


def _later_duplicates(keys: pd.Series, order: NDArray[np.intp], present: BoolArray) -> BoolArray:
    """True for rows whose key was seen in an earlier row (by ``order``) among ``present``."""
    ordered = keys.iloc[order].reset_index(drop=True)
    seen_before = ordered.duplicated(keep="first").to_numpy() & present[order]
    out = np.zeros(len(keys), dtype=bool)
    out[order] = seen_before
    return out


def quality_flags(
    responses: pd.DataFrame,
    questionnaire: Questionnaire,
    *,
    speeder_ratio: float = 1 / 3,
    straightline_min_items: int = 4,
    long_string_min: int = 6,
) -> pd.DataFrame:
    """Data-quality flags of stored responses to one questionnaire version.

    Parameters
    ----------
    responses
        Stored responses (answer columns and the store's metadata; ``duration_seconds`` is
        required, ``submitted_at``, ``device_class`` and ``token_hash`` are used when present).
    questionnaire
        The questionnaire version they answer.
    speeder_ratio
        A response faster than this share of the median duration is a speeder (default 1/3).
    straightline_min_items
        Fewest answered items of a block, all the same, that flag straight-lining (default 4).
    long_string_min
        Shortest run of identical answers on one scale that flags a long string (default 6).

    Returns
    -------
    pandas.DataFrame
        Aligned to ``responses.index``: ``response_id`` (when present), one ``bool`` column
        per flag (:data:`FLAGS`) and ``flag_any``.

    Raises
    ------
    ScoringError
        Missing ``duration_seconds`` or answer columns, columns of the wrong type, rows of
        another questionnaire version, thresholds out of range.
    """
    if not isinstance(responses, pd.DataFrame):
        raise ScoringError(
            f"responses must be a pandas DataFrame, got {type(responses).__name__}."
        )
    _check_threshold("speeder_ratio", speeder_ratio, 0.0, 1.0)
    for name, value in (
        ("straightline_min_items", straightline_min_items),
        ("long_string_min", long_string_min),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise ScoringError(f"{name} must be a whole number >= 2, got {value!r}.")
    problems = _check_questionnaire(responses, questionnaire)
    if problems:
        raise ScoringError("\n".join(problems))
    if "duration_seconds" not in responses.columns:
        raise ScoringError(
            "column 'duration_seconds' is missing; the speeder flag needs the store's "
            "duration of each response."
        )
    n = len(responses)
    duration = responses["duration_seconds"].to_numpy(dtype=np.float64, na_value=np.nan)
    timed = ~np.isnan(duration)
    median = float(np.median(duration[timed])) if timed.any() else math.nan
    speeder = timed & (duration < speeder_ratio * median)

    order = _order(responses)
    if "token_hash" in responses.columns:
        tokens = responses["token_hash"].astype("str")
        has_token = np.asarray(responses["token_hash"].notna().to_numpy(), dtype=bool)
        duplicate_token = _later_duplicates(tokens, order, has_token)
    else:
        duplicate_token = np.zeros(n, dtype=bool)
    columns = [c.name for c in questionnaire.columns(include_contact=False)]
    missing = [c for c in columns if c not in responses.columns]
    if missing:
        raise ScoringError(
            f"answer column(s) {', '.join(missing[:5])} are missing: the responses do not "
            "match the questionnaire; check each questionnaire version with its own definition."
        )
    key_columns = [*columns, *(["device_class"] if "device_class" in responses.columns else [])]
    hashes = pd.Series(pd.util.hash_pandas_object(responses[key_columns], index=False).to_numpy())
    duplicate_answers = _later_duplicates(hashes, order, np.ones(n, dtype=bool))

    flags = {
        "speeder": speeder,
        "straightliner": _straightliners(responses, questionnaire, straightline_min_items),
        "long_string": _long_strings(responses, questionnaire) >= long_string_min,
        "attention_failed": _attention(responses, questionnaire),
        "duplicate_token": duplicate_token,
        "duplicate_answers": duplicate_answers,
    }
    flag_any = np.zeros(n, dtype=bool)
    for values in flags.values():
        flag_any |= values
    out: dict[str, Any] = {}
    if "response_id" in responses.columns:
        out["response_id"] = responses["response_id"].array
    out.update(flags)
    out["flag_any"] = flag_any
    return pd.DataFrame(out, index=responses.index)


def _check_threshold(name: str, value: object, low: float, high: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (low < float(value) < high)
    ):
        raise ScoringError(f"{name} must be a number between {low:g} and {high:g}, got {value!r}.")


@dataclass(frozen=True)
class QualitySummary:
    """Counts of flagged responses (from :func:`quality_summary`).

    Attributes
    ----------
    n
        Responses checked.
    counts
        Flag -> number of responses flagged (``flag_any`` included).
    """

    n: int
    counts: Mapping[str, int]

    def share(self, flag: str) -> float:
        """Share of responses with ``flag`` (NaN when there are none)."""
        return self.counts[flag] / self.n if self.n else math.nan

    def to_frame(self) -> pd.DataFrame:
        """One row per flag: ``flag, n_flagged, share``."""
        return pd.DataFrame(
            {
                "flag": list(self.counts),
                "n_flagged": list(self.counts.values()),
                "share": [self.share(f) for f in self.counts],
            }
        )


def quality_summary(flags: pd.DataFrame) -> QualitySummary:
    """Count the responses each flag marks.

    Parameters
    ----------
    flags
        The result of :func:`quality_flags` (any boolean flag columns, ``flag_any`` last).

    Returns
    -------
    QualitySummary
        ``n`` and the count per flag.
    """
    names = [c for c in (*FLAGS, "flag_any") if c in flags.columns]
    if not names:
        raise ScoringError(
            "flags has none of the flag columns "
            f"({', '.join((*FLAGS, 'flag_any'))}); pass the result of quality_flags."
        )
    counts = {name: int(flags[name].sum()) for name in names}
    return QualitySummary(n=len(flags), counts=MappingProxyType(counts))

