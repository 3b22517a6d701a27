"""Benchmark: the response store's ingestion rate, reads before and after compaction, compaction.

The record is shaped like a 50-item questionnaire: 13 fixed columns and 103 answer columns
(35 single-choice/likert items, two 10-item matrices, five multiple-choice questions with 8
options each as 0/1 columns, 5 numbers, 3 texts), about 10% skipped (null), special answers
(-1/-2) here and there, page timings and option orders as JSON: 116 columns.

Measured:

* **Submissions per second** through ``ParquetResponseStore.submit`` (validation, one file per
  submission, fsync of file and folder): 1 thread, 8 threads, and sustained for ``--sustain``
  seconds by 8 threads in one process and by 2 processes x 4 threads.
* **Read** ``store.read(questionnaire)`` into a pandas DataFrame (default ``numpy_nullable``
  dtypes, and ``pyarrow`` dtypes), before compaction (one file per response) and after:
  wall time and peak resident memory of the reading process (``VmHWM``; each
  measurement runs in its own process, and its peak before the read, after the imports, is
  given too).
* **Compaction** time and peak memory (its own process).

For a size above ``--before-max`` the one-file-per-response store is not built (a million
files take the better part of an hour to create on this machine); the size is then written
directly as compacted files, with the same writer settings compaction uses, and only the
"after" read is measured. The small files of the "before" stores are written with the same
bytes ``submit`` writes but without its two fsyncs per file (that is what the ingestion
figures measure).

Usage::

    python bench/bench_store.py                                   # 100,000 and 1,000,000
    python bench/bench_store.py --n 2000 --submit 400 --sustain 3  # smoke run
    python bench/bench_store.py --out bench/results/store.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import responses.store as store_module  # noqa: E402
from responses.record import META_COLUMNS, ResponseRecord  # noqa: E402
from responses.store import ParquetResponseStore  # noqa: E402

QID, VERSION = "cfl", "2026.1"
PROVINCES = [11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
             50, 51, 52, 53, 54, 61, 62, 63, 64, 65]  # fmt: skip
T0 = 1_775_000_000  # seconds since the epoch: spring 2026


def answer_columns() -> list[tuple[str, str]]:
    """(column, kind) of the 50-item questionnaire's answers."""
    cols = [(f"q{k:02d}", "choice") for k in range(1, 36)]
    cols += [(f"m{m}_{k}", "likert") for m in (1, 2) for k in range(1, 11)]
    cols += [(f"p{m}__o{k}", "binary") for m in range(1, 6) for k in range(1, 9)]
    cols += [("age", "age"), ("income", "int"), ("household", "small"), ("saving", "float")]
    cols += [("debt", "float"), ("t1", "text"), ("t2", "text"), ("t3", "text")]
    return cols


COLUMNS = answer_columns()


def _value(rnd: random.Random, kind: str) -> Any:
    if kind != "binary" and rnd.random() < 0.1:
        return None
    if kind == "choice":
        return rnd.choice([1, 2, 3, 4, 5, 1, 2, 3, -1, -2][: 8 if rnd.random() < 0.8 else 10])
    if kind == "likert":
        return rnd.randint(1, 5)
    if kind == "binary":
        return int(rnd.random() < 0.3)
    if kind == "age":
        return rnd.randint(18, 80)
    if kind == "int":
        return rnd.randint(0, 50000)
    if kind == "small":
        return rnd.randint(1, 8)
    if kind == "float":
        return round(rnd.uniform(0, 100), 2)
    return rnd.choice(["", "还可以", "希望多一些讲座"]) if rnd.random() < 0.3 else None


def make_record(i: int) -> ResponseRecord:
    rnd = random.Random(i)
    started = T0 + rnd.randint(0, 60 * 86400)
    import datetime as dt

    start = dt.datetime.fromtimestamp(started, tz=dt.UTC)
    return ResponseRecord(
        QID,
        VERSION,
        {name: _value(rnd, kind) for name, kind in COLUMNS},
        started_at=start,
        submitted_at=start + dt.timedelta(seconds=rnd.randint(300, 1500)),
        province=rnd.choice(PROVINCES),
        consent_version="2026-1",
        page_seconds={f"p{k}": round(rnd.uniform(5, 90), 1) for k in range(1, 11)},
        device_class=rnd.choice(["phone", "phone", "phone", "desktop", "tablet"]),
        option_order={"q01": ["c", "a", "b", "d"], "p1": [f"o{k}" for k in range(8, 0, -1)]},
    )


def _write_small_files(root: str, first: int, count: int) -> int:
    """Write records first..first+count-1 as the one-row files ``submit`` would write."""
    store = ParquetResponseStore(root)
    for i in range(first, first + count):
        r = make_record(i)
        part = store._partition_dir(r.questionnaire_id, r.questionnaire_version, r.province)
        part.mkdir(parents=True, exist_ok=True)
        sink = pa.BufferOutputStream()
        pq.write_table(r.to_table(), sink, **store_module._SMALL_FILE_OPTIONS)
        (part / f"{r.response_id}.parquet").write_bytes(sink.getvalue().to_pybytes())
    return count


def build_small_store(root: Path, n: int, workers: int = 2) -> float:
    start = time.perf_counter()
    step = -(-n // (workers * 8))
    with ProcessPoolExecutor(workers) as pool:
        jobs = [
            pool.submit(_write_small_files, str(root), first, min(step, n - first))
            for first in range(0, n, step)
        ]
        assert sum(j.result() for j in jobs) == n
    return time.perf_counter() - start


def build_compacted_store(root: Path, n: int, *, row_group_size: int, seed: int = 1) -> float:
    """n responses written straight into one compacted file per province."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    province = rng.choice(PROVINCES, size=n)
    started = T0 + rng.integers(0, 60 * 86400, size=n)
    cols: dict[str, pa.Array] = {
        "response_id": pa.array([secrets.token_urlsafe(16) for _ in range(n)]),
        "questionnaire_id": pa.array([QID] * n),
        "questionnaire_version": pa.array([VERSION] * n),
        "submitted_at": pa.array((started + rng.integers(300, 1500, size=n)) * 1_000_000).cast(
            META_COLUMNS["submitted_at"]
        ),
        "started_at": pa.array(started * 1_000_000).cast(META_COLUMNS["started_at"]),
        "language": pa.array(["zh"] * n),
        "province": pa.array(province, pa.int64()),
        "consent_version": pa.array(["2026-1"] * n),
        "duration_seconds": pa.array(rng.uniform(300, 1500, size=n)),
        "page_seconds": pa.array(
            [json.dumps({f"p{k}": 12.5 for k in range(1, 11)}, separators=(",", ":"))] * n
        ),
        "device_class": pa.array(rng.choice(["phone", "desktop", "tablet"], size=n).tolist()),
        "option_order": pa.array(['{"q01":["c","a","b","d"]}'] * n),
        "token_hash": pa.nulls(n, pa.string()),
    }
    for name, kind in COLUMNS:
        missing = rng.random(n) < 0.1 if kind != "binary" else None
        if kind in ("choice", "likert"):
            values = rng.integers(1, 6, size=n)
            if kind == "choice":
                values = np.where(rng.random(n) < 0.05, -1, values)
            cols[name] = pa.array(values, pa.int64(), mask=missing)
        elif kind == "binary":
            cols[name] = pa.array((rng.random(n) < 0.3).astype(np.int64))
        elif kind in ("age", "int", "small"):
            high = {"age": 81, "int": 50001, "small": 9}[kind]
            cols[name] = pa.array(rng.integers(0, high, size=n), pa.int64(), mask=missing)
        elif kind == "float":
            cols[name] = pa.array(rng.uniform(0, 100, size=n).round(2), mask=missing)
        else:
            texts = np.array(["", "还可以", None], dtype=object)[rng.integers(0, 3, size=n)]
            cols[name] = pa.array(texts.tolist(), pa.string())
    table = pa.table(cols)
    store = ParquetResponseStore(root)
    order = np.argsort(province, kind="stable")
    table = table.take(pa.array(order))
    sorted_prov = province[order]
    for code in PROVINCES:
        lo, hi = np.searchsorted(sorted_prov, code), np.searchsorted(sorted_prov, code, "right")
        if hi == lo:
            continue
        part = store._partition_dir(QID, VERSION, code)
        part.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            table.slice(lo, hi - lo),
            part / f"compacted-{secrets.token_hex(16)}.parquet",
            compression="zstd",
            row_group_size=row_group_size,
        )
    return time.perf_counter() - start


# --- measurements in child processes -----------------------------------------------------------


def _rss_mb() -> float:
    """Peak resident memory of this process so far, MiB (VmHWM: unlike ``ru_maxrss`` it
    starts afresh at exec, so the parent's memory does not count)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(argv: list[str]) -> None:
    """Run one measurement and print it as JSON (so the peak memory is its own)."""
    what, root = argv[0], argv[1]
    store = ParquetResponseStore(root)
    base = _rss_mb()
    start = time.perf_counter()
    if what == "read":
        frame = store.read(QID, dtype_backend=argv[2])  # type: ignore[arg-type]
        out: dict[str, Any] = {"rows": len(frame), "columns": frame.shape[1]}
    elif what == "compact":
        r = store.compact(QID)
        out = {"rows": r.rows, "files_merged": r.files_merged, "files_written": r.files_written}
    elif what == "sustain":
        seconds, threads, first = float(argv[2]), int(argv[3]), int(argv[4])
        out = {"submitted": sustain(store, seconds, threads, first)}
    else:
        raise SystemExit(f"unknown child command {what}")
    out["seconds"] = time.perf_counter() - start
    out["base_rss_mb"] = base
    out["peak_rss_mb"] = _rss_mb()
    print(json.dumps(out))


def run_child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- ingestion -----------------------------------------------------------------------------


def submit_rate(store: ParquetResponseStore, records: list[ResponseRecord], threads: int) -> float:
    start = time.perf_counter()
    if threads == 1:
        for r in records:
            store.submit(r)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(store.submit, records))
    return len(records) / (time.perf_counter() - start)


def sustain(store: ParquetResponseStore, seconds: float, threads: int, first: int) -> int:
    """Submit from ``threads`` threads for ``seconds``; return how many were stored."""
    deadline = time.perf_counter() + seconds
    counts = [0] * threads

    def work(k: int) -> None:
        i = first + k * 10_000_000
        while time.perf_counter() < deadline:
            store.submit(make_record(i))
            counts[k] += 1
            i += 1

    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts)


def bench_ingestion(base: Path, n_submit: int, seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    root = base / "ingest"
    store = ParquetResponseStore(root)
    one = [make_record(i) for i in range(max(n_submit // 4, 1))]
    many = [make_record(i) for i in range(10**8, 10**8 + n_submit)]
    out["submit_per_s_1_thread"] = submit_rate(store, one, 1)
    out["submit_per_s_8_threads"] = submit_rate(store, many, 8)
    if seconds > 0:
        start = time.perf_counter()
        stored = sustain(store, seconds, 8, 2 * 10**8)
        out["sustained_per_s_8_threads"] = stored / (time.perf_counter() - start)
        start = time.perf_counter()
        procs = [
            subprocess.Popen(
                [sys.executable, __file__, "--child", "sustain", str(root), str(seconds), "4",
                 str((3 + k) * 10**8)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for k in range(2)
        ]  # fmt: skip
        stored = sum(json.loads(p.communicate()[0].splitlines()[-1])["submitted"] for p in procs)
        elapsed = time.perf_counter() - start
        out["sustained_per_s_2_procs_x_4_threads"] = stored / seconds
        out["sustained_wall_seconds"] = elapsed
    out["stored_total"] = store.count(QID)
    shutil.rmtree(root)
    return out


# --- reads ---------------------------------------------------------------------------------


def bench_reads(base: Path, n: int, before_max: int, row_group_size: int) -> dict[str, Any]:
    out: dict[str, Any] = {"n": n}
    root = base / f"n{n}"
    if n <= before_max:
        out["build_small_files_seconds"] = build_small_store(root, n)
        out["before"] = {
            "numpy_nullable": run_child("read", str(root), "numpy_nullable"),
        }
        out["compaction"] = run_child("compact", str(root))
        out["compacted_from"] = "one file per response, compacted by store.compact()"
    else:
        out["build_compacted_seconds"] = build_compacted_store(
            root, n, row_group_size=row_group_size
        )
        out["before"] = None
        out["compacted_from"] = (
            f"written directly as compacted files (n > --before-max {before_max}); "
            "compaction time measured at smaller sizes"
        )
    files = list((root / "responses").rglob("*.parquet"))
    out["compacted_files"] = len(files)
    out["compacted_bytes"] = sum(f.stat().st_size for f in files)
    out["after"] = {
        "numpy_nullable": run_child("read", str(root), "numpy_nullable"),
        "pyarrow": run_child("read", str(root), "pyarrow"),
    }
    shutil.rmtree(root)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--before-max", type=int, default=100_000)
    parser.add_argument("--submit", type=int, default=2000)
    parser.add_argument("--sustain", type=float, default=60.0)
    parser.add_argument("--row-group-size", type=int, default=131_072)
    parser.add_argument("--dir", type=Path, default=None, help="where to build the stores")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    base = Path(tempfile.mkdtemp(prefix="bench_store_", dir=args.dir))
    try:
        results: dict[str, Any] = {
            "columns": len(META_COLUMNS) + len(COLUMNS),
            "cpus": os.cpu_count(),
            "ingestion": bench_ingestion(base, args.submit, args.sustain),
            "reads": [bench_reads(base, n, args.before_max, args.row_group_size) for n in args.n],
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)
    report(results)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


def report(results: dict[str, Any]) -> None:
    ing = results["ingestion"]
    print(f"record: {results['columns']} columns; {results['cpus']} CPUs")
    for key, value in ing.items():
        print(f"  {key:40s} {value:10.1f}")
    for r in results["reads"]:
        print(f"n = {r['n']:,}  ({r['compacted_files']} compacted files, "
              f"{r['compacted_bytes'] / 2**20:.1f} MiB)")  # fmt: skip
        rows = []
        if r["before"]:
            rows.append(("read before compaction", r["before"]["numpy_nullable"]))
            rows.append(("compaction", r["compaction"]))
        rows.append(("read after (numpy_nullable)", r["after"]["numpy_nullable"]))
        rows.append(("read after (pyarrow dtypes)", r["after"]["pyarrow"]))
        for label, m in rows:
            print(f"  {label:30s} {m['seconds']:8.2f} s  peak {m['peak_rss_mb']:8.0f} MiB "
                  f"(before: {m['base_rss_mb']:.0f} MiB)")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
