"""Benchmark: researcher exports of the cfl survey in every format, time and peak memory.

Builds a store of ``--n`` synthetic cfl responses (72 answer columns plus the store's metadata,
written straight into one compacted Parquet file per province, as compaction would leave them;
answers uniform over each question's options, 5% special answers, 10% skips where skip logic
could skip) and, for each format, runs in a fresh process:

* **prepare**: :func:`analysis.exports.prepare_export` (read the store in chunks, score, flag,
  pseudonymise, write the temporary file; then census weights and the sample-wide flags);
* **write**: :meth:`PreparedExport.write` of the format (CSV, Excel, Parquet, Stata, SPSS);

and once more for the **estimate tables** (:meth:`PreparedExport.estimate_tables` + CSV).
Each process reports wall times and its peak resident memory (``VmHWM``; the peak after the
imports is given too, ``base_rss_mb``). CSV, Excel and Parquet stream chunk by chunk, so their
memory should not grow with ``--n`` beyond the narrow whole-sample columns (weights, flags,
calibration and grouping columns); Stata and SPSS are written by pyreadstat from one data frame
of the whole export, so theirs grows with the rows.

Usage::

    python bench/bench_exports.py                      # 1,000,000 rows, every format
    python bench/bench_exports.py --n 5000             # smoke run
    python bench/bench_exports.py --formats csv,parquet --out bench/results/exports.json

A million rows in Excel is about 150 million cells, which openpyxl writes at roughly 150,000
cells per second here: expect that format alone to take a quarter of an hour.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from responses.record import META_COLUMNS  # noqa: E402

FORMATS = ("csv", "xlsx", "parquet", "dta", "sav")


def _rss_mb() -> float:
    """Peak resident memory of this process so far, MiB (VmHWM)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover


def build_store(root: Path, n: int, *, seed: int = 1, block: int = 200_000) -> float:
    """``n`` synthetic cfl responses as compacted files, one per province and block."""
    from bench_scoring import synthetic_responses

    from questionnaires import load_questionnaire
    from questionnaires.registry import DEFINITIONS_DIR
    from responses.store import ParquetResponseStore

    start = time.perf_counter()
    q = load_questionnaire(DEFINITIONS_DIR / "cfl.yaml")
    store = ParquetResponseStore(root)
    rng = np.random.default_rng(seed)
    ages = q.question("age")
    for first in range(0, n, block):
        size = min(block, n - first)
        frame = synthetic_responses(q, size, seed=seed + first)
        frame["response_id"] = [secrets.token_urlsafe(16) for _ in range(size)]
        frame["age"] = pd.array(
            rng.integers(int(ages.min or 18), int(ages.max or 100) + 1, size), dtype="Int64"
        )
        submitted = frame["submitted_at"]
        frame["started_at"] = (
            submitted - pd.to_timedelta(frame["duration_seconds"].round(), unit="s")
        ).astype("datetime64[us, UTC]")
        frame["submitted_at"] = submitted.astype("datetime64[us, UTC]")
        frame["consent_version"] = "2026-1"
        frame["page_seconds"] = '{"p1":12.5}'
        frame["option_order"] = None
        table = pa.Table.from_pandas(frame, preserve_index=False)
        fields = []
        for f in table.schema:
            typ = META_COLUMNS.get(f.name, f.type)
            if pa.types.is_large_string(typ) or pa.types.is_string(typ):
                typ = pa.string()
            fields.append(pa.field(f.name, typ))
        table = table.cast(pa.schema(fields))
        province = np.asarray(frame["province"].to_numpy(dtype=np.int64))
        for code in np.unique(province):
            part = store._partition_dir(q.id, q.version, int(code))
            part.mkdir(parents=True, exist_ok=True)
            rows = table.filter(pa.array(province == code))
            pq.write_table(
                rows,
                part / f"compacted-{secrets.token_hex(16)}.parquet",
                compression="zstd",
                row_group_size=131072,
            )
    store.close()
    return time.perf_counter() - start


def child(argv: list[str]) -> None:
    """One measurement in this process; prints JSON."""
    what, root, out = argv[0], Path(argv[1]), Path(argv[2])
    from analysis.exports import ExportFilter, prepare_export
    from questionnaires import load_questionnaire
    from questionnaires.registry import DEFINITIONS_DIR
    from responses.store import ParquetResponseStore

    q = load_questionnaire(DEFINITIONS_DIR / "cfl.yaml")
    store = ParquetResponseStore(root)
    base = _rss_mb()
    t0 = time.perf_counter()
    prepared = prepare_export(store, q, ExportFilter("cfl"), workdir=out.parent)
    t1 = time.perf_counter()
    prepare_rss = _rss_mb()
    result: dict[str, Any] = {"format": what, "rows": prepared.n_selected}
    if what == "tables":
        tables = prepared.estimate_tables()
        t2 = time.perf_counter()
        tables.write(out, "csv")
        result["estimates"] = len(tables.to_frame())
    else:
        written = prepared.write(out, what, actor="bench")
        t2 = time.perf_counter()
        result["columns"] = written.columns
    t3 = time.perf_counter()
    prepared.close()
    result.update(
        prepare_seconds=round(t1 - t0, 2),
        write_seconds=round(t3 - t1, 2),
        compute_seconds=round(t2 - t1, 2),
        file_mb=round(out.stat().st_size / 2**20, 1),
        base_rss_mb=round(base, 1),
        prepare_peak_rss_mb=round(prepare_rss, 1),
        peak_rss_mb=round(_rss_mb(), 1),
    )
    store.close()
    print(json.dumps(result))


def run_child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="responses (default 1,000,000)")
    parser.add_argument("--formats", default=",".join((*FORMATS, "tables")))
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--keep", help="build the store in this folder and keep it")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-exports-"))
    work.mkdir(parents=True, exist_ok=True)
    root = work / "data"
    try:
        if not (root / "responses").is_dir():
            built = build_store(root, args.n)
            print(f"built a store of {args.n:,} responses in {built:.1f} s", flush=True)
        results = []
        for fmt in args.formats.split(","):
            suffix = ".csv" if fmt == "tables" else f".{fmt}"
            out = work / f"export{suffix}"
            r = run_child(fmt, str(root), str(out))
            results.append(r)
            print(
                f"{fmt:8s} rows {r['rows']:>9,}  prepare {r['prepare_seconds']:7.1f} s  "
                f"write {r['write_seconds']:7.1f} s  file {r['file_mb']:8.1f} MB  "
                f"peak RSS {r['peak_rss_mb']:7.0f} MB "
                f"(after prepare {r['prepare_peak_rss_mb']:.0f}, imports {r['base_rss_mb']:.0f})",
                flush=True,
            )
            out.unlink(missing_ok=True)
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(
                json.dumps({"n": args.n, "cpus": os.cpu_count(), "results": results}, indent=2)
            )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
