"""Population targets for calibrating survey weights: census margins and user target tables.

A :class:`Targets` holds population totals: for each categorical margin (one column, or several
crossed with ``*`` such as ``"province*sex"``) the total of every category, and for each
numeric calibration variable its population total. They come from the shipped 2020 census
(:func:`census_targets`) or from a user's table (:meth:`Targets.read_csv`) with columns
``variable,level,total``::

    variable,level,total
    province,11,18301000
    province*sex,11*male,9359000
    income_yuan,,4.1e13

Weighting (:mod:`analysis.weighting`) calibrates survey weights to these totals.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.errors import WeightingError

__all__ = [
    "CENSUS_PATH",
    "CENSUS_VARIABLES",
    "Targets",
    "census_targets",
    "level_key",
    "load_census",
]

CENSUS_PATH = (
    Path(__file__).resolve().parents[1] / "data" / "reference" / "china_provinces_census2020.csv"
)
"""The shipped census table (7th National Population Census, 2020), one row per province."""

CENSUS_VARIABLES = ("province", "region", "sex", "age_band", "urban")
"""Columns of the analysis frame that :func:`census_targets` can give margins for."""

_CENSUS_COLUMNS: dict[str, str] = {
    "gb_code": "int64",
    "iso_code": "str",
    "name_zh": "str",
    "name_en": "str",
    "nbs_region": "str",
    "population": "int64",
    "male_pct": "float64",
    "age_0_14_pct": "float64",
    "age_15_59_pct": "float64",
    "age_60_plus_pct": "float64",
    "age_65_plus_pct": "float64",
    "urban_pct": "float64",
    "university_per_100k": "int64",
    "senior_secondary_per_100k": "int64",
    "junior_secondary_per_100k": "int64",
    "primary_per_100k": "int64",
    "mean_years_schooling_15_plus": "float64",
}
_PCT_COLUMNS = ("male_pct", "age_0_14_pct", "age_15_59_pct", "age_60_plus_pct", "urban_pct")
_REGIONS = ("East", "Central", "West", "Northeast")
_GEOGRAPHIES = ("province", "region")
_DEMOGRAPHICS = ("sex", "age_band", "urban")

DEFAULT_MARGINS = ("province", "province*sex", "province*age_band", "province*urban")


def level_key(value: Any) -> str:
    """The canonical text of a category, used to match data values with target levels.

    Integers and integral floats print without a decimal point (``11``, ``11.0`` and ``"11"``
    all match), booleans as ``True``/``False``, everything else as ``str(value)``.
    """
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if number.is_integer():
            return str(int(number))
        return repr(number)
    return str(value)


def _split_name(name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in name.split("*"))


def _level_parts(level: Any, width: int) -> tuple[Any, ...]:
    if width == 1:
        return (level[0],) if isinstance(level, tuple) and len(level) == 1 else (level,)
    if isinstance(level, tuple):
        return level
    return tuple(str(level).split("*"))


def _fmt(number: float) -> str:
    if float(number).is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:,.6g}"


@dataclass(frozen=True, eq=False)
class Targets:
    """Population totals to calibrate survey weights to.

    Parameters
    ----------
    margins
        Categorical margins: name -> totals indexed by category. A name is a column of the
        analysis data (``"province"``) or several crossed with ``*`` (``"province*sex"``),
        whose totals are indexed by tuples or a MultiIndex (``(11, "male")``) or by text joined
        with ``*`` (``"11*male"``). Totals are population counts (>= 0).
    numeric
        Numeric calibration variables: column name -> population total of that column.
    provenance
        Where the totals come from (shown in reports).
    tolerance
        Largest relative disagreement allowed between margins that describe the same
        population: grand totals of all categorical margins, and the totals of shared
        categories (``"province"`` against ``"province*sex"`` summed over sex).

    Raises
    ------
    WeightingError
        Bad names, duplicate or negative totals, or margins that disagree beyond
        ``tolerance``; the message names the margin and level and the fix.

    Notes
    -----
    The object is frozen: ``margins`` is a read-only mapping of copies.
    """

    margins: Mapping[str, pd.Series]
    numeric: Mapping[str, float] = field(default_factory=dict)
    provenance: str = ""
    tolerance: float = 1e-8

    def __post_init__(self) -> None:
        if not isinstance(self.margins, Mapping):
            raise WeightingError(
                "Targets: 'margins' must be a mapping of margin name -> totals by category, "
                f"got {type(self.margins).__name__}."
            )
        if not isinstance(self.numeric, Mapping):
            raise WeightingError(
                "Targets: 'numeric' must be a mapping of column name -> population total, "
                f"got {type(self.numeric).__name__}."
            )
        if not (isinstance(self.tolerance, int | float) and 0 <= self.tolerance < 1):
            raise WeightingError(
                f"Targets: 'tolerance' must be a number in [0, 1), got {self.tolerance!r}."
            )
        margins: dict[str, pd.Series] = {}
        for name, totals in self.margins.items():
            margins[name] = _normalize_margin(name, totals)
        numeric: dict[str, float] = {}
        for name, total in self.numeric.items():
            numeric[name] = _normalize_numeric(name, total, margins)
        if not margins and not numeric:
            raise WeightingError(
                "Targets: no margins and no numeric totals were given; give at least one "
                "margin such as {'province': totals_by_province}."
            )
        object.__setattr__(self, "margins", MappingProxyType(margins))
        object.__setattr__(self, "numeric", MappingProxyType(numeric))
        object.__setattr__(self, "provenance", str(self.provenance))
        _check_consistency(margins, float(self.tolerance))

    # ----------------------------------------------------------------- properties
    @property
    def names(self) -> tuple[str, ...]:
        """Every margin name then every numeric variable, in order."""
        return (*self.margins, *self.numeric)

    @property
    def variables(self) -> tuple[str, ...]:
        """Every data column the targets refer to, in order, without repeats."""
        seen: dict[str, None] = {}
        for name in self.names:
            for part in _split_name(name):
                seen.setdefault(part, None)
        return tuple(seen)

    @property
    def total(self) -> float | None:
        """The population total (grand total of the first categorical margin), if any."""
        for totals in self.margins.values():
            return float(totals.sum())
        return None

    # ----------------------------------------------------------------- conversion
    def to_frame(self) -> pd.DataFrame:
        """The targets as a ``variable, level, total`` table (the CSV layout).

        A crossed margin's level is its categories joined with ``*`` (``11*male``); a numeric
        variable has an empty level.
        """
        rows: list[tuple[str, str, float]] = []
        for name, totals in self.margins.items():
            width = len(_split_name(name))
            for level, total in totals.items():
                parts = _level_parts(level, width)
                rows.append((name, "*".join(level_key(p) for p in parts), float(total)))
        for name, total in self.numeric.items():
            rows.append((name, "", float(total)))
        frame = pd.DataFrame(rows, columns=["variable", "level", "total"])
        return frame.astype({"variable": "str", "level": "str", "total": "float64"})

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        provenance: str = "",
        tolerance: float = 1e-8,
    ) -> Targets:
        """Build targets from a ``variable, level, total`` table.

        Parameters
        ----------
        frame
            One row per category of each margin (``level`` is the category; for a crossed
            margin ``variable = province*sex`` the categories joined with ``*``: ``11*male``),
            and one row with an empty ``level`` per numeric variable.
        provenance
            Where the table comes from.
        tolerance
            See :class:`Targets`.
        """
        if not isinstance(frame, pd.DataFrame):
            raise WeightingError(
                f"Targets.from_frame: expected a DataFrame, got {type(frame).__name__}."
            )
        missing = [c for c in ("variable", "level", "total") if c not in frame.columns]
        if missing:
            raise WeightingError(
                f"Target table: missing column(s) {', '.join(repr(c) for c in missing)}; the "
                "table needs the columns variable,level,total (found: "
                f"{', '.join(map(str, frame.columns))})."
            )
        margins: dict[str, dict[Any, float]] = {}
        numeric: dict[str, float] = {}
        seen: set[tuple[str, str]] = set()
        for position, (variable, level, total) in enumerate(
            zip(frame["variable"], frame["level"], frame["total"], strict=True)
        ):
            row = position + 2  # header is line 1 of the file
            name = "" if _is_missing(variable) else str(variable).strip()
            text = "" if _is_missing(level) else str(level).strip()
            if not name:
                raise WeightingError(
                    f"[row : {row}] Target table: the 'variable' is empty; give the column "
                    "name (or names crossed with '*') the total belongs to."
                )
            value = _parse_total(total, f"[row : {row}] Target table, variable '{name}'")
            if (name, text) in seen:
                raise WeightingError(
                    f"[row : {row}] Target table: variable '{name}', level '{text}' appears "
                    "more than once; keep one row per level."
                )
            seen.add((name, text))
            if text == "":
                if name in margins:
                    raise WeightingError(
                        f"[row : {row}] Target table: variable '{name}' has an empty level, "
                        "but other rows give it categories; a numeric variable has one row "
                        "with an empty level, a categorical one a row per category."
                    )
                numeric[name] = value
                continue
            if name in numeric:
                raise WeightingError(
                    f"[row : {row}] Target table: variable '{name}' has an empty level "
                    "(numeric total) on another row and a category here; use one or the "
                    "other."
                )
            width = len(_split_name(name))
            parts = tuple(p.strip() for p in text.split("*")) if width > 1 else (text,)
            if len(parts) != width:
                raise WeightingError(
                    f"[row : {row}] Target table: level '{text}' of crossed margin '{name}' "
                    f"has {len(parts)} part(s) but the margin crosses {width} columns; write "
                    f"one category per column joined with '*' (e.g. "
                    f"'{'*'.join(['a'] * width)}')."
                )
            margins.setdefault(name, {})[parts if width > 1 else text] = value
        series = {
            name: pd.Series(list(levels.values()), index=_make_index(name, list(levels)))
            for name, levels in margins.items()
        }
        return cls(series, numeric=numeric, provenance=provenance, tolerance=tolerance)

    @classmethod
    def read_csv(cls, path: str | Path, *, tolerance: float = 1e-8) -> Targets:
        """Read a ``variable,level,total`` CSV file (UTF-8) into targets.

        Levels are read as text and matched to the data by :func:`level_key`, so ``11``
        matches an integer province code 11.
        """
        file = Path(path)
        if not file.is_file():
            raise WeightingError(f"Target table '{file}' does not exist; check the path.")
        try:
            frame = pd.read_csv(
                file,
                dtype={"variable": "str", "level": "str"},
                keep_default_na=False,
                na_values={"total": [""]},
                encoding="utf-8",
            )
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise WeightingError(
                f"Target table '{file}' cannot be read as a UTF-8 CSV file with columns "
                f"variable,level,total: {exc}"
            ) from exc
        return cls.from_frame(frame, provenance=f"target table {file}", tolerance=tolerance)

    def write_csv(self, path: str | Path) -> Path:
        """Write the targets as a ``variable,level,total`` CSV file; returns the path."""
        file = Path(path)
        frame = self.to_frame()
        frame["total"] = [repr(float(t)) for t in frame["total"]]
        frame.to_csv(file, index=False, encoding="utf-8")
        return file

    def __repr__(self) -> str:
        parts = [f"{name} ({len(t)} levels)" for name, t in self.margins.items()]
        parts += [f"{name} (numeric)" for name in self.numeric]
        total = self.total
        total_text = f", total {_fmt(total)}" if total is not None else ""
        return f"Targets({'; '.join(parts)}{total_text}; {self.provenance or 'no provenance'})"


# --------------------------------------------------------------------- validation helpers
def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _parse_total(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise WeightingError(
            f"{where}: total {value!r} is not a number; write the population total as a "
            "plain number (e.g. 18301000)."
        ) from None
    if not math.isfinite(number):
        raise WeightingError(f"{where}: total is {value!r}; every total must be a finite number.")
    return number


def _make_index(name: str, levels: list[Any]) -> pd.Index:
    parts = _split_name(name)
    if len(parts) == 1:
        return pd.Index(levels, name=parts[0])
    return pd.MultiIndex.from_tuples(levels, names=list(parts))


def _normalize_margin(name: Any, totals: Any) -> pd.Series:
    if not isinstance(name, str) or not name.strip():
        raise WeightingError(
            f"Targets: margin name {name!r} must be a non-empty column name (or names crossed "
            "with '*')."
        )
    parts = _split_name(name)
    if any(not p for p in parts):
        raise WeightingError(
            f"Targets: margin '{name}' has an empty column name; write names crossed with '*' "
            "such as 'province*sex'."
        )
    if len(set(parts)) != len(parts):
        raise WeightingError(
            f"Targets: margin '{name}' crosses a column with itself; name each column once."
        )
    if isinstance(totals, pd.Series):
        series = totals.copy()
    elif isinstance(totals, Mapping):
        series = pd.Series(list(totals.values()), index=list(totals.keys()), dtype="object")
    else:
        raise WeightingError(
            f"Targets: margin '{name}' must be a pandas Series or a mapping of category -> "
            f"total, got {type(totals).__name__}."
        )
    if len(series) == 0:
        raise WeightingError(
            f"Targets: margin '{name}' has no categories; give a total for every category."
        )
    width = len(parts)
    levels = [_level_parts(level, width) for level in series.index]
    for level, raw in zip(levels, series.index, strict=True):
        if len(level) != width:
            raise WeightingError(
                f"Targets: level {raw!r} of margin '{name}' has {len(level)} part(s) but the "
                f"margin crosses {width} columns ({', '.join(parts)}); give one category per "
                "column."
            )
        if width > 1 and any("*" in level_key(p) for p in level):
            raise WeightingError(
                f"Targets: level {raw!r} of crossed margin '{name}' contains '*', which "
                "separates the categories of a crossed level; rename that category."
            )
    values: list[float] = []
    for level, value in zip(levels, series.to_numpy(), strict=True):
        where = f"Targets: margin '{name}', level {'*'.join(level_key(p) for p in level)}"
        number = _parse_total(value, where)
        if number < 0:
            raise WeightingError(
                f"{where} has a negative total ({_fmt(number)}); population totals must be "
                ">= 0: fix the target table."
            )
        values.append(number)
    keys = ["*".join(level_key(p) for p in level) for level in levels]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        raise WeightingError(
            f"Targets: margin '{name}' lists level(s) {', '.join(duplicated)} more than once; "
            "give one total per level."
        )
    index_levels: list[Any] = [lv[0] for lv in levels] if width == 1 else levels
    result = pd.Series(values, index=_make_index("*".join(parts), index_levels), dtype="float64")
    result.name = "*".join(parts)
    return result


def _normalize_numeric(name: Any, total: Any, margins: Mapping[str, pd.Series]) -> float:
    if not isinstance(name, str) or not name.strip() or "*" in name:
        raise WeightingError(
            f"Targets: numeric variable name {name!r} must be one column name (no '*')."
        )
    if name in margins:
        raise WeightingError(
            f"Targets: '{name}' is given both as a categorical margin and as a numeric total; "
            "use one or the other."
        )
    return _parse_total(total, f"Targets: numeric variable '{name}'")


def _collapse(name: str, totals: pd.Series, keep: tuple[str, ...]) -> dict[tuple[str, ...], float]:
    parts = _split_name(name)
    positions = [parts.index(v) for v in keep]
    out: dict[tuple[str, ...], float] = {}
    for level, total in totals.items():
        full = _level_parts(level, len(parts))
        key = tuple(level_key(full[i]) for i in positions)
        out[key] = out.get(key, 0.0) + float(total)
    return out


def _check_consistency(margins: Mapping[str, pd.Series], tolerance: float) -> None:
    names = list(margins)
    if not names:
        return
    first = names[0]
    first_total = float(margins[first].sum())
    for other in names[1:]:
        total = float(margins[other].sum())
        scale = max(abs(first_total), abs(total), 1.0)
        if abs(total - first_total) > tolerance * scale:
            raise WeightingError(
                f"Targets: margins '{first}' and '{other}' have different grand totals "
                f"({_fmt(first_total)} vs {_fmt(total)}, relative difference "
                f"{abs(total - first_total) / scale:.2g} > tolerance {tolerance:g}); every "
                "margin describes the same population: fix the table so the totals agree."
            )
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            parts_b = _split_name(b)
            shared = tuple(v for v in _split_name(a) if v in parts_b)
            if not shared:
                continue
            ca = _collapse(a, margins[a], shared)
            cb = _collapse(b, margins[b], shared)
            label = "*".join(shared)
            for key in list(ca) + [k for k in cb if k not in ca]:
                level = "*".join(key)
                if key not in cb or key not in ca:
                    has, lacks = (a, b) if key in ca else (b, a)
                    if (ca.get(key) or cb.get(key) or 0.0) == 0.0:
                        continue
                    raise WeightingError(
                        f"Targets: level {level} of '{label}' appears in margin '{has}' but "
                        f"not in margin '{lacks}'; give both margins the same categories of "
                        f"{label}."
                    )
                va, vb = ca[key], cb[key]
                scale = max(abs(va), abs(vb), 1.0)
                if abs(va - vb) > tolerance * scale:
                    raise WeightingError(
                        f"Targets: margins '{a}' and '{b}' disagree on the total of "
                        f"{label} = {level} ({_fmt(va)} vs {_fmt(vb)}); margins that share "
                        f"'{label}' must give it the same totals: fix the table."
                    )


# --------------------------------------------------------------------------- census
def load_census(path: str | Path | None = None) -> pd.DataFrame:
    """Read the 2020 census table: one row per province, typed and checked.

    Parameters
    ----------
    path
        A CSV with the columns of ``data/reference/china_provinces_census2020.csv``
        (default: that file). See ``data/reference/README.md`` for the columns and sources.

    Returns
    -------
    DataFrame
        Columns ``gb_code`` (int, GB/T 2260), ``iso_code``, ``name_zh``, ``name_en``,
        ``nbs_region`` (East/Central/West/Northeast), ``population`` (int), the age, sex and
        urban percentages (float, % of all residents) and the schooling columns, sorted by
        ``gb_code``.
    """
    file = Path(path) if path is not None else CENSUS_PATH
    if not file.is_file():
        raise WeightingError(f"Census table '{file}' does not exist; check the path.")
    frame = pd.read_csv(file, encoding="utf-8")
    missing = [c for c in _CENSUS_COLUMNS if c not in frame.columns]
    if missing:
        raise WeightingError(
            f"Census table '{file}': missing column(s) {', '.join(missing)}; use the layout "
            "of data/reference/china_provinces_census2020.csv."
        )
    frame = frame[list(_CENSUS_COLUMNS)]
    for column, dtype in _CENSUS_COLUMNS.items():
        if frame[column].isna().any():
            row = int(np.flatnonzero(frame[column].isna().to_numpy())[0]) + 2
            raise WeightingError(
                f"[row : {row}] Census table '{file}': column '{column}' is empty; every "
                "province needs every figure."
            )
        try:
            frame[column] = frame[column].astype(dtype)
        except (TypeError, ValueError) as exc:
            raise WeightingError(
                f"Census table '{file}': column '{column}' must be of type {dtype}: {exc}"
            ) from exc
    if frame["gb_code"].duplicated().any():
        dup = frame.loc[frame["gb_code"].duplicated(), "gb_code"].tolist()
        raise WeightingError(
            f"Census table '{file}': province code(s) {dup} appear more than once; one row per "
            "province."
        )
    for column in _PCT_COLUMNS:
        bad = frame[(frame[column] < 0) | (frame[column] > 100)]
        if len(bad):
            raise WeightingError(
                f"Census table '{file}': column '{column}' must be a percentage in [0, 100]; "
                f"province {int(bad['gb_code'].iloc[0])} has {bad[column].iloc[0]}."
            )
    bad_region = frame[~frame["nbs_region"].isin(_REGIONS)]
    if len(bad_region):
        raise WeightingError(
            f"Census table '{file}': nbs_region must be one of {', '.join(_REGIONS)}; province "
            f"{int(bad_region['gb_code'].iloc[0])} has '{bad_region['nbs_region'].iloc[0]}'."
        )
    if (frame["population"] <= 0).any():
        raise WeightingError(f"Census table '{file}': every population must be positive.")
    return frame.sort_values("gb_code", ignore_index=True)


def _census_shares(
    census: pd.DataFrame, population: Literal["adults", "all"]
) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
    pop = census["population"].to_numpy(dtype="float64")
    child = census["age_0_14_pct"].to_numpy(dtype="float64")
    old = census["age_60_plus_pct"].to_numpy(dtype="float64")
    male = census["male_pct"].to_numpy(dtype="float64") / 100.0
    urban = census["urban_pct"].to_numpy(dtype="float64") / 100.0
    if population == "adults":
        base = pop * (100.0 - child) / 100.0
        old_share = old / (100.0 - child)
        ages = {"15-59": 1.0 - old_share, "60+": old_share}
    else:
        base = pop.copy()
        ages = {
            "0-14": child / 100.0,
            "15-59": 1.0 - child / 100.0 - old / 100.0,
            "60+": old / 100.0,
        }
    shares = {
        "sex": {"male": male, "female": 1.0 - male},
        "age_band": ages,
        "urban": {"urban": urban, "rural": 1.0 - urban},
    }
    return base, shares


def _parse_census_margin(spec: Any) -> tuple[str, ...]:
    if not isinstance(spec, str) or not spec.strip():
        raise WeightingError(
            f"census_targets: margin {spec!r} must be a name such as 'province' or 'province*sex'."
        )
    parts = _split_name(spec)
    for part in parts:
        if part not in CENSUS_VARIABLES:
            close = difflib.get_close_matches(part, CENSUS_VARIABLES, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise WeightingError(
                f"census_targets: unknown variable '{part}' in margin '{spec}'{hint}; the "
                f"census gives margins of {', '.join(CENSUS_VARIABLES)}."
            )
    if len(set(parts)) != len(parts):
        raise WeightingError(
            f"census_targets: margin '{spec}' names a variable twice; name each once."
        )
    geo = [p for p in parts if p in _GEOGRAPHIES]
    demo = [p for p in parts if p in _DEMOGRAPHICS]
    if len(geo) > 1:
        raise WeightingError(
            f"census_targets: margin '{spec}' crosses province with region; regions are "
            "groups of provinces: use one of them."
        )
    if len(demo) > 1:
        raise WeightingError(
            f"census_targets: margin '{spec}' crosses {' and '.join(demo)}, but the census "
            "table gives no cross-tabulation of sex, age band and urban/rural within a "
            "province; rake on separate margins instead (e.g. 'province*sex' and "
            "'province*urban')."
        )
    return parts


def census_targets(
    *,
    margins: Iterable[str] = DEFAULT_MARGINS,
    population: Literal["adults", "all"] = "adults",
    path: str | Path | None = None,
) -> Targets:
    """Calibration targets from China's 2020 census, by province, sex, age band and urban/rural.

    Parameters
    ----------
    margins
        Margin names, each a variable of the analysis frame or a province/region crossed with
        one of ``sex``, ``age_band``, ``urban``: ``"province"``, ``"region"``, ``"sex"``,
        ``"province*sex"``, ``"region*urban"``, ... The default is the four within-province
        margins.
    population
        ``"adults"`` (aged 15+, the survey population; age bands ``"15-59"`` and ``"60+"``) or
        ``"all"`` residents (age bands ``"0-14"``, ``"15-59"``, ``"60+"``).
    path
        Another census table with the same layout (default: the shipped one).

    Returns
    -------
    Targets
        Totals in persons. Levels: ``province`` = GB/T 2260 code (int, e.g. 11), ``region`` =
        ``"East"``, ``"Central"``, ``"West"``, ``"Northeast"``, ``sex`` = ``"male"``,
        ``"female"``, ``age_band`` as above, ``urban`` = ``"urban"``, ``"rural"``.

    Notes
    -----
    For province :math:`p` with resident population :math:`P_p` and percentages from the
    census communiqués,

    .. math::

        A_p = P_p (100 - a^{0-14}_p) / 100, \\qquad
        s^{60+}_p = a^{60+}_p / (100 - a^{0-14}_p), \\qquad s^{15-59}_p = 1 - s^{60+}_p,

    and the adult totals are :math:`A_p s`, for :math:`s` the sex share
    (:math:`m_p/100`, :math:`1 - m_p/100`), age share, or urban share
    (:math:`u_p/100`, :math:`1 - u_p/100`).

    Approximations, stated because the census table gives no cross-tabulations per province:

    * the sex and urban shares are those of all residents (children included), applied to
      adults;
    * the 15-59 share is taken as the complement of the 60+ share, so the age margin adds up
      to the adult total exactly (the published percentages are rounded and may differ from
      it by 0.01 points);
    * region and national margins are sums of the provincial totals (the 2,000,000 military
      personnel counted only nationally are excluded).

    Reference: National Bureau of Statistics of China, Communiqués of the Seventh National
    Population Census Nos. 3-5 (2021), and the provincial communiqués (urban share); see
    ``data/reference/README.md``.
    """
    if population not in ("adults", "all"):
        raise WeightingError(
            f"census_targets: population must be 'adults' or 'all', got {population!r}."
        )
    if isinstance(margins, str):
        margins = (margins,)
    specs = list(margins)
    if not specs:
        raise WeightingError("census_targets: give at least one margin, e.g. 'province'.")
    census = load_census(path)
    base, shares = _census_shares(census, population)
    codes = census["gb_code"].to_numpy()
    regions = census["nbs_region"].to_numpy()
    out: dict[str, pd.Series] = {}
    for spec in specs:
        parts = _parse_census_margin(spec)
        name = "*".join(parts)
        if name in out:
            raise WeightingError(f"census_targets: margin '{name}' is listed twice.")
        demo = next((p for p in parts if p in _DEMOGRAPHICS), None)
        geo = next((p for p in parts if p in _GEOGRAPHIES), None)
        categories = shares[demo] if demo else {"": np.ones_like(base)}
        totals: dict[tuple[Any, ...], float] = {}
        geo_levels: list[Any]
        if geo == "province":
            geo_levels = [int(c) for c in codes]
            member = [codes == c for c in codes]
        elif geo == "region":
            geo_levels = list(_REGIONS)
            member = [regions == r for r in _REGIONS]
        else:
            geo_levels = [None]
            member = [np.ones_like(base, dtype=bool)]
        for geo_level, mask in zip(geo_levels, member, strict=True):
            for category, share in categories.items():
                value = float(np.sum(base[mask] * share[mask]))
                by_var = {geo: geo_level, demo: category}
                key = tuple(by_var[p] for p in parts)
                totals[key] = value
        index: list[Any] = [k[0] for k in totals] if len(parts) == 1 else list(totals)
        out[name] = pd.Series(list(totals.values()), index=_make_index(name, index))
    who = "adults aged 15+" if population == "adults" else "all residents"
    source = "shipped table" if path is None else str(path)
    provenance = (
        f"China 7th National Population Census (2020-11-01), {who}, {source}; "
        "sex and urban shares of all residents applied within province"
    )
    return Targets(out, provenance=provenance)
