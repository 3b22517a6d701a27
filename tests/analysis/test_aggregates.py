"""Domain means from small tables (analysis/aggregates.py) against R and against estimate_mean.

R: tests/reference/dashboard.R on tests/reference/data/dashboard_sample.csv (a raked online
sample, every respondent a PSU); each test names the R call. estimate_mean: the same domain
coded as missing outside it, on the row-level design, must give the same numbers to 1e-10.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.aggregates import aggregate, count_by_domain, mean_by_domain
from analysis.design import CalibrationModel, Design
from analysis.errors import EstimationError
from analysis.estimation import estimate_mean
from analysis.results import Estimates
from analysis.scoring import score_responses
from analysis.targets import Targets, census_targets
from analysis.weighting import calibrate
from tests.analysis.samples import shipped
from tests.analysis.synthetic import synthetic_frame

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
R_SCRIPT = REFERENCE / "dashboard.R"
R_OUTPUT = REFERENCE / "dashboard_r.json"
SAMPLE = REFERENCE / "data" / "dashboard_sample.csv"
TARGETS = REFERENCE / "data" / "dashboard_targets.csv"
OUTCOMES = ["literacy_index", "dim__knowledge", "dim__skills"]
KEYS = ["province", "region", "sex", "age_group", "education", "urban"]
REL_R = 1e-8  # weights raked by both to about 1e-12; standard errors agree to ~1e-10
REL = 1e-10  # against estimate_mean on the same design (same arithmetic, other order)


@cache
def r_results() -> dict:
    return json.loads(R_OUTPUT.read_text(encoding="utf-8"))


@cache
def reference_sample() -> tuple[pd.DataFrame, CalibrationModel]:
    data = pd.read_csv(SAMPLE)
    result = calibrate(data, Targets.read_csv(TARGETS), tol=1e-13, max_iter=500)
    return data.assign(weight=result.weights), result.model


@cache
def reference_aggregates():
    data, model = reference_sample()
    return aggregate(data, OUTCOMES, keys=[*KEYS, "day"], weights="weight", calibration=model)


def assert_r(estimates: Estimates, name: str, *, by: str | None = None, deff: bool = True):
    """The estimates equal R's result ``name`` (matched on the ``by`` labels)."""
    ref = r_results()[name]
    mine = {str(e.by[by]) if by else "": e for e in estimates}
    labels = ref["by"] if by else [""]
    assert sorted(mine) == sorted(labels), (name, sorted(mine), labels)
    fields = ["estimate", "se", "ci_lower", "ci_upper", *(["deff"] if deff else [])]
    for i, label in enumerate(labels):
        e = mine[label]
        for field in fields:
            assert getattr(e, field) == pytest.approx(ref[field][i], rel=REL_R), (
                f"{name}[{label}].{field}: {getattr(e, field)} vs R {ref[field][i]} "
                f"({ref['call']})"
            )
        assert e.df == ref["df"][0]


# ------------------------------------------------------------------------------------------ R


def test_weights_match_r():
    """weights(rake(svydesign(ids=~1, weights=~N/n), 4 census margins, maxit=200))"""
    data, _ = reference_sample()
    np.testing.assert_allclose(data["weight"], r_results()["weights"]["weights"], rtol=1e-10)


def test_whole_sample_means_match_r():
    """svymean(~literacy_index, raked, deff=TRUE); svymean(~dim__skills, na.rm=TRUE)"""
    agg = reference_aggregates()
    assert_r(mean_by_domain(agg, "literacy_index"), "index")
    assert_r(mean_by_domain(agg, "dim__skills"), "skills")


def test_means_by_province_match_r():
    """svyby(~literacy_index, ~province, raked, svymean, deff=TRUE) (and dim__skills, na.rm)"""
    agg = reference_aggregates()
    assert_r(mean_by_domain(agg, "literacy_index", by="province"), "index_by_province",
             by="province")
    assert_r(mean_by_domain(agg, "dim__skills", by="province"), "skills_by_province",
             by="province")
    assert_r(mean_by_domain(agg, "literacy_index", by="region"), "index_by_region", by="region")


def test_domain_of_groups_matches_r_subset():
    """svyby(~literacy_index, ~province, subset(raked, sex=='female' & education %in%
    c('college','bachelor','postgraduate')), svymean, deff=TRUE)"""
    agg = reference_aggregates()
    where = {"sex": ["female"], "education": ["college", "bachelor", "postgraduate"]}
    assert_r(mean_by_domain(agg, "literacy_index", by="province", where=where),
             "index_by_province_educated_women", by="province")
    east_towns = {"urban": ["urban"], "region": ["East"]}
    assert_r(mean_by_domain(agg, "dim__knowledge", by="age_group", where=east_towns),
             "knowledge_by_age_group_urban_east", by="age_group")


def test_row_domain_matches_r_subset():
    """svyby(~dim__skills, ~sex, subset(raked, day >= first+3 & day <= first+16), svymean,
    na.rm=TRUE, deff=TRUE): the days as a key and as a row domain (within)."""
    data, _ = reference_sample()
    agg = reference_aggregates()
    first = int(data["day"].min())
    days = list(range(first + 3, first + 17))
    assert_r(mean_by_domain(agg, "dim__skills", by="sex", where={"day": days}),
             "skills_by_sex_days_3_16", by="sex")
    rows = data["day"].between(first + 3, first + 16).to_numpy()
    assert_r(mean_by_domain(agg.within(rows), "dim__skills", by="sex"),
             "skills_by_sex_days_3_16", by="sex")


def test_unweighted_matches_r():
    """svyby(~literacy_index, ~sex, subset(svydesign(ids=~1, data=sample), province %in%
    c('44','51')), svymean): equal weights, no calibration."""
    data, _ = reference_sample()
    agg = aggregate(data, OUTCOMES, keys=KEYS)
    assert_r(mean_by_domain(agg, "literacy_index", by="sex", where={"province": [44, 51]}),
             "unweighted_index_by_sex_guangdong_sichuan", by="sex", deff=False)


@pytest.mark.r
def test_r_script_reproduces_the_committed_output(tmp_path: Path):
    """Rscript tests/reference/dashboard.R <tmp>: same numbers as committed."""
    rscript = shutil.which("Rscript")
    assert rscript is not None, "Rscript is not installed (scripts/setup.sh installs it)"
    subprocess.run([rscript, str(R_SCRIPT), str(tmp_path)], check=True, capture_output=True,
                   timeout=600)
    fresh = json.loads((tmp_path / "dashboard_r.json").read_text())
    committed = r_results()
    assert fresh.keys() == committed.keys()
    for name, result in committed.items():
        for key, value in result.items():
            got = fresh[name][key]
            if isinstance(value, list) and value and isinstance(value[0], float | int):
                np.testing.assert_allclose(got, value, rtol=1e-12, err_msg=f"{name}.{key}")
            else:
                assert got == value, f"{name}.{key}"


def test_reference_data_are_what_the_script_writes(tmp_path: Path):
    """python tests/reference/dashboard_data.py writes exactly the committed CSV files."""
    from tests.reference.dashboard_data import main

    main(tmp_path)
    for name in ("dashboard_sample.csv", "dashboard_targets.csv"):
        assert (tmp_path / name).read_bytes() == (REFERENCE / "data" / name).read_bytes(), name


# ---------------------------------------------------------------------- against estimate_mean


@cache
def synthetic() -> tuple[pd.DataFrame, CalibrationModel]:
    qn = shipped("cfl")
    frame = synthetic_frame(qn, 4000, seed=11)
    scored = score_responses(frame, qn, item_scores=False).frame
    scored.loc[scored.index[::9], "dim__skills"] = np.nan
    scored.loc[scored.index[::13], "education"] = np.nan  # a group value missing
    result = calibrate(scored, census_targets(margins=("region", "region*sex", "urban")))
    return scored.assign(weight=result.weights), result.model


def row_level(data: pd.DataFrame, model: CalibrationModel | None, domain: np.ndarray,
              by: list[str], variables: list[str]) -> Estimates:
    """estimate_mean on the row-level design, the domain coded as missing outside it."""
    marked = data.assign(in_domain=np.where(domain, 1.0, np.nan))
    design = (Design(marked, weights="weight", calibration=model) if model is not None
              else Design(marked))
    found = estimate_mean(design, variables, by=["in_domain", *by])
    return Estimates(
        [type(e)(**{**e.__dict__, "by": {k: v for k, v in e.by.items() if k != "in_domain"}})
         for e in found],
        alpha=found.alpha,
    )


def assert_same(mine: Estimates, ref: Estimates) -> None:
    assert len(mine) == len(ref)
    for a, b in zip(mine, ref, strict=True):
        assert a.by == b.by and a.variable == b.variable
        assert a.n == b.n
        degenerate = b.se < 1e-9  # one respondent: the variance is 0 up to rounding
        if not degenerate:
            assert a.flags == b.flags
        for field in ("estimate", "se", "ci_lower", "ci_upper", "deff", "cv"):
            if degenerate and field in ("deff", "cv"):
                continue
            x, y = getattr(a, field), getattr(b, field)
            if math.isinf(y) or math.isnan(y):
                assert (math.isinf(x) and math.isinf(y)) or (math.isnan(x) and math.isnan(y))
            else:
                assert x == pytest.approx(y, rel=REL, abs=1e-9), (field, a.by, x, y)


DOMAINS = {
    "all": {},
    "women": {"sex": ["female"]},
    "east_graduates": {"region": ["East"], "education": ["bachelor", "postgraduate"]},
    "young_rural": {"age_group": ["18-24", "25-34"], "urban": ["rural"]},
}


@pytest.mark.parametrize("weighted", [True, False], ids=["raked", "unweighted"])
@pytest.mark.parametrize("name", list(DOMAINS))
@pytest.mark.parametrize("by", [[], ["province"], ["education"], ["sex", "urban"]],
                         ids=["overall", "province", "education", "sex_urban"])
def test_domains_agree_with_estimate_mean(weighted, name, by):
    data, model = synthetic()
    agg = aggregate(data, OUTCOMES, keys=KEYS, weights="weight" if weighted else None,
                    calibration=model if weighted else None)
    where = DOMAINS[name]
    domain = np.ones(len(data), dtype=bool)
    for column, values in where.items():
        domain &= data[column].isin(values).to_numpy(dtype=bool)
    mine = mean_by_domain(agg, by=by, where=where or None)
    ref = row_level(data, model if weighted else None, domain, by, OUTCOMES)
    assert_same(mine, ref)


def test_row_domain_agrees_with_estimate_mean():
    data, model = synthetic()
    agg = aggregate(data, OUTCOMES, keys=KEYS, weights="weight", calibration=model)
    rows = slice(700, 2900)
    domain = np.zeros(len(data), dtype=bool)
    domain[rows] = True
    where = {"urban": ["urban"]}
    mine = mean_by_domain(agg.within(rows), by="region", where=where)
    ref = row_level(data, model, domain & (data["urban"] == "urban").to_numpy(), ["region"],
                    OUTCOMES)
    assert_same(mine, ref)
    positions = np.flatnonzero(domain)
    assert_same(mean_by_domain(agg.within(positions), by="region", where=where), ref)


def test_poststratified_agrees_with_estimate_mean():
    data, _ = synthetic()
    result = calibrate(data, census_targets(margins=("region*sex",)), method="poststratify")
    data = data.assign(weight=result.weights)
    agg = aggregate(data, OUTCOMES, keys=KEYS, weights="weight", calibration=result.model)
    domain = data["age_group"].isin(["45-54", "55-64"]).to_numpy(dtype=bool)
    mine = mean_by_domain(agg, by="education", where={"age_group": ["45-54", "55-64"]})
    assert_same(mine, row_level(data, result.model, domain, ["education"], OUTCOMES))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    keep=st.lists(st.sampled_from(["East", "Central", "West", "Northeast"]), min_size=1,
                  unique=True),
    alpha=st.sampled_from([0.01, 0.05, 0.1]),
    min_n=st.integers(0, 400),
)
def test_any_region_domain_agrees_with_estimate_mean(keep, alpha, min_n):
    data, model = synthetic()
    agg = aggregate(data, OUTCOMES, keys=KEYS, weights="weight", calibration=model)
    domain = data["region"].isin(keep).to_numpy(dtype=bool)
    mine = mean_by_domain(agg, "literacy_index", by="sex", where={"region": keep}, alpha=alpha,
                          min_n=min_n)
    marked = data.assign(in_domain=np.where(domain, 1.0, np.nan))
    ref = estimate_mean(Design(marked, weights="weight", calibration=model), "literacy_index",
                        by=["in_domain", "sex"], alpha=alpha, min_n=min_n)
    for a, b in zip(mine, ref, strict=True):
        assert a.estimate == pytest.approx(b.estimate, rel=REL)
        assert a.ci_lower == pytest.approx(b.ci_lower, rel=REL)
        assert a.flags == b.flags


# ----------------------------------------------------------------------------- other queries


def test_count_by_domain():
    data, model = synthetic()
    agg = aggregate(data, OUTCOMES, keys=KEYS, weights="weight", calibration=model)
    counts = count_by_domain(agg, by="region", where={"sex": ["female"]})
    women = data[data["sex"] == "female"]
    expected = women.groupby("region", observed=True)["weight"].agg(["size", "sum"])
    assert counts["region"].tolist() == expected.index.tolist()
    assert counts["n"].tolist() == expected["size"].tolist()
    np.testing.assert_allclose(counts["weight"], expected["sum"], rtol=1e-12)
    whole = count_by_domain(agg)
    assert whole["n"].tolist() == [len(data)]
    assert whole["weight"].iloc[0] == pytest.approx(data["weight"].sum(), rel=1e-12)


def test_an_empty_domain_gives_no_estimates():
    data, model = synthetic()
    agg = aggregate(data, OUTCOMES, keys=KEYS, weights="weight", calibration=model)
    assert len(mean_by_domain(agg, where={"province": [99]})) == 0
    assert len(count_by_domain(agg, where={"province": [99]})) == 0


def test_constant_outcome_has_zero_standard_error():
    data, model = synthetic()
    agg = aggregate(data.assign(one=5.0), ["one"], keys=KEYS, weights="weight",
                    calibration=model)
    for e in mean_by_domain(agg, by="region"):
        assert e.estimate == pytest.approx(5.0)
        assert e.se == pytest.approx(0.0, abs=1e-9)


def test_bad_input_is_named():
    data, model = synthetic()
    with pytest.raises(EstimationError, match="outcome column 'nope' is not in the data"):
        aggregate(data, ["nope"])
    with pytest.raises(EstimationError, match="not numeric"):
        aggregate(data.assign(sex=data["sex"].astype(str)), ["sex"])
    with pytest.raises(EstimationError, match="non-positive"):
        aggregate(data.assign(weight=0.0), OUTCOMES, weights="weight")
    with pytest.raises(EstimationError, match="only 'rake' and 'poststratify'"):
        aggregate(data, OUTCOMES, weights="weight",
                  calibration=CalibrationModel(categorical=("region",), method="linear"))
    with pytest.raises(EstimationError, match="missing value"):
        aggregate(data.assign(region=data["region"].where(data["sex"] == "male")), OUTCOMES,
                  weights="weight", calibration=model)
    agg = aggregate(data, OUTCOMES, keys=["region"], weights="weight", calibration=model)
    with pytest.raises(EstimationError, match="'sex' is not a key"):
        mean_by_domain(agg, by="sex")
    with pytest.raises(EstimationError, match="'sex' is not a key"):
        mean_by_domain(agg, where={"sex": ["male"]})
    with pytest.raises(EstimationError, match="list of values"):
        mean_by_domain(agg, where={"region": "East"})
    with pytest.raises(EstimationError, match="not among the aggregated outcomes"):
        mean_by_domain(agg, "age")
    without = aggregate(data, OUTCOMES, keep_rows=False)
    with pytest.raises(EstimationError, match="keep_rows=True"):
        without.within(slice(0, 10))
