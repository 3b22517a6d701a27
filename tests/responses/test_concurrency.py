"""Many writers at once: 8 threads and 2 processes submitting 2,000 responses together."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow.parquet as pq

from responses.store import ParquetResponseStore
from tests.responses.conftest import make_record, parquet_files, temp_files

REPO = Path(__file__).resolve().parents[2]


def test_threads_and_processes_submitting_together(tmp_path):
    root = tmp_path / "data"
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.responses.workers",
                "submit",
                str(root),
                str(first),
                "500",
                str(go),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for first in (10_000, 20_000)
    ]
    store = ParquetResponseStore(root)
    records = [make_record(i) for i in range(1000)]
    errors: list[BaseException] = []
    acked: list[str] = []
    barrier = threading.Barrier(8)

    def work(chunk):
        barrier.wait()
        try:
            for r in chunk:
                acked.append(store.submit(r).response_id)
        except BaseException as exc:  # collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(records[k::8],)) for k in range(8)]
    for t in threads:
        t.start()
    go.touch()
    for t in threads:
        t.join()
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    assert errors == []
    for out, _ in outputs:
        acked.extend(out.split())
    assert len(acked) == len(set(acked)) == 2000

    table = store.read_table("cfl").table
    ids = table.column("response_id").to_pylist()
    assert len(ids) == 2000
    assert set(ids) == set(acked)
    assert len(parquet_files(root)) == 2000
    assert temp_files(root) == []
    assert sum(pq.read_metadata(f).num_rows for f in parquet_files(root)) == 2000
