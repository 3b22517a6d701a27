"""Operational state: invitations, drafts, audit log, contact details, purge, attempts."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest

from responses.errors import InvitationError, ResponseError
from responses.record import hash_token, new_response_id
from responses.state import (
    RESUME_CODE_ALPHABET,
    RESUME_CODE_BITS,
    SQLiteState,
    format_resume_code,
    normalize_resume_code,
    write_token_csv,
)

T0 = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def state(tmp_path):
    with SQLiteState(
        tmp_path / "state.sqlite3",
        draft_retention=dt.timedelta(days=30),
        contact_retention=dt.timedelta(days=180),
    ) as s:
        yield s


def _db_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


# --- invitations -------------------------------------------------------------------------------


def test_tokens_are_random_and_only_their_hashes_are_stored(state):
    tokens = state.generate_tokens("cfl", 50, actor="ops")
    assert len(set(tokens)) == 50
    assert all(len(t) == 22 for t in tokens)
    raw = _db_bytes(state.path)
    for token in tokens:
        assert token.encode() not in raw
    assert hash_token(tokens[0]).encode() in raw  # the search does look in the right place
    assert state.token_counts("cfl").unused == 50
    entry = state.read_audit(action="generate_tokens")[-1]
    assert entry.actor == "ops" and entry.details["n"] == 50


def test_resume_codes_are_not_stored_either(state):
    rid = new_response_id()
    code = state.save_draft("cfl", "2026.1", {"k0": 1}, response_id=rid)
    token = state.generate_tokens("cfl", 1, actor="ops")[0]
    state.save_draft("cfl", "2026.1", {"k0": 2}, response_id=new_response_id(), token=token)
    raw = _db_bytes(state.path)
    assert code.encode() not in raw
    assert token.encode() not in raw


def test_token_life_cycle(state):
    token = state.generate_tokens("cfl", 1, actor="ops")[0]
    rid = new_response_id()
    assert state.token_status("cfl", token) == "unused"
    assert state.is_token_usable("cfl", token)
    assert state.token_status("other", token) == "unknown"
    assert state.token_status("cfl", "guess") == "unknown"
    assert state.claim_token("cfl", token, response_id=rid)
    assert state.token_status("cfl", token) == "started"
    assert state.claim_token("cfl", token, response_id=rid)  # reload: same response
    assert not state.claim_token("cfl", token, response_id=new_response_id())
    assert not state.claim_token("other", token, response_id=rid)
    state.complete_token(hash_token(token), response_id=rid)
    assert state.token_status("cfl", token) == "submitted"
    assert not state.is_token_usable("cfl", token)
    assert not state.claim_token("cfl", token, response_id=rid)
    counts = state.token_counts("cfl")
    assert (counts.unused, counts.started, counts.submitted, counts.total) == (0, 0, 1, 1)


def test_a_token_is_claimed_once_by_threads_at_the_same_moment(state):
    tokens = state.generate_tokens("cfl", 20, actor="ops")
    for token in tokens:
        barrier = threading.Barrier(8)
        wins: list[bool] = []

        def claim(token=token, barrier=barrier, wins=wins):
            barrier.wait()
            wins.append(state.claim_token("cfl", token, response_id=new_response_id()))

        threads = [threading.Thread(target=claim) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(wins) == [False] * 7 + [True]


def _claim_in_process(path: str, tokens: list[str], start, out) -> None:
    s = SQLiteState(path)
    start.wait()
    out.put([s.claim_token("cfl", t, response_id=new_response_id()) for t in tokens])
    s.close()


def test_a_token_is_claimed_once_by_processes_at_the_same_moment(state):
    tokens = state.generate_tokens("cfl", 200, actor="ops")
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_claim_in_process, args=(str(state.path), tokens, start, out))
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    start.set()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    for a, b in zip(*results, strict=True):
        assert a != b  # exactly one of the two processes got each token
    assert state.token_counts("cfl").started == 200


def test_reserve_token_explains_refusals(state):
    token = state.generate_tokens("cfl", 1, actor="ops")[0]
    rid = new_response_id()
    state.reserve_token("cfl", hash_token(token), response_id=rid)
    state.reserve_token("cfl", hash_token(token), response_id=rid)  # idempotent
    with pytest.raises(InvitationError, match="already been used for another response"):
        state.reserve_token("cfl", hash_token(token), response_id=new_response_id())
    with pytest.raises(InvitationError, match="not valid"):
        state.reserve_token("cfl", hash_token("nope"), response_id=rid)


def test_token_csv(state, tmp_path):
    tokens = state.generate_tokens("cfl", 3, actor="ops")
    out = write_token_csv(tmp_path / "t.csv", "cfl", tokens, public_url="https://s.example/")
    lines = out.read_text().splitlines()
    assert lines[0] == "token,link"
    assert lines[1] == f"{tokens[0]},https://s.example/?q=cfl&token={tokens[0]}"
    assert out.stat().st_mode & 0o777 == 0o600
    with pytest.raises(Exception, match="already exists"):
        write_token_csv(out, "cfl", tokens, public_url="https://s.example/")
    out2 = write_token_csv(tmp_path / "u.csv", "cfl", tokens[:1], public_url="https://s/x?lang=en")
    assert out2.read_text().splitlines()[1].endswith(f"?lang=en&q=cfl&token={tokens[0]}")


def test_bad_token_requests(state):
    with pytest.raises(ResponseError, match="n must be a whole number"):
        state.generate_tokens("cfl", 0, actor="ops")
    with pytest.raises(ResponseError, match="questionnaire_id"):
        state.generate_tokens("../x", 1, actor="ops")


# --- drafts --------------------------------------------------------------------------------------


def test_resume_code_shape_and_entropy():
    assert len(RESUME_CODE_ALPHABET) == 32 and RESUME_CODE_BITS == 60
    assert not set("ILOU") & set(RESUME_CODE_ALPHABET)
    assert format_resume_code("7K3MQ9TZ2HXC") == "7K3M-Q9TZ-2HXC"
    assert normalize_resume_code(" 7k3m-q9tz-2hxc ") == "7K3MQ9TZ2HXC"
    assert normalize_resume_code("O1IL") is None
    assert normalize_resume_code("7K3M-Q9TZ-2HXO") == "7K3MQ9TZ2HX0"
    assert normalize_resume_code("7K3M-Q9TZ-2HX!") is None


def test_save_and_resume(state):
    rid = new_response_id()
    code = state.save_draft("cfl", "2026.1", {"k0": 1, "page": 2}, response_id=rid, now=T0)
    assert len(code) == 12 and set(code) <= set(RESUME_CODE_ALPHABET)
    draft = state.load_draft(format_resume_code(code).lower(), now=T0)
    assert draft is not None
    assert dict(draft.data) == {"k0": 1, "page": 2}
    assert draft.response_id == rid and not draft.has_token
    assert draft.expires_at == T0 + dt.timedelta(days=30)
    # Saving again with the code updates the same draft and keeps the code.
    assert state.save_draft("cfl", "2026.1", {"k0": 3}, response_id=rid, resume_code=code) == code
    assert dict(state.load_draft(code).data) == {"k0": 3}
    # Wrong, malformed and expired codes all answer None.
    assert state.load_draft("0000-0000-0000") is None
    assert state.load_draft("not a code") is None
    assert state.load_draft(code, now=T0 + dt.timedelta(days=400)) is None


def test_a_token_resumes_its_draft(state):
    token = state.generate_tokens("cfl", 1, actor="ops")[0]
    rid = new_response_id()
    code = state.save_draft("cfl", "2026.1", {"k0": 1}, response_id=rid, token=token)
    draft = state.load_draft_by_token("cfl", token)
    assert draft is not None and draft.response_id == rid and draft.has_token
    assert state.load_draft_by_token("other", token) is None
    assert state.load_draft_by_token("cfl", "wrong") is None
    # Saving through the token (no code at hand) updates the draft and issues a new code.
    code2 = state.save_draft("cfl", "2026.1", {"k0": 2}, response_id=rid, token=token)
    assert code2 != code
    assert state.load_draft(code) is None
    assert dict(state.load_draft(code2).data) == {"k0": 2}
    with pytest.raises(InvitationError, match="already has a saved draft of another response"):
        state.save_draft("cfl", "2026.1", {}, response_id=new_response_id(), token=token)


def test_draft_data_must_be_json(state):
    with pytest.raises(ResponseError, match="draft data cannot be saved"):
        state.save_draft("cfl", "2026.1", {"when": T0}, response_id=new_response_id())
    with pytest.raises(ResponseError, match="larger than"):
        state.save_draft("cfl", "2026.1", {"x": "a" * 1_100_000}, response_id=new_response_id())


def test_delete_drafts_of_a_response(state):
    rid = new_response_id()
    code = state.save_draft("cfl", "2026.1", {}, response_id=rid)
    assert state.delete_drafts(response_id=rid) == 1
    assert state.load_draft(code) is None
    assert state.delete_drafts(response_id=rid) == 0


def test_count_drafts_by_version_hour_and_page(state):
    """Unfinished responses for break-off reports: live drafts only, grouped."""
    hour = dt.timedelta(hours=1)
    state.save_draft("cfl", "2026.1", {"page": "knowledge"}, response_id=new_response_id(),
                     now=T0)
    state.save_draft("cfl", "2026.1", {"page": "knowledge"}, response_id=new_response_id(),
                     now=T0 + dt.timedelta(minutes=20))
    state.save_draft("cfl", "2026.1", {"answers": {}}, response_id=new_response_id(),
                     now=T0 + hour)
    state.save_draft("cfl", "2026.2", {"page": "skills"}, response_id=new_response_id(),
                     now=T0 + hour)
    state.save_draft("other", "1.0", {"page": "x"}, response_id=new_response_id(), now=T0)
    submitted = new_response_id()
    state.save_draft("cfl", "2026.1", {"page": "skills"}, response_id=submitted, now=T0)
    state.delete_drafts(response_id=submitted)  # what submitting does
    counts = state.count_drafts("cfl", now=T0 + 2 * hour)
    assert [(c.questionnaire_version, c.saved_hour, c.page, c.n) for c in counts] == [
        ("2026.1", T0, "knowledge", 2),
        ("2026.1", T0 + hour, None, 1),
        ("2026.2", T0 + hour, "skills", 1),
    ]
    assert state.count_drafts("cfl", now=T0 + dt.timedelta(days=30, minutes=30)) == [
        c for c in counts if c.saved_hour == T0 + hour
    ]
    with pytest.raises(ResponseError, match="questionnaire_id"):
        state.count_drafts("../etc")


# --- audit log -----------------------------------------------------------------------------------


def test_audit_log_is_append_only(state):
    e1 = state.append_audit("export", actor="analyst", target="cfl", details={"rows": 10}, now=T0)
    e2 = state.append_audit("import", actor="ops", target="cfl")
    entries = state.read_audit()
    assert [e.seq for e in entries] == [e1.seq, e2.seq]
    assert entries[0].at == T0 and entries[0].details == {"rows": 10}
    assert [e.action for e in state.read_audit(limit=1)] == ["import"]
    assert [e.action for e in state.read_audit(action="export")] == ["export"]
    assert not any(hasattr(state, name) for name in ("update_audit", "delete_audit"))
    conn = sqlite3.connect(state.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit SET actor = 'someone else'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit")
    conn.close()
    assert len(state.read_audit()) == 2
    with pytest.raises(ResponseError, match="actor"):
        state.append_audit("export", actor=" ")


# --- contact details and purge ---------------------------------------------------------------


def test_contacts_are_kept_apart_and_purged(state):
    rid = new_response_id()
    key = state.save_contact("cfl", {"phone": "13800000000"}, response_id=rid, now=T0)
    state.save_contact("cfl", {"email": "x@example.org"}, now=T0 + dt.timedelta(days=100))
    contacts = state.list_contacts("cfl")
    assert contacts[0].contact_key == key
    assert contacts[0].details == {"phone": "13800000000"}
    assert contacts[0].expires_at == T0 + dt.timedelta(days=180)
    with pytest.raises(ResponseError, match="mapping of text to text"):
        state.save_contact("cfl", {"phone": 138})  # type: ignore[dict-item]
    code = state.save_draft("cfl", "2026.1", {}, response_id=rid, now=T0)
    result = state.purge_expired(now=T0 + dt.timedelta(days=181), actor="cron")
    assert (result.drafts, result.contacts) == (1, 1)
    assert [c.details for c in state.list_contacts("cfl")] == [{"email": "x@example.org"}]
    assert state.load_draft(code, now=T0) is None
    entry = state.read_audit(action="purge")[-1]
    assert entry.actor == "cron" and entry.details == {"drafts": 1, "contacts": 1}
    assert state.purge_expired(now=T0 + dt.timedelta(days=182)).drafts == 0
    assert len(state.read_audit(action="purge")) == 1  # nothing removed, nothing recorded


def test_retention_periods_are_settings(tmp_path):
    with SQLiteState(tmp_path / "s.sqlite3", draft_retention=dt.timedelta(days=2)) as s:
        code = s.save_draft("cfl", "2026.1", {}, response_id=new_response_id(), now=T0)
        assert s.purge_expired(now=T0 + dt.timedelta(days=1)).drafts == 0
        assert s.purge_expired(now=T0 + dt.timedelta(days=2, seconds=1)).drafts == 1
        assert s.load_draft(code, now=T0) is None


def test_attempts_are_limited_per_key(state):
    for _ in range(3):
        assert state.allow_attempt("session-1", limit=3, now=T0)
    assert not state.allow_attempt("session-1", limit=3, now=T0 + dt.timedelta(minutes=1))
    assert state.allow_attempt("session-2", limit=3, now=T0)
    assert state.allow_attempt("session-1", limit=3, now=T0 + dt.timedelta(minutes=16))
    assert b"session-1" not in _db_bytes(state.path)


def test_wal_mode(state):
    conn = sqlite3.connect(state.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
