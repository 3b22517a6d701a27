"""The analyst dashboards' data: load once, filter as domains, one result per page.

Pure (no streamlit): the pages in ``app_pages/dash_*.py`` cache and draw what these functions
return.

Loading (:func:`load_dashboard`, or :func:`prepare_dashboard` from a frame) reads a
questionnaire's responses from the store once (one version or all, Arrow-backed columns),
scores each version, and computes census weights: raking on ``province``,
``province*sex``, ``province*age_band`` and ``province*urban`` (2020 census, adults 15+). The
frame kept is compact (categorical demographics, float outcomes).
Quality flags and the weights of the sample without flagged responses are computed the first
time a page needs them.

Respondents without a census weight are reported, never hidden: a respondent missing a
calibration variable (province, sex, age, urban/rural), or younger than 15 (outside the census
population), gets no weight; such respondents count in the unweighted figures and are left out
of the weighted ones, and every page says how many there are. Sparse cells are collapsed, not
hidden: in a province where a sex (age band, urban/rural) cell has fewer than
:data:`MIN_CELL` respondents, that variable is raked to the province's total only, and the
provinces so treated are listed. When even that cannot be raked, simpler schemes are tried in
turn: province plus national sex, age and urban/rural margins; province only; none. The scheme
used and the reason are reported. Provinces without respondents are left out of the targets:
the weighted figures then describe the population of the provinces that have respondents, and
that is said too.

Filters are domains
-------------------
:class:`Filters` selects a *domain* of the full weighted sample (dates, provinces, regions,
groups). Weights are not recomputed for a domain, and standard errors keep the whole sample:
a respondent outside the domain has influence zero but still counts in the variance, exactly
as R's ``svyby(~y, ~g, subset(design, ...), svymean)`` (Lumley 2010, *Complex Surveys*,
section 2.3). So a change of filter re-weights nothing and re-reads nothing: the literacy
estimates come from a table of sums by atom (:mod:`analysis.aggregates`), and only a date
range re-sums the rows of that range.

Excluding the quality-flagged responses is different: they are treated as invalid data, not
as a subpopulation, so the sample without them is weighted on its own (once, when first asked
for), and its standard errors are those of that sample.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import os
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analysis.aggregates import Aggregates, aggregate, count_by_domain, mean_by_domain
from analysis.design import Design
from analysis.effectiveness import (
    EXPOSURES,
    Effect,
    Effects,
    Overlap,
    PrePost,
    benchmark,
    estimate_effect,
    prepost,
    treatment_contrasts,
)
from analysis.errors import AnalysisError, ConvergenceWarning, WeightingError
from analysis.items import ItemAnalysis, analyse_items
from analysis.quality import FLAGS, quality_flags
from analysis.results import Estimates
from analysis.scoring import DIMENSION_PREFIX, score_responses
from analysis.targets import Targets, census_targets, load_census
from analysis.weighting import CalibrationResult, calibrate
from questionnaires.model import Questionnaire
from responses.state import DraftCount

__all__ = [
    "CALIBRATION_VARIABLES",
    "GROUP_COLUMNS",
    "MIN_CELL",
    "TIMEZONE_OFFSET",
    "DashboardData",
    "DashboardError",
    "DataQuality",
    "Effectiveness",
    "Filters",
    "Literacy",
    "Overview",
    "Weighting",
    "WeightingReport",
    "combine_effectiveness",
    "data_quality",
    "effectiveness",
    "items",
    "literacy",
    "load_dashboard",
    "overview",
    "prepare_dashboard",
    "quiz_prepost",
    "store_signature",
    "weighting_report",
]

#: Local time of the survey: China Standard Time, UTC+8 all year (no daylight saving). Dates in
#: filters and daily counts are calendar days in this time.
TIMEZONE_OFFSET = dt.timedelta(hours=8)
#: Group columns an analyst can filter and compare by (those the questionnaire has).
GROUP_COLUMNS: tuple[str, ...] = ("sex", "age_group", "education", "income", "urban")
#: Fewest respondents a province x sex (age band, urban/rural) cell needs to be raked to its
#: census total; a province with a smaller cell is raked on its total for that variable only.
MIN_CELL = 10
#: Variables of the census weights, in the order of the raking margins.
CALIBRATION_VARIABLES: tuple[str, ...] = ("province", "sex", "age_band", "urban")
_DEMOGRAPHIC = ("sex", "age_band", "urban")
_KEYS = ("province", "region", *GROUP_COLUMNS)
_CATEGORICAL = ("region", "sex", "age_band", "age_group", "education", "income", "urban",
                "occupation")
_META_READ = ("questionnaire_version", "submitted_at", "duration_seconds", "token_hash",
              "device_class", "province")
_COVARIATES = ("sex", "age_group", "education", "urban", "region")
_EPOCH = np.datetime64("1970-01-01T00:00:00", "us")
_DAY_US = 86_400_000_000

Sample = Literal["all", "clean"]
T = TypeVar("T")


class DashboardError(AnalysisError):
    """The dashboards cannot show what was asked (no responses, an unknown version...)."""


# ============================================================================ filters
@dataclass(frozen=True)
class Filters:
    """What the analyst looks at: a questionnaire (version), a domain, and two choices.

    Parameters
    ----------
    questionnaire
        Questionnaire id.
    version
        One version, or ``None`` for all versions together.
    start, end
        First and last day of submission (inclusive; China Standard Time); ``None`` leaves
        that side open.
    provinces
        GB/T 2260 codes to keep (empty: all).
    regions
        NBS regions to keep (``"East"``, ``"Central"``, ``"West"``, ``"Northeast"``; empty:
        all).
    sex, age_group, education, income, urban
        Group values to keep (option names such as ``"female"``, ``"25-34"``; empty: all).
    exclude_flagged
        Leave out responses with any data-quality flag (the sample without them is weighted
        on its own).
    weighted
        Census-weighted estimates (True) or unweighted sample figures.

    Notes
    -----
    All the selections together are a *domain* of the sample: weights are not recomputed and
    standard errors keep the whole sample (see the module docstring).
    """

    questionnaire: str
    version: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    provinces: tuple[int, ...] = ()
    regions: tuple[str, ...] = ()
    sex: tuple[str, ...] = ()
    age_group: tuple[str, ...] = ()
    education: tuple[str, ...] = ()
    income: tuple[str, ...] = ()
    urban: tuple[str, ...] = ()
    exclude_flagged: bool = False
    weighted: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.questionnaire, str) or not self.questionnaire:
            raise DashboardError("Filters: questionnaire must be a questionnaire id such as 'cfl'.")
        for name in ("provinces", "regions", *GROUP_COLUMNS):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, Sequence | frozenset | set):
                raise DashboardError(
                    f"Filters: {name} must be a list of values (empty for all), not {value!r}."
                )
            object.__setattr__(self, name, tuple(value))
        for name in ("start", "end"):
            value = getattr(self, name)
            if isinstance(value, dt.datetime):
                object.__setattr__(self, name, value.date())
            elif value is not None and not isinstance(value, dt.date):
                raise DashboardError(f"Filters: {name} must be a date or None, not {value!r}.")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise DashboardError(
                f"Filters: the start date {self.start} is after the end date {self.end}; "
                "swap them."
            )

    def domain(self) -> dict[str, tuple[Any, ...]]:
        """The non-empty selections: key column -> values kept."""
        out: dict[str, tuple[Any, ...]] = {}
        if self.provinces:
            out["province"] = tuple(int(p) for p in self.provinces)
        if self.regions:
            out["region"] = self.regions
        for name in GROUP_COLUMNS:
            if getattr(self, name):
                out[name] = getattr(self, name)
        return out

    def key(self) -> str:
        """A stable text key (for caches)."""
        return repr(dataclasses.astuple(self))


# ============================================================================ loading
@dataclass(frozen=True, eq=False)
class Weighting:
    """Census weights of one sample and how they were made.

    Attributes
    ----------
    scheme
        ``"full"`` (province and province x sex / age band / urban), ``"national"`` (province
        plus national sex, age band, urban margins), ``"province"`` (province only),
        ``"demographic"`` (no province question: national margins only) or ``"none"``.
    margins
        The raking margins used.
    result
        The calibration (``None`` without weights).
    rows
        Positions, in :attr:`DashboardData.frame`, of the respondents with a weight.
    weights
        Their weights (aligned to ``rows``).
    excluded
        Reason -> respondents of the sample without a weight.
    uncovered_provinces
        Census provinces without any weighted respondent (left out of the targets).
    notes
        Why simpler schemes were used (the weighting errors met on the way).
    columns
        The calibration columns the ``full`` scheme rakes on (``cal_sex`` ...: province x
        demographic cells such as ``"44*female"``, or ``"54*all"`` in a province whose cells
        were merged), aligned to ``rows``.
    collapsed
        Demographic -> provinces whose cells of it were merged because one had fewer than
        :data:`MIN_CELL` respondents (the province then keeps only its total on that margin).
    """

    scheme: str
    margins: tuple[str, ...]
    result: CalibrationResult | None
    rows: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    excluded: Mapping[str, int]
    uncovered_provinces: tuple[int, ...]
    notes: tuple[str, ...] = ()
    columns: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    collapsed: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def design_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The weighted respondents' rows of ``frame`` with their ``weight`` and calibration
        columns: the data of a :class:`~analysis.design.Design` with
        ``calibration=self.result.model``."""
        out = _take(frame, self.rows).reset_index(drop=True)
        extra = {name: self.columns[name].array for name in self.columns.columns}
        return out.assign(weight=self.weights, **extra)

    @property
    def n(self) -> int:
        """Respondents with a weight."""
        return len(self.rows)

    @property
    def n_excluded(self) -> int:
        """Respondents of the sample without a weight."""
        return int(sum(self.excluded.values()))


@dataclass(frozen=True, eq=False)
class _Sample:
    """One sample (all responses, or those without a quality flag) and its weights."""

    name: str
    rows: np.ndarray  # positions in the frame, increasing
    weighting: Weighting


@dataclass(frozen=True, eq=False)
class DashboardData:
    """A questionnaire's responses, scored and weighted, ready for every dashboard page.

    Attributes
    ----------
    questionnaire_id, version
        What was loaded (``version=None``: all versions).
    versions
        The versions present, oldest first.
    questionnaires
        Version -> its questionnaire.
    frame
        One row per response, in the store's order: ``questionnaire_version``, ``day`` (China
        calendar day of submission, days since 1970-01-01), ``duration_seconds``, the
        analysis columns (categorical), the exposure columns (0/1 float), the outcomes (index
        and dimensions).
    responses
        The stored answers with the metadata quality flags and item analysis need (compact
        Arrow-backed integer columns), row for row with :attr:`frame`.
    outcomes
        The index, then each dimension's column.
    groups
        The group columns present (of :data:`GROUP_COLUMNS`).
    weighting
        The census weights of all responses (:class:`Weighting`).
    quarantined, duplicates_dropped
        Files the store quarantined while reading, duplicate rows it dropped.
    """

    questionnaire_id: str
    version: str | None
    versions: tuple[str, ...]
    questionnaires: Mapping[str, Questionnaire]
    frame: pd.DataFrame = field(repr=False)
    responses: pd.DataFrame = field(repr=False)
    outcomes: tuple[str, ...]
    groups: tuple[str, ...]
    weighting: Weighting
    quarantined: int = 0
    duplicates_dropped: int = 0
    _lazy: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def n(self) -> int:
        """Responses loaded."""
        return len(self.frame)

    @property
    def questionnaire(self) -> Questionnaire:
        """The newest version loaded (labels come from it)."""
        return self.questionnaires[self.versions[-1]]

    def outcome_label(self, outcome: str, lang: str = "zh") -> str:
        """The label of an outcome column (index or dimension) in ``lang``."""
        q = self.questionnaire
        if q.index is not None and outcome == q.index.name:
            return q.index.label.get(lang)
        for d in q.dimensions:
            if outcome == DIMENSION_PREFIX + d.name:
                return d.label.get(lang)
        return outcome

    def value_label(self, column: str, value: object, lang: str = "zh") -> str:
        """A readable label of a group value (option label, province or region name)."""
        labels = self._memo(f"labels:{column}:{lang}", lambda: self._labels(column, lang))
        return labels.get(value, str(value))

    def _labels(self, column: str, lang: str) -> dict[object, str]:
        if column == "province":
            return {code: names[0 if lang == "zh" else 1]
                    for code, names in _province_names().items()}
        if column == "region":
            return {k: v[0 if lang == "zh" else 1] for k, v in _REGION_LABELS.items()}
        q = self.questionnaire.role(column) if column in (
            "education", "income", "sex", "urban", "occupation") else None
        if q is None or q.choices is None:
            return {}
        return {c.name: c.label.get(lang) for c in q.choices}

    def _memo(self, key: str, make: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._lazy:
                self._lazy[key] = make()
            return self._lazy[key]

    def flags(self) -> pd.DataFrame:
        """Quality flags of every response (:func:`analysis.quality.quality_flags`, per version),
        in frame order; computed on first use."""
        return self._memo("flags", self._make_flags)

    def _make_flags(self) -> pd.DataFrame:
        parts = []
        codes = _categorical(self.responses["questionnaire_version"])
        versions = np.asarray(codes.categories, dtype=object)[codes.codes]
        for version, qn in self.questionnaires.items():
            rows = np.flatnonzero(versions == version)
            if not len(rows):
                continue
            flags = quality_flags(_take(self.responses, rows), qn)
            flags = flags[[*FLAGS, "flag_any"]]
            flags.index = rows
            parts.append(flags)
        out = pd.concat(parts).sort_index() if len(parts) > 1 else parts[0]
        out.index = pd.RangeIndex(len(out))
        return out

    def sample(self, exclude_flagged: bool) -> _Sample:
        """All responses, or those without a quality flag (weighted on their own)."""
        if not exclude_flagged:
            return self._memo("sample:all", lambda: _Sample(
                "all", np.arange(self.n), self.weighting
            ))

        def make() -> _Sample:
            rows = np.flatnonzero(~self.flags()["flag_any"].to_numpy(dtype=bool))
            return _Sample("clean", rows, _weigh(self.frame, rows, self.questionnaire))

        return self._memo("sample:clean", make)

    def aggregates(self, exclude_flagged: bool, weighted: bool) -> Aggregates:
        """The table of sums behind the literacy estimates of one sample, weighted or not."""
        sample = self.sample(exclude_flagged)

        def make() -> Aggregates:
            frame = self.frame
            keys = [k for k in _KEYS if k in frame.columns]
            if weighted:
                w = sample.weighting
                if w.result is None:
                    raise DashboardError(
                        "There are no census weights for these responses "
                        f"({_no_weights_reason(w)}); use the unweighted figures."
                    )
                data = w.design_frame(frame)
                return aggregate(
                    data, self.outcomes, keys=keys, weights="weight",
                    calibration=w.result.model,
                )
            return aggregate(_take(frame, sample.rows), self.outcomes, keys=keys)

        return self._memo(f"agg:{sample.name}:{weighted}", make)

    def rows_of(self, exclude_flagged: bool, weighted: bool) -> np.ndarray:
        """Positions (in :attr:`frame`) of the rows of a sample's weighted or unweighted
        analysis, in order."""
        sample = self.sample(exclude_flagged)
        return sample.weighting.rows if weighted else sample.rows


_REGION_LABELS = {
    "East": ("东部", "East"),
    "Central": ("中部", "Central"),
    "West": ("西部", "West"),
    "Northeast": ("东北", "Northeast"),
}


@functools.cache
def _province_names() -> dict[int, tuple[str, str]]:
    census = load_census()
    return {
        int(c): (zh, en)
        for c, zh, en in zip(census["gb_code"], census["name_zh"], census["name_en"], strict=True)
    }


def _no_weights_reason(w: Weighting) -> str:
    if w.notes:
        return w.notes[-1]
    if w.excluded:
        return ", ".join(f"{k}: {v}" for k, v in w.excluded.items())
    return "the questionnaire has no province, sex, age or urban/rural question"


# ---------------------------------------------------------------------------- store helpers
def store_signature(store: Any, questionnaire_id: str) -> tuple[tuple[str, int], ...]:
    """A cheap fingerprint of a questionnaire's stored responses: the modification times of
    its folders (a submission, compaction or deletion changes a partition folder's time).

    Use it as a cache key so that new responses show up.
    """
    base = Path(store.responses_dir) / questionnaire_id
    out: list[tuple[str, int]] = []

    def add(path: Path) -> list[os.DirEntry[str]]:
        try:
            out.append((str(path.relative_to(base.parent)), path.stat().st_mtime_ns))
            with os.scandir(path) as it:
                return [e for e in it if e.is_dir()]
        except FileNotFoundError:
            return []

    for version in sorted(add(base), key=lambda e: e.name):
        for partition in sorted(add(Path(version.path)), key=lambda e: e.name):
            add(Path(partition.path))
    return tuple(out)


def _read(store: Any, questionnaire_id: str, version: str | None,
          questionnaires: Mapping[str, Questionnaire]) -> tuple[pa.Table, int, int]:
    columns: dict[str, None] = dict.fromkeys(_META_READ)
    for qn in questionnaires.values():
        for column in qn.columns(include_contact=False):
            columns.setdefault(column.name, None)
    # Answer codes read as int8/int16 (bounded by the files' statistics): an eighth of the
    # memory of int64, and the read of a million responses takes about half the time.
    try:
        result = store.read_table(questionnaire_id, version=version, columns=list(columns),
                                  narrow_integers=True)
    except ValueError:
        # a column some versions never stored: read them all and keep what is there
        result = store.read_table(questionnaire_id, version=version, narrow_integers=True)
    return result.table, len(result.quarantined), int(result.duplicates_dropped)


def load_dashboard(
    store: Any,
    registry: Any,
    questionnaire_id: str,
    *,
    version: str | None = None,
) -> DashboardData:
    """Read, score and weight a questionnaire's responses for the dashboards.

    Parameters
    ----------
    store
        The response store (:class:`responses.store.ParquetResponseStore`).
    registry
        The questionnaire registry (every version whose responses are read must be in it).
    questionnaire_id
        Which questionnaire.
    version
        One version, or ``None`` for all versions.

    Returns
    -------
    DashboardData

    Raises
    ------
    DashboardError
        No responses, or a version with responses but no definition in the registry.
    """
    stored = list(store.list_versions(questionnaire_id)) if questionnaire_id in \
        store.list_questionnaires() else []
    wanted = stored if version is None else [v for v in stored if v == version]
    if not wanted:
        which = f"version {version} of " if version is not None else ""
        raise DashboardError(
            f"There are no responses to {which}questionnaire {questionnaire_id!r} yet."
        )
    questionnaires: dict[str, Questionnaire] = {}
    for v in wanted:
        try:
            questionnaires[v] = registry.get(questionnaire_id, v)
        except (KeyError, ValueError) as exc:
            raise DashboardError(
                f"Responses to {questionnaire_id!r} version {v} are stored, but that version's "
                f"definition is not in the registry ({exc}); restore its YAML file to "
                "analyse them."
            ) from None
    table, quarantined, dropped = _read(store, questionnaire_id, version, questionnaires)
    frame = table.to_pandas(types_mapper=pd.ArrowDtype)
    data = prepare_dashboard(frame, questionnaires, version=version)
    return dataclasses.replace(data, quarantined=quarantined, duplicates_dropped=dropped)


def _narrow_column(series: pd.Series) -> pd.Series:
    """One stored column as one contiguous Arrow array (so that taking rows is fast), an
    integer column narrowed to int8/16/32 when its values fit."""
    dtype = series.dtype
    if not isinstance(dtype, pd.ArrowDtype):
        return series
    array = pa.chunked_array(series.array._pa_array).combine_chunks()
    if (pa.types.is_integer(dtype.pyarrow_dtype) and array.type.bit_width > 8
            and array.null_count < len(array)):
        bounds = pc.min_max(array).as_py()
        for typ, info in ((pa.int8(), np.int8), (pa.int16(), np.int16), (pa.int32(), np.int32)):
            if np.iinfo(info).min <= bounds["min"] and bounds["max"] <= np.iinfo(info).max:
                if typ.bit_width < array.type.bit_width:
                    array = array.cast(typ)
                break
    return pd.Series(pd.arrays.ArrowExtensionArray(array), index=series.index,
                     name=series.name)


def _masked_view(series: pd.Series) -> pd.Series:
    """An Arrow integer column of one chunk as a pandas masked array (``Int8``...) over the
    same buffer: the scorer reads a masked array's values and mask as they are, where it would
    convert an Arrow column to float. (Values under the mask are arbitrary, as in any masked
    array.)"""
    array = series.array._pa_array
    array = array.chunk(0) if array.num_chunks == 1 else array.combine_chunks()
    width = np.dtype(array.type.to_pandas_dtype())
    values = np.frombuffer(array.buffers()[1], dtype=width)[
        array.offset : array.offset + len(array)]
    mask = (array.is_null().to_numpy(zero_copy_only=False) if array.null_count
            else np.zeros(len(array), dtype=bool))
    return pd.Series(pd.arrays.IntegerArray(values, mask), index=series.index, name=series.name)


def _stored_columns(
    responses: pd.DataFrame, keep: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stored columns in ``keep`` made compact (:func:`_narrow_column`: quality flags and
    item analysis read them later), and the responses to score (Arrow integer columns as
    masked arrays over the same narrowed buffers). Two threads: the Arrow work releases the
    GIL."""
    wanted = set(keep)

    def one(name: str) -> tuple[pd.Series | None, pd.Series]:
        series = responses[name]
        dtype = series.dtype
        integer = isinstance(dtype, pd.ArrowDtype) and pa.types.is_integer(dtype.pyarrow_dtype)
        if not integer and name not in wanted:
            return None, series
        narrowed = _narrow_column(series)
        return (narrowed if name in wanted else None,
                _masked_view(narrowed) if integer else series)

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = dict(zip(responses.columns, pool.map(one, responses.columns), strict=True))
    # copy=False: the columns are this function's own (or the read's, never written to)
    compact = pd.DataFrame({name: done[name][0] for name in keep if name in done
                            and done[name][0] is not None}, index=responses.index, copy=False)
    to_score = pd.DataFrame({name: pair[1] for name, pair in done.items()},
                            index=responses.index, copy=False)
    return compact, to_score


def _take(frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """Rows of a frame; a slice when they are consecutive (no copy)."""
    if len(rows) == len(frame):
        return frame
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        return frame.iloc[int(rows[0]) : int(rows[-1]) + 1]
    return frame.iloc[rows]


def prepare_dashboard(
    responses: pd.DataFrame,
    questionnaires: Mapping[str, Questionnaire],
    *,
    version: str | None = None,
) -> DashboardData:
    """Score and weight stored responses (one questionnaire, one or more versions).

    Parameters
    ----------
    responses
        Stored rows (as the store gives them) of the versions in ``questionnaires``.
    questionnaires
        Version -> questionnaire, for every version among the rows.
    version
        The version asked for (``None``: all), recorded in the result.

    Returns
    -------
    DashboardData
    """
    if not questionnaires:
        raise DashboardError("prepare_dashboard: give the questionnaire of every version.")
    ids = {q.id for q in questionnaires.values()}
    if len(ids) != 1:
        raise DashboardError(f"prepare_dashboard: one questionnaire at a time, got {sorted(ids)}.")
    if len(responses) == 0:
        raise DashboardError(f"There are no responses to {next(iter(ids))!r} yet.")
    responses = responses.reset_index(drop=True)
    version_codes = _categorical(responses["questionnaire_version"])
    present = sorted(set(version_codes.categories), key=_version_key)
    unknown = [v for v in present if v not in questionnaires]
    if unknown:
        raise DashboardError(
            f"Responses of version(s) {', '.join(unknown)} have no questionnaire definition; "
            "load those versions' definitions."
        )
    latest = questionnaires[present[-1]]
    outcomes = tuple(
        ([latest.index.name] if latest.index is not None else [])
        + [DIMENSION_PREFIX + d.name for d in latest.dimensions]
    )
    answer_columns: dict[str, None] = dict.fromkeys(
        ["questionnaire_version", "submitted_at", "duration_seconds", "token_hash",
         "device_class", "province"]
    )
    for qn in questionnaires.values():
        for column in qn.columns(include_contact=False):
            answer_columns.setdefault(column.name, None)
    compact, to_score = _stored_columns(responses, list(answer_columns))
    pieces = []
    for v in present:
        rows = np.flatnonzero(version_codes.codes == version_codes.categories.get_loc(v))
        scored = score_responses(_take(to_score, rows), questionnaires[v],
                                 item_scores=False).frame
        scored.index = rows
        pieces.append(scored)
    del to_score
    scored_all = pieces[0] if len(pieces) == 1 else _concat_scored(pieces[::-1]).sort_index()
    frame = _compact_frame(scored_all, responses, outcomes)
    groups = tuple(g for g in GROUP_COLUMNS if g in frame.columns
                   and isinstance(frame[g].dtype, pd.CategoricalDtype))
    weighting = _weigh(frame, np.arange(len(frame)), latest)
    return DashboardData(
        questionnaire_id=latest.id,
        version=version,
        versions=tuple(present),
        questionnaires=MappingProxyType({v: questionnaires[v] for v in present}),
        frame=frame,
        responses=compact,
        outcomes=outcomes,
        groups=groups,
        weighting=weighting,
    )


def _concat_scored(pieces: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Scored frames of several versions (newest first) in one, categoricals unified: the
    categories in the newest version's order, then any the older versions add."""
    if len(pieces) == 1:
        return pieces[0]
    categories: dict[str, list[Any]] = {}
    for piece in pieces:
        for name in piece.columns:
            if isinstance(piece[name].dtype, pd.CategoricalDtype):
                known = categories.setdefault(name, [])
                known.extend(c for c in piece[name].cat.categories if c not in known)
    unified = []
    for piece in pieces:
        piece = piece.copy()
        for name, cats in categories.items():
            if name in piece.columns:
                piece[name] = pd.Categorical(piece[name].astype(object), categories=cats)
        unified.append(piece)
    return pd.concat(unified)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def _categorical(series: pd.Series) -> pd.Categorical:
    """A text column as a categorical (categories sorted), without making Python strings for
    every row."""
    if isinstance(series.dtype, pd.ArrowDtype):
        encoded = pa.chunked_array(series.array._pa_array).dictionary_encode().combine_chunks()
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        indices = np.where(encoded.indices.is_null().to_numpy(zero_copy_only=False), -1,
                           indices).astype(np.int64)
        categories = encoded.dictionary.to_pylist()
        ordered = sorted(range(len(categories)), key=lambda i: str(categories[i]))
        remap = np.empty(len(categories) + 1, dtype=np.int64)
        remap[-1] = -1
        remap[np.array(ordered, dtype=np.int64)] = np.arange(len(ordered))
        return pd.Categorical.from_codes(remap[indices], [categories[i] for i in ordered])
    return pd.Categorical(series.astype(object), categories=sorted(
        {str(v) for v in series.dropna()}))


def _compact_frame(
    scored: pd.DataFrame, responses: pd.DataFrame, outcomes: Sequence[str]
) -> pd.DataFrame:
    n = len(scored)
    submitted = responses["submitted_at"].to_numpy(dtype="datetime64[us]")
    local = (submitted - _EPOCH) + np.timedelta64(int(TIMEZONE_OFFSET.total_seconds()), "s")
    day = (local.astype(np.int64) // _DAY_US).astype(np.int32)
    columns: dict[str, Any] = {
        "questionnaire_version": _categorical(responses["questionnaire_version"]),
        "day": day,
        "duration_seconds": responses["duration_seconds"].to_numpy(
            dtype=np.float64, na_value=np.nan
        ),
    }
    if "province" in scored.columns:
        census_codes = load_census()["gb_code"].astype(int).tolist()
        codes = scored["province"].to_numpy(dtype=np.float64, na_value=np.nan)
        extra = sorted(set(np.unique(codes[~np.isnan(codes)]).astype(int).tolist())
                       - set(census_codes))
        categories = census_codes + extra
        values = pd.array(codes, dtype="Float64").astype("Int64")
        columns["province"] = pd.Categorical(values, categories=categories)
    for name in _CATEGORICAL:
        if name in scored.columns:
            series = scored[name]
            if isinstance(series.dtype, pd.CategoricalDtype):
                columns[name] = pd.Categorical(series)
            elif name == "income" and pd.api.types.is_numeric_dtype(series.dtype):
                columns["income_value"] = series.to_numpy(dtype=np.float64, na_value=np.nan)
    for name in scored.columns:
        if name.startswith("exposure_"):
            columns[name] = scored[name].to_numpy(dtype=np.float64, na_value=np.nan)
    for name in ("phase", "participant_code"):
        if name in scored.columns:
            columns[name] = scored[name].to_numpy()
    for name in outcomes:
        columns[name] = (
            scored[name].to_numpy(dtype=np.float64, na_value=np.nan)
            if name in scored.columns else np.full(n, np.nan)
        )
    # Each column its own array (copy=False: no 2-D block of all the floats copied
    # together); a read-only view of the scored frame is copied, so the frame's columns
    # are all its own and writable.
    for name, value in columns.items():
        if isinstance(value, np.ndarray) and not value.flags.writeable:
            columns[name] = value.copy()
    return pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)


# ---------------------------------------------------------------------------- weighting
def _restricted_targets(margins: Sequence[str], covered: Sequence[int]) -> Targets:
    """Census targets on ``margins`` for the provinces ``covered`` only; national margins
    (``sex`` ...) are summed over those provinces."""
    crossed = [m if m == "province" or m.startswith("province*") else f"province*{m}"
               for m in margins]
    full = census_targets(margins=list(dict.fromkeys(crossed))).to_frame()
    keep = {str(c) for c in covered}
    full = full[full["level"].str.split("*").str[0].isin(keep)]
    rows = []
    for margin in margins:
        name = margin if margin.startswith("province") else f"province*{margin}"
        part = full[full["variable"] == name]
        if margin.startswith("province"):
            rows.append(part)
        else:
            level = part["level"].str.split("*").str[1]
            summed = part.groupby(level, sort=False)["total"].sum()
            rows.append(pd.DataFrame(
                {"variable": margin, "level": summed.index, "total": summed.to_numpy()}
            ))
    table = pd.concat(rows, ignore_index=True)
    return Targets.from_frame(
        table, provenance=f"2020 census, adults 15+, {len(covered)} provinces with respondents"
    )


def _codes_of(series: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Integer codes (-1 missing) and values of a column (a categorical's own codes)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return np.asarray(series.cat.codes, dtype=np.int64), list(series.cat.categories)
    codes, uniques = pd.factorize(series, sort=True)
    return np.asarray(codes, dtype=np.int64), list(uniques)


def _collapsed(
    data: pd.DataFrame, covered: Sequence[int], demographics: Sequence[str]
) -> tuple[Targets, dict[str, pd.Categorical], dict[str, tuple[int, ...]]]:
    """Targets on province and, for each demographic ``d``, a margin ``cal_<d>`` of province x
    ``d`` cells. The provinces with a cell of fewer than :data:`MIN_CELL` respondents are
    pooled: one cell per category of ``d`` for all of them together (``pool*<level>``, its
    target the sum of theirs), or, when even a pooled cell is that small, each keeps only its
    total (``<code>*all``).

    Returns the targets, the ``cal_<d>`` column of each respondent (categorical), and the
    provinces collapsed for each demographic. Works on integer codes: the cell counts are one
    ``bincount``.
    """
    census = census_targets(margins=[f"province*{d}" for d in demographics]).to_frame()
    prov_codes, prov_values = _codes_of(data["province"])
    prov_labels = [str(int(p)) for p in prov_values]
    keep = {str(c) for c in covered}
    rows = [_restricted_targets(["province"], covered).to_frame()]
    columns: dict[str, pd.Categorical] = {}
    collapsed: dict[str, tuple[int, ...]] = {}
    for d in demographics:
        table = census[census["variable"] == f"province*{d}"]
        parts = table["level"].str.split("*", n=1, expand=True)
        table = table.assign(province=parts[0], level=parts[1])
        table = table[table["province"].isin(keep) & (table["total"] > 0)]
        level_codes, level_values = _codes_of(data[d])
        width = len(level_values)
        counts = np.bincount(prov_codes * width + level_codes,
                             minlength=len(prov_values) * width).reshape(-1, width)
        p_index = {p: i for i, p in enumerate(prov_labels)}
        l_index = {str(v): j for j, v in enumerate(level_values)}
        incomplete = sorted({
            int(p) for p, lv in zip(table["province"], table["level"], strict=True)
            if p not in p_index or lv not in l_index
            or counts[p_index[p], l_index[lv]] < MIN_CELL
        })
        collapsed[d] = tuple(incomplete)
        sparse = np.isin(np.asarray(prov_values, dtype=np.int64), incomplete)
        inside = table["province"].astype(int).isin(incomplete)
        # The sparse provinces' cells are pooled into one cell per category ("pool*<level>")
        # when each pooled cell is big enough, so the variable is still corrected there;
        # otherwise each such province keeps only its total ("<code>*all").
        pooled_counts = counts[sparse].sum(axis=0)
        pooled_levels = table.loc[inside, "level"].unique()
        pool = bool(len(incomplete)) and all(
            lv in l_index and pooled_counts[l_index[lv]] >= MIN_CELL for lv in pooled_levels)
        n_cells = len(prov_values) * width
        if pool:
            cal = np.where(sparse[prov_codes], n_cells + level_codes,
                           prov_codes * width + level_codes)
            extra = [f"pool*{v}" for v in level_values]
            merged = table[inside].groupby("level", sort=False)["total"].sum()
            merged_levels = "pool*" + merged.index
        else:
            cal = np.where(sparse[prov_codes], n_cells + prov_codes,
                           prov_codes * width + level_codes)
            extra = [f"{p}*all" for p in prov_labels]
            merged = table[inside].groupby("province", sort=False)["total"].sum()
            merged_levels = merged.index + "*all"
        categories = [f"{p}*{v}" for p in prov_labels for v in level_values] + extra
        columns[f"cal_{d}"] = pd.Categorical.from_codes(
            cal, categories=categories).remove_unused_categories()
        rows.append(pd.DataFrame({"variable": f"cal_{d}",
                                  "level": table.loc[~inside, "province"] + "*"
                                  + table.loc[~inside, "level"],
                                  "total": table.loc[~inside, "total"]}))
        rows.append(pd.DataFrame({"variable": f"cal_{d}", "level": merged_levels,
                                  "total": merged.to_numpy()}))
    targets = Targets.from_frame(
        pd.concat(rows, ignore_index=True),
        provenance=f"2020 census, adults 15+, {len(covered)} provinces with respondents; "
        "province x demographic cells, sparse provinces' cells pooled",
    )
    return targets, columns, collapsed


def _weigh(frame: pd.DataFrame, rows: np.ndarray, questionnaire: Questionnaire) -> Weighting:
    """Census weights of the respondents at ``rows`` (see the module docstring)."""
    have = [v for v in CALIBRATION_VARIABLES if v in frame.columns]
    sub = _take(frame, rows)
    excluded: dict[str, int] = {}
    ok = np.ones(len(rows), dtype=bool)
    for v in have:
        missing = sub[v].isna().to_numpy()
        count = int((missing & ok).sum())
        if count:
            excluded[f"missing {v}"] = count
        ok &= ~missing
    if "age_band" in have:
        young = (sub["age_band"] == "0-14").to_numpy(dtype=bool) & ok
        if young.any():
            excluded["under 15 (outside the census population)"] = int(young.sum())
        ok &= ~young
    demographics = [v for v in _DEMOGRAPHIC if v in have]
    kept = rows[ok]
    census_codes = [int(c) for c in load_census()["gb_code"]]
    empty = pd.DataFrame(index=pd.RangeIndex(0))

    def nothing(notes: tuple[str, ...], uncovered: tuple[int, ...] = ()) -> Weighting:
        return Weighting("none", (), None, rows[:0], np.zeros(0), MappingProxyType(excluded),
                         uncovered, notes, empty)

    if "province" not in have and not demographics:
        return nothing(("the questionnaire has no province, sex, age or urban/rural question "
                        "to weight on",))
    if len(kept) < 2:
        return nothing((f"only {len(kept)} respondent(s) have every calibration variable",))
    data = _take(frame, kept)
    covered = census_codes
    if "province" in have:
        codes, values = _codes_of(data["province"])
        present = {int(values[c]) for c in np.unique(codes[codes >= 0])}
        unknown = present - set(census_codes)
        if unknown:
            bad = data["province"].isin(sorted(unknown)).to_numpy(dtype=bool)
            excluded["province outside the census table"] = int(bad.sum())
            kept = kept[~bad]
            data = _take(frame, kept)
        covered = [c for c in census_codes if c in present]
    uncovered = tuple(c for c in census_codes if c not in covered) if "province" in have else ()
    schemes: list[tuple[str, tuple[str, ...]]] = []
    if "province" in have:
        if demographics:
            schemes.append(("full", ("province", *(f"province*{d}" for d in demographics))))
            schemes.append(("national", ("province", *demographics)))
        schemes.append(("province", ("province",)))
    else:
        schemes.append(("demographic", tuple(demographics)))
    notes: list[str] = []
    for scheme, margins in schemes:
        columns: dict[str, pd.Categorical] = {}
        collapsed: dict[str, tuple[int, ...]] = {}
        try:
            if scheme == "full":
                targets, columns, collapsed = _collapsed(data, covered, demographics)
            elif "province" in have:
                targets = _restricted_targets(margins, covered)
            else:
                targets = census_targets(margins=margins)
            with warnings.catch_warnings():
                warnings.simplefilter("error", ConvergenceWarning)
                result = calibrate(data.assign(**columns), targets, method="rake", max_iter=200,
                                   on_nonconvergence="raise")
        except (WeightingError, ConvergenceWarning) as exc:
            notes.append(f"{scheme}: {exc}")
            continue
        return Weighting(
            scheme, margins, result, kept, np.asarray(result.weights),
            MappingProxyType(excluded), uncovered, tuple(notes),
            pd.DataFrame(dict(columns), index=pd.RangeIndex(len(kept))),
            MappingProxyType({k: v for k, v in collapsed.items() if v}),
        )
    return nothing(tuple(notes), uncovered)


# ============================================================================ domains
def _check_filters(data: DashboardData, filters: Filters) -> None:
    if not isinstance(filters, Filters):
        raise DashboardError(f"filters must be a Filters, not {type(filters).__name__}.")
    if filters.questionnaire != data.questionnaire_id or filters.version != data.version:
        raise DashboardError(
            f"These data are questionnaire {data.questionnaire_id!r} version "
            f"{data.version or 'all'}, but the filters ask for {filters.questionnaire!r} version "
            f"{filters.version or 'all'}; load those data first."
        )
    for name, values in filters.domain().items():
        if name not in data.frame.columns:
            raise DashboardError(
                f"The questionnaire has no {name} question, so it cannot be filtered by {name}; "
                "clear that filter."
            )
        if name == "province":
            continue
        known = set(data.frame[name].cat.categories)
        unknown = [v for v in values if v not in known]
        if unknown:
            raise DashboardError(
                f"{name} has no value(s) {', '.join(map(repr, unknown))}; the values are "
                f"{', '.join(map(repr, sorted(known, key=str)))}."
            )


def _day_number(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def _date_mask(data: DashboardData, filters: Filters, rows: np.ndarray) -> np.ndarray | None:
    """Boolean over ``rows``: submitted within the filter's dates; ``None`` when there is no
    date restriction."""
    if filters.start is None and filters.end is None:
        return None
    days = data.frame["day"].to_numpy()[rows]
    mask = np.ones(len(rows), dtype=bool)
    if filters.start is not None:
        mask &= days >= _day_number(filters.start)
    if filters.end is not None:
        mask &= days <= _day_number(filters.end)
    return mask


def _row_mask(data: DashboardData, filters: Filters, rows: np.ndarray) -> np.ndarray:
    """Boolean over ``rows``: in the filter's domain (dates and selections)."""
    dates = _date_mask(data, filters, rows)
    mask = np.ones(len(rows), dtype=bool) if dates is None else dates
    frame = data.frame
    for name, values in filters.domain().items():
        mask &= frame[name].isin(list(values)).to_numpy(dtype=bool)[rows]
    return mask


def _domain_aggregates(data: DashboardData, filters: Filters, weighted: bool) -> Aggregates:
    agg = data.aggregates(filters.exclude_flagged, weighted)
    dates = _date_mask(data, filters, data.rows_of(filters.exclude_flagged, weighted))
    return agg if dates is None else agg.within(dates)


# ============================================================================ literacy
@dataclass(frozen=True, eq=False)
class Literacy:
    """Where financial literacy stands in a domain: the index and each dimension, with 95%
    (``1 - alpha``) intervals, nationally, by province, by region and by group.

    Attributes
    ----------
    filters
        The domain.
    weighted
        Census-weighted (True) or unweighted.
    national
        Every outcome over the whole domain (:class:`~analysis.results.Estimates`).
    provinces, regions
        Every outcome by province and by region.
    groups
        Group column -> every outcome by that group.
    n
        Respondents in the domain (of the analysis: the weighted respondents when weighted).
    n_without_weight
        Respondents in the domain left out of the weighted figures for want of a weight (0
        when unweighted).
    alpha, min_n, max_cv
        Interval level and the low-precision thresholds used for ``flags``.
    """

    filters: Filters
    weighted: bool
    national: Estimates
    provinces: Estimates
    regions: Estimates
    groups: Mapping[str, Estimates]
    n: int
    n_without_weight: int
    alpha: float
    min_n: int
    max_cv: float


def literacy(
    data: DashboardData,
    filters: Filters,
    *,
    alpha: float = 0.05,
    min_n: int = 30,
    max_cv: float = 0.3,
) -> Literacy:
    """The literacy index and dimensions in the filters' domain, with intervals.

    Parameters
    ----------
    data
        The loaded responses (:func:`load_dashboard`).
    filters
        The domain, the sample (flagged excluded or not) and weighted or unweighted.
    alpha
        Significance level of the intervals (0.05: 95%).
    min_n, max_cv
        Estimates from fewer than ``min_n`` respondents or with a coefficient of variation
        above ``max_cv`` are flagged (``Estimate.flags``: ``small_n``, ``high_cv``).

    Returns
    -------
    Literacy

    Notes
    -----
    Means and their calibration-aware linearised standard errors come from
    :func:`analysis.aggregates.mean_by_domain` (equal to
    :func:`analysis.estimation.estimate_mean` with ``by=``, and to R's ``svyby`` on a
    ``subset()`` of the raked design). Intervals: :math:`\\hat\\theta \\pm t_{1-\\alpha/2, n-1}
    \\, se`. Unweighted: the same formulas with weights of 1 and no calibration.
    """
    _check_filters(data, filters)
    weighted = filters.weighted
    agg = _domain_aggregates(data, filters, weighted)
    where = filters.domain()

    def means(by: str | None) -> Estimates:
        if by is not None and by not in agg.keys.columns:
            return Estimates((), alpha=alpha)
        return mean_by_domain(agg, by=by, where=where or None, alpha=alpha, min_n=min_n,
                              max_cv=max_cv)

    national = means(None)
    provinces = means("province")
    regions = means("region")
    groups = {g: means(g) for g in data.groups}
    counts = count_by_domain(agg, where=where or None)
    n = int(counts["n"].sum()) if len(counts) else 0
    without = 0
    if weighted:
        sample = data.sample(filters.exclude_flagged)
        missing = np.setdiff1d(sample.rows, sample.weighting.rows, assume_unique=True)
        if len(missing):
            without = int(_row_mask(data, filters, missing).sum())
    return Literacy(
        filters=filters,
        weighted=weighted,
        national=national,
        provinces=provinces,
        regions=regions,
        groups=MappingProxyType(groups),
        n=n,
        n_without_weight=without,
        alpha=alpha,
        min_n=min_n,
        max_cv=max_cv,
    )


def estimates_table(
    estimates: Estimates, data: DashboardData, *, by: str | None = None, lang: str = "zh"
) -> pd.DataFrame:
    """Estimates as a readable table: ``by`` value and label, outcome and label, estimate,
    se, ci_lower, ci_upper, n, cv, deff, flags (comma-separated)."""
    frame = estimates.to_frame()
    out = pd.DataFrame()
    if by is not None:
        values = frame[by] if by in frame.columns else pd.Series([], dtype=object)
        out[by] = values
        out["label"] = [data.value_label(by, v, lang) for v in values]
    out["outcome"] = frame["variable"] if len(frame) else pd.Series([], dtype=object)
    out["outcome_label"] = [data.outcome_label(v, lang) for v in out["outcome"]]
    for column in ("estimate", "se", "ci_lower", "ci_upper", "n", "cv", "deff", "flags"):
        out[column] = frame[column] if len(frame) else pd.Series([], dtype=float)
    return out.reset_index(drop=True)


# ============================================================================ overview
@dataclass(frozen=True, eq=False)
class Overview:
    """Fieldwork at a glance in a domain.

    Attributes
    ----------
    completes
        Submitted responses in the domain (all responses; flagged ones included).
    break_offs
        Saved drafts never submitted (see :class:`DraftCount`), for the questionnaire (version)
        and dates; ``None`` when the drafts are not known.
    daily
        One row per day (China time): ``date, completes, break_offs``.
    provinces
        One row per census province: ``province, name_zh, name_en, region, completes,
        share, census_share, expected, target, progress`` (``expected``: the domain's completes
        spread in proportion to the adult population; ``target``: the questionnaire's quota
        by province, if any; ``progress``: completes / target).
    quality
        One row per quality flag: ``flag, n, share`` in the domain.
    break_off_pages
        Where the break-offs stopped: ``page, n``.
    """

    completes: int
    break_offs: int | None
    daily: pd.DataFrame
    provinces: pd.DataFrame
    quality: pd.DataFrame
    break_off_pages: pd.DataFrame

    @property
    def break_off_rate(self) -> float:
        """Break-offs / (completes + break-offs)."""
        if self.break_offs is None or self.completes + self.break_offs == 0:
            return math.nan
        return self.break_offs / (self.completes + self.break_offs)


def _local_date(hour: dt.datetime) -> dt.date:
    return (hour.astimezone(dt.UTC) + TIMEZONE_OFFSET).date()


def overview(
    data: DashboardData, filters: Filters, *, drafts: Sequence[DraftCount] | None = None
) -> Overview:
    """Responses over time, completes and break-offs, responses by province against plan,
    quality counts, in the filters' domain.

    Parameters
    ----------
    data, filters
        The loaded responses and the domain (``exclude_flagged`` and ``weighted`` do not
        apply: the overview counts every submitted response).
    drafts
        ``store.state.count_drafts(questionnaire_id)``: drafts never submitted. They are
        filtered by version and dates only (a draft has no demographics yet).

    Notes
    -----
    A break-off here is a draft that was saved and never submitted: respondents who leave
    without saving leave no trace, drafts expire after the store's retention (30 days by
    default) and a draft saved minutes ago may still be finished, so the count is a lower
    bound of those who started and did not finish.
    """
    _check_filters(data, filters)
    rows = np.arange(data.n)
    mask = _row_mask(data, filters, rows)
    frame = data.frame
    days = frame["day"].to_numpy()[mask]
    first_day = int(days.min()) if len(days) else None
    counts: dict[int, list[int]] = {}
    if len(days):
        values, n = np.unique(days, return_counts=True)
        for d, c in zip(values.tolist(), n.tolist(), strict=True):
            counts[d] = [c, 0]
    break_offs: int | None = None
    pages: dict[str, int] = {}
    if drafts is not None:
        break_offs = 0
        lo = _day_number(filters.start) if filters.start else None
        hi = _day_number(filters.end) if filters.end else None
        for draft in drafts:
            if filters.version is not None and draft.questionnaire_version != filters.version:
                continue
            day = _day_number(_local_date(draft.saved_hour))
            if (lo is not None and day < lo) or (hi is not None and day > hi):
                continue
            break_offs += draft.n
            counts.setdefault(day, [0, 0])[1] += draft.n
            page = draft.page or "(start)"
            pages[page] = pages.get(page, 0) + draft.n
    ordered = sorted(counts)
    if ordered:
        start = min(ordered[0], first_day) if first_day is not None else ordered[0]
        full = range(start, ordered[-1] + 1)
    else:
        full = range(0)
    daily = pd.DataFrame(
        {
            "date": [dt.date(1970, 1, 1) + dt.timedelta(days=d) for d in full],
            "completes": [counts.get(d, [0, 0])[0] for d in full],
            "break_offs": [counts.get(d, [0, 0])[1] for d in full],
        }
    )
    completes = int(mask.sum())
    return Overview(
        completes=completes,
        break_offs=break_offs,
        daily=daily,
        provinces=_province_progress(data, mask, completes),
        quality=_flag_counts(data, mask),
        break_off_pages=pd.DataFrame(
            {"page": list(pages), "n": list(pages.values())}
        ).sort_values("n", ascending=False, ignore_index=True),
    )


def _province_progress(data: DashboardData, mask: np.ndarray, completes: int) -> pd.DataFrame:
    census = load_census()
    adults = census["population"].to_numpy(float) * (100 - census["age_0_14_pct"]) / 100
    share = adults / adults.sum()
    out = pd.DataFrame(
        {
            "province": census["gb_code"].astype(int),
            "name_zh": census["name_zh"],
            "name_en": census["name_en"],
            "region": census["nbs_region"],
        }
    )
    if "province" in data.frame.columns:
        got = data.frame["province"][mask].value_counts()
        out["completes"] = [int(got.get(c, 0)) for c in out["province"]]
    else:
        out["completes"] = 0
    out["share"] = out["completes"] / completes if completes else math.nan
    out["census_share"] = share
    out["expected"] = share * completes
    quotas = data.questionnaire.settings.quotas
    province_q = data.questionnaire.role("province")
    target: list[float] = [math.nan] * len(out)
    if quotas is not None and province_q is not None and tuple(quotas.by) in (
        (province_q.name,), ("province",)
    ):
        target = [
            float(t) if (t := quotas.target(str(c))) is not None else math.nan
            for c in out["province"]
        ]
    out["target"] = target
    out["progress"] = out["completes"] / out["target"]
    return out


def _flag_counts(data: DashboardData, mask: np.ndarray) -> pd.DataFrame:
    flags = data.flags()
    n = int(mask.sum())
    names = [*FLAGS, "flag_any"]
    values = [int(flags[name].to_numpy(dtype=bool)[mask].sum()) for name in names]
    return pd.DataFrame(
        {"flag": names, "n": values, "share": [v / n if n else math.nan for v in values]}
    )


# ============================================================================ data quality
@dataclass(frozen=True, eq=False)
class DataQuality:
    """Data-quality flags in a domain (of all responses, whatever the exclusion choice).

    Attributes
    ----------
    n
        Responses in the domain.
    counts
        ``flag, n, share`` for each flag of :data:`analysis.quality.FLAGS` and ``flag_any``.
    by_province
        ``province, name_zh, name_en, n, flagged, share``.
    durations
        Per version: ``version, n, median_seconds, speeder_below_seconds``.
    excluded
        Whether the analyst excludes flagged responses (``filters.exclude_flagged``), and
        ``n_excluded`` how many of the domain that leaves out.
    """

    n: int
    counts: pd.DataFrame
    by_province: pd.DataFrame
    durations: pd.DataFrame
    excluded: bool
    n_excluded: int


def data_quality(data: DashboardData, filters: Filters) -> DataQuality:
    """Speeders, straight-liners, attention-check failures and duplicates in the domain."""
    _check_filters(data, filters)
    mask = _row_mask(data, filters, np.arange(data.n))
    flags = data.flags()
    flagged = flags["flag_any"].to_numpy(dtype=bool)
    by_province = pd.DataFrame(columns=["province", "name_zh", "name_en", "n", "flagged",
                                        "share"])
    if "province" in data.frame.columns:
        province = data.frame["province"]
        table = pd.DataFrame({"province": province[mask], "flagged": flagged[mask]})
        grouped = table.groupby("province", observed=True)["flagged"].agg(["size", "sum"])
        names = _province_names()
        by_province = pd.DataFrame(
            {
                "province": grouped.index.astype(int),
                "name_zh": [names.get(int(c), (str(c), str(c)))[0] for c in grouped.index],
                "name_en": [names.get(int(c), (str(c), str(c)))[1] for c in grouped.index],
                "n": grouped["size"].to_numpy(),
                "flagged": grouped["sum"].to_numpy(dtype=np.int64),
            }
        )
        by_province["share"] = by_province["flagged"] / by_province["n"]
    duration = data.frame["duration_seconds"].to_numpy()
    rows = []
    for version in data.versions:
        v = (data.frame["questionnaire_version"] == version).to_numpy(dtype=bool)
        median = float(np.nanmedian(duration[v])) if v.any() else math.nan
        rows.append({"version": version, "n": int(v.sum()), "median_seconds": median,
                     "speeder_below_seconds": median / 3})
    return DataQuality(
        n=int(mask.sum()),
        counts=_flag_counts(data, mask),
        by_province=by_province,
        durations=pd.DataFrame(rows),
        excluded=filters.exclude_flagged,
        n_excluded=int((flagged & mask).sum()) if filters.exclude_flagged else 0,
    )


# ============================================================================ items
def _rescored(data: DashboardData, rows: np.ndarray, version: str) -> Any:
    """The stored answers of frame ``rows`` (one version) and their scores with item scores."""
    qn = data.questionnaires[version]
    sub = _take(data.responses, rows).reset_index(drop=True)
    return sub, score_responses(sub, qn)


def items(
    data: DashboardData,
    filters: Filters,
    *,
    version: str | None = None,
    lang: str = "zh",
) -> ItemAnalysis:
    """Item analysis (percent correct, difficulty, discrimination, distractors, alpha) of one
    version's responses in the domain, weighted or not.

    Parameters
    ----------
    version
        Which version (default: the newest loaded; items differ between versions).
    lang
        Language of the option labels in the distractor table.
    """
    _check_filters(data, filters)
    version = version or data.versions[-1]
    if version not in data.questionnaires:
        raise DashboardError(
            f"Version {version} is not loaded (loaded: {', '.join(data.versions)})."
        )
    base = data.rows_of(filters.exclude_flagged, filters.weighted)
    keep = _row_mask(data, filters, base)
    keep &= (data.frame["questionnaire_version"] == version).to_numpy(dtype=bool)[base]
    rows = base[keep]
    if len(rows) < 2:
        raise DashboardError(
            "Fewer than two responses of this version are in the domain; widen the filters."
        )
    responses, scored = _rescored(data, rows, version)
    weights = None
    if filters.weighted:
        w = data.sample(filters.exclude_flagged).weighting.weights
        weights = w[keep]
    return analyse_items(
        responses, data.questionnaires[version], weights=weights, scored=scored, language=lang
    )


# ============================================================================ weighting
@dataclass(frozen=True, eq=False)
class WeightingReport:
    """How the census weights look, for the sample and the domain.

    Attributes
    ----------
    weighting
        The weights of the sample used (scheme, margins, exclusions, notes).
    margins
        Achieved against census totals for every level of every raking margin:
        ``margin, level, target, achieved, base, n, rel_error, census_share,
        sample_share, weighted_share`` (shares within the margin).
    provinces
        ``province, name_zh, name_en, n, sample_share, census_share, weighted_share,
        mean_weight`` in the domain.
    summary
        One row for the domain's weights: ``n, weight_sum, weight_min, weight_max,
        weight_mean, weight_cv, deff, n_effective`` (Kish: :math:`deff = n\\sum w^2/(\\sum
        w)^2`, :math:`n_{eff} = (\\sum w)^2/\\sum w^2`).
    quantiles
        Weight quantiles in the domain (0, 1, 5, 25, 50, 75, 95, 99, 100 %).
    histogram
        ``bin_lower, bin_upper, n``: the domain's weights in 30 bins on a log scale.
    """

    weighting: Weighting
    margins: pd.DataFrame
    provinces: pd.DataFrame
    summary: pd.DataFrame
    quantiles: pd.Series
    histogram: pd.DataFrame


def weighting_report(data: DashboardData, filters: Filters) -> WeightingReport:
    """Achieved against census margins, the weight distribution, Kish's design effect and
    effective sample size, for the filters' sample and domain."""
    _check_filters(data, filters)
    sample = data.sample(filters.exclude_flagged)
    w = sample.weighting
    if w.result is None:
        raise DashboardError(
            f"There are no census weights for these responses ({_no_weights_reason(w)})."
        )
    margins = w.result.margins.copy()
    margins["margin"] = [m.replace("cal_", "province*", 1) if m.startswith("cal_") else m
                         for m in margins["margin"]]
    totals = margins.groupby("margin", sort=False)
    margins["census_share"] = margins["target"] / totals["target"].transform("sum")
    margins["sample_share"] = margins["n"] / totals["n"].transform("sum")
    margins["weighted_share"] = margins["achieved"] / totals["achieved"].transform("sum")
    margins = margins[["margin", "level", "target", "achieved", "base", "n", "rel_error",
                       "census_share", "sample_share", "weighted_share"]]
    keep = _row_mask(data, filters, w.rows)
    weights = w.weights[keep]
    rows = w.rows[keep]
    n = len(weights)
    total = float(weights.sum())
    sumsq = float(np.dot(weights, weights))
    mean = total / n if n else math.nan
    summary = pd.DataFrame([{
        "n": n,
        "weight_sum": total,
        "weight_min": float(weights.min()) if n else math.nan,
        "weight_max": float(weights.max()) if n else math.nan,
        "weight_mean": mean,
        "weight_cv": float(np.std(weights) / mean) if n else math.nan,
        "deff": n * sumsq / (total * total) if n else math.nan,
        "n_effective": total * total / sumsq if n else math.nan,
    }])
    probabilities = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
    quantiles = pd.Series(
        np.quantile(weights, probabilities) if n else np.full(len(probabilities), np.nan),
        index=pd.Index(probabilities, name="q"), name="weight",
    )
    if n:
        low, high = float(weights.min()), float(weights.max())
        edges = np.geomspace(low, high * (1 + 1e-12), 31) if high > low else np.array(
            [low, low * (1 + 1e-9) + 1e-12])
        counts, edges = np.histogram(weights, bins=edges)
        histogram = pd.DataFrame({"bin_lower": edges[:-1], "bin_upper": edges[1:], "n": counts})
    else:
        histogram = pd.DataFrame({"bin_lower": [], "bin_upper": [], "n": []})
    provinces = pd.DataFrame()
    if "province" in data.frame.columns:
        census = load_census()
        adults = census["population"].to_numpy(float) * (100 - census["age_0_14_pct"]) / 100
        table = pd.DataFrame({"province": data.frame["province"].to_numpy()[rows],
                              "w": weights})
        grouped = table.groupby("province", observed=True)["w"].agg(["size", "sum"])
        codes = census["gb_code"].astype(int).tolist()
        provinces = pd.DataFrame(
            {
                "province": codes,
                "name_zh": census["name_zh"],
                "name_en": census["name_en"],
                "n": [int(grouped["size"].get(c, 0)) for c in codes],
                "census_share": adults / adults.sum(),
                "weight": [float(grouped["sum"].get(c, 0.0)) for c in codes],
            }
        )
        provinces["sample_share"] = provinces["n"] / max(n, 1)
        provinces["weighted_share"] = provinces["weight"] / total if n else math.nan
        provinces["mean_weight"] = provinces["weight"] / provinces["n"].where(provinces["n"] > 0)
        provinces = provinces[["province", "name_zh", "name_en", "n", "sample_share",
                               "census_share", "weighted_share", "mean_weight"]]
    return WeightingReport(w, margins, provinces, summary, quantiles, histogram)


# ============================================================================ effectiveness
#: The methods of the effectiveness page, in order.
METHODS: tuple[str, ...] = ("difference", "regression", "ipw", "aipw")


@dataclass(frozen=True, eq=False)
class Effectiveness:
    """Financial education's estimated effect on one outcome by every method, in a domain.

    Attributes
    ----------
    outcome, treatment
        The outcome and the 0/1 treatment compared (exposed against not).
    covariates
        What the adjusted methods adjust for (constant ones in the domain are dropped).
    effects
        One :class:`~analysis.effectiveness.Effect` per method that ran, in :data:`METHODS`
        order.
    errors
        Method -> why it could not run (an empty group, no overlap...).
    benchmark
        The effects in SD units beside Kaiser et al. (2022) (and the decay finding of
        Fernandes et al. 2014 where relevant): :func:`analysis.effectiveness.benchmark`.
    balance
        Covariate balance before and after inverse-probability weighting (from ``ipw``), or
        ``None``.
    overlap
        Overlap diagnostics of the propensity model (from ``ipw``), or ``None``.
    weighted
        Whether census weights were used.
    """

    outcome: str
    treatment: str
    covariates: tuple[str, ...]
    effects: Effects
    errors: Mapping[str, str]
    benchmark: pd.DataFrame
    balance: pd.DataFrame | None
    overlap: Overlap | None
    weighted: bool


def treatments(data: DashboardData) -> tuple[str, ...]:
    """The treatments the effectiveness page can compare: any exposure, each kind of exposure
    against none (``school_vs_none``...), and recency bands against none."""
    if "exposure_any" not in data.frame.columns:
        return ()
    kinds = [e for e in EXPOSURES[1:] if e in data.frame.columns]
    recency = ("exposure_recency_months"
               if "exposure_recency_months" in data.frame.columns else None)
    contrasts = treatment_contrasts(data.frame.head(0), types=kinds, recency=recency)
    return ("exposure_any", *contrasts.columns)


def effectiveness(
    data: DashboardData,
    filters: Filters,
    *,
    outcome: str | None = None,
    treatment: str = "exposure_any",
    covariates: Sequence[str] | None = None,
    methods: Sequence[str] = METHODS,
    alpha: float = 0.05,
) -> Effectiveness:
    """Estimate the effect of financial education by every method, in the filters' domain.

    Parameters
    ----------
    outcome
        Outcome column (default: the index).
    treatment
        ``exposure_any`` or one of :func:`treatments` (a kind or recency band against none).
    covariates
        Adjustment variables for regression, IPW and AIPW (default: sex, age group,
        education, urban/rural, region, those the questionnaire has).
    methods
        Methods to run (:data:`METHODS`).

    Notes
    -----
    The domain is kept as a domain: the treatment is set missing outside it, so those rows
    belong to neither group but stay in the design (as the methods of
    :mod:`analysis.effectiveness` treat missing treatments). These are observational
    comparisons of the self-reported exposed and unexposed: the adjusted methods remove only
    the differences the covariates capture.
    """
    _check_filters(data, filters)
    outcome = outcome or data.outcomes[0]
    if outcome not in data.outcomes:
        raise DashboardError(f"{outcome!r} is not an outcome ({', '.join(data.outcomes)}).")
    options = treatments(data)
    if treatment not in options:
        raise DashboardError(
            f"{treatment!r} is not a treatment of this questionnaire"
            f"{' (' + ', '.join(options) + ')' if options else ': it has no exposure question'}."
        )
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise DashboardError(f"Unknown method(s) {unknown}; choose from {', '.join(METHODS)}.")
    rows = data.rows_of(filters.exclude_flagged, filters.weighted)
    frame = _take(data.frame, rows).reset_index(drop=True)
    if treatment == "exposure_any":
        t = frame["exposure_any"].to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        kinds = [e for e in EXPOSURES[1:] if e in frame.columns]
        recency = ("exposure_recency_months"
                   if "exposure_recency_months" in frame.columns else None)
        t = treatment_contrasts(frame, types=kinds, recency=recency)[treatment].to_numpy()
    inside = _row_mask(data, filters, rows)
    wanted = list(covariates) if covariates is not None else [
        c for c in _COVARIATES if c in frame.columns
    ]
    used = inside & ~np.isnan(t)
    kept_covariates = tuple(
        c for c in wanted if frame[c][used].nunique(dropna=True) > 1
    )
    work = frame.assign(treated=np.where(inside, t, np.nan))
    design: Design
    if filters.weighted:
        w = data.sample(filters.exclude_flagged).weighting
        if w.result is None:
            raise DashboardError(
                f"There are no census weights for these responses ({_no_weights_reason(w)})."
            )
        extra = {name: w.columns[name].array for name in w.columns.columns}
        design = Design(work.assign(weight=w.weights, **extra), weights="weight",
                        calibration=w.result.model)
    else:
        design = Design(work)
    effects: list[Effect] = []
    errors: dict[str, str] = {}
    for method in methods:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                effect = estimate_effect(
                    design, outcome, "treated", method=method,  # type: ignore[arg-type]
                    covariates=() if method == "difference" else kept_covariates,
                    alpha=alpha,
                )
        except AnalysisError as exc:
            errors[method] = str(exc)
            continue
        effects.append(dataclasses.replace(effect, treatment=treatment))
    collection = Effects(effects)
    ipw_effect = next((e for e in effects if e.method == "ipw"), None)
    table = benchmark(collection) if effects else benchmark([])
    return Effectiveness(
        outcome=outcome,
        treatment=treatment,
        covariates=kept_covariates,
        effects=collection,
        errors=MappingProxyType(errors),
        benchmark=table,
        balance=ipw_effect.balance if ipw_effect is not None else None,
        overlap=ipw_effect.overlap if ipw_effect is not None else None,
        weighted=filters.weighted,
    )


def combine_effectiveness(parts: Sequence[Effectiveness]) -> Effectiveness:
    """One :class:`Effectiveness` from several of the same outcome and treatment, each run with
    some methods (so that a page can compute, cache and show them one at a time)."""
    if not parts:
        raise DashboardError("combine_effectiveness: give at least one result.")
    first = parts[0]
    if any((p.outcome, p.treatment, p.weighted) != (first.outcome, first.treatment,
                                                    first.weighted) for p in parts):
        raise DashboardError("combine_effectiveness: the results compare different things.")
    effects = Effects(e for p in parts for e in p.effects)
    errors = {m: text for p in parts for m, text in p.errors.items()}
    ipw_part = next((p for p in parts if p.balance is not None), None)
    return Effectiveness(
        outcome=first.outcome,
        treatment=first.treatment,
        covariates=first.covariates,
        effects=effects,
        errors=MappingProxyType(errors),
        benchmark=benchmark(effects) if len(effects) else benchmark([]),
        balance=ipw_part.balance if ipw_part is not None else None,
        overlap=ipw_part.overlap if ipw_part is not None else None,
        weighted=first.weighted,
    )


def quiz_prepost(data: DashboardData, filters: Filters, *, alpha: float = 0.05) -> PrePost:
    """Pre/post comparison of a quiz questionnaire (roles ``phase`` and ``participant_code``,
    e.g. ``edu_quiz``): paired change of the score, effect sizes, per-item gains.

    Raises
    ------
    DashboardError
        The questionnaire has no phase or participant code, or no pairs in the domain.
    """
    _check_filters(data, filters)
    frame = data.frame
    if "phase" not in frame.columns or "participant_code" not in frame.columns:
        raise DashboardError(
            f"{data.questionnaire_id!r} has no phase (pre/post) and participant code questions; "
            "pre/post results need a quiz such as edu_quiz."
        )
    rows = np.arange(data.n)
    if filters.exclude_flagged:
        rows = data.sample(True).rows
    rows = rows[_row_mask(data, filters, rows)]
    version = data.versions[-1]
    version_rows = rows[(frame["questionnaire_version"] == version).to_numpy(dtype=bool)[rows]]
    _, scored = _rescored(data, version_rows, version)
    table = scored.frame
    outcome = data.outcomes[0]
    item_columns = [c for c in table.columns if c.startswith("score__")]
    phase = table["phase"].astype(str).to_numpy()
    pre = table[phase == "pre"]
    post = table[phase == "post"]
    if len(pre) == 0 or len(post) == 0:
        raise DashboardError("The domain has no pre-quiz or no post-quiz responses.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return prepost(pre, post, id="participant_code", outcome=outcome, items=item_columns,
                       alpha=alpha)
