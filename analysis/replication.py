"""Replicate-weight designs: jackknife (JK1, JKn), bootstrap, and user-supplied replicates.

A :class:`ReplicateDesign` works with every function of :mod:`analysis.estimation` and
:mod:`analysis.regression`: an estimate is computed once with the full-sample weights and once
with each replicate's weights, and its variance is

.. math:: v = \\text{scale} \\sum_r \\text{rscale}_r (\\hat\\theta_r - \\bar\\theta)^2

with :math:`\\bar\\theta` the mean of the replicates (or the full-sample estimate when
``mse=True``), as R's ``survey:::svrVar``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from functools import cached_property
from typing import Literal, get_args

import numpy as np
import pandas as pd
from scipy import linalg, sparse

from analysis.design import Design, DesignError, _check_column, _numeric, required
from analysis.errors import AnalysisWarning, EstimationError

ReplicateMethod = Literal["JK1", "JKn", "bootstrap", "subbootstrap"]


class ReplicateWarning(AnalysisWarning):
    """Some replicates gave no estimate (an empty domain) and were left out of a variance."""


@dataclass(frozen=True, eq=False)
class PsuReplicateFactors:
    """Replicate weights given as factors per first-stage unit (and calibration cell).

    The weight of row ``i`` in replicate ``r`` is
    ``w[i] * factors[psu[i], r] * cell_factors[cell[i], r]``.

    Attributes
    ----------
    psu
        (n,) PSU code of each row, 0 to P - 1.
    factors
        (P, R) factor of each PSU in each replicate.
    cell
        (n,) calibration cell of each row, or None.
    cell_factors
        (C, R) re-calibration factor of each cell in each replicate, or None.
    """

    psu: np.ndarray
    factors: np.ndarray
    cell: np.ndarray | None = None
    cell_factors: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class _Replicates:
    w: np.ndarray  # (n,) full-sample weights
    rows: np.ndarray | None  # (n, R) combined replicate weights
    factors: PsuReplicateFactors | None
    scale: float
    rscales: np.ndarray  # (R,)
    n_replicates: int
    codes: dict = field(default_factory=dict)  # column codes, filled on first use


@dataclass(frozen=True, eq=False)
class ReplicateDesign:
    """A design whose variances come from replicate weights.

    Parameters
    ----------
    data
        One row per respondent.
    weights
        Column of full-sample weights (positive).
    replicate_weights
        Columns of replicate weights (one per replicate), or :class:`PsuReplicateFactors`.
    scale, rscales
        The variance is ``scale * sum(rscales[r] * (theta_r - centre)**2)``. For R's types:
        JK1 ``scale=(R-1)/R``; JKn ``scale=1`` with ``rscales=(n_h-1)/n_h`` of each
        replicate's stratum; bootstrap ``scale=1/(R-1)``; BRR ``scale=1/R``; Fay
        ``scale=1/(R*(1-rho)**2)``. ``rscales`` defaults to ones.
    combined_weights
        True (default) when the replicate columns are whole weights; False when they are
        factors that multiply ``weights``.
    mse
        Centre the replicates on the full-sample estimate instead of their mean.
    method
        A label for the replicate method (``"JK1"``, ``"JKn"``, ``"bootstrap"``, ...).
    df
        Degrees of freedom for confidence intervals. None: R's rule, the rank of the
        replicate weights minus one.

    Raises
    ------
    DesignError
        Missing columns, missing or negative replicate weights, non-positive full-sample
        weights, ``rscales`` of the wrong length.
    """

    data: pd.DataFrame = field(repr=False)
    _: KW_ONLY
    weights: str
    replicate_weights: Sequence[str] | PsuReplicateFactors
    scale: float = 1.0
    rscales: Sequence[float] | None = None
    combined_weights: bool = True
    mse: bool = False
    method: str = "other"
    df: float | None = None
    _r: _Replicates = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_r", _build_replicates(self))

    @property
    def n(self) -> int:
        """Number of rows."""
        return len(self._r.w)

    @property
    def n_replicates(self) -> int:
        """Number of replicates."""
        return self._r.n_replicates

    @property
    def weight_values(self) -> np.ndarray:
        """Full-sample weights as a read-only array."""
        w = self._r.w.view()
        w.flags.writeable = False
        return w

    @cached_property
    def degf(self) -> float:
        """Degrees of freedom: ``df`` if given, else the rank of the replicate weights minus
        one (R's ``degf`` for replicate designs)."""
        if self.df is not None:
            return float(self.df)
        r = self._r
        if r.rows is not None:
            gram = r.rows.T @ r.rows
        else:
            f = required(r.factors, "replicate factors")
            if f.cell is not None and f.cell_factors is not None:
                key = f.psu * f.cell_factors.shape[0] + f.cell
                uniq = np.unique(key)
                block = (
                    f.factors[uniq // f.cell_factors.shape[0]]
                    * f.cell_factors[uniq % f.cell_factors.shape[0]]
                )
            else:
                block = f.factors
            gram = block.T @ block
        return float(_pivoted_rank(gram) - 1)

    def replicate_weight_matrix(self) -> np.ndarray:
        """(n, R) replicate weights (combined with the full-sample weights)."""
        r = self._r
        if r.rows is not None:
            return r.rows
        f = required(r.factors, "replicate factors")
        out = r.w[:, None] * f.factors[f.psu]
        if f.cell is not None and f.cell_factors is not None:
            out *= f.cell_factors[f.cell]
        return out

    def replicate_sums(
        self, columns: Sequence[np.ndarray], domain: np.ndarray, n_domains: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Weighted sums of ``columns`` by domain, full sample and every replicate.

        Parameters
        ----------
        columns
            (n,) arrays (zero where a row does not count).
        domain
            (n,) domain code, -1 for rows in no domain.
        n_domains
            Number of domains.

        Returns
        -------
        full : (D, c) array
        replicates : (R, D, c) array
        """
        r = self._r
        c = len(columns)
        valid = domain >= 0
        dom = domain[valid]
        full = np.empty((n_domains, c))
        for j, col in enumerate(columns):
            full[:, j] = np.bincount(dom, weights=(r.w * col)[valid], minlength=n_domains)
        if r.rows is not None:
            rows_idx = np.flatnonzero(valid)
            data = np.concatenate([col[valid] for col in columns])
            row_of = np.concatenate([dom * c + j for j in range(c)])
            col_of = np.tile(rows_idx, c)
            m = sparse.csr_matrix((data, (row_of, col_of)), shape=(n_domains * c, self.n))
            reps = np.asarray(m @ r.rows)  # (D*c, R)
        else:
            f = required(r.factors, "replicate factors")
            if f.cell is not None and f.cell_factors is not None:
                n_cells = f.cell_factors.shape[0]
                unit = f.psu * n_cells + f.cell
            else:
                n_cells = 1
                unit = f.psu
            key = unit[valid] * n_domains + dom
            g, uniq = pd.factorize(key, sort=False)
            uniq = np.asarray(uniq, dtype=np.int64)
            g_unit = uniq // n_domains
            g_dom = uniq % n_domains
            n_groups = len(uniq)
            sums = np.empty((n_groups, c))
            wv = r.w[valid]
            for j, col in enumerate(columns):
                sums[:, j] = np.bincount(g, weights=wv * col[valid], minlength=n_groups)
            factor = f.factors[g_unit // n_cells]
            if f.cell is not None and f.cell_factors is not None:
                factor = factor * f.cell_factors[g_unit % n_cells]
            m = sparse.csr_matrix(
                (
                    sums.T.ravel(),
                    (
                        np.concatenate([g_dom * c + j for j in range(c)]),
                        np.tile(np.arange(n_groups), c),
                    ),
                ),
                shape=(n_domains * c, n_groups),
            )
            reps = np.asarray(m @ factor)
        return full, reps.T.reshape(r.n_replicates, n_domains, c)

    def variance(self, full: np.ndarray, replicates: np.ndarray) -> np.ndarray:
        """Replicate variance of estimates (R's ``svrVar``), replicate by replicate.

        Parameters
        ----------
        full
            (K,) full-sample estimates.
        replicates
            (R, K) replicate estimates; a replicate whose estimate is not finite is left out
            of that estimate's variance (with a :class:`ReplicateWarning`).
        """
        r = self._r
        reps = np.asarray(replicates, dtype=np.float64)
        ok = np.isfinite(reps)
        if not ok.all():
            bad = int((~ok).any(axis=1).sum())
            warnings.warn(
                f"{bad} replicate(s) gave no estimate (empty domain) and were discarded.",
                ReplicateWarning,
                stacklevel=3,
            )
        rs = r.rscales[:, None] * np.ones_like(reps)
        if self.mse:
            centre = np.asarray(full, dtype=np.float64)
        else:
            use = ok & (rs > 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                centre = np.where(use, reps, 0.0).sum(axis=0) / use.sum(axis=0)
        dev = np.where(ok, reps - centre, 0.0)
        return np.asarray(r.scale * (rs * dev * dev).sum(axis=0))

    def covariance(self, full: np.ndarray, replicates: np.ndarray) -> np.ndarray:
        """Replicate covariance matrix of a vector of estimates (all replicates finite)."""
        r = self._r
        reps = np.asarray(replicates, dtype=np.float64)
        if self.mse:
            centre = np.asarray(full, dtype=np.float64)
        else:
            centre = reps[r.rscales > 0].mean(axis=0)
        dev = reps - centre
        return np.asarray(r.scale * (dev * r.rscales[:, None]).T @ dev)

    def replicate_weight_columns(self) -> list[np.ndarray]:
        """The replicate weights one replicate at a time (each (n,))."""
        mat = self.replicate_weight_matrix()
        return [mat[:, k] for k in range(mat.shape[1])]

    @classmethod
    def from_design(
        cls,
        design: Design,
        *,
        method: ReplicateMethod,
        replicates: int = 50,
        seed: int | np.random.Generator | None = None,
        mse: bool = False,
    ) -> ReplicateDesign:
        """Replicate weights for a :class:`~analysis.design.Design` (R's ``as.svrepdesign``).

        Parameters
        ----------
        design
            The design.
        method
            ``"JK1"`` (delete-one-PSU jackknife, unstratified designs), ``"JKn"`` (delete one
            PSU per stratum), ``"bootstrap"`` (R's ``type="bootstrap"``: Canty and Davison's
            with-replacement resampling of the PSUs of each stratum, variance scaled by
            ``nbar/((nbar-1)(R-1))`` with ``nbar`` the harmonic mean of PSUs per stratum;
            with an fpc, PSUs are drawn without replacement from the stratum's PSUs repeated up
            to its population size) or ``"subbootstrap"`` (Rao and Wu's rescaling bootstrap:
            ``n_h - 1`` PSUs drawn with replacement, factors multiplied by
            ``n_h / (n_h - 1)``; R's ``type="subbootstrap"``).
        replicates
            Number of bootstrap replicates.
        seed
            Seed (or generator) for the bootstrap draws.
        mse
            Centre the replicates on the full-sample estimate.

        Notes
        -----
        The jackknives reproduce R's ``as.svrepdesign(type="JK1")`` and ``type="JKn"`` exactly,
        fpc and ``lonely_psu`` included. The bootstrap draws use numpy's generator, so they
        match R's in distribution, not draw for draw. When the design is calibrated by
        post-stratification or raking, each replicate is re-calibrated to the full-sample
        calibrated totals (as R's ``postStratify()`` and ``rake()`` do for replicate
        designs); other calibrations need replicate weights computed by the weighting step.
        """
        if method not in get_args(ReplicateMethod):
            raise DesignError(
                f"ReplicateDesign: method {method!r} is not one of "
                f"{', '.join(repr(m) for m in get_args(ReplicateMethod))}."
            )
        s = design._s
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        if method == "JK1":
            if design.strata is not None and s.n_strata > 1:
                raise DesignError(
                    "ReplicateDesign: JK1 deletes one PSU of an unstratified design; this "
                    f"design has {s.n_strata} strata. Use method='JKn'."
                )
            factors, scale, rscales = _jk1(s.n_psu, float(s.fpc_factor[0]))
        elif method == "JKn":
            if design.strata is None:
                raise DesignError(
                    "ReplicateDesign: JKn needs a stratified design; use method='JK1' or "
                    "'bootstrap' for an unstratified one."
                )
            factors, scale, rscales = _jkn(design)
        elif method == "bootstrap":
            factors, scale, rscales = _bootstrap(design, replicates, rng)
        else:
            factors, scale, rscales = _subbootstrap(design, replicates, rng)
        cell = None
        cell_factors = None
        if s.calibration is not None:
            cell, cell_factors = _recalibrate(design, factors)
        data = design.data
        weights = design.weights
        if weights is None:
            weights = "__design_weights__"
            data = data.assign(**{weights: s.w})
        return cls(
            data,
            weights=weights,
            replicate_weights=PsuReplicateFactors(
                psu=s.psu, factors=factors, cell=cell, cell_factors=cell_factors
            ),
            scale=scale,
            rscales=tuple(rscales.tolist()),
            combined_weights=False,
            mse=mse,
            method=method,
        )


def _build_replicates(design: ReplicateDesign) -> _Replicates:
    data = design.data
    if not isinstance(data, pd.DataFrame):
        raise DesignError(f"ReplicateDesign: data must be a DataFrame, not {type(data).__name__}.")
    w = _numeric(data, _check_column(data, design.weights, "weights"), design.weights, "weights")
    if (w <= 0).any():
        raise DesignError(
            f"Design: the weights column {design.weights!r} has values that are not positive; "
            "weights must be positive."
        )
    w = np.ascontiguousarray(w, dtype=np.float64)
    n = len(data)
    rows = None
    factors = None
    if isinstance(design.replicate_weights, PsuReplicateFactors):
        factors = design.replicate_weights
        n_rep = factors.factors.shape[1]
        if len(factors.psu) != n:
            raise DesignError("ReplicateDesign: PSU codes do not match the data's rows.")
    else:
        names = list(design.replicate_weights)
        if isinstance(design.replicate_weights, str) or not names:
            raise DesignError(
                "ReplicateDesign: replicate_weights must be a list of column names (one per "
                "replicate)."
            )
        rows = np.empty((n, len(names)))
        for k, name in enumerate(names):
            values = _numeric(
                data, _check_column(data, name, "replicate weights"), name, "replicate weights"
            )
            if (values < 0).any():
                raise DesignError(
                    f"Design: the replicate weights column {name!r} has negative values; "
                    "replicate weights must be zero or positive."
                )
            rows[:, k] = values
        if not design.combined_weights:
            rows *= w[:, None]
        n_rep = len(names)
    if design.rscales is None:
        rscales = np.ones(n_rep)
    else:
        rscales = np.asarray(design.rscales, dtype=np.float64)
        if rscales.shape != (n_rep,):
            raise DesignError(
                f"ReplicateDesign: rscales has {rscales.size} values but there are {n_rep} "
                "replicates; give one per replicate."
            )
    if not (design.scale > 0 and math.isfinite(design.scale)):
        raise DesignError(f"ReplicateDesign: scale must be a positive number, not {design.scale}.")
    return _Replicates(
        w=w,
        rows=rows,
        factors=factors,
        scale=float(design.scale),
        rscales=rscales,
        n_replicates=n_rep,
    )


def _pivoted_rank(gram: np.ndarray, tol: float = 1e-5) -> int:
    """Rank as R's ``qr(x, tol=1e-5)$rank``, from the Gram matrix of the columns: a column
    counts when the norm of its residual on the columns kept before it is at least ``tol``
    times its own norm (LINPACK ``dqrdc2`` moves the others to the end)."""
    norms = np.sqrt(np.clip(np.diag(gram), 0, None))
    try:  # full rank: the Cholesky diagonal holds those residual norms
        chol = np.linalg.cholesky(gram)
        if (np.diag(chol) >= tol * norms).all() and (norms > 0).all():
            return int(gram.shape[0])
    except np.linalg.LinAlgError:
        pass
    kept: list[int] = []
    lower = np.zeros((0, 0))
    for j in range(gram.shape[0]):
        if norms[j] == 0:
            continue
        if kept:
            lj = linalg.solve_triangular(lower, gram[kept, j], lower=True)
            resid2 = gram[j, j] - lj @ lj
        else:
            lj = np.zeros(0)
            resid2 = gram[j, j]
        if resid2 > 0 and math.sqrt(resid2) >= tol * norms[j]:
            k = len(kept)
            grown = np.zeros((k + 1, k + 1))
            grown[:k, :k] = lower
            grown[k, :k] = lj
            grown[k, k] = math.sqrt(resid2)
            lower = grown
            kept.append(j)
    return len(kept)


def _jk1(n_psu: int, fpc_factor: float) -> tuple[np.ndarray, float, np.ndarray]:
    factors = np.full((n_psu, n_psu), n_psu / (n_psu - 1))
    np.fill_diagonal(factors, 0.0)
    return factors, fpc_factor * (n_psu - 1) / n_psu, np.ones(n_psu)


def _jkn(design: Design) -> tuple[np.ndarray, float, np.ndarray]:
    s = design._s
    columns: list[np.ndarray] = []
    rscales: list[float] = []
    skipped = 0
    for h in range(s.n_strata):
        start = int(s.stratum_start[h])
        count = int(s.psu_count[h])
        in_h = np.zeros(s.n_psu, dtype=bool)
        in_h[start : start + count] = True
        if count == 1:
            mode = design.lonely_psu
            if mode == "fail":
                raise DesignError(
                    f"ReplicateDesign: stratum {s.stratum_labels[h]!r} has only one PSU; choose "
                    "lonely_psu='remove', 'certainty', 'adjust' or 'average' in the Design."
                )
            if mode == "adjust":
                col = np.where(in_h, 0.0, s.n_strata / (s.n_strata - 1))
                columns.append(col)
                rscales.append((s.n_strata - 1) / s.n_strata)
            else:
                skipped += 1
            continue
        for p in range(start, start + count):
            col = np.ones(s.n_psu)
            col[in_h] = count / (count - 1)
            col[p] = 0.0
            columns.append(col)
            rscales.append(float(s.fpc_factor[h]) * (count - 1) / count)
    if not columns:
        raise DesignError("ReplicateDesign: every stratum was exhaustively sampled.")
    scale = 1.0
    if skipped and design.lonely_psu == "average":
        scale = s.n_psu / len(columns)
    return np.column_stack(columns), scale, np.asarray(rscales)


def _bootstrap(
    design: Design, replicates: int, rng: np.random.Generator
) -> tuple[np.ndarray, float, np.ndarray]:
    s = design._s
    factors = np.zeros((s.n_psu, replicates))
    for h in range(s.n_strata):
        start = int(s.stratum_start[h])
        count = int(s.psu_count[h])
        f = float(s.fpc_factor[h])
        population = None if f >= 1.0 else round(count / (1.0 - f))
        if population is None:
            draws = rng.integers(0, count, size=(replicates, count))
        else:
            pseudo = np.resize(np.arange(count), population)
            draws = np.stack(
                [rng.choice(pseudo, size=count, replace=False) for _ in range(replicates)]
            )
        factors[start : start + count] = _counts(draws, count).T
    nbar = 1.0 / np.mean(1.0 / s.psu_count)
    scale = nbar / ((nbar - 1) * (replicates - 1))
    return factors, float(scale), np.ones(replicates)


def _subbootstrap(
    design: Design, replicates: int, rng: np.random.Generator
) -> tuple[np.ndarray, float, np.ndarray]:
    s = design._s
    factors = np.zeros((s.n_psu, replicates))
    for h in range(s.n_strata):
        start = int(s.stratum_start[h])
        count = int(s.psu_count[h])
        if count < 2:
            raise DesignError(
                f"ReplicateDesign: stratum {s.stratum_labels[h]!r} has one PSU; the Rao-Wu "
                "bootstrap needs at least two per stratum."
            )
        draws = rng.integers(0, count, size=(replicates, count - 1))
        factors[start : start + count] = _counts(draws, count).T * count / (count - 1)
    return factors, 1.0 / (replicates - 1), np.ones(replicates)


def _counts(draws: np.ndarray, size: int) -> np.ndarray:
    """(replicates, size) number of times each index was drawn in each row of ``draws``."""
    rows = np.repeat(np.arange(draws.shape[0]), draws.shape[1])
    flat = np.bincount(rows * size + draws.ravel(), minlength=draws.shape[0] * size)
    return flat.reshape(draws.shape[0], size).astype(np.float64)


def _recalibrate(design: Design, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cell factors that bring every replicate back to the calibrated totals."""
    s = design._s
    cal = required(s.calibration, "calibration")
    model = required(design.calibration, "calibration model")
    if model.method in ("linear", "logit") or model.numeric:
        raise EstimationError(
            f"ReplicateDesign: weights calibrated with method={model.method!r} cannot be "
            "re-calibrated replicate by replicate here; compute the replicate weights in the "
            "weighting step and pass them as replicate_weights."
        )
    cells = np.asarray(s.psu_cell_weight.T @ factors)  # (C, R)
    target_cells = np.asarray(s.psu_cell_weight.sum(axis=0)).ravel()  # (C,)
    if model.method == "poststratify" or model.interaction:
        margins: tuple[np.ndarray, ...] = (np.arange(cal.n_cells),)
    else:
        margins = cal.margins
    adjust = np.ones_like(cells)
    indicators = [
        sparse.csr_matrix(
            (np.ones(len(c)), (c, np.arange(len(c)))), shape=(int(c.max()) + 1, len(c))
        )
        for c in margins
    ]
    targets = [ind @ target_cells for ind in indicators]
    for _ in range(1000):
        biggest = 0.0
        for codes, ind, target in zip(margins, indicators, targets, strict=True):
            current = ind @ (cells * adjust)
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = np.where(current > 0, target[:, None] / current, 1.0)
            biggest = max(biggest, float(np.abs(ratio - 1).max()))
            adjust *= ratio[codes]
        if biggest < 1e-14:
            break
    return cal.cell, adjust
