"""Statistical power of a comparison of two groups: minimum detectable effects, sample sizes.

For planning an evaluation of financial education: how large an effect (in SD units of the
outcome) a survey of a given size can detect, and how many respondents a given effect needs,
with the design effect of a clustered, weighted sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

from scipy import optimize, stats

from analysis.errors import AnalysisError

Distribution = Literal["t", "normal"]


class PowerError(AnalysisError):
    """A power calculation was asked with impossible inputs."""


@dataclass(frozen=True)
class SampleSize:
    """Sample sizes that give the requested power.

    Attributes
    ----------
    n_treated, n_control
        Respondents needed in each group (rounded up), design effect included.
    n_total
        Their sum.
    n_treated_exact
        The unrounded solution for the treated group.
    effect_sd
        The effect the sizes are for, in SD units.
    power
        The power reached with the rounded sizes.
    """

    n_treated: int
    n_control: int
    n_total: int
    n_treated_exact: float
    effect_sd: float
    power: float


def _check(alpha: float, power: float | None, deff: float, distribution: str) -> None:
    if not 0 < alpha < 1:
        raise PowerError(f"Power: alpha must be between 0 and 1 (e.g. 0.05), not {alpha}.")
    if power is not None and not alpha < power < 1:
        raise PowerError(
            f"Power: power must be between alpha ({alpha}) and 1 (e.g. 0.8), not {power}."
        )
    if not (deff > 0 and math.isfinite(deff)):
        raise PowerError(
            f"Power: deff (design effect) must be a positive number (1 for simple random "
            f"sampling), not {deff}."
        )
    if distribution not in get_args(Distribution):
        raise PowerError(f"Power: distribution must be 't' or 'normal', not {distribution!r}.")


def power_of_comparison(
    effect_sd: float,
    n_treated: float,
    n_control: float,
    *,
    alpha: float = 0.05,
    deff: float = 1.0,
    two_sided: bool = True,
    distribution: Distribution = "t",
) -> float:
    """Power of the two-group comparison of means to detect ``effect_sd``.

    Parameters
    ----------
    effect_sd
        The true difference of means in SD units (positive: treated higher).
    n_treated, n_control
        Respondents in each group.
    alpha
        Significance level of the test.
    deff
        Design effect of the estimated difference (variance relative to simple random
        sampling; about :math:`1 + (m - 1)\\rho` for clusters of size :math:`m` with
        intra-cluster correlation :math:`\\rho`, times the weighting effect
        :math:`1 + CV_w^2`; Kish 1965).
    two_sided
        Two-sided test (True) or one-sided in the direction of the effect.
    distribution
        ``"t"``: the noncentral t with :math:`n_1/deff + n_0/deff - 2` degrees of freedom
        (as ``statsmodels``' ``TTestIndPower``, both rejection regions counted);
        ``"normal"``: the large-sample normal approximation.

    Notes
    -----
    With effective sizes :math:`n_g^* = n_g/deff`, the noncentrality is
    :math:`\\lambda = \\delta / \\sqrt{1/n_1^* + 1/n_0^*}`; the power is
    :math:`P(T_\\lambda > c) + P(T_\\lambda < -c)` with :math:`c` the critical value
    (Cohen 1988, ch. 2).
    """
    _check(alpha, None, deff, distribution)
    if not (n_treated > 0 and n_control > 0):
        raise PowerError(
            f"Power: group sizes must be positive, not {n_treated} and {n_control}."
        )
    n1, n0 = n_treated / deff, n_control / deff
    nc = effect_sd / math.sqrt(1 / n1 + 1 / n0)
    tail = alpha / 2 if two_sided else alpha
    if distribution == "normal":
        crit = float(stats.norm.isf(tail))
        result = float(stats.norm.sf(crit - nc))
        if two_sided:
            result += float(stats.norm.cdf(-crit - nc))
        return result
    df = n1 + n0 - 2
    if not df > 0:
        raise PowerError(
            f"Power: {n_treated:g} + {n_control:g} respondents with deff {deff:g} leave no "
            "degrees of freedom; the groups are too small."
        )
    crit = float(stats.t.isf(tail, df))
    result = float(stats.nct.sf(crit, df, nc))
    if two_sided:
        # P(T_nc < -c) = P(T_-nc > c): the upper-tail routine stays finite far in the tail,
        # where scipy's noncentral t cdf returns NaN.
        result += float(stats.nct.sf(crit, df, -nc))
    return result


def minimum_detectable_effect(
    n_treated: float,
    n_control: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    deff: float = 1.0,
    sd: float = 1.0,
    two_sided: bool = True,
    distribution: Distribution = "t",
) -> float:
    """The smallest true effect the comparison detects with the given power.

    Parameters
    ----------
    n_treated, n_control
        Respondents in each group.
    alpha, deff, two_sided, distribution
        As :func:`power_of_comparison`.
    power
        Probability of a significant result when the effect is this size.
    sd
        SD of the outcome: the result is in its units (1: in SD units).

    Returns
    -------
    float
        The minimum detectable effect (MDE), in the units of ``sd``.

    Notes
    -----
    With the normal approximation :math:`MDE = (z_{1-\\alpha/2} + z_{power})\\,\\sigma
    \\sqrt{deff\\,(1/n_1 + 1/n_0)}`: 2.80 standard errors for a two-sided 5% test with 80%
    power, 2.49 one-sided (Bloom 1995, *Evaluation Review* 19(5), 547-556); this closed form
    leaves out the opposite rejection region (probability about 1e-6 at the MDE). With the t
    distribution the MDE solves :func:`power_of_comparison` ``= power`` exactly, both regions
    counted.
    """
    _check(alpha, power, deff, distribution)
    if not (sd > 0 and math.isfinite(sd)):
        raise PowerError(f"Power: sd must be a positive number, not {sd}.")
    if not (n_treated > 0 and n_control > 0):
        raise PowerError(f"Power: group sizes must be positive, not {n_treated} and {n_control}.")
    se = math.sqrt(deff * (1 / n_treated + 1 / n_control))
    tail = alpha / 2 if two_sided else alpha
    normal = (float(stats.norm.isf(tail)) + float(stats.norm.ppf(power))) * se
    if distribution == "normal":
        return normal * sd

    def gap(delta: float) -> float:
        return power_of_comparison(
            delta, n_treated, n_control, alpha=alpha, deff=deff, two_sided=two_sided
        ) - power

    upper = normal * 2
    while gap(upper) < 0:
        upper *= 2
    delta = optimize.brentq(gap, 0.0, upper, xtol=1e-14, rtol=1e-13)
    return float(delta) * sd


def required_sample_size(
    effect_sd: float,
    *,
    ratio: float = 1.0,
    alpha: float = 0.05,
    power: float = 0.8,
    deff: float = 1.0,
    two_sided: bool = True,
    distribution: Distribution = "t",
) -> SampleSize:
    """Respondents needed to detect ``effect_sd`` with the given power.

    Parameters
    ----------
    effect_sd
        The effect to detect, in SD units (e.g. 0.2 for the meta-analytic effect on
        knowledge, 0.1 on behaviour; Kaiser et al. 2022).
    ratio
        Controls per treated respondent (``n_control = ratio * n_treated``).
    alpha, power, deff, two_sided, distribution
        As :func:`minimum_detectable_effect`.

    Returns
    -------
    SampleSize

    Notes
    -----
    Solves :func:`power_of_comparison` ``= power`` for :math:`n_1` (continuous), then rounds
    both groups up. For 80% power at a two-sided 5% level, d = 0.5 needs 64 per group and
    d = 0.8 needs 26 (Cohen 1988, Table 2.4.1).
    """
    _check(alpha, power, deff, distribution)
    if not (effect_sd != 0 and math.isfinite(effect_sd)):
        raise PowerError(f"Power: effect_sd must be a non-zero number, not {effect_sd}.")
    if not (ratio > 0 and math.isfinite(ratio)):
        raise PowerError(f"Power: ratio (controls per treated) must be positive, not {ratio}.")
    delta = abs(effect_sd)

    def gap(n1: float) -> float:
        return power_of_comparison(
            delta, n1, ratio * n1, alpha=alpha, deff=deff, two_sided=two_sided,
            distribution=distribution,
        ) - power

    tail = alpha / 2 if two_sided else alpha
    z = float(stats.norm.isf(tail)) + float(stats.norm.ppf(power))
    guess = deff * (1 + 1 / ratio) * (z / delta) ** 2
    # Smallest size with one degree of freedom (t), or a tiny one (normal).
    lower = 3 * deff / (1 + ratio) if distribution == "t" else 1e-6
    upper = max(2 * guess, 4.0 * deff)
    while gap(upper) < 0:
        upper *= 2
    if gap(lower) >= 0:
        n1 = lower
    else:
        n1 = float(optimize.brentq(gap, lower, upper, xtol=1e-10, rtol=1e-13))
    n_treated = math.ceil(n1 - 1e-9)
    n_control = math.ceil(ratio * n1 - 1e-9)
    achieved = power_of_comparison(
        delta, n_treated, n_control, alpha=alpha, deff=deff, two_sided=two_sided,
        distribution=distribution,
    )
    return SampleSize(
        n_treated=n_treated,
        n_control=n_control,
        n_total=n_treated + n_control,
        n_treated_exact=n1,
        effect_sd=effect_sd,
        power=achieved,
    )
