"""Effects of financial education: exposed against not exposed, pre/post, waves, benchmarks.

Cross-section (one survey wave, a :class:`~analysis.design.Design` or
:class:`~analysis.replication.ReplicateDesign`): :func:`difference_in_means`,
:func:`regression_adjustment`, :func:`ipw` and :func:`aipw` compare respondents who received
financial education (treatment 1) with those who did not (0); :func:`estimate_effects` runs one
of them over several outcomes and treatments; :func:`treatment_contrasts` makes the treatment
columns for exposure types and recency bands. Quiz sessions: :func:`prepost`. Two survey waves:
:func:`wave_change` and :func:`campaign_did`. Context: :func:`benchmark` and
:data:`BENCHMARKS`.

Every cross-sectional method returns an :class:`Effect` whose ``effect_sd`` is the effect in
standard-deviation units of the outcome, the SD being the *weighted pooled within-group SD of
the outcome in the sample* (design weights, not the propensity weights; see
:func:`pooled_sd`), so the methods of one comparison share one denominator.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, overload

import numpy as np
import pandas as pd
from scipy import linalg, stats

from analysis.design import Design
from analysis.errors import AnalysisError, AnalysisWarning, ConvergenceWarning
from analysis.estimation import estimate_mean
from analysis.linearization import influence_variance, t_quantile, t_two_sided_p
from analysis.regression import fit_linear
from analysis.replication import ReplicateDesign

AnyDesign = Design | ReplicateDesign
Method = Literal["difference", "regression", "ipw", "aipw"]

#: The analysis frame's outcomes (scoring's column names).
OUTCOMES: tuple[str, ...] = (
    "literacy_index",
    "dim__knowledge",
    "dim__attitude",
    "dim__behaviour",
    "dim__skills",
)
#: The analysis frame's exposure indicators (0/1): any, then by type.
EXPOSURES: tuple[str, ...] = (
    "exposure_any",
    "exposure_month",
    "exposure_consumer_day",
    "exposure_school",
    "exposure_bank",
    "exposure_online",
    "exposure_other",
)
#: Default recency bands in months since the last financial education, ``[lower, upper)``.
RECENCY_BANDS: tuple[tuple[float, float], ...] = ((0, 12), (12, 24), (24, math.inf))


class EffectError(AnalysisError):
    """An effect cannot be estimated from the data given (columns, coding, overlap)."""


class EffectWarning(AnalysisWarning):
    """A non-fatal problem in an effect estimate (duplicated codes, domains in one wave)."""


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, eq=False)
class Overlap:
    """Overlap diagnostics of a propensity-score method.

    Attributes
    ----------
    common_support
        ``(lower, upper)``: the range of estimated propensities shared by both groups
        (the larger of the two minima, the smaller of the two maxima).
    outside_treated, outside_control
        Weighted share (design weights) of each group whose propensity lies outside the
        common support.
    n_outside_treated, n_outside_control
        Respondents of each group outside the common support.
    n_clipped
        Respondents whose propensity was moved to ``propensity_bounds``.
    n_capped
        Respondents whose stabilised weight was capped at ``weight_percentiles``.
    ess_treated, ess_control
        Kish effective sample size of each group under the final weights,
        :math:`(\\sum a_i)^2 / \\sum a_i^2`.
    propensity
        Distribution of the estimated propensity (before clipping) by group: rows
        ``treated``/``control``; columns ``n, min, p01, p05, p25, median, p75, p95, p99, max``
        (unweighted) and ``mean`` (design-weighted).
    """

    common_support: tuple[float, float]
    outside_treated: float
    outside_control: float
    n_outside_treated: int
    n_outside_control: int
    n_clipped: int
    n_capped: int
    ess_treated: float
    ess_control: float
    propensity: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the propensity table as a list of records)."""
        table = self.propensity.reset_index(names="group")
        return {
            "common_support": [_number(v) for v in self.common_support],
            "outside_treated": _number(self.outside_treated),
            "outside_control": _number(self.outside_control),
            "n_outside_treated": int(self.n_outside_treated),
            "n_outside_control": int(self.n_outside_control),
            "n_clipped": int(self.n_clipped),
            "n_capped": int(self.n_capped),
            "ess_treated": _number(self.ess_treated),
            "ess_control": _number(self.ess_control),
            "propensity": _records(table),
        }


@dataclass(frozen=True, eq=False)
class Effect:
    """The estimated effect of financial education on one outcome.

    Attributes
    ----------
    method
        ``"difference"``, ``"regression"``, ``"ipw"``, ``"aipw"``, ``"wave_change"``,
        ``"campaign_did"`` or ``"prepost_did"``.
    outcome, treatment
        The columns compared (``treatment`` is 1 for the treated, 0 for the controls).
    effect
        Estimated effect in the outcome's units (treated minus control).
    se
        Its standard error (design-based: linearisation or replicate weights).
    ci_lower, ci_upper
        Confidence limits, ``effect ± t(1 - alpha/2, df) · se``.
    p_value
        Two-sided p-value of ``effect = 0`` (t with ``df``).
    df
        Degrees of freedom of the interval and test.
    n_treated, n_control
        Respondents in each group that the estimate uses.
    effect_sd
        ``effect / sd``: the effect in standard deviations of the outcome.
    sd
        The SD used: the weighted pooled within-group SD of the outcome in the sample,
        :math:`\\sqrt{\\sum_g \\sum_{i \\in g} w_i (y_i - \\bar y_g)^2 / \\sum_i w_i}` (design
        weights, both groups; see :func:`pooled_sd`).
    alpha
        Significance level of the interval.
    by
        Domain of the estimate (column to value), empty for the whole sample.
    details
        Method-specific numbers: group means, the propensity model's SE with fixed weights,
        the waves' means...
    balance
        ``ipw``/``aipw``: covariate balance before and after weighting (see :func:`ipw`).
    overlap
        ``ipw``/``aipw``: :class:`Overlap` diagnostics.
    coefficients
        ``regression``: the full coefficient table of the survey-weighted regression.
    """

    method: str
    outcome: str
    treatment: str
    effect: float
    se: float
    ci_lower: float
    ci_upper: float
    p_value: float
    df: float
    n_treated: int
    n_control: int
    effect_sd: float
    sd: float
    alpha: float = 0.05
    by: Mapping[str, object] = field(default_factory=dict)
    details: Mapping[str, float] = field(default_factory=dict)
    balance: pd.DataFrame | None = field(default=None, repr=False)
    overlap: Overlap | None = field(default=None, repr=False)
    coefficients: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def ci_lower_sd(self) -> float:
        """Lower confidence limit in SD units (``ci_lower / sd``; the SD taken as known)."""
        return _ratio(self.ci_lower, self.sd)

    @property
    def ci_upper_sd(self) -> float:
        """Upper confidence limit in SD units."""
        return _ratio(self.ci_upper, self.sd)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the scalar fields, then ``balance``/``overlap``/``coefficients``
        when present (non-finite numbers become None)."""
        out: dict[str, Any] = {
            "method": self.method,
            "outcome": self.outcome,
            "treatment": self.treatment,
            "by": {str(k): _plain(v) for k, v in self.by.items()},
            "effect": _number(self.effect),
            "se": _number(self.se),
            "ci_lower": _number(self.ci_lower),
            "ci_upper": _number(self.ci_upper),
            "p_value": _number(self.p_value),
            "df": _number(self.df),
            "alpha": _number(self.alpha),
            "n_treated": int(self.n_treated),
            "n_control": int(self.n_control),
            "effect_sd": _number(self.effect_sd),
            "sd": _number(self.sd),
            "ci_lower_sd": _number(self.ci_lower_sd),
            "ci_upper_sd": _number(self.ci_upper_sd),
            "details": {k: _number(v) for k, v in self.details.items()},
        }
        if self.balance is not None:
            out["balance"] = _records(self.balance)
        if self.overlap is not None:
            out["overlap"] = self.overlap.to_dict()
        if self.coefficients is not None:
            out["coefficients"] = _records(self.coefficients)
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row: the domain columns, then the scalar fields (tables left out)."""
        row: dict[str, Any] = {str(k): v for k, v in self.by.items()}
        row.update(
            method=self.method,
            outcome=self.outcome,
            treatment=self.treatment,
            effect=self.effect,
            se=self.se,
            ci_lower=self.ci_lower,
            ci_upper=self.ci_upper,
            p_value=self.p_value,
            df=self.df,
            n_treated=self.n_treated,
            n_control=self.n_control,
            effect_sd=self.effect_sd,
            sd=self.sd,
            ci_lower_sd=self.ci_lower_sd,
            ci_upper_sd=self.ci_upper_sd,
        )
        return pd.DataFrame([row])


class Effects(Sequence[Effect]):
    """An ordered, immutable collection of :class:`Effect` with a table view."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[Effect] = ()):
        self._items = tuple(items)

    @overload
    def __getitem__(self, index: int) -> Effect: ...

    @overload
    def __getitem__(self, index: slice) -> Effects: ...

    def __getitem__(self, index: int | slice) -> Effect | Effects:
        if isinstance(index, slice):
            return Effects(self._items[index])
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Effect]:
        return iter(self._items)

    def __repr__(self) -> str:
        return f"Effects({len(self._items)} effects)"

    def find(self, *, outcome: str | None = None, treatment: str | None = None,
             **by: object) -> Effect:
        """The single effect of ``outcome`` and ``treatment`` in the domain ``by``.

        Raises
        ------
        KeyError
            None or several effects match.
        """
        found = [
            e for e in self._items
            if (outcome is None or e.outcome == outcome)
            and (treatment is None or e.treatment == treatment)
            and all(e.by.get(k) == v for k, v in by.items())
        ]
        if len(found) != 1:
            raise KeyError(
                f"{len(found)} effects match outcome={outcome!r}, treatment={treatment!r}, "
                f"by={by!r}"
            )
        return found[0]

    def to_records(self) -> list[dict[str, Any]]:
        """``Effect.to_dict()`` of each effect."""
        return [e.to_dict() for e in self._items]

    def to_frame(self) -> pd.DataFrame:
        """One row per effect (see :meth:`Effect.to_frame`)."""
        if not self._items:
            return pd.DataFrame(
                columns=["method", "outcome", "treatment", "effect", "se", "ci_lower",
                         "ci_upper", "p_value", "df", "n_treated", "n_control", "effect_sd",
                         "sd", "ci_lower_sd", "ci_upper_sd"]
            )
        return pd.concat([e.to_frame() for e in self._items], ignore_index=True)


def _number(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {str(k): _plain(v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _ratio(a: float, b: float) -> float:
    if not (b > 0 and math.isfinite(b)):
        return math.nan
    return a / b


# --------------------------------------------------------------------------------------------
# Inputs


def _fail(method: str, message: str) -> EffectError:
    return EffectError(f"Effect ({method}): {message}")


def _missing_column(method: str, data: pd.DataFrame, column: str, role: str) -> EffectError:
    names = [str(c) for c in data.columns]
    close = difflib.get_close_matches(str(column), names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    shown = ", ".join(names[:15]) + (" ..." if len(names) > 15 else "")
    return _fail(
        method, f"the {role} column {column!r} is not in the data.{hint} Columns: {shown}."
    )


def _check_design(design: object, method: str) -> None:
    if not isinstance(design, Design | ReplicateDesign):
        raise _fail(
            method, f"design must be a Design or ReplicateDesign, not {type(design).__name__}."
        )


def _check_alpha(alpha: float, method: str) -> None:
    if not 0 < alpha < 1:
        raise _fail(method, f"alpha must be between 0 and 1 (0.05 for 95% intervals), not {alpha}.")


def _outcome_values(data: pd.DataFrame, column: str, method: str) -> np.ndarray:
    if column not in data.columns:
        raise _missing_column(method, data, column, "outcome")
    series = data[column]
    if pd.api.types.is_bool_dtype(series):
        series = series.astype("float64")
    if not pd.api.types.is_numeric_dtype(series):
        raise _fail(
            method,
            f"the outcome column {column!r} is {series.dtype}, not numeric; convert it with "
            "pd.to_numeric or choose a score column.",
        )
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(values).any():
        raise _fail(method, f"the outcome column {column!r} has infinite values.")
    return values


def treatment_values(data: pd.DataFrame, column: str, *, method: str = "treatment") -> np.ndarray:
    """A 0/1 treatment column as floats (NaN where missing), or an :class:`EffectError`.

    Missing values are allowed: those rows are in neither group (they stay in the design).
    """
    if column not in data.columns:
        raise _missing_column(method, data, column, "treatment")
    series = data[column]
    if pd.api.types.is_bool_dtype(series):
        values = series.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
    elif pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        present = series.dropna()
        examples = ", ".join(repr(_plain(v)) for v in pd.unique(present)[:4])
        raise _fail(
            method,
            f"the treatment column {column!r} must be coded 0/1 (1 = received financial "
            f"education, 0 = did not) but holds {series.dtype} values ({examples}); recode it, "
            f"e.g. (data[{column!r}] == 'yes').astype(int).",
        )
    bad = ~np.isnan(values) & (values != 0) & (values != 1)
    if bad.any():
        examples = ", ".join(f"{v:g}" for v in np.unique(values[bad])[:4])
        raise _fail(
            method,
            f"the treatment column {column!r} must be coded 0/1 (1 = received financial "
            f"education, 0 = did not) but has {int(bad.sum())} other value(s) ({examples}); "
            "recode it to 0/1, or blank the rows that belong to neither group.",
        )
    return values


@dataclass(frozen=True, eq=False)
class _Inputs:
    """Outcome, treatment and covariates of a comparison, on the design's rows."""

    method: str
    outcome: str
    treatment: str
    covariates: tuple[str, ...]
    categorical: tuple[str, ...]
    w: np.ndarray  # (n,) design weights
    y: np.ndarray  # (n,) outcome, 0 outside `used`
    t: np.ndarray  # (n,) treatment 0/1, 0 outside `used`
    used: np.ndarray  # (n,) bool: complete rows
    x: np.ndarray  # (n, p) model matrix with intercept, 0 outside `used`
    x_names: tuple[str, ...]
    levels: tuple[tuple[str, object, np.ndarray], ...]  # balance rows: covariate, level, values

    @property
    def treated(self) -> np.ndarray:
        return self.used & (self.t == 1)

    @property
    def control(self) -> np.ndarray:
        return self.used & (self.t == 0)


def _level_list(series: pd.Series) -> list[object]:
    present = series.dropna()
    if isinstance(series.dtype, pd.CategoricalDtype):
        seen = set(present.unique())
        return [lv for lv in series.cat.categories if lv in seen]
    values = list(pd.unique(present))
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _inputs(
    design: AnyDesign,
    outcome: str,
    treatment: str,
    covariates: Sequence[str],
    categorical: Sequence[str],
    method: str,
) -> _Inputs:
    _check_design(design, method)
    data = design.data
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    categorical = [categorical] if isinstance(categorical, str) else list(categorical)
    y = _outcome_values(data, outcome, method)
    t = treatment_values(data, treatment, method=method)
    if treatment == outcome:
        raise _fail(method, f"the outcome and the treatment are the same column {outcome!r}.")
    for name in [*covariates, *categorical]:
        if name not in data.columns:
            raise _missing_column(method, data, name, "covariate")
        if name in (outcome, treatment):
            raise _fail(
                method, f"{name!r} is the outcome or the treatment; it cannot be a covariate."
            )
    for name in categorical:
        if name not in covariates:
            raise _fail(
                method, f"categorical column {name!r} is not among the covariates; add it there."
            )
    if len(set(covariates)) != len(covariates):
        raise _fail(method, "a covariate is listed twice.")
    used = ~np.isnan(y) & ~np.isnan(t)
    for name in covariates:
        used &= data[name].notna().to_numpy()
    n = len(data)
    columns: list[np.ndarray] = [np.ones(n)]
    names: list[str] = ["(Intercept)"]
    levels: list[tuple[str, object, np.ndarray]] = []
    for name in covariates:
        series = data[name]
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if numeric and name not in categorical:
            values = np.where(used, series.to_numpy(dtype=np.float64, na_value=np.nan), 0.0)
            if np.isinf(values).any():
                raise _fail(method, f"the covariate column {name!r} has infinite values.")
            columns.append(values)
            names.append(name)
            levels.append((name, None, values))
            continue
        found = _level_list(series[used])
        if len(found) < 2:
            raise _fail(
                method,
                f"the categorical covariate {name!r} has {len(found)} category among the rows "
                "compared; it needs two or more to adjust for. Drop it from the covariates.",
            )
        for k, level in enumerate(found):
            indicator = (series == level).to_numpy(dtype=bool, na_value=False) & used
            values = indicator.astype(np.float64)
            levels.append((name, _plain(level), values))
            if k:
                columns.append(values)
                names.append(f"{name}{_plain(level)}")
    n_treated = int((used & (t == 1)).sum())
    n_control = int((used & (t == 0)).sum())
    if n_treated == 0 or n_control == 0:
        empty = "treated (1)" if n_treated == 0 else "control (0)"
        raise _fail(
            method,
            f"no {empty} respondents with a complete {outcome!r}, {treatment!r}"
            f"{' and covariates' if covariates else ''}; both groups are needed to compare.",
        )
    x = np.column_stack(columns)
    _check_rank(x[used], names, method)
    return _Inputs(
        method=method,
        outcome=outcome,
        treatment=treatment,
        covariates=tuple(covariates),
        categorical=tuple(categorical),
        w=np.asarray(design.weight_values, dtype=np.float64),
        y=np.where(used, y, 0.0),
        t=np.where(used, t, 0.0),
        used=used,
        x=x,
        x_names=tuple(names),
        levels=tuple(levels),
    )


def _check_rank(x: np.ndarray, names: Sequence[str], method: str) -> None:
    if x.shape[0] <= x.shape[1]:
        raise _fail(
            method,
            f"{x.shape[0]} complete row(s) for {x.shape[1]} model terms; use fewer covariates.",
        )
    scale = np.sqrt((x * x).mean(axis=0))
    scale[scale == 0] = 1.0
    _, r, piv = linalg.qr(x / scale, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int((diag > diag[0] * 1e-10).sum()) if diag.size and diag[0] > 0 else 0
    if rank < x.shape[1]:
        dropped = ", ".join(names[int(i)] for i in piv[rank:])
        raise _fail(
            method,
            f"the covariates are collinear (or constant) in the rows compared: {dropped} can be "
            "written from the others. Drop one of them.",
        )


def pooled_sd(y: np.ndarray, t: np.ndarray, w: np.ndarray) -> float:
    """Weighted pooled within-group standard deviation of an outcome.

    Parameters
    ----------
    y, t, w
        Outcome, 0/1 group and design weights of the rows compared.

    Notes
    -----
    :math:`s_p = \\sqrt{\\sum_{g \\in \\{0, 1\\}} \\sum_{i \\in g} w_i (y_i - \\bar y_g)^2 /
    \\sum_i w_i}` with :math:`\\bar y_g` the weighted group means: the design-based estimate of
    the population's within-group SD, the denominator of ``Effect.effect_sd`` (the survey
    analogue of the pooled SD of Cohen's d; Borenstein et al. 2009, *Introduction to
    Meta-Analysis*, ch. 4).
    """
    total = 0.0
    for g in (0.0, 1.0):
        m = t == g
        if m.any():
            mean = np.average(y[m], weights=w[m])
            total += float(np.sum(w[m] * (y[m] - mean) ** 2))
    return math.sqrt(total / float(np.sum(w)))


def _sd(inputs: _Inputs) -> float:
    u = inputs.used
    return pooled_sd(inputs.y[u], inputs.t[u], inputs.w[u])


def _finish(
    inputs: _Inputs,
    design: AnyDesign,
    *,
    estimate: float,
    se: float,
    df: float,
    alpha: float,
    **extra: Any,
) -> Effect:
    tq = t_quantile(1 - alpha / 2, df)
    sd = _sd(inputs)
    return Effect(
        method=inputs.method,
        outcome=inputs.outcome,
        treatment=inputs.treatment,
        effect=float(estimate),
        se=float(se),
        ci_lower=float(estimate - tq * se),
        ci_upper=float(estimate + tq * se),
        p_value=t_two_sided_p(estimate / se if se > 0 else math.nan, df),
        df=float(df),
        n_treated=int(inputs.treated.sum()),
        n_control=int(inputs.control.sum()),
        effect_sd=_ratio(estimate, sd),
        sd=sd,
        alpha=alpha,
        **extra,
    )


def _linearised_se(design: Design, z: np.ndarray, used: np.ndarray) -> float:
    variance = float(influence_variance(design, z, used=used)[0, 0])
    return math.sqrt(variance) if variance >= 0 else math.nan


def _replicate_se(design: ReplicateDesign, estimate: float, replicates: Sequence[float]) -> float:
    variance = float(design.variance(np.array([estimate]), np.asarray(replicates)[:, None])[0])
    return math.sqrt(variance) if variance >= 0 else math.nan


# --------------------------------------------------------------------------------------------
# Difference in means


def _group_means(inputs: _Inputs, w: np.ndarray) -> tuple[float, float, float, float]:
    wt = w * inputs.treated
    wc = w * inputs.control
    s1, s0 = float(wt.sum()), float(wc.sum())
    return float(wt @ inputs.y) / s1, float(wc @ inputs.y) / s0, s1, s0


def difference_in_means(
    design: AnyDesign,
    outcome: str,
    treatment: str,
    *,
    alpha: float = 0.05,
) -> Effect:
    """Weighted difference in mean outcome between treated and control respondents.

    Parameters
    ----------
    design
        The survey design (Taylor linearisation) or a replicate design; its data hold the
        outcome and the treatment.
    outcome
        Numeric outcome column (the literacy index, a dimension score...).
    treatment
        0/1 column: 1 = received financial education. Rows with a missing outcome or
        treatment belong to neither group but stay in the design (domain estimation).
    alpha
        Significance level: intervals cover ``1 - alpha``.

    Returns
    -------
    Effect
        ``details`` holds ``mean_treated`` and ``mean_control``.

    Notes
    -----
    :math:`\\hat\\tau = \\bar y_1 - \\bar y_0`, with :math:`\\bar y_g = \\sum_{i \\in g} w_i y_i
    / \\hat N_g`. Each domain mean has influence values
    :math:`z_{gi} = 1_{i \\in g}(y_i - \\bar y_g)/\\hat N_g`; the variance is that of
    :math:`\\sum_i w_i (z_{1i} - z_{0i})` under the design, which includes the covariance of
    the two means (they share PSUs): R's ``svycontrast(svyby(~y, ~treat, design, svymean,
    covmat=TRUE), c(-1, 1))``, and the same standard error as the ``treat`` coefficient of
    ``svyglm(y ~ treat)`` (Lumley 2010, *Complex Surveys*, §2.3 and ch. 5). The interval uses
    t with the design's degrees of freedom (PSUs minus strata). This comparison is
    descriptive: it is biased for the causal effect when exposure depends on characteristics
    that also drive literacy (confounding).
    """
    inputs = _inputs(design, outcome, treatment, (), (), "difference")
    _check_alpha(alpha, "difference")
    m1, m0, s1, s0 = _group_means(inputs, inputs.w)
    estimate = m1 - m0
    if isinstance(design, ReplicateDesign):
        reps = []
        for wr in design.replicate_weight_columns():
            r1, r0, _, _ = _group_means(inputs, wr)
            reps.append(r1 - r0)
        se = _replicate_se(design, estimate, reps)
    else:
        z = inputs.treated * (inputs.y - m1) / s1 - inputs.control * (inputs.y - m0) / s0
        se = _linearised_se(design, z, inputs.used)
    return _finish(
        inputs, design, estimate=estimate, se=se, df=float(design.degf), alpha=alpha,
        details={"mean_treated": m1, "mean_control": m0},
    )


# --------------------------------------------------------------------------------------------
# Regression adjustment


def regression_adjustment(
    design: AnyDesign,
    outcome: str,
    treatment: str,
    covariates: Sequence[str],
    *,
    categorical: Sequence[str] = (),
    alpha: float = 0.05,
) -> Effect:
    """Effect as the treatment coefficient of a survey-weighted linear regression.

    Parameters
    ----------
    design, outcome, treatment, alpha
        As :func:`difference_in_means`.
    covariates
        Columns to adjust for. Non-numeric columns (and those in ``categorical``) enter as
        dummies against their first category.
    categorical
        Numeric-coded covariates to treat as categorical (``education`` coded 1-5...).

    Returns
    -------
    Effect
        ``coefficients`` holds the whole coefficient table.

    Notes
    -----
    Fits :math:`y_i = \\alpha + \\tau T_i + x_i^\\top\\beta + e_i` by weighted least squares
    (:func:`analysis.regression.fit_linear`) on the complete rows; :math:`\\hat\\tau` is the
    effect. The covariance is the linearisation (sandwich) estimator
    :math:`A^{-1}\\hat V(\\sum_i w_i x_i e_i)A^{-1}` with PSU totals within strata — R's
    ``svyglm(y ~ treat + covariates, design)``; the t interval uses R's residual degrees of
    freedom (design df minus coefficients plus one). Unbiased for the average effect when the
    outcome is linear in the covariates with a constant effect (Lumley 2010, ch. 5;
    Imbens & Wooldridge 2009, *J. Econ. Lit.* 47(1), §5.1).
    """
    inputs = _inputs(design, outcome, treatment, covariates, categorical, "regression")
    _check_alpha(alpha, "regression")
    work: AnyDesign = design
    series = design.data[treatment]
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        data = design.data.assign(**{treatment: np.where(inputs.used, inputs.t, np.nan)})
        work = dataclasses.replace(design, data=data)
    fit = fit_linear(
        work,
        outcome,
        [treatment, *inputs.covariates],
        categorical=list(inputs.categorical),
        subset=inputs.used,
        alpha=alpha,
    )
    k = fit.terms.index(treatment)
    m1, m0, _, _ = _group_means(inputs, inputs.w)
    return _finish(
        inputs,
        design,
        estimate=float(fit.coef[k]),
        se=float(fit.se[k]),
        df=float(fit.df),
        alpha=alpha,
        details={"mean_treated": m1, "mean_control": m0},
        coefficients=fit.to_frame(),
    )


# --------------------------------------------------------------------------------------------
# Propensity scores


def _expit(eta: np.ndarray) -> np.ndarray:
    return np.asarray(stats.logistic.cdf(eta))


def _logistic(
    x: np.ndarray, t: np.ndarray, w: np.ndarray, start: np.ndarray | None = None,
    *, tol: float = 1e-11, max_iter: int = 60,
) -> tuple[np.ndarray, bool]:
    """Weighted logistic regression by Newton-Raphson; returns (coefficients, converged)."""
    ws = w / w.mean()
    beta = np.zeros(x.shape[1]) if start is None else start.copy()
    for _ in range(max_iter):
        mu = _expit(x @ beta)
        grad = x.T @ (ws * (t - mu))
        info = (x * (ws * mu * (1 - mu))[:, None]).T @ x
        step = np.linalg.lstsq(info, grad, rcond=None)[0]
        beta = beta + step
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            return beta, True
    return beta, False


def _wls(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    sw = np.sqrt(w)
    return np.asarray(linalg.lstsq(x * sw[:, None], y * sw, lapack_driver="gelsy")[0])


@dataclass(frozen=True, eq=False)
class _Propensity:
    gamma: np.ndarray
    e: np.ndarray  # (m,) fitted propensity of the used rows (before clipping)
    ec: np.ndarray  # (m,) clipped
    clipped: np.ndarray  # (m,) bool
    factor: np.ndarray  # (m,) stabilised IPW factor after capping
    capped: np.ndarray  # (m,) bool
    converged: bool


def _check_bounds(
    propensity_bounds: tuple[float, float] | None,
    weight_percentiles: tuple[float, float] | None,
    method: str,
) -> None:
    if propensity_bounds is not None:
        lo, hi = propensity_bounds
        if not 0 <= lo < hi <= 1 or lo >= 0.5 or hi <= 0.5:
            raise _fail(
                method,
                f"propensity_bounds must be (lower, upper) with 0 <= lower < 0.5 < upper <= 1, "
                f"e.g. (0.01, 0.99); got {propensity_bounds!r}.",
            )
    if weight_percentiles is not None:
        lo, hi = weight_percentiles
        if not 0 <= lo < hi <= 100:
            raise _fail(
                method,
                "weight_percentiles must be (lower, upper) percentiles with 0 <= lower < upper "
                f"<= 100, e.g. (1, 99); got {weight_percentiles!r}.",
            )


def _propensity(
    x: np.ndarray,
    t: np.ndarray,
    w: np.ndarray,
    propensity_bounds: tuple[float, float] | None,
    weight_percentiles: tuple[float, float] | None,
    start: np.ndarray | None,
    method: str,
    treatment: str,
    check: bool,
) -> _Propensity:
    gamma, converged = _logistic(x, t, w, start)
    e = _expit(x @ gamma)
    if check:
        _check_overlap(e, t, method, treatment)
        if not converged:
            warnings.warn(
                f"Effect ({method}): the propensity model for {treatment!r} did not converge; "
                "the propensities may be unreliable (a covariate category may predict "
                "exposure almost perfectly).",
                ConvergenceWarning,
                stacklevel=4,
            )
    if propensity_bounds is not None:
        ec = np.clip(e, propensity_bounds[0], propensity_bounds[1])
    else:
        ec = e.copy()
    clipped = ec != e
    with np.errstate(divide="ignore"):
        share = float(np.sum(w * t) / np.sum(w))
        factor = np.where(t == 1, share / ec, (1 - share) / (1 - ec))
    capped = np.zeros(len(e), dtype=bool)
    if weight_percentiles is not None:
        lo, hi = np.percentile(factor, weight_percentiles)
        capped = (factor < lo) | (factor > hi)
        factor = np.clip(factor, lo, hi)
    return _Propensity(gamma, e, ec, clipped, factor, capped, converged)


def _check_overlap(e: np.ndarray, t: np.ndarray, method: str, treatment: str) -> None:
    et, ec = e[t == 1], e[t == 0]
    lower = max(et.min(), ec.min())
    upper = min(et.max(), ec.max())
    if not lower < upper or not np.isfinite(e).all():
        high, low = ("treated", "control") if et.mean() > ec.mean() else ("control", "treated")
        raise _fail(
            method,
            f"no overlap between treated and control respondents on {treatment!r}: the "
            f"covariates predict exposure perfectly (every {high} respondent has a higher "
            f"estimated propensity than every {low} one). Drop or coarsen the covariate that "
            "separates the groups, or compare within a subgroup where both occur.",
        )


def _overlap(inputs: _Inputs, p: _Propensity) -> Overlap:
    u = inputs.used
    w = inputs.w[u]
    t = inputs.t[u]
    e = p.e
    et, ec = e[t == 1], e[t == 0]
    lower, upper = max(et.min(), ec.min()), min(et.max(), ec.max())
    outside = (e < lower) | (e > upper)
    weights = w * p.factor

    def share(mask: np.ndarray) -> float:
        return float(np.sum(w[mask & outside]) / np.sum(w[mask]))

    def ess(mask: np.ndarray) -> float:
        a = weights[mask]
        return float(a.sum() ** 2 / np.sum(a * a))

    qs = [0, 1, 5, 25, 50, 75, 95, 99, 100]
    rows = {}
    for label, mask in (("treated", t == 1), ("control", t == 0)):
        values = np.percentile(e[mask], qs)
        rows[label] = {
            "n": int(mask.sum()),
            **{name: float(v) for name, v in zip(
                ("min", "p01", "p05", "p25", "median", "p75", "p95", "p99", "max"), values,
                strict=True)},
            "mean": float(np.average(e[mask], weights=w[mask])),
        }
    return Overlap(
        common_support=(float(lower), float(upper)),
        outside_treated=share(t == 1),
        outside_control=share(t == 0),
        n_outside_treated=int((outside & (t == 1)).sum()),
        n_outside_control=int((outside & (t == 0)).sum()),
        n_clipped=int(p.clipped.sum()),
        n_capped=int(p.capped.sum()),
        ess_treated=ess(t == 1),
        ess_control=ess(t == 0),
        propensity=pd.DataFrame.from_dict(rows, orient="index"),
    )


def _balance(inputs: _Inputs, after: np.ndarray) -> pd.DataFrame:
    """Standardised mean differences of every covariate level, before and after weighting."""
    u = inputs.used
    w = inputs.w[u]
    t = inputs.t[u]
    rows = []
    for name, level, values in inputs.levels:
        v = values[u]
        stats_: dict[str, float] = {}
        for label, weights in (("before", w), ("after", after)):
            m1 = float(np.average(v[t == 1], weights=weights[t == 1]))
            m0 = float(np.average(v[t == 0], weights=weights[t == 0]))
            stats_[f"treated_{label}"] = m1
            stats_[f"control_{label}"] = m0
        var1 = float(np.average((v[t == 1] - stats_["treated_before"]) ** 2, weights=w[t == 1]))
        var0 = float(np.average((v[t == 0] - stats_["control_before"]) ** 2, weights=w[t == 0]))
        scale = math.sqrt((var1 + var0) / 2)
        rows.append(
            {
                "covariate": name,
                "level": level,
                "mean_treated_before": stats_["treated_before"],
                "mean_control_before": stats_["control_before"],
                "smd_before": _ratio(stats_["treated_before"] - stats_["control_before"], scale),
                "mean_treated_after": stats_["treated_after"],
                "mean_control_after": stats_["control_after"],
                "smd_after": _ratio(stats_["treated_after"] - stats_["control_after"], scale),
            }
        )
    return pd.DataFrame(
        rows,
        columns=["covariate", "level", "mean_treated_before", "mean_control_before",
                 "smd_before", "mean_treated_after", "mean_control_after", "smd_after"],
    )


def _ipw_point(
    inputs: _Inputs, w: np.ndarray, p: _Propensity
) -> tuple[float, float, float, float]:
    u = inputs.used
    y, t = inputs.y[u], inputs.t[u]
    a = w * p.factor
    s1 = float(np.sum(a * t))
    s0 = float(np.sum(a * (1 - t)))
    m1 = float(np.sum(a * t * y)) / s1
    m0 = float(np.sum(a * (1 - t) * y)) / s0
    return m1, m0, s1, s0


def ipw(
    design: AnyDesign,
    outcome: str,
    treatment: str,
    covariates: Sequence[str],
    *,
    categorical: Sequence[str] = (),
    propensity_bounds: tuple[float, float] | None = (0.01, 0.99),
    weight_percentiles: tuple[float, float] | None = None,
    alpha: float = 0.05,
) -> Effect:
    """Inverse-probability-weighted effect with a survey-weighted logistic propensity model.

    Parameters
    ----------
    design, outcome, treatment, alpha
        As :func:`difference_in_means`.
    covariates, categorical
        The propensity model's explanatory columns (as :func:`regression_adjustment`).
    propensity_bounds
        Clip estimated propensities to ``[lower, upper]`` before weighting (default
        ``(0.01, 0.99)``); None for no clipping.
    weight_percentiles
        Also cap the stabilised weights at these percentiles of their distribution over the
        respondents compared, e.g. ``(1, 99)`` (Cole & Hernán 2008); None (default) for no
        capping.

    Returns
    -------
    Effect
        The average treatment effect (ATE) in the population. ``balance`` holds, for each
        numeric covariate and each category of a categorical one, the weighted means of both
        groups and the standardised mean difference before (design weights) and after
        (design x stabilised IPW weights) weighting; both SMDs divide by
        :math:`\\sqrt{(s_1^2 + s_0^2)/2}`, the design-weighted group variances before
        weighting, so they are comparable (the usual threshold for good balance is
        :math:`|SMD| < 0.1`; Austin & Stuart 2015, *Stat. Med.* 34). ``overlap`` holds the
        :class:`Overlap` diagnostics. ``details``: ``mean_treated``, ``mean_control`` (the
        weighted potential-outcome means) and ``se_weights_fixed`` (the SE if the IPW weights
        were known constants, R's ``svyglm(y ~ treat)`` on the weighted design).

    Raises
    ------
    EffectError
        Unknown columns, a treatment not coded 0/1, an empty group, collinear covariates, or
        no overlap (the propensity ranges of the two groups do not intersect).

    Notes
    -----
    The propensity :math:`e_i = \\text{expit}(x_i^\\top\\gamma)` solves the survey-weighted
    score :math:`\\sum_i w_i x_i (T_i - e_i) = 0` (R's ``svyglm(treat ~ x,
    family=quasibinomial())``). Stabilised weights are :math:`a_i = w_i \\hat p / e_i` for the
    treated and :math:`w_i (1 - \\hat p)/(1 - e_i)` for the controls, :math:`\\hat p` the
    weighted share treated (Robins, Hernán & Brumback 2000). The effect is the difference of
    the weighted (Hájek) means :math:`\\hat\\mu_1 - \\hat\\mu_0`,
    :math:`\\hat\\mu_1 = \\sum T_i a_i y_i / \\sum T_i a_i`.

    Standard error, linearised designs: the estimator is an M-estimator stacking the
    propensity score equations and the two weighted means, so its influence values are
    :math:`z_i = -A^{-1}\\psi_i` with :math:`A = \\sum_i w_i \\partial\\psi_i/\\partial\\theta`
    (Lunceford & Davidian 2004, *Stat. Med.* 23, §3.2; Binder 1983 for the survey
    sandwich). For :math:`\\hat\\mu_1`:
    :math:`z_i = [T_i h_i (y_i - \\hat\\mu_1) + a_\\gamma^\\top I_\\gamma^{-1} x_i (T_i - e_i)]
    / \\sum_j w_j T_j h_j` with :math:`h_i = \\hat p/e_i`,
    :math:`a_\\gamma = -\\sum_j w_j T_j h_j (1 - e_j)(y_j - \\hat\\mu_1) x_j` and
    :math:`I_\\gamma = \\sum_j w_j e_j (1 - e_j) x_j x_j^\\top` (and symmetrically for
    :math:`\\hat\\mu_0`); the variance of :math:`\\sum_i w_i (z_{1i} - z_{0i})` is then computed
    from PSU totals within strata (fpc and calibration included) like every linearised
    estimate here. This accounts for the estimation of the propensity model — ignoring it
    (``se_weights_fixed``) is usually conservative for the ATE. Clipped propensities and
    capped weights are treated as constants (their derivative is zero), and so are the
    stabilising share and the percentile caps. Replicate designs refit the propensity model
    and recompute the weights (caps included) in every replicate, so the replicate variance
    accounts for all of it. The interval uses t with the design degrees of freedom.
    Assumptions: no unmeasured confounding given the covariates, overlap, and a correctly
    specified propensity model.
    """
    method = "ipw"
    _check_bounds(propensity_bounds, weight_percentiles, method)
    inputs = _inputs(design, outcome, treatment, covariates, categorical, method)
    _check_alpha(alpha, method)
    u = inputs.used
    x, t, y, w = inputs.x[u], inputs.t[u], inputs.y[u], inputs.w[u]
    p = _propensity(x, t, w, propensity_bounds, weight_percentiles, None, method, treatment, True)
    m1, m0, s1, s0 = _ipw_point(inputs, w, p)
    estimate = m1 - m0
    h = p.factor
    # Influence values with the weights held fixed.
    psi1 = t * h * (y - m1)
    psi0 = (1 - t) * h * (y - m0)
    fixed = psi1 / s1 - psi0 / s0
    if isinstance(design, ReplicateDesign):
        reps = []
        for wr in design.replicate_weight_columns():
            pr = _propensity(
                x, t, wr[u], propensity_bounds, weight_percentiles, p.gamma, method, treatment,
                False,
            )
            r1, r0, _, _ = _ipw_point(inputs, wr[u], pr)
            reps.append(r1 - r0)
        se = _replicate_se(design, estimate, reps)
        se_fixed = math.nan
    else:
        free = ~(p.clipped | p.capped)
        e = p.e
        # d h / d gamma = -h (1 - e) x (treated), h e x (controls); zero where clipped/capped.
        dh = np.where(t == 1, -h * (1 - e), h * e) * free
        a1 = x.T @ (w * t * dh * (y - m1))
        a0 = x.T @ (w * (1 - t) * dh * (y - m0))
        info = (x * (w * e * (1 - e))[:, None]).T @ x
        zg = np.linalg.solve(info, (x * (t - e)[:, None]).T).T  # (m, p)
        z_used = (psi1 + zg @ a1) / s1 - (psi0 + zg @ a0) / s0
        z = np.zeros(len(inputs.w))
        z[u] = z_used
        se = _linearised_se(design, z, u)
        zf = np.zeros(len(inputs.w))
        zf[u] = fixed
        se_fixed = _linearised_se(design, zf, u)
    return _finish(
        inputs,
        design,
        estimate=estimate,
        se=se,
        df=float(design.degf),
        alpha=alpha,
        details={"mean_treated": m1, "mean_control": m0, "se_weights_fixed": se_fixed},
        balance=_balance(inputs, w * h),
        overlap=_overlap(inputs, p),
    )


# --------------------------------------------------------------------------------------------
# Doubly robust (AIPW)


def _aipw_point(
    x: np.ndarray, t: np.ndarray, y: np.ndarray, w: np.ndarray, ec: np.ndarray
) -> tuple[float, float, np.ndarray, np.ndarray]:
    b1 = _wls(x[t == 1], y[t == 1], w[t == 1])
    b0 = _wls(x[t == 0], y[t == 0], w[t == 0])
    m1 = x @ b1
    m0 = x @ b0
    total = float(w.sum())
    mu1 = float(np.sum(w * (m1 + t * (y - m1) / ec))) / total
    mu0 = float(np.sum(w * (m0 + (1 - t) * (y - m0) / (1 - ec)))) / total
    return mu1, mu0, b1, b0


def aipw(
    design: AnyDesign,
    outcome: str,
    treatment: str,
    covariates: Sequence[str],
    *,
    categorical: Sequence[str] = (),
    propensity_bounds: tuple[float, float] | None = (0.01, 0.99),
    alpha: float = 0.05,
) -> Effect:
    """Doubly robust (augmented IPW) effect: outcome regressions plus a propensity model.

    Parameters
    ----------
    design, outcome, treatment, covariates, categorical, propensity_bounds, alpha
        As :func:`ipw`; the same covariates enter the outcome regressions and the propensity
        model.

    Returns
    -------
    Effect
        The average treatment effect, with ``balance`` and ``overlap`` of the propensity
        weights (as :func:`ipw`) and ``details``: ``mean_treated``, ``mean_control``.

    Notes
    -----
    With survey-weighted linear regressions :math:`m_1(x), m_0(x)` fitted in each group and
    the propensity :math:`e(x)` of :func:`ipw` (clipped to ``propensity_bounds``),

    .. math:: \\hat\\mu_1 = \\frac{1}{\\hat N}\\sum_i w_i \\Big[m_1(x_i) +
              \\frac{T_i (y_i - m_1(x_i))}{e(x_i)}\\Big], \\quad
              \\hat\\mu_0 = \\frac{1}{\\hat N}\\sum_i w_i \\Big[m_0(x_i) +
              \\frac{(1 - T_i)(y_i - m_0(x_i))}{1 - e(x_i)}\\Big],

    and :math:`\\hat\\tau = \\hat\\mu_1 - \\hat\\mu_0`: consistent when either the outcome
    regressions or the propensity model is correct (Robins, Rotnitzky & Zhao 1994; Lunceford
    & Davidian 2004, eq. 9; Kang & Schafer 2007). The standard error stacks the estimating
    equations of the propensity model, both regressions and both means and uses the
    influence values :math:`z_i = -A^{-1}\\psi_i` of :math:`\\hat\\tau` (the influence function
    of AIPW plus the terms of the estimated nuisance models, which vanish when both models are
    right), whose design variance is computed from PSU totals within strata (fpc and
    calibration included). Replicate designs refit all three models in every replicate. The
    interval uses t with the design degrees of freedom.
    """
    method = "aipw"
    _check_bounds(propensity_bounds, None, method)
    inputs = _inputs(design, outcome, treatment, covariates, categorical, method)
    _check_alpha(alpha, method)
    u = inputs.used
    x, t, y, w = inputs.x[u], inputs.t[u], inputs.y[u], inputs.w[u]
    p = _propensity(x, t, w, propensity_bounds, None, None, method, treatment, True)
    mu1, mu0, b1, b0 = _aipw_point(x, t, y, w, p.ec)
    estimate = mu1 - mu0
    if isinstance(design, ReplicateDesign):
        reps = []
        for wr in design.replicate_weight_columns():
            pr = _propensity(x, t, wr[u], propensity_bounds, None, p.gamma, method, treatment,
                             False)
            r1, r0, _, _ = _aipw_point(x, t, y, wr[u], pr.ec)
            reps.append(r1 - r0)
        se = _replicate_se(design, estimate, reps)
    else:
        e, ec = p.e, p.ec
        free = ~p.clipped
        total = float(w.sum())
        m1, m0 = x @ b1, x @ b0
        h1, h0 = 1 / ec, 1 / (1 - ec)
        psi1 = m1 + t * h1 * (y - m1) - mu1
        psi0 = m0 + (1 - t) * h0 * (y - m0) - mu0
        # Nuisance influence values.
        info = (x * (w * e * (1 - e))[:, None]).T @ x
        zg = np.linalg.solve(info, (x * (t - e)[:, None]).T).T
        g1 = (x * (w * t)[:, None]).T @ x
        g0 = (x * (w * (1 - t))[:, None]).T @ x
        zb1 = np.linalg.solve(g1, (x * (t * (y - m1))[:, None]).T).T
        zb0 = np.linalg.solve(g0, (x * ((1 - t) * (y - m0))[:, None]).T).T
        # Derivatives of the mean equations.
        d1_b = x.T @ (w * (1 - t * h1))
        d0_b = x.T @ (w * (1 - (1 - t) * h0))
        d1_g = x.T @ (w * t * (y - m1) * (-h1 * (1 - e)) * free)
        d0_g = x.T @ (w * (1 - t) * (y - m0) * (h0 * e) * free)
        z1 = (psi1 + zb1 @ d1_b + zg @ d1_g) / total
        z0 = (psi0 + zb0 @ d0_b + zg @ d0_g) / total
        z = np.zeros(len(inputs.w))
        z[u] = z1 - z0
        se = _linearised_se(design, z, u)
    return _finish(
        inputs,
        design,
        estimate=estimate,
        se=se,
        df=float(design.degf),
        alpha=alpha,
        details={"mean_treated": mu1, "mean_control": mu0},
        balance=_balance(inputs, w * p.factor),
        overlap=_overlap(inputs, p),
    )


# --------------------------------------------------------------------------------------------
# Several outcomes and treatments


def estimate_effects(
    design: AnyDesign,
    outcomes: str | Sequence[str] = OUTCOMES,
    treatments: str | Sequence[str] = ("exposure_any",),
    *,
    method: Method = "difference",
    covariates: Sequence[str] = (),
    categorical: Sequence[str] = (),
    alpha: float = 0.05,
    propensity_bounds: tuple[float, float] | None = (0.01, 0.99),
    weight_percentiles: tuple[float, float] | None = None,
) -> Effects:
    """Run one method over every outcome and treatment: the table of an evaluation.

    Parameters
    ----------
    design
        The survey design.
    outcomes
        Outcome columns (default: the literacy index and the four dimension scores).
    treatments
        0/1 treatment columns (e.g. :data:`EXPOSURES`, or the contrasts made by
        :func:`treatment_contrasts`).
    method
        ``"difference"``, ``"regression"``, ``"ipw"`` or ``"aipw"``.
    covariates, categorical, alpha, propensity_bounds, weight_percentiles
        Passed to the method (the ones it takes).

    Returns
    -------
    Effects
        Treatment by treatment, outcome by outcome; ``.to_frame()`` gives the table.
    """
    if method not in get_args(Method):
        raise _fail(
            str(method),
            f"method must be one of {', '.join(repr(m) for m in get_args(Method))}, "
            f"not {method!r}.",
        )
    outcome_list = [outcomes] if isinstance(outcomes, str) else list(outcomes)
    treatment_list = [treatments] if isinstance(treatments, str) else list(treatments)
    items = []
    for treatment in treatment_list:
        for outcome in outcome_list:
            items.append(
                estimate_effect(
                    design, outcome, treatment, method=method, covariates=covariates,
                    categorical=categorical, alpha=alpha, propensity_bounds=propensity_bounds,
                    weight_percentiles=weight_percentiles,
                )
            )
    return Effects(items)


def estimate_effect(
    design: AnyDesign,
    outcome: str,
    treatment: str,
    *,
    method: Method = "difference",
    covariates: Sequence[str] = (),
    categorical: Sequence[str] = (),
    alpha: float = 0.05,
    propensity_bounds: tuple[float, float] | None = (0.01, 0.99),
    weight_percentiles: tuple[float, float] | None = None,
) -> Effect:
    """One effect by the named method (the dispatcher behind :func:`estimate_effects` and the
    command line). ``"regression"``, ``"ipw"`` and ``"aipw"`` need covariates."""
    if method not in get_args(Method):
        raise _fail(
            str(method),
            f"method must be one of {', '.join(repr(m) for m in get_args(Method))}, "
            f"not {method!r}.",
        )
    if method == "difference":
        if covariates:
            raise _fail(
                method,
                "the difference in means does not adjust for covariates; choose method "
                "'regression', 'ipw' or 'aipw' to adjust.",
            )
        return difference_in_means(design, outcome, treatment, alpha=alpha)
    if not covariates:
        raise _fail(
            method,
            "name the covariates to adjust for (e.g. age_group, sex, education, income, urban, "
            "province); without them use method 'difference'.",
        )
    if method == "regression":
        return regression_adjustment(
            design, outcome, treatment, covariates, categorical=categorical, alpha=alpha
        )
    if method == "ipw":
        return ipw(
            design, outcome, treatment, covariates, categorical=categorical,
            propensity_bounds=propensity_bounds, weight_percentiles=weight_percentiles,
            alpha=alpha,
        )
    return aipw(
        design, outcome, treatment, covariates, categorical=categorical,
        propensity_bounds=propensity_bounds, alpha=alpha,
    )


def treatment_contrasts(
    data: pd.DataFrame,
    *,
    exposure: str = "exposure_any",
    types: Sequence[str] = EXPOSURES[1:],
    recency: str | None = "exposure_recency_months",
    bands: Sequence[tuple[float, float]] = RECENCY_BANDS,
) -> pd.DataFrame:
    """Treatment columns comparing each kind of exposure with no exposure at all.

    Parameters
    ----------
    data
        The analysis frame.
    exposure
        The 0/1 column of any exposure to financial education.
    types
        0/1 columns of each type of exposure (school, bank, online...).
    recency
        Months since the last exposure (None: no recency contrasts).
    bands
        ``[lower, upper)`` month bands of ``recency``.

    Returns
    -------
    pandas.DataFrame
        Same index as ``data``; one float column per contrast: ``{type}_vs_none`` is 1 for
        respondents exposed to that type, 0 for those never exposed and missing for those
        exposed to other types only; ``recency_{lower}_{upper}_vs_none`` is 1 for respondents
        whose last exposure falls in the band, 0 for those never exposed, missing otherwise.
        Assign them to the frame before building the design (``data.join(contrasts)``), so
        the other rows stay in the design.

    Notes
    -----
    Comparing "exposed to type k" with "not exposed to type k" would put people exposed to
    other types among the controls and understate the effect; comparing with the never
    exposed keeps one clean control group for every contrast. Recency bands show whether
    effects fade (Fernandes, Lynch & Netemeyer 2014 report decay within about 20 months).
    """
    any_ = treatment_values(data, exposure, method="contrasts")
    out: dict[str, np.ndarray] = {}
    for name in types:
        values = treatment_values(data, name, method="contrasts")
        out[f"{_short(name, exposure)}_vs_none"] = np.where(
            values == 1, 1.0, np.where(any_ == 0, 0.0, np.nan)
        )
    if recency is not None:
        if recency not in data.columns:
            raise _missing_column("contrasts", data, recency, "recency")
        months = pd.to_numeric(data[recency], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        for lower, upper in bands:
            if not lower < upper:
                raise _fail("contrasts", f"recency band ({lower}, {upper}) is empty.")
            inside = (any_ == 1) & (months >= lower) & (months < upper)
            label = f"recency_{_fmt(lower)}_{_fmt(upper)}_vs_none"
            out[label] = np.where(inside, 1.0, np.where(any_ == 0, 0.0, np.nan))
    return pd.DataFrame(out, index=data.index)


def _short(name: str, exposure: str) -> str:
    prefix = exposure.split("_")[0] + "_"
    return name[len(prefix):] if name.startswith(prefix) else name


def _fmt(value: float) -> str:
    if math.isinf(value):
        return "plus"
    return f"{value:g}"


# --------------------------------------------------------------------------------------------
# Pre/post quiz


@dataclass(frozen=True)
class Attrition:
    """Who could be paired between the pre and post quiz.

    Attributes
    ----------
    n_pre, n_post
        Rows in each file.
    n_paired
        Participants paired (code seen once in each file, outcome present in both).
    only_pre, only_post
        Codes seen in one file only (drop-outs and late joiners).
    duplicated_pre, duplicated_post
        Codes seen more than once in a file; they are left out (which row is right is
        unknown).
    missing_outcome
        Codes paired but with a missing outcome in either file; left out.
    missing_id
        Rows without a code (pre + post).
    """

    n_pre: int
    n_post: int
    n_paired: int
    only_pre: tuple[object, ...]
    only_post: tuple[object, ...]
    duplicated_pre: tuple[object, ...]
    duplicated_post: tuple[object, ...]
    missing_outcome: tuple[object, ...]
    missing_id: int

    @property
    def retention(self) -> float:
        """Share of the pre-quiz participants (unique codes) who were paired."""
        unique_pre = self.n_paired + len(self.only_pre) + len(self.missing_outcome)
        return self.n_paired / unique_pre if unique_pre else math.nan

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "n_pre": self.n_pre,
            "n_post": self.n_post,
            "n_paired": self.n_paired,
            "retention": _number(self.retention),
            "only_pre": [_plain(c) for c in self.only_pre],
            "only_post": [_plain(c) for c in self.only_post],
            "duplicated_pre": [_plain(c) for c in self.duplicated_pre],
            "duplicated_post": [_plain(c) for c in self.duplicated_post],
            "missing_outcome": [_plain(c) for c in self.missing_outcome],
            "missing_id": self.missing_id,
        }


@dataclass(frozen=True, eq=False)
class PrePost:
    """Paired comparison of a quiz score before and after a financial-education session.

    Attributes
    ----------
    outcome, id
        The score and participant-code columns.
    n
        Pairs.
    mean_pre, mean_post, sd_pre, sd_post
        Means and SDs (n - 1) of the paired scores.
    correlation
        Pearson correlation of the pre and post scores.
    mean_change, sd_change
        Mean and SD of the change (post - pre).
    se, t, df, p_value, ci_lower, ci_upper
        The paired t-test of mean change 0 and its t interval (``scipy.stats.ttest_rel``).
    d_z, d_av
        Cohen's d of the change: ``mean_change / sd_change`` (d_z) and
        ``mean_change / ((sd_pre + sd_post) / 2)`` (d_av).
    hedges_g, g_se, g_ci_lower, g_ci_upper
        Hedges' g for matched groups with its SE and normal interval (see :func:`prepost`).
    alpha
        Significance level.
    items
        Per item: ``item, n, pct_pre, pct_post, change, right_to_wrong, wrong_to_right,
        mcnemar_p`` (empty when no items were given).
    attrition
        :class:`Attrition` report.
    groups
        With a ``group``: per-group paired statistics (``group, n, mean_pre, mean_post,
        mean_change, sd_change, t, p_value, d_z``); None otherwise.
    did
        With a ``group``: the difference-in-differences :class:`Effect` (method
        ``"prepost_did"``); None otherwise.
    """

    outcome: str
    id: str
    n: int
    mean_pre: float
    mean_post: float
    sd_pre: float
    sd_post: float
    correlation: float
    mean_change: float
    sd_change: float
    se: float
    t: float
    df: float
    p_value: float
    ci_lower: float
    ci_upper: float
    d_z: float
    d_av: float
    hedges_g: float
    g_se: float
    g_ci_lower: float
    g_ci_upper: float
    alpha: float
    items: pd.DataFrame = field(repr=False)
    attrition: Attrition = field(repr=False)
    groups: pd.DataFrame | None = field(default=None, repr=False)
    did: Effect | None = field(default=None, repr=False)

    _SCALARS = (
        "outcome", "id", "n", "mean_pre", "mean_post", "sd_pre", "sd_post", "correlation",
        "mean_change", "sd_change", "se", "t", "df", "p_value", "ci_lower", "ci_upper", "d_z",
        "d_av", "hedges_g", "g_se", "g_ci_lower", "g_ci_upper", "alpha",
    )

    def to_frame(self) -> pd.DataFrame:
        """One row of the paired statistics (the tables are attributes)."""
        return pd.DataFrame([{k: getattr(self, k) for k in self._SCALARS}])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the statistics, ``items``, ``attrition``, and with a group,
        ``groups`` and ``did``."""
        out: dict[str, Any] = {
            k: (getattr(self, k) if isinstance(getattr(self, k), str | int)
                else _number(getattr(self, k)))
            for k in self._SCALARS
        }
        out["items"] = _records(self.items)
        out["attrition"] = self.attrition.to_dict()
        if self.groups is not None:
            out["groups"] = _records(self.groups)
        if self.did is not None:
            out["did"] = self.did.to_dict()
        return out


def hedges_g_paired(
    mean_change: float, sd_change: float, correlation: float, n: int, *, alpha: float = 0.05
) -> tuple[float, float, float, float]:
    """Hedges' g for matched groups (pre/post) from summary statistics.

    Returns
    -------
    (g, se, ci_lower, ci_upper)

    Notes
    -----
    Borenstein, Hedges, Higgins & Rothstein (2009), *Introduction to Meta-Analysis*, §4
    (eqs. 4.27-4.30 and 4.22-4.24): :math:`S_{within} = S_{diff}/\\sqrt{2(1 - r)}`,
    :math:`d = \\bar Y_{diff}/S_{within}`, :math:`V_d = (1/n + d^2/(2n))\\,2(1 - r)`,
    :math:`J = 1 - 3/(4\\,df - 1)` with :math:`df = n - 1`, :math:`g = J d`,
    :math:`V_g = J^2 V_d`; the interval is :math:`g \\pm z_{1-\\alpha/2}\\sqrt{V_g}`.
    """
    if n < 3 or not sd_change > 0 or not correlation < 1:
        return math.nan, math.nan, math.nan, math.nan
    s_within = sd_change / math.sqrt(2 * (1 - correlation))
    d = mean_change / s_within
    v_d = (1 / n + d * d / (2 * n)) * 2 * (1 - correlation)
    j = 1 - 3 / (4 * (n - 1) - 1)
    g = j * d
    se = j * math.sqrt(v_d)
    z = float(stats.norm.ppf(1 - alpha / 2))
    return g, se, g - z * se, g + z * se


def _pairs(
    pre: pd.DataFrame, post: pd.DataFrame, id: str, outcome: str, group: str | None
) -> tuple[pd.DataFrame, Attrition]:
    for label, frame in (("pre", pre), ("post", post)):
        if not isinstance(frame, pd.DataFrame):
            raise _fail("prepost", f"{label} must be a DataFrame, not {type(frame).__name__}.")
        for column, role in ((id, "id"), (outcome, "outcome")):
            if column not in frame.columns:
                raise _missing_column("prepost", frame, column, f"{label} {role}")
        _outcome_values(frame, outcome, "prepost")
    if group is not None and group not in pre.columns and group not in post.columns:
        raise _missing_column("prepost", pre, group, "group")
    missing_id = int(pre[id].isna().sum() + post[id].isna().sum())
    a = pre[pre[id].notna()]
    b = post[post[id].notna()]
    dup_a = a[id].duplicated(keep=False)
    dup_b = b[id].duplicated(keep=False)
    duplicated_pre = tuple(_sorted(a.loc[dup_a, id].unique()))
    duplicated_post = tuple(_sorted(b.loc[dup_b, id].unique()))
    if duplicated_pre or duplicated_post:
        shown = ", ".join(repr(_plain(c)) for c in (duplicated_pre + duplicated_post)[:5])
        warnings.warn(
            f"Effect (prepost): participant code(s) {shown} appear more than once in the "
            f"{'pre' if duplicated_pre else 'post'} data ({len(duplicated_pre)} in pre, "
            f"{len(duplicated_post)} in post) and were left out; fix the codes to keep them.",
            EffectWarning,
            stacklevel=3,
        )
    a = a[~dup_a]
    b = b[~dup_b]
    codes_a, codes_b = set(a[id]), set(b[id])
    only_pre = tuple(_sorted(codes_a - codes_b - set(duplicated_post)))
    only_post = tuple(_sorted(codes_b - codes_a - set(duplicated_pre)))
    merged = a[[id, outcome]].merge(
        b[[id, outcome]], on=id, suffixes=("_pre", "_post"), how="inner"
    )
    y_pre = pd.to_numeric(merged[f"{outcome}_pre"]).astype("float64")
    y_post = pd.to_numeric(merged[f"{outcome}_post"]).astype("float64")
    missing = y_pre.isna() | y_post.isna()
    missing_outcome = tuple(_sorted(merged.loc[missing, id]))
    frame = pd.DataFrame({"id": merged[id], "pre": y_pre, "post": y_post})
    if group is not None:
        g_pre = a.set_index(id)[group].reindex(merged[id]) if group in a.columns else None
        g_post = b.set_index(id)[group].reindex(merged[id]) if group in b.columns else None
        if g_pre is not None and g_post is not None:
            differ = (g_pre.notna() & g_post.notna() & (g_pre != g_post)).to_numpy()
            if differ.any():
                k = int(np.flatnonzero(differ)[0])
                raise _fail(
                    "prepost",
                    f"participant {_plain(merged[id].iloc[k])!r} is in group "
                    f"{_plain(g_pre.iloc[k])!r} before and {_plain(g_post.iloc[k])!r} after; "
                    f"the group column {group!r} must not change between the quizzes.",
                )
            labels = g_pre.where(g_pre.notna(), g_post)
        elif g_pre is not None:
            labels = g_pre
        else:
            labels = g_post  # one of the two files has the column (checked above)
        frame["group"] = labels.to_numpy()
    frame = frame[~missing.to_numpy()].reset_index(drop=True)
    attrition = Attrition(
        n_pre=len(pre),
        n_post=len(post),
        n_paired=len(frame),
        only_pre=only_pre,
        only_post=only_post,
        duplicated_pre=duplicated_pre,
        duplicated_post=duplicated_post,
        missing_outcome=missing_outcome,
        missing_id=missing_id,
    )
    return frame, attrition


def _sorted(values: Iterable[object]) -> list[object]:
    items = [_plain(v) for v in values]
    try:
        return sorted(items)  # type: ignore[type-var]
    except TypeError:
        return sorted(items, key=str)


def _item_gains(
    pre: pd.DataFrame, post: pd.DataFrame, id: str, items: Sequence[str], paired: pd.Series
) -> pd.DataFrame:
    rows = []
    a = pre[pre[id].isin(paired)].drop_duplicates(id, keep=False).set_index(id)
    b = post[post[id].isin(paired)].drop_duplicates(id, keep=False).set_index(id)
    for item in items:
        for label, frame in (("pre", pre), ("post", post)):
            if item not in frame.columns:
                raise _missing_column("prepost", frame, item, f"{label} item")
        x = pd.to_numeric(a[item].reindex(paired), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        y = pd.to_numeric(b[item].reindex(paired), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        ok = ~np.isnan(x) & ~np.isnan(y)
        for values in (x[ok], y[ok]):
            if not np.isin(values, (0, 1)).all():
                raise _fail(
                    "prepost",
                    f"item column {item!r} must be scored 0/1 (1 = correct) to compute percent "
                    "correct and McNemar's test.",
                )
        x, y = x[ok], y[ok]
        right_to_wrong = int(((x == 1) & (y == 0)).sum())
        wrong_to_right = int(((x == 0) & (y == 1)).sum())
        discordant = right_to_wrong + wrong_to_right
        p = (
            float(stats.binomtest(wrong_to_right, discordant, 0.5).pvalue)
            if discordant else math.nan
        )
        n = int(ok.sum())
        pct_pre = 100 * float(x.mean()) if n else math.nan
        pct_post = 100 * float(y.mean()) if n else math.nan
        rows.append(
            {
                "item": item,
                "n": n,
                "pct_pre": pct_pre,
                "pct_post": pct_post,
                "change": pct_post - pct_pre,
                "right_to_wrong": right_to_wrong,
                "wrong_to_right": wrong_to_right,
                "mcnemar_p": p,
            }
        )
    return pd.DataFrame(
        rows,
        columns=["item", "n", "pct_pre", "pct_post", "change", "right_to_wrong",
                 "wrong_to_right", "mcnemar_p"],
    )


def _treated_label(values: Sequence[object], treated: object, group: str) -> object:
    if treated is not None:
        if treated not in values:
            raise _fail(
                "prepost",
                f"treated={treated!r} is not a value of the group column {group!r} "
                f"({', '.join(repr(v) for v in values)}).",
            )
        return treated
    for candidate in (1, True, "treated", "treatment", "intervention"):
        if candidate in values:
            return candidate
    raise _fail(
        "prepost",
        f"cannot tell which value of the group column {group!r} is the treated group "
        f"({', '.join(repr(v) for v in values)}); pass treated=<value>.",
    )


def prepost(
    pre: pd.DataFrame,
    post: pd.DataFrame,
    *,
    id: str,
    outcome: str,
    group: str | None = None,
    treated: object = None,
    items: Sequence[str] = (),
    alpha: float = 0.05,
) -> PrePost:
    """Change in a quiz score between before and after a session, with effect sizes.

    Parameters
    ----------
    pre, post
        The quiz results before and after (one row per participant, ``edu_quiz``).
    id
        Participant-code column linking the two.
    outcome
        Numeric score column present in both.
    group
        Optional column (in pre or post, constant per participant) with two values: a
        session group and a control group; adds the difference-in-differences.
    treated
        Which ``group`` value is the treated group; default: ``1``/``True``/``"treated"``/
        ``"treatment"``/``"intervention"``, whichever occurs.
    items
        0/1 item columns (1 = correct) present in both: percent correct before and after
        and McNemar's exact test for each.
    alpha
        Significance level.

    Returns
    -------
    PrePost

    Raises
    ------
    EffectError
        Missing columns, a non-numeric score, fewer than two pairs, a group that is not
        two-valued or changes between the quizzes.

    Notes
    -----
    Pairs are participants whose code appears exactly once in each file with a score in
    both; duplicated codes are left out with an :class:`EffectWarning`. The paired t-test is
    :math:`t = \\bar d/(s_d/\\sqrt n)` with :math:`n - 1` degrees of freedom
    (``scipy.stats.ttest_rel``). Effect sizes (Lakens 2013, *Front. Psychol.* 4:863):
    :math:`d_z = \\bar d / s_d` (standardised by the SD of the change; what the paired t-test's
    power depends on) and :math:`d_{av} = \\bar d / ((s_{pre} + s_{post})/2)` (standardised by
    the average SD of the scores, comparable with between-group d; Cumming 2012). Hedges' g is
    the meta-analytic standardised mean change for matched groups (:func:`hedges_g_paired`,
    Borenstein et al. 2009, §4), which divides by :math:`S_{within} = s_d/\\sqrt{2(1-r)}` and
    corrects the small-sample bias. McNemar's exact test is the two-sided binomial test of
    the discordant pairs (right->wrong against wrong->right), as R's
    ``binom.test(c, b + c)``.

    With ``group``, the difference-in-differences is the difference of the groups' mean
    changes, with Welch's standard error
    :math:`\\sqrt{s_{d1}^2/n_1 + s_{d0}^2/n_0}` and Welch-Satterthwaite degrees of freedom
    (``scipy.stats.ttest_ind(equal_var=False)`` on the changes); its ``effect_sd`` divides
    by the pooled pre-test SD (Morris 2008, *Organ. Res. Methods* 11, :math:`d_{ppc2}`
    without its bias correction, which is in ``details['d_ppc2']``). It assumes the groups
    would have changed alike without the session (parallel trends).
    """
    _check_alpha(alpha, "prepost")
    frame, attrition = _pairs(pre, post, id, outcome, group)
    n = len(frame)
    if n < 2:
        raise _fail(
            "prepost",
            f"only {n} participant(s) could be paired on {id!r} with a score in both files; "
            "check that the codes match between the pre and post data.",
        )
    x = frame["pre"].to_numpy()
    y = frame["post"].to_numpy()
    diff = y - x
    mean_change = float(diff.mean())
    sd_change = float(diff.std(ddof=1))
    sd_pre = float(x.std(ddof=1))
    sd_post = float(y.std(ddof=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = float(np.corrcoef(x, y)[0, 1]) if sd_pre > 0 and sd_post > 0 else math.nan
    se = sd_change / math.sqrt(n)
    df = float(n - 1)
    t = mean_change / se if se > 0 else math.nan
    tq = t_quantile(1 - alpha / 2, df)
    g, g_se, g_lo, g_hi = hedges_g_paired(mean_change, sd_change, correlation, n, alpha=alpha)
    item_table = _item_gains(pre, post, id, list(items), frame["id"])
    groups_table = None
    did = None
    if group is not None:
        groups_table, did = _prepost_did(frame, outcome, group, treated, alpha)
    return PrePost(
        outcome=outcome,
        id=id,
        n=n,
        mean_pre=float(x.mean()),
        mean_post=float(y.mean()),
        sd_pre=sd_pre,
        sd_post=sd_post,
        correlation=correlation,
        mean_change=mean_change,
        sd_change=sd_change,
        se=se,
        t=t,
        df=df,
        p_value=t_two_sided_p(t, df),
        ci_lower=mean_change - tq * se,
        ci_upper=mean_change + tq * se,
        d_z=_ratio(mean_change, sd_change),
        d_av=_ratio(mean_change, (sd_pre + sd_post) / 2),
        hedges_g=g,
        g_se=g_se,
        g_ci_lower=g_lo,
        g_ci_upper=g_hi,
        alpha=alpha,
        items=item_table,
        attrition=attrition,
        groups=groups_table,
        did=did,
    )


def _prepost_did(
    frame: pd.DataFrame, outcome: str, group: str, treated: object, alpha: float
) -> tuple[pd.DataFrame, Effect]:
    labelled = frame[frame["group"].notna()]
    values = _sorted(pd.unique(labelled["group"]))
    if len(values) != 2:
        raise _fail(
            "prepost",
            f"the group column {group!r} must have exactly two values among the pairs "
            f"(treated and control), not {len(values)} ({', '.join(repr(v) for v in values[:5])}).",
        )
    label = _treated_label(values, treated, group)
    other = values[1] if values[0] == label else values[0]
    rows = []
    parts = {}
    for name in (label, other):
        part = labelled[labelled["group"] == name]
        d = (part["post"] - part["pre"]).to_numpy()
        if len(d) < 2:
            raise _fail(
                "prepost", f"group {name!r} of {group!r} has {len(d)} pair(s); need two or more."
            )
        sd = float(d.std(ddof=1))
        tt = float(d.mean() / (sd / math.sqrt(len(d)))) if sd > 0 else math.nan
        rows.append(
            {
                "group": _plain(name),
                "n": len(d),
                "mean_pre": float(part["pre"].mean()),
                "mean_post": float(part["post"].mean()),
                "mean_change": float(d.mean()),
                "sd_change": sd,
                "t": tt,
                "p_value": t_two_sided_p(tt, len(d) - 1),
                "d_z": _ratio(float(d.mean()), sd),
            }
        )
        parts[name] = (d, part["pre"].to_numpy())
    d1, pre1 = parts[label]
    d0, pre0 = parts[other]
    n1, n0 = len(d1), len(d0)
    v1, v0 = d1.var(ddof=1) / n1, d0.var(ddof=1) / n0
    estimate = float(d1.mean() - d0.mean())
    se = math.sqrt(v1 + v0)
    df = float((v1 + v0) ** 2 / (v1**2 / (n1 - 1) + v0**2 / (n0 - 1))) if se > 0 else math.nan
    tq = t_quantile(1 - alpha / 2, df)
    sd_pre = math.sqrt(
        ((n1 - 1) * pre1.var(ddof=1) + (n0 - 1) * pre0.var(ddof=1)) / (n1 + n0 - 2)
    )
    correction = 1 - 3 / (4 * (n1 + n0 - 2) - 1)
    effect = Effect(
        method="prepost_did",
        outcome=outcome,
        treatment=f"{group}={_plain(label)}",
        effect=estimate,
        se=se,
        ci_lower=estimate - tq * se,
        ci_upper=estimate + tq * se,
        p_value=t_two_sided_p(estimate / se if se > 0 else math.nan, df),
        df=df,
        n_treated=n1,
        n_control=n0,
        effect_sd=_ratio(estimate, sd_pre),
        sd=sd_pre,
        alpha=alpha,
        details={
            "change_treated": float(d1.mean()),
            "change_control": float(d0.mean()),
            "d_ppc2": correction * _ratio(estimate, sd_pre),
        },
    )
    return pd.DataFrame(rows), effect


# --------------------------------------------------------------------------------------------
# Survey waves


def _satterthwaite(va: float, dfa: float, vb: float, dfb: float) -> float:
    if not (va + vb) > 0:
        return math.nan
    terms = 0.0
    for v, d in ((va, dfa), (vb, dfb)):
        if v > 0:
            if not d > 0:
                return math.nan
            terms += v * v / d
    return (va + vb) ** 2 / terms if terms > 0 else math.inf


def _wave_sd(design: AnyDesign, outcome: str, mask: np.ndarray) -> tuple[float, float]:
    """Sum of w (y - mean)^2 and of w over the rows in ``mask`` with an outcome."""
    y = _outcome_values(design.data, outcome, "wave_change")
    w = np.asarray(design.weight_values)
    ok = mask & ~np.isnan(y)
    if not ok.any():
        return 0.0, 0.0
    mean = np.average(y[ok], weights=w[ok])
    return float(np.sum(w[ok] * (y[ok] - mean) ** 2)), float(np.sum(w[ok]))


def wave_change(
    design_a: AnyDesign,
    design_b: AnyDesign,
    outcome: str,
    *,
    by: str | Sequence[str] | None = None,
    alpha: float = 0.05,
) -> Effects:
    """Change in the mean of an outcome between two survey waves (independent samples).

    Parameters
    ----------
    design_a, design_b
        The earlier and the later wave's designs.
    outcome
        Numeric column present in both (the literacy index...).
    by
        Domain column(s), e.g. ``"province"``: one change per domain present in both waves
        (domains found in one wave only are left out with an :class:`EffectWarning`). None:
        the national change.
    alpha
        Significance level.

    Returns
    -------
    Effects
        One :class:`Effect` per domain, method ``"wave_change"``: ``effect`` is the later
        mean minus the earlier, ``n_treated``/``n_control`` the respondents of the later/
        earlier wave, ``details`` the two means and their SEs.

    Notes
    -----
    The waves are independent samples, so :math:`se = \\sqrt{se_a^2 + se_b^2}` with each wave's
    design-based SE (:func:`analysis.estimation.estimate_mean`). The interval uses t with
    Welch-Satterthwaite degrees of freedom
    :math:`(v_a + v_b)^2/(v_a^2/df_a + v_b^2/df_b)` from the two design dfs. When the waves
    reuse PSUs, their estimates are positively correlated and this SE is conservative.
    ``effect_sd`` divides by the pooled within-wave SD of the domain,
    :math:`\\sqrt{\\sum_{wave}\\sum_i w_i (y_i - \\bar y_{wave})^2 / \\sum w_i}` (each wave's
    weights as given: give both waves weights on the same population scale).
    """
    _check_design(design_a, "wave_change")
    _check_design(design_b, "wave_change")
    _check_alpha(alpha, "wave_change")
    for design in (design_a, design_b):
        _outcome_values(design.data, outcome, "wave_change")
    names = [by] if isinstance(by, str) else list(by or [])
    for design in (design_a, design_b):
        for name in names:
            if name not in design.data.columns:
                raise _missing_column("wave_change", design.data, name, "domain (by)")
    est_a = estimate_mean(design_a, outcome, by=by or None, alpha=alpha)
    est_b = estimate_mean(design_b, outcome, by=by or None, alpha=alpha)
    keyed_b = {tuple(sorted(e.by.items(), key=str)): e for e in est_b}
    keyed_a = {tuple(sorted(e.by.items(), key=str)): e for e in est_a}
    unmatched = [k for k in (*keyed_a, *keyed_b) if k not in keyed_a or k not in keyed_b]
    if unmatched:
        shown = "; ".join(", ".join(f"{c}={v!r}" for c, v in k) for k in unmatched[:5])
        warnings.warn(
            f"Effect (wave_change): {len(unmatched)} domain(s) occur in one wave only and are "
            f"left out ({shown}).",
            EffectWarning,
            stacklevel=2,
        )
    items = []
    for e_a in est_a:
        key = tuple(sorted(e_a.by.items(), key=str))
        e_b = keyed_b.get(key)
        if e_b is None:
            continue
        va, vb = e_a.se**2, e_b.se**2
        estimate = e_b.estimate - e_a.estimate
        se = math.sqrt(va + vb)
        df = _satterthwaite(va, e_a.df, vb, e_b.df)
        tq = t_quantile(1 - alpha / 2, df)
        ss = ws = 0.0
        for design in (design_a, design_b):
            mask = np.ones(design.n, dtype=bool)
            for name, value in e_a.by.items():
                mask &= (design.data[name] == value).to_numpy(dtype=bool, na_value=False)
            s, sw = _wave_sd(design, outcome, mask)
            ss += s
            ws += sw
        sd = math.sqrt(ss / ws) if ws > 0 else math.nan
        items.append(
            Effect(
                method="wave_change",
                outcome=outcome,
                treatment="wave",
                effect=estimate,
                se=se,
                ci_lower=estimate - tq * se,
                ci_upper=estimate + tq * se,
                p_value=t_two_sided_p(estimate / se if se > 0 else math.nan, df),
                df=df,
                n_treated=e_b.n,
                n_control=e_a.n,
                effect_sd=_ratio(estimate, sd),
                sd=sd,
                alpha=alpha,
                by=dict(e_a.by),
                details={
                    "mean_a": e_a.estimate,
                    "mean_b": e_b.estimate,
                    "se_a": e_a.se,
                    "se_b": e_b.se,
                },
            )
        )
    return Effects(items)


def campaign_did(
    design_before: AnyDesign,
    design_after: AnyDesign,
    outcome: str,
    *,
    campaign: str,
    unit: str | None = "province",
    alpha: float = 0.05,
) -> Effect:
    """Difference-in-differences between provinces that ran a campaign and those that did not.

    Parameters
    ----------
    design_before, design_after
        Designs of the wave before and the wave after the campaign (independent samples).
    outcome
        Numeric column in both.
    campaign
        0/1 column in both: 1 for respondents living in a campaign province.
    unit
        Column of the unit the campaign was assigned to (default ``"province"``); checked to
        hold one campaign value per unit in each wave. None to skip the check.
    alpha
        Significance level.

    Returns
    -------
    Effect
        Method ``"campaign_did"``; ``n_treated``/``n_control`` count the respondents of both
        waves in campaign/other provinces; ``details`` holds the four means, the gap in each
        wave and the number of campaign and other units.

    Notes
    -----
    :math:`\\hat\\delta = (\\bar y^{after}_{C} - \\bar y^{after}_{N}) -
    (\\bar y^{before}_{C} - \\bar y^{before}_{N})`. Each wave's gap is
    :func:`difference_in_means` (its SE includes the covariance of the two domain means
    within the wave's design); the waves are independent samples, so
    :math:`se = \\sqrt{se_{before}^2 + se_{after}^2}`, with Welch-Satterthwaite degrees of
    freedom from the two design dfs. ``effect_sd`` divides by the weighted pooled
    within-group SD over both waves.

    Assumptions, to state with the result: (1) parallel trends — without the campaign, the
    campaign provinces' mean would have changed as much as the others'; (2) the composition
    of each group of provinces' population does not change between waves in ways that move
    the outcome; (3) no spill-over of the campaign to other provinces and no anticipation;
    (4) independent samples between waves. The SE reflects sampling only: with few campaign
    provinces, province-level shocks are not averaged out and the interval is too narrow
    (Bertrand, Duflo & Mullainathan 2004, *QJE* 119; Conley & Taber 2011, *REStat* 93).
    """
    method = "campaign_did"
    _check_alpha(alpha, method)
    gaps = []
    units: dict[str, float] = {}
    for label, design in (("before", design_before), ("after", design_after)):
        _check_design(design, method)
        data = design.data
        values = treatment_values(data, campaign, method=method)
        if unit is not None:
            if unit not in data.columns:
                raise _missing_column(method, data, unit, "unit")
            frame = pd.DataFrame({"unit": data[unit], "c": values}).dropna()
            per_unit = frame.groupby("unit", sort=True)["c"].nunique()
            mixed = per_unit[per_unit > 1]
            if len(mixed):
                raise _fail(
                    method,
                    f"the campaign column {campaign!r} varies within {unit} "
                    f"{_plain(mixed.index[0])!r} in the {label} wave; a campaign is assigned "
                    f"to whole {unit}s, so give every respondent of a {unit} the same value.",
                )
            first = frame.groupby("unit", sort=True)["c"].first()
            units[f"units_campaign_{label}"] = float((first == 1).sum())
            units[f"units_other_{label}"] = float((first == 0).sum())
        try:
            gaps.append(difference_in_means(design, outcome, campaign, alpha=alpha))
        except EffectError as error:
            raise EffectError(
                str(error).replace("Effect (difference)", f"Effect ({method}, {label} wave)")
            ) from None
    before, after = gaps
    estimate = after.effect - before.effect
    va, vb = before.se**2, after.se**2
    se = math.sqrt(va + vb)
    df = _satterthwaite(va, before.df, vb, after.df)
    tq = t_quantile(1 - alpha / 2, df)
    ss = ws = 0.0
    for gap in gaps:
        # pooled within-group sum of squares of each wave: sd^2 * sum(w) of the rows compared
        design = design_before if gap is before else design_after
        y = _outcome_values(design.data, outcome, method)
        tv = treatment_values(design.data, campaign, method=method)
        ok = ~np.isnan(y) & ~np.isnan(tv)
        wsum = float(np.sum(np.asarray(design.weight_values)[ok]))
        ss += gap.sd**2 * wsum
        ws += wsum
    sd = math.sqrt(ss / ws)
    return Effect(
        method=method,
        outcome=outcome,
        treatment=campaign,
        effect=estimate,
        se=se,
        ci_lower=estimate - tq * se,
        ci_upper=estimate + tq * se,
        p_value=t_two_sided_p(estimate / se if se > 0 else math.nan, df),
        df=df,
        n_treated=before.n_treated + after.n_treated,
        n_control=before.n_control + after.n_control,
        effect_sd=_ratio(estimate, sd),
        sd=sd,
        alpha=alpha,
        details={
            "mean_campaign_before": before.details["mean_treated"],
            "mean_other_before": before.details["mean_control"],
            "mean_campaign_after": after.details["mean_treated"],
            "mean_other_after": after.details["mean_control"],
            "gap_before": before.effect,
            "gap_after": after.effect,
            "se_gap_before": before.se,
            "se_gap_after": after.se,
            **units,
        },
    )


# --------------------------------------------------------------------------------------------
# Benchmarks from the literature


@dataclass(frozen=True)
class Benchmark:
    """A published benchmark for the size of financial-education effects.

    Attributes
    ----------
    key
        Short identifier.
    domain
        ``"knowledge"``, ``"behaviour"`` or ``"decay"``.
    effect_sd
        The benchmark effect in SD units (NaN for the decay finding).
    months
        For the decay finding, the horizon in months; NaN otherwise.
    finding
        What the study found, in one sentence.
    citation
        Full reference.
    doi
        DOI of the article.
    """

    key: str
    domain: str
    effect_sd: float
    months: float
    finding: str
    citation: str
    doi: str


KAISER_2022 = (
    "Kaiser, T., Lusardi, A., Menkhoff, L., & Urban, C. (2022). Financial education affects "
    "financial knowledge and downstream behaviors. Journal of Financial Economics, 145(2), "
    "255-272."
)
FERNANDES_2014 = (
    "Fernandes, D., Lynch, J. G., Jr., & Netemeyer, R. G. (2014). Financial literacy, "
    "financial education, and downstream financial behaviors. Management Science, 60(8), "
    "1861-1883."
)

#: Meta-analytic benchmarks, kept as data with their sources.
BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        key="kaiser2022_knowledge",
        domain="knowledge",
        effect_sd=0.2,
        months=math.nan,
        finding="Meta-analysis of 76 randomised experiments: financial education raises "
        "financial knowledge by about 0.2 SD on average.",
        citation=KAISER_2022,
        doi="10.1016/j.jfineco.2021.09.022",
    ),
    Benchmark(
        key="kaiser2022_behaviour",
        domain="behaviour",
        effect_sd=0.1,
        months=math.nan,
        finding="Meta-analysis of 76 randomised experiments: financial education improves "
        "financial behaviours by about 0.1 SD on average.",
        citation=KAISER_2022,
        doi="10.1016/j.jfineco.2021.09.022",
    ),
    Benchmark(
        key="fernandes2014_decay",
        domain="decay",
        effect_sd=math.nan,
        months=20.0,
        finding="Meta-analysis: the effects of financial education on behaviour decay over "
        "time; even large interventions have negligible effects about 20 months later.",
        citation=FERNANDES_2014,
        doi="10.1287/mnsc.2013.1849",
    ),
)

_DOMAIN_WORDS = {
    "knowledge": ("knowledge", "quiz", "知识"),
    "behaviour": ("behaviour", "behavior", "行为"),
}


def _benchmark_domains(outcome: str) -> list[str]:
    lowered = outcome.lower()
    found = [d for d, words in _DOMAIN_WORDS.items() if any(w in lowered for w in words)]
    return found or ["knowledge", "behaviour"]


def benchmark(
    effects: Effect | Iterable[Effect],
    *,
    domain: Literal["knowledge", "behaviour"] | None = None,
    recency_months: float | None = None,
) -> pd.DataFrame:
    """Place effects (in SD units) beside the meta-analytic benchmarks.

    Parameters
    ----------
    effects
        One :class:`Effect` or several (``Effects``).
    domain
        Benchmark to compare with. None: from the outcome's name (``knowledge`` ->
        knowledge, ``behaviour`` -> behaviour); other outcomes (the overall index, attitude,
        skills) are shown beside both.
    recency_months
        Months since the education of the respondents compared (e.g. the upper end of a
        recency band); at or beyond the decay horizon a note cites the decay finding.

    Returns
    -------
    pandas.DataFrame
        One row per effect and benchmark: ``method, outcome, treatment, effect_sd,
        ci_lower_sd, ci_upper_sd, domain, benchmark_sd, ratio, relation, note, source``.
        ``relation`` is ``"above"``/``"below"`` when the benchmark lies below/above the
        effect's interval in SD units, else ``"consistent"``.

    Notes
    -----
    Benchmarks (:data:`BENCHMARKS`): Kaiser, Lusardi, Menkhoff & Urban (2022), a
    meta-analysis of 76 RCTs — about 0.2 SD on financial knowledge and 0.1 SD on financial
    behaviour; Fernandes, Lynch & Netemeyer (2014) — effects decay, negligible about 20
    months after the intervention. The benchmarks are causal effects from experiments of
    offered programmes; survey comparisons of the self-reported exposed and unexposed are
    observational and can be larger through selection, which the adjusted methods reduce
    only as far as the covariates capture it. The interval in SD units divides by the
    sample SD as if it were known.
    """
    items = [effects] if isinstance(effects, Effect) else list(effects)
    decay = next(b for b in BENCHMARKS if b.domain == "decay")
    rows = []
    for e in items:
        domains = [domain] if domain is not None else _benchmark_domains(e.outcome)
        for d in domains:
            bench = next((b for b in BENCHMARKS if b.domain == d), None)
            if bench is None:
                raise _fail("benchmark", f"domain must be 'knowledge' or 'behaviour', not {d!r}.")
            lo, hi = e.ci_lower_sd, e.ci_upper_sd
            if math.isnan(lo) or math.isnan(hi):
                relation = "unknown"
            elif bench.effect_sd < lo:
                relation = "above"
            elif bench.effect_sd > hi:
                relation = "below"
            else:
                relation = "consistent"
            note = ""
            if recency_months is not None and recency_months >= decay.months:
                note = (
                    f"Education {recency_months:g} months ago: {decay.finding} "
                    f"({decay.citation.split('(')[0].strip()} 2014)"
                )
            rows.append(
                {
                    "method": e.method,
                    "outcome": e.outcome,
                    "treatment": e.treatment,
                    "effect_sd": e.effect_sd,
                    "ci_lower_sd": lo,
                    "ci_upper_sd": hi,
                    "domain": d,
                    "benchmark_sd": bench.effect_sd,
                    "ratio": _ratio(e.effect_sd, bench.effect_sd),
                    "relation": relation,
                    "note": note,
                    "source": bench.citation,
                }
            )
    return pd.DataFrame(
        rows,
        columns=["method", "outcome", "treatment", "effect_sd", "ci_lower_sd", "ci_upper_sd",
                 "domain", "benchmark_sd", "ratio", "relation", "note", "source"],
    )
