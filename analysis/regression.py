"""Survey-weighted linear and logistic regression (R's ``svyglm``) with design-based SEs.

The coefficients are those of a weighted least-squares (or weighted quasi-binomial
maximum-likelihood) fit; their covariance is the sandwich
:math:`A^{-1} \\hat V(\\sum_i w_i x_i e_i) A^{-1}` whose middle term is the design variance of
the estimating-function totals (strata, PSUs, fpc and calibration residuals, as every other
linearised estimate here), or the replicate variance of the refitted coefficients.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import pandas as pd
from scipy import linalg

from analysis.design import Design
from analysis.errors import ConvergenceWarning, EstimationError
from analysis.linearization import influence_variance, t_quantile, t_two_sided_p
from analysis.replication import ReplicateDesign

Family = Literal["gaussian", "quasibinomial"]
PredictType = Literal["response", "link"]
AnyDesign = Design | ReplicateDesign


@dataclass(frozen=True)
class _Column:
    """How one model-matrix column is made from the data."""

    name: str
    source: str | None  # data column; None for the intercept
    level: object = None  # category for a dummy


@dataclass(frozen=True, eq=False)
class RegressionResult:
    """A fitted survey-weighted regression.

    Attributes
    ----------
    family
        ``"gaussian"`` (linear) or ``"quasibinomial"`` (logistic).
    response
        The response column.
    terms
        Names of the coefficients (R's: ``(Intercept)``, numeric columns, ``stypeH``...).
    coef
        (p,) coefficients.
    vcov
        (p, p) design-based covariance matrix.
    df
        Residual degrees of freedom of the t tests and intervals: design degrees of freedom
        minus the number of coefficients plus one (R's ``summary.svyglm``).
    alpha
        Significance level of the intervals.
    n
        Respondents used (complete cases within the subset).
    iterations
        Iterations of the fit (1 for a linear model).
    """

    family: Family
    response: str
    terms: tuple[str, ...]
    coef: np.ndarray
    vcov: np.ndarray
    df: float
    alpha: float
    n: int
    iterations: int = 1
    _columns: tuple[_Column, ...] = field(default=(), repr=False)

    @property
    def se(self) -> np.ndarray:
        """Standard errors."""
        return np.sqrt(np.diag(self.vcov))

    @property
    def t(self) -> np.ndarray:
        """t statistics."""
        return self.coef / self.se

    @property
    def p_value(self) -> np.ndarray:
        """Two-sided p-values with ``df`` degrees of freedom (NaN when ``df <= 0``)."""
        return np.array([t_two_sided_p(float(t), self.df) for t in self.t])

    @property
    def ci_lower(self) -> np.ndarray:
        """Lower confidence limits (Wald, t with ``df``)."""
        return self.coef - t_quantile(1 - self.alpha / 2, self.df) * self.se

    @property
    def ci_upper(self) -> np.ndarray:
        """Upper confidence limits."""
        return self.coef + t_quantile(1 - self.alpha / 2, self.df) * self.se

    def coefficient(self, term: str) -> float:
        """The coefficient named ``term``."""
        return float(self.coef[self._index(term)])

    def _index(self, term: str) -> int:
        try:
            return self.terms.index(term)
        except ValueError:
            raise KeyError(f"No coefficient {term!r}; terms are {', '.join(self.terms)}.") from None

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table: term, estimate, se, t, p_value, ci_lower, ci_upper, df."""
        return pd.DataFrame(
            {
                "term": list(self.terms),
                "estimate": self.coef,
                "se": self.se,
                "t": self.t,
                "p_value": self.p_value,
                "ci_lower": self.ci_lower,
                "ci_upper": self.ci_upper,
                "df": self.df,
            }
        )

    def predict(self, data: pd.DataFrame, *, type: PredictType = "response") -> np.ndarray:
        """Predictions for new rows: the linear predictor, or the mean (probabilities).

        Categories not seen in the fit get dummies of zero (the reference category).
        """
        if type not in get_args(PredictType):
            raise EstimationError(f"type must be 'response' or 'link', not {type!r}.")
        x = _apply_columns(data, self._columns)
        eta = x @ self.coef
        if type == "link" or self.family == "gaussian":
            return eta
        return _expit(eta)


def _expit(eta: np.ndarray) -> np.ndarray:
    out = np.empty_like(eta)
    pos = eta >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-eta[pos]))
    e = np.exp(eta[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def _apply_columns(data: pd.DataFrame, columns: Sequence[_Column]) -> np.ndarray:
    out = np.empty((len(data), len(columns)))
    coded: dict[str, tuple[np.ndarray, dict[object, int]]] = {}
    for k, col in enumerate(columns):
        if col.source is None:
            out[:, k] = 1.0
        elif col.level is None:
            out[:, k] = data[col.source].to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            if col.source not in coded:
                codes, uniques = pd.factorize(data[col.source])
                coded[col.source] = (codes, {_native(u): i for i, u in enumerate(uniques)})
            codes, index = coded[col.source]
            hit = (codes == index[col.level]) if col.level in index else np.zeros(len(data), bool)
            out[:, k] = np.where(codes < 0, np.nan, hit.astype(np.float64))
    return out


def _levels(series: pd.Series) -> list[object]:
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna().unique())
        return [lv for lv in series.cat.categories if lv in present]
    values = list(pd.unique(series.dropna()))
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _columns_for(
    data: pd.DataFrame, x: Sequence[str], categorical: Sequence[str], intercept: bool
) -> list[_Column]:
    columns: list[_Column] = [_Column("(Intercept)", None)] if intercept else []
    names = list(x) + [c for c in categorical if c not in x]
    first_factor = True
    for name in names:
        if name not in data.columns:
            raise EstimationError(f"Regression: column {name!r} is not in the data.")
        series = data[name]
        is_numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(
            series
        )
        if name in categorical or not is_numeric:
            levels = _levels(series)
            if len(levels) < 2:
                raise EstimationError(
                    f"Regression: categorical column {name!r} has {len(levels)} category; it "
                    "needs at least two to have an effect. Drop it from the model."
                )
            keep = levels if (not intercept and first_factor) else levels[1:]
            first_factor = False
            columns.extend(_Column(f"{name}{_native(lv)}", name, _native(lv)) for lv in keep)
        else:
            columns.append(_Column(name, name))
    if not columns:
        raise EstimationError("Regression: the model has no terms; add an intercept or columns.")
    return columns


def _native(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def fit_linear(
    design: AnyDesign,
    y: str,
    x: Sequence[str] = (),
    *,
    categorical: Sequence[str] = (),
    intercept: bool = True,
    subset: str | np.ndarray | pd.Series | None = None,
    alpha: float = 0.05,
    df: float | None = None,
) -> RegressionResult:
    """Survey-weighted linear regression (R's ``svyglm(family=gaussian())``).

    Parameters
    ----------
    design
        The sampling design (linearisation) or a replicate design.
    y
        Numeric response column.
    x
        Explanatory columns, in order. Non-numeric columns (and those listed in
        ``categorical``) enter as treatment dummies against their first category, named as R
        does (``stypeH``).
    categorical
        Numeric-coded columns to treat as categorical.
    intercept
        Include an intercept.
    subset
        Fit within a domain: a boolean column name or mask. The rest of the sample stays in
        the design (R's ``svyglm(subset=)``).
    alpha
        Significance level of the intervals.
    df
        Residual degrees of freedom; None for R's rule (design degrees of freedom of the rows
        used, minus coefficients, plus one).

    Returns
    -------
    RegressionResult

    Notes
    -----
    :math:`\\hat\\beta = (X^\\top W X)^{-1} X^\\top W y` and
    :math:`\\hat V(\\hat\\beta) = A^{-1} \\hat V(\\sum_i w_i x_i e_i) A^{-1}`,
    :math:`A = X^\\top W X`, :math:`e_i = y_i - x_i^\\top \\hat\\beta` (Binder 1983; Lumley
    2010, ch. 5). Rows with a missing response or explanatory value are left out of the fit
    but stay in the design.
    """
    return _fit(design, y, x, categorical, intercept, subset, alpha, df, "gaussian", 1e-12, 1)


def fit_logistic(
    design: AnyDesign,
    y: str,
    x: Sequence[str] = (),
    *,
    categorical: Sequence[str] = (),
    intercept: bool = True,
    subset: str | np.ndarray | pd.Series | None = None,
    alpha: float = 0.05,
    df: float | None = None,
    tol: float = 1e-8,
    max_iter: int = 25,
) -> RegressionResult:
    """Survey-weighted logistic regression (R's ``svyglm(family=quasibinomial())``).

    Parameters
    ----------
    y
        Response: 0/1, boolean, or a proportion in [0, 1].
    tol, max_iter
        Convergence of iteratively reweighted least squares: the fit stops when the deviance
        changes by less than ``tol * (|deviance| + 0.1)``; R's ``glm.control(epsilon=1e-8,
        maxit=25)`` defaults. The iterations are those of R's ``glm.fit`` (same start, same
        step, same rule), and the covariance uses the working weights of the last step as R
        does, so the results agree with R's at any tolerance.

    Other parameters are those of :func:`fit_linear`.

    Notes
    -----
    The coefficients solve :math:`\\sum_i w_i x_i (y_i - \\mu_i) = 0`,
    :math:`\\mu_i = \\text{expit}(x_i^\\top\\beta)`; the covariance is the sandwich with
    :math:`A = X^\\top W \\text{diag}(\\mu(1-\\mu)) X`. Coefficients are log odds ratios.
    """
    return _fit(
        design, y, x, categorical, intercept, subset, alpha, df, "quasibinomial", tol, max_iter
    )


def _fit(
    design: AnyDesign,
    y: str,
    x: Sequence[str],
    categorical: Sequence[str],
    intercept: bool,
    subset: str | np.ndarray | pd.Series | None,
    alpha: float,
    df: float | None,
    family: Family,
    tol: float,
    max_iter: int,
) -> RegressionResult:
    if not isinstance(design, Design | ReplicateDesign):
        raise EstimationError(
            f"design must be a Design or ReplicateDesign, not {type(design).__name__}."
        )
    if not 0 < alpha < 1:
        raise EstimationError(f"alpha must be between 0 and 1, not {alpha}.")
    data = design.data
    if isinstance(x, str):
        x = [x]
    if isinstance(categorical, str):
        categorical = [categorical]
    if y not in data.columns:
        raise EstimationError(f"Regression: response column {y!r} is not in the data.")
    response = data[y]
    if pd.api.types.is_bool_dtype(response):
        response = response.astype("float64")
    if not pd.api.types.is_numeric_dtype(response):
        raise EstimationError(
            f"Regression: response {y!r} is {response.dtype}, not numeric. For a yes/no "
            "response, code it 0/1 or True/False."
        )
    yv = response.to_numpy(dtype=np.float64, na_value=np.nan)
    if family == "quasibinomial":
        bad = (yv < 0) | (yv > 1)
        if bad.any():
            raise EstimationError(
                f"Regression: logistic response {y!r} must be 0/1 or a proportion in [0, 1]; "
                f"{int(bad.sum())} value(s) are outside."
            )
    columns = _columns_for(data, list(x), list(categorical), intercept)
    xm = _apply_columns(data, columns)
    used = ~np.isnan(yv) & ~np.isnan(xm).any(axis=1)
    if subset is not None:
        if isinstance(subset, str):
            if subset not in data.columns:
                raise EstimationError(f"Regression: subset column {subset!r} is not in the data.")
            mask = data[subset].to_numpy(dtype=bool, na_value=False)
        else:
            mask = np.asarray(subset, dtype=bool)
            if mask.shape != (len(data),):
                raise EstimationError("Regression: subset must have one value per row.")
        used &= mask
    n_used = int(used.sum())
    p = len(columns)
    if n_used <= p:
        raise EstimationError(
            f"Regression: {n_used} complete row(s) for {p} coefficients; need more respondents."
        )
    w = np.asarray(design.weight_values)
    every = bool(used.all())
    xu = xm if every else xm[used]
    yu = yv if every else yv[used]
    wu = w if every else w[used]
    _check_rank(xu, wu, columns)
    prior = wu / w.mean()  # svyglm(rescale=TRUE): weights over their mean
    fit = _glm_fit(xu, yu, prior, family, tol, max_iter, None)
    beta = fit.coef
    if isinstance(design, ReplicateDesign):
        reps = []
        for wr in design.replicate_weight_columns():
            wr_used = wr if every else wr[used]
            reps.append(_glm_fit(xu, yu, wr_used / wr_used.sum(), family, tol, max_iter, beta).coef)
        vcov = design.covariance(beta, np.vstack(reps))
        residual_df = design.degf + 1 - p
    else:
        # R's svy.varcoef: estimating functions x * working residual * working weight, times
        # the inverse information of the last weighted least-squares step.
        a_inv = np.linalg.inv((xu * fit.working_weights[:, None]).T @ xu)
        influence = (xu * (fit.working_residuals * fit.working_weights)[:, None]) @ a_inv
        if every:
            z = influence / w[:, None]
        else:
            z = np.zeros((len(data), p))
            z[used] = influence / w[used, None]
        vcov = influence_variance(design, z, used=used)
        s = design._s
        psu_used = np.bincount(s.psu[used], minlength=s.n_psu) > 0
        strata_used = np.bincount(s.psu_stratum[psu_used], minlength=s.n_strata) > 0
        residual_df = int(psu_used.sum()) - int(strata_used.sum()) + 1 - p
    return RegressionResult(
        family=family,
        response=y,
        terms=tuple(c.name for c in columns),
        coef=beta,
        vcov=vcov,
        df=float(residual_df if df is None else df),
        alpha=alpha,
        n=n_used,
        iterations=fit.iterations,
        _columns=tuple(columns),
    )


def _check_rank(x: np.ndarray, w: np.ndarray, columns: Sequence[_Column]) -> None:
    """Refuse columns that are (numerically) combinations of the ones before them: Cholesky of
    the weighted cross-product in correlation scale; a pivot below 1e-10 is a column whose
    part not explained by the previous ones has a relative variance under 1e-10."""
    gram = (x * w[:, None]).T @ x
    diag = np.diag(gram).copy()
    dropped = [columns[int(j)].name for j in np.flatnonzero(diag <= 0)]
    if not dropped:
        scale = 1.0 / np.sqrt(diag)
        corr = gram * scale[:, None] * scale[None, :]
        kept: list[int] = []
        lower = np.zeros((0, 0))
        for j in range(len(columns)):
            column = corr[kept, j]
            lj = linalg.solve_triangular(lower, column, lower=True) if kept else column
            resid = corr[j, j] - lj @ lj
            if resid < 1e-10:
                dropped.append(columns[j].name)
                continue
            k = len(kept)
            grown = np.zeros((k + 1, k + 1))
            grown[:k, :k] = lower
            grown[k, :k] = lj
            grown[k, k] = np.sqrt(resid)
            lower = grown
            kept.append(j)
    if dropped:
        raise EstimationError(
            f"Regression: the explanatory columns are collinear (or constant) in the rows used; "
            f"{', '.join(dropped)} can be written from the others. Drop one of them."
        )


@dataclass(frozen=True, eq=False)
class _Fit:
    coef: np.ndarray
    working_weights: np.ndarray  # prior * mu.eta^2 / variance, of the last step
    working_residuals: np.ndarray  # (y - mu) / mu.eta at the final coefficients
    iterations: int


_THRESH = 30.0
_EPS = float(np.finfo(float).eps)


def _logit_inverse(eta: np.ndarray) -> np.ndarray:
    """R's binomial()$linkinv (C_logit_linkinv)."""
    tmp = np.where(
        eta < -_THRESH,
        _EPS,
        np.where(eta > _THRESH, 1 / _EPS, np.exp(np.clip(eta, -_THRESH, _THRESH))),
    )
    return tmp / (1 + tmp)


def _logit_mu_eta(eta: np.ndarray) -> np.ndarray:
    """R's binomial()$mu.eta (C_logit_mu_eta)."""
    e = np.exp(np.clip(eta, -_THRESH, _THRESH))
    return np.where(np.abs(eta) > _THRESH, _EPS, e / ((1 + e) * (1 + e)))


def _wls(x: np.ndarray, z: np.ndarray, sw: np.ndarray) -> np.ndarray:
    """Weighted least squares (weights ``sw**2``): normal equations solved by Cholesky, then
    one step of iterative refinement, which brings the accuracy to that of a QR solve for the
    well-conditioned problems that pass the rank check, at the cost of two passes over X."""
    w = sw * sw
    xw = x * w[:, None]
    try:
        factor = linalg.cho_factor(xw.T @ x)
    except linalg.LinAlgError:  # singular in a replicate: minimum-norm least squares
        beta, *_ = linalg.lstsq(x * sw[:, None], z * sw, lapack_driver="gelsy")
        return np.asarray(beta)
    beta = linalg.cho_solve(factor, xw.T @ z)
    return np.asarray(beta + linalg.cho_solve(factor, xw.T @ (z - x @ beta)))


def _glm_fit(
    x: np.ndarray,
    y: np.ndarray,
    prior: np.ndarray,
    family: Family,
    tol: float,
    max_iter: int,
    start: np.ndarray | None,
) -> _Fit:
    """Iteratively reweighted least squares, step for step as R's ``glm.fit``."""
    if family == "gaussian":
        beta = _wls(x, y, np.sqrt(prior))
        return _Fit(beta, prior, y - x @ beta, 1)
    if start is None:
        mu = (prior * y + 0.5) / (prior + 1)
        eta = np.log(mu / (1 - mu))
    else:
        eta = x @ start
    mu = _logit_inverse(eta)
    deviance_old = _binomial_deviance(y, mu, prior)
    beta = np.zeros(x.shape[1]) if start is None else start.copy()
    weights = prior
    for iteration in range(1, max_iter + 1):
        mu_eta = _logit_mu_eta(eta)
        working = eta + (y - mu) / mu_eta
        weights = prior * mu_eta * mu_eta / (mu * (1 - mu))
        beta = _wls(x, working, np.sqrt(weights))
        eta = x @ beta
        mu = _logit_inverse(eta)
        deviance = _binomial_deviance(y, mu, prior)
        if abs(deviance - deviance_old) / (abs(deviance) + 0.1) < tol:
            return _Fit(beta, weights, (y - mu) / _logit_mu_eta(eta), iteration)
        deviance_old = deviance
    warnings.warn(
        f"Logistic regression did not converge in {max_iter} iterations (relative deviance "
        "change above tol); the coefficients may be unreliable, often because a category "
        "predicts the outcome perfectly.",
        ConvergenceWarning,
        stacklevel=4,
    )
    return _Fit(beta, weights, (y - mu) / _logit_mu_eta(eta), max_iter)


def _binomial_deviance(y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(y > 0, y * np.log(y / mu), 0.0)
        b = np.where(y < 1, (1 - y) * np.log((1 - y) / (1 - mu)), 0.0)
    return float(2 * np.sum(w * (a + b)))
