"""Simulated surveys: reproducible, valid against the questionnaire, truth that estimation finds."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from analysis.design import Design
from analysis.effectiveness import prepost
from analysis.estimation import estimate_mean
from analysis.quality import quality_flags
from analysis.scoring import score_responses
from analysis.simulation import (
    REPRESENTATIVE,
    SimulationError,
    SimulationSpec,
    Skew,
    generate_people,
    simulate,
    true_values,
)
from analysis.targets import census_targets, load_census
from analysis.weighting import calibrate
from questionnaires.registry import load_registry
from responses.errors import ResponseError
from responses.store import ParquetResponseStore
from responses.validation import from_columns, to_columns

REGISTRY = load_registry()
CFL = REGISTRY.latest("cfl")
OECD = REGISTRY.latest("oecd_infe")
QUIZ = REGISTRY.latest("edu_quiz")
SMALL = SimulationSpec(truth_per_province=300, validate_sample=50)


def read(folder: Path, qid: str) -> pd.DataFrame:
    with ParquetResponseStore(folder) as store:
        frame = store.read(qid)
    return frame.sort_values("response_id", ignore_index=True)


def test_same_seed_same_responses_other_seed_other_responses(tmp_path: Path):
    for folder, seed in (("a", 5), ("b", 5), ("c", 6)):
        simulate(CFL, 400, seed=seed, store=tmp_path / folder, spec=SMALL, truth=False)
    a, b, c = (read(tmp_path / f, "cfl") for f in "abc")
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == len(c) == 400
    assert not set(a["response_id"]) & set(c["response_id"])
    assert not a["k_inflation"].equals(c["k_inflation"])


@pytest.mark.parametrize("questionnaire", [CFL, OECD, QUIZ], ids=lambda q: q.id)
def test_every_row_is_valid_and_encoded_as_the_app_encodes_it(tmp_path: Path, questionnaire):
    """Bulk rows read back from the store equal to_columns(from_columns(row)) (which checks the
    answers against the questionnaire: skip logic, types, ranges, constraints)."""
    simulate(questionnaire, 300, seed=11, store=tmp_path, spec=SMALL, truth=False)
    frame = read(tmp_path, questionnaire.id)
    assert len(frame) >= 270  # edu_quiz: 300 pre-tests and the post-tests of those who return
    for row in frame.to_dict(orient="records"):
        stored = to_columns(questionnaire, from_columns(questionnaire, row))
        for name, value in stored.items():
            if name == "province":
                continue
            have = row[name]
            assert (value is None and pd.isna(have)) or have == value, name


@pytest.mark.parametrize("questionnaire", [CFL, OECD, QUIZ], ids=lambda q: q.id)
def test_submit_path_stores_through_submit_answers(tmp_path: Path, questionnaire):
    spec = replace(SMALL, rates=replace(SMALL.rates, breakoff=0.2))
    result = simulate(questionnaire, 25, seed=3, store=tmp_path, method="submit", spec=spec,
                      truth=False)
    with ParquetResponseStore(tmp_path) as store:
        assert store.count(questionnaire.id) == result.n_submitted
        assert store.uncompacted_files(questionnaire.id) == result.n_submitted
    assert result.validated == result.n_submitted


def test_bulk_and_submit_store_the_same_rows(tmp_path: Path):
    simulate(CFL, 30, seed=9, store=tmp_path / "bulk", spec=SMALL, truth=False)
    simulate(CFL, 30, seed=9, store=tmp_path / "submit", spec=SMALL, truth=False,
             method="submit")
    bulk, one_by_one = read(tmp_path / "bulk", "cfl"), read(tmp_path / "submit", "cfl")
    answers = [c.name for c in CFL.columns() if c.name in bulk.columns]
    pd.testing.assert_frame_equal(bulk[["response_id", *answers]],
                                  one_by_one[["response_id", *answers]])


def test_breakoffs_are_drafts_never_submitted(tmp_path: Path):
    result = simulate(CFL, 200, seed=4, store=tmp_path, spec=SMALL, truth=False)
    with ParquetResponseStore(tmp_path) as store:
        ids = set(store.read("cfl", columns=["response_id"])["response_id"])
    with contextlib.closing(sqlite3.connect(tmp_path / "state.sqlite3")) as db:
        draft_ids = [r[0] for r in db.execute("select response_id from drafts")]
    assert result.n_breakoffs == len(draft_ids) > 10
    assert not set(draft_ids) & ids


def test_same_seed_twice_into_one_folder_is_refused(tmp_path: Path):
    simulate(CFL, 50, seed=1, store=tmp_path, spec=SMALL, truth=False)
    with pytest.raises(SimulationError, match=r"already stored .* another seed"):
        simulate(CFL, 50, seed=1, store=tmp_path, spec=SMALL, truth=False)


def test_publish_bulk_refuses_bad_tables(tmp_path: Path):
    store = ParquetResponseStore(tmp_path)
    with pytest.raises(ResponseError, match="fixed column 'response_id' is missing"):
        store.publish_bulk(pa.table({"x": [1]}))
    simulate(CFL, 20, seed=2, store=store, spec=SMALL, truth=False)
    table = store.read_table("cfl").table
    with pytest.raises(ResponseError, match="is already stored"):
        store.publish_bulk(table)
    doubled = pa.concat_tables([table.slice(0, 1), table.slice(0, 1)])
    with pytest.raises(ResponseError, match="appears more than once"):
        store.publish_bulk(doubled)


def test_sample_is_skewed_as_specified():
    people = generate_people(20_000, seed=1, skew=Skew())
    population = generate_people(20_000, seed=1, skew=REPRESENTATIVE)
    assert (people["age_band"] == "60+").mean() < 0.5 * (population["age_band"] == "60+").mean()
    assert people["urban"].mean() > population["urban"].mean() + 0.1
    assert people["education"].mean() > population["education"].mean() + 0.2
    assert people["province"].nunique() == 31
    assert people.groupby("province").size().min() >= 40


def test_truth_json_is_consistent(tmp_path: Path):
    spec = replace(SMALL, truth_per_province=2000)
    result = simulate(CFL, 300, seed=21, store=tmp_path, spec=spec)
    saved = json.loads((tmp_path / "simulation" / "truth.json").read_text())["cfl"]
    again = true_values(CFL, seed=21 + 7919, spec=spec)
    assert saved["national"] == again["national"]
    assert saved["sample"]["n_submitted"] == 300 == result.n_submitted
    census = load_census().set_index("gb_code")
    adults = census["population"] * (100 - census["age_0_14_pct"]) / 100
    provincial = pd.DataFrame(saved["provincial"]).T
    provincial.index = provincial.index.astype(int)
    for column in ("literacy_index", "dim__knowledge"):
        weighted = np.average(provincial[column], weights=adults[provincial.index])
        assert weighted == pytest.approx(saved["national"][column], abs=1e-3)
    regional = saved["regional"]
    assert regional["East"]["literacy_index"] > regional["Central"]["literacy_index"]
    assert regional["Central"]["literacy_index"] > regional["West"]["literacy_index"]
    assert 62 < saved["national"]["literacy_index"] < 68  # PBoC 2017-2021: 63.7-66.8
    effect = saved["exposure"]["effects"]["dim__knowledge"]
    assert 0.15 < effect["effect_sd"] < 0.25
    assert effect["naive_difference"] > 1.5 * effect["effect"]  # confounded by education
    assert saved["exposure"]["effects"]["dim__attitude"]["effect"] == 0.0


def test_careless_respondents_are_flagged(tmp_path: Path):
    result = simulate(CFL, 2000, seed=8, store=tmp_path, spec=SMALL, truth=False)
    frame = read(tmp_path, "cfl")
    flags = quality_flags(frame, CFL)
    planted = result.truth["sample"]
    assert flags["speeder"].sum() == pytest.approx(planted["n_speeders"], abs=3)
    assert flags["attention_failed"].sum() == pytest.approx(
        planted["n_attention_failed_planted"], abs=5
    )
    assert flags["straightliner"].sum() >= planted["n_straightliners"]


def test_weighted_estimate_covers_the_truth_and_the_unweighted_does_not(tmp_path: Path):
    """Raking to the census margins removes the sample's skew; the unweighted mean keeps it.

    The sample of 6,000 cfl responses over-represents the under-60s (60+ included at 0.3 the
    rate), urban residents (rural at 0.4), men (women at 0.9) and small provinces (allocation
    by the square root of the population). Literacy falls with age after 45 and is lower in
    the countryside, so the unweighted national mean is some 3-4 index points too high:
    about ten standard errors, far beyond chance. The selection is a product of factors of
    the raking variables within each province, so raking to ``province``, ``province*sex``,
    ``province*age_band`` and ``province*urban`` (the census margins) removes the bias; the
    estimate's standard error accounts for the raking, the strata (provinces) and the
    counties (PSUs). The truth is the census-weighted mean of a simulated population of
    5,000 per province (Monte Carlo SE about 0.05). With this seed the weighted interval
    covers the truth; its z-score is checked to be well inside the interval (|z| < 1.5), so
    the test is not a coin flip, and the unweighted z-score beyond 6.
    """
    spec = SimulationSpec(truth_per_province=5000, validate_sample=50)
    result = simulate(CFL, 6000, seed=2026, store=tmp_path, spec=spec)
    truth = result.truth["national"]["literacy_index"]
    responses = read(tmp_path, "cfl")
    scored = score_responses(responses, CFL).frame
    design_file = pd.read_parquet(tmp_path / "simulation" / "cfl-design.parquet")
    data = scored.merge(design_file, on="response_id", validate="one_to_one")
    raked = calibrate(data, census_targets(), method="rake")
    data["w"] = raked.weights
    design = Design(data, weights="w", strata="stratum", cluster="psu",
                    calibration=raked.model)
    weighted = estimate_mean(design, "literacy_index")[0]
    unweighted = estimate_mean(Design(data, strata="stratum", cluster="psu"),
                               "literacy_index")[0]
    assert weighted.ci_lower <= truth <= weighted.ci_upper
    assert abs(weighted.estimate - truth) / weighted.se < 1.5
    assert not unweighted.ci_lower <= truth <= unweighted.ci_upper
    assert (unweighted.estimate - truth) / unweighted.se > 6


def test_prepost_quiz_with_control_group(tmp_path: Path):
    spec = replace(SMALL, rates=replace(SMALL.rates, speeder=0.0))
    result = simulate(QUIZ, 1500, seed=12, store=tmp_path, spec=spec)
    truth = result.truth
    frame = read(tmp_path, "edu_quiz")
    scored = score_responses(frame, QUIZ).frame
    groups = pd.read_csv(tmp_path / "simulation" / "edu_quiz-groups.csv")
    scored = scored.merge(groups, on="participant_code")
    pre = scored[scored["phase"] == "pre"]
    post = scored[scored["phase"] == "post"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = prepost(pre, post, id="participant_code", outcome="quiz_score", group="group",
                        treated="treated")
    assert found.n == truth["sample"]["post_tests"]
    assert found.did is not None
    assert abs(found.did.effect - truth["did"]) < 3 * found.did.se
    assert truth["change_treated"] > truth["change_control"] > 0
