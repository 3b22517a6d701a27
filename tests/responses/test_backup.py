"""Backup while submissions go on, checked restore (count and checksum)."""

from __future__ import annotations

import json
import threading

import pyarrow.parquet as pq
import pytest

from responses.errors import StoreError
from responses.store import ParquetResponseStore
from tests.responses.conftest import make_record, parquet_files


def _ids(store: ParquetResponseStore) -> set[str]:
    return set(store.read_table("cfl").table.column("response_id").to_pylist())


def test_backup_while_submitting_then_restore_elsewhere(tmp_path):
    store = ParquetResponseStore(tmp_path / "data")
    for i in range(40):
        store.submit(make_record(i))
    store.compact("cfl")
    acked: list[str] = []
    stop = threading.Event()

    def keep_submitting():
        i = 1000
        while not stop.is_set():
            acked.append(store.submit(make_record(i)).response_id)
            i += 1

    writer = threading.Thread(target=keep_submitting)
    writer.start()
    try:
        while len(acked) < 20:
            stop.wait(0.01)
        before = 40 + len(acked)
        result = store.backup(tmp_path / "backup", actor="ops")
        after = 40 + len(acked)
    finally:
        stop.set()
        writer.join()
    assert before <= result.rows <= after
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["checksum"] == result.checksum
    assert manifest["rows"] == result.rows == sum(f["rows"] for f in manifest["files"])
    assert store.state.read_audit(action="backup")[-1].details["checksum"] == result.checksum

    fresh = ParquetResponseStore(tmp_path / "elsewhere")
    restored = fresh.restore(tmp_path / "backup", actor="ops")
    assert restored.rows == result.rows and restored.checksum == result.checksum
    ids = _ids(fresh)
    assert len(ids) == result.rows
    assert set(acked[: before - 40]) <= ids  # everything acknowledged before the backup began
    assert ids <= _ids(store)
    # The state came along: the audit log of the source, then the restore itself.
    actions = [e.action for e in fresh.state.read_audit()]
    assert actions[-2:] == ["compact", "restore"]


def test_restore_in_place_keeps_the_replaced_data_and_the_audit_log(tmp_path):
    store = ParquetResponseStore(tmp_path / "data")
    first = [make_record(i) for i in range(10)]
    for r in first:
        store.submit(r)
    token = store.state.generate_tokens("cfl", 2, actor="ops")[0]
    store.backup(tmp_path / "backup", actor="ops")
    later = make_record(99)
    store.submit(later)
    store.state.append_audit("export", actor="analyst", target="cfl")
    result = store.restore(tmp_path / "backup", actor="ops")
    assert _ids(store) == {r.response_id for r in first}
    assert result.previous is not None
    kept = ParquetResponseStore(result.previous)
    assert later.response_id in _ids(kept)  # acknowledged after the backup: kept aside
    assert store.state.token_status("cfl", token) == "unused"
    actions = [e.action for e in store.state.read_audit()]
    assert actions == ["generate_tokens", "backup", "export", "restore"]


def test_deletions_made_after_the_backup_survive_a_restore(tmp_path):
    store = ParquetResponseStore(tmp_path / "data")
    records = [make_record(i, province=11) for i in range(6)]
    for r in records:
        store.submit(r)
    store.compact("cfl")
    gone = records[2]
    store.state.save_contact("cfl", {"email": "a@example.org"}, response_id=gone.response_id)
    store.backup(tmp_path / "backup")
    store.delete(gone.response_id, reason="asked", actor="dpo")
    result = store.restore(tmp_path / "backup")
    assert result.deletions_reapplied == 1
    assert gone.response_id not in _ids(store)
    assert len(_ids(store)) == 5
    assert store.state.list_contacts("cfl") == []
    with pytest.raises(StoreError, match="deleted on request"):
        store.submit(gone)


def test_a_damaged_backup_is_refused_and_nothing_changes(tmp_path):
    store = ParquetResponseStore(tmp_path / "data")
    for i in range(8):
        store.submit(make_record(i))
    store.backup(tmp_path / "backup")
    store.submit(make_record(50))
    before = {p: p.read_bytes() for p in parquet_files(store.root)}
    victim = parquet_files(tmp_path / "backup")[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="is damaged; nothing was changed") as info:
        store.restore(tmp_path / "backup")
    assert "does not match its checksum" in str(info.value)
    assert {p: p.read_bytes() for p in parquet_files(store.root)} == before
    assert store.count("cfl") == 9


def test_incomplete_or_misplaced_backups_are_refused(tmp_path):
    store = ParquetResponseStore(tmp_path / "data")
    store.submit(make_record(1))
    (tmp_path / "half").mkdir()
    with pytest.raises(StoreError, match=r"not a complete backup: it has no manifest\.json"):
        store.restore(tmp_path / "half")
    (tmp_path / "half" / "something").write_text("x")
    with pytest.raises(StoreError, match="is not empty"):
        store.backup(tmp_path / "half")
    with pytest.raises(StoreError, match="inside the data folder"):
        store.backup(tmp_path / "data" / "backup")


def test_hardlink_backup(tmp_path):
    store = ParquetResponseStore(tmp_path / "data")
    for i in range(5):
        store.submit(make_record(i, province=11))
    result = store.backup(tmp_path / "backup", hardlink=True)
    assert result.files == 5
    original = parquet_files(store.root)[0]
    copy = tmp_path / "backup" / original.relative_to(store.root)
    assert copy.stat().st_ino == original.stat().st_ino
    store.compact("cfl")  # files are never changed in place, so the links stay valid
    assert pq.read_table(copy).num_rows == 1
    fresh = ParquetResponseStore(tmp_path / "elsewhere")
    assert fresh.restore(tmp_path / "backup").rows == 5
