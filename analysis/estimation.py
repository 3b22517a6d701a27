"""Design-based estimates: means, totals, proportions, ratios and quantiles, by domain.

Every function takes a :class:`~analysis.design.Design` (Taylor linearisation, calibration
aware) or a :class:`~analysis.replication.ReplicateDesign` and returns
:class:`~analysis.results.Estimates`, one per domain and variable (and category or quantile).

How it is computed: one pass over the rows sums ``w``, ``w*y`` (and what the calibration
residuals need) by PSU x calibration cell x domain; everything after that is numpy on that
small table (see ``analysis/linearization.py``). Domains keep the whole sample for the
variance (R's ``svyby``): a row outside the domain, or with a missing value under
``na_rm=True``, has influence zero but its PSU still counts.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd

from analysis.design import Design, _combine_codes, column_codes, relabel, required
from analysis.errors import EstimationError
from analysis.linearization import (
    calibration_coefficients,
    combine_strata,
    grouped_variance,
    t_quantile,
)
from analysis.replication import ReplicateDesign
from analysis.results import Estimate, Estimates, precision_flags

AnyDesign = Design | ReplicateDesign
CiMethod = Literal["wald", "logit"]
QuantileRule = Literal["math", "school"]

_CHUNK_ELEMENTS = 1 << 23  # PSUs x estimates held at once (64 MB of float64)


# --------------------------------------------------------------------------------------------
# Inputs: variables and domains


@dataclass(frozen=True, eq=False)
class _Domains:
    code: np.ndarray  # (n,) domain of each row, -1 when a `by` value is missing
    labels: tuple[dict[str, object], ...]

    @property
    def count(self) -> int:
        return len(self.labels)


@dataclass(frozen=True, eq=False)
class _Term:
    """One linear statistic: a mean, total or ratio of row variables."""

    variable: str
    level: object
    statistic: str  # mean, total, ratio, proportion
    columns: tuple[np.ndarray, ...]  # 1 (mean, total) or 2 (ratio: numerator, denominator)
    mask: np.ndarray  # (n,) bool: the row counts


def _data(design: AnyDesign) -> pd.DataFrame:
    return design.data


def _missing_column(design: AnyDesign, column: str, role: str) -> EstimationError:
    names = [str(c) for c in _data(design).columns]
    close = difflib.get_close_matches(str(column), names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return EstimationError(f"{role} column {column!r} is not in the data.{hint}")


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _variable(design: AnyDesign, column: str, *, na_rm: bool, numeric: bool) -> pd.Series:
    data = _data(design)
    if column not in data.columns:
        raise _missing_column(design, column, "Variable")
    series = data[column]
    if numeric and (
        not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
    ):
        if pd.api.types.is_bool_dtype(series):
            return series.astype("float64")
        raise EstimationError(
            f"Variable {column!r} is {series.dtype}, not numeric; convert it (pd.to_numeric) or "
            "use estimate_proportion for a categorical variable."
        )
    if not na_rm:
        missing = int(series.isna().sum())
        if missing:
            raise EstimationError(
                f"Variable {column!r} has {missing} missing value(s). Pass na_rm=True to "
                "estimate from the respondents who answered (the others still count in the "
                "design), or impute them first."
            )
    return series


def _numeric_values(series: pd.Series) -> np.ndarray:
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(values).any():
        raise EstimationError(f"Variable {series.name!r} has infinite values.")
    return values


def _domains(design: AnyDesign, by: str | Sequence[str] | None) -> _Domains:
    names = _as_list(by)
    n = len(_data(design))
    if not names:
        return _Domains(code=np.zeros(n, dtype=np.int64), labels=({},))
    data = _data(design)
    codes = []
    uniques = []
    for name in names:
        if name not in data.columns:
            raise _missing_column(design, name, "Domain (by)")
        code, values = column_codes(data, name, _cache(design))
        codes.append(code)
        uniques.append(values)
    missing = np.zeros(n, dtype=bool)
    for code in codes:
        missing |= code < 0
    domain = np.full(n, -1, dtype=np.int64)
    if len(codes) == 1 and not missing.any():
        # One column, every row in a domain: its codes (0 ... k-1, each present) are the domains.
        domain = codes[0].view()
        domain.flags.writeable = False  # the design's cached codes
        combos = np.arange(len(uniques[0]), dtype=np.int64)[:, None]
        labels = tuple({names[0]: _native(uniques[0][int(c[0])])} for c in combos)
    elif (~missing).any():
        joint, combos = _combine_codes([c[~missing] for c in codes])
        domain[~missing] = joint
        labels = tuple(
            {name: _native(uniques[j][int(combo[j])]) for j, name in enumerate(names)}
            for combo in combos
        )
    else:
        labels = ()
    return _Domains(code=domain, labels=labels)


def _cache(design: AnyDesign) -> dict:
    return design._s.codes if isinstance(design, Design) else design._r.codes


def _native(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _df(design: AnyDesign, df: float | None) -> float:
    if df is not None:
        return float(df)
    return float(design.degf)


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise EstimationError(
            f"alpha must be between 0 and 1 (0.05 for 95% intervals), not {alpha}."
        )


# --------------------------------------------------------------------------------------------
# The linear statistics


@dataclass(frozen=True, eq=False)
class _Linear:
    estimate: np.ndarray  # (D, J)
    variance: np.ndarray  # (D, J)
    n: np.ndarray  # (D, J)
    deff: np.ndarray  # (D, J)


def _coefficients(
    term: _Term, shift: np.ndarray, s0: np.ndarray, s1: np.ndarray, s2: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Estimate and the coefficients of (1, a1, a2) in the influence value, per domain.

    For means the first column was centred on each domain's mean (``shift``), so ``s1`` is
    nearly zero and the influence values lose no precision.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        if term.statistic in ("mean", "proportion"):
            centred = s1 / s0
            estimate = centred + shift
            c0 = -centred / s0
            c1 = 1.0 / s0
            c2 = np.zeros_like(s0)
        elif term.statistic == "total":
            estimate = s1 + shift * s0
            c0 = shift * np.ones_like(s0)
            c1 = np.ones_like(s0)
            c2 = np.zeros_like(s0)
        else:  # ratio
            den = required(s2, "ratio denominator")
            estimate = s1 / den
            c0 = np.zeros_like(s0)
            c1 = 1.0 / den
            c2 = -estimate / den
    return estimate, c0, c1, c2


def _srs_variance(
    term: _Term,
    estimate: np.ndarray,
    s0: np.ndarray,
    s1: np.ndarray,
    s2: np.ndarray | None,
    q: dict[str, np.ndarray],
    n: np.ndarray,
) -> np.ndarray:
    """Variance under simple random sampling without replacement (R's ``deff=TRUE``)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if term.statistic == "ratio":
            den = required(s2, "ratio denominator")
            r2 = (q["11"] - 2 * estimate * q["12"] + estimate**2 * q["22"]) / den**2
            variance = r2 / s0 * n / (n - 1)
            scale = s0**2
        else:
            variance = (q["11"] - s1 * s1 / s0) / s0 * n / (n - 1)
            scale = s0**2 if term.statistic == "total" else np.ones_like(s0)
        vsrs = variance * scale * (s0 - n) / (s0 * n)
        return np.where(s0 >= n, vsrs, np.nan)


def _linear(design: AnyDesign, terms: Sequence[_Term], domains: _Domains) -> _Linear:
    if isinstance(design, ReplicateDesign):
        return _linear_replicate(design, terms, domains)
    return _linear_taylor(design, terms, domains)


def _term_columns(
    term: _Term, m: np.ndarray, dom: np.ndarray, n_dom: int, w: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray]:
    """The term's columns, zero where the row does not count; for a mean or total, the
    variable minus its domain's weighted mean (returned as the shift, one per domain)."""
    cols = [np.where(m, col, 0.0) for col in term.columns]
    shift = np.zeros(n_dom)
    if term.statistic in ("mean", "proportion", "total"):
        rows = np.flatnonzero(m)
        wsum = np.bincount(dom[rows], weights=w[rows], minlength=n_dom)
        ysum = np.bincount(dom[rows], weights=(w * cols[0])[rows], minlength=n_dom)
        with np.errstate(invalid="ignore", divide="ignore"):
            shift = np.where(wsum > 0, ysum / wsum, 0.0)
        cols[0] = np.where(m, cols[0] - shift[np.maximum(dom, 0)], 0.0)
    return cols, shift


def _linear_taylor(design: Design, terms: Sequence[_Term], domains: _Domains) -> _Linear:
    s = design._s
    cal = s.calibration
    if s.element and (cal is None or not cal.numeric.shape[1]):
        return _linear_elements(design, terms, domains)
    n_dom = domains.count
    n_terms = len(terms)
    dom = domains.code
    key = s.pc_code * (n_dom + 1) + (dom + 1)
    group, uniq = relabel(key, len(s.pc_psu) * (n_dom + 1))
    n_groups = len(uniq)
    g_pc = uniq // (n_dom + 1)
    g_dom = uniq % (n_dom + 1) - 1
    g_psu = s.pc_psu[g_pc]
    g_cell = s.pc_cell[g_pc]
    in_domain = g_dom >= 0
    w = s.w
    w0 = None
    if cal is not None and cal.kind == "greg" and cal.base is not None:
        w0 = cal.base
    n_num = 0 if cal is None else cal.numeric.shape[1]

    def gsum(values: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=values, minlength=n_groups)

    def dsum(values: np.ndarray) -> np.ndarray:
        return np.bincount(g_dom[in_domain], weights=values[in_domain], minlength=n_dom)

    vx = np.zeros((n_groups, n_terms))
    vb = np.zeros((n_groups, n_terms)) if cal is not None and cal.kind == "greg" else None
    vu = np.zeros((n_groups, n_terms)) if cal is not None and cal.kind == "rake" else None
    vn = np.zeros((n_num, n_groups, n_terms))
    counts = np.zeros((n_groups, n_terms))
    estimate = np.empty((n_dom, n_terms))
    n_out = np.empty((n_dom, n_terms))
    vsrs = np.empty((n_dom, n_terms))
    valid_rows = dom >= 0
    for j, term in enumerate(terms):
        m = term.mask & valid_rows
        mf = m.astype(np.float64)
        cols, shift = _term_columns(term, m, dom, n_dom, w)
        wm = w * mf
        g0 = gsum(wm)
        g_cols = [gsum(wm * c) for c in cols]
        count = gsum(mf)
        counts[:, j] = count
        d0 = dsum(g0)
        d_cols = [dsum(g) for g in g_cols]
        d_n = dsum(count)
        q = {"11": dsum(gsum(wm * cols[0] * cols[0]))}
        if len(cols) == 2:
            q["12"] = dsum(gsum(wm * cols[0] * cols[1]))
            q["22"] = dsum(gsum(wm * cols[1] * cols[1]))
        d2 = d_cols[1] if len(cols) == 2 else None
        est, c0, c1, c2 = _coefficients(term, shift, d0, d_cols[0], d2)
        estimate[:, j] = est
        n_out[:, j] = d_n
        vsrs[:, j] = _srs_variance(term, est, d0, d_cols[0], d2, q, d_n)
        gd = np.where(in_domain, g_dom, 0)
        a0, a1, a2 = c0[gd], c1[gd], c2[gd]

        def combine(t0: np.ndarray, t_cols: list[np.ndarray], a0=a0, a1=a1, a2=a2) -> np.ndarray:
            out = a0 * t0 + a1 * t_cols[0]
            if len(t_cols) == 2:
                out = out + a2 * t_cols[1]
            return np.where(in_domain, out, 0.0)

        vx[:, j] = combine(g0, g_cols)
        if vb is not None:
            if w0 is None:
                vb[:, j] = vx[:, j]
            else:
                w0m = w0 * mf
                vb[:, j] = combine(gsum(w0m), [gsum(w0m * c) for c in cols])
        if vu is not None:
            vu[:, j] = combine(count, [gsum(mf * c) for c in cols])
        if n_num:
            numeric = required(cal, "calibration").numeric
            base = w if w0 is None else w0
            for k in range(n_num):
                wl = base * numeric[:, k] * mf
                vn[k, :, j] = combine(gsum(wl), [gsum(wl * c) for c in cols])

    variance = np.empty((n_dom, n_terms))
    n_psu = s.n_psu
    per_block = max(1, _CHUNK_ELEMENTS // max(1, n_psu * n_terms))
    need_present = design.lonely_psu == "average" and bool(s.lonely.any()) and cal is None
    g_stratum = s.psu_stratum[g_psu]
    for d_start in range(0, n_dom, per_block):
        d_stop = min(n_dom, d_start + per_block)
        width = (d_stop - d_start) * n_terms
        sel = in_domain & (g_dom >= d_start) & (g_dom < d_stop)
        offset = ((g_dom[sel] - d_start) * n_terms)[:, None] + np.arange(n_terms)[None, :]

        def block(
            index: np.ndarray, values: np.ndarray, rows: int, offset=offset, sel=sel, width=width
        ) -> np.ndarray:
            flat = (index[sel][:, None] * width + offset).ravel()
            return np.bincount(flat, weights=values[sel].ravel(), minlength=rows * width).reshape(
                rows, width
            )

        x_psu = block(g_psu, vx, n_psu)
        b_cell = u_cell = b_num = None
        n_cells = 1 if cal is None else cal.n_cells
        if vb is not None:
            b_cell = block(g_cell, vb, n_cells)
        if vu is not None:
            u_cell = block(g_cell, vu, n_cells)
        if n_num:
            b_num = np.vstack(
                [block(np.zeros(n_groups, dtype=np.int64), vn[k], 1) for k in range(n_num)]
            )
        present = None
        if need_present:
            present = block(g_stratum, counts, s.n_strata) > 0
        var = grouped_variance(
            design, x_psu, b_cell=b_cell, u_cell=u_cell, b_numeric=b_num, present=present
        )
        variance[d_start:d_stop] = var.reshape(d_stop - d_start, n_terms)
    with np.errstate(invalid="ignore", divide="ignore"):
        deff = variance / vsrs
    return _Linear(estimate=estimate, variance=variance, n=n_out, deff=deff)


def _linear_elements(design: Design, terms: Sequence[_Term], domains: _Domains) -> _Linear:
    """Respondents sampled directly (no clusters): every row is a PSU, so no PSU totals are
    formed. A stratum's sum and sum of squares of the (calibration residuals of the)
    influence values :math:`w_i (z_i - \\gamma_{c(i)})` come from sums of ``w``, ``w*y``,
    ``w^2``, ``w^2*y`` and ``w^2*y^2`` by stratum x calibration cell x domain: within such a
    group the residual is ``w * (alpha + beta * y)``."""
    s = design._s
    cal = s.calibration
    n_cells = 1 if cal is None else cal.n_cells
    cell = np.zeros(s.n, dtype=np.int64) if cal is None else cal.cell
    n_dom = domains.count
    n_terms = len(terms)
    n_est = n_dom * n_terms
    n_strata = s.n_strata
    dom = domains.code
    key = np.multiply(cell, n_dom + 1, dtype=np.int64)  # (stratum, cell, domain + 1)
    key += dom
    key += 1
    if n_strata > 1:
        key += s.stratum * (n_cells * (n_dom + 1))
    group, uniq = relabel(key, n_strata * n_cells * (n_dom + 1))
    n_groups = len(uniq)
    g_hc = uniq // (n_dom + 1)
    g_dom = uniq % (n_dom + 1) - 1
    g_h = g_hc // n_cells
    g_c = g_hc % n_cells
    in_domain = g_dom >= 0
    gd = np.where(in_domain, g_dom, 0)
    w = s.w
    w2 = w * w
    w0 = cal.base if cal is not None and cal.kind == "greg" else None

    def gsum(values: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=values, minlength=n_groups)

    def dsum(values: np.ndarray) -> np.ndarray:
        return np.bincount(g_dom[in_domain], weights=values[in_domain], minlength=n_dom)

    n_vars = max(len(t.columns) for t in terms) + 1  # 1, a1 (, a2)
    p_sums = np.zeros((n_vars, n_groups, n_terms))  # sum of w * m * v
    q_sums = np.zeros((n_vars, n_vars, n_groups, n_terms))  # sum of w^2 * m * v * v'
    w_off = np.zeros((n_groups, n_terms))  # sum of w over rows the term does not use
    w2_off = np.zeros((n_groups, n_terms))  # sum of w^2 over them
    coef = np.zeros((n_vars, n_dom, n_terms))
    b_val = np.zeros((n_groups, n_terms))
    u_val = np.zeros((n_groups, n_terms))
    counts = np.zeros((n_groups, n_terms))
    estimate = np.empty((n_dom, n_terms))
    n_out = np.empty((n_dom, n_terms))
    vsrs = np.empty((n_dom, n_terms))
    valid_rows = dom >= 0
    row_dom = np.maximum(dom, 0)
    # Group totals that do not depend on the term: a term every row counts in reuses them.
    g_w = gsum(w)
    g_w2 = gsum(w2)
    g_n = np.bincount(group, minlength=n_groups).astype(np.float64)
    w_base = None if w0 is None else gsum(w0)
    # Work arrays reused by every term (products are formed in place, then summed by group).
    n_rows = len(w)
    n_cols = n_vars - 1
    tmp = np.empty(n_rows)
    mask_f = np.empty(n_rows)
    weight_m = np.empty(n_rows)
    value_bufs = [np.empty(n_rows) for _ in range(n_cols)]
    weighted_bufs = [np.empty(n_rows) for _ in range(n_cols)]

    def product_sum(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return gsum(np.multiply(x, y, out=tmp))

    for j, term in enumerate(terms):
        m = term.mask & valid_rows
        every = bool(m.all())
        values = list(term.columns)  # read only: centring writes into a buffer
        if every:
            mf = None
            wm, p0, q00, count = w, g_w, g_w2, g_n
        else:
            mf = mask_f
            np.copyto(mf, m)
            wm = np.multiply(w, mf, out=weight_m)
            p0, q00, count = gsum(wm), product_sum(w2, mf), gsum(mf)
            off = ~m
            values = value_bufs[: len(term.columns)]
            for buf, col in zip(values, term.columns, strict=True):
                np.copyto(buf, col)
                np.putmask(buf, off, 0.0)
            w_off[:, j] = g_w - p0
            w2_off[:, j] = g_w2 - q00
        d0 = dsum(p0)
        shift = np.zeros(n_dom)
        if term.statistic in ("mean", "proportion", "total"):
            # Centre the variable on its domain's weighted mean (zero where the row does not
            # count), so that the sums of squares below lose no precision.
            with np.errstate(invalid="ignore", divide="ignore"):
                shift = np.where(
                    d0 > 0, dsum(product_sum(wm, values[0])) / np.where(d0 > 0, d0, 1), 0
                )
            values[0] = np.subtract(
                values[0], np.take(shift, row_dom, out=tmp), out=value_bufs[0]
            )
            if mf is not None:
                values[0] *= mf
        # w * v for every variable v = (m, a1 (, a2)); a1, a2 are already zero off the term.
        weighted = [wm]
        weighted += [
            np.multiply(wm, v, out=buf)
            for v, buf in zip(values, weighted_bufs[: len(values)], strict=True)
        ]
        k = len(weighted)
        p_sums[0, :, j] = p0
        q_sums[0, 0, :, j] = q00
        for a in range(1, k):
            p_sums[a, :, j] = gsum(weighted[a])
            q_sums[0, a, :, j] = q_sums[a, 0, :, j] = product_sum(w, weighted[a])
            for b in range(a, k):
                q_sums[a, b, :, j] = q_sums[b, a, :, j] = product_sum(weighted[a], weighted[b])
        counts[:, j] = count
        d = [d0, *(dsum(p_sums[a, :, j]) for a in range(1, k))]
        d_n = dsum(count)
        moments = {"11": dsum(product_sum(weighted[1], values[0]))}
        if k == 3:
            moments["12"] = dsum(product_sum(weighted[1], values[1]))
            moments["22"] = dsum(product_sum(weighted[2], values[1]))
        d2 = d[2] if k == 3 else None
        est, c0, c1, c2 = _coefficients(term, shift, d[0], d[1], d2)
        estimate[:, j] = est
        n_out[:, j] = d_n
        vsrs[:, j] = _srs_variance(term, est, d[0], d[1], d2, moments, d_n)
        coef[:, :, j] = np.vstack([c0, c1, c2])[:n_vars]
        own = [coef[a, gd, j] for a in range(k)]
        if cal is not None and cal.kind == "greg":
            if w0 is None:
                sums = [p_sums[a, :, j] for a in range(k)]
            else:
                sums = [required(w_base, "base weights") if mf is None else product_sum(w0, mf)]
                sums += [product_sum(w0, v) for v in values]
            b_val[:, j] = sum(c * t for c, t in zip(own, sums, strict=True))
        elif cal is not None:
            sums = [count, *(gsum(v) for v in values)]
            u_val[:, j] = sum(c * t for c, t in zip(own, sums, strict=True))
    b_val[~in_domain] = 0.0
    u_val[~in_domain] = 0.0
    gamma = np.zeros((n_cells, n_est))
    if cal is not None:
        keep = np.flatnonzero(in_domain)
        column = (g_dom[keep] * n_terms)[:, None] + np.arange(n_terms)[None, :]
        residual = b_val if cal.kind == "greg" else u_val
        flat = (g_c[keep][:, None] * n_est + column).ravel()
        cell_sums = np.bincount(
            flat, weights=residual[keep].ravel(), minlength=n_cells * n_est
        ).reshape(n_cells, n_est)
        if cal.kind == "greg":
            gamma, _ = calibration_coefficients(design, b_cell=cell_sums)
        else:
            gamma, _ = calibration_coefficients(design, u_cell=cell_sums)
    w_all, w2_all = g_w, g_w2
    starts = np.flatnonzero(np.r_[True, g_h[1:] != g_h[:-1]])
    s1 = np.zeros((n_strata, n_est))
    s2 = np.zeros((n_strata, n_est))
    present = np.zeros((n_strata, n_est), dtype=bool)
    strata_of = g_h[starts]
    per_block = max(1, _CHUNK_ELEMENTS // max(1, 4 * n_groups * n_terms))
    for d_start in range(0, n_dom, per_block):
        d_stop = min(n_dom, d_start + per_block)
        ks = slice(d_start * n_terms, d_stop * n_terms)
        doms = np.repeat(np.arange(d_start, d_stop), n_terms)
        terms_of = np.tile(np.arange(n_terms), d_stop - d_start)
        inside = g_dom[:, None] == doms[None, :]  # (G, k)
        g = gamma[g_c, ks]  # (G, k)
        c = coef[:, doms, terms_of]  # (vars, k)
        p = p_sums[:, :, terms_of]  # (vars, G, k)
        q = q_sums[:, :, :, terms_of]
        alpha = c[0][None, :] - g
        t1 = alpha * p[0] - g * w_off[:, terms_of]
        t2 = alpha * alpha * q[0, 0] + g * g * w2_off[:, terms_of]
        for a in range(1, n_vars):
            t1 = t1 + c[a][None, :] * p[a]
            t2 = t2 + 2 * alpha * c[a][None, :] * q[0, a]
            for b in range(1, n_vars):
                t2 = t2 + c[a][None, :] * c[b][None, :] * q[a, b]
        t1 = np.where(inside, t1, -g * w_all[:, None])
        t2 = np.where(inside, t2, g * g * w2_all[:, None])
        s1[strata_of, ks] = np.add.reduceat(t1, starts, axis=0)
        s2[strata_of, ks] = np.add.reduceat(t2, starts, axis=0)
        hits = np.where(inside, counts[:, terms_of], 0.0)
        present[strata_of, ks] = np.add.reduceat(hits, starts, axis=0) > 0
    size = s.psu_count.astype(np.float64)[:, None]
    squares = np.maximum(s2 - s1 * s1 / size, 0.0)
    variance = combine_strata(
        design, squares, raw=np.maximum(s2, 0.0), present=present if cal is None else None
    ).reshape(n_dom, n_terms)
    with np.errstate(invalid="ignore", divide="ignore"):
        deff = variance / vsrs
    return _Linear(estimate=estimate, variance=variance, n=n_out, deff=deff)


def _linear_replicate(
    design: ReplicateDesign, terms: Sequence[_Term], domains: _Domains
) -> _Linear:
    n_dom = domains.count
    n_terms = len(terms)
    dom = domains.code
    valid_rows = dom >= 0
    estimate = np.empty((n_dom, n_terms))
    variance = np.empty((n_dom, n_terms))
    n_out = np.empty((n_dom, n_terms))
    vsrs = np.empty((n_dom, n_terms))
    w = design._r.w
    for j, term in enumerate(terms):
        m = term.mask & valid_rows
        mf = m.astype(np.float64)
        cols, shift = _term_columns(term, m, dom, n_dom, w)
        columns = [mf, *cols]
        full, reps = design.replicate_sums(columns, dom, n_dom)
        d_n = np.bincount(dom[valid_rows], weights=mf[valid_rows], minlength=n_dom)
        d0 = full[:, 0]
        d1 = full[:, 1]
        d2 = full[:, 2] if len(cols) == 2 else None
        est, *_ = _coefficients(term, shift, d0, d1, d2)
        r2 = reps[:, :, 2] if len(cols) == 2 else None
        rep_est, *_ = _coefficients(term, shift, reps[:, :, 0], reps[:, :, 1], r2)
        estimate[:, j] = est
        variance[:, j] = design.variance(est, rep_est)
        n_out[:, j] = d_n
        q = {}
        wm = (w * mf)[valid_rows]
        dv = dom[valid_rows]
        q["11"] = np.bincount(dv, weights=wm * cols[0][valid_rows] ** 2, minlength=n_dom)
        if len(cols) == 2:
            q["12"] = np.bincount(
                dv, weights=wm * cols[0][valid_rows] * cols[1][valid_rows], minlength=n_dom
            )
            q["22"] = np.bincount(dv, weights=wm * cols[1][valid_rows] ** 2, minlength=n_dom)
        vsrs[:, j] = _srs_variance(term, est, d0, d1, d2, q, d_n)
    with np.errstate(invalid="ignore", divide="ignore"):
        deff = variance / vsrs
    return _Linear(estimate=estimate, variance=variance, n=n_out, deff=deff)


def _assemble(
    terms: Sequence[_Term],
    domains: _Domains,
    result: _Linear,
    *,
    df: float,
    alpha: float,
    min_n: int,
    max_cv: float,
    ci_method: CiMethod = "wald",
) -> Estimates:
    t = t_quantile(1 - alpha / 2, df)
    items = []
    for d, labels in enumerate(domains.labels):
        for j, term in enumerate(terms):
            est = float(result.estimate[d, j])
            var = float(result.variance[d, j])
            se = math.sqrt(max(var, 0.0)) if not math.isnan(var) else math.nan
            lower, upper = est - t * se, est + t * se
            if ci_method == "logit" and term.statistic == "proportion":
                lower, upper = _logit_interval(est, se, t)
            n = int(result.n[d, j])
            cv = _cv(est, se)
            items.append(
                Estimate(
                    estimate=est,
                    se=se,
                    ci_lower=lower,
                    ci_upper=upper,
                    df=df,
                    n=n,
                    deff=float(result.deff[d, j]),
                    cv=cv,
                    variable=term.variable,
                    level=term.level,
                    by=dict(labels),
                    statistic=term.statistic,
                    flags=precision_flags(n, cv, min_n=min_n, max_cv=max_cv),
                )
            )
    return Estimates(items, alpha=alpha)


def _cv(estimate: float, se: float) -> float:
    if estimate == 0:
        return math.inf if se > 0 else math.nan
    return se / abs(estimate)


def _logit_interval(p: float, se: float, t: float) -> tuple[float, float]:
    if not 0 < p < 1:
        return math.nan, math.nan
    centre = math.log(p / (1 - p))
    half = t * se / (p * (1 - p))
    return _expit(centre - half), _expit(centre + half)


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _common(
    design: AnyDesign, by: str | Sequence[str] | None, alpha: float, min_n: int, max_cv: float
) -> _Domains:
    if not isinstance(design, Design | ReplicateDesign):
        raise EstimationError(
            f"design must be a Design or ReplicateDesign, not {type(design).__name__}."
        )
    _check_alpha(alpha)
    if min_n < 0 or not max_cv > 0:
        raise EstimationError("min_n must be >= 0 and max_cv > 0.")
    return _domains(design, by)


def _mean_terms(
    design: AnyDesign, variables: Sequence[str], statistic: str, na_rm: bool
) -> list[_Term]:
    if not variables:
        raise EstimationError("Name at least one variable to estimate.")
    terms = []
    for name in variables:
        values = _numeric_values(_variable(design, name, na_rm=na_rm, numeric=True))
        mask = ~np.isnan(values)
        terms.append(
            _Term(
                variable=name,
                level=None,
                statistic=statistic,
                columns=(values,),
                mask=mask,
            )
        )
    return terms


# --------------------------------------------------------------------------------------------
# Public API


def estimate_mean(
    design: AnyDesign,
    variables: str | Sequence[str],
    *,
    by: str | Sequence[str] | None = None,
    alpha: float = 0.05,
    df: float | None = None,
    na_rm: bool = True,
    min_n: int = 30,
    max_cv: float = 0.3,
) -> Estimates:
    """Estimate population means, overall or by domain.

    Parameters
    ----------
    design
        The sampling design (linearisation) or a replicate design.
    variables
        Numeric column(s); each is estimated separately, from the rows where it is present.
    by
        Domain column(s): one estimate per observed combination (rows with a missing domain
        value belong to no domain but stay in the design).
    alpha
        Significance level: intervals cover ``1 - alpha``.
    df
        Degrees of freedom of the t intervals. None: the design's (PSUs minus strata, or the
        replicate rank rule); ``math.inf`` for the normal intervals R's ``confint()`` of a
        ``svymean`` gives by default.
    na_rm
        Estimate from the rows where the variable is present (True), or fail if any is missing.
    min_n, max_cv
        Flag estimates from fewer than ``min_n`` respondents or with a coefficient of
        variation above ``max_cv`` (``Estimate.flags``).

    Returns
    -------
    Estimates
        One per domain and variable.

    Notes
    -----
    :math:`\\hat{\\bar y}_d = \\sum_{i \\in d} w_i y_i / \\sum_{i \\in d} w_i`, with influence
    values :math:`z_i = 1_{i \\in d} (y_i - \\hat{\\bar y}_d) / \\hat N_d`; the variance is that of
    :math:`\\sum_i w_i z_i` under the design (with the calibration residuals when the weights
    are calibrated): R's ``svymean`` / ``svyby(..., svymean)``. The interval is
    :math:`\\hat\\theta \\pm t_{1-\\alpha/2, df} \\, se` — R's ``confint(x, df=degf(design))``.
    The design effect is R's ``deff=TRUE``: the variance over
    :math:`(1 - n/\\hat N) s^2 / n` with :math:`s^2` the weighted variance of y (NaN when the
    weights sum to less than n). Reference: Lumley (2010), *Complex Surveys*, sections 2.2
    and 2.3.
    """
    domains = _common(design, by, alpha, min_n, max_cv)
    terms = _mean_terms(design, _as_list(variables), "mean", na_rm)
    return _assemble(
        terms,
        domains,
        _linear(design, terms, domains),
        df=_df(design, df),
        alpha=alpha,
        min_n=min_n,
        max_cv=max_cv,
    )


def estimate_total(
    design: AnyDesign,
    variables: str | Sequence[str],
    *,
    by: str | Sequence[str] | None = None,
    alpha: float = 0.05,
    df: float | None = None,
    na_rm: bool = True,
    min_n: int = 30,
    max_cv: float = 0.3,
) -> Estimates:
    """Estimate population totals, overall or by domain.

    Parameters are those of :func:`estimate_mean`.

    Notes
    -----
    :math:`\\hat Y_d = \\sum_{i \\in d} w_i y_i` with influence values
    :math:`z_i = 1_{i \\in d} y_i` (R's ``svytotal``). The design effect divides by
    :math:`\\hat N_d^2 (1 - n/\\hat N_d) s^2 / n`; it is NaN when the weights sum to less than
    n (R returns a negative number there).
    """
    domains = _common(design, by, alpha, min_n, max_cv)
    terms = _mean_terms(design, _as_list(variables), "total", na_rm)
    return _assemble(
        terms,
        domains,
        _linear(design, terms, domains),
        df=_df(design, df),
        alpha=alpha,
        min_n=min_n,
        max_cv=max_cv,
    )


def estimate_proportion(
    design: AnyDesign,
    variables: str | Sequence[str],
    *,
    by: str | Sequence[str] | None = None,
    alpha: float = 0.05,
    df: float | None = None,
    na_rm: bool = True,
    ci_method: CiMethod = "wald",
    min_n: int = 30,
    max_cv: float = 0.3,
) -> Estimates:
    """Estimate the proportion in each category of categorical variable(s).

    Parameters
    ----------
    variables
        Column(s) of any type; one estimate per observed category (``Estimate.level``), in
        sorted order (categories order for a pandas Categorical).
    ci_method
        ``"wald"``: estimate ± t·se, as ``confint(svymean(~factor(x), design), df=)``;
        ``"logit"``: the interval of R's ``svyciprop(method="logit")``, computed on the logit
        scale and transformed back (stays inside 0-1; better for small proportions).

    Other parameters are those of :func:`estimate_mean`.

    Notes
    -----
    Each proportion is the mean of the category's indicator among the rows where the variable
    is present. The logit interval is
    :math:`\\text{expit}(\\text{logit}(\\hat p) \\pm t \\, se / (\\hat p (1 - \\hat p)))`.
    """
    if ci_method not in get_args(CiMethod):
        raise EstimationError(f"ci_method must be 'wald' or 'logit', not {ci_method!r}.")
    domains = _common(design, by, alpha, min_n, max_cv)
    names = _as_list(variables)
    if not names:
        raise EstimationError("Name at least one variable to estimate.")
    terms = []
    for name in names:
        series = _variable(design, name, na_rm=na_rm, numeric=False)
        mask = series.notna().to_numpy()
        if isinstance(series.dtype, pd.CategoricalDtype):
            levels = [lv for lv in series.cat.categories if (series == lv).any()]
        else:
            levels = list(pd.unique(series[mask]))
            try:
                levels = sorted(levels)
            except TypeError:
                levels = sorted(levels, key=str)
        for level in levels:
            indicator = (series == level).to_numpy(dtype=bool, na_value=False).astype(np.float64)
            terms.append(
                _Term(
                    variable=name,
                    level=_native(level),
                    statistic="proportion",
                    columns=(indicator,),
                    mask=mask,
                )
            )
    return _assemble(
        terms,
        domains,
        _linear(design, terms, domains),
        df=_df(design, df),
        alpha=alpha,
        min_n=min_n,
        max_cv=max_cv,
        ci_method=ci_method,
    )


def estimate_ratio(
    design: AnyDesign,
    numerator: str,
    denominator: str,
    *,
    by: str | Sequence[str] | None = None,
    alpha: float = 0.05,
    df: float | None = None,
    na_rm: bool = True,
    min_n: int = 30,
    max_cv: float = 0.3,
) -> Estimates:
    """Estimate the ratio of two population totals, overall or by domain.

    Parameters
    ----------
    numerator, denominator
        Numeric columns; rows missing either are left out (``na_rm=True``).

    Other parameters are those of :func:`estimate_mean`.

    Notes
    -----
    :math:`\\hat R_d = \\sum_{i \\in d} w_i y_i / \\sum_{i \\in d} w_i x_i` with influence values
    :math:`z_i = 1_{i \\in d} (y_i - \\hat R_d x_i) / \\hat X_d` (R's ``svyratio``; the design
    effect is that of the total of :math:`z`, as R computes it).
    """
    domains = _common(design, by, alpha, min_n, max_cv)
    num = _numeric_values(_variable(design, numerator, na_rm=na_rm, numeric=True))
    den = _numeric_values(_variable(design, denominator, na_rm=na_rm, numeric=True))
    mask = ~(np.isnan(num) | np.isnan(den))
    terms = [
        _Term(
            variable=f"{numerator}/{denominator}",
            level=None,
            statistic="ratio",
            columns=(num, den),
            mask=mask,
        )
    ]
    return _assemble(
        terms,
        domains,
        _linear(design, terms, domains),
        df=_df(design, df),
        alpha=alpha,
        min_n=min_n,
        max_cv=max_cv,
    )


def estimate_quantile(
    design: AnyDesign,
    variables: str | Sequence[str],
    *,
    quantiles: float | Sequence[float] = 0.5,
    by: str | Sequence[str] | None = None,
    alpha: float = 0.05,
    df: float | None = None,
    na_rm: bool = True,
    rule: QuantileRule = "math",
    min_n: int = 30,
    max_cv: float = 0.3,
) -> Estimates:
    """Estimate population quantiles with Woodruff confidence intervals.

    Parameters
    ----------
    quantiles
        Probabilities in [0, 1]; one estimate each (``Estimate.level``).
    rule
        ``"math"`` (R's default ``qrule="math"``): the smallest value whose weighted
        cumulative share reaches the probability; ``"school"``: the midpoint of the two
        values at a tie.

    Other parameters are those of :func:`estimate_mean`.

    Notes
    -----
    R's ``svyquantile`` default in survey 4.1 (``interval.type="mean"``, Woodruff 1952):
    estimate :math:`\\hat q_p` by the rule, estimate the proportion
    :math:`\\hat p = \\hat F(\\hat q_p)` of values at or below it as a mean (its standard
    error with the design, calibration included), form :math:`\\hat p \\pm t \\, se(\\hat p)`
    and map the limits back through the weighted distribution function with the same rule.
    The standard error is R's: the interval width over :math:`2 t_{1-\\alpha/2, df}`. A limit
    whose probability falls outside [0, 1] is NaN (as R). The design effect is not defined
    (NaN). With ``df=None`` the design degrees of freedom are used, as R's ``svyquantile``
    does (for domains R uses the domain's own; pass ``df=degf(design)`` to R to compare).
    """
    if rule not in get_args(QuantileRule):
        raise EstimationError(f"rule must be 'math' or 'school', not {rule!r}.")
    domains = _common(design, by, alpha, min_n, max_cv)
    probs = [float(quantiles)] if isinstance(quantiles, int | float) else list(quantiles)
    if not probs or any(not 0 <= p <= 1 for p in probs):
        raise EstimationError(f"quantiles must be probabilities between 0 and 1, not {quantiles}.")
    names = _as_list(variables)
    if not names:
        raise EstimationError("Name at least one variable to estimate.")
    dof = _df(design, df)
    t = t_quantile(1 - alpha / 2, dof)
    w = design.weight_values
    dom = domains.code
    items: list[Estimate] = []
    per_variable: list[list[Estimate]] = []
    for name in names:
        values = _numeric_values(_variable(design, name, na_rm=na_rm, numeric=True))
        mask = ~np.isnan(values) & (dom >= 0)
        rows = np.flatnonzero(mask)
        order = rows[np.lexsort((values[rows], dom[rows]))]
        bounds = np.searchsorted(dom[order], np.arange(domains.count + 1), side="left")
        cdfs = []
        for d in range(domains.count):
            idx = order[bounds[d] : bounds[d + 1]]
            cdfs.append(_WeightedCdf(values[idx], w[idx]))
        qhat = np.array([[c.quantile(p, rule) for p in probs] for c in cdfs]).reshape(
            domains.count, len(probs)
        )
        # Woodruff: the proportion of values at or below each domain's estimate, as a mean.
        inside = dom >= 0
        terms = []
        for k, p in enumerate(probs):
            threshold = np.full(len(values), np.nan)
            threshold[inside] = qhat[dom[inside], k]
            terms.append(
                _Term(
                    variable=name,
                    level=p,
                    statistic="proportion",
                    columns=(np.where(values <= threshold, 1.0, 0.0),),
                    mask=~np.isnan(values),
                )
            )
        proportions = _linear(design, terms, domains)
        found = []
        for d, labels in enumerate(domains.labels):
            for k, p in enumerate(probs):
                est = float(qhat[d, k])
                phat = float(proportions.estimate[d, k])
                var = float(proportions.variance[d, k])
                se_p = math.sqrt(max(var, 0.0)) if not math.isnan(var) else math.nan
                lo_p, hi_p = phat - t * se_p, phat + t * se_p
                lower = math.nan if not lo_p >= 0 else cdfs[d].quantile(lo_p, rule)
                upper = math.nan if not hi_p <= 1 else cdfs[d].quantile(hi_p, rule)
                se = (upper - lower) / (2 * t)
                n = int(proportions.n[d, k])
                cv = _cv(est, se)
                found.append(
                    Estimate(
                        estimate=est,
                        se=se,
                        ci_lower=lower,
                        ci_upper=upper,
                        df=dof,
                        n=n,
                        deff=math.nan,
                        cv=cv,
                        variable=name,
                        level=p,
                        by=dict(labels),
                        statistic="quantile",
                        flags=precision_flags(n, cv, min_n=min_n, max_cv=max_cv),
                    )
                )
        per_variable.append(found)
    # Order as the other functions: domain, then variable, then quantile.
    n_probs = len(probs)
    for d in range(domains.count):
        for found in per_variable:
            items.extend(found[d * n_probs : (d + 1) * n_probs])
    return Estimates(items, alpha=alpha)


class _WeightedCdf:
    """Sorted values with R's cumulative weights (``survey:::qs``)."""

    def __init__(self, values: np.ndarray, weights: np.ndarray):
        self.values = values
        # R accumulates cumsum() and sum() in long double; so do we, then round.
        cumulative = np.cumsum(weights.astype(np.longdouble))
        self.cumulative = cumulative.astype(np.float64)
        self.total = float(cumulative[-1]) if len(cumulative) else math.nan

    def quantile(self, p: float, rule: QuantileRule) -> float:
        n = len(self.values)
        if n == 0:
            return math.nan
        target = p * self.total
        pos = int(np.searchsorted(self.cumulative, target, side="right")) - 1
        pos = max(pos, 0)
        nxt = min(pos + 1, n - 1)
        low_gap = p - self.cumulative[pos] / self.total
        if low_gap == 0:
            if rule == "school":
                return float((self.values[pos] + self.values[nxt]) / 2)
            return float(self.values[pos])
        return float(self.values[nxt])
