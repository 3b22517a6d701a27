"""Benchmark: raking synthetic respondents to the four within-province census margins.

Times ``analysis.weighting.calibrate(method="rake")`` against R's ``survey::rake()`` (Rscript,
same data through CSV) and the ``svy`` package (``Sample.weighting.rake``, same data through
Parquet), in one run. Each tool runs in its own process, so the peak resident memory reported
(``ru_maxrss`` of that process, from ``os.wait4``) is its own: interpreter, data and method.
The time is the best of ``--repeats`` runs of the raking call alone (data already loaded);
the weights of each tool are compared with ours (largest relative difference).

Usage::

    python bench/bench_weighting.py                          # 100,000 and 1,000,000 rows
    python bench/bench_weighting.py --sizes 2000 --repeats 1   # smoke run
    python bench/bench_weighting.py --tools ours svy --out bench/results/weighting.json

The margins are province (31), province x sex, province x age band (15-59, 60+) and
province x urban/rural: 248 joint cells. Respondents are spread evenly over the provinces
(as the PBoC survey's equal allocation) with biased sex, age and urban shares, and base
weights uniform on (0.5, 1.5).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analysis.targets import census_targets, load_census  # noqa: E402
from analysis.weighting import calibrate  # noqa: E402

MARGINS = ("province", "province*sex", "province*age_band", "province*urban")
CROSSED = {
    "province*sex": "prov_sex",
    "province*age_band": "prov_age",
    "province*urban": "prov_urban",
}
TOL = 1e-7
MAX_ITER = 100

R_SCRIPT = r"""
suppressPackageStartupMessages({library(survey); library(data.table); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
data_csv <- args[[1]]; targets_csv <- args[[2]]; out_csv <- args[[3]]
repeats <- as.integer(args[[4]]); epsilon <- as.numeric(args[[5]]); maxit <- as.integer(args[[6]])
d <- fread(data_csv, colClasses = list(character = c("sex", "age_band", "urban")))
d <- as.data.frame(d)
tg <- fread(targets_csv, colClasses = list(character = c("variable", "level")))
pop <- function(name, vars) {
  rows <- tg[tg$variable == name, ]
  parts <- do.call(rbind, strsplit(rows$level, "*", fixed = TRUE))
  out <- data.frame(parts, stringsAsFactors = FALSE)
  names(out) <- vars
  out$province <- as.integer(out$province)
  out$Freq <- rows$total
  out
}
pops <- list(pop("province", "province"), pop("province*sex", c("province", "sex")),
             pop("province*age_band", c("province", "age_band")),
             pop("province*urban", c("province", "urban")))
des <- svydesign(ids = ~1, weights = ~w, data = d)
best <- Inf
for (i in seq_len(repeats)) {
  invisible(gc(reset = TRUE))
  t <- system.time(r <- rake(des, list(~province, ~province + sex, ~province + age_band,
                                       ~province + urban), pops,
                             control = list(maxit = maxit, epsilon = epsilon)))[["elapsed"]]
  best <- min(best, t)
}
mem <- gc()
fwrite(data.table(weight = weights(r)), out_csv)
cat(toJSON(list(seconds = best, r_gc_max_used_mb = sum(mem[, ncol(mem)])), auto_unbox = TRUE),
    "\n")
"""


# ------------------------------------------------------------------------------- data
def synthesize(n: int, seed: int = 20201101) -> pd.DataFrame:
    """``n`` synthetic adult respondents, evenly spread over the 31 provinces."""
    rng = np.random.default_rng(seed)
    census = load_census()
    codes = census["gb_code"].to_numpy()
    index = rng.integers(0, len(codes), n)
    male = census["male_pct"].to_numpy()[index] / 100
    urban = census["urban_pct"].to_numpy()[index] / 100
    old = (census["age_60_plus_pct"] / (100 - census["age_0_14_pct"])).to_numpy()[index]
    frame = pd.DataFrame(
        {
            "province": codes[index],
            "sex": np.where(rng.random(n) < 0.9 * male, "male", "female"),
            "age_band": np.where(rng.random(n) < 0.6 * old, "60+", "15-59"),
            "urban": np.where(rng.random(n) < np.minimum(1.15 * urban, 0.98), "urban", "rural"),
            "w": rng.uniform(0.5, 1.5, n),
        }
    )
    # crossed columns for svy, whose raking takes one column per margin
    for name, column in CROSSED.items():
        other = name.split("*")[1]
        frame[column] = frame["province"].astype(str) + "|" + frame[other]
    return frame


# ----------------------------------------------------------------------------- workers
def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_ours(parquet: Path, out: Path, repeats: int) -> dict[str, float]:
    data = pd.read_parquet(parquet, columns=["province", "sex", "age_band", "urban", "w"])
    targets = census_targets(margins=MARGINS)
    loaded = _peak_rss_mb()
    best = np.inf
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = calibrate(data, targets, weights="w", method="rake", tol=TOL, max_iter=MAX_ITER)
        best = min(best, time.perf_counter() - start)
    assert result is not None
    np.save(out, result.weights)
    return {
        "seconds": best,
        "iterations": result.iterations,
        "max_margin_error": result.max_margin_error,
        "rss_after_load_mb": loaded,
    }


def worker_svy(parquet: Path, out: Path, repeats: int) -> dict[str, float]:
    import polars as pl
    import svy

    columns = ["province", "w", *CROSSED.values()]
    data = pl.read_parquet(parquet, columns=columns)
    targets = census_targets(margins=MARGINS)
    controls: dict[str, dict[object, float]] = {
        "province": {int(k): float(v) for k, v in targets.margins["province"].items()}
    }
    for name, column in CROSSED.items():
        controls[column] = {f"{p}|{c}": float(v) for (p, c), v in targets.margins[name].items()}
    sample = svy.Sample(data, svy.Design(wgt="w"))
    loaded = _peak_rss_mb()
    best = np.inf
    raked = None
    for _ in range(repeats):
        start = time.perf_counter()
        raked = sample.weighting.rake(controls=controls, tol=TOL, max_iter=MAX_ITER)
        best = min(best, time.perf_counter() - start)
    assert raked is not None
    np.save(out, raked.data.get_column("rk_wgt").to_numpy())
    return {"seconds": best, "rss_after_load_mb": loaded}


def _run(command: list[str]) -> tuple[str, float]:
    """Run a command; return its stdout and its own peak resident memory (MB)."""
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        text, err = stdout.read().decode(), stderr.read().decode()
    if process.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({process.returncode}):\n{err}")
    return text, usage.ru_maxrss / 1024


# ------------------------------------------------------------------------------ driver
def bench_size(n: int, tools: list[str], repeats: int, workdir: Path) -> list[dict[str, object]]:
    frame = synthesize(n)
    parquet = workdir / f"respondents_{n}.parquet"
    csv = workdir / f"respondents_{n}.csv"
    frame.to_parquet(parquet, index=False)
    frame[["province", "sex", "age_band", "urban", "w"]].to_csv(csv, index=False)
    targets_csv = workdir / "targets.csv"
    census_targets(margins=MARGINS).write_csv(targets_csv)

    rows: list[dict[str, object]] = []
    weights: dict[str, np.ndarray] = {}
    for tool in tools:
        out = workdir / f"weights_{tool}_{n}"
        if tool in ("ours", "svy"):
            text, peak = _run(
                [sys.executable, __file__, "--worker", tool, str(parquet), str(out), str(repeats)]
            )
            info = json.loads(text.strip().splitlines()[-1])
            weights[tool] = np.load(f"{out}.npy")
        else:
            rscript = shutil.which("Rscript")
            if rscript is None:
                raise RuntimeError("Rscript is not on PATH; run with --tools ours svy")
            script = workdir / "rake.R"
            script.write_text(R_SCRIPT, encoding="utf-8")
            text, peak = _run(
                [
                    rscript,
                    str(script),
                    str(csv),
                    str(targets_csv),
                    f"{out}.csv",
                    str(repeats),
                    str(TOL),
                    str(MAX_ITER),
                ]
            )
            info = json.loads(text.strip().splitlines()[-1])
            weights[tool] = pd.read_csv(f"{out}.csv")["weight"].to_numpy()
        rows.append({"n": n, "tool": tool, "peak_rss_mb": round(peak, 1), **info})
    if "ours" in weights:
        for row in rows:
            other = weights[str(row["tool"])]
            row["max_rel_diff_vs_ours"] = float(np.max(np.abs(other / weights["ours"] - 1)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--tools", nargs="+", default=["ours", "svy", "R"], choices=["ours", "svy", "R"]
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        tool, parquet, out, repeats = args.worker
        run = worker_ours if tool == "ours" else worker_svy
        print(json.dumps(run(Path(parquet), Path(out), int(repeats))))
        return 0

    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="bench_weighting_") as tmp:
        for n in args.sizes:
            rows.extend(bench_size(n, args.tools, args.repeats, Path(tmp)))
    table = pd.DataFrame(rows)
    print(
        f"Raking {len(MARGINS)} within-province margins (248 cells); best of {args.repeats}; "
        f"{os.cpu_count()} CPUs"
    )
    print(table.to_string(index=False))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
