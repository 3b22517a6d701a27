"""Tests of analysis.weighting against R's survey package, invariants and error messages.

Reference weights come from ``tests/reference/weighting.R`` (R 4.x, survey 4.1.1) and are
committed in ``tests/reference/weighting_r.csv``; the api data and the population totals the
script exported are in ``tests/reference/data/``. In R, every case starts from::

    library(survey); data(api)
    dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc)
    dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat, fpc = ~fpc)
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.design import CalibrationModel
from analysis.errors import ConvergenceWarning, WeightingError
from analysis.targets import Targets, census_targets, load_census
from analysis.weighting import (
    CalibrationResult,
    Trim,
    _calfun,
    _ipf_units,
    _layout,
    _newton_units,
    calibrate,
    linear_calibrate,
    poststratify,
    rake,
    trim_weights,
)

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
DATA = REFERENCE / "data"
R_WEIGHTS = pd.read_csv(REFERENCE / "weighting_r.csv", dtype={"case": "str", "cds": "str"})
CLUS1 = pd.read_csv(DATA / "apiclus1.csv", dtype={"cds": "str"})
STRAT = pd.read_csv(DATA / "apistrat.csv", dtype={"cds": "str"})
RTOL = 1e-8


def targets(case: str) -> Targets:
    return Targets.read_csv(DATA / f"targets_{case}.csv")


def r_weights(case: str, data: pd.DataFrame) -> np.ndarray:
    rows = R_WEIGHTS[R_WEIGHTS["case"] == case].set_index("cds")["weight"]
    assert len(rows) == len(data), case
    return rows.loc[data["cds"]].to_numpy(dtype=np.float64)


def assert_matches_r(result: CalibrationResult, case: str, data: pd.DataFrame) -> None:
    assert result.converged
    np.testing.assert_allclose(result.weights, r_weights(case, data), rtol=RTOL, atol=0)


def raises(message: str) -> pytest.RaisesExc[WeightingError]:
    """``pytest.raises`` on the whole user-facing message."""
    return pytest.raises(WeightingError, match="^" + re.escape(message) + "$")


# =========================================================================== agreement with R
def test_poststratify_matches_r() -> None:
    """R: postStratify(dclus1, ~stype, data.frame(stype = c("E","H","M"),
    Freq = c(4421, 755, 1018)))"""
    result = poststratify(CLUS1, targets("poststratify_stype"), weights="pw")
    assert_matches_r(result, "poststratify_stype", CLUS1)
    assert result.model == CalibrationModel(
        categorical=("stype",), interaction=True, method="poststratify"
    )


def test_poststratify_on_joint_cells_matches_r() -> None:
    """R: postStratify(dclus1, ~stype + sch.wide,
    as.data.frame(table(stype = apipop$stype, sch.wide = apipop$sch.wide)))"""
    result = calibrate(
        CLUS1, targets("poststratify_stype_schwide"), weights="pw", method="poststratify"
    )
    assert_matches_r(result, "poststratify_stype_schwide", CLUS1)
    assert result.model.categorical == ("stype", "sch.wide")
    assert result.model.interaction


def test_rake_matches_r() -> None:
    """R: rake(dclus1, list(~stype, ~sch.wide), list(pop.types, pop.schwide),
    control = list(maxit = 1000, epsilon = 1e-15)), totals from apipop."""
    result = rake(CLUS1, targets("rake_stype_schwide"), weights="pw", tol=1e-13)
    assert_matches_r(result, "rake_stype_schwide", CLUS1)
    assert result.model == CalibrationModel(categorical=("stype", "sch.wide"), method="rake")


def test_rake_equals_r_raking_calibration() -> None:
    """R: calibrate(dclus1, ~stype + sch.wide, c(6194, 755, 1018, 5122), calfun = "raking",
    epsilon = 1e-13). IPF at convergence gives the raking-calibration weights (and R's
    rake() and calibrate(calfun = "raking") agree to 4e-16 in the committed output)."""
    result = calibrate(CLUS1, targets("rake_stype_schwide"), weights="pw", tol=1e-13)
    assert_matches_r(result, "calfun_raking_stype_schwide", CLUS1)
    np.testing.assert_allclose(
        r_weights("calfun_raking_stype_schwide", CLUS1),
        r_weights("rake_stype_schwide", CLUS1),
        rtol=1e-12,
    )


def test_rake_with_a_crossed_margin_matches_r() -> None:
    """R: rake(dstrat, list(~stype + sch.wide, ~comp.imp),
    list(as.data.frame(table(stype = apipop$stype, sch.wide = apipop$sch.wide)),
    as.data.frame(table(comp.imp = apipop$comp.imp))),
    control = list(maxit = 1000, epsilon = 1e-15))"""
    result = rake(STRAT, targets("rake_crossed"), weights="pw", tol=1e-13)
    assert_matches_r(result, "rake_crossed", STRAT)
    assert result.model.categorical == ("stype*sch.wide", "comp.imp")


def test_linear_calibration_matches_r() -> None:
    """R: calibrate(dclus1, ~stype + api99, c(`(Intercept)` = 6194, stypeH = 755,
    stypeM = 1018, api99 = sum(apipop$api99)))"""
    result = linear_calibrate(CLUS1, targets("stype_api99"), weights="pw", tol=1e-13)
    assert_matches_r(result, "linear_stype_api99", CLUS1)
    assert result.model == CalibrationModel(
        categorical=("stype",), numeric=("api99",), method="linear"
    )


def test_linear_calibration_with_two_numeric_variables_matches_r() -> None:
    """R: calibrate(dstrat, ~sch.wide + api99 + meals, c(`(Intercept)` = 6194,
    sch.wideYes = 5122, api99 = sum(apipop$api99), meals = sum(apipop$meals)))"""
    result = calibrate(
        STRAT, targets("schwide_api99_meals"), weights="pw", method="linear", tol=1e-13
    )
    assert_matches_r(result, "linear_schwide_api99_meals", STRAT)


def test_raking_calibration_with_a_numeric_variable_matches_r() -> None:
    """R: calibrate(dclus1, ~stype + api99, pop, calfun = "raking", epsilon = 1e-13)"""
    result = calibrate(CLUS1, targets("stype_api99"), weights="pw", method="rake", tol=1e-13)
    assert_matches_r(result, "raking_stype_api99", CLUS1)
    assert result.cells is None
    # recorded as R's calfun = "raking" (not rake()), for the standard errors
    assert result.model == CalibrationModel(
        categorical=("stype",),
        numeric=("api99",),
        method="raking",  # type: ignore[arg-type]
    )


def test_logit_calibration_matches_r() -> None:
    """R: calibrate(dclus1, ~stype + api99, pop, calfun = "logit", bounds = c(0.7, 1.7),
    epsilon = 1e-13)"""
    result = calibrate(
        CLUS1,
        targets("stype_api99"),
        weights="pw",
        method="logit",
        bounds=(0.7, 1.7),
        tol=1e-13,
    )
    assert_matches_r(result, "logit_stype_api99", CLUS1)
    assert 0.7 < result.ratios.min() < 0.701 and 1.69 < result.ratios.max() < 1.7
    assert result.bounds == (0.7, 1.7)


def test_bounded_linear_calibration_matches_r() -> None:
    """R: calibrate(dclus1, ~stype + api99, pop, calfun = "linear", bounds = c(0.5, 1.7),
    epsilon = 1e-13)"""
    result = linear_calibrate(
        CLUS1, targets("stype_api99"), weights="pw", bounds=(0.5, 1.7), tol=1e-13
    )
    assert_matches_r(result, "linear_bounded_stype_api99", CLUS1)
    ratios = result.ratios
    assert np.sum(np.isclose(ratios, 0.5)) == 3 and np.sum(np.isclose(ratios, 1.7)) == 7


def test_trim_weights_matches_r() -> None:
    """R: trimWeights(calibrate(dclus1, ~stype + api99, pop), lower = 15, upper = 38)"""
    greg = linear_calibrate(CLUS1, targets("stype_api99"), weights="pw", tol=1e-13)
    trimmed = trim_weights(greg.weights, lower=15, upper=38)
    np.testing.assert_allclose(trimmed, r_weights("trim_linear_15_38", CLUS1), rtol=RTOL)
    assert trimmed.sum() == pytest.approx(greg.weights.sum(), rel=1e-13)
    assert trimmed.max() > 38  # one pass: the shares added push some weights back over


def test_strict_trim_weights_matches_r() -> None:
    """R: trimWeights(calibrate(dclus1, ~stype + api99, pop), lower = 15, upper = 38,
    strict = TRUE)"""
    greg = linear_calibrate(CLUS1, targets("stype_api99"), weights="pw", tol=1e-13)
    trimmed = trim_weights(greg.weights, lower=15, upper=38, strict=True)
    np.testing.assert_allclose(trimmed, r_weights("trim_linear_15_38_strict", CLUS1), rtol=RTOL)
    assert trimmed.max() <= 38 and trimmed.min() >= 15


@pytest.mark.r
def test_r_script_reproduces_the_committed_reference(tmp_path: Path) -> None:
    """Rerun ``Rscript tests/reference/weighting.R <tmp>`` and compare with the committed
    output (needs R with the survey package; deselect with ``-m "not r"`` where R is absent)."""
    rscript = shutil.which("Rscript")
    assert rscript is not None, (
        "Rscript is not on PATH: install R and the survey package (Debian: r-base-core, "
        "r-cran-survey), or deselect this test with -m 'not r'."
    )
    subprocess.run(
        [rscript, str(REFERENCE / "weighting.R"), str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    written = sorted((tmp_path / "data").glob("*.csv"))
    assert written, "weighting.R wrote no data files"
    for fresh in written:  # only the files weighting.R writes (others share the folder)
        committed = DATA / fresh.name
        assert committed.exists(), f"{fresh.name} is written by weighting.R but not committed"
        assert fresh.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8"), (
            committed.name
        )
    fresh_weights = pd.read_csv(tmp_path / "weighting_r.csv", dtype={"cds": "str"})
    assert fresh_weights[["case", "cds"]].equals(R_WEIGHTS[["case", "cds"]])
    np.testing.assert_allclose(fresh_weights["weight"], R_WEIGHTS["weight"], rtol=1e-12)


# =========================================================================== invariants
@st.composite
def samples(draw: st.DrawFn) -> tuple[pd.DataFrame, Targets, np.ndarray]:
    """Small samples with two categorical variables (every joint cell filled), one numeric
    variable and positive base weights; the targets are the totals of some weights within
    (0.5, 2) times the base weights, so every method (logit with bounds (0.4, 2.5) too) has
    a solution."""
    levels_a = draw(st.integers(2, 4))
    levels_b = draw(st.integers(2, 3))
    extra = draw(st.integers(0, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    cells = [(i, j) for i in range(levels_a) for j in range(levels_b)]
    a = [c[0] for c in cells] * 2 + list(rng.integers(0, levels_a, extra))
    b = [c[1] for c in cells] * 2 + list(rng.integers(0, levels_b, extra))
    n = len(a)
    data = pd.DataFrame(
        {
            "a": [f"a{i}" for i in a],
            "b": [f"b{j}" for j in b],
            "x": rng.normal(10, 3, n).round(1),
        }
    )
    base = rng.uniform(0.5, 5.0, n)
    truth = base * rng.uniform(0.5, 2.0, n)
    totals = Targets(
        {
            "a": pd.Series(truth).groupby(data["a"]).sum(),
            "b": pd.Series(truth).groupby(data["b"]).sum(),
        },
        numeric={"x": float(np.dot(truth, data["x"]))},
    )
    return data, totals, base


def categorical_only(t: Targets) -> Targets:
    return Targets(dict(t.margins))


def achieved(result: CalibrationResult) -> np.ndarray:
    return result.margins["achieved"].to_numpy()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(samples())
def test_calibrated_weights_hit_their_margins(
    sample: tuple[pd.DataFrame, Targets, np.ndarray],
) -> None:
    data, totals, base = sample
    cat = categorical_only(totals)
    for result in (
        rake(data, cat, weights=base, tol=1e-10, max_iter=2000),
        linear_calibrate(data, totals, weights=base, tol=1e-10),
        calibrate(data, totals, weights=base, method="rake", tol=1e-10),
        calibrate(data, totals, weights=base, method="logit", bounds=(0.4, 2.5), tol=1e-10),
        linear_calibrate(data, totals, weights=base, bounds=(0.4, 2.5), tol=1e-10),
    ):
        target = result.margins["target"].to_numpy()
        np.testing.assert_allclose(achieved(result), target, rtol=1e-8)
        assert result.max_margin_error < 1e-10
        # direct row-level check, independent of the cell table
        for (name, level), tot in zip(
            result.margins[["margin", "level"]].itertuples(index=False), target, strict=True
        ):
            if level:
                mask = data[name].astype(str).to_numpy() == level
                assert result.weights[mask].sum() == pytest.approx(tot, rel=1e-8)
            else:
                assert np.dot(result.weights, data[name]) == pytest.approx(tot, rel=1e-8)


@settings(max_examples=60, deadline=None)
@given(samples(), st.floats(1e-3, 1e3))
def test_scaling_base_weights_leaves_calibrated_weights_unchanged(
    sample: tuple[pd.DataFrame, Targets, np.ndarray], factor: float
) -> None:
    """Holds for post-stratification, raking and unbounded GREG whenever a categorical
    margin is present (the constant is then a combination of the calibration variables).
    It does not hold for bounded calibration (logit, bounded linear): the bounds limit the
    ratio to the base weights."""
    data, totals, base = sample
    cat = categorical_only(totals)
    single = Targets({"a": totals.margins["a"]})
    cases = [
        ("poststratify", single),
        ("rake", cat),
        ("rake", totals),
        ("linear", totals),
    ]
    for method, t in cases:
        one = calibrate(data, t, weights=base, method=method, tol=1e-11, max_iter=2000)
        scaled = calibrate(data, t, weights=base * factor, method=method, tol=1e-11, max_iter=2000)
        np.testing.assert_allclose(scaled.weights, one.weights, rtol=1e-7)


@settings(max_examples=60, deadline=None)
@given(samples())
def test_poststratification_equals_raking_and_greg_on_a_single_margin(
    sample: tuple[pd.DataFrame, Targets, np.ndarray],
) -> None:
    data, totals, base = sample
    joint = Targets({"a": totals.margins["a"]})
    ps = poststratify(data, joint, weights=base)
    np.testing.assert_allclose(rake(data, joint, weights=base).weights, ps.weights, rtol=1e-12)
    np.testing.assert_allclose(
        linear_calibrate(data, joint, weights=base).weights, ps.weights, rtol=1e-10
    )


@settings(max_examples=40, deadline=None)
@given(samples())
def test_ipf_equals_newton_raking(sample: tuple[pd.DataFrame, Targets, np.ndarray]) -> None:
    """IPF and Newton's method on the raking distance (R's calfun = "raking") reach the same
    weights: both solve sum_i d_i exp(x_i'lambda) x_i = t."""
    data, totals, base = sample
    cat = categorical_only(totals)
    layout = _layout(data, cat, base)
    d = layout.unit_totals(base)
    target = layout.target_vector
    ipf = _ipf_units(layout, d, target, 1e-13, 5000)
    newton = _newton_units(layout, d, target, _calfun("rake", -np.inf, np.inf), 1e-13, 100)
    assert ipf.converged and newton.converged
    np.testing.assert_allclose(ipf.g, newton.g, rtol=1e-9)


@settings(max_examples=40, deadline=None)
@given(samples(), st.sampled_from(["absolute", "mean", "median"]))
def test_trimming_meets_limits_and_margins_together(
    sample: tuple[pd.DataFrame, Targets, np.ndarray], relative_to: str
) -> None:
    data, totals, base = sample
    cat = categorical_only(totals)
    plain = rake(data, cat, weights=base, tol=1e-10, max_iter=2000)
    reference = {
        "absolute": 1.0,
        "mean": plain.weight_mean,
        "median": float(np.median(plain.weights)),
    }[relative_to]
    upper = 0.9 * plain.weight_max / reference
    trim = Trim(upper=upper, relative_to=relative_to)  # type: ignore[arg-type]
    try:
        result = rake(
            data,
            cat,
            weights=base,
            tol=1e-10,
            max_iter=2000,
            trim=trim,
            on_nonconvergence="raise",
        )
    except WeightingError as error:
        assert str(error).startswith("Impossible trimming")
        return
    cap = (
        upper
        * {
            "absolute": 1.0,
            "mean": result.weight_mean,
            "median": float(np.median(result.weights)),
        }[relative_to]
    )
    assert result.weight_max <= cap * (1 + 1e-10)
    assert result.max_margin_error < 1e-10
    assert result.trimmed >= 1 and result.trim_rounds >= 1


def test_trimming_with_ratio_limits_and_greg() -> None:
    greg = linear_calibrate(CLUS1, targets("stype_api99"), weights="pw")
    assert greg.ratios.min() < 0.5 and greg.ratios.max() > 1.6
    result = linear_calibrate(
        CLUS1,
        targets("stype_api99"),
        weights="pw",
        trim=Trim(ratio_lower=0.5, ratio_upper=1.6),
    )
    assert result.converged
    assert result.ratios.min() >= 0.5 * (1 - 1e-7) and result.ratios.max() <= 1.6 * (1 + 1e-7)
    np.testing.assert_allclose(achieved(result), result.margins["target"], rtol=1e-7)
    assert result.trimmed == int(
        np.sum(np.isclose(result.ratios, 0.5) | np.isclose(result.ratios, 1.6))
    )


def test_trimming_absolute_caps_with_logit() -> None:
    result = calibrate(
        CLUS1,
        targets("stype_api99"),
        weights="pw",
        method="logit",
        bounds=(0.4, 2.0),
        trim=Trim(lower=18, upper=58),
    )
    assert result.converged
    assert result.weight_min >= 18 * (1 - 1e-7) and result.weight_max <= 58 * (1 + 1e-7)
    assert result.ratios.min() > 0.4 and result.ratios.max() < 2.0
    np.testing.assert_allclose(achieved(result), result.margins["target"], rtol=1e-7)


def test_result_diagnostics() -> None:
    result = rake(CLUS1, targets("rake_stype_schwide"), weights="pw")
    w = result.weights
    cv = np.std(w) / np.mean(w)
    assert result.n == 183
    assert result.weight_cv == pytest.approx(cv, rel=1e-12)
    assert result.deff == pytest.approx(1 + cv**2, rel=1e-12)
    assert result.deff == pytest.approx(len(w) * np.sum(w**2) / np.sum(w) ** 2, rel=1e-12)
    assert result.n_effective == pytest.approx(np.sum(w) ** 2 / np.sum(w**2), rel=1e-12)
    assert result.weight_sum == pytest.approx(6194, rel=1e-7)
    assert list(result.quantiles.index) == [0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0]
    assert result.quantiles[0.5] == pytest.approx(np.median(w))
    assert result.quantiles[0.0] == result.weight_min
    np.testing.assert_allclose(result.base_weights, CLUS1["pw"])
    margins = result.margins
    assert list(margins.columns) == [
        "margin",
        "level",
        "target",
        "achieved",
        "base",
        "n",
        "error",
        "rel_error",
    ]
    assert margins["level"].tolist() == ["E", "H", "M", "No", "Yes"]
    assert margins["n"].tolist() == [144, 14, 25, 23, 160]
    assert margins["target"].tolist() == [4421, 755, 1018, 1072, 5122]
    frame = result.to_frame()
    assert frame.shape == (1, 13)
    assert frame.loc[0, "method"] == "rake" and bool(frame.loc[0, "converged"])
    assert result.cells is not None and result.cells.max() == 5  # 3 types x 2 = 6 cells
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.converged = False  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        result.weights[0] = 1.0
    assert "converged in" in repr(result)


def test_default_base_weights_spread_the_population_evenly() -> None:
    result = rake(CLUS1, targets("rake_stype_schwide"))
    np.testing.assert_allclose(result.base_weights, 6194 / 183)
    # raking is invariant to scaling the base weights, and pw is constant in apiclus1
    np.testing.assert_allclose(result.weights, r_weights("rake_stype_schwide", CLUS1), rtol=1e-6)


def test_row_order_and_index_do_not_matter() -> None:
    t = targets("stype_api99")
    ordered = linear_calibrate(CLUS1, t, weights="pw")
    permutation = np.random.default_rng(3).permutation(len(CLUS1))
    shuffled = CLUS1.iloc[permutation].set_index(pd.Index(permutation * 7 + 1000))
    result = linear_calibrate(shuffled, t, weights="pw")
    np.testing.assert_allclose(result.weights, ordered.weights[permutation], rtol=1e-12)


def test_census_targets_calibrate_synthetic_respondents() -> None:
    census = load_census()
    rng = np.random.default_rng(7)
    n = 20_000
    province = rng.choice(census["gb_code"].to_numpy(), n)
    frame = pd.DataFrame(
        {
            "province": province,
            "region": census.set_index("gb_code").loc[province, "nbs_region"].to_numpy(),
            "sex": rng.choice(["male", "female"], n, p=[0.45, 0.55]),
            "age_band": pd.Categorical(rng.choice(["15-59", "60+"], n, p=[0.85, 0.15])),
            "urban": rng.choice(["urban", "rural"], n, p=[0.75, 0.25]),
        }
    )
    frame.loc[frame.index[:5], "province"] = frame["province"].iloc[:5]
    t = census_targets()
    result = rake(frame, t)
    assert result.converged and result.max_margin_error < 1e-7
    assert result.weight_sum == pytest.approx(t.total, rel=1e-9)
    assert result.model.categorical == t.names
    assert result.cells is not None and result.cells.max() < 31 * 8
    by_province = pd.Series(result.weights).groupby(frame["province"].to_numpy()).sum()
    np.testing.assert_allclose(by_province.to_numpy(), t.margins["province"].to_numpy(), rtol=1e-7)
    # province codes as text or floats match the integer census codes
    as_text = frame.assign(province=frame["province"].astype(str))
    np.testing.assert_allclose(rake(as_text, t).weights, result.weights, rtol=1e-12)
    as_float = frame.assign(province=frame["province"].astype(float))
    np.testing.assert_allclose(rake(as_float, t).weights, result.weights, rtol=1e-12)


# =========================================================================== errors
@pytest.fixture
def small() -> tuple[pd.DataFrame, Targets]:
    data = pd.DataFrame(
        {
            "sex": ["male", "female", "female", "male", "female", "male"],
            "urban": ["urban", "urban", "rural", "rural", "urban", "urban"],
            "income": [3.0, 4.0, 2.0, 5.0, 1.0, 2.5],
            "w": [1.0, 2.0, 1.0, 1.5, 1.0, 1.0],
        },
        index=[10, 11, 12, 13, 14, 15],
    )
    totals = Targets(
        {
            "sex": pd.Series({"male": 52.0, "female": 48.0}),
            "urban": pd.Series({"urban": 65.0, "rural": 35.0}),
        }
    )
    return data, totals


def test_error_unknown_column(small: tuple[pd.DataFrame, Targets]) -> None:
    data, t = small
    with raises(
        "The targets refer to column 'urban', which is not in the data (did you mean "
        "'urbn'?); rename the column or fix the targets."
    ):
        rake(data.rename(columns={"urban": "urbn"}), t)


def test_error_missing_values(small: tuple[pd.DataFrame, Targets]) -> None:
    data, t = small
    data = data.assign(sex=["male", None, "female", None, "female", "male"])
    with raises(
        "Column 'sex' has 2 missing value(s) (rows 11, 13); weighting needs every "
        "respondent's category: impute the values or drop these rows before weighting."
    ):
        rake(data, t)
    with raises(
        "Column 'income' has 1 missing or infinite value(s) (rows 15); weighting needs every "
        "respondent's value: impute the values or drop these rows before weighting."
    ):
        linear_calibrate(
            small[0].assign(income=[3.0, 4.0, 2.0, 5.0, 1.0, np.nan]),
            Targets(dict(t.margins), numeric={"income": 300.0}),
        )


def test_error_category_missing_from_targets(small: tuple[pd.DataFrame, Targets]) -> None:
    data, t = small
    data = data.assign(sex=["male", "other", "female", "male", "other", "male"])
    with raises(
        "The data have categories with no population total in column 'sex': other (2 rows); "
        "add these levels to the targets, or recode or drop these rows."
    ):
        rake(data, t)
    joint = Targets({"sex*urban": {"male*urban": 30.0, "female*urban": 35.0, "male*rural": 35.0}})
    with raises(
        "The data have categories with no population total in margin 'sex*urban': "
        "female*rural (1 rows); add these levels to the targets, or recode or drop these rows."
    ):
        poststratify(small[0], joint)


def test_error_empty_cell(small: tuple[pd.DataFrame, Targets]) -> None:
    data, _ = small
    joint = Targets(
        {
            "sex*urban": {
                "male*urban": 30.0,
                "female*urban": 30.0,
                "male*rural": 20.0,
                "female*rural": 15.0,
                "other*rural": 5.0,
            }
        }
    )
    with raises(
        "Margin 'sex*urban' has level(s) with a population total but no respondents: "
        "other*rural (total 5); weighting cannot give weight to an empty cell: collapse "
        "categories (merge each with a neighbouring level of the same margin, in the targets "
        "and the data) or drop the margin."
    ):
        poststratify(data, joint)


def test_error_zero_total_with_respondents(small: tuple[pd.DataFrame, Targets]) -> None:
    data, _ = small
    with raises(
        "Margin 'urban' has level(s) with a population total of 0 but respondents: rural "
        "(2 rows); drop these respondents or give the level a positive total."
    ):
        rake(data, Targets({"urban": {"urban": 100.0, "rural": 0.0}}))


def test_error_bad_base_weights(small: tuple[pd.DataFrame, Targets]) -> None:
    data, t = small
    with raises(
        "Base weights must be positive, but column 'w' has 2 value(s) <= 0 (rows 12, 14; "
        "first 0); drop these respondents or fix their weights."
    ):
        rake(data.assign(w=[1.0, 1.0, 0.0, 1.0, -2.0, 1.0]), t, weights="w")
    with raises(
        "Base weights must be positive, but the base weights has 1 value(s) <= 0 (rows 10; "
        "first -1); drop these respondents or fix their weights."
    ):
        rake(data, t, weights=[-1.0, 1, 1, 1, 1, 1])
    with raises(
        "Column 'w' has 1 missing or infinite value(s) (rows 11); every respondent needs a "
        "positive base weight: fix or drop these rows."
    ):
        rake(data.assign(w=[1.0, np.nan, 1, 1, 1, 1]), t, weights="w")
    with raises("Base weights have 3 values but the data have 6 rows; give one weight per row."):
        rake(data, t, weights=[1.0, 2.0, 3.0])
    with raises(
        "Base weight column 'wt' is not in the data (did you mean 'w'?); pass the name of the "
        "design-weight column, an array of weights, or None."
    ):
        rake(data, t, weights="wt")


def test_error_unsupported_options(small: tuple[pd.DataFrame, Targets]) -> None:
    data, t = small
    with raises(
        "bounds are not supported by method='poststratify' (post-stratification factors are "
        "fixed by the cell totals); drop bounds, use method='logit' or 'linear' for bounded "
        "weights, or cap the weights with trim=Trim(...)."
    ):
        calibrate(data, Targets({"sex": t.margins["sex"]}), method="poststratify", bounds=(0.5, 2))
    with raises(
        "bounds are not supported by method='rake' (raking weights are not bounded); drop "
        "bounds, use method='logit' or 'linear' for bounded weights, or cap the weights with "
        "trim=Trim(...)."
    ):
        calibrate(data, t, method="rake", bounds=(0.5, 2))
    with raises(
        "method='logit' needs bounds=(lower, upper) on the ratio final / base weight, with "
        "0 <= lower < 1 < upper (e.g. bounds=(0.5, 3.0))."
    ):
        calibrate(data, t, method="logit")
    with raises("method='logit' needs finite bounds with 0 <= lower < 1 < upper, got (0.5, inf)."):
        calibrate(data, t, method="logit", bounds=(0.5, np.inf))
    with raises(
        "bounds (1.2, 2) must satisfy lower <= 1 <= upper with lower < upper: they limit the "
        "ratio final / base weight, and 1 (no change) must be allowed."
    ):
        calibrate(data, t, method="linear", bounds=(1.2, 2))
    with raises(
        "method='poststratify' needs exactly one margin, the joint cells (e.g. "
        "'province*sex*age_band*urban'), but the targets have 2: 'sex', 'urban'; use "
        "method='rake' to fit several margins."
    ):
        poststratify(data, t)
    with raises(
        "method='poststratify' uses categorical cells only, but the targets have numeric "
        "variable(s) 'income'; use method='linear' to calibrate on numeric totals."
    ):
        poststratify(data, Targets({"sex": t.margins["sex"]}, numeric={"income": 300.0}))
    with raises(
        "Unknown calibration method 'raking' (did you mean 'rake'?); use one of "
        "'poststratify', 'rake', 'linear', 'logit'."
    ):
        calibrate(data, t, method="raking")  # type: ignore[arg-type]
    with raises("on_nonconvergence must be 'warn' or 'raise', got 'ignore'."):
        calibrate(data, t, on_nonconvergence="ignore")  # type: ignore[arg-type]
    with raises(
        "Numeric calibration variable 'sex' must be a numeric column, but it has dtype str; "
        "convert it to numbers, or give its categories as a margin instead."
    ):
        linear_calibrate(data, Targets({"urban": t.margins["urban"]}, numeric={"sex": 1.0}))


def test_error_impossible_logit_bounds(small: tuple[pd.DataFrame, Targets]) -> None:
    data, t = small
    with raises(
        "Impossible targets: margin 'sex' level male has a target of 52 and a base-weighted "
        "total of 3.5, so its weights must change by a factor of 14.86, outside the bounds "
        "(0.5, 3) on final / base weights (the base weights sum to 7.5 against a population "
        "of 100: give base weights on the population scale, or none); widen the bounds or "
        "collapse this level with a neighbour."
    ):
        calibrate(data, t, weights="w", method="logit", bounds=(0.5, 3))
    # every level is within reach on its own, but not all together: perfectly correlated
    # variables in the sample (a linear programme proves it)
    linked = pd.DataFrame({"a": ["a1"] * 5 + ["a2"] * 5, "b": ["b1"] * 5 + ["b2"] * 5})
    both = Targets({"a": {"a1": 50.0, "a2": 50.0}, "b": {"b1": 80.0, "b2": 20.0}})
    with raises(
        "Impossible targets: no weights with final / base ratios within the bounds (0.3, 2) "
        "meet all the margins together (the largest error remains in margin 'b', level b2); "
        "widen the bounds, drop a margin or collapse sparse categories."
    ):
        calibrate(linked, both, method="logit", bounds=(0.3, 2))


def test_nonconvergence_warns_or_raises() -> None:
    linked = pd.DataFrame({"a": ["a1"] * 5 + ["a2"] * 5, "b": ["b1"] * 5 + ["b2"] * 5})
    both = Targets({"a": {"a1": 50.0, "a2": 50.0}, "b": {"b1": 80.0, "b2": 20.0}})
    message = (
        "Calibration (method='rake') did not converge in 20 iterations: the largest relative "
        "margin error is 0.588 (margin 'a', level a1), above tol=1e-07; raise max_iter or "
        "collapse sparse categories."
    )
    with pytest.warns(ConvergenceWarning, match="^" + re.escape(message) + "$"):
        result = rake(linked, both, max_iter=20)
    assert not result.converged and result.iterations == 20
    with raises(message):
        rake(linked, both, max_iter=20, on_nonconvergence="raise")


def test_error_impossible_trimming(small: tuple[pd.DataFrame, Targets]) -> None:
    data, t = small
    with raises(
        "Impossible trimming: margin 'sex' level male has a target of 52, but with every "
        "respondent at the upper limit its weights total 45; loosen the upper limit (weight "
        "<= 15)."
    ):
        rake(data, t, trim=Trim(upper=15))
    with raises(
        "Trimming limits cross: 6 respondent(s) have a lower limit above the upper one (first: "
        "row position 0, lower 20 > upper 16.6667); the trimming limits (weight >= 20, "
        "final/base <= 1) cannot all hold: loosen one of them."
    ):
        rake(data, t, trim=Trim(lower=20, ratio_upper=1.0))


def test_trim_and_trim_weights_option_errors() -> None:
    with raises("Trim: give at least one limit (lower, upper, ratio_lower or ratio_upper)."):
        Trim()
    with raises("Trim: lower (3) must be smaller than upper (2)."):
        Trim(lower=3, upper=2)
    with raises("Trim: relative_to must be one of 'absolute', 'mean', 'median', got 'max'."):
        Trim(upper=3, relative_to="max")  # type: ignore[arg-type]
    with raises(
        "trim_weights: limits (5, 8) cannot hold for 3 weights that sum to 12 (their mean 4 "
        "must lie within the limits); loosen them."
    ):
        trim_weights([1.0, 2.0, 9.0], lower=5, upper=8)
    np.testing.assert_allclose(
        trim_weights([1.0, 2.0, 9.0], upper=1.5, relative_to="mean"), [2.5, 3.5, 6.0]
    )


def test_column_types_give_the_same_weights(small: tuple[pd.DataFrame, Targets]) -> None:
    """Arrow-backed text (several chunks, as after pd.concat or a Parquet read), object,
    categorical and pyarrow-dictionary columns are all matched to the targets alike."""
    data, t = small
    expected = rake(data, t, weights="w").weights
    chunked = pd.concat([data.iloc[:2], data.iloc[2:]])
    assert chunked["sex"].array.__arrow_array__().num_chunks == 2
    np.testing.assert_allclose(rake(chunked, t, weights="w").weights, expected, rtol=1e-14)
    for dtype in ("object", "category"):
        typed = data.astype({"sex": dtype, "urban": dtype})
        np.testing.assert_allclose(rake(typed, t, weights="w").weights, expected, rtol=1e-14)
    with_missing = pd.concat([data.iloc[:3], data.iloc[3:].assign(sex=["male", None, None])])
    with raises(
        "Column 'sex' has 2 missing value(s) (rows 14, 15); weighting needs every "
        "respondent's category: impute the values or drop these rows before weighting."
    ):
        rake(with_missing, t)


def test_bounded_calibration_depends_on_the_scale_of_the_base_weights() -> None:
    """The invariance above fails for logit: its bounds limit final / base weights, so the
    same bounds on base weights 10% larger bind differently (R behaves the same way)."""
    t = targets("stype_api99")
    one = calibrate(CLUS1, t, weights="pw", method="logit", bounds=(0.6, 2.0))
    larger = calibrate(CLUS1, t, weights=CLUS1["pw"] * 1.1, method="logit", bounds=(0.6, 2.0))
    assert one.converged and larger.converged
    assert np.max(np.abs(larger.weights / one.weights - 1)) > 0.05
