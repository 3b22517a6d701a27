"""National and provincial averages for the feedback page, checked against R's survey package.

Reference: ``tests/reference/averages.R`` (rake of an ``svydesign(ids=~1)`` to the census adult
margins province, province x sex, province x age_band, province x urban; ``svymean`` and
``svyby(~province)``), output committed as ``tests/reference/averages_r.json``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.averages import MARGIN_SETS, average_scores, score_averages
from analysis.scoring import score_responses
from questionnaires import load_registry
from tests.analysis.samples import stored

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
R_SCRIPT = REFERENCE / "averages.R"
R_OUTPUT = REFERENCE / "averages_r.json"
DATA = REFERENCE / "data" / "averages_scored.csv"
VARIABLES = ("dim__knowledge", "dim__attitude", "dim__behaviour", "dim__skills", "literacy_index")


def scored_sample() -> pd.DataFrame:
    frame = pd.read_csv(DATA)
    frame["province"] = frame["province"].astype("Int64")
    for column in ("sex", "age_band", "urban"):
        frame[column] = frame[column].astype("category")
    for column in VARIABLES:
        frame[column] = frame[column].astype("Float64")
    return frame


@pytest.fixture(scope="module")
def r() -> dict:
    return json.loads(R_OUTPUT.read_text())


@pytest.fixture(scope="module")
def averages():
    return average_scores(scored_sample(), VARIABLES)


def test_the_within_province_margins_are_used_when_the_sample_fills_them(averages, r):
    assert averages.weighted_on == MARGIN_SETS[0]
    assert averages.n == r["n"] == 496


def test_national_means_and_standard_errors_match_r(averages, r):
    """svymean(~v, rake(svydesign(ids=~1, weights=~w0), ...), na.rm=TRUE)."""
    for variable in VARIABLES:
        got = averages.national.find(variable=variable)
        want = r["national"][variable]
        assert got.estimate == pytest.approx(want["estimate"], rel=1e-9)
        assert got.se == pytest.approx(want["se"], rel=1e-7)
    skills = averages.national.find(variable="dim__skills")
    assert skills.n == 496 - 15  # the missing scores are left out of that mean only


def test_province_means_and_standard_errors_match_r(averages, r):
    """svyby(~v, ~province, raked, svymean, na.rm=TRUE)."""
    for variable in VARIABLES:
        want = r["provincial"][variable]
        for code, estimate, se in zip(want["province"], want["estimate"], want["se"], strict=True):
            got = averages.provincial.find(variable=variable, province=int(code))
            assert got.estimate == pytest.approx(estimate, rel=1e-9)
            assert got.se == pytest.approx(se, rel=1e-7)


def test_province_averages_need_min_n_responses(averages):
    assert averages.province_n(11) == 16
    assert averages.province_mean("literacy_index", 11) is None  # 16 < 30
    small = average_scores(scored_sample(), VARIABLES, min_n=10)
    assert small.province_mean("literacy_index", 11) is not None
    assert small.province_mean("literacy_index", None) is None
    assert averages.national_mean("literacy_index") is not None


def test_coarser_margins_when_provinces_are_missing(r):
    frame = scored_sample()
    only_two = frame[frame["province"].isin([11, 44])].reset_index(drop=True)
    result = average_scores(only_two, VARIABLES)
    assert result.weighted_on == ("sex", "age_band", "urban")
    assert result.national_mean("literacy_index") is not None


def test_unweighted_when_nothing_can_be_weighted():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"dim__knowledge": pd.array(rng.uniform(0, 100, 40), dtype="Float64")})
    result = average_scores(frame, ["dim__knowledge"])
    assert result.weighted_on == ()
    mean = result.national_mean("dim__knowledge")
    assert mean.estimate == pytest.approx(float(frame["dim__knowledge"].mean()), rel=1e-12)
    assert len(result.provincial) == 0


def test_too_few_responses_give_no_numbers():
    cfl = load_registry().latest("cfl")
    result = score_averages(pd.DataFrame(), cfl)
    assert result.n == 0 and len(result.national) == 0
    assert result.national_mean("literacy_index") is None
    assert result.variables[-1] == "literacy_index"
    assert result.to_frame().empty


def test_score_averages_scores_stored_rows_first():
    quiz = load_registry().latest("edu_quiz")
    rng = np.random.default_rng(3)
    rows = []
    for i in range(35):
        answers = {"participant_code": f"ABC{i:04d}", "phase": "pre"}
        for q in quiz.section("quiz").questions:
            if q.type == "integer":
                answers[q.name] = int(rng.integers(0, 300))
            else:
                answers[q.name] = str(rng.choice(list(q.choices.names)))
        rows.append(answers)
    frame = stored(quiz, rows)
    result = score_averages(frame, quiz)
    assert result.weighted_on == ()  # the quiz has no demographics
    mean = result.national_mean("quiz_score")
    plain = score_responses(frame, quiz).frame["quiz_score"].astype(float).mean()
    assert mean.estimate == pytest.approx(plain, rel=1e-12)
    assert mean.n == 35


@pytest.mark.r
def test_r_script_reproduces_the_committed_output(tmp_path: Path):
    """Rscript tests/reference/averages.R <tmp>: same data and numbers as committed."""
    rscript = shutil.which("Rscript")
    assert rscript is not None, "Rscript is not installed (scripts/setup.sh installs it)"
    subprocess.run(
        [rscript, str(R_SCRIPT), str(tmp_path)], check=True, capture_output=True, timeout=600
    )
    assert (tmp_path / "data" / "averages_scored.csv").read_text() == DATA.read_text()
    fresh = json.loads((tmp_path / "averages_r.json").read_text())
    committed = json.loads(R_OUTPUT.read_text())
    for variable in VARIABLES:
        for key in ("estimate", "se"):
            assert fresh["national"][variable][key] == pytest.approx(
                committed["national"][variable][key], rel=1e-12
            )
    assert np.allclose(fresh["weights"], committed["weights"], rtol=1e-12)
    for variable in VARIABLES:
        for key in ("estimate", "se"):
            assert np.allclose(
                fresh["provincial"][variable][key],
                committed["provincial"][variable][key],
                rtol=1e-12,
            )
