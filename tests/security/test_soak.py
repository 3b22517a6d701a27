"""Store-level soak: 50,000 submissions from 8 threads and 2 processes while compaction runs
every second or so; afterwards the count is exact and no response is stored twice.

The figures (duration, submissions per second, compactions) are written to
``tests/artifacts/security/soak.json`` for SECURITY.md. ``SURVEY_SOAK_N`` sets another total
for a quick look (the CI run uses the default).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from responses.store import ParquetResponseStore
from tests.responses.conftest import make_record
from tests.security.conftest import ROOT

TOTAL = int(os.environ.get("SURVEY_SOAK_N", "50000"))
THREADS = 8
PROCESSES = 2
ARTIFACTS = ROOT / "tests" / "artifacts" / "security"


def _start_process(root: Path, first: int, count: int, go: Path) -> subprocess.Popen[str]:
    # tests/responses/workers.py: wait for GO, submit make_record(first..first+count-1),
    # print each acknowledged id
    return subprocess.Popen(
        [sys.executable, "-m", "tests.responses.workers", "submit", str(root), str(first),
         str(count), str(go)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


@pytest.mark.slow
def test_soak_50000_submissions_with_compaction_running(tmp_path: Path):
    root = tmp_path / "data"
    go = tmp_path / "go"
    per_process = TOTAL // 5  # each process 1/5, the 8 threads the other 3/5
    in_process = TOTAL - PROCESSES * per_process
    procs = [
        _start_process(root, 10_000_000 * (k + 1), per_process, go) for k in range(PROCESSES)
    ]
    store = ParquetResponseStore(root)
    acknowledged: list[str] = []
    problems: list[BaseException] = []
    compactions: list[float] = []
    done = threading.Event()
    barrier = threading.Barrier(THREADS + 1)

    def submitter(k: int) -> None:
        barrier.wait()
        try:
            for i in range(k, in_process, THREADS):
                acknowledged.append(store.submit(make_record(i)).response_id)
        except BaseException as exc:  # reported below
            problems.append(exc)

    def compactor() -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a broken file met by compaction would raise
                while not done.is_set():
                    started = time.perf_counter()
                    store.compact("cfl")
                    compactions.append(time.perf_counter() - started)
                    done.wait(1.0)
        except BaseException as exc:  # reported below
            problems.append(exc)

    threads = [threading.Thread(target=submitter, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    compacting = threading.Thread(target=compactor)
    compacting.start()
    started = time.perf_counter()
    go.touch()
    barrier.wait()
    for t in threads:
        t.join()
    outputs = [p.communicate(timeout=1800) for p in procs]
    seconds = time.perf_counter() - started
    done.set()
    compacting.join()

    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    assert problems == []
    for out, _ in outputs:
        acknowledged.extend(out.split())
    assert len(acknowledged) == TOTAL
    assert len(set(acknowledged)) == TOTAL

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ids = store.read_table("cfl", columns=["response_id"]).table.column(0).to_pylist()
    assert len(ids) == len(set(ids)) == TOTAL
    assert set(ids) == set(acknowledged)
    final = store.compact("cfl")
    files = sorted((root / "responses").rglob("*.parquet"))
    assert sum(pq.read_metadata(f).num_rows for f in files) == TOTAL  # no row twice on disk
    assert not [p for p in (root / "responses").rglob(".*") if p.is_file()]
    assert store.count("cfl") == TOTAL

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "soak.json").write_text(
        json.dumps(
            {
                "submissions": TOTAL,
                "threads": THREADS,
                "processes": PROCESSES,
                "seconds": round(seconds, 1),
                "submissions_per_second": round(TOTAL / seconds, 1),
                "compactions_during": len(compactions),
                "longest_compaction_seconds": round(max(compactions, default=0.0), 2),
                "final_compaction_seconds": round(final.seconds, 2),
                "cpus": os.cpu_count(),
            },
            indent=1,
        )
    )
