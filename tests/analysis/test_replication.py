"""Replicate-weight designs against R's as.svrepdesign / svrepdesign (tests/reference/)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.design import Design, DesignError
from analysis.errors import EstimationError
from analysis.estimation import (
    estimate_mean,
    estimate_proportion,
    estimate_quantile,
    estimate_ratio,
    estimate_total,
)
from analysis.replication import (
    PsuReplicateFactors,
    ReplicateDesign,
    ReplicateWarning,
)
from tests.analysis.estimation_reference import (
    api,
    assert_close,
    assert_matches,
    calibrated,
    clus1,
    in_r_order,
    lonely,
    nest,
    ref,
    strat,
)

BUILDERS = {
    "rep_jk1": lambda: ReplicateDesign.from_design(clus1(), method="JK1"),
    "rep_jkn": lambda: ReplicateDesign.from_design(strat(), method="JKn"),
    "rep_jkn_nest": lambda: ReplicateDesign.from_design(nest(), method="JKn"),
    "rep_jk1_ps": lambda: ReplicateDesign.from_design(calibrated("ps"), method="JK1"),
    "rep_jk1_rake": lambda: ReplicateDesign.from_design(calibrated("rake"), method="JK1"),
    "rep_boot": lambda: r_bootstrap(),
}
CALLS = {
    "rep_jk1": "as.svrepdesign(dclus1, type='JK1')",
    "rep_jkn": "as.svrepdesign(dstrat, type='JKn')",
    "rep_jkn_nest": "as.svrepdesign(dnest, type='JKn')",
    "rep_jk1_ps": "postStratify(as.svrepdesign(dclus1, type='JK1'), ~stype, pop_types)",
    "rep_jk1_rake": "rake(as.svrepdesign(dclus1, type='JK1'), list(~stype, ~sch.wide), ...)",
    "rep_boot": "set.seed(20260101); as.svrepdesign(dstrat, type='bootstrap', replicates=50), "
    "R's replicate factors supplied",
}


def r_bootstrap(*, mse: bool = False) -> ReplicateDesign:
    """R's bootstrap replicate factors (exported), used as user-supplied replicates."""
    factors = api("apistrat_bootstrap")
    return ReplicateDesign(
        pd.concat([api("apistrat"), factors], axis=1),
        weights="pw",
        replicate_weights=list(factors.columns),
        combined_weights=False,
        scale=ref("rep_boot_degf")["scale"],
        mse=mse,
        method="bootstrap",
    )


@pytest.mark.parametrize("prefix", list(BUILDERS))
def test_replicate_scales_and_degrees_of_freedom_match_r(prefix):
    """degf(r); r$scale; r$rscales for each replicate design r (see CALLS)."""
    design = BUILDERS[prefix]()
    r = ref(f"{prefix}_degf")
    assert design.degf == r["df"], CALLS[prefix]
    assert design.scale == pytest.approx(r["scale"], rel=1e-12)
    # R numbers the strata by first appearance, we sort them: compare as sets.
    assert_close(
        sorted(design.rscales or [1.0] * design.n_replicates),
        sorted(r["rscales"]),
        what=f"{prefix}.rscales",
        call=CALLS[prefix],
        rel=1e-12,
    )


@pytest.mark.parametrize("prefix", list(BUILDERS))
def test_replicate_estimates_match_r(prefix):
    """svymean(~api00+api99, r, deff=TRUE); svytotal(~enroll, r, deff=TRUE);
    svyby(~api00, ~sch.wide, r, svymean, deff=TRUE); svyratio(~api.stu, ~enroll, r);
    svymean(~stype, r, deff=TRUE); svyquantile(~api00, r, c(0.25, 0.5)) for each replicate
    design r (see CALLS)."""
    design = BUILDERS[prefix]()
    assert_matches(estimate_mean(design, ["api00", "api99"]), f"{prefix}_mean")
    assert_matches(estimate_total(design, "enroll"), f"{prefix}_total")
    name = f"{prefix}_by_mean"
    assert_matches(in_r_order(estimate_mean(design, "api00", by="sch.wide"), name), name)
    assert_matches(estimate_ratio(design, "api.stu", "enroll"), f"{prefix}_ratio")
    assert_matches(estimate_proportion(design, "stype"), f"{prefix}_prop")
    assert_matches(estimate_quantile(design, "api00", quantiles=[0.25, 0.5]), f"{prefix}_quantile")


def test_mse_centres_on_the_full_sample_estimate():
    """svymean(~api00+api99, svrepdesign(..., type='bootstrap', combined.weights=FALSE,
    mse=TRUE), deff=TRUE)"""
    assert_matches(estimate_mean(r_bootstrap(mse=True), ["api00", "api99"]), "rep_boot_mse_mean")
    plain = estimate_mean(r_bootstrap(), "api00")[0].se
    assert estimate_mean(r_bootstrap(mse=True), "api00")[0].se >= plain


def test_user_supplied_combined_replicate_weights_match_r():
    """svymean(~api00+api99, svrepdesign(data, repweights=weights(jk1, 'analysis'), weights=~pw,
    type='JK1', scale=jk1$scale, combined.weights=TRUE))"""
    weights = api("apiclus1_jk1_combined")
    design = ReplicateDesign(
        pd.concat([api("apiclus1"), weights], axis=1),
        weights="pw",
        replicate_weights=list(weights.columns),
        scale=ref("rep_user_degf")["scale"],
        method="JK1",
    )
    assert design.degf == ref("rep_user_degf")["df"]
    assert_matches(estimate_mean(design, ["api00", "api99"]), "rep_user_mean")


@pytest.mark.parametrize("mode", ["remove", "adjust", "average"])
def test_jackknife_lonely_psu_options_match_r(mode):
    """options(survey.lonely.psu=mode); svymean(~api00+api99, as.svrepdesign(dlonely, 'JKn'))"""
    design = ReplicateDesign.from_design(lonely(mode), method="JKn")
    r = ref(f"rep_lonely_{mode}_degf")
    assert design.degf == r["df"]
    assert design.scale == pytest.approx(r["scale"], rel=1e-12)
    assert design.n_replicates == len(r["rscales"])
    assert_matches(
        estimate_mean(design, ["api00", "api99"]),
        f"rep_lonely_{mode}_mean",
        fields=("estimate", "se", "ci_lower", "ci_upper"),
    )


def test_jackknife_of_a_total_equals_linearisation():
    """For a linear statistic JK1 without fpc reproduces the with-replacement linearisation."""
    data = api("apiclus1")
    design = Design(data, weights="pw", cluster="dnum")
    total_lin = estimate_total(design, "enroll")[0].se
    total_jk = estimate_total(ReplicateDesign.from_design(design, method="JK1"), "enroll")[0].se
    assert total_jk == pytest.approx(total_lin, rel=1e-9)  # linear statistic: identical


# --------------------------------------------------------------------------------------------
# Our bootstrap draws


def test_bootstrap_draws_resample_each_stratum_and_are_seedable():
    design = Design(api("apistrat"), weights="pw", strata="stype", cluster="dnum", nest=True)
    a = ReplicateDesign.from_design(design, method="bootstrap", replicates=30, seed=7)
    b = ReplicateDesign.from_design(design, method="bootstrap", replicates=30, seed=7)
    c = ReplicateDesign.from_design(design, method="bootstrap", replicates=30, seed=8)
    fa = a.replicate_weights
    assert isinstance(fa, PsuReplicateFactors)
    assert isinstance(b.replicate_weights, PsuReplicateFactors)
    assert isinstance(c.replicate_weights, PsuReplicateFactors)
    np.testing.assert_array_equal(fa.factors, b.replicate_weights.factors)
    assert not np.array_equal(fa.factors, c.replicate_weights.factors)
    s = design._s
    for h in range(s.n_strata):
        block = fa.factors[s.stratum_start[h] : s.stratum_start[h] + s.psu_count[h]]
        assert (block.sum(axis=0) == s.psu_count[h]).all()  # n_h draws per replicate
        assert np.all(block == np.round(block))
    nbar = 1 / np.mean(1 / s.psu_count)
    assert a.scale == pytest.approx(nbar / ((nbar - 1) * 29))


def test_rao_wu_bootstrap_rescales_n_minus_one_draws():
    design = Design(api("apistrat"), weights="pw", strata="stype", cluster="dnum", nest=True)
    rep = ReplicateDesign.from_design(design, method="subbootstrap", replicates=20, seed=1)
    f = rep.replicate_weights
    assert isinstance(f, PsuReplicateFactors)
    s = design._s
    for h in range(s.n_strata):
        n_h = s.psu_count[h]
        block = f.factors[s.stratum_start[h] : s.stratum_start[h] + n_h]
        assert block.sum(axis=0) == pytest.approx(np.full(20, n_h))  # (n_h-1) * n_h/(n_h-1)
    assert rep.scale == pytest.approx(1 / 19)


@pytest.mark.parametrize("method", ["bootstrap", "subbootstrap"])
def test_bootstrap_variance_is_close_to_linearisation(method):
    """With many replicates the bootstrap SE of a mean is close to the linearised one."""
    design = Design(api("apistrat"), weights="pw", strata="stype", cluster="dnum", nest=True)
    lin = estimate_mean(design, "api00")[0].se
    rep = ReplicateDesign.from_design(design, method=method, replicates=2000, seed=2026)
    boot = estimate_mean(rep, "api00")[0].se
    assert boot == pytest.approx(lin, rel=0.08)


def test_bootstrap_with_fpc_draws_without_replacement_from_the_population():
    frame = pd.DataFrame(
        {
            "h": ["a"] * 4 + ["b"] * 4,
            "psu": range(8),
            "w": 2.0,
            "fpc": [4] * 4 + [8] * 4,
            "y": [1.0, 2, 3, 4, 5, 6, 7, 9],
        }
    )
    design = Design(frame, weights="w", strata="h", cluster="psu", fpc="fpc")
    rep = ReplicateDesign.from_design(design, method="bootstrap", replicates=50, seed=3)
    f = rep.replicate_weights
    assert isinstance(f, PsuReplicateFactors)
    np.testing.assert_array_equal(f.factors[:4], 1.0)  # census stratum: every PSU once


# --------------------------------------------------------------------------------------------
# Errors and warnings


def test_jk1_refuses_a_stratified_design():
    with pytest.raises(DesignError, match=r"JK1 deletes one PSU of an unstratified design.*JKn"):
        ReplicateDesign.from_design(strat(), method="JK1")


def test_jkn_needs_strata():
    with pytest.raises(DesignError, match="JKn needs a stratified design"):
        ReplicateDesign.from_design(clus1(), method="JKn")


def test_unknown_method():
    with pytest.raises(DesignError, match="method 'BRR' is not one of"):
        ReplicateDesign.from_design(clus1(), method="BRR")  # type: ignore[arg-type]


def test_linear_calibration_needs_replicates_from_the_weighting_step():
    with pytest.raises(EstimationError, match="compute the replicate weights in the weighting"):
        ReplicateDesign.from_design(calibrated("linear"), method="JK1")


def test_replicate_columns_are_checked():
    data = api("apiclus1").assign(r1=1.0, r2=np.nan, r3=-1.0)
    with pytest.raises(DesignError, match=r"replicate weights column 'r0' is not in the data"):
        ReplicateDesign(data, weights="pw", replicate_weights=["r0"])
    with pytest.raises(DesignError, match=r"replicate weights column 'r2' has 1.. missing"):
        ReplicateDesign(data, weights="pw", replicate_weights=["r1", "r2"])
    with pytest.raises(DesignError, match=r"'r3' has negative values"):
        ReplicateDesign(data, weights="pw", replicate_weights=["r1", "r3"])
    with pytest.raises(DesignError, match="rscales has 1 values but there are 2 replicates"):
        ReplicateDesign(data, weights="pw", replicate_weights=["r1", "r1"], rscales=[1.0])
    with pytest.raises(DesignError, match="list of column names"):
        ReplicateDesign(data, weights="pw", replicate_weights="r1")


def test_replicates_without_a_domain_are_discarded_with_a_warning():
    data = api("apiclus1").assign(
        only_one=lambda d: np.where(d["dnum"] == d["dnum"].iloc[0], "x", "y")
    )
    design = Design(data, weights="pw", cluster="dnum", fpc="fpc")
    rep = ReplicateDesign.from_design(design, method="JK1")
    with pytest.warns(ReplicateWarning, match="1 replicate"):
        est = estimate_mean(rep, "api00", by="only_one")
    assert np.isfinite(est.find(only_one="x").se)


def test_explicit_degrees_of_freedom():
    weights = api("apiclus1_jk1_combined")
    design = ReplicateDesign(
        pd.concat([api("apiclus1"), weights], axis=1),
        weights="pw",
        replicate_weights=list(weights.columns),
        scale=14 / 15,
        df=30,
    )
    assert design.degf == 30
    assert estimate_mean(design, "api00")[0].df == 30


def test_calibrated_replicates_reproduce_the_calibrated_totals():
    """Each JK1 replicate of a post-stratified design is post-stratified again."""
    rep = ReplicateDesign.from_design(calibrated("ps"), method="JK1")
    weights = rep.replicate_weight_matrix()
    stype = api("apiclus1")["stype"].to_numpy()
    target = {"E": 4421, "H": 755, "M": 1018}
    for level, total in target.items():
        assert weights[stype == level].sum(axis=0) == pytest.approx(np.full(15, total))
