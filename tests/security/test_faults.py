"""Faults: a disk that fills up or turns read-only while respondents submit, crashes of
writers and of compaction, and readers running beside them.

The disk is real where the machine allows it: a 3 MiB tmpfs mounted for the test (root with
CAP_SYS_ADMIN, as here and in CI); otherwise ``OSError(ENOSPC)`` / ``OSError(EROFS)`` is
injected at the store's write, and the test records which it was (its ``user_properties``;
``.ci/run`` sets ``SURVEY_TEST_REQUIRE_TMPFS=1`` so that CI insists on the real disk).
"""

from __future__ import annotations

import errno
import hashlib
import threading
import time
import warnings
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import responses.store as store_module
from responses.errors import StoreError
from responses.record import new_response_id
from responses.store import ParquetResponseStore
from tests.responses import test_crash as crash_scenarios
from tests.security.conftest import ANSWERS, submit
from tests.security.disks import fill, remount, small_disk


def snapshot(root: Path) -> dict[str, str]:
    """Path -> SHA-256 of every published response file."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "responses").rglob("*.parquet"))
    }


def temp_files(root: Path) -> list[Path]:
    return [p for p in (root / "responses").rglob(".*") if p.is_file()]


def answers(i: int) -> dict[str, object]:
    return {**ANSWERS, "age": 18 + i % 80, "comment": f"第{i}份回答 " + "好" * 200}


def _inject(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(code, errno.errorcode[code])

    monkeypatch.setattr(store_module, "_write_bytes", refuse)  # small files
    monkeypatch.setattr(store_module, "_write_parquet", refuse)  # compacted files


def test_disk_full_while_submitting_fails_clearly_and_damages_nothing(
    tmp_path, monkeypatch, request
):
    with small_disk(tmp_path / "disk", size="3m") as real:
        request.node.user_properties.append(("filesystem", "tmpfs" if real else "injected"))
        store = ParquetResponseStore(tmp_path / "disk" / "data")
        acknowledged = [submit(store, answers=answers(i)).response_id for i in range(20)]
        store.compact("secq")
        acknowledged += [submit(store, answers=answers(i)).response_id for i in range(20, 30)]
        before = snapshot(store.root)

        if real:
            ballast = fill(tmp_path / "disk", leave=4096)
        else:
            _inject(monkeypatch, errno.ENOSPC)
        refused = None
        pending = new_response_id()
        for _ in range(50):  # a few may still fit in the last free blocks
            try:
                acknowledged.append(submit(store, answers=answers(99), response_id=pending)
                                    .response_id)
                pending = new_response_id()
            except StoreError as exc:
                refused = str(exc)
                break
        assert refused is not None, "the disk never filled up"
        assert "disk full" in refused and refused.endswith("nothing was changed; try again.")
        # compaction on the full disk fails cleanly too and loses nothing
        with pytest.raises(StoreError, match=r"disk full|No space"):
            store.compact("secq")

        # nothing stored before is damaged, nothing half-written is left
        after = snapshot(store.root)
        assert {k: after[k] for k in before if k in after} == {
            k: v for k, v in before.items() if k in after
        }
        assert temp_files(store.root) == []
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a quarantined (broken) file would raise
            ids = store.read_table("secq").table.column("response_id").to_pylist()
        assert sorted(ids) == sorted(acknowledged)

        # the respondent's answers are still on their screen: the same call, once there
        # is room again, stores the response exactly once
        if real:
            ballast.unlink()
        else:
            monkeypatch.undo()
        receipt = submit(store, answers=answers(99), response_id=pending)
        assert not receipt.duplicate
        assert store.count("secq") == len(acknowledged) + 1
        store.compact("secq")
        assert store.count("secq") == len(acknowledged) + 1
        store.close()


def test_read_only_data_folder_fails_clearly_and_recovers(tmp_path, monkeypatch, request):
    with small_disk(tmp_path / "disk", size="3m") as real:
        request.node.user_properties.append(("filesystem", "tmpfs" if real else "injected"))
        store = ParquetResponseStore(tmp_path / "disk" / "data")
        stored = [submit(store, answers=answers(i)).response_id for i in range(5)]
        store.close()
        before = snapshot(store.root)
        if real:
            remount(tmp_path / "disk", "ro")
        else:
            _inject(monkeypatch, errno.EROFS)
        rid = new_response_id()
        try:
            reader = ParquetResponseStore(tmp_path / "disk" / "data")
            with pytest.raises(StoreError, match="read-only") as exc:
                submit(reader, answers=answers(7), response_id=rid)
            assert "nothing was changed" in str(exc.value) and "try again" in str(exc.value)
            assert sorted(reader.read("secq")["response_id"]) == sorted(stored)  # reads work
            assert snapshot(store.root) == before
        finally:
            if real:
                remount(tmp_path / "disk", "rw")
            else:
                monkeypatch.undo()
        reader.close()
        writer = ParquetResponseStore(tmp_path / "disk" / "data")
        assert not submit(writer, answers=answers(7), response_id=rid).duplicate
        assert writer.count("secq") == 6
        writer.close()


def test_readers_never_see_a_half_written_file(tmp_path):
    """Two readers loop over the store while 3 threads submit 150 responses each and
    compaction runs between: no read ever meets a broken file (which the store would
    quarantine with a warning) or a response twice."""
    store = ParquetResponseStore(tmp_path / "data")
    writing = threading.Event()
    writing.set()
    problems: list[BaseException] = []
    acknowledged: list[str] = []
    reads = [0]

    def writer(k: int) -> None:
        try:
            for i in range(k * 1000, k * 1000 + 150):
                acknowledged.append(submit(store, answers=answers(i)).response_id)
        except BaseException as exc:  # reported below
            problems.append(exc)

    def reader() -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                while writing.is_set():
                    if store.count("secq"):
                        result = store.read_table("secq", columns=["age"])
                        assert result.quarantined == ()
                        ids = result.table.column("response_id").to_pylist()
                        assert len(ids) == len(set(ids))
                    reads[0] += 1
        except BaseException as exc:  # reported below
            problems.append(exc)

    writers = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in writers + readers:
        t.start()
    compactions = 0
    while any(t.is_alive() for t in writers):
        store.compact("secq")
        compactions += 1
        time.sleep(0.2)
    for t in writers:
        t.join()
    writing.clear()
    for t in readers:
        t.join()
    assert problems == []
    assert reads[0] > 5 and compactions >= 2 and len(acknowledged) == 450
    for f in (store.root / "responses").rglob("*.parquet"):
        pq.read_table(f)
    assert sorted(store.read("secq")["response_id"]) == sorted(acknowledged)


# --- crashes: the store's own kill scenarios, run as part of this suite -----------------------


@pytest.mark.slow
def test_writers_killed_at_random_moments_lose_nothing_acknowledged(tmp_path):
    """tests/responses/test_crash.py: 20 writer processes SIGKILLed at random moments; every
    published file is whole and every acknowledged response is read exactly once."""
    crash_scenarios.test_writer_killed_at_random_moments_loses_nothing_acknowledged(tmp_path)


@pytest.mark.slow
def test_compaction_killed_at_random_moments_loses_nothing(tmp_path):
    """tests/responses/test_crash.py: compaction SIGKILLed 20 times while a thread submits;
    nothing is lost, and a clean compaction then leaves each response once."""
    crash_scenarios.test_compaction_killed_at_random_moments_loses_nothing(tmp_path)
