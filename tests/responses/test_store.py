"""The Parquet store: submit, idempotency, validation hook, reads, quarantine, refusals."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import responses.store as store_module
from responses.errors import ConflictError, InvitationError, ResponseError, StoreError, StoreWarning
from responses.record import ResponseRecord, hash_token, new_response_id
from responses.store import ParquetResponseStore
from tests.responses.conftest import make_record, parquet_files, temp_files

REPO = Path(__file__).resolve().parents[2]


def test_submit_then_read_back(store):
    records = [make_record(i) for i in range(12)]
    receipts = [store.submit(r) for r in records]
    assert all(not r.duplicate and r.path.is_file() for r in receipts)
    assert receipts[0].path == (
        store.root
        / "responses/cfl/2026.1"
        / f"province={records[0].province:02d}"
        / f"{records[0].response_id}.parquet"
    )
    frame = store.read("cfl").set_index("response_id")
    assert len(frame) == 12
    for r in records:
        row = frame.loc[r.response_id]
        assert row["province"] == r.province
        assert row["submitted_at"] == pd.Timestamp(r.submitted_at)
        for column, value in r.answers.items():
            if value is None:
                assert pd.isna(row[column])
            else:
                assert row[column] == value
    assert str(frame["k0"].dtype) == "Int64"
    assert temp_files(store.root) == []
    assert store.count("cfl") == 12
    assert store.list_questionnaires() == ["cfl"]
    assert store.list_versions("cfl") == ["2026.1"]


def test_same_submission_twice_is_stored_once(store):
    record = make_record(1)
    first = store.submit(record)
    # A double click: the app builds the record again a moment later (new submitted_at).
    again = dataclasses.replace(
        record, submitted_at=record.submitted_at.replace(microsecond=0) + pd.Timedelta(seconds=2)
    )
    second = store.submit(again)
    third = store.submit(record)
    assert not first.duplicate and second.duplicate and third.duplicate
    assert second.submitted_at == first.submitted_at == record.submitted_at
    assert len(parquet_files(store.root)) == 1
    assert store.count("cfl") == 1


def test_identical_retries_at_the_same_moment_are_stored_once(store):
    record = make_record(2)
    barrier = threading.Barrier(8)
    receipts = []

    def send():
        barrier.wait()
        receipts.append(store.submit(record))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.duplicate for r in receipts) == [False] + [True] * 7
    assert len(parquet_files(store.root)) == 1
    assert temp_files(store.root) == []


def test_retry_with_different_answers_is_refused(store):
    record = make_record(3)
    receipt = store.submit(record)
    before = receipt.path.read_bytes()
    changed = dataclasses.replace(record, answers={**record.answers, "k0": 9})
    with pytest.raises(ConflictError, match="already stored with different answers"):
        store.submit(changed)
    moved = dataclasses.replace(record, province=65 if record.province != 65 else 11)
    with pytest.raises(ConflictError, match="already stored with different answers"):
        store.submit(moved)
    assert receipt.path.read_bytes() == before
    assert len(parquet_files(store.root)) == 1


def test_validator_runs_before_anything_is_written(tmp_path):
    seen = []

    def validator(record: ResponseRecord) -> ResponseRecord | None:
        seen.append(record.response_id)
        if record.answers.get("k0") == 5:
            raise ResponseError(["k0: 5 is not an option of 'k0'", "k1 is required"])
        if record.answers.get("k0") == 4:
            return dataclasses.replace(record, answers={**record.answers, "checked": 1})
        return None

    s = ParquetResponseStore(tmp_path / "data", validator=validator)
    bad = make_record(0, answers={"k0": 5})
    with pytest.raises(ResponseError) as info:
        s.submit(bad)
    assert info.value.problems == ["k0: 5 is not an option of 'k0'", "k1 is required"]
    assert not (tmp_path / "data" / "responses").exists()
    s.submit(make_record(1, answers={"k0": 4}))
    s.submit(make_record(2, answers={"k0": 1}))
    frame = s.read("cfl")
    assert sorted(frame["checked"].dropna().tolist()) == [1]
    assert len(seen) == 3

    s2 = ParquetResponseStore(tmp_path / "data", validator=lambda r: {"not": "a record"})  # type: ignore[arg-type,return-value]
    with pytest.raises(ResponseError, match="the validator returned dict"):
        s2.submit(make_record(3))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("questionnaire_id", "../../etc"),
        ("questionnaire_id", "cfl/../../x"),
        ("questionnaire_version", "../.."),
        ("questionnaire_version", "1/../../x"),
        ("province", 110),
        ("province", -1),
        ("response_id", "../../../../tmp/pwned"),
        ("response_id", "a" * 21 + "/"),
    ],
)
def test_identifiers_that_become_paths_are_checked(store, tmp_path, field, value):
    with pytest.raises(ResponseError, match=f"{field} .* is not valid"):
        make_record(1, **{field: value})
    # Even a record whose fields were changed after checking is refused by the store.
    record = make_record(1)
    object.__setattr__(record, field, value)
    with pytest.raises(ResponseError, match="is not valid"):
        store.submit(record)
    assert not (store.root / "responses").exists()
    assert list(tmp_path.rglob("pwned*")) == []


def test_path_arguments_of_reads_and_deletes_are_checked(store):
    with pytest.raises(ResponseError, match=re.escape("questionnaire_id '../x' is not valid")):
        store.read("../x")
    with pytest.raises(
        ResponseError, match=re.escape("questionnaire_version '../../x' is not valid")
    ):
        store.read("cfl", version="../../x")
    with pytest.raises(
        ResponseError, match=re.escape("response_id '../../state.sqlite3' is not valid")
    ):
        store.delete("../../state.sqlite3", reason="test", actor="me")


def test_versions_are_read_with_unified_columns(store):
    v1 = make_record(1, answers={"k1": 2, "old_only": 1})
    v2 = make_record(2, questionnaire_version="2026.2", answers={"k1": 2.5, "new_only": "x"})
    v10 = make_record(3, questionnaire_version="2026.10", answers={"k1": 3})
    for r in (v1, v2, v10):
        store.submit(r)
    assert store.list_versions("cfl") == ["2026.1", "2026.2", "2026.10"]
    frame = store.read("cfl").set_index("response_id")
    assert {"k1", "old_only", "new_only"} <= set(frame.columns)
    assert frame["k1"].dtype == "float64"  # int in one version, float in another
    assert frame.loc[v1.response_id, "k1"] == 2.0
    assert pd.isna(frame.loc[v2.response_id, "old_only"])
    assert pd.isna(frame.loc[v1.response_id, "new_only"])
    only_v1 = store.read("cfl", version="2026.1")
    assert list(only_v1["response_id"]) == [v1.response_id]
    assert "new_only" not in only_v1.columns


def test_type_clash_between_versions_becomes_text(store):
    store.submit(make_record(1, answers={"code": 7}))
    store.submit(make_record(2, questionnaire_version="2026.2", answers={"code": "7a"}))
    frame = store.read("cfl")
    assert sorted(frame["code"].tolist()) == ["7", "7a"]


def test_read_columns_and_dtype_backends(store):
    for i in range(5):
        store.submit(make_record(i))
    frame = store.read("cfl", columns=["k0", "province"])
    assert list(frame.columns) == ["response_id", "k0", "province"]
    arrow = store.read("cfl", dtype_backend="pyarrow")
    assert isinstance(arrow["k0"].dtype, pd.ArrowDtype)
    with pytest.raises(ResponseError, match="unknown column\\(s\\) 'nope'"):
        store.read("cfl", columns=["nope"])
    with pytest.raises(ResponseError, match="dtype_backend must be"):
        store.read("cfl", dtype_backend="numpy")  # type: ignore[arg-type]


def test_narrow_integer_reads_hold_every_stored_value(store):
    for i in range(12):
        store.submit(make_record(i, answers={"k0": i % 5 + 1, "big": 2**40 + i, "k1": 3}))
    store.compact("cfl")
    # a small file beyond the compacted files' range, and one with a value below it
    store.submit(make_record(20, answers={"k0": 300, "big": 1}))
    store.submit(make_record(21, answers={"k0": -129, "big": 2}))
    wide = store.read_table("cfl").table
    narrow = store.read_table("cfl", narrow_integers=True).table
    types = {name: narrow.schema.field(name).type for name in ("k0", "big", "k1", "province")}
    # k0 spans -129...300 (int16); big needs int64; k1 (missing in the small files) int8
    assert types == {"k0": pa.int16(), "big": pa.int64(), "k1": pa.int8(), "province": pa.int8()}
    assert wide.schema.field("k0").type == pa.int64()
    assert narrow.cast(wide.schema).equals(wide)
    only = store.read_table("cfl", columns=["k0"], narrow_integers=True).table
    assert only.column_names == ["response_id", "k0"] and only.num_rows == 14

    # a compacted file without statistics: its columns cannot be bounded and stay int64
    store.compact("cfl")
    for path in parquet_files(store.root):
        pq.write_table(pq.read_table(path), path, write_statistics=False)
    plain = store.read_table("cfl", narrow_integers=True).table
    assert plain.schema.field("k0").type == pa.int64()
    assert plain.sort_by("response_id").equals(wide.sort_by("response_id"))


def test_narrow_integer_read_as_masked_pandas_columns(store):
    for i in range(6):
        store.submit(make_record(i, answers={"k0": i % 5 + 1, "big": 2**40 + i}))
    store.submit(make_record(7, answers={"k0": None, "big": 1}))
    wide = store.read("cfl").sort_values("response_id", ignore_index=True)
    narrow = store.read("cfl", narrow_integers=True).sort_values("response_id", ignore_index=True)
    assert str(narrow["k0"].dtype) == "Int8" and str(narrow["big"].dtype) == "Int64"
    assert narrow["k0"].isna().sum() == 1
    pd.testing.assert_frame_equal(narrow.astype(wide.dtypes.to_dict()), wide)


def test_reading_nothing(store):
    frame = store.read("cfl")
    assert len(frame) == 0
    assert "response_id" in frame.columns
    assert store.count("cfl") == 0
    assert store.list_questionnaires() == []
    assert list(store.iter_batches("cfl")) == []


def test_iter_batches_covers_every_response_once(store):
    records = [make_record(i) for i in range(40)]
    for r in records[:25]:
        store.submit(r)
    store.compact("cfl")
    for r in records[25:]:
        store.submit(r)
    # A leftover of an interrupted compaction: one response present twice.
    small = store.root / "responses/cfl/2026.1"
    dup = records[0]
    pq.write_table(
        dup.to_table(), small / f"province={dup.province:02d}" / f"{dup.response_id}.parquet"
    )
    batches = list(store.iter_batches("cfl", batch_size=7, columns=["k0"]))
    ids = [rid for b in batches for rid in b.column("response_id").to_pylist()]
    assert sorted(ids) == sorted(r.response_id for r in records)
    assert all(b.schema.names == ["response_id", "k0", "submitted_at"] for b in batches)


# --- bad files -----------------------------------------------------------------------------


def test_bad_files_are_quarantined_and_the_rest_still_reads(store):
    records = [make_record(i, province=11) for i in range(6)]
    for r in records[:3]:
        store.submit(r)
    store.compact("cfl")
    for r in records[3:]:
        store.submit(r)
    part = store.root / "responses/cfl/2026.1/province=11"
    good = next(part.glob("compacted-*.parquet"))
    data = good.read_bytes()
    # 1. a truncated compacted file, 2. text in a response-named file, 3. a Parquet file that is
    # not a response, 4. an unexpected name, 5. a response file whose name is not its id.
    (part / ("compacted-" + "a" * 32 + ".parquet")).write_bytes(data[: len(data) // 2])
    (part / (new_response_id() + ".parquet")).write_text("hello, not parquet")
    pq.write_table(pa.table({"x": [1]}), part / ("compacted-" + "b" * 32 + ".parquet"))
    shutil.copy(good, part / "copy of results.parquet")
    pq.write_table(records[0].to_table(), part / (new_response_id() + ".parquet"))
    with pytest.warns(StoreWarning, match="could not be read") as caught:
        result = store.read_table("cfl")
    assert len(caught) == 5
    assert sorted(result.table.column("response_id").to_pylist()) == sorted(
        r.response_id for r in records
    )
    reasons = sorted(q.reason for q in result.quarantined)
    assert len(reasons) == 5
    assert any("not a readable Parquet file" in x for x in reasons)
    assert any("no 'response_id' column" in x for x in reasons)
    assert any("unexpected file name" in x for x in reasons)
    assert any("whose response_id is the file's name" in x for x in reasons)
    qdir = store.root / "quarantine"
    assert len(list(qdir.glob("*.reason.txt"))) == 5
    for q in result.quarantined:
        assert q.moved_to.is_file() and not (store.root / q.original).exists()
        note = json.loads(Path(str(q.moved_to) + ".reason.txt").read_text(encoding="utf-8"))
        assert note["reason"] == q.reason
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(store.read("cfl")) == 6  # nothing left to quarantine


def test_read_returns_the_quarantined_list(store):
    store.submit(make_record(1, province=11))
    part = store.root / "responses/cfl/2026.1/province=11"
    (part / (new_response_id() + ".parquet")).write_bytes(b"PAR1garbagePAR1")
    with pytest.warns(StoreWarning):
        frame = store.read("cfl")
    assert len(frame) == 1
    assert len(frame.attrs["quarantined"]) == 1


# --- refusals: disk full, read-only ----------------------------------------------------------


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in parquet_files(root)}


def test_disk_full_is_refused_cleanly(store, monkeypatch):
    for i in range(4):
        store.submit(make_record(i, province=11))
    before = _snapshot(store.root)

    def full_disk(file, data):
        file.write(bytes(data)[: len(data) // 3])  # part of it fits, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module, "_write_bytes", full_disk)
    record = make_record(10, province=11)
    with pytest.raises(
        StoreError,
        match=r"could not store the response: disk full .*nothing was changed; try again",
    ):
        store.submit(record)
    assert temp_files(store.root) == []
    assert _snapshot(store.root) == before
    assert store.count("cfl") == 4
    monkeypatch.undo()
    assert not store.submit(record).duplicate  # space freed: the retry goes through
    assert store.count("cfl") == 5


def test_disk_full_at_fsync_is_refused_cleanly(store, monkeypatch):
    store.submit(make_record(1, province=11))
    before = _snapshot(store.root)
    real_fsync = os.fsync

    def failing_fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(StoreError, match="disk full"):
        store.submit(make_record(2, province=11))
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert temp_files(store.root) == []
    assert _snapshot(store.root) == before


def test_read_only_file_system_is_refused_cleanly(store, monkeypatch):
    store.submit(make_record(1, province=11))
    before = _snapshot(store.root)

    def read_only(src, dst):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "link", read_only)
    with pytest.raises(StoreError, match=r"is read-only or not writable.*nothing was changed"):
        store.submit(make_record(2, province=11))
    assert temp_files(store.root) == []
    assert _snapshot(store.root) == before


_READ_ONLY_CHILD = """
import json, sys
from responses.store import ParquetResponseStore
from responses.errors import StoreError
from tests.responses.conftest import make_record
store = ParquetResponseStore(sys.argv[1])
out = []
for i, province in ((20, 11), (21, 44)):  # an existing partition, then a new one
    try:
        store.submit(make_record(i, province=province))
        out.append("stored")
    except StoreError as exc:
        out.append(str(exc))
print(json.dumps(out))
"""


def test_read_only_folder_is_refused_cleanly(tmp_path):
    """A real read-only folder (mode 0555). As root, the writer runs without the capability to
    override file permissions (util-linux setpriv), as an ordinary user would."""
    root = tmp_path / "data"
    s = ParquetResponseStore(root)
    s.submit(make_record(1, province=11))
    before = _snapshot(root)
    dirs = [root, *[p for p in root.rglob("*") if p.is_dir()]]
    for d in dirs:
        d.chmod(0o555)
    try:
        cmd = [sys.executable, "-c", _READ_ONLY_CHILD, str(root)]
        if os.geteuid() == 0:
            cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", *cmd]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    finally:
        for d in dirs:
            d.chmod(0o755)
    assert done.returncode == 0, done.stderr
    messages = json.loads(done.stdout)
    assert len(messages) == 2
    for message in messages:
        assert message.startswith("could not store the response: the data folder")
        assert "is read-only or not writable" in message
        assert message.endswith("nothing was changed; try again.")
    assert temp_files(root) == []
    assert _snapshot(root) == before


# --- tokens through submit ------------------------------------------------------------------


def test_submission_with_a_token_uses_it_up(store):
    token = store.state.generate_tokens("cfl", 1, actor="admin")[0]
    first = make_record(1, token_hash=hash_token(token))
    assert store.state.claim_token("cfl", token, response_id=first.response_id)
    code = store.state.save_draft(
        "cfl", "2026.1", {"k0": 1}, response_id=first.response_id, token=token
    )
    store.submit(first)
    assert store.state.token_status("cfl", token) == "submitted"
    assert store.state.load_draft(code) is None
    assert store.submit(first).duplicate  # a retry is fine
    other = make_record(2, token_hash=hash_token(token))
    with pytest.raises(InvitationError, match="already been used"):
        store.submit(other)
    with pytest.raises(InvitationError, match="not valid"):
        store.submit(make_record(3, token_hash=hash_token("made-up")))
    assert store.count("cfl") == 1


def test_submission_with_an_unclaimed_token_claims_it(store):
    token = store.state.generate_tokens("cfl", 1, actor="admin")[0]
    store.submit(make_record(1, token_hash=hash_token(token)))
    assert store.state.token_status("cfl", token) == "submitted"
    other = store.state.generate_tokens("other", 1, actor="admin")[0]
    with pytest.raises(InvitationError, match="is for questionnaire 'other'"):
        store.submit(make_record(2, token_hash=hash_token(other)))


def test_counts_and_column_reads_of_uncompacted_files(store):
    for i in range(30):
        store.submit(make_record(i))
    store.submit(make_record(40, questionnaire_version="2026.2", answers={"only_v2": 1}))
    assert store.uncompacted_files("cfl") == 31
    assert store.uncompacted_files("cfl", version="2026.2") == 1
    assert store.count("cfl") == 31
    frame = store.read("cfl", columns=["only_v2", "province"])
    assert list(frame.columns) == ["response_id", "only_v2", "province"]
    assert frame["only_v2"].sum() == 1
    store.compact("cfl")
    assert store.uncompacted_files("cfl") == 0
    assert store.count("cfl") == 31


def test_the_core_does_not_import_streamlit():
    code = "import sys, responses, responses.cli; print('streamlit' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    )
    assert done.stdout.strip() == "False"


def test_duplicate_ids_are_found_whatever_their_layout():
    ids = [new_response_id() for _ in range(300)]
    same_prefix = ["AAAAAAAA" + "x" * 14, "AAAAAAAA" + "y" * 14]
    assert not store_module._may_have_duplicates(pa.chunked_array([ids]))
    assert store_module._may_have_duplicates(pa.chunked_array([ids[:200], ids[150:]]))
    assert not store_module._may_have_duplicates(pa.chunked_array([same_prefix]))
    assert store_module._may_have_duplicates(pa.chunked_array([[*same_prefix, same_prefix[1]]]))
    assert not store_module._may_have_duplicates(pa.chunked_array([pa.array(ids).slice(7, 50)]))
    assert store_module._may_have_duplicates(pa.chunked_array([["short", "other", "short"]]))
