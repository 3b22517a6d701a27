"""Taylor-linearised variances from PSU and calibration-cell sums of influence values.

Every linearised standard error of the platform ends here. An estimator is described by the
influence value :math:`z_i` of each row (zero outside its domain); the callers pass sums of
:math:`w_i z_i` by PSU and, for calibrated designs, the sums the calibration residuals need by
calibration cell. The arithmetic follows R's ``survey:::svyrecvar`` step by step:

1. calibration: replace :math:`w_i z_i` by :math:`w_i (z_i - m_i^\\top \\hat\\beta)`, the
   residual of a regression of :math:`z` on the calibration model matrix :math:`m` weighted by
   the weights before calibration (``calibrate()``, ``postStratify()``), or by ten sweeps of
   back-fitting the unweighted margin means of :math:`z` (``rake()``);
2. PSU totals :math:`t_{hj}`;
3. :math:`\\sum_h (1 - f_h) \\frac{n_h}{n_h - 1} \\sum_j (t_{hj} - \\bar t_h)^2`, with R's
   treatments of strata holding a single PSU.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse, stats

from analysis.design import Design, _Structure, required

RAKE_SWEEPS = 10  # R's svyrecvar back-fits raking margins exactly ten times.


def t_quantile(probability: float, df: float) -> float:
    """Quantile of Student's t with ``df`` degrees of freedom (the normal when infinite)."""
    if math.isinf(df):
        return float(stats.norm.ppf(probability))
    if not df > 0:
        return math.nan
    return float(stats.t.ppf(probability, df))


def t_two_sided_p(statistic: float, df: float) -> float:
    """Two-sided p-value of a t statistic (normal when ``df`` is infinite), as R's ``pt``."""
    if math.isnan(statistic):
        return math.nan
    if math.isinf(df):
        return float(2 * stats.norm.sf(abs(statistic)))
    if not df > 0:
        return math.nan
    return float(2 * stats.t.sf(abs(statistic), df))


def needs_base_sums(design: Design) -> bool:
    """True when the calibration residuals need sums weighted by the base weights."""
    cal = design._s.calibration
    return cal is not None and cal.kind == "greg" and cal.base is not None


def calibration_kind(design: Design) -> str | None:
    """``"greg"``, ``"rake"`` or None: which sums :func:`grouped_variance` needs."""
    cal = design._s.calibration
    return None if cal is None else cal.kind


def calibration_coefficients(
    design: Design,
    *,
    b_cell: np.ndarray | None = None,
    u_cell: np.ndarray | None = None,
    b_numeric: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The part of the influence values the calibration explains.

    Each row's :math:`z_i` is replaced by :math:`z_i - \\gamma_{c(i)} - x_i^\\top \\beta` with
    :math:`c(i)` its calibration cell and :math:`x_i` its numeric calibration variables.

    Parameters
    ----------
    design
        A calibrated design.
    b_cell
        (cells, K) sums of :math:`w_0 z` by calibration cell (GREG-type calibration; with no
        base weights, :math:`w z`).
    u_cell
        (cells, K) sums of :math:`z` by cell (``rake()``).
    b_numeric
        (L, K) sums of :math:`w_0 x_l z` for the numeric calibration variables.

    Returns
    -------
    gamma : (cells, K) array
    beta : (L, K) array, or None without numeric calibration variables
    """
    cal = required(design._s.calibration, "calibration")
    if cal.kind == "greg":
        model = required(cal.model, "calibration model matrix")
        q_cat = model.shape[1]
        rhs = model.T @ required(b_cell, "cell sums")
        if cal.numeric.shape[1]:
            rhs = np.vstack([rhs, required(b_numeric, "numeric sums")])
        beta = required(cal.inverse, "calibration inverse") @ rhs
        return model @ beta[:q_cat], (beta[q_cat:] if cal.numeric.shape[1] else None)
    u = np.array(required(u_cell, "cell sums"), dtype=np.float64, copy=True)
    adjust = np.zeros_like(u)
    count = cal.cell_count
    indicators = [_indicator(codes) for codes in cal.margins]
    margin_counts = [ind @ count for ind in indicators]
    for _ in range(RAKE_SWEEPS):
        for codes, ind, m_count in zip(cal.margins, indicators, margin_counts, strict=True):
            means = (ind @ u) / m_count[:, None]
            step = means[codes]
            u -= count[:, None] * step
            adjust += step
    return adjust, None


def calibrated_psu_totals(
    design: Design,
    x_psu: np.ndarray,
    *,
    b_cell: np.ndarray | None = None,
    u_cell: np.ndarray | None = None,
    b_numeric: np.ndarray | None = None,
) -> np.ndarray:
    """PSU totals of the calibration residuals of the influence values.

    ``x_psu`` is (PSUs, K), the sums of :math:`w z` by PSU; the other arguments are those of
    :func:`calibration_coefficients`.
    """
    s = design._s
    cal = s.calibration
    if cal is None:
        return x_psu
    gamma, beta = calibration_coefficients(
        design, b_cell=b_cell, u_cell=u_cell, b_numeric=b_numeric
    )
    totals = x_psu - s.psu_cell_weight @ gamma
    if beta is not None:
        totals = totals - required(cal.weight_numeric_psu, "numeric PSU sums") @ beta
    return np.asarray(totals)


def _indicator(codes: np.ndarray) -> sparse.csr_matrix:
    levels = int(codes.max()) + 1
    return sparse.csr_matrix(
        (np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(levels, len(codes))
    )


def stratified_variance(
    design: Design, totals: np.ndarray, *, present: np.ndarray | None = None
) -> np.ndarray:
    """Variance of each column from its PSU totals (with-replacement at the first stage, fpc).

    Parameters
    ----------
    design
        The design.
    totals
        (PSUs, K) PSU totals of the (calibration residuals of the) influence values.
    present
        (strata, K) bool: strata holding a row of each estimate's subset. Only used with
        ``lonely_psu="average"`` on an uncalibrated design, where R averages over the strata of
        the subset (R drops the other rows before computing).

    Returns
    -------
    numpy.ndarray
        (K,) variances.
    """
    s = design._s
    totals = np.asarray(totals, dtype=np.float64)
    if totals.ndim == 1:
        totals = totals[:, None]
    starts = s.stratum_start
    count = s.psu_count.astype(np.float64)
    sums = np.add.reduceat(totals, starts, axis=0)
    deviations = totals - (sums / count[:, None])[s.psu_stratum]
    squares = np.add.reduceat(deviations * deviations, starts, axis=0)
    raw = None
    if design.lonely_psu == "adjust" and s.lonely.any():
        raw = np.add.reduceat(totals * totals, starts, axis=0)
    return combine_strata(design, squares, raw=raw, present=present)


def combine_strata(
    design: Design,
    squares: np.ndarray,
    *,
    raw: np.ndarray | None = None,
    present: np.ndarray | None = None,
) -> np.ndarray:
    """Sum the strata's contributions, with R's fpc and single-PSU rules.

    Parameters
    ----------
    squares
        (strata, K) sums of squared deviations of the PSU totals from their stratum mean.
    raw
        (strata, K) sums of squared PSU totals (needed for ``lonely_psu="adjust"``).
    present
        See :func:`stratified_variance`.
    """
    s = design._s
    count = s.psu_count.astype(np.float64)
    f = s.fpc_factor
    scale = np.where(count > 1, f * count / np.maximum(count - 1, 1), f)
    scale = np.where(f < 1e-7, 0.0, scale)
    contributions = scale[:, None] * squares
    lonely = s.lonely & (f >= 1e-7)
    mode = design.lonely_psu
    if lonely.any():
        if mode == "adjust":
            contributions[lonely] = scale[lonely, None] * required(raw, "raw squares")[lonely]
        elif mode in ("remove", "certainty", "fail"):
            contributions[lonely] = 0.0
    if mode == "average" and lonely.any():
        if present is None or s.calibration is not None:
            present = np.ones_like(contributions, dtype=bool)
        ok = present & ~lonely[:, None]
        total = np.where(ok, contributions, 0.0).sum(axis=0)
        n_present = present.sum(axis=0)
        n_ok = ok.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n_ok > 0, total * n_present / np.maximum(n_ok, 1), np.nan)
    return contributions.sum(axis=0)


def grouped_variance(
    design: Design,
    x_psu: np.ndarray,
    *,
    b_cell: np.ndarray | None = None,
    u_cell: np.ndarray | None = None,
    b_numeric: np.ndarray | None = None,
    present: np.ndarray | None = None,
) -> np.ndarray:
    """Variances from PSU sums (and calibration-cell sums) of influence values."""
    totals = calibrated_psu_totals(design, x_psu, b_cell=b_cell, u_cell=u_cell, b_numeric=b_numeric)
    return stratified_variance(design, totals, present=present)


def _sums_by(codes: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    out = np.empty((size, values.shape[1]))
    for k in range(values.shape[1]):
        out[:, k] = np.bincount(codes, weights=values[:, k], minlength=size)
    return out


def influence_variance(
    design: Design, z: np.ndarray, *, used: np.ndarray | None = None
) -> np.ndarray:
    """Variance-covariance matrix of estimators with row-level influence values.

    Parameters
    ----------
    design
        The design.
    z
        (n, K) influence values per unit weight: the estimator's linearisation is
        :math:`\\sum_i w_i z_i` (zero for rows outside the estimate's subset).
    used
        (n,) bool, the rows of the estimate's subset (for ``lonely_psu="average"``).

    Returns
    -------
    numpy.ndarray
        (K, K) covariance matrix.
    """
    s: _Structure = design._s
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 1:
        z = z[:, None]
    x = z * s.w[:, None]
    if s.element:  # every row is a PSU: its total is its own value
        totals = np.empty_like(x)
        totals[s.psu] = x
    else:
        totals = _sums_by(s.psu, x, s.n_psu)
    cal = s.calibration
    if cal is not None:
        if cal.kind == "greg":
            w0 = s.w if cal.base is None else cal.base
            xb = x if cal.base is None else z * w0[:, None]
            b_cell = _sums_by(cal.cell, xb, cal.n_cells)
            b_numeric = (cal.numeric * w0[:, None]).T @ z if cal.numeric.shape[1] else None
            totals = calibrated_psu_totals(design, totals, b_cell=b_cell, b_numeric=b_numeric)
        else:
            u_cell = _sums_by(cal.cell, z, cal.n_cells)
            totals = calibrated_psu_totals(design, totals, u_cell=u_cell)
    present = None
    if design.lonely_psu == "average" and used is not None:
        hit = np.bincount(s.stratum[used], minlength=s.n_strata) > 0
        present = np.repeat(hit[:, None], z.shape[1], axis=1)
    variances = stratified_variance(design, totals, present=present)
    return _covariance(design, totals, variances, present)


def _covariance(
    design: Design, totals: np.ndarray, variances: np.ndarray, present: np.ndarray | None
) -> np.ndarray:
    """Full covariance matrix of PSU totals (same stratum rules as the variances)."""
    s = design._s
    k = totals.shape[1]
    if k == 1:
        return variances.reshape(1, 1)
    starts = s.stratum_start
    count = s.psu_count.astype(np.float64)
    sums = np.add.reduceat(totals, starts, axis=0)
    dev = totals - (sums / count[:, None])[s.psu_stratum]
    f = s.fpc_factor
    scale = np.where(count > 1, f * count / np.maximum(count - 1, 1), f)
    scale = np.where(f < 1e-7, 0.0, scale)
    lonely = s.lonely & (f >= 1e-7)
    mode = design.lonely_psu
    use = dev.copy()
    if lonely.any() and mode == "adjust":
        psu_lonely = lonely[s.psu_stratum]
        use[psu_lonely] = totals[psu_lonely]
    weight = scale[s.psu_stratum]
    factor = 1.0
    if lonely.any() and mode in ("remove", "certainty", "fail", "average"):
        weight = np.where(lonely[s.psu_stratum], 0.0, weight)
        if mode == "average":
            if present is None or s.calibration is not None:
                present_h = np.ones(s.n_strata, dtype=bool)
            else:
                present_h = present[:, 0]
            n_ok = int((present_h & ~lonely).sum())
            factor = present_h.sum() / n_ok if n_ok else math.nan
    cov = (use * weight[:, None]).T @ use * factor
    np.fill_diagonal(cov, variances)
    return np.asarray(cov)
