"""``python -m analysis``: subprocess runs against the Python API, one-line errors, fuzzing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.cli import main
from analysis.design import Design
from analysis.estimation import estimate_mean, estimate_proportion, estimate_quantile
from analysis.items import analyse_items
from analysis.quality import quality_flags, quality_summary
from analysis.scoring import score_responses
from analysis.simulation import SimulationSpec, simulate
from analysis.targets import census_targets
from analysis.weighting import calibrate
from questionnaires.registry import load_registry
from responses.store import ParquetResponseStore

ROOT = Path(__file__).resolve().parents[2]
CFL = load_registry().latest("cfl")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=300, check=False, env=env,
    )


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A store with 2,500 simulated cfl responses, the raw responses and the scored data."""
    folder = tmp_path_factory.mktemp("cli")
    store = folder / "data"
    simulate(CFL, 2500, seed=77, store=store,
             spec=SimulationSpec(truth_per_province=200, validate_sample=20), truth=False)
    with ParquetResponseStore(store) as s:
        raw = s.read("cfl")
    raw_path = folder / "responses.parquet"
    raw.to_parquet(raw_path, index=False)
    scored = score_responses(raw, CFL).frame
    design = pd.read_parquet(store / "simulation" / "cfl-design.parquet")
    scored = scored.merge(design, on="response_id")
    scored_path = folder / "scored.parquet"
    scored.to_parquet(scored_path, index=False)
    csv_path = folder / "scored.csv"
    scored[["literacy_index", "province", "region", "sex", "age_band", "urban", "stratum",
            "psu"]].to_csv(csv_path, index=False)
    text = folder / "notes.txt"
    text.write_text("not data\n")
    return {"store": store, "raw": raw_path, "scored": scored_path, "csv": csv_path,
            "text": text, "folder": folder}


def test_score_json_matches_score_responses(survey):
    out = survey["folder"] / "scored-cli.parquet"
    done = run("score", str(survey["raw"]), "--questionnaire", "cfl", "--out", str(out),
               "--format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    expected = score_responses(pd.read_parquet(survey["raw"]), CFL).frame
    assert result["n"] == len(expected)
    by_score = {r["score"]: r for r in result["scores"]}
    assert by_score["literacy_index"]["mean"] == pytest.approx(
        expected["literacy_index"].mean(), rel=1e-12
    )
    written = pd.read_parquet(out)
    assert written["dim__knowledge"].to_numpy() == pytest.approx(
        expected["dim__knowledge"].to_numpy(dtype=float), rel=1e-12
    )


def test_score_from_the_store_prints_a_table(survey):
    done = run("score", "--store", str(survey["store"]), "--questionnaire", "cfl")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Scored 2500 responses to cfl 2026.1 (unweighted summary)"
    assert lines[1].split() == ["score", "n", "mean", "sd", "min", "max"]


def test_weight_json_matches_calibrate(survey):
    out = survey["folder"] / "weighted.csv"
    done = run("weight", str(survey["scored"]), "--targets", "census", "--out", str(out),
               "--format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    expected = calibrate(pd.read_parquet(survey["scored"]), census_targets())
    assert result["summary"]["weight_sum"] == pytest.approx(expected.weight_sum, rel=1e-12)
    assert result["summary"]["deff"] == pytest.approx(expected.deff, rel=1e-12)
    assert len(result["margins"]) == len(expected.margins)
    assert pd.read_csv(out)["weight"].to_numpy() == pytest.approx(expected.weights, rel=1e-9)


def test_weight_targets_file_with_trimming(survey):
    targets = survey["folder"] / "targets.csv"
    census_targets(margins=["province", "urban"]).write_csv(targets)
    done = run("weight", str(survey["scored"]), "--targets", str(targets), "--trim-upper", "3",
               "--format", "json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)["summary"]
    assert summary["weight_max"] <= 3 * summary["weight_mean"] * (1 + 1e-6)


def test_estimate_calibrated_json_matches_the_python_api(survey):
    done = run("estimate", str(survey["scored"]), "--mean", "literacy_index", "--targets",
               "census", "--strata", "stratum", "--cluster", "psu", "--by", "region",
               "--format", "json")
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    data = pd.read_parquet(survey["scored"])
    raked = calibrate(data, census_targets())
    data = data.assign(w=raked.weights, w0=raked.base_weights)
    design = Design(data, weights="w", strata="stratum", cluster="psu",
                    calibration=raked.model, base_weights="w0")
    expected = estimate_mean(design, "literacy_index", by="region")
    assert len(records) == len(expected) == 4
    for record, e in zip(records, expected, strict=True):
        assert list(record) == ["by", "variable", "level", "estimate", "se", "ci_lower",
                                "ci_upper", "df", "n", "deff"]
        assert record["by"] == {"region": e.by["region"]}
        for key in ("estimate", "se", "ci_lower", "ci_upper", "df", "deff"):
            assert record[key] == pytest.approx(getattr(e, key), rel=1e-12), key
        assert record["n"] == e.n


def test_estimate_proportion_and_quantile_from_csv(survey):
    done = run("estimate", str(survey["csv"]), "--proportion", "urban", "--format", "json")
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    data = pd.read_csv(survey["csv"])
    expected = estimate_proportion(Design(data), "urban")
    assert [r["level"] for r in records] == [e.level for e in expected]
    assert records[0]["estimate"] == pytest.approx(expected[0].estimate, rel=1e-12)
    done = run("estimate", str(survey["csv"]), "--quantile", "literacy_index", "--q", "0.25",
               "--strata", "stratum", "--format", "csv")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(pd.io.common.StringIO(done.stdout))
    q = estimate_quantile(Design(data, strata="stratum"), "literacy_index", quantiles=0.25)[0]
    assert table["estimate"].iloc[0] == pytest.approx(q.estimate, rel=1e-12)
    assert table["se"].iloc[0] == pytest.approx(q.se, rel=1e-9)


def test_estimate_table(survey):
    done = run("estimate", str(survey["scored"]), "--total", "exposure_any", "--by", "region")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == (
        "Total of exposure_any (equal weights, simple random sample)"
    )
    assert len(done.stdout.splitlines()) == 6


def test_items_and_quality_json_match_the_python_api(survey):
    raw = pd.read_parquet(survey["raw"])
    done = run("items", str(survey["raw"]), "--questionnaire", "cfl", "--format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    expected = analyse_items(raw, CFL)
    assert [r["item"] for r in result["items"]] == expected.items["item"].tolist()
    alpha = {r["dimension"]: r["alpha"] for r in result["dimensions"]}
    for row in expected.dimensions.itertuples():
        assert alpha[row.dimension] == pytest.approx(row.alpha, rel=1e-12)
    done = run("quality", "--store", str(survey["store"]), "--questionnaire", "cfl",
               "--format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    summary = quality_summary(quality_flags(raw, CFL))
    assert result["n"] == summary.n
    assert {r["flag"]: r["n_flagged"] for r in result["flags"]} == dict(summary.counts)


def test_simulate_and_demo(tmp_path: Path):
    done = run("simulate", "--questionnaire", "oecd_infe", "--n", "120", "--seed", "3",
               "--out", str(tmp_path / "sim"), "--truth-per-province", "200", "--format",
               "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["n_submitted"] == 120
    assert Path(result["truth_path"]).is_file()
    with ParquetResponseStore(tmp_path / "sim") as store:
        assert store.count("oecd_infe") == 120
    demo_dir = tmp_path / "demo"
    done = run("demo", "--if-empty", "--data-dir", str(demo_dir))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Demo data stored in {demo_dir}")
    done = run("demo", "--if-empty", "--data-dir", str(demo_dir), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["skipped"] is True
    with ParquetResponseStore(demo_dir) as store:
        assert store.count("cfl") == 3000
        assert store.count("oecd_infe") == 1000
        assert store.count("edu_quiz") > 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["estimate", "{scored}", "--mean", "literacy_indx"],
            "error: --mean: column 'literacy_indx' is not in the data (did you mean "
            "'literacy_index'?); columns: response_id, questionnaire_id, questionnaire_version, "
            "submitted_at, score__k_inflation, score__k_compound, score__k_risk_return, "
            "score__k_diversify, score__k_deposit_insurance, score__k_credit_negative, "
            "score__k_credit_repair, score__k_cc_minimum, score__k_insurance_cooling, "
            "score__k_counterfeit, score__k_illegal_fundraising and {more} more.",
        ),
        (
            ["estimate", "{scored}", "--quantile", "literacy_index", "--q", "1.5"],
            "error: estimate: argument --q: must be a probability between 0 and 1, not '1.5' "
            "(see 'python -m analysis estimate --help')",
        ),
        (
            ["estimate", "{scored}", "--mean", "literacy_index", "--q", "0.5"],
            "error: --q is the probability of --quantile; give --quantile COL too.",
        ),
        (
            ["estimate", "{folder}/missing.csv", "--mean", "x"],
            "error: '{folder}/missing.csv' does not exist.",
        ),
        (
            ["estimate", "{text}", "--mean", "x"],
            "error: '{text}' is not a CSV or Parquet file; give a file ending in .csv or "
            ".parquet.",
        ),
        (
            ["estimate", "{scored}", "--mean", "literacy_index", "--bogus"],
            "error: unrecognized arguments: --bogus (see 'python -m analysis --help')",
        ),
        (
            ["score", "{raw}", "--questionnaire", "nope"],
            "error: no questionnaire 'nope'; the questionnaires are cfl, edu_quiz, oecd_infe",
        ),
        (
            ["score", "{raw}"],
            "error: score needs --questionnaire ID (whose scoring rules to use).",
        ),
        (
            ["estimate", "{scored}"],
            "error: estimate: one of the arguments --mean --total --proportion --quantile is "
            "required (see 'python -m analysis estimate --help')",
        ),
        (
            ["weight", "{scored}", "--targets", "{folder}/none.csv"],
            "error: --targets '{folder}/none.csv' does not exist.",
        ),
        (
            ["simulate", "--questionnaire", "cfl", "--n", "0", "--seed", "1"],
            "error: simulate: argument --n: must be a whole number >= 1, not '0' (see "
            "'python -m analysis simulate --help')",
        ),
        (
            ["frobnicate"],
            "error: argument COMMAND: invalid choice: 'frobnicate' (choose from 'score', "
            "'weight', 'estimate', 'items', 'quality', 'simulate', 'demo', 'effect', 'prepost', "
            "'export', 'export-tables') "
            "(see 'python -m analysis --help')",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(survey, args, message):
    paths = {k: str(v) for k, v in survey.items()}
    paths["more"] = str(len(pd.read_parquet(survey["scored"]).columns) - 15)
    done = run(*(a.format(**paths) for a in args))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == message.format(**paths) + "\n"


def test_a_file_that_is_not_parquet(survey):
    fake = survey["folder"] / "fake.parquet"
    fake.write_text("a,b\n1,2\n")
    done = run("estimate", str(fake), "--mean", "a")
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: '{fake}' could not be read as Parquet: ")
    assert done.stderr.count("\n") == 1


WORDS = [
    "score", "weight", "estimate", "items", "quality", "simulate", "effect", "prepost",
    "--mean", "--total", "--proportion", "--quantile", "--q", "--weights", "--strata",
    "--cluster", "--fpc", "--by", "--targets", "--method", "--alpha", "--format",
    "--questionnaire", "--store", "--version", "--out", "--n", "--seed", "--bounds",
    "--trim-upper", "--base-weights", "--help", "--bogus", "--if-empty", "--data-dir",
    "--outcome", "--treatment", "census", "cfl", "nope", "json", "table", "csv", "rake",
    "linear", "logit", "0.5", "1.5", "-1", "0", "abc", "0.3,3", "literacy_index", "province",
    "region", "stratum", "psu", "urban", "sex", "", "2026.1",
]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_arguments_give_exit_0_or_2_and_at_most_one_error_line(survey, capsys, data):
    """Random argument lists from the CLI's vocabulary (subcommands, flags, values, real and
    missing files) never raise anything but SystemExit(0 or 2) and never print a traceback:
    the result is output, or a single ``error:`` line. (The words never include a valid
    ``--n``, so ``simulate`` cannot start writing data; ``demo`` is tested above.)"""
    files = [str(survey[k]) for k in ("raw", "scored", "csv", "text", "store")]
    files += [str(survey["folder"] / "missing.parquet"), str(survey["folder"] / "o.parquet")]
    args = data.draw(st.lists(st.sampled_from(WORDS + files), max_size=8))
    capsys.readouterr()
    try:
        code = main(args)
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    assert code in (0, 2), (args, out.err)
    assert "Traceback" not in out.err
    errors = [line for line in out.err.splitlines() if not line.startswith("warning: ")]
    if code == 2:
        assert len(errors) == 1 and errors[0].startswith(("error: ", "usage: ")) is True, (
            args, out.err)
        assert errors[0].startswith("error: ")
    else:
        assert errors == []
