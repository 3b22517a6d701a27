"""Benchmark: province means of 5 outcomes with calibration-aware SEs, against R and svy.

A synthetic survey like the PBoC's (31 provinces x urban/rural strata, 50 PSUs per stratum,
raked to province, sex, age band and urban/rural margins) with 100,000 and 1,000,000
respondents, with no missing answers (R's svyby of several variables drops a row missing any
of them; ours and svy's drop it per variable). Each tool runs in its own process on the same
data, rakes the weights itself (not timed: that is weighting's job) and then estimates the 5
means by province with standard errors that account for the strata, the clusters and the
raking:

- ours: ``estimate_mean(Design(..., calibration=CalibrationModel(method="rake")), ...)``
- R: ``svyby(~y1+...+y5, ~province, rake(svydesign(...), ...), svymean, na.rm=TRUE)``
- svy: ``sample.weighting.rake(...)`` then ``sample.estimation.mean([...], by="province")``

Reported per tool: seconds (best of ``--repeat``), peak resident memory while estimating and
its increase over the memory held before, and the largest relative difference of estimates
and SEs from ours. Usage::

    python bench/bench_estimation.py                  # 100k and 1M rows (R: ~25 minutes)
    python bench/bench_estimation.py --smoke          # 5,000 rows, seconds
    python bench/bench_estimation.py --rows 200000 --no-r

Results go to ``bench/out/estimation.json`` (git-ignored) and to the terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
CENSUS = ROOT / "data" / "reference" / "china_provinces_census2020.csv"
OUTCOMES = ["y1", "y2", "y3", "y4", "y5"]
MARGINS = ["province", "sex", "age", "urban"]
PSUS_PER_STRATUM = 50
AGE_SHARES = {"18-29": 0.2, "30-44": 0.27, "45-59": 0.28, "60+": 0.25}
SEX_SHARES = {"F": 0.4876, "M": 0.5124}


# --------------------------------------------------------------------------------------------
# Data


def make_survey(n: int, seed: int = 20260101) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    """Synthetic respondents with base weights, and the raking targets (population margins)."""
    rng = np.random.default_rng(seed)
    census = pd.read_csv(CENSUS, dtype={"gb_code": str})
    adults = census["population"] * (100 - census["age_0_14_pct"]) / 100
    urban_share = census["urban_pct"].to_numpy() / 100
    strata = [(p, u) for p in range(31) for u in (0, 1)]
    n_strata = len(strata)
    per_stratum = np.full(n_strata, n // n_strata)
    per_stratum[: n - per_stratum.sum()] += 1
    rows = []
    psu_id = 0
    for h, (p, u) in enumerate(strata):
        size = int(per_stratum[h])
        psu_of = np.sort(rng.integers(0, PSUS_PER_STRATUM, size=size))
        _, counts = np.unique(psu_of, return_counts=True)
        population = adults[p] * (urban_share[p] if u else 1 - urban_share[p])
        psu_factor = rng.lognormal(0, 0.3, size=len(counts))
        base = np.repeat(population / size * psu_factor / psu_factor.mean(), counts)
        psu_effect = np.repeat(rng.normal(0, 4, size=len(counts)), counts)
        rows.append(
            pd.DataFrame(
                {
                    "province": census["gb_code"][p],
                    "urban": "urban" if u else "rural",
                    "stratum": h,
                    "psu": psu_id + np.repeat(np.arange(len(counts)), counts),
                    "w_base": base,
                    "effect": psu_effect + (6 if u else 0) + (p % 7),
                }
            )
        )
        psu_id += len(counts)
    data = pd.concat(rows, ignore_index=True)
    m = len(data)
    data["sex"] = rng.choice(list(SEX_SHARES), size=m, p=[0.52, 0.48])
    data["age"] = rng.choice(list(AGE_SHARES), size=m, p=[0.3, 0.3, 0.25, 0.15])
    age_effect = data["age"].map({"18-29": 2.0, "30-44": 4.0, "45-59": 1.0, "60+": -5.0})
    latent = 60 + data["effect"] + age_effect.to_numpy() + rng.normal(0, 15, size=m)
    data["y1"] = np.clip(np.round(latent / 100 * 7 + rng.normal(0, 1, m)), 0, 7)
    data["y2"] = np.clip(np.round(latent / 100 * 9 + rng.normal(0, 1.5, m)), 0, 9)
    data["y3"] = np.clip(latent / 25 + rng.normal(0, 0.5, m), 1, 5)
    data["y4"] = np.clip(latent, 0, 100)
    data["y5"] = (latent + rng.normal(0, 10, m) > 65).astype(float)
    data = data.drop(columns="effect")
    total = float(adults.sum())
    targets = {
        "province": dict(zip(census["gb_code"], adults.astype(float), strict=True)),
        "sex": {k: v * total for k, v in SEX_SHARES.items()},
        "age": {k: v * total for k, v in AGE_SHARES.items()},
        "urban": {
            "urban": float((adults * urban_share).sum()),
            "rural": float((adults * (1 - urban_share)).sum()),
        },
    }
    return data, targets


def rake_cells(
    data: pd.DataFrame, targets: dict[str, dict[str, float]], *, tol: float = 1e-13
) -> np.ndarray:
    """Raked weights by iterative proportional fitting on the joint-cell table."""
    grouped = data[MARGINS].astype(str).groupby(MARGINS, sort=True)
    cell = grouped.ngroup().to_numpy()
    cells_frame = grouped.size().index.to_frame(index=False)
    base = np.bincount(cell, weights=data["w_base"].to_numpy())
    factor = np.ones(len(base))
    for _ in range(1000):
        worst = 0.0
        for margin in MARGINS:
            codes, levels = pd.factorize(cells_frame[margin])
            current = np.bincount(codes, weights=base * factor)
            wanted = np.array([targets[margin][str(level)] for level in levels])
            ratio = wanted / current
            worst = max(worst, float(np.abs(ratio - 1).max()))
            factor *= ratio[codes]
        if worst < tol:
            break
    return data["w_base"].to_numpy() * factor[cell]


# --------------------------------------------------------------------------------------------
# Workers (each in its own process)


def _reset_peak() -> int:
    """Reset the kernel's peak-RSS counter; return the current RSS in bytes."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status("VmRSS")


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker_ours(path: Path, repeat: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from analysis.design import CalibrationModel, Design
    from analysis.estimation import estimate_mean

    data = pd.read_parquet(path)
    targets = json.loads(path.with_suffix(".targets.json").read_text())
    data["province"] = data["province"].astype(str)
    t0 = time.perf_counter()
    data["w_rake"] = rake_cells(data, targets)
    rake_seconds = time.perf_counter() - t0
    model = CalibrationModel(categorical=tuple(MARGINS), method="rake")
    before = _reset_peak()
    times, design_times = [], []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        design = Design(data, weights="w_rake", strata="stratum", cluster="psu", calibration=model)
        t1 = time.perf_counter()
        result = estimate_mean(design, OUTCOMES, by="province")
        t2 = time.perf_counter()
        design_times.append(t1 - t0)
        times.append(t2 - t1)
    assert result is not None
    peak = _status("VmHWM")
    return {
        "tool": "ours",
        "rake_seconds": rake_seconds,
        "design_seconds": min(design_times),
        "estimate_seconds": min(times),
        "seconds": min(d + t for d, t in zip(design_times, times, strict=True)),
        "rss_before_mb": before / 2**20,
        "peak_rss_mb": peak / 2**20,
        "estimates": [
            {
                "province": e.by["province"],
                "variable": e.variable,
                "estimate": e.estimate,
                "se": e.se,
            }
            for e in result
        ],
    }


def worker_svy(path: Path, repeat: int) -> dict:
    import polars as pl
    import svy

    data = pl.read_parquet(path).with_columns(pl.col("province").cast(pl.Utf8))
    targets = json.loads(path.with_suffix(".targets.json").read_text())
    sample = svy.Sample(data, svy.Design(stratum="stratum", psu="psu", wgt="w_base"))
    t0 = time.perf_counter()
    sample = sample.weighting.rake(controls=targets, wgt_name="w_rake")
    rake_seconds = time.perf_counter() - t0
    before = _reset_peak()
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = sample.estimation.mean(OUTCOMES, by="province", drop_nulls=True)
        times.append(time.perf_counter() - t0)
    peak = _status("VmHWM")
    estimates = []
    frames = result if isinstance(result, list) else [result]
    for variable, est in zip(OUTCOMES, frames, strict=False):
        frame = est.to_polars()
        for row in frame.iter_rows(named=True):
            estimates.append(
                {
                    "province": str(row["province"]),
                    "variable": variable,
                    "estimate": row["est"],
                    "se": row["se"],
                }
            )
    return {
        "tool": "svy",
        "rake_seconds": rake_seconds,
        "seconds": min(times),
        "rss_before_mb": before / 2**20,
        "peak_rss_mb": peak / 2**20,
        "estimates": estimates,
    }


R_WORKER = r"""
suppressMessages({library(survey); library(data.table)})
args <- commandArgs(trailingOnly = TRUE)
path <- args[1]; repeat_n <- as.integer(args[2]); targets_path <- args[3]
peak <- function(field) {
  s <- readLines("/proc/self/status"); l <- s[startsWith(s, paste0(field, ":"))]
  as.numeric(strsplit(trimws(sub(paste0(field, ":"), "", l)), " +")[[1]][1]) / 1024
}
d <- as.data.frame(fread(path, colClasses = list(character = c("province", "sex", "age", "urban"))))
tg <- read.csv(targets_path, colClasses = c("character", "character", "numeric"))
margins <- c("province", "sex", "age", "urban")
pops <- lapply(margins, function(m) {
  x <- tg[tg$margin == m, ]; out <- data.frame(x$level, x$total); names(out) <- c(m, "Freq"); out
})
des <- svydesign(id = ~psu, strata = ~stratum, weights = ~w_base, data = d)
t0 <- proc.time()[["elapsed"]]
rk <- rake(des, lapply(margins, function(m) as.formula(paste0("~", m))), pops,
           control = list(maxit = 100, epsilon = 1e-9))
rake_seconds <- proc.time()[["elapsed"]] - t0
invisible(gc(reset = TRUE))
try(cat("5", file = "/proc/self/clear_refs"), silent = TRUE)
before <- peak("VmRSS")
times <- numeric(0)
for (i in seq_len(repeat_n)) {
  t0 <- proc.time()[["elapsed"]]
  res <- svyby(~y1 + y2 + y3 + y4 + y5, ~province, rk, svymean, na.rm = TRUE)
  times <- c(times, proc.time()[["elapsed"]] - t0)
}
after <- peak("VmHWM")
est <- coef(res); se <- SE(res)
out <- data.frame(name = names(est), estimate = as.vector(est), se = as.vector(as.matrix(se)))
cat(sprintf("RAKE %.6f\n", rake_seconds))
cat(sprintf("SECONDS %.6f\n", min(times)))
cat(sprintf("MEM %.3f %.3f\n", before, after))
write.csv(out, stdout(), row.names = FALSE)
"""


def worker_r(path: Path, repeat: int) -> dict:
    """Runs R (called in the parent: R is its own process)."""
    csv = path.with_suffix(".csv")
    targets_csv = path.with_suffix(".targets.csv")
    script = OUT / "bench_estimation_worker.R"
    script.write_text(R_WORKER)
    proc = subprocess.run(
        ["Rscript", str(script), str(csv), str(repeat), str(targets_csv)],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    lines = proc.stdout.splitlines()
    rake = float(next(x for x in lines if x.startswith("RAKE")).split()[1])
    seconds = float(next(x for x in lines if x.startswith("SECONDS")).split()[1])
    before, after = (float(v) for v in next(x for x in lines if x.startswith("MEM")).split()[1:])
    start = next(i for i, x in enumerate(lines) if x.startswith('"name"'))
    from io import StringIO

    frame = pd.read_csv(StringIO("\n".join(lines[start:])))
    estimates = []
    for name, est, se in frame.itertuples(index=False):
        province, variable = str(name).split(":")
        estimates.append({"province": province, "variable": variable, "estimate": est, "se": se})
    return {
        "tool": "R survey",
        "rake_seconds": rake,
        "seconds": seconds,
        "rss_before_mb": before,
        "peak_rss_mb": after,
        "estimates": estimates,
    }


# --------------------------------------------------------------------------------------------
# Driver


def run_python_worker(kind: str, path: Path, repeat: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", kind, "--data", str(path), "--repeat", str(repeat)],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    return json.loads(proc.stdout.splitlines()[-1])


def compare(ours: dict, other: dict) -> dict:
    mine = {(e["province"], e["variable"]): e for e in ours["estimates"]}
    worst_est = worst_se = 0.0
    matched = 0
    for e in other["estimates"]:
        key = (e["province"], e["variable"])
        if key not in mine:
            continue
        matched += 1
        m = mine[key]
        worst_est = max(worst_est, abs(e["estimate"] / m["estimate"] - 1))
        worst_se = max(worst_se, abs(e["se"] / m["se"] - 1))
    return {"matched": matched, "max_rel_diff_estimate": worst_est, "max_rel_diff_se": worst_se}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--smoke", action="store_true", help="5,000 rows, one repeat")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-r", action="store_true")
    parser.add_argument(
        "--r-max-rows",
        type=int,
        default=10**9,
        help="skip R above this many rows (R needs about 2 minutes per 100,000 rows here)",
    )
    parser.add_argument("--no-svy", action="store_true")
    parser.add_argument("--worker", choices=["ours", "svy"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        fn = worker_ours if args.worker == "ours" else worker_svy
        print(json.dumps(fn(args.data, args.repeat)))
        return 0
    sizes = [5_000] if args.smoke else args.rows
    repeat = 1 if args.smoke else args.repeat
    OUT.mkdir(parents=True, exist_ok=True)
    report = []
    for n in sizes:
        data, targets = make_survey(n)
        path = OUT / f"estimation_{n}.parquet"
        data.to_parquet(path, index=False)
        path.with_suffix(".targets.json").write_text(json.dumps(targets))
        results = [run_python_worker("ours", path, repeat)]
        if not args.no_svy:
            results.append(run_python_worker("svy", path, repeat))
        if not args.no_r and n <= args.r_max_rows and shutil.which("Rscript"):
            data.to_csv(path.with_suffix(".csv"), index=False)
            pd.DataFrame(
                [(m, k, v) for m, levels in targets.items() for k, v in levels.items()],
                columns=["margin", "level", "total"],
            ).to_csv(path.with_suffix(".targets.csv"), index=False)
            results.append(worker_r(path, repeat))
        for r in results:
            row = {k: v for k, v in r.items() if k != "estimates"}
            row["rows"] = n
            if r["tool"] != "ours":
                row.update(compare(results[0], r))
            report.append(row)
            extra = ""
            if "max_rel_diff_se" in row:
                extra = (
                    f"  vs ours: est {row['max_rel_diff_estimate']:.1e}, "
                    f"se {row['max_rel_diff_se']:.1e}"
                )
            print(
                f"{n:>9,} rows  {r['tool']:<9} {r['seconds']:8.3f} s  peak "
                f"{r['peak_rss_mb']:8.1f} MB (+{r['peak_rss_mb'] - r['rss_before_mb']:.1f})"
                f"  rake {r['rake_seconds']:.2f} s{extra}",
                flush=True,
            )
    meta = {
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "load_average": os.getloadavg(),
    }
    (OUT / "estimation.json").write_text(json.dumps({"meta": meta, "results": report}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
