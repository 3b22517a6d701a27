"""Design-based estimates against R's survey package (tests/reference/estimation.R).

Each test names the R call it reproduces; the values are in tests/reference/estimation_r.json.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.design import CalibrationModel, Design, DesignError
from analysis.errors import EstimationError
from analysis.estimation import (
    estimate_mean,
    estimate_proportion,
    estimate_quantile,
    estimate_ratio,
    estimate_total,
)
from analysis.results import Estimates
from tests.analysis.estimation_reference import (
    CALIBRATIONS,
    DEFAULT_RAKE_REL,
    R_OUTPUT,
    R_SCRIPT,
    api,
    assert_close,
    assert_matches,
    calibrated,
    clus1,
    clus2,
    clus2_fpc,
    in_r_order,
    lonely,
    nest,
    ref,
    strat,
)

# --------------------------------------------------------------------------------------------
# Stratified design with fpc


def test_stratified_means_match_r():
    """svymean(~api00+enroll, dstrat, deff=TRUE); confint(m, df=degf(dstrat))"""
    assert_matches(estimate_mean(strat(), ["api00", "enroll"]), "strat_mean")


def test_normal_intervals_match_r_default_confint():
    """confint(svymean(~api00, dstrat)): R's default interval is the normal (df=Inf)."""
    assert_matches(estimate_mean(strat(), "api00", df=math.inf), "strat_mean_normal")


def test_stratified_total_matches_r():
    """svytotal(~enroll, dstrat, deff=TRUE)"""
    assert_matches(estimate_total(strat(), "enroll"), "strat_total")


def test_stratified_domain_means_match_r():
    """svyby(~api00, ~sch.wide, dstrat, svymean, deff=TRUE)"""
    est = estimate_mean(strat(), "api00", by="sch.wide")
    assert_matches(in_r_order(est, "strat_by_mean"), "strat_by_mean")


def test_stratified_ratio_matches_r():
    """svyratio(~api.stu, ~enroll, dstrat, deff=TRUE)"""
    est = estimate_ratio(strat(), "api.stu", "enroll")
    assert est[0].variable == "api.stu/enroll"
    assert_matches(est, "strat_ratio")


def test_stratified_proportions_match_r():
    """svymean(~sch.wide, dstrat, deff=TRUE)"""
    est = estimate_proportion(strat(), "sch.wide")
    assert [e.level for e in est] == ["No", "Yes"]
    assert_matches(est, "strat_prop")


def test_domain_proportions_match_r():
    """svyby(~sch.wide, ~stype, dstrat, svymean, deff=TRUE)"""
    est = estimate_proportion(strat(), "sch.wide", by="stype")
    names = ref("strat_by_prop")["names"]  # "E:sch.wideNo", ...
    ordered = [
        est.find(
            variable="sch.wide",
            level=n.split(":")[1].removeprefix("sch.wide"),
            stype=n.split(":")[0],
        )
        for n in names
    ]
    assert_matches(ordered, "strat_by_prop")


def test_stratified_quantiles_match_r():
    """svyquantile(~api00, dstrat, c(0.1, 0.5, 0.9)) (Woodruff interval, qrule='math', df=degf)"""
    est = estimate_quantile(strat(), "api00", quantiles=[0.1, 0.5, 0.9])
    assert [e.level for e in est] == [0.1, 0.5, 0.9]
    assert_matches(est, "strat_quantile")


def test_logit_interval_for_a_proportion_matches_svyciprop():
    """svyciprop(~I(sch.wide=='Yes'), dstrat, method='logit')"""
    est = estimate_proportion(strat(), "sch.wide", ci_method="logit").find(level="Yes")
    assert_matches([est], "strat_ciprop", fields=("estimate", "ci_lower", "ci_upper"))
    assert 0 < est.ci_lower < est.estimate < est.ci_upper < 1


def test_design_degrees_of_freedom_match_r():
    """degf(): PSUs minus strata."""
    assert strat().degf == ref("strat_degf")["df"]
    assert clus1().degf == ref("clus1_degf")["df"]
    assert clus2().degf == ref("clus2_degf")["df"]
    assert nest().degf == ref("nest_degf")["df"]
    assert lonely("remove").degf == ref("lonely_degf")["df"]


# --------------------------------------------------------------------------------------------
# One-stage cluster sample with fpc


def test_cluster_means_match_r():
    """svymean(~api00+api99, dclus1, deff=TRUE)"""
    assert_matches(estimate_mean(clus1(), ["api00", "api99"]), "clus1_mean")


def test_cluster_total_matches_r():
    """svytotal(~enroll, dclus1, deff=TRUE)"""
    assert_matches(estimate_total(clus1(), "enroll"), "clus1_total")


def test_cluster_domain_means_and_totals_match_r():
    """svyby(~api00, ~stype, dclus1, svymean, deff=TRUE); svyby(~enroll, ~stype, dclus1,
    svytotal, deff=TRUE)"""
    assert_matches(
        in_r_order(estimate_mean(clus1(), "api00", by="stype"), "clus1_by_mean"), "clus1_by_mean"
    )
    assert_matches(
        in_r_order(estimate_total(clus1(), "enroll", by="stype"), "clus1_by_total"),
        "clus1_by_total",
    )


def test_two_domain_variables_match_r():
    """svyby(~api00, ~stype+sch.wide, dclus1, svymean, deff=TRUE)"""
    est = estimate_mean(clus1(), "api00", by=["stype", "sch.wide"])
    assert len(est) == 6
    assert est[0].by == {"stype": "E", "sch.wide": "No"}
    assert_matches(in_r_order(est, "clus1_by2_mean"), "clus1_by2_mean")


def test_domain_ratios_match_r():
    """svyby(~api.stu, ~stype, denominator=~enroll, dclus1, svyratio)"""
    est = estimate_ratio(clus1(), "api.stu", "enroll", by="stype")
    assert_matches(in_r_order(est, "clus1_by_ratio"), "clus1_by_ratio")


def test_missing_values_are_a_domain_and_match_r():
    """svymean(~avg.ed, dclus1, na.rm=TRUE, deff=TRUE); svyby(~avg.ed, ~stype, dclus1, svymean,
    na.rm=TRUE, deff=TRUE)"""
    est = estimate_mean(clus1(), "avg.ed")
    assert est[0].n == int(api("apiclus1")["avg.ed"].notna().sum())
    assert_matches(est, "clus1_na_mean")
    by = estimate_mean(clus1(), "avg.ed", by="stype")
    assert_matches(in_r_order(by, "clus1_na_by_mean"), "clus1_na_by_mean")


def test_cluster_proportions_match_r():
    """svymean(~stype, dclus1, deff=TRUE)"""
    assert_matches(estimate_proportion(clus1(), "stype"), "clus1_prop")


def test_cluster_quantiles_match_r():
    """svyquantile(~api00, dclus1, c(0.25, 0.5, 0.75))"""
    est = estimate_quantile(clus1(), "api00", quantiles=[0.25, 0.5, 0.75])
    assert_matches(est, "clus1_quantile")


def test_domain_quantiles_match_r():
    """svyby(~api00, ~sch.wide, dclus1, svyquantile, quantiles=0.5, df=degf(dclus1),
    vartype=c('se','ci'))"""
    est = estimate_quantile(clus1(), "api00", by="sch.wide")
    assert_matches(in_r_order(est, "clus1_by_quantile"), "clus1_by_quantile")


def test_domain_logit_intervals_match_svyciprop():
    """svyby(~I(sch.wide=='Yes'), ~stype, dclus1, svyciprop, method='logit', df=degf(dclus1))"""
    est = estimate_proportion(clus1(), "sch.wide", by="stype", ci_method="logit")
    yes = [e for e in est if e.level == "Yes"]
    # svyciprop's estimate comes from a glm fit at R's default tolerance (1e-8 on the deviance).
    assert_matches(
        in_r_order(yes, "clus1_by_ciprop"),
        "clus1_by_ciprop",
        fields=("estimate", "ci_lower", "ci_upper"),
        rel=1e-8,
    )


# --------------------------------------------------------------------------------------------
# Two-stage sample: first stage only; nest; lonely PSUs


def test_two_stage_first_stage_matches_r():
    """svymean(~api00, dclus2, deff=TRUE) with dclus2 = svydesign(id=~dnum+snum, weights=~pw)"""
    assert_matches(estimate_mean(clus2(), "api00"), "clus2_mean")
    assert_matches(
        in_r_order(estimate_mean(clus2(), "api00", by="stype"), "clus2_by_mean"), "clus2_by_mean"
    )


def test_two_stage_missing_values_match_r():
    """svymean(~enroll, dclus2, na.rm=TRUE, deff=TRUE); svytotal(~enroll, dclus2, na.rm=TRUE)"""
    assert_matches(estimate_mean(clus2(), "enroll"), "clus2_na_mean")
    assert_matches(estimate_total(clus2(), "enroll"), "clus2_na_total")


def test_first_stage_fpc_matches_r_ultimate_cluster():
    """options(survey.ultimate.cluster=TRUE); svymean(~api00, svydesign(id=~dnum+snum,
    fpc=~fpc1+fpc2, weights=~pw)); svyby(~api00, ~stype, ..., svymean)"""
    assert_matches(estimate_mean(clus2_fpc(), "api00"), "clus2f_mean")
    est = estimate_mean(clus2_fpc(), "api00", by="stype")
    assert_matches(in_r_order(est, "clus2f_by_mean"), "clus2f_by_mean")


def test_nested_clusters_match_r():
    """svydesign(id=~dnum, strata=~stype, nest=TRUE): svymean, svyby(~api00, ~sch.wide)"""
    assert_matches(estimate_mean(nest(), "api00"), "nest_mean")
    est = estimate_mean(nest(), "api00", by="sch.wide")
    assert_matches(in_r_order(est, "nest_by_mean"), "nest_by_mean")


@pytest.mark.parametrize("mode", ["remove", "certainty", "adjust", "average"])
def test_lonely_psu_options_match_r(mode):
    """options(survey.lonely.psu=mode); svymean(~api00, dlonely); svytotal(~enroll, dlonely);
    svyby(~api00, ~sch.wide, dlonely, svymean); svyby(~api00, ~stype, dlonely, svymean)"""
    design = lonely(mode)
    assert_matches(estimate_mean(design, "api00"), f"lonely_{mode}_mean")
    assert_matches(estimate_total(design, "enroll"), f"lonely_{mode}_total")
    name = f"lonely_{mode}_by_mean"
    assert_matches(in_r_order(estimate_mean(design, "api00", by="sch.wide"), name), name)
    name = f"lonely_{mode}_by_stype"
    assert_matches(in_r_order(estimate_mean(design, "api00", by="stype"), name), name)


def test_average_lonely_psu_with_no_other_stratum_is_nan():
    """options(survey.lonely.psu='average'); svyby(~api00, ~stype, dlonely, svymean): the
    domain H holds only the lonely stratum, so there is nothing to average (NA in R)."""
    est = estimate_mean(lonely("average"), "api00", by="stype").find(stype="H")
    assert math.isnan(est.se)
    assert ref("lonely_average_by_stype")["se"][1] is None


# --------------------------------------------------------------------------------------------
# Calibrated designs: postStratify, rake, calibrate (linear, raking, logit)

KINDS = [k for k in CALIBRATIONS if k != "rakedefault"]


@pytest.mark.parametrize("kind", KINDS)
def test_calibrated_means_totals_ratios_match_r(kind):
    """d <- postStratify(dclus1, ~stype, pop) | postStratify(dclus1, ~stype+sch.wide, pop) |
    rake(dclus1, list(~stype, ~sch.wide), ...) | calibrate(dclus1, ~stype+api99, pop) |
    calibrate(dclus1, ~stype+sch.wide, pop, calfun='raking') | calibrate(..., calfun='logit');
    svymean(~api00+api99, d, deff=TRUE); svytotal(~enroll, d, deff=TRUE);
    svyratio(~api.stu, ~enroll, d, deff=TRUE); svymean(~awards, d, deff=TRUE)"""
    design = calibrated(kind)
    assert_matches(estimate_mean(design, ["api00", "api99"]), f"cal_{kind}_mean")
    assert_matches(estimate_total(design, "enroll"), f"cal_{kind}_total")
    assert_matches(estimate_ratio(design, "api.stu", "enroll"), f"cal_{kind}_ratio")
    assert_matches(estimate_proportion(design, "awards"), f"cal_{kind}_prop")


@pytest.mark.parametrize("kind", KINDS)
def test_calibrated_domains_match_r(kind):
    """svyby(~api00, ~comp.imp, d, svymean, deff=TRUE); svyby(~enroll, ~stype, d, svytotal,
    deff=TRUE) on each calibrated design d (see test_calibrated_means_totals_ratios_match_r)"""
    design = calibrated(kind)
    name = f"cal_{kind}_by_mean"
    assert_matches(in_r_order(estimate_mean(design, "api00", by="comp.imp"), name), name)
    name = f"cal_{kind}_by_total"
    assert_matches(in_r_order(estimate_total(design, "enroll", by="stype"), name), name)


@pytest.mark.parametrize("kind", KINDS)
def test_calibrated_missing_values_match_r(kind):
    """svymean(~avg.ed, d, na.rm=TRUE, deff=TRUE); svyby(~avg.ed, ~sch.wide, d, svymean,
    na.rm=TRUE): the calibration residuals still use every row's weight."""
    design = calibrated(kind)
    assert_matches(estimate_mean(design, "avg.ed"), f"cal_{kind}_na_mean")
    name = f"cal_{kind}_na_by_mean"
    assert_matches(in_r_order(estimate_mean(design, "avg.ed", by="sch.wide"), name), name)


@pytest.mark.parametrize("kind", KINDS)
def test_calibrated_quantiles_match_r(kind):
    """svyquantile(~api00, d, c(0.25, 0.5))"""
    design = calibrated(kind)
    est = estimate_quantile(design, "api00", quantiles=[0.25, 0.5])
    assert_matches(est, f"cal_{kind}_quantile")


def test_default_rake_is_close_to_r():
    """rake(dclus1, list(~stype, ~sch.wide), ...) with R's default control (epsilon=1):
    svymean(~api00+api99), svytotal(~enroll), svyby(~api00, ~comp.imp, svymean)."""
    design = calibrated("rakedefault")
    rel = DEFAULT_RAKE_REL
    assert_matches(estimate_mean(design, ["api00", "api99"]), "cal_rakedefault_mean", rel=rel)
    assert_matches(estimate_total(design, "enroll"), "cal_rakedefault_total", rel=rel)
    name = "cal_rakedefault_by_mean"
    assert_matches(in_r_order(estimate_mean(design, "api00", by="comp.imp"), name), name, rel=rel)


def test_numeric_only_calibration_matches_r():
    """svymean(~api00, calibrate(dstrat, ~api99, c(6194, 3914069)), deff=TRUE); svyby(~api00,
    ~sch.wide, ...)"""
    design = Design(
        api("apistrat"),
        weights="w_cal_num",
        strata="stype",
        fpc="fpc",
        base_weights="pw",
        calibration=CalibrationModel(numeric=("api99",), method="linear"),
    )
    assert_matches(estimate_mean(design, "api00"), "strat_cal_num_mean")
    est = estimate_mean(design, "api00", by="sch.wide")
    assert_matches(in_r_order(est, "strat_cal_num_by_mean"), "strat_cal_num_by_mean")


STRAT_CALIBRATIONS = {
    "ps": CalibrationModel(categorical=("sch.wide",), interaction=True, method="poststratify"),
    "rake": CalibrationModel(categorical=("sch.wide", "comp.imp"), method="rake"),
    "linear": CalibrationModel(categorical=("sch.wide", "comp.imp"), method="linear"),
}


@pytest.mark.parametrize("kind", list(STRAT_CALIBRATIONS))
def test_calibrated_element_sample_matches_r(kind):
    """d <- postStratify(dstrat, ~sch.wide, pop) | rake(dstrat, list(~sch.wide, ~comp.imp), ...)
    | calibrate(dstrat, ~sch.wide+comp.imp, pop); svymean(~api00+api99, d, deff=TRUE);
    svytotal(~enroll, d, deff=TRUE); svyby(~api00, ~stype, d, svymean, deff=TRUE);
    svyratio(~api.stu, ~enroll, d, deff=TRUE); svyquantile(~api00, d, c(0.25, 0.5))"""
    design = Design(
        api("apistrat"),
        weights=f"w_{kind}",
        strata="stype",
        fpc="fpc",
        base_weights="pw",
        calibration=STRAT_CALIBRATIONS[kind],
    )
    assert_matches(estimate_mean(design, ["api00", "api99"]), f"scal_{kind}_mean")
    assert_matches(estimate_total(design, "enroll"), f"scal_{kind}_total")
    name = f"scal_{kind}_by_mean"
    assert_matches(in_r_order(estimate_mean(design, "api00", by="stype"), name), name)
    assert_matches(estimate_ratio(design, "api.stu", "enroll"), f"scal_{kind}_ratio")
    assert_matches(
        estimate_quantile(design, "api00", quantiles=[0.25, 0.5]), f"scal_{kind}_quantile"
    )


def test_calibration_shrinks_the_standard_error_of_a_calibration_variable():
    """A post-stratified total of the post-strata counts is known exactly (SE 0)."""
    design = calibrated("ps")
    est = estimate_proportion(design, "stype")
    assert all(e.se < 1e-9 for e in est)
    plain = estimate_proportion(clus1(), "stype")
    assert all(p.se > 0.01 for p in plain)


def test_calibrated_design_without_base_weights_is_close_to_r():
    """calibrate(dclus1, ~stype+api99, ...) residuals weighted by the calibrated weights
    instead of R's base weights: close to R (order of the calibration adjustment), not equal."""
    design = Design(
        api("apiclus1"),
        weights="w_linear",
        cluster="dnum",
        fpc="fpc",
        calibration=CALIBRATIONS["linear"],
    )
    se = estimate_mean(design, "api00")[0].se
    r_se = ref("cal_linear_mean")["se"][0]
    assert se != pytest.approx(r_se, rel=1e-9)
    assert se == pytest.approx(r_se, rel=0.05)


# --------------------------------------------------------------------------------------------
# Results, flags, options


def test_results_export_to_frame_and_json_ready_records():
    est = estimate_mean(clus1(), ["api00", "avg.ed"], by="stype")
    frame = est.to_frame()
    assert list(frame.columns[:2]) == ["stype", "variable"]
    assert {"estimate", "se", "ci_lower", "ci_upper", "df", "n", "deff", "cv", "flags"} <= set(
        frame.columns
    )
    assert len(frame) == 6
    records = est.to_records()
    assert set(records[0]) >= {
        "by",
        "variable",
        "level",
        "estimate",
        "se",
        "ci_lower",
        "ci_upper",
        "df",
        "n",
        "deff",
    }
    assert records[0]["by"] == {"stype": "E"}
    json.dumps(records, allow_nan=False)


def test_estimates_are_immutable_and_hashable():
    est = estimate_mean(clus1(), "api00", by="stype")
    assert len({est, estimate_mean(clus1(), "api00", by="stype")}) == 1
    with pytest.raises(TypeError):
        est[0].by["stype"] = "X"  # type: ignore[index]
    with pytest.raises(AttributeError):
        est[0].se = 0.0  # type: ignore[misc]


def test_records_replace_non_finite_numbers_with_null():
    est = estimate_mean(strat(), "api00", df=math.inf)
    record = est.to_records()[0]
    assert record["df"] is None
    json.dumps(record, allow_nan=False)


def test_low_precision_flags():
    est = estimate_mean(clus1(), "api00", by="stype", min_n=30, max_cv=0.02)
    by = {e.by["stype"]: e for e in est}
    assert by["E"].n >= 30 and "small_n" not in by["E"].flags
    assert by["H"].n < 30 and "small_n" in by["H"].flags
    assert all(("high_cv" in e.flags) == (e.cv > 0.02) for e in est)
    assert not est.find(stype="E").publishable or est.find(stype="E").flags == ()


def test_cv_is_se_over_estimate():
    e = estimate_mean(clus1(), "api00")[0]
    assert e.cv == pytest.approx(e.se / e.estimate)


def test_alpha_sets_the_interval_level():
    e90 = estimate_mean(clus1(), "api00", alpha=0.10)[0]
    e95 = estimate_mean(clus1(), "api00")[0]
    assert e90.ci_upper - e90.ci_lower < e95.ci_upper - e95.ci_lower
    assert estimate_mean(clus1(), "api00", alpha=0.10).alpha == 0.10


def test_estimates_behave_as_a_sequence():
    est = estimate_mean(clus1(), ["api00", "api99"])
    assert isinstance(est, Estimates)
    assert len(est) == 2 and est[1].variable == "api99"
    assert [e.variable for e in est[:1]] == ["api00"]
    assert len(est + est) == 4
    with pytest.raises(KeyError, match="2 estimates match"):
        est.find()


def test_boolean_variables_are_estimated_as_proportions_of_true():
    data = api("apiclus1").assign(yes=lambda d: d["sch.wide"] == "Yes")
    design = Design(data, weights="pw", cluster="dnum", fpc="fpc")
    mean = estimate_mean(design, "yes")[0]
    prop = estimate_proportion(design, "sch.wide").find(level="Yes")
    assert mean.estimate == pytest.approx(prop.estimate, rel=1e-12)
    assert mean.se == pytest.approx(prop.se, rel=1e-9)


def test_rows_with_a_missing_domain_belong_to_no_domain():
    data = api("apiclus1").copy()
    data.loc[data.index[:5], "stype"] = None
    design = Design(data, weights="pw", cluster="dnum", fpc="fpc")
    est = estimate_mean(design, "api00", by="stype")
    assert sum(e.n for e in est) == len(data) - 5


# --------------------------------------------------------------------------------------------
# Errors a user can make


def test_unknown_variable_is_named_with_a_suggestion():
    with pytest.raises(EstimationError, match=r"Variable column 'api0' .*Did you mean 'api00'"):
        estimate_mean(clus1(), "api0")


def test_text_variable_cannot_be_averaged():
    with pytest.raises(EstimationError, match=r"'stype' is .* not numeric.*estimate_proportion"):
        estimate_mean(clus1(), "stype")


def test_missing_values_need_na_rm():
    with pytest.raises(EstimationError, match=r"'avg.ed' has 26 missing value\(s\)\. Pass na_rm"):
        estimate_mean(clus1(), "avg.ed", na_rm=False)


def test_unknown_domain_column():
    with pytest.raises(EstimationError, match=r"Domain \(by\) column 'styp'"):
        estimate_mean(clus1(), "api00", by="styp")


def test_bad_alpha():
    with pytest.raises(EstimationError, match="alpha must be between 0 and 1"):
        estimate_mean(clus1(), "api00", alpha=5)


def test_bad_quantile():
    with pytest.raises(EstimationError, match="quantiles must be probabilities"):
        estimate_quantile(clus1(), "api00", quantiles=[1.5])


def test_not_a_design():
    with pytest.raises(EstimationError, match="design must be a Design"):
        estimate_mean(api("apiclus1"), "api00")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Design validation

FRAME = pd.DataFrame(
    {
        "w": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "h": ["a", "a", "a", "b", "b", "b"],
        "psu": [1, 2, 3, 4, 5, 6],
        "fpc": [10, 10, 10, 20, 20, 20],
        "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    }
)


def test_missing_design_column_is_named_with_a_suggestion():
    with pytest.raises(
        DesignError,
        match=r"the weights column 'ww' is not in the data\. Did you "
        r"mean 'w'\?",
    ):
        Design(FRAME, weights="ww")


def test_weights_must_be_positive():
    bad = FRAME.assign(w=[1.0, 0.0, 3.0, -1.0, 5.0, 6.0])
    with pytest.raises(
        DesignError,
        match=r"'w' has 2 value\(s\) that are not positive \(first "
        r"at row 1: 0\)",
    ):
        Design(bad, weights="w")


def test_design_columns_may_not_be_missing():
    bad = FRAME.assign(h=["a", None, "a", "b", "b", "b"])
    with pytest.raises(
        DesignError,
        match=r"strata column 'h' has 1 missing value\(s\) \(first "
        r"at row 1\)",
    ):
        Design(bad, weights="w", strata="h")


def test_fpc_must_be_constant_within_a_stratum():
    bad = FRAME.assign(fpc=[10, 11, 10, 20, 20, 20])
    with pytest.raises(DesignError, match=r"fpc column 'fpc' varies within stratum 'a'"):
        Design(bad, weights="w", strata="h", fpc="fpc")


def test_fpc_smaller_than_the_sample_is_refused():
    bad = FRAME.assign(fpc=[2, 2, 2, 20, 20, 20])
    with pytest.raises(DesignError, match=r"population of 2 PSUs but 3 were sampled"):
        Design(bad, weights="w", strata="h", fpc="fpc")


def test_fpc_mixing_sizes_and_fractions_is_refused():
    bad = FRAME.assign(fpc=[0.5, 0.5, 0.5, 20, 20, 20])
    with pytest.raises(DesignError, match="mixes population sizes"):
        Design(bad, weights="w", strata="h", fpc="fpc")


def test_fpc_as_fraction_equals_fpc_as_population():
    frac = FRAME.assign(fpc=[0.3, 0.3, 0.3, 0.15, 0.15, 0.15])
    a = estimate_mean(Design(frac, weights="w", strata="h", fpc="fpc"), "y")[0]
    b = estimate_mean(Design(FRAME, weights="w", strata="h", fpc="fpc"), "y")[0]
    assert a.se == pytest.approx(b.se, rel=1e-12)


def test_single_psu_stratum_fails_by_default():
    bad = FRAME.assign(h=["a", "a", "a", "a", "a", "b"])
    with pytest.raises(DesignError, match=r"stratum 'b' has only one PSU.*lonely_psu='remove'"):
        Design(bad, weights="w", strata="h")


def test_clusters_must_be_nested_in_strata():
    bad = FRAME.assign(psu=[1, 1, 2, 2, 3, 3])
    with pytest.raises(DesignError, match=r"cluster 2 .* appears in strata 'a', 'b'.*nest=True"):
        Design(bad, weights="w", strata="h", cluster="psu")
    Design(bad, weights="w", strata="h", cluster="psu", nest=True)


def test_a_single_psu_design_is_refused():
    with pytest.raises(DesignError, match="only one primary sampling unit"):
        Design(FRAME.assign(psu=1), weights="w", cluster="psu")


def test_lonely_psu_option_is_checked():
    with pytest.raises(DesignError, match="lonely_psu='drop' is not one of"):
        Design(FRAME, weights="w", lonely_psu="drop")  # type: ignore[arg-type]


def test_calibration_columns_are_checked():
    with pytest.raises(DesignError, match=r"calibration column 'sex' is not in the data"):
        Design(
            FRAME, weights="w", calibration=CalibrationModel(categorical=("sex",), method="rake")
        )
    with pytest.raises(DesignError, match=r"method 'rake' uses categorical margins only"):
        Design(
            FRAME,
            weights="w",
            calibration=CalibrationModel(categorical=("h",), numeric=("y",), method="rake"),
        )


def test_weights_must_be_numeric():
    with pytest.raises(DesignError, match=r"weights column 'h' must be numeric"):
        Design(FRAME, weights="h")


def test_no_weights_means_equal_weights_or_population_over_sample():
    equal = Design(FRAME)
    assert list(equal.weight_values) == [1.0] * 6
    from_fpc = Design(FRAME, strata="h", fpc="fpc")
    assert list(from_fpc.weight_values) == pytest.approx([10 / 3] * 3 + [20 / 3] * 3)


def test_design_repr_is_short():
    text = repr(Design(FRAME, weights="w"))
    assert "weights='w'" in text and "data" not in text


# --------------------------------------------------------------------------------------------
# Invariants


@st.composite
def samples(draw):
    n_strata = draw(st.integers(1, 3))
    rows = []
    for h in range(n_strata):
        for p in range(draw(st.integers(2, 4))):
            for _ in range(draw(st.integers(1, 4))):
                rows.append((h, f"{h}-{p}"))
    n = len(rows)
    w = draw(st.lists(st.floats(0.5, 20), min_size=n, max_size=n))
    y = draw(st.lists(st.floats(-100, 100), min_size=n, max_size=n))
    g = draw(st.lists(st.sampled_from(["u", "v", "x"]), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "h": [r[0] for r in rows],
            "psu": [r[1] for r in rows],
            "w": w,
            "y": y,
            "g": g,
            "one": 7.5,
        }
    )


# EST_EXAMPLES=500 searches longer.
SETTINGS = settings(
    max_examples=int(os.environ.get("EST_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@SETTINGS
@given(samples(), st.floats(0.01, 1000))
def test_scaling_the_weights_leaves_means_and_their_se_unchanged(data, factor):
    a = estimate_mean(Design(data, weights="w", strata="h", cluster="psu"), "y")[0]
    scaled = data.assign(w=data["w"] * factor)
    b = estimate_mean(Design(scaled, weights="w", strata="h", cluster="psu"), "y")[0]
    assert b.estimate == pytest.approx(a.estimate, rel=1e-9, abs=1e-9)
    assert b.se == pytest.approx(a.se, rel=1e-7, abs=1e-9)


@SETTINGS
@given(samples())
def test_a_constant_has_standard_error_zero(data):
    design = Design(data, weights="w", strata="h", cluster="psu")
    e = estimate_mean(design, "one", by="g")
    assert all(x.estimate == pytest.approx(7.5) for x in e)
    assert all(abs(x.se) < 1e-9 for x in e)


@SETTINGS
@given(samples())
def test_one_stratum_equals_no_strata(data):
    one = data.assign(h="all")
    a = estimate_mean(Design(one, weights="w", strata="h", cluster="psu"), "y", by="g")
    b = estimate_mean(Design(one, weights="w", cluster="psu"), "y", by="g")
    for x, y in zip(a, b, strict=True):
        assert x.estimate == pytest.approx(y.estimate, rel=1e-12, abs=1e-12)
        assert x.se == pytest.approx(y.se, rel=1e-9, abs=1e-12)


@SETTINGS
@given(
    samples(),
    st.sampled_from(
        [
            None,
            CalibrationModel(categorical=("g",), interaction=True, method="poststratify"),
            CalibrationModel(categorical=("g", "h"), method="rake"),
            CalibrationModel(categorical=("g",), numeric=("y",), method="linear"),
        ]
    ),
    st.sampled_from(["remove", "adjust", "average"]),
)
def test_no_clusters_equals_one_cluster_per_respondent(data, calibration, lonely_psu):
    """The element-sampling shortcut (no PSU totals) agrees with the general computation."""
    data = data.assign(row=range(len(data)), h=data["h"].where(data.index > 0, 99))
    common = dict(weights="w", strata="h", calibration=calibration, lonely_psu=lonely_psu)
    plain = Design(data, **common)
    clustered = Design(data, cluster="row", **common)
    for fn in (estimate_mean, estimate_total):
        a = fn(plain, ["y", "one"], by="g")
        b = fn(clustered, ["y", "one"], by="g")
        for x, y in zip(a, b, strict=True):
            assert x.estimate == pytest.approx(y.estimate, rel=1e-12, abs=1e-12)
            if math.isnan(y.se):
                assert math.isnan(x.se)
            else:  # one-pass sums of squares: ~1e-8 of the estimate where the SE is ~0
                tol = 1e-7 * max(1, abs(y.estimate))
                assert x.se == pytest.approx(y.se, rel=1e-7, abs=tol)


@SETTINGS
@given(samples())
def test_domain_totals_of_a_partition_add_up_to_the_total(data):
    design = Design(data, weights="w", strata="h", cluster="psu")
    whole = estimate_total(design, "y")[0]
    parts = estimate_total(design, "y", by="g")
    assert sum(p.estimate for p in parts) == pytest.approx(whole.estimate, rel=1e-9, abs=1e-6)
    means = estimate_mean(design, "y", by="g")
    sizes = estimate_total(
        design.__class__(data.assign(one=1.0), weights="w", strata="h", cluster="psu"),
        "one",
        by="g",
    )
    combined = sum(m.estimate * s.estimate for m, s in zip(means, sizes, strict=True))
    overall = estimate_mean(design, "y")[0].estimate
    assert combined / sum(s.estimate for s in sizes) == pytest.approx(overall, rel=1e-9, abs=1e-9)


# --------------------------------------------------------------------------------------------
# The reference itself


def test_reference_files_are_committed_beside_their_script():
    assert R_SCRIPT.exists() and R_OUTPUT.exists()
    about = json.loads(R_OUTPUT.read_text())["_about"]
    assert about["survey"] == "4.1.1"


@pytest.mark.r
def test_r_script_reproduces_the_committed_output(tmp_path: Path):
    """Rscript tests/reference/estimation.R <tmp>: same numbers and data as committed."""
    rscript = shutil.which("Rscript")
    assert rscript is not None, "Rscript is not installed (scripts/setup.sh installs it)"
    subprocess.run(
        [rscript, str(R_SCRIPT), str(tmp_path)], check=True, capture_output=True, timeout=600
    )
    fresh = json.loads((tmp_path / "estimation_r.json").read_text())
    committed = json.loads(R_OUTPUT.read_text())
    assert fresh.keys() == committed.keys()
    for name, result in committed.items():
        for key, value in result.items():
            got = fresh[name][key]
            if isinstance(value, list) and value and isinstance(value[0], float | int):
                assert_close(
                    [math.nan if g is None else g for g in got],
                    value,
                    what=f"{name}.{key}",
                    call="rerun",
                    rel=1e-12,
                )
            else:
                assert got == value, f"{name}.{key}"
    for csv in sorted((R_OUTPUT.parent / "data").glob("est_*.csv")):
        pd.testing.assert_frame_equal(
            pd.read_csv(tmp_path / "data" / csv.name),
            pd.read_csv(csv),
            rtol=1e-12,
            obj=csv.name,
        )

