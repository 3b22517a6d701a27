"""Compaction: merging small files, crash safety at every step, duplicates and conflicts."""

from __future__ import annotations

import dataclasses
import os
import time

import pyarrow.parquet as pq
import pytest

import responses.store as store_module
from responses.errors import StoreWarning
from responses.store import ParquetResponseStore
from tests.responses.conftest import make_record, parquet_files, temp_files


def _ids(store):
    return sorted(store.read_table("cfl").table.column("response_id").to_pylist())


def test_compaction_merges_each_partition_into_one_file(store):
    records = [make_record(i) for i in range(60)]
    for r in records:
        store.submit(r)
    before = store.read("cfl").sort_values("response_id").reset_index(drop=True)
    partitions = {r.province for r in records}
    result = store.compact("cfl", actor="alice")
    assert result.files_merged == 60
    assert result.files_written == result.partitions == len(partitions)
    assert result.rows == 60 and result.duplicates_dropped == 0
    files = parquet_files(store.root)
    assert len(files) == len(partitions)
    assert all(f.name.startswith("compacted-") for f in files)
    after = store.read("cfl").sort_values("response_id").reset_index(drop=True)
    assert after.equals(before[after.columns])
    entry = store.state.read_audit(action="compact")[-1]
    assert entry.actor == "alice" and entry.target == "cfl"
    assert entry.details["files_merged"] == 60
    # Nothing new: nothing to do, nothing audited.
    assert store.compact("cfl").files_merged == 0
    assert len(store.state.read_audit(action="compact")) == 1


def test_new_submissions_are_merged_with_the_small_compacted_file(store):
    for i in range(10):
        store.submit(make_record(i, province=11))
    store.compact("cfl")
    for i in range(10, 15):
        store.submit(make_record(i, province=11))
    result = store.compact("cfl")
    assert result.files_merged == 6  # 5 small files + the earlier compacted file
    assert len(parquet_files(store.root)) == 1
    assert store.count("cfl") == 15


def test_large_compacted_files_are_left_alone(tmp_path):
    s = ParquetResponseStore(tmp_path / "data", target_rows=10)
    for i in range(12):
        s.submit(make_record(i, province=11))
    s.compact("cfl")
    big = parquet_files(s.root)
    assert len(big) == 1
    for i in range(12, 15):
        s.submit(make_record(i, province=11))
    result = s.compact("cfl")
    assert result.files_merged == 3
    assert big[0].exists()
    assert len(parquet_files(s.root)) == 2
    assert s.count("cfl") == 15


def test_compacted_files_have_large_row_groups(tmp_path):
    s = ParquetResponseStore(tmp_path / "data", row_group_size=2048)
    for i in range(30):
        s.submit(make_record(i, province=11))
    s.compact("cfl")
    meta = pq.read_metadata(parquet_files(s.root)[0])
    assert meta.num_rows == 30 and meta.num_row_groups == 1
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_compaction_can_be_limited_to_a_version(store):
    store.submit(make_record(1))
    store.submit(make_record(2, questionnaire_version="2026.2"))
    store.compact("cfl", version="2026.2")
    names = sorted(f.name.startswith("compacted-") for f in parquet_files(store.root))
    assert names == [False, True]


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs."""


@pytest.mark.parametrize(
    ("step", "at"),
    [
        ("compact:written", 1),
        ("compact:published", 1),
        ("compact:removed", 1),
        ("compact:removed", 7),
        ("compact:published", 2),
    ],
)
def test_a_crash_at_any_step_of_compaction_loses_nothing(tmp_path, monkeypatch, step, at):
    s = ParquetResponseStore(tmp_path / "data")
    records = [make_record(i, province=11 if i % 2 else 44) for i in range(20)]
    for r in records[:10]:
        s.submit(r)
    s.compact("cfl")
    for r in records[10:]:
        s.submit(r)
    expected = sorted(r.response_id for r in records)
    calls = {"n": 0}

    def crash(name):
        if name == step:
            calls["n"] += 1
            if calls["n"] == at:
                raise Crash

    monkeypatch.setattr(store_module, "_step", crash)
    with pytest.raises(Crash):
        s.compact("cfl")
    monkeypatch.undo()
    result = s.read_table("cfl")
    assert sorted(result.table.column("response_id").to_pylist()) == expected
    assert result.quarantined == ()
    # The next compaction finishes the job: one file per partition, no duplicates left.
    s.compact("cfl")
    raw = [pq.read_table(f) for f in parquet_files(s.root)]
    assert sorted(i for t in raw for i in t.column("response_id").to_pylist()) == expected
    assert len(raw) == 2


def test_stale_temporary_files_are_swept(tmp_path):
    s = ParquetResponseStore(tmp_path / "data", temp_max_age=60)
    s.submit(make_record(1, province=11))
    part = s.root / "responses/cfl/2026.1/province=11"
    old = part / ".AAAAAAAAAAAAAAAAAAAAAA.0123.tmp"
    fresh = part / ".compact-0123.tmp"
    old.write_bytes(b"half a file")
    fresh.write_bytes(b"being written")
    os.utime(old, (time.time() - 120, time.time() - 120))
    assert s.count("cfl") == 1  # never read as data
    s.compact("cfl")
    assert not old.exists()
    assert fresh.exists()  # may belong to a submission in progress
    assert temp_files(s.root) == [fresh]


def test_a_retry_after_compaction_is_kept_once_and_a_conflict_reported(store):
    record = make_record(1, province=11)
    store.submit(record)
    store.submit(make_record(2, province=11))
    store.compact("cfl")
    # The same response arrives again after its small file was merged away: the file name
    # check cannot see it, so it lands as a small file; reads keep the first copy.
    late = dataclasses.replace(record, submitted_at=record.submitted_at.replace(year=2030))
    store.submit(late)
    assert store.count("cfl") == 2
    frame = store.read("cfl").set_index("response_id")
    assert frame.loc[record.response_id, "submitted_at"].year == record.submitted_at.year
    result = store.compact("cfl")
    assert result.duplicates_dropped == 1 and result.conflicts == 0
    # With different answers it is a conflict: the first stored copy wins, with a warning.
    conflicting = dataclasses.replace(late, answers={**record.answers, "k0": 99})
    store.submit(conflicting)
    with pytest.warns(StoreWarning, match="stored twice with different answers"):
        result = store.compact("cfl")
    assert result.conflicts == 1
    frame = store.read("cfl").set_index("response_id")
    assert frame.loc[record.response_id, "k0"] == record.answers["k0"]
    assert len(parquet_files(store.root)) == 1
