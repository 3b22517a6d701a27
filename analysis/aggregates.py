"""Domain means from small tables: sums by calibration cell and domain atom, then numpy.

The dashboards ask for the same few means (the index and its dimensions) over and over, for
one domain after another: the whole sample, a province, women aged 25-34 in the East... With a
million respondents, :func:`analysis.estimation.estimate_mean` scans every row for each
question. Here the rows are scanned once: :func:`aggregate` sums each outcome by *atom* (one
combination of the calibration cell and the domain columns: province, sex, age group ...), and
:func:`mean_by_domain` answers any domain that is a union of atoms, by any of those columns,
from that table of a few thousand rows (see ``/work/shared/design/estimation-on-small-tables.md``).

Scope: a design whose primary sampling units are the respondents themselves (no strata, no
clusters, no fpc: an online sample) with weights raked (R's ``rake()``) or post-stratified
(``postStratify()``) on categorical margins, or no calibration (unweighted: equal weights).
For other designs use :mod:`analysis.estimation`. The results equal ``estimate_mean`` on the
same design with ``by=`` and the domain coded as missing outside it (checked in the tests, and
against R's ``svyby(..., subset(design, ...), svymean)``).

The algebra
-----------
For the domain-by-group :math:`g` and an outcome :math:`y`, the mean is
:math:`\\bar y_g = \\sum_{i \\in g} w_i y_i / \\hat N_g` with influence values
:math:`z_i = 1_{i \\in g}(y_i - \\bar y_g)/\\hat N_g`. Calibration replaces them by residuals
:math:`e_i = z_i - a_{c(i)}`, where :math:`a_c` depends on the cell only: for ``rake()`` ten
back-fitting sweeps of the margins' unweighted means of :math:`z` (R's ``svyrecvar``), for
``postStratify()`` the weighted cell mean of :math:`z`. With each respondent a PSU,

.. math::

    \\hat V = \\frac{n}{n-1}\\Big(\\sum_i w_i^2 e_i^2 - \\big(\\sum_i w_i e_i\\big)^2/n\\Big),

and every term is a cell sum of the moments :math:`1, y, w, wy, wy^2, w^2, w^2y, w^2y^2` of
the domain's rows plus the cell totals :math:`\\sum w`, :math:`\\sum w^2` and the cell sizes
over the whole sample (the rows outside the domain contribute :math:`-w_i a_c`). So a domain
keeps the whole sample for its variance, as R's ``svyby`` on a ``subset()`` does.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from analysis.design import CalibrationModel
from analysis.errors import EstimationError
from analysis.linearization import t_quantile as _t_quantile
from analysis.results import Estimate, Estimates, precision_flags

__all__ = ["MOMENTS", "Aggregates", "aggregate", "count_by_domain", "mean_by_domain"]

#: The sums kept per atom and outcome, over the rows where the outcome is present.
MOMENTS: tuple[str, ...] = ("n", "y", "w", "wy", "wy2", "w2", "w2y", "w2y2")
_RAKE_SWEEPS = 10  # as R's svyrecvar (see analysis.linearization)
_ROUNDING = 1e-11  # relative size of rounding error in a sum of cancelling moments
_SUPPORTED = ("rake", "poststratify")

IntArray = np.ndarray
FloatArray = np.ndarray


@dataclass(frozen=True, eq=False)
class _Rows:
    """Row-level arrays kept to re-aggregate over a subset of rows (:meth:`Aggregates.within`)."""

    atom: IntArray  # (n,) atom of each row
    w: FloatArray  # (n,)
    y: FloatArray  # (n, J) outcomes minus their shift, NaN where missing


@dataclass(frozen=True, eq=False)
class Aggregates:
    """Sums of a sample's outcomes by atom (calibration cell x domain columns).

    Build with :func:`aggregate`; query with :func:`mean_by_domain` and :func:`count_by_domain`.

    Attributes
    ----------
    outcomes
        The outcome columns summed, in order.
    keys
        One row per atom: the value of each domain column (missing where the row's is).
    sums
        ``(atoms, outcomes, len(MOMENTS))``: the :data:`MOMENTS` of each outcome (minus its
        ``shift``) over the atom's rows in the row domain where the outcome is present.
    rows, weight
        Rows of each atom in the row domain, and their weight total (outcome or not).
    atom_cell
        Calibration cell of each atom.
    cell_rows, cell_weight, cell_weight2
        Rows, :math:`\\sum w` and :math:`\\sum w^2` of each calibration cell over the whole
        sample (not only the row domain).
    margins
        For raking: each margin's level of every cell, in the calibration's margin order.
    method
        ``"rake"``, ``"poststratify"`` or ``None`` (no calibration).
    shift
        Subtracted from each outcome before summing (its mean over the sample), for precision.
    n
        Rows of the sample (the design's PSUs).
    weighted
        Whether weights were given (``False``: every weight is 1).
    row_domain
        True when the sums cover only part of the sample's rows (:meth:`within`).
    """

    outcomes: tuple[str, ...]
    keys: pd.DataFrame
    sums: FloatArray
    rows: FloatArray
    weight: FloatArray
    atom_cell: IntArray
    cell_rows: FloatArray
    cell_weight: FloatArray
    cell_weight2: FloatArray
    margins: tuple[IntArray, ...]
    method: str | None
    shift: FloatArray
    n: int
    weighted: bool
    row_domain: bool = False
    _rows: _Rows | None = None

    @property
    def n_atoms(self) -> int:
        """Number of atoms (rows of the table)."""
        return len(self.keys)

    def within(self, rows: slice | np.ndarray) -> Aggregates:
        """The same table summed over some rows only (a domain of rows, e.g. a date range).

        The cell totals stay those of the whole sample, so domain estimates from the result
        keep the whole sample for their variance.

        Parameters
        ----------
        rows
            A slice of row positions, an array of positions, or a boolean mask over the rows
            of the data given to :func:`aggregate`.
        """
        source = self._rows
        if source is None:
            raise EstimationError(
                "These aggregates keep no row data (keep_rows=False); aggregate again with "
                "keep_rows=True to restrict them to some rows."
            )
        atom = source.atom[rows]
        sums, counts, weight = _atom_sums(atom, source.w[rows], source.y[rows], self.n_atoms)
        return replace(self, sums=sums, rows=counts, weight=weight, row_domain=True)


# --------------------------------------------------------------------------------------------
# Building the table


def _codes(series: pd.Series) -> tuple[IntArray, pd.Index]:
    """Codes 0..k-1 in sorted order (category order for a categorical), -1 for missing."""
    codes, uniques = pd.factorize(series, sort=True)
    return np.asarray(codes, dtype=np.int64), pd.Index(uniques)


def _combine(columns: Sequence[IntArray], n: int) -> tuple[IntArray, IntArray]:
    """Dense joint codes (in sorted order of the tuples) of non-negative code columns, and the
    first row of each joint code."""
    if not columns:
        return np.zeros(n, dtype=np.int64), np.zeros(min(n, 1), dtype=np.int64)
    sizes = [int(c.max()) + 1 if len(c) else 1 for c in columns]
    if math.prod(sizes) < 2**62:
        key = np.zeros(n, dtype=np.int64)
        for codes, size in zip(columns, sizes, strict=True):
            key = key * size + codes
        _, first, joint = np.unique(key, return_index=True, return_inverse=True)
    else:
        stacked = np.column_stack(columns)
        _, first, joint = np.unique(stacked, axis=0, return_index=True, return_inverse=True)
    return np.asarray(joint, dtype=np.int64).reshape(-1), np.asarray(first, dtype=np.int64)


def _atom_sums(
    atom: IntArray, w: FloatArray, y: FloatArray, n_atoms: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    n_out = y.shape[1]
    sums = np.zeros((n_atoms, n_out, len(MOMENTS)))
    w2 = w * w
    for j in range(n_out):
        values = y[:, j]
        present = ~np.isnan(values)
        if present.all():
            v, a, wv, w2v = values, atom, w, w2
            sums[:, j, 0] = np.bincount(a, minlength=n_atoms)
        else:
            v, a, wv, w2v = values[present], atom[present], w[present], w2[present]
            sums[:, j, 0] = np.bincount(a, minlength=n_atoms)
        wy = wv * v
        w2y = w2v * v
        sums[:, j, 1] = np.bincount(a, weights=v, minlength=n_atoms)
        sums[:, j, 2] = np.bincount(a, weights=wv, minlength=n_atoms)
        sums[:, j, 3] = np.bincount(a, weights=wy, minlength=n_atoms)
        sums[:, j, 4] = np.bincount(a, weights=wy * v, minlength=n_atoms)
        sums[:, j, 5] = np.bincount(a, weights=w2v, minlength=n_atoms)
        sums[:, j, 6] = np.bincount(a, weights=w2y, minlength=n_atoms)
        sums[:, j, 7] = np.bincount(a, weights=w2y * v, minlength=n_atoms)
    counts = np.bincount(atom, minlength=n_atoms).astype(np.float64)
    weight = np.bincount(atom, weights=w, minlength=n_atoms)
    return sums, counts, weight


def _check_column(data: pd.DataFrame, name: str, role: str) -> pd.Series:
    if name not in data.columns:
        raise EstimationError(
            f"aggregate: the {role} column {name!r} is not in the data; columns available: "
            f"{', '.join(map(str, list(data.columns)[:20]))}."
        )
    return data[name]


def aggregate(
    data: pd.DataFrame,
    outcomes: str | Sequence[str],
    *,
    keys: Sequence[str] = (),
    weights: str | None = None,
    calibration: CalibrationModel | None = None,
    keep_rows: bool = True,
) -> Aggregates:
    """Sum a sample's outcomes by calibration cell and domain columns, in one pass.

    Parameters
    ----------
    data
        The sample: one row per respondent, every respondent a primary sampling unit.
    outcomes
        Numeric columns to estimate means of (missing values allowed).
    keys
        Domain columns (categorical): the columns :func:`mean_by_domain` can select on
        (``where``) and group by (``by``). A missing value is its own key (the row belongs to
        no group of that column).
    weights
        Column of (calibrated) weights, all positive; ``None`` for equal weights of 1 (an
        unweighted analysis).
    calibration
        What the weights were calibrated on (``CalibrationResult.model``): a ``"rake"`` or
        ``"poststratify"`` model on categorical margins. ``None``: no calibration.
    keep_rows
        Keep the row-level arrays (about ``8 (outcomes + 2)`` bytes a row) so that
        :meth:`Aggregates.within` can re-sum over a subset of rows.

    Returns
    -------
    Aggregates

    Raises
    ------
    EstimationError
        A column is missing or of the wrong type, weights are not positive, a calibration
        variable has missing values, or the calibration method is not supported.

    Notes
    -----
    Cost: one factorisation of each key and calibration column and ``8 x outcomes``
    ``numpy.bincount`` calls over the rows; the table has one row per observed combination
    of calibration cell and keys.
    """
    if not isinstance(data, pd.DataFrame):
        raise EstimationError(f"aggregate: data must be a DataFrame, not {type(data).__name__}.")
    outcome_list = [outcomes] if isinstance(outcomes, str) else list(outcomes)
    if not outcome_list:
        raise EstimationError("aggregate: name at least one outcome column.")
    n = len(data)
    if n < 2:
        raise EstimationError(f"aggregate: the sample has {n} row(s); estimates need two.")
    y = np.empty((n, len(outcome_list)))
    shift = np.zeros(len(outcome_list))
    for j, name in enumerate(outcome_list):
        series = _check_column(data, name, "outcome")
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            raise EstimationError(
                f"aggregate: outcome {name!r} is {series.dtype}, not numeric; convert it first."
            )
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isinf(values).any():
            raise EstimationError(f"aggregate: outcome {name!r} has infinite values.")
        present = ~np.isnan(values)
        shift[j] = float(values[present].mean()) if present.any() else 0.0
        y[:, j] = values - shift[j]
    if weights is None:
        w = np.ones(n)
    else:
        series = _check_column(data, weights, "weights")
        w = np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
        if not (np.isfinite(w) & (w > 0)).all():
            raise EstimationError(
                f"aggregate: the weights column {weights!r} has missing, infinite or "
                "non-positive values; every respondent of the sample needs a positive weight "
                "(leave the others out of the sample)."
            )
    key_codes: list[IntArray] = []
    key_levels: list[pd.Index] = []
    for name in keys:
        codes, levels = _codes(_check_column(data, name, "key"))
        key_codes.append(codes)
        key_levels.append(levels)

    method: str | None = None
    margins: tuple[IntArray, ...] = ()
    if calibration is not None:
        if not isinstance(calibration, CalibrationModel):
            raise EstimationError(
                f"aggregate: calibration must be a CalibrationModel, not "
                f"{type(calibration).__name__}."
            )
        if calibration.method not in _SUPPORTED or calibration.numeric:
            raise EstimationError(
                f"aggregate: calibration method {calibration.method!r}"
                f"{' with numeric variables' if calibration.numeric else ''} is not supported "
                "here (only 'rake' and 'poststratify' on categorical margins); use "
                "analysis.estimation.estimate_mean with a Design."
            )
        if weights is None:
            raise EstimationError("aggregate: a calibration needs the calibrated weights.")
        method = "poststratify" if calibration.interaction else calibration.method
        variables = list(calibration.variables)
        var_codes = []
        for name in variables:
            codes, _ = _codes(_check_column(data, name, "calibration"))
            if (codes < 0).any():
                raise EstimationError(
                    f"aggregate: the calibration column {name!r} has "
                    f"{int((codes < 0).sum())} missing value(s); every respondent of a "
                    "calibrated sample has a calibration cell."
                )
            var_codes.append(codes)
        cell, first = _combine(var_codes, n)
        cell_values = [codes[first] for codes in var_codes]
        if method == "rake":
            margin_list = []
            for term in calibration.categorical:
                parts = [p.strip() for p in term.split("*")]
                level, _ = _combine([cell_values[variables.index(p)] for p in parts], len(first))
                margin_list.append(level)
            margins = tuple(margin_list)
    else:
        cell = np.zeros(n, dtype=np.int64)
    n_cells = int(cell.max()) + 1
    cell_rows = np.bincount(cell, minlength=n_cells).astype(np.float64)
    cell_weight = np.bincount(cell, weights=w, minlength=n_cells)
    cell_weight2 = np.bincount(cell, weights=w * w, minlength=n_cells)

    atom, first_row = _combine([cell, *(c + 1 for c in key_codes)], n)
    n_atoms = len(first_row)
    sums, counts, weight = _atom_sums(atom, w, y, n_atoms)
    key_frame = pd.DataFrame(
        {
            name: data[name].iloc[first_row].reset_index(drop=True)
            for name in keys
        }
    )
    return Aggregates(
        outcomes=tuple(outcome_list),
        keys=key_frame,
        sums=sums,
        rows=counts,
        weight=weight,
        atom_cell=cell[first_row],
        cell_rows=cell_rows,
        cell_weight=cell_weight,
        cell_weight2=cell_weight2,
        margins=margins,
        method=method,
        shift=shift,
        n=n,
        weighted=weights is not None,
        _rows=_Rows(atom=atom, w=w, y=y) if keep_rows else None,
    )


# --------------------------------------------------------------------------------------------
# Queries


def _selection(agg: Aggregates, where: Mapping[str, Collection[Any]] | np.ndarray | None) -> Any:
    """Boolean mask over atoms: those in the domain ``where`` describes."""
    if where is None:
        return np.ones(agg.n_atoms, dtype=bool)
    if isinstance(where, np.ndarray):
        if where.shape != (agg.n_atoms,) or where.dtype != bool:
            raise EstimationError(
                f"where must be a boolean array over the {agg.n_atoms} atoms or a mapping of "
                "key column -> allowed values."
            )
        return where
    mask = np.ones(agg.n_atoms, dtype=bool)
    for name, allowed in where.items():
        if name not in agg.keys.columns:
            raise EstimationError(
                f"where: {name!r} is not a key of these aggregates (keys: "
                f"{', '.join(map(str, agg.keys.columns))}); aggregate with it in keys."
            )
        if isinstance(allowed, str) or not isinstance(allowed, Collection):
            raise EstimationError(
                f"where: the values allowed for {name!r} must be a list of values, not "
                f"{allowed!r}."
            )
        mask &= agg.keys[name].isin(list(allowed)).to_numpy(dtype=bool)
    return mask


def _groups(
    agg: Aggregates, by: Sequence[str], selected: np.ndarray
) -> tuple[IntArray, list[dict[str, object]]]:
    """Group of each atom (-1: outside the domain or missing a ``by`` value) and the labels of
    the groups with rows in the domain, in sorted order."""
    group = np.full(agg.n_atoms, -1, dtype=np.int64)
    inside = selected & (agg.rows > 0)
    if not by:
        group[inside] = 0
        return group, [{}] if inside.any() else []
    codes = []
    levels = []
    for name in by:
        if name not in agg.keys.columns:
            raise EstimationError(
                f"by: {name!r} is not a key of these aggregates (keys: "
                f"{', '.join(map(str, agg.keys.columns))}); aggregate with it in keys."
            )
        c, lv = _codes(agg.keys[name])
        codes.append(c)
        levels.append(lv)
    ok = inside.copy()
    for c in codes:
        ok &= c >= 0
    if not ok.any():
        return group, []
    joint, first = _combine([c[ok] for c in codes], int(ok.sum()))
    group[ok] = joint
    index = np.flatnonzero(ok)[first]
    labels = [
        {name: _native(levels[k][codes[k][i]]) for k, name in enumerate(by)} for i in index
    ]
    return group, labels


@functools.lru_cache(maxsize=256)
def t_quantile(probability: float, df: float) -> float:
    """Student's t quantile (cached: the dashboards ask for the same few again and again)."""
    return _t_quantile(probability, df)


def _native(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def _rake_adjust(agg: Aggregates, u: FloatArray) -> FloatArray:
    """R's back-fitting of the raking margins on the cell sums ``u`` of the influence values."""
    u = u.copy()
    adjust = np.zeros_like(u)
    count = agg.cell_rows
    indicators = []
    for codes in agg.margins:
        levels = int(codes.max()) + 1
        indicator = (codes[None, :] == np.arange(levels)[:, None]).astype(np.float64)
        indicators.append((codes, indicator, indicator @ count))
    for _ in range(_RAKE_SWEEPS):
        for codes, indicator, m_count in indicators:
            step = ((indicator @ u) / m_count[:, None])[codes]
            u -= count[:, None] * step
            adjust += step
    return adjust


def mean_by_domain(
    agg: Aggregates,
    variables: str | Sequence[str] | None = None,
    *,
    by: str | Sequence[str] | None = None,
    where: Mapping[str, Collection[Any]] | np.ndarray | None = None,
    alpha: float = 0.05,
    df: float | None = None,
    min_n: int = 30,
    max_cv: float = 0.3,
) -> Estimates:
    """Means of outcomes in a domain, overall or by group, with linearised standard errors.

    Parameters
    ----------
    agg
        The sums (:func:`aggregate`, possibly :meth:`Aggregates.within` some rows).
    variables
        Outcomes to estimate (default: all of ``agg.outcomes``).
    by
        Key column(s) to group by: one estimate per group with rows in the domain (rows
        missing a ``by`` value belong to no group).
    where
        The domain: key column -> allowed values (all columns must hold), or a boolean mask
        over the atoms; ``None`` for the whole sample (or the row domain).
    alpha, df, min_n, max_cv
        As :func:`analysis.estimation.estimate_mean`; ``df`` defaults to the design's,
        ``n - 1``.

    Returns
    -------
    Estimates
        One per group and variable (group-major), as ``estimate_mean`` gives them.

    Notes
    -----
    See the module docstring for the formulas. The design effect is R's ``deff=TRUE``: NaN
    when the group's weights sum to less than its size, infinite when they sum to exactly its
    size (unweighted: the reference variance, of a census, is 0), as ``estimate_mean`` gives.
    """
    if not isinstance(agg, Aggregates):
        raise EstimationError(f"agg must be Aggregates, not {type(agg).__name__}.")
    if not 0 < alpha < 1:
        raise EstimationError(f"alpha must be between 0 and 1 (0.05 for 95%), not {alpha}.")
    if min_n < 0 or not max_cv > 0:
        raise EstimationError("min_n must be >= 0 and max_cv > 0.")
    names = list(agg.outcomes) if variables is None else (
        [variables] if isinstance(variables, str) else list(variables)
    )
    unknown = [v for v in names if v not in agg.outcomes]
    if unknown:
        raise EstimationError(
            f"{', '.join(map(repr, unknown))} not among the aggregated outcomes "
            f"({', '.join(agg.outcomes)})."
        )
    by_list = [] if by is None else ([by] if isinstance(by, str) else list(by))
    selected = _selection(agg, where)
    group, labels = _groups(agg, by_list, selected)
    n_groups = len(labels)
    dof = float(agg.n - 1) if df is None else float(df)
    if n_groups == 0:
        return Estimates((), alpha=alpha)
    cols = [agg.outcomes.index(v) for v in names]
    n_out = len(cols)
    n_cells = len(agg.cell_rows)
    inside = group >= 0
    gc = group[inside] * n_cells + agg.atom_cell[inside]
    moments = agg.sums[inside][:, cols, :].reshape(int(inside.sum()), -1)
    size = n_groups * n_cells
    scatter = sparse.csr_matrix(
        (np.ones(len(gc)), (gc, np.arange(len(gc)))), shape=(size, len(gc))
    )
    table = np.asarray(scatter @ moments)
    # (cells, groups, outcomes, moments)
    table = table.reshape(n_groups, n_cells, n_out, len(MOMENTS)).transpose(1, 0, 2, 3)
    m = {name: table[..., k] for k, name in enumerate(MOMENTS)}
    total = {name: m[name].sum(axis=0) for name in MOMENTS}  # (groups, outcomes)
    with np.errstate(invalid="ignore", divide="ignore"):
        big_n = total["w"]
        ybar = total["wy"] / big_n
        u = (m["y"] - ybar * m["n"]) / big_n
        wz = (m["wy"] - ybar * m["w"]) / big_n
        w2z = (m["w2y"] - ybar * m["w2"]) / big_n
        w2z2 = (m["w2y2"] - 2 * ybar * m["w2y"] + ybar * ybar * m["w2"]) / (big_n * big_n)
    width = n_groups * n_out
    if agg.method == "rake":
        a = _rake_adjust(agg, np.nan_to_num(u).reshape(n_cells, width)).reshape(u.shape)
    elif agg.method == "poststratify":
        a = np.nan_to_num(wz) / agg.cell_weight[:, None, None]
    else:
        a = np.zeros_like(u)
    cw = agg.cell_weight[:, None, None]
    cw2 = agg.cell_weight2[:, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        sum_t = (wz - a * cw).sum(axis=0)
        sum_t2 = (w2z2 - 2 * a * w2z + a * a * cw2).sum(axis=0)
        # Size of the terms that cancel in sum_t2: a variance below rounding error of it
        # (a domain of one respondent, a constant outcome) is zero.
        scale = ((np.abs(m["w2y2"]) + 2 * np.abs(ybar * m["w2y"]) + ybar * ybar * m["w2"])
                 / (big_n * big_n) + 2 * np.abs(a * w2z) + a * a * cw2).sum(axis=0)
        n_all = float(agg.n)
        variance = n_all / (n_all - 1) * (sum_t2 - sum_t * sum_t / n_all)
        variance = np.where(variance > _ROUNDING * scale, variance, 0.0)
        s0, nd = total["w"], total["n"]
        ssq = total["wy2"] - total["wy"] ** 2 / s0
        ssq = np.where(np.abs(ssq) > _ROUNDING * (np.abs(total["wy2"]) + total["wy"] ** 2 / s0),
                       ssq, 0.0)  # a constant outcome in the group
        vsrs = ssq / s0 * nd / (nd - 1) * (s0 - nd) / (s0 * nd)
        vsrs = np.where((s0 >= nd) & (nd > 1), vsrs, np.nan)
        deff = variance / vsrs
        estimate = ybar + agg.shift[cols][None, :]
    t = t_quantile(1 - alpha / 2, dof)
    items = []
    for g, label in enumerate(labels):
        for k, name in enumerate(names):
            est = float(estimate[g, k])
            se = math.sqrt(float(variance[g, k])) if np.isfinite(variance[g, k]) else math.nan
            count = int(nd[g, k])
            cv = (math.inf if se > 0 else math.nan) if est == 0 else se / abs(est)
            items.append(
                Estimate(
                    estimate=est,
                    se=se,
                    ci_lower=est - t * se,
                    ci_upper=est + t * se,
                    df=dof,
                    n=count,
                    deff=float(deff[g, k]),
                    cv=cv,
                    variable=name,
                    by=dict(label),
                    statistic="mean",
                    flags=precision_flags(count, cv, min_n=min_n, max_cv=max_cv),
                )
            )
    return Estimates(items, alpha=alpha)


def count_by_domain(
    agg: Aggregates,
    *,
    by: str | Sequence[str] | None = None,
    where: Mapping[str, Collection[Any]] | np.ndarray | None = None,
) -> pd.DataFrame:
    """Respondents and their weight total in a domain, overall or by group.

    Returns
    -------
    pandas.DataFrame
        One row per group with rows in the domain: the ``by`` columns, ``n`` (respondents) and
        ``weight`` (sum of weights: the estimated population size of the group when the
        weights are calibrated to population totals).
    """
    by_list = [] if by is None else ([by] if isinstance(by, str) else list(by))
    group, labels = _groups(agg, by_list, _selection(agg, where))
    inside = group >= 0
    n = np.bincount(group[inside], weights=agg.rows[inside], minlength=len(labels))
    weight = np.bincount(group[inside], weights=agg.weight[inside], minlength=len(labels))
    frame = pd.DataFrame(labels, columns=by_list)
    frame["n"] = n.astype(np.int64)
    frame["weight"] = weight
    return frame
