"""The dashboards' data layer (analysis/dashboard.py): loading, filters as domains, each page's
result, checked against the row-level analysis functions on the same design."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from functools import cache

import numpy as np
import pandas as pd
import pytest

from analysis import dashboard as db
from analysis.design import Design
from analysis.effectiveness import difference_in_means, prepost
from analysis.estimation import estimate_mean
from analysis.items import analyse_items
from analysis.quality import quality_flags
from analysis.scoring import score_responses
from analysis.targets import census_targets
from analysis.weighting import calibrate
from questionnaires.model import Quotas, Settings
from responses.state import DraftCount
from responses.store import ParquetResponseStore
from tests.analysis.samples import shipped
from tests.analysis.synthetic import (
    save_drafts,
    submit_rows,
    synthetic_frame,
    synthetic_prepost,
    write_compacted,
)

REL = 1e-10
OUTCOMES = ("literacy_index", "dim__knowledge", "dim__attitude", "dim__behaviour", "dim__skills")


@cache
def stored() -> pd.DataFrame:
    return synthetic_frame(shipped("cfl"), 4000, seed=21)


@cache
def loaded() -> db.DashboardData:
    qn = shipped("cfl")
    return db.prepare_dashboard(stored(), {qn.version: qn})


def weighted_design(data: db.DashboardData, exclude: bool = False, **extra: np.ndarray) -> Design:
    """The row-level design of the weighted sample, built from the stored rows directly."""
    w = data.sample(exclude).weighting
    frame = w.design_frame(data.frame).assign(**{k: v[w.rows] for k, v in extra.items()})
    return Design(frame, weights="weight", calibration=w.result.model)


def same(mine, ref) -> None:
    assert len(mine) == len(ref) > 0
    for a, b in zip(mine, ref, strict=True):
        assert a.variable == b.variable and a.n == b.n
        assert {k: v for k, v in b.by.items() if k != "in_domain"} == a.by
        for field in ("estimate", "se", "ci_lower", "ci_upper", "deff"):
            x, y = getattr(a, field), getattr(b, field)
            assert x == pytest.approx(y, rel=REL, abs=1e-9, nan_ok=True) or (
                np.isinf(x) and np.isinf(y)), (field, a.by, x, y)


# ------------------------------------------------------------------------------------ loading


def test_loaded_frame_is_compact_sorted_and_weighted():
    data = loaded()
    frame = data.frame
    assert data.n == len(stored()) and data.versions == ("2026.1",)
    assert data.outcomes == OUTCOMES
    assert data.groups == ("sex", "age_group", "education", "income", "urban")
    for column in ("province", "region", "sex", "age_group", "education", "income", "urban"):
        assert isinstance(frame[column].dtype, pd.CategoricalDtype), column
    assert frame["province"].cat.categories.tolist()[:3] == [11, 12, 13]
    # row for row the stored responses, with their scores
    scored = score_responses(stored(), shipped("cfl"), item_scores=False).frame
    np.testing.assert_allclose(frame["literacy_index"],
                               scored["literacy_index"].to_numpy(dtype=float))
    assert (frame["province"].astype(int).to_numpy()
            == scored["province"].to_numpy(dtype=int)).all()
    w = data.weighting
    assert w.scheme == "full" and w.n == data.n and not w.excluded
    assert w.margins == ("province", "province*sex", "province*age_band", "province*urban")
    assert w.result.converged
    # days are China calendar days
    local = stored()["submitted_at"].dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    days = (local.dt.normalize() - pd.Timestamp("1970-01-01")).dt.days.to_numpy()
    assert (frame["day"].to_numpy() == days).all()


def test_weights_are_the_census_raking_with_sparse_cells_merged():
    data = loaded()
    frame = data.frame
    w = data.weighting
    present = sorted(int(c) for c in frame["province"].dropna().unique())
    assert w.uncovered_provinces == tuple(c for c in census_targets().margins["province"].index
                                          if c not in present)
    # a province keeps its sex (age band, urban) cells only when each has >= MIN_CELL people;
    # the others are pooled: one cell per category for all of them together
    totals = census_targets().to_frame().set_index(["variable", "level"])["total"]
    for d in ("sex", "age_band", "urban"):
        cells = frame.groupby(["province", d], observed=False).size()
        sparse = sorted({int(p) for (p, level), n in cells.items()
                         if n < db.MIN_CELL and p in present and level != "0-14"})
        assert w.collapsed.get(d, ()) == tuple(sparse), d
        column = w.columns[f"cal_{d}"].astype(str)
        pooled = frame["province"].isin(sparse).to_numpy()
        expected = frame["province"].astype(str) + "*" + frame[d].astype(str)
        assert (column[~pooled].to_numpy() == expected[~pooled].to_numpy()).all()
        assert (column[pooled].to_numpy() == ("pool*" + frame[d].astype(str))[pooled]).all()
        achieved = pd.Series(w.weights).groupby(column.to_numpy()).sum()
        for level in frame[d].cat.categories:
            if level == "0-14" or f"pool*{level}" not in achieved:
                continue
            target = sum(totals[(f"province*{d}", f"{p}*{level}")] for p in sparse)
            assert achieved[f"pool*{level}"] == pytest.approx(target, rel=1e-6), (d, level)
    # the weights meet the census totals of every province and of every cell kept
    by_province = pd.Series(w.weights).groupby(frame["province"].astype(int).to_numpy()).sum()
    for code, total in by_province.items():
        assert total == pytest.approx(totals[("province", str(code))], rel=1e-6)
    cell = pd.Series(w.weights).groupby(w.columns["cal_sex"].astype(str).to_numpy()).sum()
    assert cell["44*female"] == pytest.approx(totals[("province*sex", "44*female")], rel=1e-6)
    # and they are what calibrate gives on those targets
    targets, columns, _ = db._collapsed(frame, present, ("sex", "age_band", "urban"))
    result = calibrate(frame.assign(**columns), targets, method="rake", max_iter=200)
    np.testing.assert_allclose(w.weights, result.weights, rtol=1e-12)


def test_missing_demographics_are_reported_and_left_unweighted():
    qn = shipped("cfl")
    frame = stored().copy()
    frame.loc[frame.index[:7], "sex"] = pd.NA
    frame.loc[frame.index[7:10], "urban"] = pd.NA
    frame.loc[frame.index[10:14], "age"] = 12  # under 15: outside the census population
    data = db.prepare_dashboard(frame, {qn.version: qn})
    w = data.weighting
    assert dict(w.excluded) == {
        "missing sex": 7,
        "missing urban": 3,
        "under 15 (outside the census population)": 4,
    }
    assert w.n == len(frame) - 14
    unweighted = db.literacy(data, db.Filters("cfl", weighted=False))
    weighted = db.literacy(data, db.Filters("cfl"))
    assert unweighted.n == len(frame) and unweighted.n_without_weight == 0
    assert weighted.n == len(frame) - 14 and weighted.n_without_weight == 14
    # in a domain of women: those without weight whose sex is known and female (rows 7-13)
    women = db.literacy(data, db.Filters("cfl", sex=("female",)))
    female = qn.question("sex").option_codes()["female"]
    sex = frame["sex"].iloc[7:14].to_numpy(dtype=float, na_value=np.nan)
    assert women.n_without_weight == int((sex == female).sum())


def test_small_samples_pool_their_cells():
    qn = shipped("cfl")
    data = db.prepare_dashboard(stored().head(200), {qn.version: qn})
    w = data.weighting
    present = set(data.frame["province"].dropna().astype(int))
    assert w.scheme == "full" and w.result.converged
    cells = data.frame.groupby(["province", "sex"], observed=False).size().unstack()
    sparse = {int(p) for p, row in cells.iterrows() if p in present and row.min() < db.MIN_CELL}
    assert set(w.collapsed["sex"]) == sparse and len(sparse) > 20
    pooled = data.frame["province"].isin(sparse).to_numpy()
    assert set(w.columns["cal_sex"].astype(str)[pooled]) == {"pool*male", "pool*female"}
    assert set(w.uncovered_provinces) == {
        int(c) for c in census_targets().margins["province"].index} - present
    tiny = db.prepare_dashboard(stored().head(12), {qn.version: qn}).weighting
    assert tiny.result is not None  # pooled cells too small: provinces keep their totals
    assert all(v.endswith("*all") for v in tiny.columns["cal_age_band"].astype(str)
               if v.split("*")[0] in {str(p) for p in tiny.collapsed["age_band"]})


def test_weighted_estimates_find_the_simulated_truth(tmp_path):
    """On the simulator's demo data (a sample skewed against the census: too young, too urban,
    uneven across provinces), the raked estimates' 95% intervals cover the population values
    the simulator computed, nationally and in every region; the unweighted ones do not."""
    from analysis.simulation import demo
    from questionnaires import load_registry

    demo(tmp_path, sizes={"cfl": 3000})
    truth = json.loads((tmp_path / "simulation" / "truth.json").read_text())["cfl"]
    data = db.load_dashboard(ParquetResponseStore(tmp_path), load_registry(tmp_path), "cfl")
    weighted = db.literacy(data, db.Filters("cfl"))
    slack = 3 * truth["national"]["mc_se"]  # the truth is itself a simulation
    for e in weighted.national:
        value = truth["national"][e.variable]
        assert e.ci_lower - slack <= value <= e.ci_upper + slack, (e.variable, e, value)
    for e in weighted.regions:
        value = truth["regional"][e.by["region"]][e.variable]
        slack = 3 * truth["regional"][e.by["region"]]["mc_se"]
        assert e.ci_lower - slack <= value <= e.ci_upper + slack, (e.by, e.variable, value)
    index = db.literacy(data, db.Filters("cfl", weighted=False)).national[0]
    assert not index.ci_lower <= truth["national"]["literacy_index"] <= index.ci_upper


def test_schemes_fall_back_when_raking_fails():
    """In Guangdong every man lives in a town and every woman in the country: its sex and
    urban margins cannot both be met, so the national margins are used instead."""
    qn = shipped("cfl")
    frame = stored().copy()
    guangdong = (frame["province"] == 44).to_numpy()
    male = qn.question("sex").option_codes()["male"]
    codes = qn.question("urban").option_codes()
    frame.loc[guangdong, "urban"] = np.where(frame.loc[guangdong, "sex"] == male,
                                             codes["urban"], codes["rural"])
    data = db.prepare_dashboard(frame, {qn.version: qn})
    w = data.weighting
    assert w.scheme == "national"
    assert w.notes[0].startswith("full: Calibration (method='rake') did not converge")
    assert w.margins == ("province", "sex", "age_band", "urban")
    assert w.result.converged


def test_a_questionnaire_without_demographics_has_no_weights():
    qn = shipped("edu_quiz")
    data = db.prepare_dashboard(synthetic_prepost(qn, 80), {qn.version: qn})
    assert data.weighting.scheme == "none" and data.weighting.result is None
    with pytest.raises(db.DashboardError, match="no census weights"):
        db.literacy(data, db.Filters("edu_quiz"))
    assert db.literacy(data, db.Filters("edu_quiz", weighted=False)).n == data.n


def test_all_versions_together():
    qn = shipped("cfl")
    newer = dataclasses.replace(qn, version="2026.2")
    first = stored().iloc[:2500]
    second = stored().iloc[2500:].assign(
        questionnaire_version=pd.array(["2026.2"] * (len(stored()) - 2500), dtype="str"))
    both = pd.concat([first, second], ignore_index=True)
    data = db.prepare_dashboard(both, {"2026.1": qn, "2026.2": newer})
    assert data.versions == ("2026.1", "2026.2") and data.n == len(stored())
    assert data.frame["questionnaire_version"].value_counts().to_dict() == {
        "2026.1": 2500, "2026.2": len(stored()) - 2500}
    np.testing.assert_allclose(data.frame["literacy_index"], loaded().frame["literacy_index"])
    assert isinstance(data.frame["education"].dtype, pd.CategoricalDtype)
    assert data.flags()["flag_any"].sum() > 0
    items = db.items(data, db.Filters("cfl"), version="2026.1")
    assert items.questionnaire_version == "2026.1"
    assert items.items["n"].max() <= 2500
    with pytest.raises(db.DashboardError, match="no questionnaire definition"):
        db.prepare_dashboard(both, {"2026.1": qn})


# ------------------------------------------------------------------------ filters as domains


def domain_mask(data: db.DashboardData, filters: db.Filters) -> np.ndarray:
    frame = data.frame
    mask = np.ones(len(frame), dtype=bool)
    day = frame["day"].to_numpy()
    if filters.start:
        mask &= day >= (filters.start - dt.date(1970, 1, 1)).days
    if filters.end:
        mask &= day <= (filters.end - dt.date(1970, 1, 1)).days
    for column, values in filters.domain().items():
        mask &= frame[column].isin(list(values)).to_numpy(dtype=bool)
    return mask


FILTERS = {
    "whole": {},
    "east_women": {"regions": ("East",), "sex": ("female",)},
    "provinces_graduates": {"provinces": (44, 32, 51), "education": ("bachelor", "postgraduate")},
    "dates_rural": {"start": dt.date(2026, 3, 9), "end": dt.date(2026, 3, 22),
                    "urban": ("rural",)},
}


@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("by", [None, "province", "region", "age_group"])
def test_filters_are_domains_of_the_full_weighted_design(name, by):
    """literacy(filters) == estimate_mean(full raked design, by=[in_domain, by])."""
    data = loaded()
    filters = db.Filters("cfl", **FILTERS[name])
    result = db.literacy(data, filters)
    mine = {None: result.national, "province": result.provinces, "region": result.regions,
            "age_group": result.groups["age_group"]}[by]
    in_domain = np.where(domain_mask(data, filters), 1.0, np.nan)
    design = weighted_design(data, in_domain=in_domain)
    ref = estimate_mean(design, list(OUTCOMES), by=["in_domain", *([by] if by else [])])
    same(mine, ref)
    assert result.n == int(np.nansum(in_domain))


@pytest.mark.parametrize("name", ["whole", "east_women", "dates_rural"])
def test_unweighted_filters_are_domains_of_the_whole_sample(name):
    data = loaded()
    filters = db.Filters("cfl", weighted=False, **FILTERS[name])
    result = db.literacy(data, filters)
    marked = data.frame.assign(in_domain=np.where(domain_mask(data, filters), 1.0, np.nan))
    ref = estimate_mean(Design(marked), list(OUTCOMES), by=["in_domain", "sex"])
    same(result.groups["sex"], ref)


def test_excluding_flagged_responses_weights_the_rest_on_their_own():
    data = loaded()
    flags = quality_flags(stored(), shipped("cfl"))["flag_any"].to_numpy()
    assert (data.flags()["flag_any"].to_numpy() == flags).all()
    clean = data.sample(True)
    assert (clean.rows == np.flatnonzero(~flags)).all()
    frame = data.frame.iloc[clean.rows].reset_index(drop=True)
    present = sorted(int(c) for c in frame["province"].dropna().unique())
    targets, columns, _ = db._collapsed(frame, present, ("sex", "age_band", "urban"))
    frame = frame.assign(**columns)
    result = calibrate(frame, targets, method="rake", max_iter=200)
    np.testing.assert_allclose(clean.weighting.weights, result.weights, rtol=1e-12)
    literacy = db.literacy(data, db.Filters("cfl", exclude_flagged=True, regions=("West",)))
    marked = frame.assign(weight=result.weights,
                          in_domain=np.where(frame["region"] == "West", 1.0, np.nan))
    ref = estimate_mean(Design(marked, weights="weight", calibration=result.model),
                        list(OUTCOMES), by=["in_domain", "province"])
    same(literacy.provinces, ref)
    assert literacy.n == int((frame["region"] == "West").sum())
    quality = db.data_quality(data, db.Filters("cfl", exclude_flagged=True))
    assert quality.excluded and quality.n_excluded == int(flags.sum())


def test_filters_are_checked():
    data = loaded()
    with pytest.raises(db.DashboardError, match="start date 2026-03-10 is after"):
        db.Filters("cfl", start=dt.date(2026, 3, 10), end=dt.date(2026, 3, 1))
    with pytest.raises(db.DashboardError, match="provinces must be a list"):
        db.Filters("cfl", provinces=11)  # type: ignore[arg-type]
    with pytest.raises(db.DashboardError, match="sex has no value"):
        db.literacy(data, db.Filters("cfl", sex=("other",)))
    with pytest.raises(db.DashboardError, match="but the filters ask for 'oecd_infe'"):
        db.literacy(data, db.Filters("oecd_infe"))
    assert db.Filters("cfl", sex=["female"]).sex == ("female",)
    empty = db.literacy(data, db.Filters("cfl", provinces=(54,), sex=("male",),
                                         start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 2)))
    assert empty.n == 0 or len(empty.national) >= 0


# ------------------------------------------------------------------------------------ overview


def test_overview_counts():
    data = loaded()
    filters = db.Filters("cfl", regions=("East", "Central"), start=dt.date(2026, 3, 5))
    drafts = [
        DraftCount("2026.1", dt.datetime(2026, 3, 4, 20, tzinfo=dt.UTC), "knowledge", 3),  # 3-5
        DraftCount("2026.1", dt.datetime(2026, 3, 4, 10, tzinfo=dt.UTC), "knowledge", 9),  # 3-4
        DraftCount("2026.1", dt.datetime(2026, 3, 9, 1, tzinfo=dt.UTC), None, 2),
        DraftCount("2026.2", dt.datetime(2026, 3, 9, 1, tzinfo=dt.UTC), "skills", 5),
    ]
    result = db.overview(data, filters, drafts=drafts)
    mask = domain_mask(data, filters)
    assert result.completes == int(mask.sum())
    assert result.break_offs == 3 + 2 + 5  # the one of March 4 (China time) is before start
    assert result.break_off_rate == pytest.approx(10 / (result.completes + 10))
    assert result.daily["completes"].sum() == result.completes
    assert result.daily["break_offs"].sum() == 10
    day5 = result.daily.set_index("date").loc[dt.date(2026, 3, 5)]
    assert day5["break_offs"] == 3
    assert dict(zip(result.break_off_pages["page"], result.break_off_pages["n"],
                    strict=True)) == {"knowledge": 3, "skills": 5, "(start)": 2}
    provinces = result.provinces.set_index("province")
    counts = data.frame["province"][mask].value_counts()
    assert provinces["completes"].sum() == result.completes
    assert provinces.loc[44, "completes"] == counts.get(44, 0)
    assert provinces["census_share"].sum() == pytest.approx(1.0)
    assert provinces["expected"].sum() == pytest.approx(result.completes)
    assert provinces["target"].isna().all()  # cfl has no quotas
    flags = data.flags()
    quality = result.quality.set_index("flag")
    assert quality.loc["speeder", "n"] == int(flags["speeder"].to_numpy()[mask].sum())
    assert quality.loc["flag_any", "share"] == pytest.approx(
        flags["flag_any"].to_numpy()[mask].mean())
    only_version = db.overview(
        dataclasses.replace(data, version="2026.1"),
        db.Filters("cfl", version="2026.1"), drafts=drafts)
    assert only_version.break_offs == 9 + 3 + 2


def test_overview_compares_provinces_with_quotas():
    qn = shipped("cfl")
    quota = dataclasses.replace(qn, settings=Settings(
        quotas=Quotas(by=("province",), default=100, cells=(("44", 250),))))
    data = db.prepare_dashboard(stored(), {qn.version: quota})
    result = db.overview(data, db.Filters("cfl"))
    provinces = result.provinces.set_index("province")
    assert provinces.loc[44, "target"] == 250 and provinces.loc[11, "target"] == 100
    assert provinces.loc[44, "progress"] == pytest.approx(provinces.loc[44, "completes"] / 250)
    assert result.break_offs is None


# ------------------------------------------------------------------------------- other pages


def test_items_are_the_item_analysis_of_the_domain():
    data = loaded()
    filters = db.Filters("cfl", sex=("male",))
    result = db.items(data, filters)
    w = data.weighting
    keep = (data.frame["sex"] == "male").to_numpy()[w.rows]
    rows = w.rows[keep]
    responses = stored().iloc[rows].reset_index(drop=True)
    ref = analyse_items(responses, shipped("cfl"), weights=w.weights[keep])
    pd.testing.assert_frame_equal(result.items, ref.items, rtol=1e-10)
    pd.testing.assert_frame_equal(result.dimensions, ref.dimensions, rtol=1e-10)
    pd.testing.assert_frame_equal(result.distractors, ref.distractors, rtol=1e-10)
    unweighted = db.items(data, db.Filters("cfl", weighted=False))
    assert not unweighted.weighted and unweighted.items["n"].max() <= data.n


def test_data_quality_counts():
    data = loaded()
    filters = db.Filters("cfl", provinces=(44, 37))
    result = db.data_quality(data, filters)
    mask = domain_mask(data, filters)
    flags = quality_flags(stored(), shipped("cfl"))
    counts = result.counts.set_index("flag")
    for flag in ("speeder", "straightliner", "attention_failed", "duplicate_answers",
                 "flag_any"):
        assert counts.loc[flag, "n"] == int(flags[flag].to_numpy()[mask].sum()), flag
    assert result.n == int(mask.sum())
    assert set(result.by_province["province"]) == {44, 37}
    assert result.by_province["n"].sum() == result.n
    duration = data.frame["duration_seconds"]
    assert result.durations["median_seconds"].iloc[0] == pytest.approx(duration.median())
    assert not result.excluded and result.n_excluded == 0


def test_weighting_report():
    data = loaded()
    report = db.weighting_report(data, db.Filters("cfl"))
    margins = report.margins
    assert set(margins["margin"]) == set(data.weighting.margins)
    assert (margins["rel_error"] < 1e-6).all()
    province = margins[margins["margin"] == "province"]
    assert province["weighted_share"].to_numpy() == pytest.approx(
        province["census_share"].to_numpy(), rel=1e-6)
    summary = report.summary.iloc[0]
    w = data.weighting.weights
    assert summary["n"] == len(w)
    assert summary["deff"] == pytest.approx(len(w) * (w**2).sum() / w.sum() ** 2)
    assert summary["n_effective"] == pytest.approx(w.sum() ** 2 / (w**2).sum())
    assert report.histogram["n"].sum() == len(w)
    east = db.weighting_report(data, db.Filters("cfl", regions=("East",)))
    assert east.summary.iloc[0]["n"] == int((data.frame["region"] == "East").sum())
    assert east.provinces["weighted_share"].sum() == pytest.approx(1.0)


def test_effect_of_education_in_a_domain():
    data = loaded()
    filters = db.Filters("cfl", urban=("urban",))
    result = db.effectiveness(data, filters)
    assert [e.method for e in result.effects] == ["difference", "regression", "ipw", "aipw"]
    assert not result.errors
    assert result.covariates == ("sex", "age_group", "education", "region")  # urban constant
    treated = np.where((data.frame["urban"] == "urban").to_numpy(),
                       data.frame["exposure_any"].to_numpy(), np.nan)
    ref = difference_in_means(weighted_design(data, treated=treated), "literacy_index",
                              "treated")
    difference = result.effects[0]
    assert difference.effect == pytest.approx(ref.effect, rel=REL)
    assert difference.se == pytest.approx(ref.se, rel=REL)
    assert result.balance is not None and "smd_after" in " ".join(result.balance.columns)
    assert set(result.benchmark["domain"]) == {"knowledge", "behaviour"}
    parts = [db.effectiveness(data, filters, methods=(m,)) for m in ("difference", "ipw")]
    combined = db.combine_effectiveness(parts)
    assert [e.method for e in combined.effects] == ["difference", "ipw"]
    assert combined.effects[1].effect == pytest.approx(result.effects[2].effect, rel=1e-12)
    assert combined.balance is not None
    pd.testing.assert_frame_equal(combined.benchmark,
                                  result.benchmark[result.benchmark["method"].isin(
                                      ["difference", "ipw"])].reset_index(drop=True))
    assert "school_vs_none" in db.treatments(data)
    school = db.effectiveness(data, db.Filters("cfl"), treatment="school_vs_none",
                              outcome="dim__knowledge", methods=("difference",))
    assert school.effects[0].treatment == "school_vs_none"
    with pytest.raises(db.DashboardError, match="not a treatment"):
        db.effectiveness(data, filters, treatment="exposure_tv")


def test_quiz_pre_post():
    qn = shipped("edu_quiz")
    frame = synthetic_prepost(qn, 150, seed=4)
    data = db.prepare_dashboard(frame, {qn.version: qn})
    result = db.quiz_prepost(data, db.Filters("edu_quiz", weighted=False))
    scored = score_responses(frame, qn).frame
    items = [c for c in scored.columns if c.startswith("score__")]
    with pytest.warns(UserWarning):
        ref = prepost(scored[scored["phase"] == "pre"], scored[scored["phase"] == "post"],
                      id="participant_code", outcome="quiz_score", items=items)
    assert result.n == ref.n and result.mean_change == pytest.approx(ref.mean_change)
    assert result.hedges_g == pytest.approx(ref.hedges_g)
    pd.testing.assert_frame_equal(result.items, ref.items)
    with pytest.raises(db.DashboardError, match="no phase"):
        db.quiz_prepost(loaded(), db.Filters("cfl"))


# ------------------------------------------------------------------------------- the store


def test_load_from_the_store_and_signature(tmp_path):
    qn = shipped("cfl")
    frame = synthetic_frame(qn, 600, seed=5)
    store = ParquetResponseStore(tmp_path)
    with pytest.raises(db.DashboardError, match="no responses to questionnaire 'cfl' yet"):
        db.load_dashboard(store, _Registry(qn), "cfl")
    write_compacted(tmp_path, frame.iloc[10:], qn)
    before = db.store_signature(store, "cfl")
    submit_rows(store, qn, frame.iloc[:10])
    after = db.store_signature(store, "cfl")
    assert before != after
    assert db.store_signature(store, "cfl") == after
    save_drafts(store, qn, ["knowledge"], now=dt.datetime.now(dt.UTC))
    data = db.load_dashboard(store, _Registry(qn), "cfl")
    assert data.n == 600
    ref = db.prepare_dashboard(frame, {qn.version: qn})
    np.testing.assert_allclose(np.sort(data.frame["literacy_index"]),
                               np.sort(ref.frame["literacy_index"]))
    result = db.overview(data, db.Filters("cfl"), drafts=store.state.count_drafts("cfl"))
    assert result.completes == 600 and result.break_offs == 1
    with pytest.raises(db.DashboardError, match=r"no responses to version 1\.0"):
        db.load_dashboard(store, _Registry(qn), "cfl", version="1.0")


class _Registry:
    """A registry holding one questionnaire version."""

    def __init__(self, questionnaire):
        self.questionnaire = questionnaire

    def get(self, qid, version):
        if (qid, version) != (self.questionnaire.id, self.questionnaire.version):
            raise KeyError(f"{qid} {version}")
        return self.questionnaire
