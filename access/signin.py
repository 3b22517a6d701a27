"""Sign-in of staff with a local account: throttling and lock-out, sessions, sign-out.

What the sign-in sidebar does::

    from access import Session, authenticate, sign_out, validate

    result = authenticate(username, password, client=session_id)   # session_id: the app's
    if isinstance(result, Session):                                 # id of this browser tab
        st.session_state["staff_session"] = result.session_id
    else:
        st.error(result.message)            # and accept no new attempt before
        wait = result.retry_after           # result.retry_after seconds have passed

    # on every page run
    current = validate(st.session_state.get("staff_session"))
    if isinstance(current, Session) and current.can("export_microdata"): ...

Throttling and lock-out
-----------------------
Failures are counted per username typed (whether or not the account exists, so that the
answers do not reveal which usernames exist) and per client key. After the ``n``-th failure in
a row (``n >= 2``) the next attempt must wait ``failure_delay_seconds * 2 ** (n - 2)`` seconds
(at most ``failure_delay_max_seconds``): with the defaults no wait after the first failure,
then 1, 2, 4 s. The ``lockout_threshold``-th failure (default 5) locks the username for
``lockout_seconds`` (default 15 min); ``client_lockout_threshold`` failures (default 10) from
one client, to any usernames, lock that client out likewise. An attempt that comes too early
is refused without checking the password (reason ``"throttled"`` or ``"locked"``) and is not
counted. Failures are forgotten after ``failure_window_seconds`` without a new one, when a
lock ends, and (for the username) on a successful sign-in. The library never sleeps: it returns
``retry_after`` and the caller must honour it. An administrator lifts a lock with
``python -m access unlock USERNAME``.

A failure is counted *before* the password is checked and cleared when it was right, so that
parallel attempts cannot slip past the counter.

Unknown usernames take the same path as known ones: the password is verified against a dummy
hash with the same parameters, so the time taken does not reveal whether a username exists.

Sessions
--------
A session id is 256 random bits (``secrets.token_urlsafe(32)``); only its SHA-256 is stored.
A session ends after ``session_idle_seconds`` without :func:`validate` (default 30 min), after
``session_lifetime_seconds`` from sign-in (default 8 h), on :func:`sign_out`, and when the
account is disabled, removed or its password changes. Its role is read afresh from the
accounts file on every :func:`validate`, so a role change applies at once.

The counters, locks and sessions live in the state database (:mod:`access.state`), which
several app processes share.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
import sqlite3
import time
import warnings
from dataclasses import dataclass, field
from typing import Literal

from access.accounts import (
    Role,
    can,
    check_username,
    normalize_username,
    read_accounts,
    replace_password_hash,
)
from access.errors import AccessError, AccessWarning, AccountError
from access.passwords import (
    dummy_hash,
    hash_password,
    needs_rehash,
    normalize_password,
    verify_password,
)
from access.settings import AccessSettings, load_settings
from access.state import AccessState, client_digest, iso, record_event, secret_digest

__all__ = [
    "EndReason",
    "FailureReason",
    "Session",
    "SessionEnded",
    "SignInFailure",
    "authenticate",
    "failure_delay",
    "lock_remaining",
    "sign_out",
    "unlock",
    "validate",
]

FailureReason = Literal["invalid", "throttled", "locked", "disabled", "unverified", "not_allowed"]
EndReason = Literal["unknown", "idle", "expired", "disabled", "password_changed", "removed"]

#: Longest session id accepted by :func:`validate` (ids made here have 43 characters).
MAX_SESSION_ID_LENGTH = 200


@dataclass(frozen=True)
class Session:
    """A signed-in staff member.

    ``session_id`` is the secret to keep in the browser session (``st.session_state``) and to
    pass to :func:`validate` and :func:`sign_out`; it is not shown in ``repr``.
    """

    session_id: str = field(repr=False)
    username: str
    name: str
    role: Role
    signed_in_at: dt.datetime
    expires_at: dt.datetime
    """When the session ends unless used again (idle timeout), or its absolute end if sooner."""

    def can(self, action: str) -> bool:
        """Whether this session's role may do ``action`` (see :func:`access.accounts.can`)."""
        return can(self.role, action)


@dataclass(frozen=True)
class SignInFailure:
    """A refused sign-in.

    Attributes
    ----------
    reason
        ``"invalid"`` (unknown username or wrong password: deliberately not told apart),
        ``"throttled"`` (too early after recent failures), ``"locked"`` (the username or the
        client is locked out), ``"disabled"`` (right password, disabled account); with OIDC
        (:mod:`access.oidc`) also ``"unverified"`` and ``"not_allowed"``.
    message
        Text to show the person unchanged (never contains the password).
    retry_after
        Seconds the caller must wait before accepting another attempt (0: at once).
    """

    reason: FailureReason
    message: str
    retry_after: float = 0.0


@dataclass(frozen=True)
class SessionEnded:
    """A session id that no longer (or never did) stand for a signed-in staff member."""

    reason: EndReason
    message: str


@dataclass(frozen=True)
class _Counter:
    failures: int = 0
    last_failure: float = 0.0
    next_allowed: float = 0.0
    locked_until: float = 0.0


def failure_delay(failures: int, *, settings: AccessSettings) -> float:
    """Seconds the next attempt must wait after ``failures`` failures in a row (below the
    lock-out threshold): 0 after one, then ``failure_delay_seconds * 2 ** (failures - 2)``,
    at most ``failure_delay_max_seconds``."""
    if failures < 2:
        return 0.0
    exponent = min(failures - 2, 60)
    return float(min(settings.failure_delay_seconds * 2.0**exponent,
                     settings.failure_delay_max_seconds))


def _epoch(now: dt.datetime | None) -> float:
    if now is None:
        return time.time()
    if not isinstance(now, dt.datetime) or now.tzinfo is None:
        raise AccessError("'now' must be a date and time with a time zone (e.g. datetime.UTC).")
    return now.timestamp()


def _utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC)


def _duration(seconds: float) -> str:
    s = max(1, math.ceil(seconds))
    if s < 60:
        return f"{s} second" + ("" if s == 1 else "s")
    m = math.ceil(s / 60)
    return f"{m} minute" + ("" if m == 1 else "s")


def _state(settings: AccessSettings) -> AccessState:
    return AccessState(settings.state_file, timeout=settings.lock_timeout_seconds)


def _counter(
    conn: sqlite3.Connection, kind: str, key: str, t: float, settings: AccessSettings
) -> _Counter:
    row = conn.execute(
        "SELECT failures, last_failure, next_allowed, locked_until FROM throttle "
        "WHERE kind = ? AND key = ?",
        (kind, key),
    ).fetchone()
    if row is None:
        return _Counter()
    c = _Counter(*row)
    if c.locked_until > t:
        return c
    if c.locked_until > 0 or t - c.last_failure >= settings.failure_window_seconds:
        return _Counter()  # the lock has ended, or the failures are old: start afresh
    return c


def _after_failure(c: _Counter, t: float, threshold: int, settings: AccessSettings) -> _Counter:
    n = c.failures + 1
    locked_until = t + settings.lockout_seconds if n >= threshold else 0.0
    return _Counter(n, t, t + failure_delay(n, settings=settings), locked_until)


def _store(conn: sqlite3.Connection, kind: str, key: str, c: _Counter) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO throttle (kind, key, failures, last_failure, next_allowed, "
        "locked_until) VALUES (?, ?, ?, ?, ?, ?)",
        (kind, key, c.failures, c.last_failure, c.next_allowed, c.locked_until),
    )


def _purge(conn: sqlite3.Connection, t: float, settings: AccessSettings) -> None:
    conn.execute(
        "DELETE FROM sessions WHERE last_seen <= ? OR created <= ?",
        (t - settings.session_idle_seconds, t - settings.session_lifetime_seconds),
    )
    conn.execute(
        "DELETE FROM throttle WHERE locked_until <= ? AND (locked_until > 0 OR last_failure <= ?)",
        (t, t - settings.failure_window_seconds),
    )


def _refusal(
    account: _Counter, client: _Counter | None, t: float, settings: AccessSettings
) -> SignInFailure | None:
    # Waits are capped by the settings, so a clock that went backwards (or differs between
    # processes) cannot make them longer than configured.
    if account.locked_until > t:
        wait = min(account.locked_until - t, settings.lockout_seconds)
        return SignInFailure(
            "locked",
            f"Too many failed sign-ins for this username: it is locked for {_duration(wait)}. "
            "Wait, or ask an administrator to unlock it.",
            wait,
        )
    if client is not None and client.locked_until > t:
        wait = min(client.locked_until - t, settings.lockout_seconds)
        return SignInFailure(
            "locked",
            f"Too many failed sign-ins from this browser: wait {_duration(wait)} before trying "
            "again.",
            wait,
        )
    wait = min(max(account.next_allowed, client.next_allowed if client else 0.0) - t,
               settings.failure_delay_max_seconds)
    if wait > 0:
        return SignInFailure(
            "throttled",
            f"Too many failed sign-ins: wait {_duration(wait)} before trying again.",
            wait,
        )
    return None


def authenticate(
    username: str,
    password: str,
    *,
    client: str | None = None,
    now: dt.datetime | None = None,
    settings: AccessSettings | None = None,
) -> Session | SignInFailure:
    """Check a username and password and, if right, begin a session.

    Parameters
    ----------
    username
        As typed (normalised here: NFKC, trimmed, lower case).
    password
        As typed (NFKC-normalised before verification).
    client
        A key for the client making the attempt: the app passes its browser session id.
        Failures are also counted per client. ``None`` counts per username only.
    now
        The time (default: now); tests inject it.
    settings
        Default: from the environment (:func:`access.settings.load_settings`).

    Returns
    -------
    Session or SignInFailure
        A failure carries ``retry_after``: the caller must not accept a new attempt sooner.
        The library never sleeps.

    Raises
    ------
    AccessError
        Only for misuse (arguments not text, naive ``now``) or an unusable accounts file or
        state database; never for a wrong username or password.

    Notes
    -----
    The delay schedule and the lock-out are described in the module documentation;
    see also OWASP's Authentication Cheat Sheet (account lockout, generic error messages) and
    NIST SP 800-63B section 5.2.2 (rate limiting).
    """
    settings = settings or load_settings()
    if not isinstance(username, str) or not isinstance(password, str):
        raise AccessError("authenticate() takes the username and the password as text.")
    if client is not None and not isinstance(client, str):
        raise AccessError("authenticate(client=...) must be text (the browser session id).")
    t = _epoch(now)
    user = normalize_username(username)
    account_key = secret_digest(user, purpose="username")
    client_key = client_digest(client) if client else None
    account = read_accounts(settings.accounts_path).accounts.get(user)
    known = account.username if account is not None else None
    # Made once per process and parameters, whoever signs in first, so that its one-off cost
    # does not single out the first unknown username.
    dummy = dummy_hash(settings)
    state = _state(settings)

    with state.transaction() as conn:
        acc = _counter(conn, "account", account_key, t, settings)
        cli = _counter(conn, "client", client_key, t, settings) if client_key else None
        refusal = _refusal(acc, cli, t, settings)
        if refusal is not None:
            record_event(conn, "signin_refused", at=t, username=known, client=client_key,
                         detail=refusal.reason)
            return refusal
        provisional = _after_failure(acc, t, settings.lockout_threshold, settings)
        _store(conn, "account", account_key, provisional)

    stored = account.password_hash if account is not None else dummy
    right = verify_password(stored, password, settings=settings) and account is not None

    if right and account is not None and not account.disabled:
        session_id = secrets.token_urlsafe(32)
        with state.transaction() as conn:
            conn.execute("DELETE FROM throttle WHERE kind = 'account' AND key = ?", (account_key,))
            _purge(conn, t, settings)
            conn.execute(
                "INSERT INTO sessions (token_hash, username, created, last_seen, password_stamp, "
                "client) VALUES (?, ?, ?, ?, ?, ?)",
                (secret_digest(session_id, purpose="session"), account.username, t, t,
                 iso(account.password_changed.timestamp()), client_key),
            )
            record_event(conn, "signin_succeeded", at=t, username=account.username,
                         client=client_key, detail=f"role={account.role}")
        _rehash_if_needed(account.username, account.password_hash, password, settings, _utc(t))
        return Session(
            session_id=session_id,
            username=account.username,
            name=account.name,
            role=account.role,
            signed_in_at=_utc(t),
            expires_at=_utc(t + min(settings.session_idle_seconds,
                                    settings.session_lifetime_seconds)),
        )

    with state.transaction() as conn:
        acc = _counter(conn, "account", account_key, t, settings)
        if client_key is not None:
            cli = _after_failure(_counter(conn, "client", client_key, t, settings), t,
                                 settings.client_lockout_threshold, settings)
            _store(conn, "client", client_key, cli)
        if account is None:
            detail = "unknown username"
        elif not right:
            detail = "wrong password"
        else:
            detail = "account disabled"
        record_event(conn, "signin_failed", at=t, username=known, client=client_key,
                     detail=detail)
        if provisional.locked_until > t:
            record_event(conn, "account_locked", at=t, username=known, client=client_key,
                         detail=f"{provisional.failures} failures; until "
                                f"{iso(provisional.locked_until)}")
        if cli is not None and cli.locked_until > t and client_key is not None:
            record_event(conn, "client_locked", at=t, client=client_key,
                         detail=f"{cli.failures} failures; until {iso(cli.locked_until)}")
        _purge(conn, t, settings)

    ends = [acc.next_allowed, acc.locked_until]
    if cli is not None:
        ends += [cli.next_allowed, cli.locked_until]
    wait = max(0.0, *(end - t for end in ends))
    if right and account is not None and account.disabled:
        return SignInFailure(
            "disabled", "This account is disabled. Ask an administrator to enable it.", wait
        )
    if acc.locked_until > t:
        return SignInFailure(
            "locked",
            "The username or password is not right. After "
            f"{settings.lockout_threshold} failed sign-ins in a row this username is locked "
            f"for {_duration(acc.locked_until - t)}; wait, or ask an administrator to unlock it.",
            wait,
        )
    if cli is not None and cli.locked_until > t:
        return SignInFailure(
            "locked",
            "The username or password is not right. After "
            f"{settings.client_lockout_threshold} failed sign-ins in a row from this browser, "
            f"wait {_duration(cli.locked_until - t)} before trying again.",
            wait,
        )
    message = "The username or password is not right."
    if wait > 0:
        message += f" Wait {_duration(wait)} before trying again."
    return SignInFailure("invalid", message, wait)


def _rehash_if_needed(
    username: str, old_hash: str, password: str, settings: AccessSettings, now: dt.datetime
) -> None:
    if not needs_rehash(old_hash, settings=settings):
        return
    new_hash = hash_password(normalize_password(password), settings=settings)
    try:
        replace_password_hash(username, old_hash, new_hash, settings=settings, now=now)
    except AccessError as exc:
        warnings.warn(
            AccessWarning(
                f"The password of '{username}' was not rehashed with the new Argon2 parameters: "
                f"{exc} Sign-in works; the rehash is tried again at the next sign-in."
            ),
            stacklevel=3,
        )


_END_MESSAGES: dict[str, str] = {
    "unknown": "Please sign in.",
    "idle": "You were signed out after {idle} without activity. Please sign in again.",
    "expired": "Your session reached its limit of {lifetime}. Please sign in again.",
    "disabled": "Your account has been disabled. Ask an administrator.",
    "password_changed": "Your password was changed. Please sign in with the new one.",
    "removed": "Your account no longer exists. Ask an administrator.",
}


def _ended(reason: EndReason, settings: AccessSettings) -> SessionEnded:
    hours = settings.session_lifetime_seconds / 3600
    lifetime = (f"{hours:g} hour" + ("" if hours == 1 else "s")) if hours >= 1 else _duration(
        settings.session_lifetime_seconds
    )
    return SessionEnded(
        reason,
        _END_MESSAGES[reason].format(
            idle=_duration(settings.session_idle_seconds), lifetime=lifetime
        ),
    )


def validate(
    session_id: str | None,
    *,
    now: dt.datetime | None = None,
    settings: AccessSettings | None = None,
) -> Session | SessionEnded:
    """The session behind ``session_id``, refreshed (its idle timer restarts), or why not.

    Parameters
    ----------
    session_id
        From :attr:`Session.session_id`; ``None`` or anything unknown gives
        ``SessionEnded("unknown", ...)``.
    now, settings
        As for :func:`authenticate`.

    Returns
    -------
    Session or SessionEnded
        ``SessionEnded.reason`` is ``"unknown"`` (never existed or signed out), ``"idle"``,
        ``"expired"`` (absolute lifetime), ``"disabled"``, ``"password_changed"`` or
        ``"removed"`` (the account is gone from the accounts file).
    """
    settings = settings or load_settings()
    if not isinstance(session_id, str) or not 0 < len(session_id) <= MAX_SESSION_ID_LENGTH:
        return _ended("unknown", settings)
    t = _epoch(now)
    token_hash = secret_digest(session_id, purpose="session")
    book = read_accounts(settings.accounts_path)
    with _state(settings).transaction() as conn:
        row = conn.execute(
            "SELECT username, created, last_seen, password_stamp FROM sessions "
            "WHERE token_hash = ?",
            (token_hash,),
        ).fetchone()
        if row is None:
            return _ended("unknown", settings)
        username, created, last_seen, stamp = row
        account = book.accounts.get(username)
        reason: EndReason | None = None
        if t - last_seen >= settings.session_idle_seconds:
            reason = "idle"
        elif t - created >= settings.session_lifetime_seconds:
            reason = "expired"
        elif account is None:
            reason = "removed"
        elif account.disabled:
            reason = "disabled"
        elif stamp != iso(account.password_changed.timestamp()):
            reason = "password_changed"
        if reason is not None or account is None:
            conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
            record_event(conn, "session_ended", at=t, username=username, detail=str(reason))
            return _ended(reason or "removed", settings)
        seen = max(t, last_seen)
        conn.execute("UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (seen, token_hash))
    return Session(
        session_id=session_id,
        username=account.username,
        name=account.name,
        role=account.role,
        signed_in_at=_utc(created),
        expires_at=_utc(min(seen + settings.session_idle_seconds,
                            created + settings.session_lifetime_seconds)),
    )


def sign_out(
    session_id: str | None,
    *,
    now: dt.datetime | None = None,
    settings: AccessSettings | None = None,
) -> bool:
    """End a session. Returns whether there was one to end (signing out twice is harmless)."""
    settings = settings or load_settings()
    if not isinstance(session_id, str) or not 0 < len(session_id) <= MAX_SESSION_ID_LENGTH:
        return False
    t = _epoch(now)
    token_hash = secret_digest(session_id, purpose="session")
    with _state(settings).transaction() as conn:
        row = conn.execute(
            "SELECT username, client FROM sessions WHERE token_hash = ?", (token_hash,)
        ).fetchone()
        if row is None:
            return False
        conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
        record_event(conn, "signed_out", at=t, username=row[0], client=row[1])
    return True


def lock_remaining(
    username: str,
    *,
    now: dt.datetime | None = None,
    settings: AccessSettings | None = None,
) -> float:
    """Seconds for which ``username`` stays locked out (0 if it is not locked)."""
    settings = settings or load_settings()
    t = _epoch(now)
    key = secret_digest(normalize_username(username), purpose="username")
    with _state(settings).transaction() as conn:
        c = _counter(conn, "account", key, t, settings)
    return max(0.0, c.locked_until - t)


def unlock(
    username: str,
    *,
    actor: str | None = None,
    now: dt.datetime | None = None,
    settings: AccessSettings | None = None,
) -> bool:
    """Lift a username's lock and forget its failures. Returns whether it was locked.

    Raises
    ------
    AccountError
        No such account.
    """
    settings = settings or load_settings()
    user = check_username(username)
    if user not in read_accounts(settings.accounts_path).accounts:
        raise AccountError(
            f"There is no account '{user}'. Check the name with: python -m access list"
        )
    t = _epoch(now)
    key = secret_digest(user, purpose="username")
    with _state(settings).transaction() as conn:
        was_locked = _counter(conn, "account", key, t, settings).locked_until > t
        conn.execute("DELETE FROM throttle WHERE kind = 'account' AND key = ?", (key,))
        record_event(conn, "account_unlocked", at=t, username=user, actor=actor,
                     detail="was locked" if was_locked else "was not locked")
    return was_locked
