"""Crashes: writers and compactions killed with SIGKILL at random moments lose nothing
acknowledged and never expose a half-written file."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from responses.store import ParquetResponseStore
from tests.responses.conftest import make_record, parquet_files

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.responses.workers", *args],
        cwd=REPO,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _check_everything_readable(
    root: Path, acknowledged: set[str], verified: set[tuple[str, int]]
) -> set[str]:
    """Every published file is whole, and every acknowledged id is read exactly once.

    ``verified``: (path, inode) of files already checked (published files never change in
    place, so they need checking once).
    """
    for f in parquet_files(root):
        key = (str(f), f.stat().st_ino)
        if key not in verified:
            pq.read_table(f)  # raises on a half-written file
            verified.add(key)
    store = ParquetResponseStore(root)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a quarantined (broken) file would raise here
        result = store.read_table("cfl")
    ids = result.table.column("response_id").to_pylist()
    assert len(ids) == len(set(ids))
    missing = acknowledged - set(ids)
    assert not missing, f"{len(missing)} acknowledged responses lost"
    return set(ids)


@pytest.mark.slow
def test_writer_killed_at_random_moments_loses_nothing_acknowledged(tmp_path):
    root = tmp_path / "data"
    rng = random.Random(20260501)
    acknowledged: set[str] = set()
    verified: set[tuple[str, int]] = set()
    store = ParquetResponseStore(root)
    for round_ in range(20):
        proc = _start("writer", str(root), str(round_))
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the writer is up and has stored one response
        assert first.endswith("\n"), proc.stderr.read() if proc.stderr else ""
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        lines = (first + out).split("\n")
        # Only whole lines were acknowledged; a line cut off by the kill was not.
        acknowledged.update(line for line in lines[:-1] if line)
        stored = _check_everything_readable(root, acknowledged, verified)
        assert len(stored) >= len(acknowledged)
        if round_ % 5 == 4:
            store.compact("cfl")  # later kills also meet compacted files
    assert len(acknowledged) >= 20


@pytest.mark.slow
def test_compaction_killed_at_random_moments_loses_nothing(tmp_path):
    root = tmp_path / "data"
    store = ParquetResponseStore(root)
    rng = random.Random(20260502)
    acknowledged: set[str] = set()
    verified: set[tuple[str, int]] = set()
    i = 0
    killed_mid_way = 0
    for _round in range(20):
        for _ in range(100):
            acknowledged.add(store.submit(make_record(i)).response_id)
            i += 1
        proc = _start("compact", str(root))
        assert proc.stdout is not None
        assert proc.stdout.readline() == "start\n"
        # Submissions go on while compaction runs (and dies).
        stop = threading.Event()

        def submit_meanwhile(start: int, stop: threading.Event = stop) -> None:
            k = start
            while not stop.is_set():
                acknowledged.add(store.submit(make_record(k)).response_id)
                k += 1

        i += 100_000
        writer = threading.Thread(target=submit_meanwhile, args=(i,))
        writer.start()
        time.sleep(rng.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        stop.set()
        writer.join()
        i += 100_000
        killed_mid_way += "done" not in out
        _check_everything_readable(root, acknowledged, verified)
    assert killed_mid_way >= 5, "the kills should land during compaction"
    # After all that, a clean compaction leaves each response exactly once on disk.
    store.compact("cfl")
    ids = [
        i for f in parquet_files(root) for i in pq.read_table(f).column("response_id").to_pylist()
    ]
    assert len(ids) == len(set(ids)) == len(acknowledged)
