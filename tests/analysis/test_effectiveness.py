"""Effects of financial education against R (tests/reference/effect_reference.R) and by
simulation with a known effect.

Each R comparison names the R call it reproduces; the values are in
tests/reference/effect_reference_r.json, computed on tests/reference/data/effect_*.csv.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import effectiveness as ef
from analysis.design import Design
from analysis.effectiveness import (
    BENCHMARKS,
    Effect,
    EffectError,
    EffectWarning,
    aipw,
    benchmark,
    campaign_did,
    difference_in_means,
    estimate_effect,
    estimate_effects,
    hedges_g_paired,
    ipw,
    prepost,
    regression_adjustment,
    treatment_contrasts,
    wave_change,
)
from analysis.errors import AnalysisError
from analysis.estimation import estimate_mean
from analysis.replication import ReplicateDesign
from tests.analysis.effect_simulation import TRUE_EFFECT, simulate_survey

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
R_SCRIPT = REFERENCE / "effect_reference.R"
R_OUTPUT = REFERENCE / "effect_reference_r.json"
REL = 1e-6  # agreement asked of every comparison with R
COVARIATES = ["age", "sex", "education", "urban"]
Y, T = "literacy_index", "exposure_any"


@cache
def reference() -> dict[str, Any]:
    return json.loads(R_OUTPUT.read_text(encoding="utf-8"))


def ref(name: str) -> dict[str, Any]:
    return reference()[name]


@cache
def survey() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "data" / "effect_survey.csv")


@cache
def design() -> Design:
    """``svydesign(id=~psu, strata=~stratum, weights=~weight, data=effect_survey)``"""
    return Design(survey(), weights="weight", strata="stratum", cluster="psu")


def wave(name: str) -> Design:
    """``svydesign(id=~psu, strata=~province, weights=~weight, data=effect_wave_<name>)``"""
    data = pd.read_csv(REFERENCE / "data" / f"effect_wave_{name}.csv")
    return Design(data, weights="weight", strata="province", cluster="psu")


def quiz() -> tuple[pd.DataFrame, pd.DataFrame]:
    return (
        pd.read_csv(REFERENCE / "data" / "effect_quiz_pre.csv"),
        pd.read_csv(REFERENCE / "data" / "effect_quiz_post.csv"),
    )


def quiz_result(**options: Any) -> ef.PrePost:
    pre, post = quiz()
    with pytest.warns(EffectWarning, match=r"'P012' appear more than once in the post data"):
        return prepost(pre, post, id="participant_code", outcome="score", **options)


# --------------------------------------------------------------------------------------------
# Agreement with R


def test_regression_adjustment_matches_svyglm():
    """svyglm(literacy_index ~ exposure_any + age + sex + education + urban, des)"""
    r = ref("regression")
    effect = regression_adjustment(design(), Y, T, COVARIATES)
    assert effect.method == "regression"
    assert effect.effect == pytest.approx(r["coef"][1], rel=REL)
    assert effect.se == pytest.approx(r["se"][1], rel=REL)
    assert effect.df == r["df"][0] == 37
    assert effect.coefficients is not None
    assert list(effect.coefficients["term"]) == r["terms"]
    np.testing.assert_allclose(effect.coefficients["estimate"], r["coef"], rtol=REL)
    np.testing.assert_allclose(effect.coefficients["se"], r["se"], rtol=REL)
    t = stats.t.ppf(0.975, 37)
    assert effect.ci_lower == pytest.approx(r["coef"][1] - t * r["se"][1], rel=REL)
    assert effect.p_value == pytest.approx(2 * stats.t.sf(r["coef"][1] / r["se"][1], 37), rel=REL)


def test_difference_in_means_matches_svycontrast_and_svyglm():
    """svycontrast(svyby(~y, ~exposure_any, des, svymean, covmat=TRUE), c(-1, 1)), and the
    exposure_any coefficient of svyglm(y ~ exposure_any, des): same estimate and SE."""
    r = ref("difference_contrast")
    effect = difference_in_means(design(), Y, T)
    assert effect.effect == pytest.approx(r["estimate"][0], rel=REL)
    assert effect.se == pytest.approx(r["se"][0], rel=REL)
    assert effect.se == pytest.approx(ref("difference_glm")["se"][1], rel=REL)
    assert effect.df == r["df"][0]
    assert effect.details["mean_control"] == pytest.approx(r["means"][0], rel=REL)
    assert effect.details["mean_treated"] == pytest.approx(r["means"][1], rel=REL)
    assert (effect.n_treated, effect.n_control) == (
        int((survey()[T] == 1).sum()), int((survey()[T] == 0).sum())
    )


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("ipw", {}),
        ("ipw_capped", {"weight_percentiles": (5, 95)}),
        ("ipw_bounds", {"propensity_bounds": (0.15, 0.85)}),
    ],
)
def test_ipw_point_estimate_matches_svyglm_with_ipw_weights(name, options):
    """svyglm(y ~ exposure_any) on the design re-weighted by weight x stabilised IPW weight,
    the propensity from svyglm(exposure_any ~ ..., family=quasibinomial())."""
    r = ref(name)
    effect = ipw(design(), Y, T, COVARIATES, **options)
    assert effect.effect == pytest.approx(r["effect"][0], rel=REL)
    assert effect.details["mean_control"] == pytest.approx(r["means"][0], rel=REL)
    assert effect.details["mean_treated"] == pytest.approx(r["means"][1], rel=REL)
    # With the weights held fixed the linearised SE is svyglm's on the re-weighted design.
    assert effect.details["se_weights_fixed"] == pytest.approx(r["se_weights_fixed"][0], rel=REL)


def test_ipw_overlap_diagnostics_match_r_propensities():
    """range(fitted(ps)[treated]), range(fitted(ps)[!treated])"""
    lo_t, hi_t, lo_c, hi_c = ref("propensity")["fitted_summary"]
    overlap = ipw(design(), Y, T, COVARIATES).overlap
    assert overlap is not None
    table = overlap.propensity
    assert table.loc["treated", "min"] == pytest.approx(lo_t, rel=REL)
    assert table.loc["treated", "max"] == pytest.approx(hi_t, rel=REL)
    assert table.loc["control", "min"] == pytest.approx(lo_c, rel=REL)
    assert overlap.common_support == pytest.approx((max(lo_t, lo_c), min(hi_t, hi_c)), rel=REL)
    e = _r_propensity()
    t = survey()[T].to_numpy()
    w = survey()["weight"].to_numpy()
    lower, upper = overlap.common_support
    # R's propensities rebuilt from its coefficients: ties at the limits count as inside.
    outside = (e < lower * (1 - 1e-9)) | (e > upper * (1 + 1e-9))
    assert overlap.outside_control == pytest.approx(w[outside & (t == 0)].sum() / w[t == 0].sum())
    assert overlap.n_outside_treated == int((outside & (t == 1)).sum())
    assert overlap.n_clipped == 0 and overlap.n_capped == 0


def _r_propensity() -> np.ndarray:
    # (Intercept), age, sexmale, educationgraduate, educationprimary, educationsecondary, urban
    coef = ref("propensity")["coef"]
    d = survey()
    eta = (
        coef[0] + coef[1] * d["age"] + coef[2] * (d["sex"] == "male")
        + coef[3] * (d["education"] == "graduate") + coef[4] * (d["education"] == "primary")
        + coef[5] * (d["education"] == "secondary") + coef[6] * d["urban"]
    )
    return 1 / (1 + np.exp(-eta.to_numpy(dtype=float)))


def test_balance_table_matches_r():
    """SMDs of age and education=='graduate' before and after IPW, computed by hand in R."""
    r = ref("balance")
    balance = ipw(design(), Y, T, COVARIATES).balance
    assert balance is not None
    age = balance[balance["covariate"] == "age"].iloc[0]
    grad = balance[(balance["covariate"] == "education") & (balance["level"] == "graduate")]
    assert [age["smd_before"], age["smd_after"]] == pytest.approx(r["age"], rel=REL)
    assert [grad.iloc[0]["smd_before"], grad.iloc[0]["smd_after"]] == pytest.approx(
        r["graduate"], rel=REL
    )
    # One row per numeric covariate and per category of a categorical one.
    assert len(balance) == 1 + 2 + 4 + 1
    assert (balance["smd_after"].abs() < 0.1).all()


def test_effect_sd_uses_the_weighted_pooled_sd():
    """sqrt(sum_g sum_i w_i (y_i - ybar_g)^2 / sum(w)), computed in R."""
    sd = ref("pooled_sd")["sd"][0]
    for method in ("difference", "regression", "ipw", "aipw"):
        effect = estimate_effect(
            design(), Y, T, method=method, covariates=[] if method == "difference" else COVARIATES
        )
        assert effect.sd == pytest.approx(sd, rel=1e-12)
        assert effect.effect_sd == pytest.approx(effect.effect / sd, rel=1e-12)
        assert effect.ci_lower_sd == pytest.approx(effect.ci_lower / sd, rel=1e-12)


def test_aipw_point_estimate_matches_r():
    """Outcome regressions svyglm(y ~ x, subset(des, exposure_any == g)) predicted for all,
    with the clipped propensity; mean over w of the augmented terms."""
    r = ref("aipw")
    effect = aipw(design(), Y, T, COVARIATES)
    assert effect.effect == pytest.approx(r["effect"][0], rel=REL)
    assert effect.details["mean_control"] == pytest.approx(r["means"][0], rel=REL)
    assert effect.details["mean_treated"] == pytest.approx(r["means"][1], rel=REL)
    assert effect.balance is not None and effect.overlap is not None


def test_wave_change_matches_r():
    """svymean in each wave; change = b - a, se = sqrt(va + vb)."""
    national = wave_change(wave("a"), wave("b"), Y)
    r = ref("wave_national")
    assert len(national) == 1
    assert national[0].effect == pytest.approx(r["change"][0], rel=REL)
    assert national[0].se == pytest.approx(r["se"][0], rel=REL)
    dfa, dfb = r["df"]
    va, vb = national[0].details["se_a"] ** 2, national[0].details["se_b"] ** 2
    assert national[0].df == pytest.approx((va + vb) ** 2 / (va**2 / dfa + vb**2 / dfb))
    by = wave_change(wave("a"), wave("b"), Y, by="province")
    r = ref("wave_province")
    assert [e.by["province"] for e in by] == r["province"]
    np.testing.assert_allclose([e.effect for e in by], r["change"], rtol=REL)
    np.testing.assert_allclose([e.se for e in by], r["se"], rtol=REL)
    assert by.find(province="Hunan").effect == pytest.approx(r["change"][3], rel=REL)


def test_campaign_did_matches_r():
    """coef(svyglm(y ~ campaign, des_b))[2] - coef(svyglm(y ~ campaign, des_a))[2]"""
    r = ref("campaign_did")
    did = campaign_did(wave("a"), wave("b"), Y, campaign="campaign")
    assert did.effect == pytest.approx(r["effect"][0], rel=REL)
    assert did.se == pytest.approx(r["se"][0], rel=REL)
    assert [did.details["gap_before"], did.details["gap_after"]] == pytest.approx(
        r["gaps"], rel=REL
    )
    assert did.details["units_campaign_before"] == 3 and did.details["units_other_after"] == 3
    assert did.ci_lower < 3.0 < did.ci_upper  # the simulated campaign effect


def test_prepost_matches_r_and_scipy():
    """t.test(post, pre, paired=TRUE) and the effect sizes written out in R."""
    r = ref("prepost")
    result = quiz_result()
    assert result.n == r["n"][0]
    assert result.t == pytest.approx(r["t"][0], rel=REL)
    assert result.df == r["df"][0]
    assert result.p_value == pytest.approx(r["p"][0], rel=REL)
    assert [result.ci_lower, result.ci_upper] == pytest.approx(r["ci"], rel=REL)
    assert result.mean_change == pytest.approx(r["mean_change"][0], rel=REL)
    assert result.correlation == pytest.approx(r["correlation"][0], rel=REL)
    assert result.d_z == pytest.approx(r["d_z"][0], rel=REL)
    assert result.d_av == pytest.approx(r["d_av"][0], rel=REL)
    assert result.hedges_g == pytest.approx(r["g"][0], rel=REL)
    assert result.g_se == pytest.approx(r["g_se"][0], rel=REL)
    assert [result.g_ci_lower, result.g_ci_upper] == pytest.approx(r["g_ci"], rel=REL)
    # scipy on the same pairs.
    pre, post = quiz()
    pairs = pre.merge(post.drop_duplicates("participant_code", keep=False),
                      on="participant_code", suffixes=("_pre", "_post"))
    scipy_t = stats.ttest_rel(pairs["score_post"], pairs["score_pre"])
    assert result.t == pytest.approx(scipy_t.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(scipy_t.pvalue, rel=1e-10)
    assert result.df == scipy_t.df
    ci = scipy_t.confidence_interval(0.95)
    assert (result.ci_lower, result.ci_upper) == pytest.approx((ci.low, ci.high), rel=1e-12)


def test_prepost_items_match_r():
    """Percent correct per item and binom.test(wrong_to_right, discordant)$p.value."""
    r = ref("prepost_items")
    items = quiz_result(items=[f"q{k}" for k in range(1, 6)]).items
    np.testing.assert_allclose(items["pct_pre"], r["pct_pre"], rtol=REL)
    np.testing.assert_allclose(items["pct_post"], r["pct_post"], rtol=REL)
    assert list(items["right_to_wrong"]) == r["right_to_wrong"]
    assert list(items["wrong_to_right"]) == r["wrong_to_right"]
    np.testing.assert_allclose(items["mcnemar_p"], r["mcnemar_p"], rtol=1e-9)


def test_prepost_difference_in_differences_matches_welch():
    """t.test(change[treated], change[control]) in R, and scipy's Welch test."""
    r = ref("prepost_did")
    result = quiz_result(group="group")
    did = result.did
    assert did is not None and result.groups is not None
    assert did.effect == pytest.approx(r["effect"][0], rel=REL)
    assert did.se == pytest.approx(r["se"][0], rel=REL)
    assert did.df == pytest.approx(r["df"][0], rel=REL)
    assert did.p_value == pytest.approx(r["p"][0], rel=REL)
    assert [did.ci_lower, did.ci_upper] == pytest.approx(r["ci"], rel=REL)
    assert did.treatment == "group=treated"
    g = result.groups.set_index("group")
    assert did.effect == pytest.approx(g.loc["treated", "mean_change"] - g.loc["control",
                                                                            "mean_change"])


def test_hedges_g_matches_borenstein_worked_example():
    """Borenstein, Hedges, Higgins & Rothstein (2009), Introduction to Meta-Analysis, ch. 4,
    matched groups: mean difference 5.0, S_diff 10.0, r = 0.5, n = 50 -> S_within = 10.0,
    d = 0.5000, V_d = 0.0225, J = 0.9846, g = 0.4923, V_g = 0.0218."""
    g, se, lo, hi = hedges_g_paired(5.0, 10.0, 0.5, 50)
    assert round(g, 4) == 0.4923
    assert round(se**2, 4) == 0.0218
    assert (hi - lo) / 2 == pytest.approx(1.959963984540054 * se)


# --------------------------------------------------------------------------------------------
# A known effect with confounding


def test_naive_difference_is_biased_and_adjusted_methods_recover_the_effect():
    """Education raises exposure and scores: the naive interval excludes the true effect;
    regression, IPW and AIPW intervals include it."""
    naive = difference_in_means(design(), Y, T)
    assert naive.ci_lower > TRUE_EFFECT + 4
    for method in ("regression", "ipw", "aipw"):
        effect = estimate_effect(design(), Y, T, method=method, covariates=COVARIATES)
        assert effect.ci_lower < TRUE_EFFECT < effect.ci_upper, method
        assert abs(effect.effect - TRUE_EFFECT) < 0.6, method


def test_propensity_standard_error_accounts_for_estimated_weights():
    """For the ATE, estimating the propensity lowers the variance (Lunceford & Davidian 2004):
    the M-estimation SE is below the SE with the weights held fixed, and close to the
    jackknife's, which refits the propensity in every replicate."""
    effect = ipw(design(), Y, T, COVARIATES)
    assert effect.se < effect.details["se_weights_fixed"]
    jk = ReplicateDesign.from_design(design(), method="JKn")
    for method in ("difference", "regression", "ipw", "aipw"):
        lin = estimate_effect(design(), Y, T, method=method,
                              covariates=[] if method == "difference" else COVARIATES)
        rep = estimate_effect(jk, Y, T, method=method,
                              covariates=[] if method == "difference" else COVARIATES)
        assert rep.effect == pytest.approx(lin.effect, rel=1e-12)
        assert rep.se == pytest.approx(lin.se, rel=0.1), method


@pytest.mark.slow
def test_confidence_intervals_cover_the_true_effect_in_200_samples():
    """Over 200 simulated surveys (stratified cluster samples, confounded exposure), the 95%
    intervals of regression, IPW and AIPW cover the true effect 93-97% of the time, and the
    naive difference never does."""
    rng = np.random.default_rng(20240601)
    hits = {"difference": 0, "regression": 0, "ipw": 0, "aipw": 0}
    for _ in range(200):
        d = Design(simulate_survey(rng), weights="weight", strata="stratum", cluster="psu")
        for method in hits:
            effect = estimate_effect(
                d, Y, T, method=method, covariates=[] if method == "difference" else COVARIATES
            )
            hits[method] += effect.ci_lower <= TRUE_EFFECT <= effect.ci_upper
    coverage = {m: h / 200 for m, h in hits.items()}
    assert coverage["difference"] == 0.0
    for method in ("regression", "ipw", "aipw"):
        assert 0.93 <= coverage[method] <= 0.97, coverage


# --------------------------------------------------------------------------------------------
# Behaviour


def test_rows_outside_the_comparison_stay_in_the_design():
    """A missing treatment takes the row out of both groups, not out of the design: the group
    means and their SEs are the domain means of estimate_mean."""
    data = survey().assign(exposure_any=survey()[T].astype(float))
    data.loc[data.index[::7], T] = np.nan
    d = Design(data, weights="weight", strata="stratum", cluster="psu")
    effect = difference_in_means(d, Y, T)
    means = estimate_mean(d, Y, by=T)
    assert effect.details["mean_treated"] == pytest.approx(means.find(**{T: 1.0}).estimate)
    assert effect.details["mean_control"] == pytest.approx(means.find(**{T: 0.0}).estimate)
    assert effect.n_treated + effect.n_control == int(data[T].notna().sum())


def test_boolean_treatment_equals_zero_one():
    data = survey().assign(treat=survey()[T] == 1)
    d = Design(data, weights="weight", strata="stratum", cluster="psu")
    for method in ("difference", "regression", "ipw", "aipw"):
        cov = [] if method == "difference" else COVARIATES
        a = estimate_effect(d, Y, "treat", method=method, covariates=cov)
        b = estimate_effect(design(), Y, T, method=method, covariates=cov)
        assert (a.effect, a.se) == pytest.approx((b.effect, b.se), rel=1e-12), method


@pytest.mark.parametrize("scale", [0.001, 37.0])
def test_scaling_the_weights_leaves_every_effect_unchanged(scale):
    data = survey().assign(weight=survey()["weight"] * scale)
    d = Design(data, weights="weight", strata="stratum", cluster="psu")
    for method in ("difference", "regression", "ipw", "aipw"):
        cov = [] if method == "difference" else COVARIATES
        a = estimate_effect(d, Y, T, method=method, covariates=cov)
        b = estimate_effect(design(), Y, T, method=method, covariates=cov)
        assert (a.effect, a.se, a.effect_sd) == pytest.approx(
            (b.effect, b.se, b.effect_sd), rel=1e-9
        ), method


def test_estimate_effects_table_and_json():
    data = survey().assign(dim__knowledge=survey()[Y] * 0.5 + 3)
    d = Design(data, weights="weight", strata="stratum", cluster="psu")
    effects = estimate_effects(d, [Y, "dim__knowledge"], T, method="ipw", covariates=COVARIATES)
    frame = effects.to_frame()
    assert list(frame["outcome"]) == [Y, "dim__knowledge"]
    assert {"effect", "se", "ci_lower", "ci_upper", "p_value", "df", "n_treated", "n_control",
            "effect_sd"} <= set(frame.columns)
    # A linear transform of the outcome scales the effect but not its SD units.
    assert frame["effect"][1] == pytest.approx(0.5 * frame["effect"][0])
    assert frame["effect_sd"][1] == pytest.approx(frame["effect_sd"][0])
    record = json.loads(json.dumps(effects.to_records()))
    assert record[0]["balance"][0]["covariate"] == "age"
    assert record[0]["overlap"]["propensity"][0]["group"] == "treated"


def test_treatment_contrasts_compare_with_the_never_exposed():
    data = pd.DataFrame(
        {
            "exposure_any": [0, 1, 1, 1, 0],
            "exposure_school": [0, 1, 0, 1, 0],
            "exposure_bank": [0, 0, 1, 1, 0],
            "exposure_recency_months": [np.nan, 3, 30, 12, np.nan],
        }
    )
    out = treatment_contrasts(data, types=["exposure_school", "exposure_bank"])
    expected = pd.DataFrame(
        {
            "school_vs_none": [0, 1, np.nan, 1, 0],
            "bank_vs_none": [0, np.nan, 1, 1, 0],
            "recency_0_12_vs_none": [0, 1, np.nan, np.nan, 0],
            "recency_12_24_vs_none": [0, np.nan, np.nan, 1, 0],
            "recency_24_plus_vs_none": [0, np.nan, 1, np.nan, 0],
        },
        dtype=float,
    )
    pd.testing.assert_frame_equal(out, expected)


def test_prepost_attrition_report():
    result = quiz_result()
    a = result.attrition
    assert a.only_pre == ("P006", "P023", "P062", "P089")
    assert a.only_post == ("P004", "P018", "P041")
    assert a.duplicated_post == ("P012",) and a.duplicated_pre == ()
    assert a.n_paired == result.n == 82
    assert a.retention == pytest.approx(82 / 86)
    assert json.loads(json.dumps(result.to_dict()))["attrition"]["only_post"][0] == "P004"


def test_benchmark_places_effects_beside_the_meta_analysis():
    knowledge = Effect(
        method="ipw", outcome="dim__knowledge", treatment=T, effect=2.0, se=0.5,
        ci_lower=1.0, ci_upper=3.0, p_value=0.001, df=40, n_treated=500, n_control=600,
        effect_sd=0.2, sd=10.0,
    )
    table = benchmark([knowledge, _with(knowledge, outcome="literacy_index", ci_lower=3.5,
                                        ci_upper=5.0)], recency_months=24)
    assert list(table["domain"]) == ["knowledge", "knowledge", "behaviour"]
    assert list(table["benchmark_sd"]) == [0.2, 0.2, 0.1]
    assert list(table["relation"]) == ["consistent", "above", "above"]
    assert table["source"][0].startswith(
        "Kaiser, T., Lusardi, A., Menkhoff, L., & Urban, C. (2022)"
    )
    assert "20 months" in table["note"][0] and "Fernandes" in table["note"][0]
    assert {b.domain for b in BENCHMARKS} == {"knowledge", "behaviour", "decay"}
    assert benchmark(_with(knowledge, ci_lower=1.5), domain="behaviour")["relation"][0] == "above"


def _with(effect: Effect, **changes: Any) -> Effect:
    import dataclasses

    return dataclasses.replace(effect, **changes)


# --------------------------------------------------------------------------------------------
# Errors


def test_unknown_column_is_named_with_a_suggestion():
    with pytest.raises(EffectError) as info:
        difference_in_means(design(), "literacy_indx", T)
    assert str(info.value) == (
        "Effect (difference): the outcome column 'literacy_indx' is not in the data. Did you "
        "mean 'literacy_index'? Columns: stratum, psu, weight, age, sex, education, urban, "
        "exposure_any, literacy_index."
    )


def test_treatment_must_be_zero_one():
    with pytest.raises(EffectError) as info:
        difference_in_means(design(), Y, "stratum")
    assert str(info.value) == (
        "Effect (difference): the treatment column 'stratum' must be coded 0/1 (1 = received "
        "financial education, 0 = did not) but has 900 other value(s) (2, 3, 4); recode it to "
        "0/1, or blank the rows that belong to neither group."
    )
    with pytest.raises(EffectError, match=r"holds str values \('female', 'male'\)"):
        ipw(design(), Y, "sex", ["age"])


def test_no_overlap_is_an_error():
    data = survey().assign(treat=(survey()["education"] == "graduate").astype(int))
    d = Design(data, weights="weight", strata="stratum", cluster="psu")
    for method in (ipw, aipw):
        with pytest.raises(EffectError) as info:
            method(d, Y, "treat", ["education", "age"])
        assert str(info.value).endswith(
            "no overlap between treated and control respondents on 'treat': the covariates "
            "predict exposure perfectly (every treated respondent has a higher estimated "
            "propensity than every control one). Drop or coarsen the covariate that separates "
            "the groups, or compare within a subgroup where both occur."
        )


def test_other_input_errors():
    d = design()
    with pytest.raises(EffectError, match="no treated \\(1\\) respondents"):
        difference_in_means(Design(survey()[survey()[T] == 0], weights="weight",
                                   strata="stratum", cluster="psu"), Y, T)
    with pytest.raises(EffectError, match=r"collinear .* urban2"):
        regression_adjustment(
            Design(survey().assign(urban2=survey()["urban"] * 2), weights="weight",
                   strata="stratum", cluster="psu"),
            Y, T, ["urban", "urban2"],
        )
    with pytest.raises(EffectError, match="propensity_bounds must be"):
        ipw(d, Y, T, COVARIATES, propensity_bounds=(0.6, 0.9))
    with pytest.raises(EffectError, match="weight_percentiles must be"):
        ipw(d, Y, T, COVARIATES, weight_percentiles=(99, 1))
    with pytest.raises(EffectError, match="name the covariates"):
        estimate_effect(d, Y, T, method="aipw")
    with pytest.raises(EffectError, match="does not adjust for covariates"):
        estimate_effect(d, Y, T, method="difference", covariates=["age"])
    with pytest.raises(EffectError, match="method must be one of"):
        estimate_effect(d, Y, T, method="matching")  # type: ignore[arg-type]
    with pytest.raises(EffectError, match="categorical column 'urban' is not among"):
        regression_adjustment(d, Y, T, ["age"], categorical=["urban"])
    with pytest.raises(EffectError, match="the outcome column 'sex' is str, not numeric"):
        difference_in_means(d, "sex", T)
    with pytest.raises(EffectError, match="must be a Design"):
        difference_in_means(survey(), Y, T)  # type: ignore[arg-type]
    assert issubclass(EffectError, AnalysisError) and issubclass(EffectError, ValueError)


@pytest.mark.filterwarnings("ignore::analysis.effectiveness.EffectWarning")
def test_prepost_errors():
    pre, post = quiz()
    with pytest.raises(EffectError, match="only 0 participant\\(s\\) could be paired"):
        prepost(pre, post.assign(participant_code="X" + post["participant_code"]),
                id="participant_code", outcome="score")
    moved = pre.assign(group=pre["group"])
    post_group = post.drop_duplicates("participant_code", keep=False).assign(group="control")
    with pytest.raises(EffectError, match="is in group 'treated' before and 'control' after"):
        prepost(moved, post_group, id="participant_code", outcome="score", group="group")
    with pytest.raises(EffectError, match="pass treated=<value>"):
        prepost(pre.assign(group=pre["group"].map({"treated": "a", "control": "b"})), post,
                id="participant_code", outcome="score", group="group")
    with pytest.raises(EffectError, match="the pre id column 'code' is not in the data"):
        prepost(pre, post, id="code", outcome="score")


def test_campaign_must_be_constant_within_a_province():
    data = pd.read_csv(REFERENCE / "data" / "effect_wave_a.csv")
    data.loc[0, "campaign"] = 1
    bad = Design(data, weights="weight", strata="province", cluster="psu")
    with pytest.raises(EffectError, match="varies within province 'Anhui' in the before wave"):
        campaign_did(bad, wave("b"), Y, campaign="campaign")


# --------------------------------------------------------------------------------------------
# The reference itself


def test_reference_output_is_committed_beside_its_script():
    assert R_SCRIPT.exists() and R_OUTPUT.exists()
    assert reference()["_about"]["survey"] == "4.1.1"


def test_reference_data_are_the_simulations(tmp_path: Path):
    """tests/reference/effect_data.py regenerates the committed CSVs byte for byte."""
    subprocess.run([sys.executable, str(REFERENCE / "effect_data.py"), str(tmp_path)],
                   check=True, capture_output=True, timeout=120)
    names = sorted(p.name for p in (REFERENCE / "data").glob("effect_*.csv"))
    assert names == sorted(p.name for p in tmp_path.glob("effect_*.csv"))
    for name in names:
        assert (tmp_path / name).read_bytes() == (REFERENCE / "data" / name).read_bytes(), name


@pytest.mark.r
def test_r_script_reproduces_the_committed_output(tmp_path: Path):
    """Rscript tests/reference/effect_reference.R <tmp>: the same numbers as committed."""
    rscript = shutil.which("Rscript")
    assert rscript is not None, "Rscript is not installed (scripts/setup.sh installs it)"
    subprocess.run([rscript, str(R_SCRIPT), str(tmp_path)], check=True, capture_output=True,
                   timeout=600)
    fresh = json.loads((tmp_path / "effect_reference_r.json").read_text())
    committed = reference()
    assert fresh.keys() == committed.keys()
    for name, result in committed.items():
        assert fresh[name].keys() == result.keys(), name
        for key, value in result.items():
            got = fresh[name][key]
            if isinstance(value, list) and value and isinstance(value[0], float | int):
                np.testing.assert_allclose(
                    [math.nan if g is None else g for g in got],
                    [math.nan if v is None else v for v in value], rtol=1e-12,
                    err_msg=f"{name}.{key}",
                )
            else:
                assert got == value, f"{name}.{key}"
