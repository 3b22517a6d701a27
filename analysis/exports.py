"""Researcher exports: microdata (CSV, Excel, Parquet, Stata, SPSS), codebooks, estimate tables.

One export runs in two passes over the stored responses of one questionnaire version, so memory
stays that of one chunk of rows plus a few narrow columns of the whole sample:

1. :func:`prepare_export` reads the store in chunks (``ParquetResponseStore.iter_batches``),
   scores each chunk (:func:`analysis.scoring.score_responses`), computes the row-by-row quality
   flags (:func:`analysis.quality.quality_flags`), turns the chunk into export columns
   (pseudonymous id, answers, scores ...) and appends them to a temporary Parquet file. It keeps
   in memory only what needs the whole sample: the calibration and grouping columns, the scores
   the estimate tables use, durations, and 64-bit hashes of invitation tokens and answer sheets.
   It then computes the census weights (on every response to the version, before filtering),
   the flags that compare responses with each other (speeders against the median duration,
   duplicates in order of submission) exactly as :func:`~analysis.quality.quality_flags` does on
   the whole sample, and which rows the :class:`ExportFilter` selects.
2. :meth:`PreparedExport.write` reads the temporary file back in chunks, adds the weights and
   flags, keeps the selected rows and writes the file format (:mod:`analysis.export_formats`);
   :meth:`PreparedExport.estimate_tables` gives design-based estimates by province, region and
   group with small cells suppressed.

Every written export is recorded in the audit log (``store.state.append_audit``: who, what
filter, format, rows). The one-call forms are :func:`export_microdata` and
:func:`export_estimates`; :func:`write_codebook` writes a codebook (:mod:`analysis.codebook`).

Disclosure control
------------------
* Never exported: response ids (replaced by ``pid``, an HMAC-SHA256 of the id under a secret
  key kept in ``<data dir>/config/export_pseudonym.key``, created on first use with mode 0600 and
  never exported: ids stay the same across exports made with the same key; delete the file to
  start a new, unlinkable series), invitation tokens and their hashes, resume codes, contact
  details (kept apart by the store; the ``contact`` question is never read), user agents,
  consent versions and every timing except the total duration (rounded to whole seconds):
  ``submitted_at``, ``started_at``, ``page_seconds`` and ``option_order`` are dropped. The
  device class (phone, tablet, desktop, bot, unknown) is kept.
* Free-text answers only with ``include_text=True`` (an :class:`ExportWarning` says to review
  them); a participant code (pre/post linking) is always replaced by a keyed hash.
* Optional top-coding of income and age (values or option codes above the limit become the
  limit; weights are computed from the true values).
* Estimate tables blank every statistic of a cell with fewer than ``min_cell`` respondents
  (default 10) and flag it ``suppressed``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import functools
import hashlib
import hmac
import json
import math
import os
import secrets
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.codebook import (
    FLAG_VARIABLES,
    WEIGHTS_RULE,
    Codebook,
    ShortenedLabel,
    Variable,
    build_codebook,
    export_variables,
)
from analysis.design import CalibrationModel, Design
from analysis.errors import AnalysisError, AnalysisWarning, ConvergenceWarning
from analysis.estimation import estimate_mean
from analysis.export_formats import (
    FORMAT_SUFFIXES,
    arrow_type,
    neutralise,
    open_writer,
)
from analysis.quality import FLAGS, _later_duplicates, _order, quality_flags
from analysis.scoring import score_responses
from analysis.targets import Targets, census_targets, load_census
from analysis.weighting import calibrate
from questionnaires.model import Questionnaire, Text
from questionnaires.registry import QuestionnaireRegistry, version_key

__all__ = [
    "CHUNK_ROWS",
    "CODEBOOK_FORMATS",
    "DEFAULT_MIN_CELL",
    "FORMATS",
    "FORMAT_SUFFIXES",
    "GROUP_COLUMNS",
    "KEY_FILE",
    "TABLE_FORMATS",
    "EstimateTables",
    "ExportError",
    "ExportFilter",
    "ExportOptions",
    "ExportResult",
    "ExportWarning",
    "PreparedExport",
    "WeightingSummary",
    "census_weights",
    "export_estimates",
    "export_microdata",
    "prepare_export",
    "pseudonym_key",
    "pseudonymise",
    "resolve_questionnaire",
    "write_codebook",
]

Format = Literal["csv", "xlsx", "parquet", "dta", "sav"]
Language = Literal["zh", "en"]
Progress = Callable[[float, str], None]

#: Microdata formats.
FORMATS: tuple[str, ...] = ("csv", "xlsx", "parquet", "dta", "sav")
#: Estimate-table formats.
TABLE_FORMATS: tuple[str, ...] = ("csv", "xlsx")
#: Codebook formats (by file suffix: ``.html``, ``.md``, ``.json``).
CODEBOOK_FORMATS: tuple[str, ...] = ("html", "md", "json")
#: Cells of estimate tables with fewer respondents are suppressed.
DEFAULT_MIN_CELL = 10
#: Rows per chunk read from the store and written to the file.
CHUNK_ROWS = 50_000
#: The pseudonymisation key, relative to the data folder.
KEY_FILE = Path("config") / "export_pseudonym.key"
#: Dates of the filter are calendar days in China.
CHINA = ZoneInfo("Asia/Shanghai")
#: Grouping columns (analysis columns made from roles) -> the role they need.
GROUP_COLUMNS: Mapping[str, str] = {
    "sex": "sex",
    "age_group": "age",
    "age_band": "age",
    "urban": "urban",
    "education": "education",
    "income": "income",
    "occupation": "occupation",
    "exposure_any": "exposure",
    "phase": "phase",
}
_REGIONS = {
    "East": ("东部", "East"),
    "Central": ("中部", "Central"),
    "West": ("西部", "West"),
    "Northeast": ("东北", "Northeast"),
}
_AGE_GROUPS = ("<18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")
_AGE_BANDS = ("0-14", "15-59", "60+")
_CALIBRATION = ("sex", "age_band", "urban")
_GLOBAL_GROUPS = ("weight", "flag")
_SPEEDER_RATIO = 1 / 3
# Rows per batch asked of the store (joined into chunks of ``chunk_rows`` before scoring): the
# store reads one batch ahead, so this bounds what it holds besides the chunk.
_READ_BATCH = 8192


class ExportError(AnalysisError):
    """An export cannot be made: bad options or filter, no data, a file that cannot be written."""


class ExportWarning(AnalysisWarning):
    """An export was made, with something the researcher should know (free text, weights)."""


# ============================================================================ options
def _tuple(value: object, what: str) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | set | frozenset):
        raise ExportError(f"{what} must be a list, got {value!r}.")
    return tuple(value)


@dataclass(frozen=True)
class ExportFilter:
    """Which responses an export holds.

    Parameters
    ----------
    questionnaire_id
        The questionnaire.
    version
        Its version; None: the newest version that has responses.
    date_from, date_to
        First and last day of submission (calendar days in China, Asia/Shanghai), inclusive.
    provinces
        GB/T 2260 province codes (``11`` Beijing ...); empty: all.
    regions
        NBS regions ``East``, ``Central``, ``West``, ``Northeast``; empty: all.
    groups
        Grouping column -> the values to keep, e.g. ``{"sex": ["female"], "age_group":
        ["18-24", "25-34"]}`` (option names; ``"0"``/``"1"`` for ``exposure_any``). Columns:
        :data:`GROUP_COLUMNS`. Stored as sorted pairs so the filter is hashable.
    exclude_flagged
        Leave out responses with any quality flag (``flag_any``).

    Notes
    -----
    Conditions combine with *and*; the values listed for one condition with *or*.
    """

    questionnaire_id: str
    version: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    provinces: tuple[int, ...] = ()
    regions: tuple[str, ...] = ()
    groups: Mapping[str, Sequence[str]] | tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude_flagged: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.questionnaire_id, str) or not self.questionnaire_id:
            raise ExportError("ExportFilter: questionnaire_id must be a questionnaire id (text).")
        if self.version is not None and not isinstance(self.version, str):
            raise ExportError(
                f"ExportFilter: version must be text such as '2026.1', got {self.version!r}."
            )
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            if isinstance(value, dt.datetime) or not (value is None or isinstance(value, dt.date)):
                raise ExportError(
                    f"ExportFilter: {name} must be a date (datetime.date), got {value!r}."
                )
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ExportError(
                f"ExportFilter: date_from ({self.date_from}) is after date_to ({self.date_to}); "
                "swap them."
            )
        provinces = _tuple(self.provinces, "ExportFilter: provinces")
        if any(isinstance(p, bool) or not isinstance(p, int | np.integer) for p in provinces):
            raise ExportError(
                f"ExportFilter: provinces must be GB/T 2260 codes (whole numbers such as 11), "
                f"got {list(provinces)!r}."
            )
        object.__setattr__(self, "provinces", tuple(sorted({int(p) for p in provinces})))
        regions = _tuple(self.regions, "ExportFilter: regions")
        unknown = [r for r in regions if r not in _REGIONS]
        if unknown:
            raise ExportError(
                f"ExportFilter: unknown region(s) {', '.join(map(repr, unknown))}; use "
                f"{', '.join(_REGIONS)}."
            )
        object.__setattr__(self, "regions", tuple(sorted(set(regions))))
        raw = self.groups
        pairs = raw.items() if isinstance(raw, Mapping) else _tuple(raw, "ExportFilter: groups")
        groups: dict[str, tuple[str, ...]] = {}
        for pair in pairs:
            if not (isinstance(pair, tuple | list) and len(pair) == 2):
                raise ExportError(
                    "ExportFilter: groups must map a grouping column to a list of values, e.g. "
                    "{'sex': ['female']}."
                )
            column, values = pair
            if column not in GROUP_COLUMNS:
                close = difflib.get_close_matches(str(column), GROUP_COLUMNS, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ExportError(
                    f"ExportFilter: unknown grouping column {column!r}{hint}; use one of "
                    f"{', '.join(GROUP_COLUMNS)}."
                )
            items = _tuple(values, f"ExportFilter: the values of group {column!r}")
            if not items:
                raise ExportError(
                    f"ExportFilter: group {column!r} lists no values; give at least one or "
                    "leave the group out."
                )
            groups[str(column)] = tuple(sorted({str(v) for v in items}))
        object.__setattr__(self, "groups", tuple(sorted(groups.items())))
        if not isinstance(self.exclude_flagged, bool):
            raise ExportError("ExportFilter: exclude_flagged must be True or False.")

    @property
    def group_map(self) -> dict[str, tuple[str, ...]]:
        """``groups`` as a dict (column -> sorted values)."""
        return {str(k): tuple(v) for k, v in dict(self.groups).items()}

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (for the audit log and the codebook)."""
        return {
            "questionnaire_id": self.questionnaire_id,
            "version": self.version,
            "date_from": None if self.date_from is None else self.date_from.isoformat(),
            "date_to": None if self.date_to is None else self.date_to.isoformat(),
            "provinces": list(self.provinces),
            "regions": list(self.regions),
            "groups": {k: list(v) for k, v in self.group_map.items()},
            "exclude_flagged": self.exclude_flagged,
        }


@dataclass(frozen=True)
class ExportOptions:
    """How an export is written.

    Parameters
    ----------
    language
        Language of the variable and value labels written into the files (``zh``, ``en``).
    include_text
        Include free-text answers (they may contain names or phone numbers: review them).
    top_code_income, top_code_age
        Top-coding limits: a number question's values above the limit become the limit; a
        choice question's option codes above it are merged into it.
    min_cell
        Estimate-table cells with fewer respondents are suppressed (default 10).
    chunk_rows
        Rows per chunk (memory: one chunk of every column at a time).
    """

    language: Language = "zh"
    include_text: bool = False
    top_code_income: float | None = None
    top_code_age: float | None = None
    min_cell: int = DEFAULT_MIN_CELL
    chunk_rows: int = CHUNK_ROWS

    def __post_init__(self) -> None:
        if self.language not in ("zh", "en"):
            raise ExportError(
                f"ExportOptions: language must be 'zh' or 'en', got {self.language!r}."
            )
        if not isinstance(self.include_text, bool):
            raise ExportError("ExportOptions: include_text must be True or False.")
        for name in ("top_code_income", "top_code_age"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise ExportError(
                    f"ExportOptions: {name} must be a number >= 0 (or None), got {value!r}."
                )
        for name, low in (("min_cell", 1), ("chunk_rows", 100)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ExportError(
                    f"ExportOptions: {name} must be a whole number >= {low}, got {value!r}."
                )

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description."""
        return {
            "language": self.language,
            "include_text": self.include_text,
            "top_code_income": self.top_code_income,
            "top_code_age": self.top_code_age,
            "min_cell": self.min_cell,
        }


# ============================================================================ pseudonyms
def pseudonym_key(data_dir: str | os.PathLike[str]) -> bytes:
    """The secret key of pseudonymous ids, created on first use (32 random bytes, mode 0600).

    Stored as hex in ``<data_dir>/config/export_pseudonym.key``. Keep it (it is not in the
    response backups) to keep ``pid`` the same across exports; delete it to make later exports
    unlinkable to earlier ones.
    """
    path = Path(data_dir) / KEY_FILE
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it meanwhile
            return pseudonym_key(data_dir)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key.hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        return key
    except OSError as exc:
        raise ExportError(f"the pseudonymisation key {path} cannot be read: {exc}.") from exc
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise ExportError(
            f"the pseudonymisation key {path} is damaged (it must hold at least 32 hexadecimal "
            "digits); restore it from a backup, or delete it to start a new series of ids."
        )
    return key


def pseudonymise(values: Sequence[str | None], key: bytes, *, purpose: str) -> list[str | None]:
    """Keyed hashes of ``values``: the first 24 hex digits of HMAC-SHA256(key, purpose:value).

    ``purpose`` separates kinds of ids (``response``, ``participant``) so that equal texts of
    different kinds do not get equal pseudonyms. Missing values stay missing.
    """
    base = hmac.new(key, f"{purpose}:".encode(), hashlib.sha256)
    out: list[str | None] = []
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out.append(None)
            continue
        h = base.copy()
        h.update(str(value).encode("utf-8"))
        out.append(h.hexdigest()[:24])
    return out


# ============================================================================ weights
@dataclass(frozen=True)
class WeightingSummary:
    """How the census weights of an export were made.

    Attributes
    ----------
    method
        ``rake``, ``poststratify``, or ``none`` (no weights could be made).
    margins
        The margins calibrated to.
    n_weighted, n_unweighted
        Responses with a weight, and without (a calibration variable missing).
    population
        Sum of the weights (adults 15+ of the provinces covered).
    attempts
        Why earlier sets of margins could not be used.
    model
        The calibration, for calibration-aware standard errors.
    """

    method: str
    margins: tuple[str, ...] = ()
    n_weighted: int = 0
    n_unweighted: int = 0
    population: float | None = None
    attempts: tuple[str, ...] = ()
    model: CalibrationModel | None = None

    def describe(self) -> Text:
        """This export's weighting in words, after the general rule."""
        if self.method == "none":
            zh = "本次导出没有权重（权重为缺失）：" + "；".join(self.attempts)
            en = "This export has no weights (weights are missing): " + "; ".join(self.attempts)
        else:
            zh = (
                f"本次导出：边际 {', '.join(self.margins)}；{self.n_weighted} 份答卷有权重，"
                f"{self.n_unweighted} 份因校准变量缺失而没有权重；权重之和 {self.population:,.0f}。"
            )
            en = (
                f"This export: margins {', '.join(self.margins)}; {self.n_weighted} responses "
                f"weighted, {self.n_unweighted} without a weight (a calibration variable "
                f"missing); the weights sum to {self.population:,.0f}."
            )
            if self.attempts:
                zh += " 未采用的边际：" + "；".join(self.attempts)
                en += " Margins not used: " + "; ".join(self.attempts)
        return Text.of(
            {"zh": f"{WEIGHTS_RULE.get('zh')}\n\n{zh}", "en": f"{WEIGHTS_RULE.get('en')}\n\n{en}"}
        )

    def to_record(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "margins": list(self.margins),
            "n_weighted": self.n_weighted,
            "n_unweighted": self.n_unweighted,
            "population": self.population,
            "attempts": list(self.attempts),
        }


def _census_frame() -> pd.DataFrame:
    return census_targets(margins=("province", *(f"province*{v}" for v in _CALIBRATION))).to_frame()


def _targets(margins: Sequence[str], covered: set[str] | None) -> Targets:
    """Census targets of ``margins`` over the provinces ``covered`` (None: all)."""
    base = _census_frame()
    parts = base["level"].str.split("*")
    province = parts.str[0]
    keep = province.isin(covered) if covered is not None else pd.Series(True, index=base.index)
    rows: list[pd.DataFrame] = []
    for margin in margins:
        if margin == "province" or margin.startswith("province*"):
            rows.append(base[(base["variable"] == margin) & keep])
            continue
        source = base[(base["variable"] == f"province*{margin}") & keep]
        totals = source.groupby(parts[source.index].str[1], sort=False)["total"].sum()
        rows.append(
            pd.DataFrame({"variable": margin, "level": totals.index, "total": totals.to_numpy()})
        )
    frame = pd.concat(rows, ignore_index=True)
    where = "all provinces" if covered is None else f"{len(covered)} province(s) in the sample"
    return Targets.from_frame(
        frame,
        provenance=f"China 7th National Population Census (2020), adults aged 15+, {where}",
        tolerance=1e-6,
    )


def census_weights(analysis: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, WeightingSummary]:
    """Census weights of respondents (see :data:`analysis.codebook.WEIGHTS_RULE`).

    Parameters
    ----------
    analysis
        One row per response with the analysis columns ``province`` and, where the
        questionnaire has them, ``sex``, ``age_band``, ``urban``.

    Returns
    -------
    (weights, base weights, summary)
        Float arrays aligned to the rows, NaN where a response is not calibrated.
    """
    n = len(analysis)
    weight = np.full(n, np.nan)
    base = np.full(n, np.nan)
    demo = [v for v in _CALIBRATION if v in analysis.columns and analysis[v].notna().any()]
    has_province = "province" in analysis.columns and analysis["province"].notna().any()
    used = (["province"] if has_province else []) + demo
    if not used:
        return (
            weight,
            base,
            WeightingSummary(
                "none",
                n_unweighted=n,
                attempts=(
                    "the questionnaire has no province, sex, age or urban/rural question / "
                    "问卷没有省份、性别、年龄或城乡题",
                ),
            ),
        )
    eligible = np.ones(n, dtype=bool)
    for v in used:
        eligible &= analysis[v].notna().to_numpy()
    if "age_band" in demo:
        eligible &= analysis["age_band"].isin(["15-59", "60+"]).to_numpy()
    if not eligible.any():
        return (
            weight,
            base,
            WeightingSummary(
                "none",
                n_unweighted=n,
                attempts=("no response has every calibration variable / 没有答卷具备全部校准变量",),
            ),
        )
    data = pd.DataFrame(
        {
            v: analysis[v].to_numpy()[eligible] if v == "province" else analysis[v][eligible].array
            for v in used
        }
    )
    if has_province:
        data["province"] = data["province"].astype("int64")
        covered = {str(p) for p in data["province"].unique()}
        ladder: list[tuple[str, ...]] = [
            ("province", *(f"province*{v}" for v in demo)),
            ("province", *demo),
            ("province",),
        ]
    else:
        covered = None
        ladder = [tuple(demo)]
    seen: set[tuple[str, ...]] = set()
    attempts: list[str] = []
    for margins in ladder:
        if margins in seen:
            continue
        seen.add(margins)
        method: Literal["poststratify", "rake"] = "poststratify" if len(margins) == 1 else "rake"
        try:
            targets = _targets(margins, covered)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                result = calibrate(
                    data,
                    targets,
                    method=method,
                    on_nonconvergence="raise",
                )
        except AnalysisError as exc:
            attempts.append(f"{' + '.join(margins)}: {_one_line(str(exc))}")
            continue
        weight[eligible] = result.weights
        base[eligible] = result.base_weights
        return (
            weight,
            base,
            WeightingSummary(
                method,
                margins,
                int(eligible.sum()),
                int(n - eligible.sum()),
                float(result.weight_sum),
                tuple(attempts),
                result.model,
            ),
        )
    return weight, base, WeightingSummary("none", n_unweighted=n, attempts=tuple(attempts))


def _one_line(text: str) -> str:
    return " ".join(text.split())


# ============================================================================ preparation
_NULLABLE = {
    pa.int64(): pd.Int64Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int8(): pd.Int8Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """As ``ParquetResponseStore.read`` gives rows (nullable integer columns)."""
    return table.to_pandas(types_mapper=_NULLABLE.get, split_blocks=True)


def _chunks(store: Any, qid: str, version: str, rows: int) -> Iterator[pa.Table]:
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in store.iter_batches(qid, version=version, batch_size=min(rows, _READ_BATCH)):
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(pending)
            pending, count = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def _complete(frame: pd.DataFrame, questionnaire: Questionnaire) -> pd.DataFrame:
    """Answer columns the stored rows lack (no response had them) added as missing, typed."""
    missing = {
        c.name: pd.array([None] * len(frame), dtype=c.dtype)
        for c in questionnaire.columns()
        if c.name not in frame.columns
    }
    for c in questionnaire.columns():  # null-typed: no response in the store answered it
        if c.name in frame.columns and frame[c.name].dtype == object and frame[c.name].isna().all():
            frame[c.name] = pd.array([None] * len(frame), dtype=c.dtype)
    for name, dtype in (("duration_seconds", "Float64"), ("device_class", "str"),
                        ("token_hash", "str"), ("language", "str")):  # fmt: skip
        if name not in frame.columns:
            missing[name] = pd.array([None] * len(frame), dtype=dtype)
    if not missing:
        return frame
    return pd.concat([frame, pd.DataFrame(missing, index=frame.index)], axis=1)


def _top_code(
    frame: pd.DataFrame, questionnaire: Questionnaire, options: ExportOptions
) -> pd.DataFrame:
    out = frame
    for role, limit in (("income", options.top_code_income), ("age", options.top_code_age)):
        if limit is None:
            continue
        q = questionnaire.role(role)
        if q is None:  # checked in _check_options
            continue
        column = out[q.name]
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        hit = values > limit
        if hit.any():
            if out is frame:
                out = frame.copy()
            out[q.name] = column.mask(pd.Series(hit, index=column.index), limit)
    return out


def _check_options(questionnaire: Questionnaire, options: ExportOptions) -> None:
    for role, limit in (("income", options.top_code_income), ("age", options.top_code_age)):
        if limit is None:
            continue
        q = questionnaire.role(role)
        if q is None:
            raise ExportError(
                f"top_code_{role}: questionnaire {questionnaire.id!r} has no {role} question "
                f"(role '{role}'); leave top_code_{role} out."
            )
        if q.is_choice:
            codes = sorted(q.option_codes(with_special=False).values())
            if limit not in codes:
                raise ExportError(
                    f"top_code_{role}: question '{q.name}' is a choice question; give one of "
                    f"its option codes ({', '.join(map(str, codes))}), got {limit:g}."
                )
        elif q.type == "integer" and limit != int(limit):
            raise ExportError(
                f"top_code_{role}: question '{q.name}' takes whole numbers; give a whole "
                f"number, got {limit:g}."
            )


def _group_values(questionnaire: Questionnaire, column: str) -> tuple[str, ...]:
    role = GROUP_COLUMNS[column]
    q = questionnaire.role(role)
    if column == "age_group":
        return _AGE_GROUPS
    if column == "age_band":
        return _AGE_BANDS
    if column == "exposure_any":
        return ("0", "1")
    if q is not None and q.choices is not None:
        return q.choices.names
    return ()


def _check_filter(questionnaire: Questionnaire, flt: ExportFilter) -> None:
    roles = questionnaire.roles()
    problems: list[str] = []
    codes = set(load_census()["gb_code"].astype(int))
    bad = [p for p in flt.provinces if p not in codes]
    if bad:
        problems.append(
            f"unknown province code(s) {', '.join(map(str, bad))}; use GB/T 2260 codes such as "
            "11 (Beijing) or 44 (Guangdong)"
        )
    for column, values in flt.group_map.items():
        role = GROUP_COLUMNS[column]
        if role not in roles:
            problems.append(
                f"group {column!r}: questionnaire {questionnaire.id!r} has no {role} question"
            )
            continue
        valid = _group_values(questionnaire, column)
        if valid and any(v not in valid for v in values):
            wrong = [v for v in values if v not in valid]
            problems.append(
                f"group {column!r}: unknown value(s) {', '.join(map(repr, wrong))}; use "
                f"{', '.join(valid)}"
            )
    if problems:
        raise ExportError("ExportFilter: " + "; ".join(problems) + ".")


def resolve_questionnaire(
    store: Any, questionnaires: Questionnaire | QuestionnaireRegistry, flt: ExportFilter
) -> Questionnaire:
    """The questionnaire version ``flt`` asks for (the newest with responses when it names
    none), from a registry or checked against the one given."""
    qid = flt.questionnaire_id
    if isinstance(questionnaires, Questionnaire):
        q = questionnaires
        if q.id != qid or (flt.version is not None and q.version != flt.version):
            raise ExportError(
                f"the filter asks for {qid} {flt.version or '(newest)'} but the questionnaire "
                f"given is {q.id} {q.version}; pass the matching questionnaire or a registry."
            )
        return q
    if not isinstance(questionnaires, QuestionnaireRegistry):
        raise ExportError(
            "questionnaires must be a Questionnaire or a QuestionnaireRegistry, got "
            f"{type(questionnaires).__name__}."
        )
    known = questionnaires.versions(qid) if qid in questionnaires.ids() else []
    if not known:
        close = difflib.get_close_matches(qid, questionnaires.ids(), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ExportError(
            f"unknown questionnaire {qid!r}{hint}; known: {', '.join(questionnaires.ids())}."
        )
    version = flt.version
    if version is None:
        stored = [v for v in store.list_versions(qid) if v in known]
        if not stored:
            raise ExportError(f"there are no stored responses to questionnaire {qid!r}.")
        version = max(stored, key=version_key)
    if version not in known:
        raise ExportError(
            f"questionnaire {qid!r} has no version {version!r}; versions: {', '.join(known)}."
        )
    return questionnaires.get(qid, version)


@dataclass
class _Collected:
    """Per-row values of the whole sample gathered in the first pass."""

    analysis: list[pd.DataFrame] = field(default_factory=list)
    duration: list[np.ndarray] = field(default_factory=list)
    submitted: list[np.ndarray] = field(default_factory=list)
    token: list[np.ndarray] = field(default_factory=list)
    has_token: list[np.ndarray] = field(default_factory=list)
    answers: list[np.ndarray] = field(default_factory=list)
    local_flags: dict[str, list[np.ndarray]] = field(default_factory=dict)


def _analysis_part(
    frame: pd.DataFrame, scored: pd.DataFrame, estimated: Sequence[str]
) -> pd.DataFrame:
    columns: dict[str, Any] = {
        "submitted_at": frame["submitted_at"].to_numpy(
            dtype="datetime64[us]", na_value=np.datetime64("NaT")
        )
        if "submitted_at" in frame.columns
        else np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[us]"),
    }
    for name in ("province", "region", *_CALIBRATION, *GROUP_COLUMNS):
        if name in scored.columns and name not in columns:
            columns[name] = scored[name].array
    for name in estimated:
        series = scored[name]
        columns[name] = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(frame)))


def _arrow(series: pd.Series, typ: pa.DataType) -> pa.Array:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return pa.array(series.astype(object).where(series.notna(), None).to_numpy(), type=typ)
    if pd.api.types.is_bool_dtype(series.dtype):
        series = series.astype("Int64")
    array = pa.array(series, from_pandas=True)
    return array if array.type == typ else array.cast(typ)


def _export_part(
    frame: pd.DataFrame,
    scored: pd.DataFrame,
    variables: Sequence[Variable],
    schema: pa.Schema,
    key: bytes,
) -> pa.Table:
    arrays: list[pa.Array] = []
    for v, f in zip(variables, schema, strict=True):
        if v.group == "id":
            arrays.append(
                pa.array(
                    pseudonymise(frame["response_id"].tolist(), key, purpose="response"),
                    pa.string(),
                )
            )
        elif v.group == "pseudonym":
            codes = scored["participant_code"] if "participant_code" in scored else frame[v.source]
            values = [None if pd.isna(x) else str(x) for x in codes.tolist()]
            arrays.append(pa.array(pseudonymise(values, key, purpose="participant"), pa.string()))
        elif v.group in ("questionnaire",) or v.source == "device_class":
            arrays.append(_arrow(frame[v.source], f.type))
        elif v.source == "duration_seconds":
            seconds = frame["duration_seconds"].to_numpy(dtype=np.float64, na_value=np.nan)
            arrays.append(
                pa.array(np.round(seconds), type=pa.float64(), from_pandas=True).cast(pa.int64())
            )
        elif v.group in ("answer", "text"):
            arrays.append(_arrow(frame[v.source], f.type))
        else:
            if v.source in scored.columns:
                arrays.append(_arrow(scored[v.source], f.type))
            else:
                arrays.append(pa.nulls(len(frame), f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def prepare_export(
    store: Any,
    questionnaires: Questionnaire | QuestionnaireRegistry,
    flt: ExportFilter,
    *,
    options: ExportOptions | None = None,
    progress: Progress | None = None,
    workdir: str | os.PathLike[str] | None = None,
) -> PreparedExport:
    """Score, flag, weight and select the responses of one questionnaire version (pass 1).

    Parameters
    ----------
    store
        The response store (:class:`responses.store.ParquetResponseStore`).
    questionnaires
        The questionnaire version, or a registry to find ``flt.questionnaire_id`` /
        ``flt.version`` in.
    flt
        Which responses (:class:`ExportFilter`).
    options
        How to export (:class:`ExportOptions`).
    progress
        Called with (fraction done, what is being done) as the work goes on.
    workdir
        Folder for the temporary file (default: the system's temporary folder).

    Returns
    -------
    PreparedExport
        Use it as a context manager (``with prepare_export(...) as prepared:``) so that its
        temporary file is removed; write files with :meth:`PreparedExport.write`.

    Raises
    ------
    ExportError
        Bad filter or options, unknown questionnaire or version, no stored responses, no
        response matching the filter.

    Warns
    -----
    ExportWarning
        Free text included; weights made with fewer margins or not at all.
    """
    if not isinstance(flt, ExportFilter):
        raise ExportError(f"flt must be an ExportFilter, got {type(flt).__name__}.")
    opts = options if options is not None else ExportOptions()
    if not isinstance(opts, ExportOptions):
        raise ExportError(f"options must be ExportOptions, got {type(opts).__name__}.")
    report = progress or (lambda fraction, message: None)
    questionnaire = resolve_questionnaire(store, questionnaires, flt)
    _check_options(questionnaire, opts)
    _check_filter(questionnaire, flt)
    notes: list[str] = []
    if opts.include_text:
        message = (
            "free-text answers are included: they may contain names, phone numbers or other "
            "details that identify someone; read them before sharing the file."
        )
        warnings.warn(message, ExportWarning, stacklevel=2)
        notes.append(message)
    variables = export_variables(
        questionnaire,
        include_text=opts.include_text,
        top_code_income=opts.top_code_income,
        top_code_age=opts.top_code_age,
    )
    stored = [v for v in variables if v.group not in _GLOBAL_GROUPS]
    schema = pa.schema([(v.name, arrow_type(v)) for v in stored])
    estimated = [v.source for v in variables if v.group in ("dimension", "index", "derived")]
    key = pseudonym_key(store.root)
    total = store.count(questionnaire.id, version=questionnaire.version)
    if total == 0:
        raise ExportError(
            f"there are no stored responses to {questionnaire.id} {questionnaire.version}; "
            "nothing to export."
        )
    folder = Path(tempfile.mkdtemp(prefix="survey-export-", dir=workdir))
    prepared_path = folder / "prepared.parquet"
    collected = _Collected(
        local_flags={f: [] for f in ("straightliner", "long_string", "attention_failed")}
    )
    answer_columns = [c.name for c in questionnaire.columns(include_contact=False)]
    done = 0
    try:
        writer = pq.ParquetWriter(prepared_path, schema, compression="lz4")
        try:
            report(0.0, "reading")
            for table in _chunks(store, questionnaire.id, questionnaire.version, opts.chunk_rows):
                frame = _complete(_to_pandas(table), questionnaire)
                frame.index = pd.RangeIndex(len(frame))
                topped = _top_code(frame, questionnaire, opts)
                scored = score_responses(frame, questionnaire, item_scores=topped is frame)
                flags = quality_flags(frame, questionnaire)
                for name, parts in collected.local_flags.items():
                    parts.append(flags[name].to_numpy(dtype=bool))
                collected.duration.append(
                    frame["duration_seconds"].to_numpy(dtype=np.float64, na_value=np.nan)
                )
                collected.submitted.append(
                    frame["submitted_at"].to_numpy(
                        dtype="datetime64[us]", na_value=np.datetime64("NaT")
                    )
                )
                token = frame["token_hash"]
                collected.has_token.append(token.notna().to_numpy(dtype=bool))
                collected.token.append(
                    pd.util.hash_pandas_object(token.astype("str"), index=False).to_numpy()
                )
                key_columns = [*answer_columns, "device_class"]
                collected.answers.append(
                    pd.util.hash_pandas_object(frame[key_columns], index=False).to_numpy()
                )
                collected.analysis.append(_analysis_part(frame, scored.frame, estimated))
                exported = scored if topped is frame else score_responses(topped, questionnaire)
                writer.write_table(_export_part(topped, exported.frame, stored, schema, key))
                done += len(frame)
                report(min(0.6, 0.6 * done / max(total, 1)), "reading")
        finally:
            writer.close()
        if done == 0:
            raise ExportError(
                f"there are no stored responses to {questionnaire.id} {questionnaire.version}; "
                "nothing to export."
            )
        report(0.62, "weighting")
        prepared = _finish(
            store, questionnaire, flt, opts, variables, folder, prepared_path, collected, notes
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    report(0.7, "prepared")
    return prepared


def _finish(
    store: Any,
    questionnaire: Questionnaire,
    flt: ExportFilter,
    opts: ExportOptions,
    variables: tuple[Variable, ...],
    folder: Path,
    path: Path,
    c: _Collected,
    notes: list[str],
) -> PreparedExport:
    analysis = pd.concat(c.analysis, ignore_index=True)
    n = len(analysis)
    duration = np.concatenate(c.duration)
    timed = ~np.isnan(duration)
    median = float(np.median(duration[timed])) if timed.any() else math.nan
    flags: dict[str, np.ndarray] = {"speeder": timed & (duration < _SPEEDER_RATIO * median)}
    order = _order(pd.DataFrame({"submitted_at": np.concatenate(c.submitted)}))
    for name, parts in c.local_flags.items():
        flags[name] = np.concatenate(parts)
    flags["duplicate_token"] = _later_duplicates(
        pd.Series(np.concatenate(c.token)), order, np.concatenate(c.has_token)
    )
    flags["duplicate_answers"] = _later_duplicates(
        pd.Series(np.concatenate(c.answers)), order, np.ones(n, dtype=bool)
    )
    flag_any = np.zeros(n, dtype=bool)
    for name in FLAGS:
        flag_any |= flags[name]
    flags["flag_any"] = flag_any
    weight, base, summary = census_weights(analysis)
    if summary.method == "none" or summary.attempts:
        message = f"weights of {questionnaire.id} {questionnaire.version}: " + (
            "none could be made (" + "; ".join(summary.attempts) + ")"
            if summary.method == "none"
            else f"margins {', '.join(summary.margins)} were used because "
            + "; ".join(summary.attempts)
        )
        warnings.warn(message, ExportWarning, stacklevel=3)
        notes.append(message)
    selected = _select(analysis, flags["flag_any"], flt)
    if not selected.any():
        raise ExportError(
            f"no response to {questionnaire.id} {questionnaire.version} matches the filter "
            f"({n} stored); widen the filter."
        )
    globals_: dict[str, np.ndarray] = {}
    for v in variables:
        if v.group == "weight":
            globals_[v.name] = weight if v.source == "weight" else base
        elif v.group == "flag":
            globals_[v.name] = flags[FLAG_VARIABLES[v.source][0]].astype(np.int64)
    return PreparedExport(
        store=store,
        questionnaire=questionnaire,
        filter=flt,
        options=opts,
        variables=variables,
        weighting=summary,
        analysis=analysis,
        weights=weight,
        selected=selected,
        global_columns=globals_,
        folder=folder,
        path=path,
        notes=tuple(notes),
    )


def _select(analysis: pd.DataFrame, flag_any: np.ndarray, flt: ExportFilter) -> np.ndarray:
    n = len(analysis)
    mask = np.ones(n, dtype=bool)
    if flt.date_from is not None or flt.date_to is not None:
        utc = pd.to_datetime(analysis["submitted_at"]).dt.tz_localize("UTC")
        local = utc.dt.tz_convert(CHINA).dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
        day = local.astype("datetime64[D]")
        present = ~np.isnat(local)
        mask &= present
        if flt.date_from is not None:
            mask &= day >= np.datetime64(flt.date_from, "D")
        if flt.date_to is not None:
            mask &= day <= np.datetime64(flt.date_to, "D")
    if flt.provinces:
        mask &= analysis["province"].isin(list(flt.provinces)).fillna(False).to_numpy(dtype=bool)
    if flt.regions:
        mask &= analysis["region"].astype(object).isin(list(flt.regions)).to_numpy(dtype=bool)
    for column, values in flt.group_map.items():
        series = analysis[column] if column in analysis.columns else pd.Series([None] * n)
        text = series.astype(object).map(lambda x: None if pd.isna(x) else str(x))
        mask &= text.isin(list(values)).to_numpy(dtype=bool)
    if flt.exclude_flagged:
        mask &= ~flag_any
    return mask


# ============================================================================ results
@dataclass(frozen=True)
class ExportResult:
    """A written export file.

    Attributes
    ----------
    path, format
        Where and in what format.
    questionnaire_id, version
        What was exported.
    rows, columns
        Size of the data (rows of estimates for tables; 0 for a codebook).
    bytes
        File size.
    seconds
        Time to write the file (not counting the preparation).
    shortened
        Labels the format could not hold in full (Stata, SPSS).
    weighting
        How the weights were made.
    notes
        Warnings and notes (free text included, weighting fall-backs).
    """

    path: Path
    format: str
    questionnaire_id: str
    version: str
    rows: int
    columns: int
    bytes: int
    seconds: float
    shortened: tuple[ShortenedLabel, ...] = ()
    weighting: WeightingSummary | None = None
    notes: tuple[str, ...] = ()


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial-{secrets.token_hex(4)}")


def _check_path(path: str | os.PathLike[str]) -> Path:
    out = Path(path)
    if out.is_dir():
        raise ExportError(f"{out} is a folder; give a file name, e.g. {out / 'export.csv'}.")
    if not out.parent.is_dir():
        raise ExportError(f"the folder {out.parent} does not exist; create it first.")
    return out


class PreparedExport:
    """Scored, flagged and weighted responses of one questionnaire version, ready to write.

    Made by :func:`prepare_export`; holds a temporary file until :meth:`close` (or the end of
    a ``with`` block).

    Attributes
    ----------
    questionnaire, filter, options, variables, weighting
        What is exported and how.
    n_total
        Responses to the version.
    n_selected
        Responses the filter selects (the rows of a microdata file).
    """

    def __init__(
        self,
        *,
        store: Any,
        questionnaire: Questionnaire,
        filter: ExportFilter,
        options: ExportOptions,
        variables: tuple[Variable, ...],
        weighting: WeightingSummary,
        analysis: pd.DataFrame,
        weights: np.ndarray,
        selected: np.ndarray,
        global_columns: dict[str, np.ndarray],
        folder: Path,
        path: Path,
        notes: tuple[str, ...],
    ) -> None:
        self.store = store
        self.questionnaire = questionnaire
        self.filter = filter
        self.options = options
        self.variables = variables
        self.weighting = weighting
        self.notes = notes
        self._analysis = analysis
        self._weights = weights
        self._selected = selected
        self._globals = global_columns
        self._folder = folder
        self._path = path

    @property
    def n_total(self) -> int:
        return len(self._selected)

    @property
    def n_selected(self) -> int:
        return int(self._selected.sum())

    def __enter__(self) -> PreparedExport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the temporary file."""
        shutil.rmtree(self._folder, ignore_errors=True)

    def __repr__(self) -> str:
        return (
            f"PreparedExport({self.questionnaire.id} {self.questionnaire.version}, "
            f"{self.n_selected} of {self.n_total} responses)"
        )

    # -- codebook ----------------------------------------------------------------------------
    def codebook(self) -> Codebook:
        """The codebook of this export (with its weighting and filter)."""
        described = json.dumps(self.filter.describe(), ensure_ascii=False)
        notes = [
            Text.of(
                {
                    "zh": f"筛选条件：{described}；共 {self.n_selected} 份答卷"
                    f"（该版本共 {self.n_total} 份）。",
                    "en": f"Filter: {described}; {self.n_selected} responses (of "
                    f"{self.n_total} to the version).",
                }
            )
        ]
        notes.extend(Text.of({"zh": n, "en": n}) for n in self.notes)
        return build_codebook(
            self.questionnaire,
            variables=self.variables,
            weighting=self.weighting.describe(),
            notes=notes,
        )

    # -- rows ---------------------------------------------------------------------------------
    def iter_tables(self) -> Iterator[pa.Table]:
        """The selected rows with every export column, chunk by chunk (Arrow tables)."""
        file = pq.ParquetFile(self._path)
        start = 0
        for batch in file.iter_batches(batch_size=self.options.chunk_rows):
            stop = start + batch.num_rows
            arrays: list[pa.Array] = []
            names: list[str] = []
            for v in self.variables:
                if v.name in self._globals:
                    values = self._globals[v.name][start:stop]
                    arrays.append(pa.array(values, type=arrow_type(v), from_pandas=True))
                else:
                    arrays.append(batch.column(v.name))
                names.append(v.name)
            table = pa.Table.from_arrays(arrays, names=names)
            keep = self._selected[start:stop]
            if not keep.all():
                table = table.filter(pa.array(keep))
            start = stop
            if table.num_rows:
                yield table

    def to_frame(self) -> pd.DataFrame:
        """All selected rows as one pandas DataFrame (nullable dtypes; for small exports)."""
        tables = list(self.iter_tables())
        return _to_pandas(pa.concat_tables(tables))

    # -- files -------------------------------------------------------------------------------
    def write(
        self,
        path: str | os.PathLike[str],
        fmt: str,
        *,
        actor: str,
        progress: Progress | None = None,
    ) -> ExportResult:
        """Write the microdata file and record it in the audit log.

        Parameters
        ----------
        path
            The file to write (replaced atomically when complete).
        fmt
            ``csv``, ``xlsx``, ``parquet``, ``dta`` or ``sav``.
        actor
            Who exports (recorded in the audit log).
        progress
            Called with (fraction done, stage).
        """
        if fmt not in FORMATS:
            close = difflib.get_close_matches(str(fmt), FORMATS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ExportError(f"unknown format {fmt!r}{hint}; use one of {', '.join(FORMATS)}.")
        _check_actor(actor)
        target = _check_path(path)
        report = progress or (lambda fraction, message: None)
        start = time.perf_counter()
        q = self.questionnaire
        codebook = self.codebook()
        partial = _partial(target)
        writer = open_writer(
            fmt,
            partial,
            self.variables,
            rows=self.n_selected,
            language=self.options.language,
            file_label=f"{q.title.get(self.options.language)} {q.id} {q.version}",
            metadata={
                "codebook": codebook.to_json(),
                "language": self.options.language,
                "questionnaire": f"{q.id} {q.version}",
            },
        )
        written = 0
        try:
            for table in self.iter_tables():
                writer.write(table)
                written += table.num_rows
                report(0.7 + 0.25 * written / max(self.n_selected, 1), "writing")
            report(0.95, "finishing")
            writer.close()
            os.replace(partial, target)
        except BaseException:
            with contextlib.suppress(Exception):
                writer.abort()
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
            raise
        seconds = time.perf_counter() - start
        size = target.stat().st_size
        self.store.state.append_audit(
            "export",
            actor=actor,
            target=q.id,
            details={
                "version": q.version,
                "format": fmt,
                "rows": written,
                "columns": len(self.variables),
                "filter": self.filter.describe(),
                "options": self.options.describe(),
                "file": target.name,
                "bytes": size,
            },
        )
        report(1.0, "done")
        return ExportResult(
            target,
            fmt,
            q.id,
            q.version,
            written,
            len(self.variables),
            size,
            seconds,
            writer.shortened,
            self.weighting,
            self.notes,
        )

    def write_codebook(self, path: str | os.PathLike[str], *, actor: str) -> ExportResult:
        """Write this export's codebook (``.html``, ``.md`` or ``.json``), audit-logged."""
        _check_actor(actor)
        result = write_codebook(self.codebook(), path, language=self.options.language)
        self.store.state.append_audit(
            "export",
            actor=actor,
            target=self.questionnaire.id,
            details={
                "version": self.questionnaire.version,
                "format": "codebook",
                "rows": 0,
                "filter": self.filter.describe(),
                "file": result.path.name,
            },
        )
        return result

    # -- estimate tables -----------------------------------------------------------------------
    def estimate_tables(self, *, alpha: float = 0.05) -> EstimateTables:
        """Weighted means of the dimension scores, the index and derived scores, by domain.

        Tables: ``overall``, ``province``, ``region`` and one per grouping column the
        questionnaire has (:data:`GROUP_COLUMNS`). Each row: the domain, the variable,
        ``estimate, se, ci_lower, ci_upper`` (t intervals at ``1 - alpha``), ``n`` (respondents
        with a value), ``n_effective`` (n / deff), ``deff``, ``cv`` and ``flags``
        (``small_n`` below 30, ``high_cv`` above 0.3, ``suppressed`` below ``min_cell``: every
        statistic of a suppressed row is blank, its ``n`` too).

        Notes
        -----
        The design is the census-calibrated weights of every response to the version that has
        a weight, with standard errors that account for the calibration
        (:class:`analysis.design.Design` with the calibration model); the filter defines a
        domain, so the variance uses the whole sample (R's ``svyby`` on a subset indicator).
        Without weights the estimates are unweighted (equal weights) and say so.
        """
        return _estimate_tables(self, alpha)

    def write_estimates(
        self,
        path: str | os.PathLike[str],
        fmt: str,
        *,
        actor: str,
        tables: EstimateTables | None = None,
    ) -> ExportResult:
        """Write the estimate tables (``csv`` or ``xlsx``), audit-logged."""
        if fmt not in TABLE_FORMATS:
            raise ExportError(
                f"estimate tables are written as {' or '.join(TABLE_FORMATS)}, not {fmt!r}."
            )
        _check_actor(actor)
        target = _check_path(path)
        start = time.perf_counter()
        found = tables if tables is not None else self.estimate_tables()
        partial = _partial(target)
        try:
            found.write(partial, fmt)
            os.replace(partial, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
            raise
        frame = found.to_frame()
        self.store.state.append_audit(
            "export_estimates",
            actor=actor,
            target=self.questionnaire.id,
            details={
                "version": self.questionnaire.version,
                "format": fmt,
                "rows": len(frame),
                "suppressed": int(frame["flags"].str.contains("suppressed").sum()),
                "min_cell": self.options.min_cell,
                "filter": self.filter.describe(),
                "file": target.name,
            },
        )
        return ExportResult(
            target,
            fmt,
            self.questionnaire.id,
            self.questionnaire.version,
            len(frame),
            frame.shape[1],
            target.stat().st_size,
            time.perf_counter() - start,
            (),
            self.weighting,
            self.notes,
        )


def _check_actor(actor: object) -> None:
    if not isinstance(actor, str) or not actor.strip():
        raise ExportError("actor must name who exports (a user name); it goes to the audit log.")


# ============================================================================ estimate tables
@dataclass(frozen=True, eq=False)
class EstimateTables:
    """Estimate tables of one export (from :meth:`PreparedExport.estimate_tables`).

    Attributes
    ----------
    tables
        ``(name, frame)`` pairs: ``overall``, ``province``, ``region``, then groups.
    min_cell
        The suppression threshold.
    alpha
        Significance level of the intervals.
    weighted
        False when no weights could be made (equal weights).
    language
        Language of the labels.
    notes
        What the tables are, in the labels' language.
    """

    tables: tuple[tuple[str, pd.DataFrame], ...]
    min_cell: int
    alpha: float
    weighted: bool
    language: str
    notes: str

    def table(self, name: str) -> pd.DataFrame:
        """The table called ``name`` (KeyError when there is none)."""
        for key, frame in self.tables:
            if key == name:
                return frame
        raise KeyError(f"there is no estimate table {name!r}; tables: {', '.join(self.names)}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.tables)

    def to_frame(self) -> pd.DataFrame:
        """Every table stacked, with a ``table`` column first."""
        return pd.concat([frame for _, frame in self.tables], ignore_index=True)

    def write(self, path: str | os.PathLike[str], fmt: str) -> None:
        """Write as ``csv`` (UTF-8 with BOM, one long table) or ``xlsx`` (a sheet per table
        and a ``notes`` sheet); text cells neutralised against formula injection."""
        frame = self.to_frame()
        if fmt == "csv":
            _neutral_frame(frame).to_csv(path, index=False, encoding="utf-8-sig")
            return
        if fmt != "xlsx":
            raise ExportError(f"estimate tables are written as csv or xlsx, not {fmt!r}.")
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        for name, table in self.tables:
            sheet = book.create_sheet(name[:31])
            sheet.append(list(table.columns))
            for row in _neutral_frame(table).itertuples(index=False):
                sheet.append([_cell(x) for x in row])
        notes = book.create_sheet("notes")
        for line in self.notes.split("\n"):
            notes.append([neutralise(line)])
        book.save(path)


def _cell(value: object) -> object:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _neutral_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column].dtype):
            out[column] = out[column].map(lambda x: neutralise(x) if isinstance(x, str) else x)
    return out


@functools.lru_cache(maxsize=1)
def _province_names() -> dict[int, tuple[str, str]]:
    census = load_census()
    return {
        int(code): (str(zh), str(en))
        for code, zh, en in zip(
            census["gb_code"], census["name_zh"], census["name_en"], strict=True
        )
    }


def _group_label(questionnaire: Questionnaire, column: str, value: object, lang: str) -> str:
    if column == "overall":
        return "全部" if lang == "zh" else "All"
    if column == "province":
        try:
            names = _province_names()[int(str(value))]
        except (KeyError, TypeError, ValueError):
            return str(value)
        return names[0 if lang == "zh" else 1]
    if column == "region":
        region = _REGIONS.get(str(value))
        return region[0 if lang == "zh" else 1] if region else str(value)
    if column == "exposure_any":
        return {"0": ("否", "No"), "1": ("是", "Yes")}.get(str(value), (str(value),) * 2)[
            0 if lang == "zh" else 1
        ]
    role = GROUP_COLUMNS.get(column)
    q = questionnaire.role(role) if role else None
    if q is not None and q.choices is not None:
        choice = q.choices.choice(str(value))
        if choice is not None:
            return choice.label.get(lang)
    return str(value)


def _estimate_tables(prepared: PreparedExport, alpha: float) -> EstimateTables:
    q = prepared.questionnaire
    lang = prepared.options.language
    labels = {v.source: v.label.get(lang) for v in prepared.variables}
    names = {v.source: v.name for v in prepared.variables}
    analysis = prepared._analysis
    variables = [
        v.source
        for v in prepared.variables
        if v.group in ("dimension", "index", "derived") and v.source in analysis.columns
    ]
    if not variables:
        raise ExportError(
            f"questionnaire {q.id!r} has no dimension, index or derived score to estimate."
        )
    weighted = prepared.weighting.method != "none"
    rows = ~np.isnan(prepared._weights) if weighted else np.ones(len(analysis), dtype=bool)
    data = analysis.loc[rows].reset_index(drop=True)
    if weighted:
        data["weight"] = prepared._weights[rows]
        if "province" in data.columns:
            data["province"] = data["province"].astype("int64")
    selected = prepared._selected[rows]
    if not selected.any():
        raise ExportError(
            "none of the selected responses has a weight (each lacks a calibration variable); "
            "estimate tables cannot be made."
        )
    data["_selected"] = pd.array(np.where(selected, 1, 0), dtype="Int8").astype("Int8")
    data.loc[~selected, "_selected"] = pd.NA
    design = (
        Design(data, weights="weight", calibration=prepared.weighting.model)
        if weighted
        else Design(data)
    )
    by_sets: list[tuple[str, list[str]]] = [("overall", ["_selected"])]
    for column in ("province", "region", *GROUP_COLUMNS):
        if column in data.columns and data[column].notna().any():
            by_sets.append((column, ["_selected", column]))
    out: list[tuple[str, pd.DataFrame]] = []
    min_cell = prepared.options.min_cell
    for name, by in by_sets:
        estimates = estimate_mean(design, variables, by=by, alpha=alpha, na_rm=True)
        frame = estimates.to_frame()
        frame = frame[frame["_selected"] == 1].drop(columns=["_selected"]).reset_index(drop=True)
        group_values = frame[name].tolist() if name != "overall" else [None] * len(frame)
        table = pd.DataFrame(
            {
                "table": name,
                "group": [None if g is None else str(g) for g in group_values],
                "group_label": [_group_label(q, name, g, lang) for g in group_values],
                "variable": [names.get(v, v) for v in frame["variable"]],
                "variable_label": [labels.get(v, v) for v in frame["variable"]],
                "estimate": frame["estimate"].astype(float),
                "se": frame["se"].astype(float),
                "ci_lower": frame["ci_lower"].astype(float),
                "ci_upper": frame["ci_upper"].astype(float),
                "n": pd.array(frame["n"], dtype="Int64"),
                "n_effective": (frame["n"] / frame["deff"]).astype(float),
                "deff": frame["deff"].astype(float),
                "cv": frame["cv"].astype(float),
                "flags": frame["flags"].astype(object),
            }
        )
        small = (table["n"] < min_cell).fillna(True).to_numpy(dtype=bool)
        if small.any():
            for column in ("estimate", "se", "ci_lower", "ci_upper", "n_effective", "deff", "cv"):
                table.loc[small, column] = np.nan
            table.loc[small, "n"] = pd.NA
            table.loc[small, "flags"] = [
                ",".join(x for x in (f, "suppressed") if x) for f in table.loc[small, "flags"]
            ]
        table["flags"] = table["flags"].astype(str)
        out.append((name, table))
    level = f"{100 * (1 - alpha):g}%"
    if lang == "zh":
        notes = (
            f"{q.title.get('zh')}（{q.id} {q.version}）估计表。\n"
            + (
                "加权均值（按2020年人口普查校准的权重），标准误考虑了校准；"
                if weighted
                else "未加权均值（没有可用的权重）；"
            )
            + f"{level} 置信区间（t 分布）；n_effective = n ÷ 设计效应。\n"
            f"少于 {min_cell} 名受访者的单元格已隐藏（flags 含 suppressed）；"
            "small_n：少于30名受访者；high_cv：变异系数大于0.3。\n"
            f"筛选条件：{json.dumps(prepared.filter.describe(), ensure_ascii=False)}"
        )
    else:
        notes = (
            f"Estimate tables of {q.title.get('en')} ({q.id} {q.version}).\n"
            + (
                "Weighted means (weights calibrated to the 2020 census), standard errors "
                "accounting for the calibration; "
                if weighted
                else "Unweighted means (no weights could be made); "
            )
            + f"{level} confidence intervals (t); n_effective = n / design effect.\n"
            f"Cells with fewer than {min_cell} respondents are suppressed (flags: suppressed); "
            "small_n: fewer than 30 respondents; high_cv: coefficient of variation above 0.3.\n"
            f"Filter: {json.dumps(prepared.filter.describe(), ensure_ascii=False)}"
        )
    return EstimateTables(tuple(out), min_cell, alpha, weighted, lang, notes)


# ============================================================================ one-call forms
def export_microdata(
    store: Any,
    questionnaires: Questionnaire | QuestionnaireRegistry,
    path: str | os.PathLike[str],
    *,
    fmt: str,
    flt: ExportFilter,
    actor: str,
    options: ExportOptions | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Prepare and write one microdata file (:func:`prepare_export`, then
    :meth:`PreparedExport.write`)."""
    if fmt not in FORMATS:
        close = difflib.get_close_matches(str(fmt), FORMATS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ExportError(f"unknown format {fmt!r}{hint}; use one of {', '.join(FORMATS)}.")
    _check_actor(actor)
    _check_path(path)
    with prepare_export(store, questionnaires, flt, options=options, progress=progress) as prepared:
        return prepared.write(path, fmt, actor=actor, progress=progress)


def export_estimates(
    store: Any,
    questionnaires: Questionnaire | QuestionnaireRegistry,
    path: str | os.PathLike[str],
    *,
    fmt: str,
    flt: ExportFilter,
    actor: str,
    options: ExportOptions | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Prepare and write the estimate tables (``csv`` or ``xlsx``)."""
    if fmt not in TABLE_FORMATS:
        raise ExportError(f"estimate tables are written as csv or xlsx, not {fmt!r}.")
    _check_actor(actor)
    _check_path(path)
    with prepare_export(store, questionnaires, flt, options=options, progress=progress) as prepared:
        return prepared.write_estimates(path, fmt, actor=actor)


def write_codebook(
    codebook: Codebook,
    path: str | os.PathLike[str],
    *,
    language: Language = "zh",
    fmt: str | None = None,
) -> ExportResult:
    """Write a codebook as HTML, Markdown or JSON (``fmt``, else from the suffix:
    ``.html``/``.htm``, ``.md``, ``.json``)."""
    target = _check_path(path)
    kind = fmt
    if kind is None:
        suffix = target.suffix.lower()
        kind = {".html": "html", ".htm": "html", ".md": "md", ".json": "json"}.get(suffix)
        if kind is None:
            raise ExportError(
                f"cannot tell the codebook format from {target.name!r}; end the name with "
                ".html, .md or .json."
            )
    if kind not in CODEBOOK_FORMATS:
        raise ExportError(f"codebook format must be html, md or json, got {kind!r}.")
    start = time.perf_counter()
    text = codebook.render(cast(Literal["html", "md", "json"], kind), language)
    partial = _partial(target)
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise ExportError(f"the codebook could not be written to {target}: {exc}.") from exc
    return ExportResult(
        target,
        f"codebook-{kind}",
        codebook.questionnaire_id,
        codebook.version,
        0,
        len(codebook.variables),
        target.stat().st_size,
        time.perf_counter() - start,
        codebook.shortened,
    )
