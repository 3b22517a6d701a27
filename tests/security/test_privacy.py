"""Privacy end to end: contact details never enter a response file, consent and its version go
with every response, deletion on request reaches every copy in the data folder (and says what
it cannot reach), and the retention setting purges drafts and contact details on time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from responses.config import load_config
from responses.errors import ResponseError, StoreError
from responses.record import new_response_id
from responses.store import ParquetResponseStore
from responses.submission import save_progress
from tests.security.conftest import ANSWERS, NOW, SURVEY, every_file_bytes, submit

PHONE = "+86 139 0000 4321"
DRAFT_TEXT = "我家住在幸福路四十二号三单元"  # a draft may hold anything the respondent typed


def response_rows(root: Path, response_id: str) -> list[Path]:
    """Every Parquet file anywhere under ``root`` that holds a row of ``response_id``."""
    return [
        f
        for f in sorted(root.rglob("*.parquet"))
        if response_id in pq.read_table(f, columns=["response_id"]).column(0).to_pylist()
    ]


def state_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.glob("state.sqlite3*")))


def test_contact_details_are_kept_apart_and_linked_only_by_a_random_key(store):
    receipt = submit(store, answers={**ANSWERS, "phone": PHONE})
    responses = b"".join(p.read_bytes() for p in store.responses_dir.rglob("*.parquet"))
    assert PHONE.encode() not in responses
    assert "phone" not in store.read("secq").columns  # not even an empty column
    (contact,) = store.state.list_contacts("secq")
    assert contact.details["phone"] == PHONE
    assert contact.response_id == receipt.response_id  # 128 random bits, nothing personal
    assert len(contact.contact_key) == 22


def test_consent_and_its_version_are_recorded_with_every_response(store):
    submit(store)
    assert store.read("secq")["consent_version"].tolist() == ["c-2026"]
    for version in (None, "c-2025", ""):
        with pytest.raises(ResponseError) as exc:
            submit(store, consent_version=version)
        assert [p.rule for p in exc.value.details] == ["consent"]
    assert store.count("secq") == 1


def test_deletion_reaches_every_copy_in_the_data_folder(tmp_path, store):
    target = submit(store, answers={**ANSWERS, "phone": PHONE, "comment": "请删除我的回答"})
    other = submit(store, answers={**ANSWERS, "comment": "保留"})
    rid = target.response_id
    save_progress(store.state, SURVEY, {"comment": DRAFT_TEXT}, page="about", response_id=rid)
    small_bytes = target.path.read_bytes()
    store.compact("secq")
    # a backup restored in place leaves the replaced data in pre-restore-*/ ...
    store.backup(tmp_path / "backup")
    store.restore(tmp_path / "backup")
    # ... and a crash mid-compaction can leave a row in a small file and a compacted file
    target.path.write_bytes(small_bytes)
    assert len(response_rows(store.root, rid)) == 3  # compacted, small, pre-restore copy

    result = store.delete(rid, reason="respondent asked by phone", actor="dpo")

    assert response_rows(store.root, rid) == []
    assert response_rows(store.root, other.response_id) != []
    assert store.state.list_contacts("secq") == []
    assert result.contacts_removed == 1
    state = state_bytes(store.root)
    assert PHONE.encode() not in state  # zeroed in the database and gone from its log
    assert DRAFT_TEXT.encode() not in state
    entry = store.state.read_audit(action="delete")[-1]
    assert (entry.actor, entry.target) == ("dpo", rid)
    assert entry.details["reason"] == "respondent asked by phone"
    # cannot come back: a late retry of the same submission is refused
    with pytest.raises(StoreError, match="deleted on request"):
        submit(store, response_id=rid)


def test_what_deletion_does_not_reach_and_how_restore_makes_up_for_it(tmp_path, store):
    """A backup taken before the deletion still holds the response (backups are outside the
    data folder); restoring that backup re-applies the deletion."""
    target = submit(store, answers={**ANSWERS, "phone": PHONE})
    store.backup(tmp_path / "old-backup")
    store.delete(target.response_id, reason="asked", actor="dpo")
    assert response_rows(tmp_path / "old-backup", target.response_id) != []  # not reached
    assert PHONE.encode() in every_file_bytes(tmp_path / "old-backup")
    result = store.restore(tmp_path / "old-backup")
    assert result.deletions_reapplied >= 1
    assert response_rows(store.root / "responses", target.response_id) == []
    assert store.state.list_contacts("secq") == []


def test_retention_purges_drafts_and_contact_details_on_time(tmp_path):
    store = ParquetResponseStore(
        tmp_path / "data", draft_retention_days=30, contact_retention_days=180
    )
    rid = new_response_id()
    save_progress(store.state, SURVEY, {"comment": DRAFT_TEXT}, page="about", response_id=rid,
                  now=NOW)
    submit(store, answers={**ANSWERS, "phone": PHONE}, now=NOW)
    state = store.state
    day = dt.timedelta(days=1)

    assert state.purge_expired(now=NOW + 30 * day - dt.timedelta(seconds=1)).drafts == 0
    first = state.purge_expired(now=NOW + 30 * day)
    assert (first.drafts, first.contacts) == (1, 0)
    assert DRAFT_TEXT.encode() not in state_bytes(store.root)
    assert state.purge_expired(now=NOW + 179 * day).contacts == 0
    second = state.purge_expired(now=NOW + 180 * day)
    assert (second.drafts, second.contacts) == (0, 1)
    assert PHONE.encode() not in state_bytes(store.root)
    assert [e.details for e in state.read_audit(action="purge")] == [
        {"drafts": 1, "contacts": 0},
        {"drafts": 0, "contacts": 1},
    ]
    assert store.count("secq") == 1  # the answers themselves are kept


def test_the_retention_settings_are_read_from_the_environment(tmp_path):
    config = load_config(
        environ={
            "SURVEY_DATA_DIR": str(tmp_path / "d"),
            "SURVEY_DRAFT_RETENTION_DAYS": "7",
            "SURVEY_CONTACT_RETENTION_DAYS": "90",
        },
        cwd=tmp_path,
    )
    assert (config.draft_retention_days, config.contact_retention_days) == (7, 90)
    store = ParquetResponseStore.from_config(config)
    code = store.state.save_draft("secq", "1", {"a": 1}, response_id=new_response_id(), now=NOW)
    draft = store.state.load_draft(code, now=NOW)
    assert draft is not None and draft.expires_at - draft.saved_at == dt.timedelta(days=7)
