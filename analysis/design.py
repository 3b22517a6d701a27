"""Descriptions of a sampling design and of the calibration applied to its weights."""

from __future__ import annotations

import difflib
import math
from dataclasses import KW_ONLY, dataclass, field
from typing import Literal, TypeVar, get_args

import numpy as np
import pandas as pd
from scipy import sparse

from analysis.errors import EstimationError

T = TypeVar("T")

CalibrationMethod = Literal["poststratify", "rake", "linear", "logit", "raking"]
LonelyPsu = Literal["fail", "remove", "certainty", "adjust", "average"]


@dataclass(frozen=True)
class CalibrationModel:
    """What a set of weights was calibrated on.

    Weighting returns one beside the calibrated weights; estimation uses it to compute
    standard errors that account for the calibration (the residuals of the influence values
    on the calibration variables, as R's ``calibrate()``, ``postStratify()`` and ``rake()`` do).

    Attributes
    ----------
    categorical
        Categorical calibration variables (column names). Each enters as a set of dummies;
        several may be crossed with ``*`` in one name (``"province*sex"``) for a margin of
        joint cells.
    numeric
        Numeric calibration variables, each entering as one column (GREG with a covariate).
    interaction
        True for post-stratification: the cells are the joint categories of all
        ``categorical`` variables, and there are no numeric ones.
    method
        The calibration function used: ``"poststratify"`` (R's ``postStratify()``),
        ``"rake"`` (R's ``rake()``: iterative post-stratification on each margin), or a
        calibration by R's ``calibrate()`` with ``calfun="linear"`` (GREG), ``"logit"`` or
        ``"raking"``.
    """

    categorical: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    interaction: bool = False
    method: CalibrationMethod = "linear"

    @property
    def variables(self) -> tuple[str, ...]:
        """Every column the calibration depends on, in order, without repeats."""
        seen: dict[str, None] = {}
        for term in (*self.categorical, *self.numeric):
            for name in term.split("*"):
                seen.setdefault(name.strip(), None)
        return tuple(seen)


class DesignError(EstimationError):
    """A sampling design cannot be built from the data and options given."""


@dataclass(frozen=True, eq=False)
class _Calibration:
    """Arrays describing the calibration, computed once per design."""

    kind: Literal["greg", "rake"]
    cell: np.ndarray  # (n,) joint calibration cell of each row
    n_cells: int
    numeric: np.ndarray  # (n, L) numeric calibration variables (L may be 0)
    base: np.ndarray | None  # (n,) weights the GREG projection uses, None: the design weights
    # GREG: cell-level model matrix, the inverse of sum(w0 * m m'), and the weighted sums the
    # residual correction needs.
    model: np.ndarray | None  # (C, q_cat)
    inverse: np.ndarray | None  # (q, q), q = q_cat + L
    weight_numeric_psu: np.ndarray | None  # (P, L): sum of w * numeric by PSU
    # Category of each cell in every categorical term (the raking margins), and the number of
    # rows in each cell.
    margins: tuple[np.ndarray, ...]
    cell_count: np.ndarray  # (C,)


@dataclass(frozen=True, eq=False)
class _Structure:
    """Codes and per-stratum constants of a design, computed once."""

    n: int
    w: np.ndarray  # (n,) weights
    stratum: np.ndarray  # (n,) stratum code
    psu: np.ndarray  # (n,) PSU code, PSUs numbered stratum by stratum
    n_strata: int
    n_psu: int
    element: bool  # no clusters: every row is its own PSU
    psu_stratum: np.ndarray  # (P,) stratum of each PSU, non-decreasing
    stratum_start: np.ndarray  # (H,) index of each stratum's first PSU
    psu_count: np.ndarray  # (H,) PSUs per stratum
    fpc_factor: np.ndarray  # (H,) 1 - n_h / N_h (1 without fpc)
    stratum_labels: tuple[object, ...]
    lonely: np.ndarray  # (H,) bool: the stratum has one PSU
    calibration: _Calibration | None
    # (PSU, calibration cell) groups: the weight total of each, as a sparse P x C matrix.
    codes: dict  # column name -> (codes, categories), filled on first use
    pc_code: np.ndarray  # (n,) group of each row, groups ordered by PSU
    pc_psu: np.ndarray  # (G,)
    pc_cell: np.ndarray  # (G,)
    psu_cell_weight: sparse.csr_matrix  # (P, C)


@dataclass(frozen=True, eq=False)
class Design:
    """A sampling design: weights, strata, first-stage clusters (PSUs) and their fpc.

    Parameters
    ----------
    data
        One row per respondent.
    weights
        Column of sampling (or calibrated) weights, all positive. None: equal weights, or
        ``N_h / n_h`` when ``fpc`` gives population sizes (as R's ``svydesign``).
    strata
        Column of strata; None for an unstratified design.
    cluster
        Column of first-stage sampling units (PSUs); None when respondents were sampled
        directly. Later stages are not described: their variance is approximated by the
        variation between PSUs ("ultimate cluster", with-replacement beyond the first stage).
    fpc
        Column giving, constant within each stratum, the population number of PSUs (values
        above 1) or the first-stage sampling fraction (all values at most 1), as R decides.
    calibration
        What the weights were calibrated on; standard errors then use the residuals of the
        influence values on the calibration variables.
    lonely_psu
        What a stratum with a single PSU contributes to the variance, as R's
        ``options(survey.lonely.psu=)``: ``"fail"`` (an error), ``"remove"`` and
        ``"certainty"`` (nothing), ``"adjust"`` (its PSU total centred on zero instead of the
        stratum mean) or ``"average"`` (the average of the other strata's contributions).
    nest
        True when cluster identifiers are only unique within a stratum.
    base_weights
        Column of the weights before calibration. R's ``calibrate()`` computes its residuals
        with them; when absent for a ``"linear"``, ``"logit"`` or ``"raking"`` calibration the
        calibrated weights are used, which differs from R by terms of the order of the
        calibration adjustment. Post-stratification and ``rake()`` do not need them.

    Raises
    ------
    DesignError
        A column is missing or has missing values, weights are not positive, clusters are not
        nested in strata, the fpc varies within a stratum or is smaller than the sample, or a
        stratum has a single PSU with ``lonely_psu="fail"``.

    Notes
    -----
    The variance of an estimator with influence values :math:`z_i` (Taylor linearisation) is
    :math:`\\sum_h (1 - f_h) \\frac{n_h}{n_h - 1} \\sum_{j \\in h} (t_{hj} - \\bar t_h)^2` with
    :math:`t_{hj} = \\sum_{i \\in (h, j)} w_i z_i` the PSU totals, :math:`n_h` the number of
    PSUs in stratum :math:`h` and :math:`f_h = n_h / N_h` its sampling fraction: R's
    ``survey:::svyrecvar`` with ``survey.ultimate.cluster`` (Lumley 2010, *Complex Surveys*,
    ch. 2). The design degrees of freedom are PSUs minus strata (R's ``degf``).

    The design reads its columns once, when it is built: build a new one after changing the
    data.
    """

    data: pd.DataFrame = field(repr=False)
    _: KW_ONLY
    weights: str | None = None
    strata: str | None = None
    cluster: str | None = None
    fpc: str | None = None
    calibration: CalibrationModel | None = None
    lonely_psu: LonelyPsu = "fail"
    nest: bool = False
    base_weights: str | None = None
    _s: _Structure = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_s", _build_structure(self))

    @property
    def n(self) -> int:
        """Number of rows (respondents)."""
        return self._s.n

    @property
    def n_psu(self) -> int:
        """Number of first-stage sampling units."""
        return self._s.n_psu

    @property
    def n_strata(self) -> int:
        """Number of strata (1 when unstratified)."""
        return self._s.n_strata

    @property
    def degf(self) -> int:
        """Design degrees of freedom: PSUs minus strata (R's ``degf``)."""
        return self._s.n_psu - self._s.n_strata

    @property
    def weight_values(self) -> np.ndarray:
        """The weights as a read-only float array."""
        w = self._s.w.view()
        w.flags.writeable = False
        return w


def required(value: T | None, what: str) -> T:
    """``value``, which the code guarantees is present; an EstimationError if it is not."""
    if value is None:
        raise EstimationError(f"Internal error: {what} is missing; please report this.")
    return value


def _fail(message: str) -> DesignError:
    return DesignError(f"Design: {message}")


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def _row_label(data: pd.DataFrame, position: int) -> object:
    return _plain(data.index[position])


def _check_column(data: pd.DataFrame, column: str, role: str) -> pd.Series:
    if column not in data.columns:
        names = [str(c) for c in data.columns]
        close = difflib.get_close_matches(str(column), names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise _fail(
            f"the {role} column {column!r} is not in the data.{hint} Columns available: "
            f"{', '.join(names[:20])}{' ...' if len(names) > 20 else ''}."
        )
    series = data[column]
    missing = series.isna().to_numpy()
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise _fail(
            f"the {role} column {column!r} has {int(missing.sum())} missing value(s) (first at "
            f"row {_row_label(data, first)!r}). Every respondent needs a value: fill them in or "
            "drop those rows before building the design."
        )
    return series


def _numeric(data: pd.DataFrame, series: pd.Series, column: str, role: str) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        raise _fail(
            f"the {role} column {column!r} must be numeric, not {series.dtype}. Convert it with "
            "pd.to_numeric first."
        )
    values = series.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise _fail(
            f"the {role} column {column!r} has {int(bad.sum())} infinite value(s) (first at row "
            f"{_row_label(data, first)!r}); use finite numbers."
        )
    return values


def _factorize(series: pd.Series) -> tuple[np.ndarray, pd.Index]:
    codes, uniques = pd.factorize(series, sort=True)
    return codes.astype(np.int64), pd.Index(uniques)


def relabel(key: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Dense codes of non-negative integer keys below ``size``, numbered in key order.

    Returns the code of each key and the sorted distinct keys. A scatter and a cumulative sum
    when ``size`` is not much larger than the number of keys (no hashing, no sorting).
    """
    if size <= max(4 * len(key), 1 << 16):
        present = np.zeros(size, dtype=bool)
        present[key] = True
        lookup = np.cumsum(present, dtype=np.int64) - 1
        return lookup[key], np.flatnonzero(present)
    codes, uniques = pd.factorize(key, sort=True)
    return codes.astype(np.int64), np.asarray(uniques, dtype=np.int64)


def column_codes(data: pd.DataFrame, name: str, cache: dict) -> tuple[np.ndarray, pd.Index]:
    """Sorted-category codes of a column (-1 for missing), computed once per design."""
    if name not in cache:
        codes, uniques = pd.factorize(data[name], sort=True)
        cache[name] = (codes.astype(np.int64, copy=False), pd.Index(uniques))
    return cache[name]


def _build_structure(design: Design) -> _Structure:
    data = design.data
    if not isinstance(data, pd.DataFrame):
        raise _fail(f"data must be a pandas DataFrame, not {type(data).__name__}.")
    if design.lonely_psu not in get_args(LonelyPsu):
        raise _fail(
            f"lonely_psu={design.lonely_psu!r} is not one of "
            f"{', '.join(repr(a) for a in get_args(LonelyPsu))}."
        )
    n = len(data)
    if n < 2:
        raise _fail(f"the data have {n} row(s); a design needs at least two.")

    codes_cache: dict = {}
    # Strata.
    if design.strata is not None:
        stratum, stratum_uniques = _factorize(_check_column(data, design.strata, "strata"))
        stratum_labels = tuple(stratum_uniques.tolist())
    else:
        stratum = np.zeros(n, dtype=np.int64)
        stratum_labels = (None,)
    n_strata = len(stratum_labels)

    # PSUs, numbered stratum by stratum.
    if design.cluster is not None:
        cluster, cluster_uniques = _factorize(_check_column(data, design.cluster, "cluster"))
        n_clusters = len(cluster_uniques)
        if design.strata is not None and not design.nest:
            pairs = np.unique(cluster * n_strata + stratum)
            per_cluster = np.bincount(pairs // n_strata, minlength=n_clusters)
            if (per_cluster > 1).any():
                bad = int(np.flatnonzero(per_cluster > 1)[0])
                codes = pairs[pairs // n_strata == bad] % n_strata
                in_strata = [stratum_labels[int(s)] for s in codes]
                raise _fail(
                    f"cluster {_plain(cluster_uniques[bad])!r} of column {design.cluster!r} "
                    f"appears in strata {', '.join(repr(s) for s in in_strata[:5])} of column "
                    f"{design.strata!r}. Clusters must be nested in strata: pass nest=True if "
                    "cluster identifiers are only unique within a stratum."
                )
        key = stratum * n_clusters + cluster
        psu, psu_keys = relabel(key, n_strata * n_clusters)
        psu_stratum = psu_keys // n_clusters
    elif design.strata is None:
        psu = np.arange(n, dtype=np.int64)
        psu_stratum = stratum
    else:
        order = np.argsort(stratum, kind="stable")
        psu = np.empty(n, dtype=np.int64)
        psu[order] = np.arange(n, dtype=np.int64)
        psu_stratum = stratum[order]
    n_psu = len(psu_stratum)
    if n_psu < 2:
        raise _fail(
            "the design has only one primary sampling unit, so no variance can be estimated; "
            "check the cluster column."
        )
    psu_count = np.bincount(psu_stratum, minlength=n_strata)
    stratum_start = np.concatenate(([0], np.cumsum(psu_count)[:-1])).astype(np.int64)

    # Finite population correction.
    fpc_factor = np.ones(n_strata)
    population = np.full(n_strata, np.inf)
    if design.fpc is not None:
        fpc_values = _numeric(data, _check_column(data, design.fpc, "fpc"), design.fpc, "fpc")
        lo = np.full(n_strata, np.inf)
        hi = np.full(n_strata, -np.inf)
        np.minimum.at(lo, stratum, fpc_values)
        np.maximum.at(hi, stratum, fpc_values)
        varies = np.flatnonzero(lo != hi)
        if varies.size:
            h = int(varies[0])
            raise _fail(
                f"the fpc column {design.fpc!r} varies within stratum {stratum_labels[h]!r} "
                f"(values from {lo[h]:g} to {hi[h]:g}). It must hold one value per stratum: the "
                "population number of PSUs in the stratum, or its sampling fraction."
            )
        if (lo < 0).any():
            raise _fail(
                f"the fpc column {design.fpc!r} has negative values; use sizes or fractions."
            )
        if (lo > 1).any():
            if (lo < 1).any():
                raise _fail(
                    f"the fpc column {design.fpc!r} mixes population sizes (values above 1) and "
                    "sampling fractions (values below 1); use one or the other."
                )
            population = lo.copy()
        else:
            with np.errstate(divide="ignore"):
                population = np.where(lo > 0, psu_count / np.where(lo > 0, lo, 1.0), np.inf)
        too_small = np.flatnonzero(population < psu_count * (1 - 1e-12))
        if too_small.size:
            h = int(too_small[0])
            raise _fail(
                f"the fpc column {design.fpc!r} gives stratum {stratum_labels[h]!r} a population "
                f"of {population[h]:g} PSUs but {int(psu_count[h])} were sampled: more than 100% "
                "sampling. Give the population number of PSUs (or the sampling fraction)."
            )
        finite = np.isfinite(population)
        safe = np.where(finite, population, 1.0)
        fpc_factor = np.where(finite, (population - psu_count) / safe, 1.0)

    # Weights.
    if design.weights is not None:
        w = _numeric(
            data, _check_column(data, design.weights, "weights"), design.weights, "weights"
        )
        nonpositive = np.flatnonzero(w <= 0)
        if nonpositive.size:
            first = int(nonpositive[0])
            raise _fail(
                f"the weights column {design.weights!r} has {nonpositive.size} value(s) that are "
                f"not positive (first at row {_row_label(data, first)!r}: {w[first]:g}). "
                "Weights must be positive: drop respondents who should not count, or fix the "
                "weights."
            )
    elif design.fpc is not None and np.isfinite(population).all():
        w = (population / psu_count)[stratum]
    else:
        w = np.ones(n)
    w = np.ascontiguousarray(w, dtype=np.float64)

    lonely = psu_count == 1
    if design.lonely_psu == "fail":
        bad_strata = np.flatnonzero(lonely & (fpc_factor >= 1e-7))
        if bad_strata.size:
            h = int(bad_strata[0])
            raise _fail(
                f"stratum {stratum_labels[h]!r} has only one PSU, so its variance cannot be "
                "estimated. Merge it with a similar stratum, or choose lonely_psu='remove', "
                "'certainty', 'adjust' or 'average'."
            )

    calibration = None
    cell = np.zeros(n, dtype=np.int64)
    n_cells = 1
    if design.calibration is not None:
        calibration = _build_calibration(design, w, psu, n_psu, codes_cache)
        cell = calibration.cell
        n_cells = calibration.n_cells

    if design.cluster is None:
        # Every row is its own PSU, so its (PSU, cell) group is the row: no relabelling.
        pc_code = psu
        pc_psu = np.arange(n_psu, dtype=np.int64)
        if design.strata is None:  # PSU i is row i
            pc_cell, pc_weight = cell, w
        else:
            pc_cell = np.empty(n_psu, dtype=np.int64)
            pc_cell[psu] = cell
            pc_weight = np.empty(n_psu)
            pc_weight[psu] = w
        psu_cell_weight = sparse.csr_matrix(
            (pc_weight, pc_cell, np.arange(n_psu + 1, dtype=np.int64)), shape=(n_psu, n_cells)
        )
    else:
        pc_key = psu * n_cells + cell
        pc_code, pc_uniques = relabel(pc_key, n_psu * n_cells)
        pc_psu = pc_uniques // n_cells
        pc_cell = pc_uniques % n_cells
        pc_weight = np.bincount(pc_code, weights=w, minlength=len(pc_uniques))
        psu_cell_weight = sparse.csr_matrix(
            (pc_weight, (pc_psu, pc_cell)), shape=(n_psu, n_cells)
        )
    return _Structure(
        n=n,
        w=w,
        stratum=stratum,
        psu=psu,
        n_strata=n_strata,
        n_psu=n_psu,
        element=design.cluster is None,
        psu_stratum=psu_stratum,
        stratum_start=stratum_start,
        psu_count=psu_count,
        fpc_factor=fpc_factor,
        stratum_labels=stratum_labels,
        lonely=lonely,
        calibration=calibration,
        codes=codes_cache,
        pc_code=pc_code,
        pc_psu=pc_psu,
        pc_cell=pc_cell,
        psu_cell_weight=psu_cell_weight,
    )


def _build_calibration(
    design: Design, w: np.ndarray, psu: np.ndarray, n_psu: int, cache: dict
) -> _Calibration:
    model = required(design.calibration, "calibration model")
    data = design.data
    if not isinstance(model, CalibrationModel):
        raise _fail(f"calibration must be a CalibrationModel, not {type(model).__name__}.")
    if model.method not in get_args(CalibrationMethod):
        raise _fail(
            f"calibration method {model.method!r} is not one of "
            f"{', '.join(repr(a) for a in get_args(CalibrationMethod))}."
        )
    terms = [tuple(v.strip() for v in term.split("*")) for term in model.categorical]
    categorical: dict[str, None] = {}
    for term in terms:
        for name in term:
            categorical.setdefault(name, None)
    n = len(data)
    if model.method in ("poststratify", "rake") and model.numeric:
        raise _fail(
            f"calibration method {model.method!r} uses categorical margins only, but numeric "
            f"variables {', '.join(model.numeric)} were given."
        )
    if model.method in ("poststratify", "rake") and not categorical:
        raise _fail(f"calibration method {model.method!r} needs categorical variables.")

    # Joint cells of every categorical calibration variable.
    var_codes: dict[str, np.ndarray] = {}
    for name in categorical:
        _check_column(data, name, "calibration")
        var_codes[name] = column_codes(data, name, cache)[0]
    names = list(categorical)
    if categorical:
        cell, cell_values = _combine_codes([var_codes[name] for name in names])
    else:
        cell_values = np.zeros((1, 0), dtype=np.int64)
        cell = np.zeros(n, dtype=np.int64)
    n_cells = len(cell_values)

    def margin_codes(term: tuple[str, ...]) -> np.ndarray:
        codes, _ = _combine_codes([cell_values[:, names.index(v)] for v in term])
        return codes

    cell_count = np.bincount(cell, minlength=n_cells).astype(np.float64)
    numeric = np.zeros((n, 0))
    if model.numeric:
        numeric = np.column_stack(
            [
                _numeric(data, _check_column(data, name, "calibration"), name, "calibration")
                for name in model.numeric
            ]
        )

    margins = tuple(margin_codes(term) for term in terms)
    if model.method == "rake" and not model.interaction:
        return _Calibration(
            kind="rake",
            cell=cell,
            n_cells=n_cells,
            numeric=numeric,
            base=None,
            model=None,
            inverse=None,
            weight_numeric_psu=None,
            margins=margins,
            cell_count=cell_count,
        )

    # GREG-type projection: calibrate() (linear, logit, raking) and postStratify().
    base: np.ndarray | None = None
    if design.base_weights is not None and model.method in ("linear", "logit", "raking"):
        base = _numeric(
            data,
            _check_column(data, design.base_weights, "base weights"),
            design.base_weights,
            "base weights",
        )
        if (base <= 0).any():
            raise _fail(
                f"the base weights column {design.base_weights!r} has values that are not "
                "positive; base weights must be positive."
            )
    w0 = w if base is None else base
    if model.method == "poststratify" or model.interaction:
        cat_model = np.eye(n_cells)
    else:
        blocks = [np.ones((n_cells, 1))]
        for term in terms:
            codes = margin_codes(term)
            levels = int(codes.max()) + 1
            if levels > 1:
                blocks.append((codes[:, None] == np.arange(1, levels)[None, :]).astype(float))
        cat_model = np.hstack(blocks)
    w0_cell = np.bincount(cell, weights=w0, minlength=n_cells)
    n_num = numeric.shape[1]
    q_cat = cat_model.shape[1]
    gram = np.zeros((q_cat + n_num, q_cat + n_num))
    gram[:q_cat, :q_cat] = cat_model.T @ (w0_cell[:, None] * cat_model)
    weight_numeric_psu = None
    if n_num:
        w0_num_cell = np.column_stack(
            [np.bincount(cell, weights=w0 * numeric[:, j], minlength=n_cells) for j in range(n_num)]
        )
        cross = cat_model.T @ w0_num_cell
        gram[:q_cat, q_cat:] = cross
        gram[q_cat:, :q_cat] = cross.T
        gram[q_cat:, q_cat:] = (numeric * w0[:, None]).T @ numeric
        weight_numeric_psu = np.column_stack(
            [np.bincount(psu, weights=w * numeric[:, j], minlength=n_psu) for j in range(n_num)]
        )
    return _Calibration(
        kind="greg",
        cell=cell,
        n_cells=n_cells,
        numeric=numeric,
        base=base,
        model=cat_model,
        inverse=_symmetric_pinv(gram),
        weight_numeric_psu=weight_numeric_psu,
        margins=margins,
        cell_count=cell_count,
    )


def _symmetric_pinv(matrix: np.ndarray) -> np.ndarray:
    """Pseudo-inverse of a symmetric positive semi-definite matrix, equilibrated first."""
    diag = np.diag(matrix).copy()
    scale = np.where(diag > 0, 1.0 / np.sqrt(np.where(diag > 0, diag, 1.0)), 0.0)
    scaled = matrix * scale[:, None] * scale[None, :]
    values, vectors = np.linalg.eigh(scaled)
    top = values.max() if values.size else 0.0
    keep = values > top * max(matrix.shape) * 1e-13
    inverse = (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
    return inverse * scale[:, None] * scale[None, :]


def _combine_codes(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Joint codes of several non-negative code columns, in sorted order of the tuples.

    Returns the code of each row and the (groups x columns) array of each group's codes.
    """
    sizes = [int(c.max()) + 1 if c.size else 1 for c in columns]
    if math.prod(sizes) < 2**62:
        key = columns[0].astype(np.int64)  # a copy, built up in place
        for codes, size in zip(columns[1:], sizes[1:], strict=True):
            key *= size
            key += codes
        code, uniques = relabel(key, math.prod(sizes))
        values = np.empty((len(uniques), len(columns)), dtype=np.int64)
        for j in range(len(columns) - 1, -1, -1):
            values[:, j] = uniques % sizes[j]
            uniques = uniques // sizes[j]
        return code.astype(np.int64, copy=False), values
    stacked = np.column_stack(columns)
    values, code = np.unique(stacked, axis=0, return_inverse=True)
    return code.reshape(-1).astype(np.int64), values
