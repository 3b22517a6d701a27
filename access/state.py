"""Sign-in state: failure counters and locks, sessions and the audit trail, in SQLite.

One database, ``<data_dir>/state/access.sqlite``, in WAL mode, so that several app processes
(and the command line) agree on counters, locks and sessions. Every change runs in a
``BEGIN IMMEDIATE`` transaction; a writer waits up to ``lock_timeout_seconds`` for another.

Nothing secret is stored: session ids are kept as their SHA-256, usernames typed at sign-in
are kept (for throttling) as a SHA-256 of the normalised text, since people sometimes type
their password into the username field, and client keys as a truncated SHA-256.

Tables
------
``throttle``
    ``(kind, key)`` -> ``failures``, ``last_failure``, ``next_allowed``, ``locked_until``
    (seconds since the epoch). ``kind`` is ``account`` or ``client``.
``sessions``
    ``token_hash`` -> ``username``, ``created``, ``last_seen``, ``password_stamp`` (the
    account's ``password_changed`` when the session began), ``client``.
``audit``
    Append-only (triggers refuse UPDATE and DELETE): ``seq``, ``at`` (ISO 8601, UTC),
    ``event`` (one of :data:`AUDIT_EVENTS`), ``username`` (only names of existing accounts),
    ``actor``, ``client``, ``detail``. Never a password.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from access.errors import AccessError

__all__ = [
    "AUDIT_EVENTS",
    "AccessState",
    "AuditEvent",
    "client_digest",
    "record_event",
    "secret_digest",
]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS throttle (
    kind TEXT NOT NULL CHECK (kind IN ('account', 'client')),
    key TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_failure REAL NOT NULL,
    next_allowed REAL NOT NULL,
    locked_until REAL NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    created REAL NOT NULL,
    last_seen REAL NOT NULL,
    password_stamp TEXT NOT NULL,
    client TEXT
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (username);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    username TEXT,
    actor TEXT,
    client TEXT,
    detail TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: entries cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: entries cannot be deleted'); END;
"""

#: Every event the audit trail records, with its meaning.
AUDIT_EVENTS: MappingProxyType[str, str] = MappingProxyType(
    {
        "signin_succeeded": "A staff member signed in; a session began.",
        "signin_failed": "A sign-in failed: unknown username, wrong password or disabled "
        "account (detail says which; the username is recorded only if the account exists).",
        "signin_refused": "A sign-in was refused without checking the password because the "
        "username or the client must wait (throttled) or is locked out.",
        "account_locked": "A username reached lockout_threshold failures and is locked.",
        "client_locked": "A client reached client_lockout_threshold failures and is locked.",
        "account_unlocked": "An administrator lifted a username's lock and failure count.",
        "signed_out": "A session was ended by signing out.",
        "session_ended": "A session was found expired or invalid (detail: idle, expired, "
        "disabled, password_changed, removed).",
        "account_added": "An account was created (detail: role).",
        "password_changed": "An account's password was set anew; its sessions ended.",
        "password_rehashed": "A password was rehashed with new Argon2 parameters at sign-in.",
        "account_disabled": "An account was disabled; its sessions ended.",
        "account_enabled": "A disabled account was enabled again.",
        "email_allowed": "An e-mail address was put on the OIDC allow-list (detail: role).",
        "email_revoked": "An e-mail address was taken off the OIDC allow-list.",
    }
)


@dataclass(frozen=True)
class AuditEvent:
    """One entry of the audit trail."""

    seq: int
    at: dt.datetime
    event: str
    username: str | None
    actor: str | None
    client: str | None
    detail: str


def secret_digest(text: str, *, purpose: str) -> str:
    """SHA-256 (hex) of ``purpose``, a NUL and ``text``: how secrets and typed usernames are
    kept. Unencodable characters are replaced so any string gives a digest."""
    data = purpose.encode() + b"\x00" + text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()


def client_digest(client: str) -> str:
    """The key a client (browser session id) is counted and audited under: 16 hex digits."""
    return secret_digest(client, purpose="client")[:16]


def iso(epoch: float) -> str:
    """Seconds since the epoch as ISO 8601 text in UTC with microseconds."""
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat(timespec="microseconds")


def record_event(
    conn: sqlite3.Connection,
    event: str,
    *,
    at: float,
    username: str | None = None,
    actor: str | None = None,
    client: str | None = None,
    detail: str = "",
) -> None:
    """Append one entry to the audit trail (inside the caller's transaction)."""
    if event not in AUDIT_EVENTS:
        raise AccessError(f"Unknown audit event '{event}'; known: {', '.join(AUDIT_EVENTS)}.")
    conn.execute(
        "INSERT INTO audit (at, event, username, actor, client, detail) VALUES (?, ?, ?, ?, ?, ?)",
        (iso(at), event, username, actor, client, detail),
    )


class AccessState:
    """The sign-in state database at ``path`` (created on first use).

    Parameters
    ----------
    path
        The SQLite file, usually ``settings.state_file``.
    timeout
        Seconds a writer waits for another before giving up.
    """

    def __init__(self, path: Path, *, timeout: float = 10.0):
        self.path = Path(path)
        self.timeout = timeout

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise AccessError(
                f"Cannot open the sign-in state database {self.path}: {exc}. Check that the "
                "data folder (SURVEY_DATA_DIR) exists and is writable."
            ) from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                conn.executescript(_SCHEMA)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            conn.close()
            raise AccessError(
                f"The sign-in state database {self.path} cannot be used: {exc}. If it is "
                "damaged, move it away; a new one is made (counters and sessions start afresh)."
            ) from None
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), committed on success, else rolled back."""
        conn = self._connect()
        try:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise AccessError(
                    f"The sign-in state database {self.path} is busy ({exc}). Try again."
                ) from None
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def audit_events(
        self, *, limit: int | None = None, username: str | None = None
    ) -> list[AuditEvent]:
        """Audit entries, oldest first (the last ``limit`` ones if given)."""
        conn = self._connect()
        try:
            sql = "SELECT seq, at, event, username, actor, client, detail FROM audit"
            params: list[object] = []
            if username is not None:
                sql += " WHERE username = ?"
                params.append(username)
            sql += " ORDER BY seq DESC"
            if limit is not None:
                sql += " LIMIT ?"
                params.append(int(limit))
            rows = conn.execute(sql, params).fetchall()
        finally:
            conn.close()
        return [
            AuditEvent(
                seq=r[0], at=dt.datetime.fromisoformat(r[1]), event=r[2], username=r[3],
                actor=r[4], client=r[5], detail=r[6],
            )
            for r in reversed(rows)
        ]
