"""``python -m analysis effect`` and ``prepost``: real subprocess runs, exit codes, messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis.design import Design
from analysis.effectiveness import ipw

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "reference" / "data"
SURVEY = DATA / "effect_survey.csv"
DESIGN = ["--weights", "weight", "--strata", "stratum", "--cluster", "psu"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=120, check=False,
    )


def effect(*args: str) -> subprocess.CompletedProcess[str]:
    return run("effect", str(SURVEY), "--outcome", "literacy_index", "--treatment",
               "exposure_any", *args)


def test_ipw_json_has_the_effect_and_the_balance_table():
    done = effect(*DESIGN, "--method", "ipw", "--covariates", "age,sex,education,urban",
                  "--format", "json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = json.loads(done.stdout)
    expected = ipw(
        Design(pd.read_csv(SURVEY), weights="weight", strata="stratum", cluster="psu"),
        "literacy_index", "exposure_any", ["age", "sex", "education", "urban"],
    )
    for key in ("effect", "se", "ci_lower", "ci_upper", "p_value", "effect_sd"):
        assert out[key] == pytest.approx(getattr(expected, key), rel=1e-12), key
    assert (out["method"], out["n_treated"], out["n_control"]) == (
        "ipw", expected.n_treated, expected.n_control
    )
    assert isinstance(out["balance"], list) and len(out["balance"]) == 8
    assert {"covariate", "level", "smd_before", "smd_after"} <= set(out["balance"][0])
    assert out["overlap"]["n_clipped"] == 0


def test_table_output_for_every_method(tmp_path: Path):
    parquet = tmp_path / "survey.parquet"
    pd.read_csv(SURVEY).to_parquet(parquet)
    for method in ("difference", "regression", "ipw", "aipw"):
        covariates = [] if method == "difference" else ["--covariates", "age,education"]
        done = run("effect", str(parquet), "--outcome", "literacy_index", "--treatment",
                   "exposure_any", *DESIGN, "--method", method, *covariates)
        assert done.returncode == 0, done.stderr
        first = done.stdout.splitlines()[0]
        assert first == f"Effect of exposure_any on literacy_index (method: {method})"
        assert "95% CI" in done.stdout and "treated" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--outcome", "literacy_indx", "--treatment", "exposure_any"],
            "error: Effect (difference): the outcome column 'literacy_indx' is not in the data. "
            "Did you mean 'literacy_index'? Columns: stratum, psu, weight, age, sex, education, "
            "urban, exposure_any, literacy_index.",
        ),
        (
            ["--outcome", "literacy_index", "--treatment", "stratum"],
            "error: Effect (difference): the treatment column 'stratum' must be coded 0/1 (1 = "
            "received financial education, 0 = did not) but has 900 other value(s) (2, 3, 4); "
            "recode it to 0/1, or blank the rows that belong to neither group.",
        ),
        (
            ["--outcome", "literacy_index", "--treatment", "exposure_any", "--weights", "wt"],
            "error: Design: the weights column 'wt' is not in the data. Columns available: "
            "stratum, psu, weight, age, sex, education, urban, "
            "exposure_any, literacy_index.",
        ),
        (
            ["--outcome", "literacy_index", "--treatment", "exposure_any", "--method", "ipw"],
            "error: Effect (ipw): name the covariates to adjust for (e.g. age_group, sex, "
            "education, income, urban, province); without them use method 'difference'.",
        ),
    ],
)
def test_bad_input_is_one_line_with_status_2(args, message):
    done = run("effect", str(SURVEY), *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == message + "\n"


def test_no_overlap_is_one_line_with_status_2(tmp_path: Path):
    data = pd.read_csv(SURVEY)
    data["graduate"] = (data["education"] == "graduate").astype(int)
    path = tmp_path / "separated.csv"
    data.to_csv(path, index=False)
    done = run("effect", str(path), "--outcome", "literacy_index", "--treatment", "graduate",
               "--covariates", "education,age", "--method", "aipw", *DESIGN)
    assert done.returncode == 2
    assert done.stderr == (
        "error: Effect (aipw): no overlap between treated and control respondents on "
        "'graduate': the covariates predict exposure perfectly (every treated respondent has a "
        "higher estimated propensity than every control one). Drop or coarsen the covariate "
        "that separates the groups, or compare within a subgroup where both occur.\n"
    )


def test_files_that_are_not_csv_or_parquet(tmp_path: Path):
    text = tmp_path / "survey.txt"
    text.write_text("a,b\n1,2\n")
    done = run("effect", str(text), "--outcome", "a", "--treatment", "b")
    assert (done.returncode, done.stderr) == (
        2, f"error: {str(text)!r} is not a CSV or Parquet file; give a file ending in .csv or "
        ".parquet.\n"
    )
    fake = tmp_path / "survey.parquet"
    fake.write_text("not parquet at all\n")
    done = run("effect", str(fake), "--outcome", "a", "--treatment", "b")
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {str(fake)!r} could not be read as Parquet: ")
    assert done.stderr.count("\n") == 1
    missing = tmp_path / "absent.csv"
    done = run("effect", str(missing), "--outcome", "a", "--treatment", "b")
    assert (done.returncode, done.stderr) == (2, f"error: {str(missing)!r} does not exist.\n")


def test_prepost_command():
    pre, post = DATA / "effect_quiz_pre.csv", DATA / "effect_quiz_post.csv"
    done = run("prepost", str(pre), str(post), "--id", "participant_code", "--outcome", "score",
               "--group", "group", "--items", "q1,q2", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == (
        "warning: Effect (prepost): participant code(s) 'P012' appear more than once in the "
        "post data (0 in pre, 1 in post) and were left out; fix the codes to keep them.\n"
    )
    out = json.loads(done.stdout)
    assert out["n"] == 82 and out["attrition"]["only_post"] == ["P004", "P018", "P041"]
    assert out["did"]["method"] == "prepost_did" and len(out["items"]) == 2
    table = run("prepost", str(pre), str(post), "--id", "participant_code", "--outcome",
                "score")
    assert table.returncode == 0
    assert table.stdout.startswith("Pre/post change in score (82 pairs on participant_code)")
    bad = run("prepost", str(pre), str(post), "--id", "code", "--outcome", "score")
    assert bad.returncode == 2
    assert bad.stderr == (
        "error: Effect (prepost): the pre id column 'code' is not in the data. Did you mean "
        "'score'? Columns: "
        "participant_code, phase, q1, q2, q3, q4, q5, score, group.\n"
    )
