"""Removal on request: small files, compacted files, drafts, contact details, audit log."""

from __future__ import annotations

import errno

import pyarrow.parquet as pq
import pytest

import responses.store as store_module
from responses.errors import ResponseError, StoreError
from tests.responses.conftest import make_record, parquet_files


def test_delete_a_small_file(store):
    keep, gone = make_record(1), make_record(2)
    store.submit(keep)
    store.submit(gone)
    result = store.delete(gone.response_id, reason="respondent asked", actor="dpo")
    assert result.found and result.files_removed == 1 and result.files_rewritten == 0
    assert store.read("cfl")["response_id"].tolist() == [keep.response_id]


def test_delete_from_a_compacted_file_rewrites_it_without_the_row(store):
    records = [make_record(i, province=11) for i in range(10)]
    for r in records:
        store.submit(r)
    store.compact("cfl")
    target = records[4]
    (compacted,) = parquet_files(store.root)
    inode = compacted.stat().st_ino
    result = store.delete(target.response_id, reason="withdrawn consent", actor="dpo")
    assert result.files_rewritten == 1 and result.files_removed == 0
    assert compacted.stat().st_ino != inode  # replaced atomically, not edited in place
    ids = pq.read_table(compacted).column("response_id").to_pylist()
    assert sorted(ids) == sorted(r.response_id for r in records if r is not target)
    frame = store.read("cfl").set_index("response_id")
    assert target.response_id not in frame.index
    other = records[5]
    assert frame.loc[other.response_id, "k0"] == other.answers["k0"]


def test_delete_everywhere_at_once(store):
    """A crash mid-compaction left the row in a compacted file and a small file; a draft and
    contact details exist too: all go."""
    target = make_record(1, province=11)
    store.submit(target)
    store.submit(make_record(2, province=11))
    store.compact("cfl")
    pq.write_table(
        target.to_table(),
        store.root / "responses/cfl/2026.1/province=11" / f"{target.response_id}.parquet",
    )
    code = store.state.save_draft("cfl", "2026.1", {"k0": 1}, response_id=target.response_id)
    store.state.save_contact("cfl", {"phone": "13800000000"}, response_id=target.response_id)
    result = store.delete(target.response_id, reason="request by e-mail", actor="dpo")
    assert (result.files_removed, result.files_rewritten) == (1, 1)
    assert (result.drafts_removed, result.contacts_removed) == (1, 1)
    assert store.state.load_draft(code) is None
    assert store.state.list_contacts("cfl") == []
    for f in parquet_files(store.root):
        assert target.response_id not in pq.read_table(f).column("response_id").to_pylist()
    entry = store.state.read_audit(action="delete")[-1]
    assert entry.actor == "dpo" and entry.target == target.response_id
    assert entry.details["reason"] == "request by e-mail"
    assert entry.details["files_rewritten"] == 1


def test_the_last_row_of_a_compacted_file_removes_the_file(store):
    only = make_record(1, province=11)
    store.submit(only)
    store.compact("cfl")
    result = store.delete(only.response_id, reason="asked", actor="dpo")
    assert result.files_removed == 1
    assert parquet_files(store.root) == []
    assert store.count("cfl") == 0


def test_a_deleted_response_cannot_come_back(store):
    record = make_record(1)
    store.submit(record)
    store.delete(record.response_id, reason="asked", actor="dpo")
    with pytest.raises(StoreError, match="was deleted on request and cannot be stored again"):
        store.submit(record)
    assert store.count("cfl") == 0


def test_deleting_an_unknown_id_is_recorded_and_blocks_it(store):
    record = make_record(1)
    result = store.delete(record.response_id, reason="asked before submitting", actor="dpo")
    assert not result.found
    assert store.state.read_audit(action="delete")[-1].details["found"] is False
    with pytest.raises(StoreError, match="deleted on request"):
        store.submit(record)


def test_reason_and_actor_are_required(store):
    record = make_record(1)
    with pytest.raises(ResponseError, match="give a reason"):
        store.delete(record.response_id, reason=" ", actor="dpo")
    with pytest.raises(ResponseError, match="give the actor"):
        store.delete(record.response_id, reason="asked", actor="")


def test_a_failed_rewrite_leaves_the_file_as_it_was(store, monkeypatch):
    records = [make_record(i, province=11) for i in range(5)]
    for r in records:
        store.submit(r)
    store.compact("cfl")
    (compacted,) = parquet_files(store.root)
    before = compacted.read_bytes()
    real_write = store_module._write_parquet

    def full(sink, table, **options):
        real_write(sink, table.slice(0, 1), **options)  # part of it fits, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module, "_write_parquet", full)
    with pytest.raises(StoreError, match=r"disk full.*that file was not changed; try again"):
        store.delete(records[0].response_id, reason="asked", actor="dpo")
    monkeypatch.undo()
    assert compacted.read_bytes() == before
    assert [p.name for p in compacted.parent.iterdir() if p.name.startswith(".")] == []
    store.delete(records[0].response_id, reason="asked", actor="dpo")
    assert store.count("cfl") == 4
