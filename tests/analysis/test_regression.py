"""Survey-weighted regression against R's svyglm (tests/reference/estimation.R)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.design import Design
from analysis.errors import ConvergenceWarning, EstimationError
from analysis.regression import RegressionResult, fit_linear, fit_logistic
from analysis.replication import ReplicateDesign
from tests.analysis.estimation_reference import (
    CALIBRATIONS,
    api,
    assert_close,
    calibrated,
    clus1,
    clus2,
    lonely,
    ref,
    strat,
)


def assert_glm(result: RegressionResult, name: str, *, rel: float = 1e-9) -> None:
    r = ref(name)
    assert list(result.terms) == r["names"], r["call"]
    assert result.df == r["df"], f"{name}: df {result.df} but R {r['df']}"
    table = result.to_frame()
    for column, key in [
        ("estimate", "estimate"),
        ("se", "se"),
        ("t", "t"),
        ("p_value", "p"),
        ("ci_lower", "ci_lower"),
        ("ci_upper", "ci_upper"),
    ]:
        assert_close(table[column].tolist(), r[key], what=f"{name}.{key}", call=r["call"], rel=rel)


def with_yes(data: pd.DataFrame, column: str) -> pd.DataFrame:
    return data.assign(**{f"{column}_yes": (data[column] == "Yes").astype(float)})


def test_linear_regression_on_a_stratified_design_matches_r():
    """svyglm(api00 ~ ell + meals + mobility, design=dstrat)"""
    assert_glm(fit_linear(strat(), "api00", ["ell", "meals", "mobility"]), "strat_glm")


def test_logistic_regression_on_a_cluster_design_matches_r():
    """svyglm(I(sch.wide=='Yes') ~ ell + meals + stype, dclus1, family=quasibinomial), with
    R's default glm.control and with control=glm.control(epsilon=1e-14, maxit=100)"""
    design = Design(with_yes(api("apiclus1"), "sch.wide"), weights="pw", cluster="dnum", fpc="fpc")
    result = fit_logistic(design, "sch.wide_yes", ["ell", "meals", "stype"])
    assert result.family == "quasibinomial"
    assert_glm(result, "clus1_logit")
    tight = fit_logistic(design, "sch.wide_yes", ["ell", "meals", "stype"], tol=1e-14, max_iter=100)
    assert tight.iterations > result.iterations
    assert_glm(tight, "clus1_logit_tight")


def test_domain_regression_keeps_the_whole_design():
    """svyglm(api00 ~ ell + meals, dclus1, subset=stype=='E')"""
    result = fit_linear(clus1(), "api00", ["ell", "meals"], subset=api("apiclus1")["stype"] == "E")
    assert_glm(result, "clus1_glm_subset")
    data = api("apiclus1").assign(elementary=lambda d: d["stype"] == "E")
    design = Design(data, weights="pw", cluster="dnum", fpc="fpc")
    by_name = fit_linear(design, "api00", ["ell", "meals"], subset="elementary")
    np.testing.assert_allclose(by_name.vcov, result.vcov, rtol=1e-12)


def test_categorical_terms_and_the_two_stage_design_match_r():
    """svyglm(api00 ~ ell + meals + stype, svydesign(id=~dnum+snum, weights=~pw))"""
    result = fit_linear(clus2(), "api00", ["ell", "meals", "stype"])
    assert result.terms == ("(Intercept)", "ell", "meals", "stypeH", "stypeM")
    assert_glm(result, "clus2_glm")


def test_rows_with_missing_values_leave_the_fit_but_not_the_design():
    """svyglm(enroll ~ ell + meals, dclus2): 6 schools have no enrolment."""
    result = fit_linear(clus2(), "enroll", ["ell", "meals"])
    assert result.n == len(api("apiclus2")) - 6
    assert_glm(result, "clus2_glm_na")


@pytest.mark.parametrize("mode", ["remove", "certainty", "adjust", "average"])
def test_lonely_psu_options_in_regression_match_r(mode):
    """options(survey.lonely.psu=mode); svyglm(api00 ~ ell + meals, dlonely)"""
    assert_glm(fit_linear(lonely(mode), "api00", ["ell", "meals"]), f"lonely_{mode}_glm")


@pytest.mark.parametrize("kind", [k for k in CALIBRATIONS if k != "rakedefault"])
def test_regression_on_calibrated_designs_matches_r(kind):
    """svyglm(api00 ~ ell + meals + mobility, d); svyglm(I(comp.imp=='Yes') ~ ell + meals, d,
    family=quasibinomial) for d calibrated by postStratify, rake and calibrate (linear, raking,
    logit)."""
    design = calibrated(kind)
    assert_glm(fit_linear(design, "api00", ["ell", "meals", "mobility"]), f"cal_{kind}_glm")
    data = with_yes(api("apiclus1"), "comp.imp")
    design = Design(
        data,
        weights=f"w_{kind}",
        cluster="dnum",
        fpc="fpc",
        base_weights="pw",
        calibration=CALIBRATIONS[kind],
    )
    assert_glm(fit_logistic(design, "comp.imp_yes", ["ell", "meals"]), f"cal_{kind}_logit")


@pytest.mark.parametrize(
    ("prefix", "build"),
    [
        ("rep_jk1", lambda: ReplicateDesign.from_design(clus1(), method="JK1")),
        ("rep_jkn", lambda: ReplicateDesign.from_design(strat(), method="JKn")),
        ("rep_jk1_ps", lambda: ReplicateDesign.from_design(calibrated("ps"), method="JK1")),
        ("rep_jk1_rake", lambda: ReplicateDesign.from_design(calibrated("rake"), method="JK1")),
    ],
)
def test_regression_on_replicate_designs_matches_r(prefix, build):
    """svyglm(api00 ~ ell + meals, r); svyglm(I(sch.wide=='Yes') ~ ell + meals, r,
    family=quasibinomial) for r <- as.svrepdesign(dclus1, 'JK1'), as.svrepdesign(dstrat, 'JKn'),
    and the JK1 design post-stratified / raked."""
    design = build()
    assert_glm(fit_linear(design, "api00", ["ell", "meals"]), f"{prefix}_glm")
    yes = (design.data["sch.wide"] == "Yes").astype(float)
    design = ReplicateDesign(
        design.data.assign(sw=yes),
        weights=design.weights,
        replicate_weights=design.replicate_weights,
        scale=design.scale,
        rscales=design.rscales,
        combined_weights=design.combined_weights,
        method=design.method,
    )
    assert_glm(fit_logistic(design, "sw", ["ell", "meals"]), f"{prefix}_logit")


def test_bootstrap_replicate_regression_matches_r():
    """set.seed(20260101); b <- as.svrepdesign(dstrat, type='bootstrap', replicates=50);
    svyglm(api00 ~ ell + meals, b) — with R's replicate factors."""
    factors = api("apistrat_bootstrap")
    data = pd.concat([api("apistrat"), factors], axis=1)
    design = ReplicateDesign(
        data,
        weights="pw",
        replicate_weights=list(factors.columns),
        combined_weights=False,
        scale=ref("rep_boot_degf")["scale"],
        method="bootstrap",
    )
    assert_glm(fit_linear(design, "api00", ["ell", "meals"]), "rep_boot_glm")


# --------------------------------------------------------------------------------------------
# Results object


def test_result_table_and_accessors():
    result = fit_linear(strat(), "api00", ["ell", "meals", "stype"])
    frame = result.to_frame()
    assert list(frame.columns) == [
        "term",
        "estimate",
        "se",
        "t",
        "p_value",
        "ci_lower",
        "ci_upper",
        "df",
    ]
    assert result.coefficient("meals") == pytest.approx(frame.loc[2, "estimate"])
    with pytest.raises(KeyError, match="No coefficient 'income'"):
        result.coefficient("income")
    assert np.allclose(result.se, np.sqrt(np.diag(result.vcov)))
    assert result.df == strat().degf + 1 - len(result.terms)


def test_predictions_for_new_rows():
    result = fit_linear(strat(), "api00", ["ell", "stype"])
    new = pd.DataFrame({"ell": [10.0, 10.0], "stype": ["E", "H"]})
    expected = [
        result.coefficient("(Intercept)") + 10 * result.coefficient("ell"),
        result.coefficient("(Intercept)")
        + 10 * result.coefficient("ell")
        + result.coefficient("stypeH"),
    ]
    assert result.predict(new) == pytest.approx(expected)
    design = Design(with_yes(api("apiclus1"), "sch.wide"), weights="pw", cluster="dnum", fpc="fpc")
    logit = fit_logistic(design, "sch.wide_yes", ["meals"])
    p = logit.predict(pd.DataFrame({"meals": [0.0, 50.0]}))
    eta = logit.predict(pd.DataFrame({"meals": [0.0, 50.0]}), type="link")
    assert p == pytest.approx(1 / (1 + np.exp(-eta)))
    assert ((p > 0) & (p < 1)).all()


def test_weighted_least_squares_equals_numpy():
    data = api("apistrat")
    result = fit_linear(strat(), "api00", ["meals"])
    x = np.column_stack([np.ones(len(data)), data["meals"]])
    w = data["pw"].to_numpy()
    beta = np.linalg.solve(x.T @ (w[:, None] * x), x.T @ (w * data["api00"]))
    assert result.coef == pytest.approx(beta, rel=1e-10)


def test_no_intercept_model_gets_every_category():
    result = fit_linear(strat(), "api00", ["stype"], intercept=False)
    assert result.terms == ("stypeE", "stypeH", "stypeM")
    means = {e: v for e, v in zip(result.terms, result.coef, strict=True)}
    data = api("apistrat")
    e = data[data["stype"] == "E"]
    assert means["stypeE"] == pytest.approx(np.average(e["api00"], weights=e["pw"]))


# --------------------------------------------------------------------------------------------
# Errors


def test_collinear_columns_are_named():
    data = api("apistrat").assign(meals2=lambda d: 2 * d["meals"])
    design = Design(data, weights="pw", strata="stype", fpc="fpc")
    with pytest.raises(EstimationError, match=r"collinear .*(meals2|meals) can be written"):
        fit_linear(design, "api00", ["meals", "meals2"])


def test_logistic_response_must_be_a_proportion():
    with pytest.raises(EstimationError, match=r"logistic response 'api00' must be 0/1"):
        fit_logistic(strat(), "api00", ["meals"])


def test_text_response_is_refused():
    with pytest.raises(EstimationError, match=r"response 'stype' is .* not numeric"):
        fit_linear(strat(), "stype", ["meals"])


def test_unknown_column_is_named():
    with pytest.raises(EstimationError, match=r"column 'income' is not in the data"):
        fit_linear(strat(), "api00", ["income"])


def test_single_category_is_refused():
    data = api("apistrat").assign(one="x")
    design = Design(data, weights="pw", strata="stype", fpc="fpc")
    with pytest.raises(EstimationError, match=r"'one' has 1 category"):
        fit_linear(design, "api00", ["one"])


def test_perfect_separation_warns_about_convergence():
    data = api("apistrat").assign(high=lambda d: (d["api00"] > 700).astype(float))
    design = Design(data, weights="pw", strata="stype", fpc="fpc")
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fit_logistic(design, "high", ["api00"], max_iter=15)


def test_too_few_rows():
    subset = np.zeros(len(api("apistrat")), dtype=bool)
    subset[:2] = True
    with pytest.raises(EstimationError, match=r"2 complete row\(s\) for 3 coefficients"):
        fit_linear(strat(), "api00", ["ell", "meals"], subset=subset)


def test_p_values_are_nan_without_degrees_of_freedom():
    result = fit_linear(strat(), "api00", ["meals"], df=0)
    assert all(math.isnan(p) for p in result.p_value)
