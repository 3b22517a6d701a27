"""Power calculator against statsmodels, R's power.t.test and textbook values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from statsmodels.stats.power import NormalIndPower, TTestIndPower

from analysis.power import (
    PowerError,
    minimum_detectable_effect,
    power_of_comparison,
    required_sample_size,
)

R_OUTPUT = Path(__file__).resolve().parents[1] / "reference" / "effect_reference_r.json"


def r_power() -> dict[str, list[float]]:
    return json.loads(R_OUTPUT.read_text(encoding="utf-8"))["power"]


@pytest.mark.parametrize(("n1", "n0"), [(100, 100), (300, 500), (20, 35), (1571, 1571)])
@pytest.mark.parametrize("two_sided", [True, False])
def test_matches_statsmodels_ttestindpower(n1, n0, two_sided):
    """TTestIndPower().power(effect, nobs1, alpha, ratio, alternative) at deff = 1."""
    alternative = "two-sided" if two_sided else "larger"
    sm = TTestIndPower()
    for effect in (0.05, 0.1, 0.2):
        assert power_of_comparison(effect, n1, n0, two_sided=two_sided) == pytest.approx(
            sm.power(effect, n1, 0.05, ratio=n0 / n1, alternative=alternative), rel=1e-10
        )
    mde = minimum_detectable_effect(n1, n0, two_sided=two_sided)
    # Our root is tighter than statsmodels' solver: compare the power reached at each.
    assert sm.power(mde, n1, 0.05, ratio=n0 / n1, alternative=alternative) == pytest.approx(
        0.8, abs=1e-12
    )
    assert mde == pytest.approx(
        sm.solve_power(nobs1=n1, ratio=n0 / n1, alpha=0.05, power=0.8, alternative=alternative),
        rel=1e-5,
    )


def test_required_sample_size_matches_statsmodels():
    sm = TTestIndPower()
    for effect, ratio in ((0.2, 1.0), (0.5, 1.0), (0.2, 2.0), (0.1, 0.5)):
        size = required_sample_size(effect, ratio=ratio)
        exact = sm.solve_power(effect_size=effect, alpha=0.05, power=0.8, ratio=ratio)
        assert size.n_treated_exact == pytest.approx(exact, rel=1e-7)
        assert size.n_treated == math.ceil(size.n_treated_exact)
        assert size.n_control == math.ceil(ratio * size.n_treated_exact)
        assert size.power >= 0.8


def test_normal_approximation_matches_statsmodels_normalindpower():
    sm = NormalIndPower()
    # The closed-form MDE (Bloom's) leaves out the opposite rejection region, whose
    # probability at the MDE is P(Z < -4.76), about 1e-6.
    mde = minimum_detectable_effect(200, 300, distribution="normal")
    assert sm.power(mde, 200, 0.05, ratio=1.5) == pytest.approx(0.8, abs=2e-6)
    assert power_of_comparison(0.3, 200, 300, distribution="normal") == pytest.approx(
        sm.power(0.3, 200, 0.05, ratio=1.5), rel=1e-12
    )


def test_matches_r_power_t_test():
    """power.t.test(n=, delta=, power=, sig.level=0.05, strict=TRUE, tol=1e-12) in
    tests/reference/effect_reference.R."""
    r = r_power()
    assert minimum_detectable_effect(100, 100) == pytest.approx(r["mde_n100"][0], rel=1e-9)
    assert minimum_detectable_effect(100, 100, two_sided=False) == pytest.approx(
        r["mde_n100_one_sided"][0], rel=1e-9
    )
    assert required_sample_size(0.5).n_treated_exact == pytest.approx(r["n_d05"][0], rel=1e-9)
    assert required_sample_size(0.2).n_treated_exact == pytest.approx(r["n_d02"][0], rel=1e-9)
    assert power_of_comparison(0.5, 64, 64) == pytest.approx(r["power_n64_d05"][0], rel=1e-9)


def test_textbook_values():
    """Cohen (1988), Table 2.4.1: 80% power at a two-sided 5% level needs n = 64 per group for
    d = 0.5 and 26 for d = 0.8. Bloom (1995): the minimum detectable effect is 2.80 standard
    errors (two-sided 5%, 80% power) and 2.49 one-sided."""
    assert required_sample_size(0.5).n_treated == 64
    assert required_sample_size(0.8).n_treated == 26
    se = math.sqrt(1 / 500 + 1 / 500)
    assert round(minimum_detectable_effect(500, 500, distribution="normal") / se, 2) == 2.80
    assert round(
        minimum_detectable_effect(500, 500, distribution="normal", two_sided=False) / se, 2
    ) == 2.49


def test_design_effect_and_sd():
    """A design effect of 2 halves the effective sample: twice the respondents for the same
    power, sqrt(2) times the MDE (normal approximation); sd rescales the MDE."""
    plain = required_sample_size(0.1, distribution="normal")
    clustered = required_sample_size(0.1, deff=2.0, distribution="normal")
    assert clustered.n_treated_exact == pytest.approx(2 * plain.n_treated_exact, rel=1e-9)
    assert minimum_detectable_effect(400, 600, deff=2.0, distribution="normal") == pytest.approx(
        math.sqrt(2) * minimum_detectable_effect(400, 600, distribution="normal"), rel=1e-12
    )
    assert minimum_detectable_effect(400, 600, sd=15.0) == pytest.approx(
        15 * minimum_detectable_effect(400, 600), rel=1e-12
    )
    # The t-based MDE with deff uses the effective sizes n/deff.
    assert minimum_detectable_effect(400, 600, deff=2.0) == pytest.approx(
        minimum_detectable_effect(200, 300), rel=1e-10
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: minimum_detectable_effect(0, 10), "group sizes must be positive"),
        (lambda: minimum_detectable_effect(10, 10, alpha=1.5), "alpha must be between 0 and 1"),
        (lambda: minimum_detectable_effect(10, 10, power=0.01), "power must be between alpha"),
        (lambda: minimum_detectable_effect(10, 10, deff=0), "deff \\(design effect\\) must be"),
        (lambda: minimum_detectable_effect(10, 10, sd=-1), "sd must be a positive number"),
        (lambda: required_sample_size(0.0), "effect_sd must be a non-zero number"),
        (lambda: required_sample_size(0.2, ratio=0), "ratio \\(controls per treated\\)"),
        (lambda: power_of_comparison(0.2, 1, 1), "leave no degrees of freedom"),
        (lambda: minimum_detectable_effect(9, 9, distribution="z"), "'t' or 'normal'"),
    ],
)
def test_errors(call, message):
    with pytest.raises(PowerError, match=message):
        call()
