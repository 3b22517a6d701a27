"""Calibration of survey weights to population targets: post-stratification, raking, GREG, trimming.

The data enter only through the design-weighted totals of the joint cells of the categorical
calibration variables (and, with numeric variables, of the distinct numeric values within a
cell). Each call factorizes the calibration columns once, collapses the respondents to that
small table with ``numpy.bincount``, calibrates the table and maps the cell factors back to the
rows; nothing loops over respondents in Python.

Methods follow R's ``survey`` package (Lumley 2004, 2010): ``postStratify``, ``rake``,
``calibrate(calfun = "linear" | "raking" | "logit")`` and ``trimWeights``; the tests check the
weights against R to a relative 1e-8.
"""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from analysis.design import CalibrationModel
from analysis.errors import ConvergenceWarning, WeightingError
from analysis.targets import Targets, level_key

__all__ = [
    "METHODS",
    "CalibrationResult",
    "Method",
    "Trim",
    "calibrate",
    "linear_calibrate",
    "poststratify",
    "rake",
    "trim_weights",
]

Method = Literal["poststratify", "rake", "linear", "logit"]
METHODS: tuple[str, ...] = ("poststratify", "rake", "linear", "logit")
_RELATIVE_TO = ("absolute", "mean", "median")
_QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


# ============================================================================ public types
@dataclass(frozen=True)
class Trim:
    """Limits on calibrated weights, enforced by trimming and re-calibrating.

    Parameters
    ----------
    lower, upper
        Limits on each final weight: absolute weights, or multiples of the mean or median
        weight (see ``relative_to``). ``None`` leaves that side open.
    relative_to
        ``"absolute"``, ``"mean"`` or ``"median"``: how ``lower`` and ``upper`` are read. The
        mean and median are those of the current weights in each round.
    ratio_lower, ratio_upper
        Limits on each ratio final / base weight. ``None`` leaves that side open.
    max_rounds
        Most trimming rounds (each one a re-calibration).

    Notes
    -----
    In each round the weights outside a limit are set to it and held there, and the other
    respondents are re-calibrated, with the same method, to the targets less the held
    weights' contribution: the trimmed excess is redistributed over the untrimmed
    respondents in the way the calibration distributes weight. Rounds stop when every weight
    is within its limits (to a relative ``tol``) and the margins hold, or with an error when
    the limits make a margin impossible. Like R's ``trimWeights()`` followed by
    ``calibrate()``, repeated (Valliant, Dever and Kreuter 2018, sec. 14.4), except that
    trimmed weights stay at their limit instead of being re-calibrated with the others, so
    limits and margins hold exactly together. Held weights are not subject to the
    calibration's ``bounds``; the trimming limits take precedence.
    """

    lower: float | None = None
    upper: float | None = None
    relative_to: Literal["absolute", "mean", "median"] = "absolute"
    ratio_lower: float | None = None
    ratio_upper: float | None = None
    max_rounds: int = 50

    def __post_init__(self) -> None:
        if self.relative_to not in _RELATIVE_TO:
            raise WeightingError(
                f"Trim: relative_to must be one of {', '.join(map(repr, _RELATIVE_TO))}, got "
                f"{self.relative_to!r}."
            )
        for name in ("lower", "upper", "ratio_lower", "ratio_upper"):
            value = getattr(self, name)
            if value is not None and not (_is_number(value) and value > 0):
                raise WeightingError(
                    f"Trim: {name} must be a positive number or None, got {value!r}."
                )
        for low, high in (("lower", "upper"), ("ratio_lower", "ratio_upper")):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo >= hi:
                raise WeightingError(f"Trim: {low} ({lo}) must be smaller than {high} ({hi}).")
        if all(getattr(self, n) is None for n in ("lower", "upper", "ratio_lower", "ratio_upper")):
            raise WeightingError(
                "Trim: give at least one limit (lower, upper, ratio_lower or ratio_upper)."
            )
        if not (isinstance(self.max_rounds, int) and self.max_rounds >= 1):
            raise WeightingError(
                f"Trim: max_rounds must be a positive integer, got {self.max_rounds!r}."
            )

    def describe(self) -> str:
        """The limits in words, e.g. ``"weight <= 3 x mean weight, final/base >= 0.5"``."""
        unit = {"absolute": "", "mean": " x mean weight", "median": " x median weight"}
        parts = []
        if self.lower is not None:
            parts.append(f"weight >= {self.lower:g}{unit[self.relative_to]}")
        if self.upper is not None:
            parts.append(f"weight <= {self.upper:g}{unit[self.relative_to]}")
        if self.ratio_lower is not None:
            parts.append(f"final/base >= {self.ratio_lower:g}")
        if self.ratio_upper is not None:
            parts.append(f"final/base <= {self.ratio_upper:g}")
        return ", ".join(parts)


@dataclass(frozen=True, eq=False)
class CalibrationResult:
    """Calibrated weights and their diagnostics.

    Attributes
    ----------
    weights
        Final weights, one per row of the data, in the data's order (read-only).
    base_weights
        The design weights calibration started from (``N / n`` each when none were given).
    model
        What the weights were calibrated on, for calibration-aware standard errors. Its
        ``method`` is the calibration's, except that raking with numeric variables (Newton's
        method, R's ``calibrate(calfun = "raking")``) is recorded as ``"raking"``, and raking
        on categorical margins (IPF, R's ``rake()``) as ``"rake"``.
    targets
        The population targets.
    iterations
        Iterations of the solver (IPF sweeps, Newton steps; summed over trimming rounds).
    converged
        Whether the margins (and trimming limits) were met within ``tol``.
    max_margin_error
        Largest relative margin error :math:`|\\hat t - t| / (1 + |t|)` over every level of
        every margin and every numeric total (R's convergence measure).
    margins
        One row per level of each margin and per numeric variable: ``margin, level, target,
        achieved, base, n, error, rel_error`` (``base`` is the base-weighted total, ``n`` the
        number of respondents).
    cells
        The joint calibration cell of each row (codes ``0 .. k-1``) when every calibration
        variable is categorical, else ``None``.
    bounds
        Bounds on final / base weights used by the calibration, if any.
    trim
        The trimming limits, if any; ``trimmed`` rows were held at a limit, over
        ``trim_rounds`` re-calibrations.
    n, weight_sum, weight_min, weight_max, weight_mean, weight_cv
        Summary of the weights (``weight_cv`` = standard deviation with divisor n / mean).
    quantiles
        Weight quantiles at 0, 1, 5, 25, 50, 75, 95, 99 and 100 %.
    deff
        Kish's design effect from unequal weights, :math:`1 + cv^2 = n \\sum w^2 / (\\sum w)^2`.
    n_effective
        Kish's effective sample size :math:`n / deff = (\\sum w)^2 / \\sum w^2`.
    """

    weights: FloatArray
    base_weights: FloatArray
    model: CalibrationModel
    targets: Targets
    iterations: int
    converged: bool
    max_margin_error: float
    margins: pd.DataFrame
    cells: IntArray | None = None
    bounds: tuple[float, float] | None = None
    trim: Trim | None = None
    trimmed: int = 0
    trim_rounds: int = 0
    n: int = field(init=False)
    weight_sum: float = field(init=False)
    weight_min: float = field(init=False)
    weight_max: float = field(init=False)
    weight_mean: float = field(init=False)
    weight_cv: float = field(init=False)
    deff: float = field(init=False)
    n_effective: float = field(init=False)

    def __post_init__(self) -> None:
        w = self.weights
        for array in (self.weights, self.base_weights, self.cells):
            if array is not None:
                array.setflags(write=False)
        n = len(w)
        total = float(w.sum())
        mean = total / n
        cv = float(np.std(w) / mean) if mean != 0 else math.nan
        sumsq = float(np.dot(w, w))
        for name, value in (
            ("n", n),
            ("weight_sum", total),
            ("weight_min", float(w.min())),
            ("weight_max", float(w.max())),
            ("weight_mean", mean),
            ("weight_cv", cv),
            ("deff", 1.0 + cv * cv),
            ("n_effective", total * total / sumsq if sumsq > 0 else math.nan),
        ):
            object.__setattr__(self, name, value)

    @cached_property
    def quantiles(self) -> pd.Series:
        """Weight quantiles at 0, 1, 5, 25, 50, 75, 95, 99 and 100 % (computed on first use)."""
        return pd.Series(
            np.quantile(self.weights, _QUANTILES),
            index=pd.Index(_QUANTILES, name="q"),
            name="weight",
        )

    @property
    def method(self) -> str:
        """The calibration method (``model.method``)."""
        return self.model.method

    @property
    def ratios(self) -> FloatArray:
        """Final / base weight of each row (R's ``g`` factors)."""
        return self.weights / self.base_weights

    def to_frame(self) -> pd.DataFrame:
        """A one-row summary: method, n, convergence, margin error, weight summary, deff."""
        row = {
            "method": self.method,
            "n": self.n,
            "iterations": self.iterations,
            "converged": self.converged,
            "max_margin_error": self.max_margin_error,
            "trimmed": self.trimmed,
            "weight_sum": self.weight_sum,
            "weight_min": self.weight_min,
            "weight_max": self.weight_max,
            "weight_mean": self.weight_mean,
            "weight_cv": self.weight_cv,
            "deff": self.deff,
            "n_effective": self.n_effective,
        }
        return pd.DataFrame([row])

    def __repr__(self) -> str:
        state = "converged" if self.converged else "NOT converged"
        return (
            f"CalibrationResult({self.method}, n={self.n}, {state} in {self.iterations} "
            f"iterations, max margin error {self.max_margin_error:.2g}, weights "
            f"{self.weight_min:.4g}..{self.weight_max:.4g}, deff {self.deff:.3f})"
        )


# ============================================================================ helpers
def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _fmt(number: float) -> str:
    if math.isfinite(number) and float(number).is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:,.6g}"


def _rows(index: pd.Index, positions: NDArray[np.intp], limit: int = 5) -> str:
    labels = [str(index[p]) for p in positions[:limit]]
    more = ", ..." if len(positions) > limit else ""
    return ", ".join(labels) + more


def _sums(codes: IntArray, weights: FloatArray, size: int) -> FloatArray:
    """Sum of ``weights`` by code ``0 .. size-1`` (``numpy.bincount``)."""
    return cast(FloatArray, np.bincount(codes, weights=weights, minlength=size))


def _list(items: Sequence[str], limit: int = 5) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


# ============================================================================ the cell table
@dataclass
class _Margin:
    name: str
    labels: list[str]
    targets: FloatArray
    cell_level: IntArray  # level of each cell
    unit_level: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass
class _Layout:
    """Rows collapsed to units (joint cells, or distinct numeric values within cells)."""

    n: int
    row_cell: IntArray
    n_cells: int
    row_unit: IntArray
    n_units: int
    unit_cell: IntArray
    margins: list[_Margin]
    numeric_names: list[str]
    numeric_targets: FloatArray
    unit_numeric: FloatArray  # (n_units, q)

    @property
    def k(self) -> int:
        return sum(len(m.targets) for m in self.margins) + len(self.numeric_names)

    @property
    def target_vector(self) -> FloatArray:
        parts: list[FloatArray] = [m.targets for m in self.margins]
        parts.append(self.numeric_targets)
        return np.concatenate(parts)

    def unit_totals(self, row_values: FloatArray) -> FloatArray:
        return _sums(self.row_unit, row_values, self.n_units)

    def totals(self, unit_values: FloatArray) -> FloatArray:
        """X' v: the margin-level totals and numeric totals of unit values ``v``."""
        parts: list[FloatArray] = [
            _sums(m.unit_level, unit_values, len(m.targets)) for m in self.margins
        ]
        parts.append(self.unit_numeric.T @ unit_values)
        return np.concatenate(parts)

    def labels(self) -> list[tuple[str, str]]:
        out = [(m.name, label) for m in self.margins for label in m.labels]
        out += [(name, "") for name in self.numeric_names]
        return out


def _arrow_codes(column: pd.Series) -> tuple[IntArray, list[Any]] | None:
    """Codes of an Arrow-backed string column straight from ``dictionary_encode``.

    About twice as fast as ``pandas.factorize`` on pandas' default ``str`` columns; ``None``
    when the column is not Arrow-backed text (the caller then uses ``pandas.factorize``).
    """
    if not pd.api.types.is_string_dtype(column.dtype):
        return None
    to_arrow = getattr(column.array, "__arrow_array__", None)
    if to_arrow is None:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        encoded = pc.dictionary_encode(to_arrow())
    except (pa.ArrowException, TypeError, ValueError):
        return None
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    if not chunks:
        return None
    longest = max(chunks, key=lambda chunk: len(chunk.dictionary)).dictionary
    for chunk in chunks:
        if not chunk.dictionary.equals(longest.slice(0, len(chunk.dictionary))):
            return None
    codes = np.concatenate(
        [pc.fill_null(chunk.indices, -1).to_numpy(zero_copy_only=False) for chunk in chunks]
    ).astype(np.int64, copy=False)
    return codes, longest.to_pylist()


def _factorize(data: pd.DataFrame, column: str) -> tuple[IntArray, list[str]]:
    fast = _arrow_codes(data[column])
    if fast is not None:
        codes, uniques = fast
    else:
        raw, found = pd.factorize(data[column], sort=False, use_na_sentinel=True)
        codes, uniques = np.asarray(raw, dtype=np.int64), list(found)
    missing = np.flatnonzero(codes < 0)
    if len(missing):
        raise WeightingError(
            f"Column '{column}' has {len(missing)} missing value(s) (rows "
            f"{_rows(data.index, missing)}); weighting needs every respondent's category: "
            "impute the values or drop these rows before weighting."
        )
    return codes, [level_key(u) for u in uniques]


def _combine(codes: list[IntArray], sizes: list[int], n: int) -> tuple[IntArray, IntArray]:
    """Joint code of several code arrays: (row code 0..k-1, first-row index of each code)."""
    if not codes:
        return np.zeros(n, dtype=np.int64), np.zeros(1 if n else 0, dtype=np.int64)
    combined = codes[0].copy()
    product = sizes[0]
    for code, size in zip(codes[1:], sizes[1:], strict=True):
        if product * size >= 2**62:
            combined = np.asarray(pd.factorize(combined)[0], dtype=np.int64)
            product = int(combined.max()) + 1
        combined = combined * size + code
        product *= size
    if product <= max(4 * n, 1 << 20):
        present = np.bincount(combined, minlength=product) > 0
        remap = np.cumsum(present) - 1
        row_code = remap[combined].astype(np.int64)
        n_codes = int(present.sum())
    else:
        row_code = np.asarray(pd.factorize(combined)[0], dtype=np.int64)
        n_codes = int(row_code.max()) + 1
    first = np.full(n_codes, n, dtype=np.int64)
    np.minimum.at(first, row_code, np.arange(n, dtype=np.int64))
    return row_code, first


def _layout(data: pd.DataFrame, targets: Targets, base: FloatArray) -> _Layout:
    n = len(data)
    columns = list(map(str, data.columns))
    for variable in targets.variables:
        if variable not in data.columns:
            close = difflib.get_close_matches(variable, columns, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise WeightingError(
                f"The targets refer to column '{variable}', which is not in the data{hint}; "
                "rename the column or fix the targets."
            )
    cat_vars: list[str] = []
    for name in targets.margins:
        for part in name.split("*"):
            if part.strip() not in cat_vars:
                cat_vars.append(part.strip())
    var_codes: dict[str, IntArray] = {}
    var_keys: dict[str, list[str]] = {}
    for variable in cat_vars:
        var_codes[variable], var_keys[variable] = _factorize(data, variable)
    row_cell, first = _combine(
        [var_codes[v] for v in cat_vars], [len(var_keys[v]) for v in cat_vars], n
    )
    n_cells = len(first)
    cell_codes = {v: var_codes[v][first] for v in cat_vars}
    cell_rows = np.bincount(row_cell, minlength=n_cells)

    margins: list[_Margin] = []
    for name, totals in targets.margins.items():
        parts = [p.strip() for p in name.split("*")]
        width = len(parts)
        lookup: dict[tuple[str, ...], int] = {}
        labels: list[str] = []
        for i, level in enumerate(totals.index):
            tup = level if isinstance(level, tuple) else (level,)
            key = tuple(level_key(x) for x in tup)
            lookup[key] = i
            labels.append("*".join(key))
        # the margin's combination of each cell, through the distinct combinations only
        sizes = [len(var_keys[p]) for p in parts]
        combo = np.zeros(n_cells, dtype=np.int64)
        for p, size in zip(parts, sizes, strict=True):
            combo = combo * size + cell_codes[p]
        uniq, inverse = np.unique(combo, return_inverse=True)
        level_of_uniq = np.empty(len(uniq), dtype=np.int64)
        for j, code in enumerate(uniq.tolist()):
            digits = []
            for size in reversed(sizes):
                code, digit = divmod(code, size)
                digits.append(digit)
            key = tuple(var_keys[p][d] for p, d in zip(parts, reversed(digits), strict=True))
            level_of_uniq[j] = lookup.get(key, -1)
        cell_level = level_of_uniq[inverse.reshape(-1)]
        unknown = np.flatnonzero(cell_level < 0)
        if len(unknown):
            found: dict[str, int] = {}
            for cell in unknown.tolist():
                label = "*".join(var_keys[p][cell_codes[p][cell]] for p in parts)
                found[label] = found.get(label, 0) + int(cell_rows[cell])
            listed = [f"{label} ({count} rows)" for label, count in found.items()]
            what = "column" if width == 1 else "margin"
            raise WeightingError(
                f"The data have categories with no population total in {what} '{name}': "
                f"{_list(listed)}; add these levels to the targets, or recode or drop these "
                "rows."
            )
        target = totals.to_numpy(dtype=np.float64)
        level_rows = np.bincount(cell_level, weights=cell_rows, minlength=len(target))
        empty = np.flatnonzero((level_rows == 0) & (target > 0))
        if len(empty):
            listed = [f"{labels[i]} (total {_fmt(target[i])})" for i in empty.tolist()]
            raise WeightingError(
                f"Margin '{name}' has level(s) with a population total but no respondents: "
                f"{_list(listed)}; weighting cannot give weight to an empty cell: collapse "
                "categories (merge each with a neighbouring level of the same margin, in the "
                "targets and the data) or drop the margin."
            )
        zero = np.flatnonzero((level_rows > 0) & (target == 0))
        if len(zero):
            listed = [f"{labels[i]} ({int(level_rows[i])} rows)" for i in zero.tolist()]
            raise WeightingError(
                f"Margin '{name}' has level(s) with a population total of 0 but respondents: "
                f"{_list(listed)}; drop these respondents or give the level a positive total."
            )
        margins.append(_Margin(name, labels, target, cell_level))

    numeric_names = list(targets.numeric)
    numeric_targets = np.array([targets.numeric[v] for v in numeric_names], dtype=np.float64)
    if not numeric_names:
        row_unit, n_units = row_cell, n_cells
        unit_cell = np.arange(n_cells, dtype=np.int64)
        unit_numeric = np.zeros((n_cells, 0))
    else:
        values = []
        for variable in numeric_names:
            column = data[variable]
            if not (
                pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
            ):
                raise WeightingError(
                    f"Numeric calibration variable '{variable}' must be a numeric column, but "
                    f"it has dtype {column.dtype}; convert it to numbers, or give its "
                    "categories as a margin instead."
                )
            array = column.to_numpy(dtype=np.float64, na_value=np.nan)
            missing = np.flatnonzero(~np.isfinite(array))
            if len(missing):
                raise WeightingError(
                    f"Column '{variable}' has {len(missing)} missing or infinite value(s) "
                    f"(rows {_rows(data.index, missing)}); weighting needs every respondent's "
                    "value: impute the values or drop these rows before weighting."
                )
            values.append(array)
        codes = [row_cell]
        sizes = [n_cells]
        for array in values:
            code, uniques = pd.factorize(array, sort=False)
            codes.append(np.asarray(code, dtype=np.int64))
            sizes.append(len(uniques))
        row_unit, first_row = _combine(codes, sizes, n)
        n_units = len(first_row)
        unit_cell = row_cell[first_row]
        unit_numeric = np.column_stack([array[first_row] for array in values])
    for margin in margins:
        margin.unit_level = margin.cell_level[unit_cell]
    return _Layout(
        n=n,
        row_cell=row_cell,
        n_cells=n_cells,
        row_unit=row_unit,
        n_units=n_units,
        unit_cell=unit_cell,
        margins=margins,
        numeric_names=numeric_names,
        numeric_targets=numeric_targets,
        unit_numeric=unit_numeric,
    )


# ============================================================================ solvers
@dataclass
class _Solution:
    g: FloatArray  # factor per unit
    iterations: int
    converged: bool
    error: float


def _rel_errors(layout: _Layout, unit_weights: FloatArray, target: FloatArray) -> FloatArray:
    return np.abs(layout.totals(unit_weights) - target) / (1.0 + np.abs(target))


def _poststratify_units(layout: _Layout, d: FloatArray, target: FloatArray) -> _Solution:
    margin = layout.margins[0]
    level_base = np.bincount(margin.unit_level, weights=d, minlength=len(target))
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(level_base > 0, target / level_base, 1.0)
    g = factor[margin.unit_level]
    error = float(_rel_errors(layout, d * g, target).max(initial=0.0))
    return _Solution(g, 1, True, error)


def _ipf_units(
    layout: _Layout, d: FloatArray, target: FloatArray, tol: float, max_iter: int
) -> _Solution:
    w = d.copy()
    offsets = np.cumsum([0] + [len(m.targets) for m in layout.margins])
    error = float(_rel_errors(layout, w, target).max(initial=0.0))
    iterations = 0
    while error >= tol and iterations < max_iter:
        iterations += 1
        for m, margin in enumerate(layout.margins):
            t = target[offsets[m] : offsets[m + 1]]
            s = np.bincount(margin.unit_level, weights=w, minlength=len(t))
            with np.errstate(divide="ignore", invalid="ignore"):
                factor = np.where(s > 0, t / s, 1.0)
            w *= factor[margin.unit_level]
        error = float(_rel_errors(layout, w, target).max(initial=0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(d > 0, w / d, 1.0)
    return _Solution(g, iterations, error < tol, error)


@dataclass(frozen=True)
class _CalFun:
    """A calibration function: g = F(u), dF/du, and its integral Phi (the dual objective)."""

    name: str
    F: Callable[[FloatArray], FloatArray]
    dF: Callable[[FloatArray], FloatArray]
    Phi: Callable[[FloatArray], FloatArray]


def _calfun(method: str, lower: float, upper: float) -> _CalFun:
    if method == "rake":
        return _CalFun("raking", np.exp, np.exp, np.exp)
    if method == "linear":
        a, b = lower - 1.0, upper - 1.0

        def phi_linear(u: FloatArray) -> FloatArray:
            uc = np.clip(u, a, b)
            inner = uc + 0.5 * uc * uc
            return cast(
                FloatArray,
                inner
                + np.where(u < a, lower * (u - a), 0.0)
                + np.where(u > b, upper * (u - b), 0.0),
            )

        return _CalFun(
            "linear",
            lambda u: np.clip(1.0 + u, lower, upper),
            lambda u: ((u > a) & (u < b)).astype(np.float64),
            phi_linear,
        )
    # logit (R's cal.logit): g = L + (U - L) * expit(A u + c)
    scale = (upper - lower) / ((upper - 1.0) * (1.0 - lower))
    shift = math.log((1.0 - lower) / (upper - 1.0))

    def expit(u: FloatArray) -> FloatArray:
        z = scale * u + shift
        return cast(FloatArray, 0.5 * (1.0 + np.tanh(0.5 * z)))

    def phi_logit(u: FloatArray) -> FloatArray:
        z = scale * u + shift
        return cast(FloatArray, lower * u + (upper - lower) / scale * np.logaddexp(0.0, z))

    return _CalFun(
        "logit",
        lambda u: lower + (upper - lower) * expit(u),
        lambda u: (upper - lower) * scale * expit(u) * (1.0 - expit(u)),
        phi_logit,
    )


class _Design:
    """The calibration design matrix X (units x k) without forming it: one-hot blocks + Z."""

    def __init__(self, layout: _Layout) -> None:
        self.levels = [m.unit_level for m in layout.margins]
        self.sizes = [len(m.targets) for m in layout.margins]
        self.offsets = np.cumsum([0, *self.sizes]).tolist()
        self.Z = layout.unit_numeric
        self.q = self.Z.shape[1]
        self.k = int(self.offsets[-1]) + self.q
        self.pairs = {
            (i, j): self.levels[i] * self.sizes[j] + self.levels[j]
            for i in range(len(self.levels))
            for j in range(i + 1, len(self.levels))
        }

    def dot(self, eta: FloatArray) -> FloatArray:
        out = self.Z @ eta[self.offsets[-1] :] if self.q else np.zeros(len(self.Z))
        for m, level in enumerate(self.levels):
            out = out + eta[self.offsets[m] : self.offsets[m + 1]][level]
        return cast(FloatArray, out)

    def tdot(self, v: FloatArray) -> FloatArray:
        parts: list[FloatArray] = [
            _sums(level, v, size) for level, size in zip(self.levels, self.sizes, strict=True)
        ]
        parts.append(self.Z.T @ v)
        return np.concatenate(parts)

    def gram(self, v: FloatArray) -> FloatArray:
        k, o = self.k, self.offsets
        G = np.zeros((k, k))
        for m, (level, size) in enumerate(zip(self.levels, self.sizes, strict=True)):
            block = np.bincount(level, weights=v, minlength=size)
            G[o[m] : o[m + 1], o[m] : o[m + 1]] = np.diag(block)
            for p in range(self.q):
                col = np.bincount(level, weights=v * self.Z[:, p], minlength=size)
                G[o[m] : o[m + 1], o[-1] + p] = col
                G[o[-1] + p, o[m] : o[m + 1]] = col
        for (i, j), code in self.pairs.items():
            block = np.bincount(code, weights=v, minlength=self.sizes[i] * self.sizes[j]).reshape(
                self.sizes[i], self.sizes[j]
            )
            G[o[i] : o[i + 1], o[j] : o[j + 1]] = block
            G[o[j] : o[j + 1], o[i] : o[i + 1]] = block.T
        if self.q:
            G[o[-1] :, o[-1] :] = self.Z.T @ (v[:, None] * self.Z)
        return G


def _newton_units(
    layout: _Layout,
    d: FloatArray,
    target: FloatArray,
    calfun: _CalFun,
    tol: float,
    max_iter: int,
) -> _Solution:
    """Newton's method on the calibration equations, as R's ``grake()``, with a line search.

    Solves :math:`\\sum_u d_u F(x_u'\\eta) x_u = t`; each step is
    :math:`\\Delta\\eta = (X' D F'(X\\eta) X)^{+} (t - X' D F(X\\eta))` (a pseudo-inverse,
    after scaling the columns to unit diagonal, since crossed margins make X rank-deficient).
    The step is halved while the dual objective :math:`\\sum d \\Phi(X\\eta) - \\eta' t` does
    not decrease and the margin error does not shrink (R halves only on non-finite values).
    """
    X = _Design(layout)
    scale_t = 1.0 + np.abs(target)
    eta = np.zeros(X.k)
    xeta = np.zeros(layout.n_units)
    g = calfun.F(xeta)

    def objective(xe: FloatArray, et: FloatArray) -> float:
        return float(np.dot(d, calfun.Phi(xe)) - np.dot(et, target))

    misfit = target - X.tdot(d * g)
    error = float(np.max(np.abs(misfit) / scale_t, initial=0.0))
    psi = objective(xeta, eta)
    iterations = 0
    while error >= tol and iterations < max_iter:
        iterations += 1
        T = X.gram(d * calfun.dF(xeta))
        diag = np.sqrt(np.diag(T))
        diag[~(diag > 0)] = 1.0
        Ts = T / diag[:, None] / diag[None, :]
        step = (
            np.linalg.pinv(Ts, rcond=256 * np.finfo(float).eps, hermitian=True) @ (misfit / diag)
        ) / diag
        slope = -float(np.dot(misfit, step))
        length = 1.0
        accepted = False
        for _ in range(60):
            new_eta = eta + length * step
            new_xeta = X.dot(new_eta)
            with np.errstate(over="ignore", invalid="ignore"):
                new_g = calfun.F(new_xeta)
                new_psi = objective(new_xeta, new_eta)
            if np.all(np.isfinite(new_g)) and math.isfinite(new_psi):
                new_misfit = target - X.tdot(d * new_g)
                new_error = float(np.max(np.abs(new_misfit) / scale_t, initial=0.0))
                if new_psi <= psi + 1e-4 * length * slope or new_error < error:
                    accepted = True
                    break
            length /= 2.0
        if not accepted:
            break
        eta, xeta, g, misfit, error, psi = (
            new_eta,
            new_xeta,
            new_g,
            new_misfit,
            new_error,
            new_psi,
        )
    return _Solution(g, iterations, error < tol, error)


# ============================================================================ checks
def _base_weights(data: pd.DataFrame, weights: str | ArrayLike | None, total: float) -> FloatArray:
    n = len(data)
    if weights is None:
        return np.full(n, total / n)
    if isinstance(weights, str):
        if weights not in data.columns:
            close = difflib.get_close_matches(weights, list(map(str, data.columns)), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise WeightingError(
                f"Base weight column '{weights}' is not in the data{hint}; pass the name of "
                "the design-weight column, an array of weights, or None."
            )
        column = data[weights]
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            raise WeightingError(
                f"Base weight column '{weights}' must be numeric, but has dtype {column.dtype}."
            )
        array = column.to_numpy(dtype=np.float64, na_value=np.nan)
        label = f"column '{weights}'"
    else:
        try:
            array = np.asarray(weights, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise WeightingError(
                f"Base weights must be numbers, one per row of the data: {exc}"
            ) from exc
        if len(array) != n:
            raise WeightingError(
                f"Base weights have {len(array)} values but the data have {n} rows; give one "
                "weight per row."
            )
        label = "the base weights"
    missing = np.flatnonzero(~np.isfinite(array))
    if len(missing):
        raise WeightingError(
            f"{label[0].upper()}{label[1:]} has {len(missing)} missing or infinite value(s) "
            f"(rows {_rows(data.index, missing)}); every respondent needs a positive base "
            "weight: fix or drop these rows."
        )
    bad = np.flatnonzero(array <= 0)
    if len(bad):
        raise WeightingError(
            f"Base weights must be positive, but {label} has {len(bad)} value(s) <= 0 (rows "
            f"{_rows(data.index, bad)}; first {array[bad[0]]:g}); drop these respondents or "
            "fix their weights."
        )
    return array


def _check_options(
    method: str,
    targets: Targets,
    bounds: tuple[float, float] | None,
    tol: float,
    max_iter: int,
    on_nonconvergence: str,
) -> tuple[float, float] | None:
    if method not in METHODS:
        close = difflib.get_close_matches(str(method), METHODS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise WeightingError(
            f"Unknown calibration method {method!r}{hint}; use one of "
            f"{', '.join(map(repr, METHODS))}."
        )
    if on_nonconvergence not in ("warn", "raise"):
        raise WeightingError(
            f"on_nonconvergence must be 'warn' or 'raise', got {on_nonconvergence!r}."
        )
    if not (_is_number(tol) and 0 < tol < 1):
        raise WeightingError(f"tol must be a number in (0, 1), got {tol!r}.")
    if not (isinstance(max_iter, int) and not isinstance(max_iter, bool) and max_iter >= 1):
        raise WeightingError(f"max_iter must be a positive integer, got {max_iter!r}.")
    if method == "poststratify" and targets.numeric:
        raise WeightingError(
            "method='poststratify' uses categorical cells only, but the targets have "
            f"numeric variable(s) {', '.join(map(repr, targets.numeric))}; use "
            "method='linear' to calibrate on numeric totals."
        )
    if method == "poststratify" and len(targets.margins) != 1:
        names = ", ".join(f"'{n}'" for n in targets.names)
        raise WeightingError(
            "method='poststratify' needs exactly one margin, the joint cells (e.g. "
            f"'province*sex*age_band*urban'), but the targets have "
            f"{len(targets.margins)}: {names}; use method='rake' to fit several margins."
        )
    if bounds is not None:
        if method in ("poststratify", "rake"):
            alternative = (
                "post-stratification factors are fixed by the cell totals"
                if method == "poststratify"
                else "raking weights are not bounded"
            )
            raise WeightingError(
                f"bounds are not supported by method='{method}' ({alternative}); drop "
                "bounds, use method='logit' or 'linear' for bounded weights, or cap the "
                "weights with trim=Trim(...)."
            )
        try:
            lower, upper = (float(b) for b in bounds)
        except (TypeError, ValueError):
            raise WeightingError(
                f"bounds must be a pair (lower, upper) of numbers, got {bounds!r}."
            ) from None
        if math.isnan(lower) or math.isnan(upper) or not lower <= 1.0 <= upper or lower == upper:
            raise WeightingError(
                f"bounds {bounds!r} must satisfy lower <= 1 <= upper with lower < upper: they "
                "limit the ratio final / base weight, and 1 (no change) must be allowed."
            )
        if method == "logit" and not (0 <= lower < 1 < upper < math.inf):
            raise WeightingError(
                f"method='logit' needs finite bounds with 0 <= lower < 1 < upper, got {bounds!r}."
            )
        return (lower, upper)
    if method == "logit":
        raise WeightingError(
            "method='logit' needs bounds=(lower, upper) on the ratio final / base weight, "
            "with 0 <= lower < 1 < upper (e.g. bounds=(0.5, 3.0))."
        )
    return None


def _check_bounds_feasible(
    layout: _Layout,
    d: FloatArray,
    target: FloatArray,
    bounds: tuple[float, float],
    base_total: float,
) -> None:
    """Each categorical level needs L <= target / base total <= U (a necessary condition)."""
    lower, upper = bounds
    offset = 0
    for margin in layout.margins:
        size = len(margin.targets)
        t = target[offset : offset + size]
        offset += size
        base = np.bincount(margin.unit_level, weights=d, minlength=size)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(base > 0, t / base, 1.0)
        bad = np.flatnonzero((factor < lower * (1 - 1e-12)) | (factor > upper * (1 + 1e-12)))
        if len(bad):
            i = int(bad[0])
            population = layout.target_vector[: len(layout.margins[0].targets)].sum()
            scale_hint = ""
            if population > 0 and not 0.5 < base_total / population < 2:
                scale_hint = (
                    f" (the base weights sum to {_fmt(base_total)} against a population of "
                    f"{_fmt(population)}: give base weights on the population scale, or none)"
                )
            raise WeightingError(
                f"Impossible targets: margin '{margin.name}' level {margin.labels[i]} has a "
                f"target of {_fmt(t[i])} and a base-weighted total of {_fmt(base[i])}, so its "
                f"weights must change by a factor of {factor[i]:.4g}, outside the bounds "
                f"({lower:g}, {upper:g}) on final / base weights{scale_hint}; widen the bounds "
                "or collapse this level with a neighbour."
            )


def _feasible_with_bounds(
    layout: _Layout, d: FloatArray, target: FloatArray, bounds: tuple[float, float]
) -> bool:
    """Whether some factors g in [L, U] meet every target (a linear program)."""
    from scipy import sparse
    from scipy.optimize import linprog

    use = np.flatnonzero(d > 0)
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    vals: list[FloatArray] = []
    offset = 0
    for margin in layout.margins:
        rows.append(offset + margin.unit_level[use])
        cols.append(np.arange(len(use)))
        vals.append(d[use])
        offset += len(margin.targets)
    for p in range(layout.unit_numeric.shape[1]):
        rows.append(np.full(len(use), offset + p))
        cols.append(np.arange(len(use)))
        vals.append(d[use] * layout.unit_numeric[use, p])
    scale = 1.0 + np.abs(target)
    matrix = sparse.csr_matrix(
        (
            np.concatenate(vals) / scale[np.concatenate(rows)],
            (np.concatenate(rows), np.concatenate(cols)),
        ),
        shape=(len(target), len(use)),
    )
    result = linprog(
        np.zeros(len(use)),
        A_eq=matrix,
        b_eq=target / scale,
        bounds=bounds,
        method="highs",
    )
    return bool(result.status != 2)


def _describe_error(layout: _Layout, unit_weights: FloatArray, target: FloatArray) -> str:
    errors = _rel_errors(layout, unit_weights, target)
    if not len(errors):
        return ""
    worst = int(np.argmax(errors))
    name, level = layout.labels()[worst]
    return f"margin '{name}'" + (f", level {level}" if level else "")


# ============================================================================ calibration
def _solve(
    method: str,
    layout: _Layout,
    d: FloatArray,
    target: FloatArray,
    bounds: tuple[float, float] | None,
    tol: float,
    max_iter: int,
) -> _Solution:
    if method == "poststratify":
        return _poststratify_units(layout, d, target)
    if method == "rake" and not layout.numeric_names:
        return _ipf_units(layout, d, target, tol, max_iter)
    lower, upper = bounds if bounds is not None else (-math.inf, math.inf)
    calfun = _calfun(method, lower, upper)
    if bounds is not None:
        _check_bounds_feasible(layout, d, target, bounds, float(d.sum()))
    scale = 1.0
    if bounds is None and layout.margins and d.sum() > 0:
        # Unbounded calibration with a categorical margin (the constant in the span of X) is
        # invariant to scaling d; start from d on the population scale (as R's grake does
        # for far-off weights) so Newton's method starts near the solution.
        scale = float(target[: len(layout.margins[0].targets)].sum() / d.sum())
    solution = _newton_units(layout, d * scale, target, calfun, tol, max_iter)
    solution.g = solution.g * scale
    if (
        not solution.converged
        and bounds is not None
        and not _feasible_with_bounds(layout, d, target, bounds)
    ):
        raise WeightingError(
            f"Impossible targets: no weights with final / base ratios within the bounds "
            f"({bounds[0]:g}, {bounds[1]:g}) meet all the margins together (the largest "
            f"error remains in {_describe_error(layout, d * solution.g, target)}); widen the "
            "bounds, drop a margin or collapse sparse categories."
        )
    return solution


def _trim_limits(
    trim: Trim, weights: FloatArray, base: FloatArray
) -> tuple[FloatArray, FloatArray]:
    n = len(weights)
    lower = np.zeros(n)
    upper = np.full(n, math.inf)
    reference = 1.0
    if trim.relative_to == "mean":
        reference = float(weights.mean())
    elif trim.relative_to == "median":
        reference = float(np.median(weights))
    if trim.lower is not None:
        lower = np.maximum(lower, trim.lower * reference)
    if trim.upper is not None:
        upper = np.minimum(upper, trim.upper * reference)
    if trim.ratio_lower is not None:
        lower = np.maximum(lower, trim.ratio_lower * base)
    if trim.ratio_upper is not None:
        upper = np.minimum(upper, trim.ratio_upper * base)
    return lower, upper


def _check_trim_feasible(layout: _Layout, lower: FloatArray, upper: FloatArray, trim: Trim) -> None:
    crossed = np.flatnonzero(lower > upper)
    if len(crossed):
        i = int(crossed[0])
        raise WeightingError(
            f"Trimming limits cross: {len(crossed)} respondent(s) have a lower limit above "
            f"the upper one (first: row position {i}, lower {lower[i]:.6g} > upper "
            f"{upper[i]:.6g}); the trimming limits ({trim.describe()}) cannot all hold: "
            "loosen one of them."
        )
    unit_lower = layout.unit_totals(lower)
    unit_upper = layout.unit_totals(np.where(np.isfinite(upper), upper, 0.0))
    unit_open = layout.unit_totals(np.isinf(upper).astype(np.float64))
    for margin in layout.margins:
        size = len(margin.targets)
        low = np.bincount(margin.unit_level, weights=unit_lower, minlength=size)
        high = np.bincount(margin.unit_level, weights=unit_upper, minlength=size)
        is_open = np.bincount(margin.unit_level, weights=unit_open, minlength=size) > 0
        t = margin.targets
        too_low = np.flatnonzero(~is_open & (high < t * (1 - 1e-12)))
        too_high = np.flatnonzero(low > t * (1 + 1e-12))
        for bad, side, total in ((too_low, "upper", high), (too_high, "lower", low)):
            if len(bad):
                i = int(bad[0])
                raise WeightingError(
                    f"Impossible trimming: margin '{margin.name}' level {margin.labels[i]} "
                    f"has a target of {_fmt(t[i])}, but with every respondent at the {side} "
                    f"limit its weights total {_fmt(total[i])}; loosen the {side} limit "
                    f"({trim.describe()})."
                )


def _calibrate_trimmed(
    method: str,
    layout: _Layout,
    base: FloatArray,
    target: FloatArray,
    bounds: tuple[float, float] | None,
    trim: Trim,
    tol: float,
    max_iter: int,
    first: _Solution,
) -> tuple[FloatArray, int, bool, int, int]:
    weights = base * first.g[layout.row_unit]
    iterations = first.iterations
    converged = first.converged
    held = np.zeros(layout.n, dtype=bool)
    rounds = 0
    for _ in range(trim.max_rounds + 1):
        lower, upper = _trim_limits(trim, weights, base)
        outside = (weights > upper * (1 + tol)) | (weights < lower * (1 - tol))
        if not outside.any():
            return weights, iterations, converged, int(held.sum()), rounds
        if rounds == trim.max_rounds:
            break
        _check_trim_feasible(layout, lower, upper, trim)
        rounds += 1
        held |= outside
        held_weights = np.clip(weights, lower, upper)
        held_unit = layout.unit_totals(np.where(held, held_weights, 0.0))
        free_base = layout.unit_totals(np.where(held, 0.0, base))
        remaining = target - layout.totals(held_unit)
        offset = 0
        for margin in layout.margins:
            size = len(margin.targets)
            rest = remaining[offset : offset + size]
            free = np.bincount(margin.unit_level, weights=free_base, minlength=size)
            scale = 1.0 + np.abs(margin.targets)
            stuck = np.flatnonzero(
                ((free == 0) & (np.abs(rest) > tol * scale)) | (rest < -tol * scale)
            )
            if len(stuck):
                i = int(stuck[0])
                raise WeightingError(
                    f"Impossible trimming: margin '{margin.name}' level {margin.labels[i]} "
                    f"cannot reach its target of {_fmt(margin.targets[i])} with the weights "
                    f"held at the trimming limits ({trim.describe()}): the others would need "
                    f"a total of {_fmt(rest[i])}; loosen the limits."
                )
            offset += size
        solution = _solve(method, layout, free_base, remaining, bounds, tol, max_iter)
        iterations += solution.iterations
        converged = solution.converged
        weights = np.where(held, held_weights, base * solution.g[layout.row_unit])
    return weights, iterations, False, int(held.sum()), rounds


def calibrate(
    data: pd.DataFrame,
    targets: Targets,
    *,
    weights: str | ArrayLike | None = None,
    method: Method = "rake",
    bounds: tuple[float, float] | None = None,
    trim: Trim | None = None,
    tol: float = 1e-7,
    max_iter: int = 100,
    on_nonconvergence: Literal["warn", "raise"] = "warn",
) -> CalibrationResult:
    """Calibrate survey weights to population targets.

    Parameters
    ----------
    data
        One row per respondent, with a column for every variable the targets name.
    targets
        Population totals (:func:`analysis.targets.census_targets`,
        :meth:`analysis.targets.Targets.read_csv`).
    weights
        Base (design) weights: a column name, an array aligned to the rows, or ``None`` for
        equal weights ``N / n`` (N = the targets' population total, n = rows).
    method
        ``"poststratify"``: one margin of joint cells, each scaled to its total (R's
        ``postStratify``). ``"rake"``: iterative proportional fitting on several margins,
        crossed margins allowed (R's ``rake``); with numeric variables, Newton's method on
        the raking distance (R's ``calibrate(calfun = "raking")``, which IPF equals at
        convergence). ``"linear"``: GREG, chi-square distance, categorical and numeric
        variables (R's ``calibrate(calfun = "linear")``), bounded with ``bounds``.
        ``"logit"``: bounded logit distance, ``bounds`` required (``calfun = "logit"``).
    bounds
        ``(lower, upper)`` limits on each ratio final / base weight, for ``"linear"`` and
        ``"logit"`` (an error with the other methods).
    trim
        Limits on the final weights, enforced by trimming and re-calibrating (:class:`Trim`).
    tol
        Convergence tolerance on the largest relative margin error
        :math:`|\\hat t - t| / (1 + |t|)` (and the relative slack on ``trim`` limits).
    max_iter
        Most IPF sweeps or Newton steps (post-stratification is closed-form).
    on_nonconvergence
        ``"warn"`` (a :class:`~analysis.errors.ConvergenceWarning`, and the last iterate is
        returned with ``converged=False``) or ``"raise"`` (a ``WeightingError``).

    Returns
    -------
    CalibrationResult
        Weights aligned to ``data``, the :class:`~analysis.design.CalibrationModel` and the
        diagnostics.

    Raises
    ------
    WeightingError
        Unknown columns, missing values, categories without targets, empty cells, bad base
        weights, options the method does not support, impossible targets or limits.

    Notes
    -----
    With base weights :math:`d_i` and calibration variables :math:`x_i` (dummies of each
    margin's levels and numeric columns), the calibrated weights are
    :math:`w_i = d_i F(x_i'\\lambda)` with :math:`\\lambda` solving
    :math:`\\sum_i w_i x_i = t` (Deville and Särndal 1992): :math:`F(u) = 1 + u` for linear
    (GREG; truncated to ``bounds``), :math:`F(u) = e^u` for raking, and for logit with bounds
    :math:`(L, U)`, :math:`F(u) = (L(U-1) + U(1-L)e^{Au}) / (U - 1 + (1-L)e^{Au})`,
    :math:`A = (U-L)/((U-1)(1-L))`. Post-stratification is
    :math:`w_i = d_i T_c / \\sum_{j \\in c} d_j` in cell :math:`c`.

    The data enter only through the sums of :math:`d_i` over the joint cells of the
    categorical variables (and distinct numeric values within cells), so the solver works
    on that small table: IPF sweeps are ``bincount`` over cells; Newton steps (as R's
    ``grake``, with a line search on the dual objective) build :math:`X'DX` block-wise.

    Trimming: see :class:`Trim`.

    References: Deville, J.-C. and Särndal, C.-E. (1992), Calibration estimators in survey
    sampling, JASA 87, 376-382. Lumley, T. (2010), Complex Surveys, ch. 7, Wiley.
    """
    if not isinstance(data, pd.DataFrame):
        raise WeightingError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
    if not isinstance(targets, Targets):
        raise WeightingError(
            f"targets must be an analysis.targets.Targets, got {type(targets).__name__}; "
            "build one with census_targets() or Targets.read_csv()."
        )
    if trim is not None and not isinstance(trim, Trim):
        raise WeightingError(f"trim must be a Trim(...) or None, got {type(trim).__name__}.")
    checked_bounds = _check_options(method, targets, bounds, tol, max_iter, on_nonconvergence)
    if len(data) == 0:
        raise WeightingError("The data have no rows; there is nothing to weight.")
    population = targets.total
    if population is None:
        if weights is None:
            raise WeightingError(
                "The targets have numeric totals only, so there is no population count to "
                "spread equal base weights over; give base weights or a categorical margin."
            )
        population = 0.0
    base = _base_weights(data, weights, population)
    layout = _layout(data, targets, base)
    target = layout.target_vector
    unit_base = layout.unit_totals(base)

    solution = _solve(method, layout, unit_base, target, checked_bounds, tol, max_iter)
    iterations, converged = solution.iterations, solution.converged
    trimmed = rounds = 0
    if trim is not None:
        final, iterations, converged, trimmed, rounds = _calibrate_trimmed(
            method, layout, base, target, checked_bounds, trim, tol, max_iter, solution
        )
    else:
        final = base * solution.g[layout.row_unit]

    unit_final = layout.unit_totals(final)
    achieved = layout.totals(unit_final)
    base_totals = layout.totals(unit_base)
    counts = layout.totals(np.bincount(layout.row_unit, minlength=layout.n_units).astype(float))
    rel = np.abs(achieved - target) / (1.0 + np.abs(target))
    max_error = float(rel.max(initial=0.0))
    labels = layout.labels()
    margins = pd.DataFrame(
        {
            "margin": [name for name, _ in labels],
            "level": [level for _, level in labels],
            "target": target,
            "achieved": achieved,
            "base": base_totals,
            "n": [
                int(c) if level else layout.n for (_, level), c in zip(labels, counts, strict=True)
            ],
            "error": achieved - target,
            "rel_error": rel,
        }
    )
    if method == "poststratify":
        name = next(iter(targets.margins))
        model = CalibrationModel(
            categorical=tuple(p.strip() for p in name.split("*")),
            interaction=True,
            method="poststratify",
        )
    else:
        # R distinguishes rake() (iterative post-stratification, categorical margins) from
        # calibrate(calfun = "raking"), which numeric variables need; estimation computes the
        # standard errors of each the way R does.
        model_method = "raking" if method == "rake" and targets.numeric else method
        model = CalibrationModel(
            categorical=tuple(targets.margins),
            numeric=tuple(targets.numeric),
            interaction=False,
            method=cast(Any, model_method),
        )
    if not converged:
        where = _describe_error(layout, unit_final, target)
        fixes = ["raise max_iter"]
        if checked_bounds is not None:
            fixes.append("widen the bounds")
        if trim is not None:
            fixes.append("loosen the trimming limits or raise Trim.max_rounds")
        fixes.append("collapse sparse categories")
        if max_error < tol:
            problem = (
                f"some weights are still outside the trimming limits ({trim.describe()}) "
                f"after {rounds} rounds"
                if trim is not None
                else "no progress"
            )
        else:
            problem = (
                f"the largest relative margin error is {max_error:.3g} ({where}), above tol={tol:g}"
            )
        message = (
            f"Calibration (method='{method}') did not converge in {iterations} iterations: "
            f"{problem}; {', '.join(fixes[:-1])} or {fixes[-1]}."
        )
        if on_nonconvergence == "raise":
            raise WeightingError(message)
        warnings.warn(message, ConvergenceWarning, stacklevel=2)
    return CalibrationResult(
        weights=final,
        base_weights=base,
        model=model,
        targets=targets,
        iterations=iterations,
        converged=converged,
        max_margin_error=max_error,
        margins=margins,
        cells=layout.row_cell if not layout.numeric_names else None,
        bounds=checked_bounds,
        trim=trim,
        trimmed=trimmed,
        trim_rounds=rounds,
    )


# ============================================================================ verbs
def poststratify(
    data: pd.DataFrame,
    targets: Targets,
    *,
    weights: str | ArrayLike | None = None,
    trim: Trim | None = None,
    tol: float = 1e-7,
    on_nonconvergence: Literal["warn", "raise"] = "warn",
) -> CalibrationResult:
    """Post-stratify: scale the weights of each joint cell to its population total.

    ``calibrate(..., method="poststratify")``; like R's ``postStratify()``. ``targets`` must
    hold one margin, the joint cells (e.g. ``"province*sex*age_band*urban"``).
    """
    return calibrate(
        data,
        targets,
        weights=weights,
        method="poststratify",
        trim=trim,
        tol=tol,
        on_nonconvergence=on_nonconvergence,
    )


def rake(
    data: pd.DataFrame,
    targets: Targets,
    *,
    weights: str | ArrayLike | None = None,
    trim: Trim | None = None,
    tol: float = 1e-7,
    max_iter: int = 100,
    on_nonconvergence: Literal["warn", "raise"] = "warn",
) -> CalibrationResult:
    """Rake: fit several (possibly crossed) margins by iterative proportional fitting.

    ``calibrate(..., method="rake")``; like R's ``rake()`` run to convergence, and equal to
    ``calibrate(calfun = "raking")`` there.
    """
    return calibrate(
        data,
        targets,
        weights=weights,
        method="rake",
        trim=trim,
        tol=tol,
        max_iter=max_iter,
        on_nonconvergence=on_nonconvergence,
    )


def linear_calibrate(
    data: pd.DataFrame,
    targets: Targets,
    *,
    weights: str | ArrayLike | None = None,
    bounds: tuple[float, float] | None = None,
    trim: Trim | None = None,
    tol: float = 1e-7,
    max_iter: int = 100,
    on_nonconvergence: Literal["warn", "raise"] = "warn",
) -> CalibrationResult:
    """GREG (linear) calibration on categorical and numeric totals, optionally bounded.

    ``calibrate(..., method="linear")``; like R's ``calibrate(calfun = "linear")``.
    """
    return calibrate(
        data,
        targets,
        weights=weights,
        method="linear",
        bounds=bounds,
        trim=trim,
        tol=tol,
        max_iter=max_iter,
        on_nonconvergence=on_nonconvergence,
    )


def trim_weights(
    weights: ArrayLike,
    *,
    lower: float | None = None,
    upper: float | None = None,
    relative_to: Literal["absolute", "mean", "median"] = "absolute",
    strict: bool = False,
) -> FloatArray:
    """Cap weights and share the trimmed amount equally among the others (R's ``trimWeights``).

    Parameters
    ----------
    weights
        The weights.
    lower, upper
        Limits: absolute, or multiples of the mean or median of ``weights`` (``relative_to``).
    relative_to
        ``"absolute"``, ``"mean"`` or ``"median"``.
    strict
        Repeat until no weight is outside the limits (the shares added may push weights over
        a limit); R's ``strict = TRUE``.

    Returns
    -------
    ndarray
        The trimmed weights; their sum equals the input's.

    Notes
    -----
    With :math:`O` the weights outside :math:`[l, u]`, :math:`w_i' = \\min(u, \\max(l, w_i))`
    for :math:`i \\in O`, and :math:`w_i' = w_i + \\sum_{j \\in O}(w_j - w_j') / |O^c|` for the
    others (Lumley, ``survey::trimWeights``). The margins are not re-calibrated: for that,
    pass ``trim=Trim(...)`` to :func:`calibrate`.
    """
    try:
        w = np.asarray(weights, dtype=np.float64).reshape(-1).copy()
    except (TypeError, ValueError) as exc:
        raise WeightingError(f"trim_weights: weights must be numbers: {exc}") from exc
    if not len(w) or not np.all(np.isfinite(w)):
        raise WeightingError("trim_weights: weights must be a non-empty array of finite numbers.")
    if relative_to not in _RELATIVE_TO:
        raise WeightingError(
            f"trim_weights: relative_to must be one of {', '.join(map(repr, _RELATIVE_TO))}, "
            f"got {relative_to!r}."
        )
    for name, value in (("lower", lower), ("upper", upper)):
        if value is not None and not (_is_number(value) and math.isfinite(value)):
            raise WeightingError(f"trim_weights: {name} must be a number or None, got {value!r}.")
    if lower is None and upper is None:
        raise WeightingError("trim_weights: give lower, upper or both.")
    reference = 1.0
    if relative_to == "mean":
        reference = float(w.mean())
    elif relative_to == "median":
        reference = float(np.median(w))
    low = -math.inf if lower is None else lower * reference
    high = math.inf if upper is None else upper * reference
    if low >= high:
        raise WeightingError(
            f"trim_weights: the lower limit ({low:g}) must be below the upper limit ({high:g})."
        )
    if low * len(w) > w.sum() or high * len(w) < w.sum():
        raise WeightingError(
            f"trim_weights: limits ({low:g}, {high:g}) cannot hold for {len(w)} weights that "
            f"sum to {w.sum():g} (their mean {w.mean():g} must lie within the limits); loosen "
            "them."
        )
    for _ in range(10_000):
        outside = (w < low) | (w > high)
        if not outside.any():
            return w
        clipped = np.clip(w, low, high)
        excess = float(np.sum(w - clipped))
        w = clipped
        inside = ~outside
        if not inside.any():
            raise WeightingError(
                f"trim_weights: every weight is outside the limits ({low:g}, {high:g}), so "
                "the trimmed amount has nowhere to go; loosen the limits."
            )
        w[inside] += excess / int(inside.sum())
        if not strict:
            return w
    raise WeightingError(
        "trim_weights: strict trimming did not settle within 10,000 passes; loosen the limits."
    )
