"""Benchmark: the whole analysis pipeline on simulated cfl responses, against R survey and svy.

Data: ``n`` cfl responses simulated with :mod:`analysis.simulation` (no break-offs) and stored
through the real store as compacted Parquet files (one per province, zstd). The pipeline:

1. read the responses from the store (``ParquetResponseStore.read``, the answer columns and
   the questionnaire keys, not the paradata; integers narrowed to the smallest width that
   holds the stored values, ``narrow_integers=True``, as the dashboards read), timed apart;
2. score them (``score_responses``, index + 4 dimensions + analysis columns);
3. rake the weights to the 4 within-province census margins ``province``, ``province*sex``,
   ``province*age_band``, ``province*urban`` (``calibrate(method="rake")``);
4. estimate the 5 outcomes (index + 4 dimension scores) by the 31 provinces with
   calibration-aware standard errors (``estimate_mean(Design(..., calibration=model))``).

R (``survey``: ``rake()`` + ``svyby(~..., ~province, design, svymean)``) and ``svy``
(``sample.weighting.rake`` + ``sample.estimation.mean(..., by="province")``) get the scored
data (they have no scorer) with the crossed margins as single columns, R as CSV (R here has
no ``arrow`` package; its CSV reading, by ``data.table::fread``, is timed apart from its
computation), svy as Parquet. Each tool runs in its own process; peak memory is the process's
peak RSS (``VmHWM``, after resetting it), reported whole and as the increase over the RSS with
the data loaded. The estimates and SEs of the three are compared in the run.

Usage::

    python bench/bench_pipeline.py                       # 100,000 and 1,000,000 rows
    python bench/bench_pipeline.py --smoke               # 20,000 rows, seconds
    python bench/bench_pipeline.py --rows 100000 --r-max-rows 100000

It prints a Markdown report (machine, data, results) and writes ``bench/out/pipeline.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
OUTCOMES = ["literacy_index", "dim__knowledge", "dim__attitude", "dim__behaviour", "dim__skills"]
MARGINS = {"province": "province", "province_sex": "sex", "province_age": "age_band",
           "province_urban": "urban"}


# --------------------------------------------------------------------------------------------
# Data


def make_store(n: int, folder: Path) -> float:
    """Simulate n cfl responses into a fresh store; return the seconds taken."""
    from analysis.simulation import Rates, SimulationSpec, simulate
    from questionnaires.registry import load_registry

    if folder.exists():
        shutil.rmtree(folder)
    spec = SimulationSpec(rates=Rates(breakoff=0.0), validate_sample=100)
    t0 = time.perf_counter()
    simulate(load_registry().latest("cfl"), n, seed=20260601, store=folder, spec=spec,
             truth=False)
    return time.perf_counter() - t0


def export_scored(store: Path, path: Path) -> None:
    """The scored analysis data for R and svy: outcomes, margins, crossed margins."""
    from analysis.scoring import score_responses
    from questionnaires.registry import load_registry
    from responses.store import ParquetResponseStore

    with ParquetResponseStore(store) as s:
        raw = s.read("cfl")
    frame = score_responses(raw, load_registry().latest("cfl"), item_scores=False).frame
    data = pd.DataFrame({c: frame[c].astype("float64") for c in OUTCOMES})
    data["province"] = frame["province"].astype("int64").astype(str)
    for name, other in MARGINS.items():
        if name != "province":
            data[name] = data["province"] + "_" + frame[other].astype(str)
    data.to_parquet(path.with_suffix(".parquet"), index=False)
    data.to_csv(path.with_suffix(".csv"), index=False)
    targets = targets_table()
    targets.to_csv(path.with_suffix(".targets.csv"), index=False)


def targets_table() -> pd.DataFrame:
    from analysis.targets import census_targets

    rows = []
    for name, totals in census_targets().margins.items():
        column = {"province": "province", "province*sex": "province_sex",
                  "province*age_band": "province_age", "province*urban": "province_urban"}[name]
        for level, total in totals.items():
            key = "_".join(str(x) for x in level) if isinstance(level, tuple) else str(level)
            rows.append((column, key, float(total)))
    return pd.DataFrame(rows, columns=["margin", "level", "total"])


# --------------------------------------------------------------------------------------------
# Workers (each in its own process)


def _reset_peak() -> int:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status("VmRSS")


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    import psutil

    return int(psutil.Process().memory_info().rss)


def worker_ours(store: Path, repeat: int) -> dict:
    from analysis.design import Design
    from analysis.estimation import estimate_mean
    from analysis.scoring import score_responses
    from analysis.targets import census_targets
    from analysis.weighting import calibrate
    from questionnaires.registry import load_registry
    from responses.store import ParquetResponseStore

    questionnaire = load_registry().latest("cfl")
    targets = census_targets()
    # Only what scoring needs: the answers and the questionnaire keys (not the paradata,
    # whose JSON texts are most of the bytes).
    columns = [c.name for c in questionnaire.columns(include_contact=False)]
    columns += [c for c in ("province", "questionnaire_id", "questionnaire_version")
                if c not in columns]
    start_rss = _reset_peak()
    reads, scores, weights, estimates = [], [], [], []
    result = None
    data_rss = 0
    peak_above = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        with ParquetResponseStore(store) as s:
            raw = s.read("cfl", columns=columns, narrow_integers=True)
        t1 = time.perf_counter()
        data_rss = _reset_peak()
        t2 = time.perf_counter()
        scored = score_responses(raw, questionnaire, item_scores=False).frame
        t3 = time.perf_counter()
        raked = calibrate(scored, targets, method="rake")
        t4 = time.perf_counter()
        design = Design(scored.assign(w=raked.weights), weights="w", calibration=raked.model)
        result = estimate_mean(design, OUTCOMES, by="province")
        t5 = time.perf_counter()
        peak_above = max(peak_above, _status("VmHWM") - data_rss)
        reads.append(t1 - t0)
        scores.append(t3 - t2)
        weights.append(t4 - t3)
        estimates.append(t5 - t4)
        del raw, scored, design
    assert result is not None
    totals = [s + w + e for s, w, e in zip(scores, weights, estimates, strict=True)]
    best = min(range(repeat), key=lambda i: totals[i])
    return {
        "tool": "ours",
        "read_seconds": reads[best],
        "score_seconds": scores[best],
        "weight_seconds": weights[best],
        "estimate_seconds": estimates[best],
        "seconds": totals[best],
        "seconds_with_read": min(r + t for r, t in zip(reads, totals, strict=True)),
        "rss_start_mb": start_rss / 2**20,
        "rss_data_mb": data_rss / 2**20,
        "peak_above_data_mb": peak_above / 2**20,
        "estimates": [
            {"province": str(e.by["province"]), "variable": e.variable, "estimate": e.estimate,
             "se": e.se}
            for e in result
        ],
    }


def worker_svy(path: Path, repeat: int) -> dict:
    import polars as pl
    import svy

    targets = pd.read_csv(path.with_suffix(".targets.csv"), dtype={"level": str})
    controls = {
        m: dict(zip(g["level"], g["total"], strict=True)) for m, g in targets.groupby("margin")
    }
    reads, times = [], []
    result = None
    data_rss = peak_above = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        data = pl.read_parquet(path.with_suffix(".parquet")).with_columns(w=pl.lit(1.0))
        t1 = time.perf_counter()
        data_rss = _reset_peak()
        t2 = time.perf_counter()
        sample = svy.Sample(data, svy.Design(wgt="w"))
        sample = sample.weighting.rake(controls=controls, wgt_name="w_rake")
        result = sample.estimation.mean(OUTCOMES, by="province", drop_nulls=True)
        t3 = time.perf_counter()
        peak_above = max(peak_above, _status("VmHWM") - data_rss)
        reads.append(t1 - t0)
        times.append(t3 - t2)
    estimates = []
    frames = result if isinstance(result, list) else [result]
    for variable, est in zip(OUTCOMES, frames, strict=False):
        for row in est.to_polars().iter_rows(named=True):
            estimates.append({"province": str(row["province"]), "variable": variable,
                              "estimate": row["est"], "se": row["se"]})
    return {
        "tool": "svy",
        "read_seconds": min(reads),
        "seconds": min(times),
        "seconds_with_read": min(r + t for r, t in zip(reads, times, strict=True)),
        "rss_data_mb": data_rss / 2**20,
        "peak_above_data_mb": peak_above / 2**20,
        "estimates": estimates,
    }


R_WORKER = r"""
suppressMessages({library(survey); library(data.table)})
args <- commandArgs(trailingOnly = TRUE)
status <- function(field) {
  s <- readLines("/proc/self/status"); l <- s[startsWith(s, paste0(field, ":"))]
  as.numeric(strsplit(trimws(sub(paste0(field, ":"), "", l)), " +")[[1]][1]) / 1024
}
margins <- c("province", "province_sex", "province_age", "province_urban")
t0 <- proc.time()[["elapsed"]]
d <- as.data.frame(fread(args[1], colClasses = list(character = margins)))
read_seconds <- proc.time()[["elapsed"]] - t0
tg <- read.csv(args[2], colClasses = c("character", "character", "numeric"))
pops <- lapply(margins, function(m) {
  x <- tg[tg$margin == m, ]; out <- data.frame(x$level, x$total); names(out) <- c(m, "Freq"); out
})
invisible(gc(reset = TRUE))
try(cat("5", file = "/proc/self/clear_refs"), silent = TRUE)
data_rss <- status("VmRSS")
t0 <- proc.time()[["elapsed"]]
des <- svydesign(ids = ~1, weights = ~1, data = d)
rk <- rake(des, lapply(margins, function(m) as.formula(paste0("~", m))), pops,
           control = list(maxit = 100, epsilon = 1e-9))
t1 <- proc.time()[["elapsed"]]
res <- svyby(~literacy_index + dim__knowledge + dim__attitude + dim__behaviour + dim__skills,
             ~province, rk, svymean)
t2 <- proc.time()[["elapsed"]]
peak <- status("VmHWM")
est <- coef(res); se <- SE(res)
out <- data.frame(name = names(est), estimate = as.vector(est), se = as.vector(as.matrix(se)))
cat(sprintf("READ %.6f\n", read_seconds))
cat(sprintf("RAKE %.6f\n", t1 - t0))
cat(sprintf("SVYBY %.6f\n", t2 - t1))
cat(sprintf("MEM %.3f %.3f\n", data_rss, peak))
write.csv(out, stdout(), row.names = FALSE)
"""


def worker_r(path: Path) -> dict:
    OUT.mkdir(parents=True, exist_ok=True)
    script = OUT / "bench_pipeline_worker.R"
    script.write_text(R_WORKER)
    proc = subprocess.run(
        ["Rscript", str(script), str(path.with_suffix(".csv")),
         str(path.with_suffix(".targets.csv"))],
        capture_output=True, text=True, check=True, timeout=4 * 3600,
    )
    lines = proc.stdout.splitlines()

    def value(tag: str) -> list[float]:
        return [float(v) for v in next(x for x in lines if x.startswith(tag)).split()[1:]]

    start = next(i for i, x in enumerate(lines) if x.startswith('"name"'))
    frame = pd.read_csv(StringIO("\n".join(lines[start:])))
    estimates = []
    for name, est, se in frame.itertuples(index=False):
        province, variable = str(name).split(":")
        estimates.append({"province": province, "variable": variable, "estimate": est,
                          "se": se})
    rake, svyby = value("RAKE")[0], value("SVYBY")[0]
    data_rss, peak = value("MEM")
    return {
        "tool": "R survey",
        "read_seconds": value("READ")[0],
        "rake_seconds": rake,
        "estimate_seconds": svyby,
        "seconds": rake + svyby,
        "seconds_with_read": value("READ")[0] + rake + svyby,
        "rss_data_mb": data_rss,
        "peak_above_data_mb": peak - data_rss,
        "estimates": estimates,
    }


# --------------------------------------------------------------------------------------------
# Driver


def run_python_worker(kind: str, path: Path, repeat: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", kind, "--data", str(path), "--repeat",
         str(repeat)],
        capture_output=True, text=True, check=True, timeout=4 * 3600,
    )
    return json.loads(proc.stdout.splitlines()[-1])


def compare(ours: dict, other: dict) -> dict:
    mine = {(e["province"], e["variable"]): e for e in ours["estimates"]}
    worst_est = worst_se = 0.0
    matched = 0
    for e in other["estimates"]:
        m = mine.get((e["province"], e["variable"]))
        if m is None:
            continue
        matched += 1
        worst_est = max(worst_est, abs(e["estimate"] / m["estimate"] - 1))
        worst_se = max(worst_se, abs(e["se"] / m["se"] - 1))
    return {"matched": matched, "max_rel_diff_estimate": worst_est, "max_rel_diff_se": worst_se}


def machine() -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f"{kb / 2**20:.1f} GiB"
    os_name = platform.platform()
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    import numpy
    import pyarrow
    import svy

    r_version = "not found"
    if shutil.which("Rscript"):
        proc = subprocess.run(
            ["Rscript", "-e", 'cat(R.version.string, "| survey", '
             'as.character(packageVersion("survey")), "| data.table", '
             'as.character(packageVersion("data.table")))'],
            capture_output=True, text=True, check=False,
        )
        r_version = proc.stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram": ram,
        "os": os_name,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pandas": pd.__version__,
        "pyarrow": pyarrow.__version__,
        "svy": svy.__version__,
        "r": r_version,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def markdown(meta: dict, report: list[dict], data: list[dict]) -> str:
    lines = [
        "| machine | |", "|---|---|",
        f"| CPU | {meta['cpu']} ({meta['cores']} cores) |",
        f"| RAM | {meta['ram']} |",
        f"| OS | {meta['os']} |",
        f"| Python | {meta['python']} (numpy {meta['numpy']}, pandas {meta['pandas']}, "
        f"pyarrow {meta['pyarrow']}, svy {meta['svy']}) |",
        f"| R | {meta['r']} |",
        f"| load average at start | {', '.join(map(str, meta['load_average']))} |",
        "",
        "| rows | store files | store size | simulated in |", "|---:|---:|---:|---:|",
    ]
    for d in data:
        lines.append(f"| {d['rows']:,} | {d['files']} | {d['mb']:.1f} MB | "
                     f"{d['simulate_seconds']:.1f} s |")
    lines += [
        "",
        "| rows | tool | read | score | weight | estimate | pipeline | with read | "
        "peak RSS above data | vs ours: est / SE |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in report:
        def s(key: str, r: dict = r) -> str:
            return f"{r[key]:.3f} s" if key in r else "—"

        diff = (
            f"{r['max_rel_diff_estimate']:.1e} / {r['max_rel_diff_se']:.1e} ({r['matched']})"
            if "matched" in r else "—"
        )
        weight = s("weight_seconds") if "weight_seconds" in r else s("rake_seconds")
        lines.append(
            f"| {r['rows']:,} | {r['tool']} | {s('read_seconds')} | {s('score_seconds')} | "
            f"{weight} | {s('estimate_seconds')} | {s('seconds')} | {s('seconds_with_read')} | "
            f"{r['peak_above_data_mb']:.0f} MB | {diff} |"
        )
    speed = []
    for n in sorted({r["rows"] for r in report}):
        ours = next(r for r in report if r["rows"] == n and r["tool"] == "ours")
        for r in report:
            if r["rows"] == n and r["tool"] != "ours":
                speed.append(f"{n:,} rows: {r['seconds'] / ours['seconds']:.1f}x faster than "
                             f"{r['tool']}")
    if speed:
        lines += ["", "Speed-up of the pipeline (reading excluded): " + "; ".join(speed) + "."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--smoke", action="store_true", help="20,000 rows, one repeat")
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours (best taken)")
    parser.add_argument("--peer-repeat", type=int, default=None,
                        help="runs of svy (best taken); default: --repeat")
    parser.add_argument("--no-r", action="store_true")
    parser.add_argument("--r-max-rows", type=int, default=10**9,
                        help="skip R above this many rows")
    parser.add_argument("--no-svy", action="store_true")
    parser.add_argument("--worker", choices=["ours", "svy"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        fn = worker_ours if args.worker == "ours" else worker_svy
        print(json.dumps(fn(args.data, args.repeat)))
        return 0
    sizes = [20_000] if args.smoke else args.rows
    repeat = 1 if args.smoke else args.repeat
    OUT.mkdir(parents=True, exist_ok=True)
    meta = machine()
    report: list[dict] = []
    data_rows: list[dict] = []
    for n in sizes:
        store = OUT / f"pipeline_{n}"
        seconds = make_store(n, store)
        files = list(store.rglob("*.parquet"))
        data_rows.append({"rows": n, "files": len(files),
                          "mb": sum(f.stat().st_size for f in files) / 2**20,
                          "simulate_seconds": seconds})
        scored = OUT / f"pipeline_{n}_scored"
        export_scored(store, scored)
        results = [run_python_worker("ours", store, repeat)]
        if not args.no_svy:
            peer_repeat = repeat if args.peer_repeat is None or args.smoke else args.peer_repeat
            results.append(run_python_worker("svy", scored, peer_repeat))
        if not args.no_r and n <= args.r_max_rows and shutil.which("Rscript"):
            results.append(worker_r(scored))
        for r in results:
            row = {k: v for k, v in r.items() if k != "estimates"}
            row["rows"] = n
            if r["tool"] != "ours":
                row.update(compare(results[0], r))
            report.append(row)
            print(f"{n:>9,} rows  {r['tool']:<9} {r['seconds']:8.3f} s "
                  f"(with read {r['seconds_with_read']:.3f} s)  peak above data "
                  f"{r['peak_above_data_mb']:.0f} MB", file=sys.stderr, flush=True)
    (OUT / "pipeline.json").write_text(
        json.dumps({"meta": meta, "data": data_rows, "results": report}, indent=2)
    )
    print(markdown(meta, report, data_rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
