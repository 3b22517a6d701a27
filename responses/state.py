"""Operational state: invitations, drafts (save and resume), the audit log and contact details.

Kept in one SQLite database (``state.sqlite3`` under the data folder, WAL mode) behind the
:class:`StateStore` interface, so that a PostgreSQL implementation can replace it later.

Secrets are never stored: invitation tokens and resume codes are kept as their SHA-256
(:func:`responses.record.hash_token`). Look-ups go by that hash (an index look-up on a hash of
a 128-bit or 60-bit random secret tells an attacker nothing about other secrets), and a row
found is confirmed with :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import json
import math
import os
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Protocol

from responses.errors import InvitationError, ResponseError, StoreError
from responses.record import check_questionnaire_id, check_response_id, check_version, hash_token

__all__ = [
    "RESUME_CODE_ALPHABET",
    "RESUME_CODE_BITS",
    "AuditEntry",
    "AuditPage",
    "Contact",
    "Draft",
    "DraftCount",
    "PurgeResult",
    "QuestionnaireOverride",
    "SQLiteState",
    "StateStore",
    "TokenCounts",
    "TokenStatus",
    "format_resume_code",
    "invitation_link",
    "new_resume_code",
    "normalize_resume_code",
    "write_token_csv",
]

TokenStatus = Literal["unknown", "unused", "started", "submitted"]

#: Crockford's base 32: digits and capitals without I, L, O, U (no 0/O or 1/I/L confusion).
RESUME_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RESUME_CODE_LENGTH = 12
#: Entropy of a resume code: 12 symbols x log2(32) = 60 bits (about 1.15e18 codes).
RESUME_CODE_BITS = RESUME_CODE_LENGTH * 5
MAX_DRAFT_BYTES = 1_000_000
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})

_DRAFT_COLUMNS = (
    "SELECT questionnaire_id, questionnaire_version, response_id, data, saved_at, expires_at, "
    "token_hash, "
)
_DRAFT_QUERIES = {
    "code_hash": _DRAFT_COLUMNS + "code_hash FROM drafts WHERE code_hash = ? AND expires_at > ?",
    "token_hash": _DRAFT_COLUMNS + "token_hash FROM drafts WHERE token_hash = ? AND expires_at > ?",
}

_AUDIT_COUNT = (
    "SELECT count(*) FROM audit"
    " WHERE (:action IS NULL OR action = :action) AND (:actor IS NULL OR actor = :actor)"
    " AND (:target IS NULL OR target = :target) AND (:since IS NULL OR at >= :since)"
    " AND (:until IS NULL OR at < :until)"
)
_AUDIT_PAGE = (
    "SELECT seq, entry_id, at, actor, action, target, details FROM audit"
    " WHERE (:action IS NULL OR action = :action) AND (:actor IS NULL OR actor = :actor)"
    " AND (:target IS NULL OR target = :target) AND (:since IS NULL OR at >= :since)"
    " AND (:until IS NULL OR at < :until)"
    " ORDER BY seq DESC LIMIT :limit OFFSET :offset"
)
_AUDIT_VALUES = {
    "action": "SELECT DISTINCT action FROM audit ORDER BY action",
    "actor": "SELECT DISTINCT actor FROM audit ORDER BY actor",
}

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    questionnaire_id TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'unused' CHECK (status IN ('unused', 'started', 'submitted')),
    response_id TEXT,
    batch_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    submitted_at TEXT
);
CREATE INDEX IF NOT EXISTS tokens_by_questionnaire ON tokens (questionnaire_id, status);
CREATE TABLE IF NOT EXISTS drafts (
    code_hash TEXT PRIMARY KEY,
    questionnaire_id TEXT NOT NULL,
    questionnaire_version TEXT NOT NULL,
    response_id TEXT NOT NULL,
    token_hash TEXT UNIQUE,
    data TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS drafts_by_response ON drafts (response_id);
CREATE INDEX IF NOT EXISTS drafts_by_expiry ON drafts (expires_at);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id TEXT NOT NULL UNIQUE,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be deleted'); END;
CREATE TABLE IF NOT EXISTS contacts (
    contact_key TEXT PRIMARY KEY,
    questionnaire_id TEXT NOT NULL,
    response_id TEXT,
    details TEXT NOT NULL,
    given_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS contacts_by_questionnaire ON contacts (questionnaire_id);
CREATE INDEX IF NOT EXISTS contacts_by_expiry ON contacts (expires_at);
CREATE TABLE IF NOT EXISTS attempts (key_hash TEXT NOT NULL, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS attempts_by_key ON attempts (key_hash, at);
CREATE TABLE IF NOT EXISTS questionnaire_overrides (
    questionnaire_id TEXT NOT NULL,
    version TEXT NOT NULL,
    status TEXT CHECK (status IS NULL OR status IN ('open', 'closed')),
    quotas TEXT,
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    PRIMARY KEY (questionnaire_id, version)
);
CREATE INDEX IF NOT EXISTS audit_by_action ON audit (action, seq);
CREATE INDEX IF NOT EXISTS audit_by_actor ON audit (actor, seq);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (at);
"""


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenCounts:
    """How many invitation tokens of a questionnaire are unused, started and submitted."""

    questionnaire_id: str
    unused: int
    started: int
    submitted: int

    @property
    def total(self) -> int:
        return self.unused + self.started + self.submitted


@dataclass(frozen=True)
class Draft:
    """A saved, unfinished response (``data`` is whatever the app saved: answers, page ...)."""

    questionnaire_id: str
    questionnaire_version: str
    response_id: str
    data: Mapping[str, Any]
    saved_at: dt.datetime
    expires_at: dt.datetime
    has_token: bool


@dataclass(frozen=True)
class DraftCount:
    """Unfinished responses (saved drafts, not submitted, not expired) of one questionnaire
    version, last saved in one hour (UTC), left on one page (``None``: the start)."""

    questionnaire_version: str
    saved_hour: dt.datetime
    page: str | None
    n: int


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log: who did what, to what, when."""

    seq: int
    entry_id: str
    at: dt.datetime
    actor: str
    action: str
    target: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Contact:
    """Contact details given for a prize draw or follow-up, kept apart from the answers."""

    contact_key: str
    questionnaire_id: str
    response_id: str | None
    details: Mapping[str, str]
    given_at: dt.datetime
    expires_at: dt.datetime


@dataclass(frozen=True)
class PurgeResult:
    """What :meth:`StateStore.purge_expired` removed."""

    drafts: int
    contacts: int
    attempts: int


@dataclass(frozen=True)
class AuditPage:
    """One page of audit entries matching some filters (:meth:`StateStore.search_audit`).

    ``entries`` are newest first; ``total`` counts every entry matching the filters.
    """

    entries: tuple[AuditEntry, ...]
    total: int
    offset: int
    limit: int


@dataclass(frozen=True)
class QuestionnaireOverride:
    """Operational settings of one questionnaire version that replace those of its file.

    Set from the administration pages, so that opening, closing and quotas never need the
    questionnaire file to be edited (see :mod:`responses.overrides`).

    Attributes
    ----------
    status
        ``open`` or ``closed``; ``None``: the file's status applies.
    quotas_set
        True when ``quotas`` replaces the file's quotas.
    quotas
        When ``quotas_set``: ``{"by": [...], "default": n or None, "cells": {cell: n}}``, or
        ``None`` for no quotas at all.
    """

    questionnaire_id: str
    version: str
    status: Literal["open", "closed"] | None
    quotas_set: bool
    quotas: Mapping[str, Any] | None
    changed_at: dt.datetime
    changed_by: str


# --- the interface ----------------------------------------------------------------------------


class StateStore(Protocol):
    """Operational state used by the app and the response store.

    A PostgreSQL implementation needs these methods with the same guarantees: ``claim_token``
    and ``reserve_token`` are atomic (one winner among concurrent callers), the audit log can
    only be appended to, and secrets are stored as SHA-256 hashes only.
    """

    # invitations
    def generate_tokens(self, questionnaire_id: str, n: int, *, actor: str) -> list[str]: ...
    def token_status(self, questionnaire_id: str, token: str) -> TokenStatus: ...
    def is_token_usable(self, questionnaire_id: str, token: str) -> bool: ...
    def claim_token(self, questionnaire_id: str, token: str, *, response_id: str) -> bool: ...
    def reserve_token(
        self, questionnaire_id: str, token_hash: str, *, response_id: str
    ) -> None: ...
    def complete_token(self, token_hash: str, *, response_id: str) -> None: ...
    def token_counts(self, questionnaire_id: str) -> TokenCounts: ...

    # drafts
    def save_draft(
        self,
        questionnaire_id: str,
        questionnaire_version: str,
        data: Mapping[str, Any],
        *,
        response_id: str,
        resume_code: str | None = None,
        token: str | None = None,
        now: dt.datetime | None = None,
    ) -> str: ...
    def load_draft(self, resume_code: str, *, now: dt.datetime | None = None) -> Draft | None: ...
    def load_draft_by_token(
        self, questionnaire_id: str, token: str, *, now: dt.datetime | None = None
    ) -> Draft | None: ...
    def delete_drafts(self, *, response_id: str) -> int: ...
    def count_drafts(
        self, questionnaire_id: str, *, now: dt.datetime | None = None
    ) -> list[DraftCount]: ...

    # audit log
    def append_audit(
        self,
        action: str,
        *,
        actor: str,
        target: str = "",
        details: Mapping[str, Any] | None = None,
        now: dt.datetime | None = None,
    ) -> AuditEntry: ...
    def read_audit(
        self, *, action: str | None = None, limit: int | None = None
    ) -> list[AuditEntry]: ...
    def search_audit(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        target: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> AuditPage: ...
    def audit_values(self, column: Literal["action", "actor"]) -> list[str]: ...

    # operational overrides of questionnaires
    def write_override(
        self,
        questionnaire_id: str,
        version: str,
        *,
        status: Literal["open", "closed"] | None,
        quotas_set: bool,
        quotas: Mapping[str, Any] | None,
        actor: str,
        action: str,
        details: Mapping[str, Any],
    ) -> QuestionnaireOverride: ...
    def read_override(
        self, questionnaire_id: str, version: str
    ) -> QuestionnaireOverride | None: ...
    def read_overrides(
        self, questionnaire_id: str | None = None
    ) -> list[QuestionnaireOverride]: ...

    # contact details
    def save_contact(
        self,
        questionnaire_id: str,
        details: Mapping[str, str],
        *,
        response_id: str | None = None,
        now: dt.datetime | None = None,
    ) -> str: ...
    def list_contacts(self, questionnaire_id: str) -> list[Contact]: ...
    def delete_contacts(self, *, response_id: str) -> int: ...

    # housekeeping
    def allow_attempt(
        self,
        key: str,
        *,
        limit: int = 10,
        window: dt.timedelta = dt.timedelta(minutes=15),
        now: dt.datetime | None = None,
    ) -> bool: ...
    def purge_expired(
        self, *, now: dt.datetime | None = None, actor: str = "system"
    ) -> PurgeResult: ...
    def checkpoint(self) -> bool: ...
    def backup_to(self, path: str | os.PathLike[str]) -> None: ...
    def restore_from(self, path: str | os.PathLike[str]) -> None: ...
    def close(self) -> None: ...


# --- helpers ----------------------------------------------------------------------------------


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _ts(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ResponseError(
            f"time {value.isoformat()} has no timezone: give an aware datetime, "
            "e.g. datetime.now(timezone.utc)."
        )
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _parse_ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def new_resume_code() -> str:
    """A new resume code: 12 symbols of :data:`RESUME_CODE_ALPHABET` (60 random bits)."""
    return "".join(secrets.choice(RESUME_CODE_ALPHABET) for _ in range(RESUME_CODE_LENGTH))


def _new_token() -> str:
    """An invitation token: 128 random bits, URL-safe base64 (22 characters).

    Drawn again while it starts with ``-``: a spreadsheet opening the tokens CSV reads such a
    cell as a formula and shows an error instead of the token. That keeps 63 of the 64 first
    characters, so the token still carries 127.98 bits.
    """
    while True:
        token = secrets.token_urlsafe(16)
        if not token.startswith("-"):
            return token


def format_resume_code(code: str) -> str:
    """Show a resume code in groups of four: ``7K3M-Q9TZ-2HXC``."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalize_resume_code(text: str) -> str | None:
    """What the respondent typed -> the code, or ``None`` if it cannot be one.

    Case, spaces and dashes are ignored; ``O`` is read as ``0``, ``I`` and ``L`` as ``1``,
    ``U`` as ``V`` (Crockford's rules), so a mistyped look-alike still resumes.
    """
    code = "".join(text.split()).replace("-", "").upper().translate(_CONFUSABLE)
    if len(code) != RESUME_CODE_LENGTH or any(c not in RESUME_CODE_ALPHABET for c in code):
        return None
    return code


def _code_hash(code: str) -> str:
    return hash_token("resume:" + code)


def _json_object(name: str, value: object, *, limit: int = MAX_DRAFT_BYTES) -> str:
    if not isinstance(value, Mapping):
        raise ResponseError(f"{name} must be a mapping; got {type(value).__name__}.")
    try:
        text = json.dumps(dict(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ResponseError(
            f"{name} cannot be saved: {exc}. Keep to texts, numbers, true/false, null, "
            "lists and mappings."
        ) from None
    if len(text.encode("utf-8")) > limit:
        raise ResponseError(f"{name} is larger than {limit} bytes; it cannot be saved.")
    return text


def invitation_link(public_url: str, questionnaire_id: str, token: str) -> str:
    """The link of one invitation: ``<public_url>?q=<questionnaire_id>&token=<token>``."""
    sep = "&" if "?" in public_url else "?"
    return f"{public_url}{sep}q={questionnaire_id}&token={token}"


def write_token_csv(
    path: str | os.PathLike[str],
    questionnaire_id: str,
    tokens: Sequence[str],
    *,
    public_url: str,
) -> Path:
    """Write invitation codes and links as CSV (columns ``token``, ``link``).

    Links have the form ``<public_url>?q=<questionnaire_id>&token=<token>``. The file is created
    with mode 0600 (it holds the only copy of the raw tokens) and must not exist yet.
    """
    import csv

    check_questionnaire_id(questionnaire_id)
    out = Path(path)
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise StoreError(
            f"{out} already exists: choose a new file name (tokens are never overwritten)."
        ) from None
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["token", "link"])
        for token in tokens:
            writer.writerow([token, invitation_link(public_url, questionnaire_id, token)])
        f.flush()
        os.fsync(f.fileno())
    return out


# --- SQLite -----------------------------------------------------------------------------------


class SQLiteState:
    """:class:`StateStore` in one SQLite file (WAL mode, ``synchronous=FULL``).

    Safe to share between threads (each thread gets its own connection) and between processes
    (SQLite's locking; writers wait up to ``busy_timeout`` seconds).

    Parameters
    ----------
    path
        The database file; created with its tables if missing.
    draft_retention, contact_retention
        How long drafts (after their last save) and contact details are kept.
    busy_timeout
        Seconds a writer waits for another writer.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        draft_retention: dt.timedelta = dt.timedelta(days=30),
        contact_retention: dt.timedelta = dt.timedelta(days=180),
        busy_timeout: float = 30.0,
    ):
        self.path = Path(path)
        self.draft_retention = draft_retention
        self.contact_retention = contact_retention
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._pid = os.getpid()
        self._initialise()

    # -- connections ----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
            # sqlite3 opens the file lazily: a read-only or full disk shows up here
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            # Deleted rows (drafts, contact details) are overwritten with zeros, not left in
            # free pages of the file; see checkpoint() for the write-ahead log.
            conn.execute("PRAGMA secure_delete=ON")
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"could not open the state database {self.path} ({exc}); nothing was changed. "
                "Check that the data folder exists and is writable (not read-only, not full), "
                "then try again."
            ) from None
        return conn

    @property
    def _conn(self) -> sqlite3.Connection:
        if os.getpid() != self._pid:  # forked: never reuse the parent's connections
            self._local = threading.local()
            self._all = []
            self._pid = os.getpid()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(
                f"the state database {self.path} is busy or not writable ({exc}); "
                "nothing was changed; try again."
            ) from None
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise StoreError(
                f"could not save to the state database {self.path} ({exc}); "
                "nothing was changed; try again."
            ) from None

    def _initialise(self) -> None:
        conn = self._conn
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.Error as exc:
            raise StoreError(
                f"could not open the state database {self.path} ({exc}); nothing was changed. "
                "Check that the data folder exists and is writable (not read-only, not full), "
                "then try again."
            ) from None
        if str(mode).lower() != "wal":
            raise StoreError(f"could not switch {self.path} to WAL mode (got {mode}).")
        with self._write() as c:
            for statement in _SCHEMA.split(";\n"):
                if statement.strip():
                    c.execute(statement)
            c.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    def close(self) -> None:
        """Close every connection this object opened (in any thread)."""
        with self._all_lock:
            for conn in self._all:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()
        self._local = threading.local()

    def __enter__(self) -> SQLiteState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- invitations ----------------------------------------------------------------------

    def generate_tokens(self, questionnaire_id: str, n: int, *, actor: str) -> list[str]:
        """Make ``n`` single-use invitation tokens for a questionnaire.

        Each token is 128 random bits, URL-safe base64 (22 characters). Only their SHA-256 is
        stored: the list returned is the only copy, so write it out (:func:`write_token_csv`).
        """
        check_questionnaire_id(questionnaire_id)
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1_000_000:
            raise ResponseError(f"n must be a whole number from 1 to 1,000,000; got {n!r}.")
        tokens = [_new_token() for _ in range(n)]
        batch = uuid.uuid4().hex
        now = _ts(_utcnow())
        with self._write() as c:
            c.executemany(
                "INSERT INTO tokens (token_hash, questionnaire_id, batch_id, created_at) "
                "VALUES (?, ?, ?, ?)",
                [(hash_token(t), questionnaire_id, batch, now) for t in tokens],
            )
            self._append(
                c, "generate_tokens", actor, questionnaire_id, {"n": n, "batch_id": batch}, None
            )
        return tokens

    def _token_row(self, token_hash: str) -> sqlite3.Row | tuple[Any, ...] | None:
        row = self._conn.execute(
            "SELECT token_hash, questionnaire_id, status, response_id FROM tokens "
            "WHERE token_hash = ?",
            (token_hash,),
        ).fetchone()
        if row is not None and not hmac.compare_digest(row[0], token_hash):
            return None
        return row

    def token_status(self, questionnaire_id: str, token: str) -> TokenStatus:
        """``unknown`` (not a token of this questionnaire), ``unused``, ``started`` or
        ``submitted``."""
        if not isinstance(token, str) or not token:
            return "unknown"
        row = self._token_row(hash_token(token))
        if row is None or row[1] != questionnaire_id:
            return "unknown"
        status: TokenStatus = row[2]
        return status

    def is_token_usable(self, questionnaire_id: str, token: str) -> bool:
        """Is this a valid token of ``questionnaire_id`` that has not been submitted with?"""
        return self.token_status(questionnaire_id, token) in ("unused", "started")

    def claim_token(self, questionnaire_id: str, token: str, *, response_id: str) -> bool:
        """Start a response with a token: atomically ``unused`` -> ``started``, bound to
        ``response_id``.

        Returns ``True`` if this call claimed it, or if it was already started by the same
        ``response_id`` (a reload or a resume). ``False`` if it is unknown, belongs to another
        questionnaire, or was taken by another response: among concurrent callers with
        different response ids exactly one wins.
        """
        check_response_id(response_id)
        if not isinstance(token, str) or not token:
            return False
        token_hash = hash_token(token)
        with self._write() as c:
            cur = c.execute(
                "UPDATE tokens SET status = 'started', response_id = ?, "
                "started_at = coalesce(started_at, ?) "
                "WHERE token_hash = ? AND questionnaire_id = ? AND "
                "(status = 'unused' OR (status = 'started' AND response_id = ?))",
                (response_id, _ts(_utcnow()), token_hash, questionnaire_id, response_id),
            )
            return cur.rowcount == 1

    def reserve_token(self, questionnaire_id: str, token_hash: str, *, response_id: str) -> None:
        """Before a response with ``token_hash`` is stored: make sure the token is this
        response's (claiming it if still unused).

        Raises
        ------
        InvitationError
            Unknown token, another questionnaire's, or used by another response.
        """
        with self._write() as c:
            cur = c.execute(
                "UPDATE tokens SET status = CASE WHEN status = 'unused' THEN 'started' "
                "ELSE status END, response_id = ?, started_at = coalesce(started_at, ?) "
                "WHERE token_hash = ? AND questionnaire_id = ? AND "
                "(status = 'unused' OR response_id = ?)",
                (response_id, _ts(_utcnow()), token_hash, questionnaire_id, response_id),
            )
            if cur.rowcount == 1:
                return
        row = self._token_row(token_hash)
        if row is None:
            raise InvitationError(
                "the invitation token is not valid: check the link in the invitation "
                "(it must be used exactly as sent)."
            )
        if row[1] != questionnaire_id:
            raise InvitationError(
                f"the invitation token is for questionnaire '{row[1]}', not '{questionnaire_id}'."
            )
        raise InvitationError(
            "this invitation has already been used for another response; each invitation "
            "can be used once."
        )

    def complete_token(self, token_hash: str, *, response_id: str) -> None:
        """After the response is stored: mark the token ``submitted`` (idempotent)."""
        with self._write() as c:
            c.execute(
                "UPDATE tokens SET status = 'submitted', submitted_at = coalesce(submitted_at, ?) "
                "WHERE token_hash = ? AND response_id = ?",
                (_ts(_utcnow()), token_hash, response_id),
            )

    def token_counts(self, questionnaire_id: str) -> TokenCounts:
        """How many tokens of the questionnaire are unused, started, submitted."""
        counts = dict.fromkeys(("unused", "started", "submitted"), 0)
        for status, count in self._conn.execute(
            "SELECT status, count(*) FROM tokens WHERE questionnaire_id = ? GROUP BY status",
            (questionnaire_id,),
        ):
            counts[status] = count
        return TokenCounts(questionnaire_id, **counts)

    # -- drafts ---------------------------------------------------------------------------

    def save_draft(
        self,
        questionnaire_id: str,
        questionnaire_version: str,
        data: Mapping[str, Any],
        *,
        response_id: str,
        resume_code: str | None = None,
        token: str | None = None,
        now: dt.datetime | None = None,
    ) -> str:
        """Save an unfinished response; return the resume code to show the respondent.

        Parameters
        ----------
        data
            JSON-serialisable mapping (answers so far, current page ...), at most 1 MB.
        response_id
            The response's id (kept so that submitting or deleting it removes the draft).
        resume_code
            The code from an earlier save of the same response: that draft is updated and the
            code stays the same. Otherwise a new code is made (an older code of a draft found
            through ``token`` stops working).
        token
            Invitation token: the draft can then also be resumed from the invitation link.

        Returns
        -------
        str
            12 characters of :data:`RESUME_CODE_ALPHABET` (show it with
            :func:`format_resume_code`).

        Notes
        -----
        A code carries 60 random bits. With a million live drafts, one guess hits some draft
        with probability 1e6 / 2**60 ~ 8.7e-13, so even a billion guesses (which the app's rate
        limit, :meth:`allow_attempt`, keeps far out of reach) succeed with probability < 0.1%.
        """
        check_questionnaire_id(questionnaire_id)
        check_version(questionnaire_version)
        check_response_id(response_id)
        text = _json_object("draft data", data)
        at = now or _utcnow()
        saved, expires = _ts(at), _ts(at + self.draft_retention)
        token_hash = hash_token(token) if token else None
        code = normalize_resume_code(resume_code) if resume_code else None
        with self._write() as c:
            existing = None
            if code is not None:
                row = c.execute(
                    "SELECT code_hash, response_id FROM drafts WHERE code_hash = ?",
                    (_code_hash(code),),
                ).fetchone()
                if row is not None and hmac.compare_digest(row[1], response_id):
                    existing = row[0]
            if existing is None and token_hash is not None:
                row = c.execute(
                    "SELECT code_hash, response_id FROM drafts WHERE token_hash = ?", (token_hash,)
                ).fetchone()
                if row is not None:
                    if not hmac.compare_digest(row[1], response_id):
                        raise InvitationError(
                            "this invitation already has a saved draft of another response; "
                            "resume that one from the invitation link."
                        )
                    code = new_resume_code()
                    c.execute(
                        "UPDATE drafts SET code_hash = ? WHERE code_hash = ?",
                        (_code_hash(code), row[0]),
                    )
                    existing = _code_hash(code)
            if existing is not None:
                c.execute(
                    "UPDATE drafts SET data = ?, saved_at = ?, expires_at = ?, "
                    "questionnaire_version = ?, token_hash = coalesce(token_hash, ?) "
                    "WHERE code_hash = ?",
                    (text, saved, expires, questionnaire_version, token_hash, existing),
                )
                return code or ""
            code = new_resume_code()
            c.execute(
                "INSERT INTO drafts (code_hash, questionnaire_id, questionnaire_version, "
                "response_id, token_hash, data, saved_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _code_hash(code),
                    questionnaire_id,
                    questionnaire_version,
                    response_id,
                    token_hash,
                    text,
                    saved,
                    expires,
                ),
            )
            return code

    def _draft(
        self, by: Literal["code_hash", "token_hash"], key: str, now: dt.datetime | None
    ) -> Draft | None:
        row = self._conn.execute(_DRAFT_QUERIES[by], (key, _ts(now or _utcnow()))).fetchone()
        if row is None or not hmac.compare_digest(row[7], key):
            return None
        return Draft(
            questionnaire_id=row[0],
            questionnaire_version=row[1],
            response_id=row[2],
            data=MappingProxyType(json.loads(row[3])),
            saved_at=_parse_ts(row[4]),
            expires_at=_parse_ts(row[5]),
            has_token=row[6] is not None,
        )

    def load_draft(self, resume_code: str, *, now: dt.datetime | None = None) -> Draft | None:
        """The draft saved under a resume code, or ``None`` (wrong, malformed or expired code).

        The answer is the same for a code that never existed and for one that expired, so a
        guesser learns nothing; count failed attempts with :meth:`allow_attempt`.
        """
        code = normalize_resume_code(resume_code) if isinstance(resume_code, str) else None
        if code is None:
            return None
        return self._draft("code_hash", _code_hash(code), now)

    def load_draft_by_token(
        self, questionnaire_id: str, token: str, *, now: dt.datetime | None = None
    ) -> Draft | None:
        """The unfinished draft saved with an invitation token, or ``None``."""
        if not isinstance(token, str) or not token:
            return None
        draft = self._draft("token_hash", hash_token(token), now)
        if draft is None or draft.questionnaire_id != questionnaire_id:
            return None
        return draft

    def delete_drafts(self, *, response_id: str) -> int:
        """Remove the drafts of a response (after it was submitted or deleted)."""
        conn = self._conn
        if conn.execute("SELECT 1 FROM drafts WHERE response_id = ?", (response_id,)).fetchone():
            with self._write() as c:
                return c.execute(
                    "DELETE FROM drafts WHERE response_id = ?", (response_id,)
                ).rowcount
        return 0

    def count_drafts(
        self, questionnaire_id: str, *, now: dt.datetime | None = None
    ) -> list[DraftCount]:
        """Unfinished responses of a questionnaire: live drafts counted by version, hour of
        the last save (UTC) and the page saved (``data["page"]``), for break-off reports.

        A submitted response's draft is removed on submission, so every draft counted is a
        response not (yet) submitted; expired drafts are not counted.
        """
        check_questionnaire_id(questionnaire_id)
        rows = self._conn.execute(
            "SELECT questionnaire_version, substr(saved_at, 1, 13), "
            "json_extract(data, '$.page'), count(*) FROM drafts "
            "WHERE questionnaire_id = ? AND expires_at > ? GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            (questionnaire_id, _ts(now or _utcnow())),
        ).fetchall()
        return [
            DraftCount(
                questionnaire_version=version,
                saved_hour=dt.datetime.fromisoformat(hour + ":00:00+00:00"),
                page=page if isinstance(page, str) else None,
                n=int(n),
            )
            for version, hour, page, n in rows
        ]

    # -- audit log ------------------------------------------------------------------------

    @staticmethod
    def _append(
        c: sqlite3.Connection,
        action: str,
        actor: str,
        target: str,
        details: Mapping[str, Any] | None,
        now: dt.datetime | None,
    ) -> AuditEntry:
        if not isinstance(action, str) or not action.strip():
            raise ResponseError("audit action must be a non-empty text (e.g. 'delete').")
        if not isinstance(actor, str) or not actor.strip():
            raise ResponseError("audit actor must be a non-empty text: who did it.")
        text = _json_object("audit details", details or {})
        at = now or _utcnow()
        entry_id = uuid.uuid4().hex
        cur = c.execute(
            "INSERT INTO audit (entry_id, at, actor, action, target, details) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (entry_id, _ts(at), actor.strip(), action.strip(), target, text),
        )
        seq = int(cur.lastrowid or 0)
        return AuditEntry(
            seq,
            entry_id,
            at.astimezone(dt.UTC),
            actor.strip(),
            action.strip(),
            target,
            MappingProxyType(json.loads(text)),
        )

    def append_audit(
        self,
        action: str,
        *,
        actor: str,
        target: str = "",
        details: Mapping[str, Any] | None = None,
        now: dt.datetime | None = None,
    ) -> AuditEntry:
        """Append one entry to the audit log (there is no way to change or remove one).

        Parameters
        ----------
        action
            What was done: ``import``, ``export``, ``compact``, ``generate_tokens``, ``delete``,
            ``backup``, ``restore``, ``purge`` ...
        actor
            Who did it (a user name, or ``system``).
        target
            What it was done to (a questionnaire id, a response id, a path).
        details
            JSON-serialisable particulars (counts, reasons).
        """
        with self._write() as c:
            return self._append(c, action, actor, target, details, now)

    def read_audit(
        self, *, action: str | None = None, limit: int | None = None
    ) -> list[AuditEntry]:
        """Audit entries, oldest first (the last ``limit`` if given), optionally of one action."""
        sql = "SELECT seq, entry_id, at, actor, action, target, details FROM audit"
        params: list[Any] = []
        if action is not None:
            sql += " WHERE action = ?"
            params.append(action)
        sql += " ORDER BY seq DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        rows = self._conn.execute(sql, params).fetchall()
        return [
            AuditEntry(
                r[0], r[1], _parse_ts(r[2]), r[3], r[4], r[5], MappingProxyType(json.loads(r[6]))
            )
            for r in reversed(rows)
        ]

    def search_audit(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        target: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> AuditPage:
        """Audit entries matching every filter given, newest first, one page at a time.

        Parameters
        ----------
        action, actor, target
            Only entries with exactly this action, actor or target.
        since, until
            Only entries made at or after ``since`` and before ``until`` (timezone-aware).
        offset, limit
            Skip the newest ``offset`` matching entries and return at most ``limit`` (1-1000).
        """
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ResponseError(f"offset must be a whole number, 0 or more; got {offset!r}.")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ResponseError(f"limit must be a whole number from 1 to 1000; got {limit!r}.")
        params = {
            "action": action,
            "actor": actor,
            "target": target,
            "since": _ts(since) if since is not None else None,
            "until": _ts(until) if until is not None else None,
        }
        conn = self._conn
        (total,) = conn.execute(_AUDIT_COUNT, params).fetchone()
        rows = conn.execute(_AUDIT_PAGE, {**params, "limit": limit, "offset": offset}).fetchall()
        entries = tuple(
            AuditEntry(
                r[0], r[1], _parse_ts(r[2]), r[3], r[4], r[5], MappingProxyType(json.loads(r[6]))
            )
            for r in rows
        )
        return AuditPage(entries, int(total), offset, limit)

    def audit_values(self, column: Literal["action", "actor"]) -> list[str]:
        """The distinct actions (or actors) found in the audit log, sorted (for filters)."""
        if column not in ("action", "actor"):
            raise ResponseError(f"column must be 'action' or 'actor'; got {column!r}.")
        rows = self._conn.execute(_AUDIT_VALUES[column]).fetchall()
        return [r[0] for r in rows]

    # -- operational overrides of questionnaires -------------------------------------------

    def write_override(
        self,
        questionnaire_id: str,
        version: str,
        *,
        status: Literal["open", "closed"] | None,
        quotas_set: bool,
        quotas: Mapping[str, Any] | None,
        actor: str,
        action: str,
        details: Mapping[str, Any],
    ) -> QuestionnaireOverride:
        """Replace the override of one questionnaire version and record it in the audit log,
        in one transaction. With ``status=None`` and ``quotas_set=False`` the override is
        removed (the file's settings apply again). Check the values first
        (:mod:`responses.overrides` does)."""
        check_questionnaire_id(questionnaire_id)
        check_version(version)
        if status not in (None, "open", "closed"):
            raise ResponseError(f"status must be 'open', 'closed' or None; got {status!r}.")
        quotas_text = _json_object("quotas", quotas) if quotas_set and quotas is not None else None
        if quotas_set and quotas is None:
            quotas_text = "null"
        at = _utcnow()
        with self._write() as c:
            if status is None and not quotas_set:
                c.execute(
                    "DELETE FROM questionnaire_overrides WHERE questionnaire_id = ? "
                    "AND version = ?",
                    (questionnaire_id, version),
                )
            else:
                c.execute(
                    "INSERT OR REPLACE INTO questionnaire_overrides (questionnaire_id, version, "
                    "status, quotas, changed_at, changed_by) VALUES (?, ?, ?, ?, ?, ?)",
                    (questionnaire_id, version, status, quotas_text, _ts(at), actor.strip()),
                )
            self._append(c, action, actor, f"{questionnaire_id} {version}", details, at)
        return QuestionnaireOverride(
            questionnaire_id,
            version,
            status,
            quotas_set,
            MappingProxyType(dict(quotas)) if quotas_set and quotas is not None else None,
            at,
            actor.strip(),
        )

    @staticmethod
    def _override(row: Sequence[Any]) -> QuestionnaireOverride:
        quotas = json.loads(row[3]) if row[3] is not None else None
        return QuestionnaireOverride(
            questionnaire_id=row[0],
            version=row[1],
            status=row[2],
            quotas_set=row[3] is not None,
            quotas=MappingProxyType(quotas) if isinstance(quotas, dict) else None,
            changed_at=_parse_ts(row[4]),
            changed_by=row[5],
        )

    def read_override(self, questionnaire_id: str, version: str) -> QuestionnaireOverride | None:
        """The override of one questionnaire version, or ``None`` (the file's settings apply)."""
        row = self._conn.execute(
            "SELECT questionnaire_id, version, status, quotas, changed_at, changed_by "
            "FROM questionnaire_overrides WHERE questionnaire_id = ? AND version = ?",
            (questionnaire_id, version),
        ).fetchone()
        return None if row is None else self._override(row)

    def read_overrides(self, questionnaire_id: str | None = None) -> list[QuestionnaireOverride]:
        """Every override (of one questionnaire, if given), by questionnaire and version."""
        sql = (
            "SELECT questionnaire_id, version, status, quotas, changed_at, changed_by "
            "FROM questionnaire_overrides"
        )
        params: tuple[str, ...] = ()
        if questionnaire_id is not None:
            sql += " WHERE questionnaire_id = ?"
            params = (questionnaire_id,)
        rows = self._conn.execute(sql + " ORDER BY questionnaire_id, version", params).fetchall()
        return [self._override(r) for r in rows]

    # -- contact details ------------------------------------------------------------------

    def save_contact(
        self,
        questionnaire_id: str,
        details: Mapping[str, str],
        *,
        response_id: str | None = None,
        now: dt.datetime | None = None,
    ) -> str:
        """Keep contact details apart from the answers; return their random key.

        The details never go into a response file. ``response_id`` (itself a random key) links
        them to the response so that deleting the response deletes them too; they are purged
        ``contact_retention`` after they were given.
        """
        check_questionnaire_id(questionnaire_id)
        if response_id is not None:
            check_response_id(response_id)
        if not isinstance(details, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in details.items()
        ):
            raise ResponseError("contact details must be a mapping of text to text.")
        text = _json_object("contact details", details, limit=20_000)
        at = now or _utcnow()
        key = secrets.token_urlsafe(16)
        with self._write() as c:
            c.execute(
                "INSERT INTO contacts (contact_key, questionnaire_id, response_id, details, "
                "given_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    key,
                    questionnaire_id,
                    response_id,
                    text,
                    _ts(at),
                    _ts(at + self.contact_retention),
                ),
            )
        return key

    def list_contacts(self, questionnaire_id: str) -> list[Contact]:
        """Contact details given for a questionnaire (not yet purged), oldest first."""
        rows = self._conn.execute(
            "SELECT contact_key, questionnaire_id, response_id, details, given_at, expires_at "
            "FROM contacts WHERE questionnaire_id = ? ORDER BY given_at, contact_key",
            (questionnaire_id,),
        ).fetchall()
        return [
            Contact(
                r[0],
                r[1],
                r[2],
                MappingProxyType(json.loads(r[3])),
                _parse_ts(r[4]),
                _parse_ts(r[5]),
            )
            for r in rows
        ]

    def delete_contacts(self, *, response_id: str) -> int:
        """Remove the contact details linked to a response."""
        with self._write() as c:
            return c.execute("DELETE FROM contacts WHERE response_id = ?", (response_id,)).rowcount

    # -- housekeeping ---------------------------------------------------------------------

    def allow_attempt(
        self,
        key: str,
        *,
        limit: int = 10,
        window: dt.timedelta = dt.timedelta(minutes=15),
        now: dt.datetime | None = None,
    ) -> bool:
        """Count an attempt (e.g. a resume-code guess) under ``key``; ``False`` once ``limit``
        attempts were made within ``window``.

        ``key`` is stored as a SHA-256 only; pass a session id or similar, never a raw IP
        address. Works across processes.
        """
        at = now or _utcnow()
        key_hash = hash_token("attempt:" + key)
        with self._write() as c:
            c.execute(
                "DELETE FROM attempts WHERE key_hash = ? AND at <= ?",
                (key_hash, _ts(at - window)),
            )
            (count,) = c.execute(
                "SELECT count(*) FROM attempts WHERE key_hash = ?", (key_hash,)
            ).fetchone()
            if count >= limit:
                return False
            c.execute("INSERT INTO attempts (key_hash, at) VALUES (?, ?)", (key_hash, _ts(at)))
            return True

    def purge_expired(
        self, *, now: dt.datetime | None = None, actor: str = "system"
    ) -> PurgeResult:
        """Remove expired drafts and contact details (and attempt counts older than a day).

        Drafts expire ``draft_retention`` after their last save, contact details
        ``contact_retention`` after they were given. The purge is recorded in the audit log
        when it removed anything.
        """
        at = now or _utcnow()
        stamp = _ts(at)
        with self._write() as c:
            drafts = c.execute("DELETE FROM drafts WHERE expires_at <= ?", (stamp,)).rowcount
            contacts = c.execute("DELETE FROM contacts WHERE expires_at <= ?", (stamp,)).rowcount
            attempts = c.execute(
                "DELETE FROM attempts WHERE at <= ?", (_ts(at - dt.timedelta(days=1)),)
            ).rowcount
            if drafts or contacts:
                self._append(c, "purge", actor, "", {"drafts": drafts, "contacts": contacts}, at)
        if drafts or contacts:
            self.checkpoint()
        return PurgeResult(drafts, contacts, attempts)

    def checkpoint(self) -> bool:
        """Copy the write-ahead log into the database and truncate it.

        Called after personal data was deleted (a deletion on request, a purge): with
        ``secure_delete`` the deleted rows are zeroed in the database file, and truncating the
        log removes the older copies of those pages it still held. Returns ``False`` when a
        reader in another connection kept part of the log (it is truncated at a later
        checkpoint; SQLite also checkpoints by itself every 1000 pages).
        """
        try:
            busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error:
            return False
        return not busy

    def backup_to(self, path: str | os.PathLike[str]) -> None:
        """Copy the database to ``path`` with SQLite's online backup (writers may go on)."""
        target = sqlite3.connect(path)
        try:
            self._conn.backup(target)
        finally:
            target.close()

    def restore_from(self, path: str | os.PathLike[str]) -> None:
        """Replace the database's contents with the copy at ``path``.

        The audit log is not rewound: entries made since that copy was taken are appended
        back after the copy is restored, so the log only ever grows.
        """
        current = self._conn.execute(
            "SELECT entry_id, at, actor, action, target, details FROM audit ORDER BY seq"
        ).fetchall()
        source = sqlite3.connect(path)
        try:
            source.backup(self._conn)
        finally:
            source.close()
        with self._write() as c:
            known = {r[0] for r in c.execute("SELECT entry_id FROM audit")}
            c.executemany(
                "INSERT INTO audit (entry_id, at, actor, action, target, details) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [r for r in current if r[0] not in known],
            )


def _retention(days: float) -> dt.timedelta:
    if not math.isfinite(days) or days <= 0:
        raise ResponseError(f"retention must be a positive number of days; got {days!r}.")
    return dt.timedelta(days=days)
