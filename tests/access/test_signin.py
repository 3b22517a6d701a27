"""Tests of access.signin: no default credentials, throttling and lock-out on an injected clock,
per-client counting, the unknown-user path, sessions, rehashing and the audit trail."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import string
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import argon2
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from access.accounts import (
    add_user,
    format_accounts,
    load_accounts,
    read_accounts,
    set_disabled,
    set_password,
)
from access.errors import AccessError, AccountError
from access.settings import AccessSettings
from access.signin import (
    Session,
    SessionEnded,
    SignInFailure,
    authenticate,
    failure_delay,
    lock_remaining,
    sign_out,
    unlock,
    validate,
)
from access.state import AccessState, secret_digest
from tests.access.support import CHEAP_ARGON2, GOOD_PASSWORD, PYTHON, ROOT, T0, at

WRONG = "not the right passphrase"
INVALID = "The username or password is not right."


@pytest.fixture
def admin(settings: AccessSettings) -> AccessSettings:
    add_user("wang.li", GOOD_PASSWORD, role="admin", name="Wang Li", settings=settings, now=T0)
    return settings


def events(settings: AccessSettings) -> list[tuple[str, str | None, str]]:
    return [(e.event, e.username, e.detail) for e in
            AccessState(settings.state_file).audit_events()]


# --- no default credentials -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "password"),
    [("admin", "admin"), ("admin", "password"), ("admin", ""), ("root", "root"),
     ("admin", "admin123456789"), ("", "")],
)
def test_a_fresh_data_folder_has_no_account_to_sign_in_to(
    settings: AccessSettings, username: str, password: str
) -> None:
    result = authenticate(username, password, now=T0, settings=settings)
    assert isinstance(result, SignInFailure) and result.reason == "invalid"
    assert load_accounts(settings=settings).accounts == {}


def test_sign_in_with_the_right_password(admin: AccessSettings) -> None:
    result = authenticate(" Wang.Li ", GOOD_PASSWORD, client="tab-1", now=T0, settings=admin)
    assert isinstance(result, Session)
    assert (result.username, result.name, result.role) == ("wang.li", "Wang Li", "admin")
    assert result.signed_in_at == T0 and result.expires_at == at(1800)
    assert len(result.session_id) == 43  # 32 random bytes, URL-safe base 64
    assert result.session_id not in repr(result)
    assert result.can("manage_accounts")


def test_password_is_nfkc_normalised_at_sign_in(settings: AccessSettings) -> None:
    add_user("li.na", "ＡＢＣ horse battery", role="analyst", settings=settings, now=T0)
    assert isinstance(authenticate("li.na", "ABC horse battery", now=T0, settings=settings),
                      Session)


def test_wrong_password_and_unknown_user_look_the_same(admin: AccessSettings) -> None:
    wrong = authenticate("wang.li", WRONG, now=T0, settings=admin)
    unknown = authenticate("zhang.san", WRONG, now=T0, settings=admin)
    assert wrong == unknown == SignInFailure("invalid", INVALID, 0.0)


def test_misuse_raises_the_projects_error(admin: AccessSettings) -> None:
    with pytest.raises(AccessError, match="takes the username and the password as text"):
        authenticate("wang.li", None, settings=admin)  # type: ignore[arg-type]
    with pytest.raises(AccessError, match="'now' must be a date and time with a time zone"):
        authenticate("wang.li", WRONG, now=T0.replace(tzinfo=None), settings=admin)


# --- throttling and lock-out ------------------------------------------------------------------


def test_delay_schedule() -> None:
    s = AccessSettings(failure_delay_seconds=1.0, failure_delay_max_seconds=60.0)
    assert [failure_delay(n, settings=s) for n in range(1, 10)] == [
        0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0
    ]
    assert failure_delay(10_000, settings=s) == 60.0


def test_failures_slow_down_then_lock_the_account(admin: AccessSettings) -> None:
    t = 0.0
    waits = []
    for _ in range(4):
        result = authenticate("wang.li", WRONG, now=at(t), settings=admin)
        assert isinstance(result, SignInFailure) and result.reason == "invalid"
        waits.append(result.retry_after)
        t += result.retry_after
    assert waits == [0.0, 1.0, 2.0, 4.0]
    assert result.message == INVALID + " Wait 4 seconds before trying again."
    fifth = authenticate("wang.li", WRONG, now=at(t), settings=admin)
    assert fifth == SignInFailure(
        "locked",
        "The username or password is not right. After 5 failed sign-ins in a row this username "
        "is locked for 15 minutes; wait, or ask an administrator to unlock it.",
        900.0,
    )
    # While locked even the right password is refused, without being checked.
    during = authenticate("wang.li", GOOD_PASSWORD, now=at(t + 600), settings=admin)
    assert during == SignInFailure(
        "locked",
        "Too many failed sign-ins for this username: it is locked for 5 minutes. Wait, or ask "
        "an administrator to unlock it.",
        300.0,
    )
    assert lock_remaining("wang.li", now=at(t + 600), settings=admin) == 300.0
    # The lock expires by itself.
    assert lock_remaining("wang.li", now=at(t + 900), settings=admin) == 0.0
    assert isinstance(authenticate("wang.li", GOOD_PASSWORD, now=at(t + 900), settings=admin),
                      Session)
    assert [e[0] for e in events(admin)].count("account_locked") == 1


def test_attempt_inside_the_delay_is_refused_and_not_counted(admin: AccessSettings) -> None:
    authenticate("wang.li", WRONG, now=at(0), settings=admin)
    second = authenticate("wang.li", WRONG, now=at(0), settings=admin)
    assert second.retry_after == 1.0  # type: ignore[union-attr]
    early = authenticate("wang.li", GOOD_PASSWORD, now=at(0.5), settings=admin)
    assert early == SignInFailure(
        "throttled", "Too many failed sign-ins: wait 1 second before trying again.", 0.5
    )
    for _ in range(20):  # hammering during the wait does not lock the account
        authenticate("wang.li", WRONG, now=at(0.5), settings=admin)
    assert lock_remaining("wang.li", now=at(0.5), settings=admin) == 0.0
    assert isinstance(authenticate("wang.li", GOOD_PASSWORD, now=at(1.0), settings=admin),
                      Session)


def test_success_resets_the_count(admin: AccessSettings) -> None:
    t = 0.0
    for _ in range(3):
        t += authenticate("wang.li", WRONG, now=at(t), settings=admin).retry_after  # type: ignore[union-attr]
    assert isinstance(authenticate("wang.li", GOOD_PASSWORD, now=at(t), settings=admin), Session)
    assert authenticate("wang.li", WRONG, now=at(t), settings=admin).retry_after == 0.0  # type: ignore[union-attr]


def test_old_failures_are_forgotten(admin: AccessSettings) -> None:
    for t in (0, 1, 3):
        authenticate("wang.li", WRONG, now=at(t), settings=admin)
    fresh = authenticate("wang.li", WRONG, now=at(3 + 900), settings=admin)
    assert fresh == SignInFailure("invalid", INVALID, 0.0)


def test_lockout_settings_are_honoured(make_settings: Callable[..., AccessSettings]) -> None:
    s = make_settings(lockout_threshold=2, lockout_seconds=60.0, failure_delay_seconds=0.0)
    add_user("wang.li", GOOD_PASSWORD, role="admin", settings=s, now=T0)
    assert authenticate("wang.li", WRONG, now=at(0), settings=s).reason == "invalid"  # type: ignore[union-attr]
    locked = authenticate("wang.li", WRONG, now=at(0), settings=s)
    assert locked.reason == "locked" and locked.retry_after == 60.0  # type: ignore[union-attr]
    assert "locked for 1 minute;" in locked.message  # type: ignore[union-attr]
    assert isinstance(authenticate("wang.li", GOOD_PASSWORD, now=at(60), settings=s), Session)


def test_unknown_usernames_are_throttled_and_locked_alike(admin: AccessSettings) -> None:
    t = 0.0
    known, unknown = [], []
    for _ in range(5):
        a = authenticate("wang.li", WRONG, now=at(t), settings=admin)
        b = authenticate("zhang.san", WRONG, now=at(t), settings=admin)
        known.append(a)
        unknown.append(b)
        t += a.retry_after  # type: ignore[union-attr]
    assert known == unknown
    assert known[-1].reason == "locked"  # type: ignore[union-attr]


def test_admin_unlock(admin: AccessSettings) -> None:
    s = admin
    t = 0.0
    for _ in range(4):
        t += authenticate("wang.li", WRONG, now=at(t), settings=s).retry_after  # type: ignore[union-attr]
    assert authenticate("wang.li", WRONG, now=at(t), settings=s).reason == "locked"  # type: ignore[union-attr]
    assert lock_remaining("wang.li", now=at(t), settings=s) == 900.0
    assert unlock("wang.li", actor="cli:root", now=at(t), settings=s) is True
    assert isinstance(authenticate("wang.li", GOOD_PASSWORD, now=at(t), settings=s), Session)
    assert unlock("wang.li", actor="cli:root", now=at(t), settings=s) is False
    with pytest.raises(AccountError, match="There is no account 'nobody'"):
        unlock("nobody", settings=s)
    assert ("account_unlocked", "wang.li", "was locked") in events(s)


def test_failures_are_counted_per_client(admin: AccessSettings) -> None:
    s = admin
    # One browser tab tries ten different usernames (password spraying): the tab is locked.
    t = 0.0
    results = []
    for i in range(10):
        r = authenticate(f"user{i}", WRONG, client="tab-A", now=at(t), settings=s)
        results.append(r)
        if i < 9:
            t += r.retry_after  # type: ignore[union-attr]
    assert [r.retry_after for r in results[:9]] == [0, 1, 2, 4, 8, 16, 32, 60, 60]  # type: ignore[union-attr]
    assert results[-1] == SignInFailure(
        "locked",
        "The username or password is not right. After 10 failed sign-ins in a row from this "
        "browser, wait 15 minutes before trying again.",
        900.0,
    )
    # The tab is refused even for a real account with the right password ...
    refused = authenticate("wang.li", GOOD_PASSWORD, client="tab-A", now=at(t + 1), settings=s)
    assert refused == SignInFailure(
        "locked",
        "Too many failed sign-ins from this browser: wait 15 minutes before trying again.",
        899.0,
    )
    # ... while another tab signs in at once, the account itself having no failures.
    assert isinstance(
        authenticate("wang.li", GOOD_PASSWORD, client="tab-B", now=at(t + 1), settings=s), Session
    )
    assert ("client_locked", None, f"10 failures; until {_iso(t + 900)}") in events(s)


def test_account_failures_from_many_clients_still_lock_it(admin: AccessSettings) -> None:
    t = 0.0
    for i in range(5):
        r = authenticate("wang.li", WRONG, client=f"tab-{i}", now=at(t), settings=admin)
        t += r.retry_after  # type: ignore[union-attr]
    assert r.reason == "locked"  # type: ignore[union-attr]


def _iso(seconds: float) -> str:
    return at(seconds).isoformat(timespec="microseconds")


def test_a_clock_that_went_back_cannot_stretch_a_wait(admin: AccessSettings) -> None:
    for t in (1000, 1000, 1000):
        authenticate("wang.li", WRONG, now=at(t), settings=admin)
    # Another process whose clock is an hour behind sees the same counter.
    behind = authenticate("wang.li", WRONG, now=at(1000 - 3600), settings=admin)
    assert behind.reason == "throttled" and behind.retry_after == 60.0  # type: ignore[union-attr]


def test_simultaneous_attempts_cannot_slip_past_the_counter(admin: AccessSettings) -> None:
    """Failures are counted before the password is checked, so of many attempts arriving at
    the same moment only the first two are checked (no wait is due after one failure)."""
    n = 10
    barrier = threading.Barrier(n)
    results: list[object] = []

    def attempt() -> None:
        barrier.wait()
        results.append(authenticate("wang.li", WRONG, now=at(0), settings=admin))

    threads = [threading.Thread(target=attempt) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reasons = sorted(r.reason for r in results)  # type: ignore[attr-defined]
    assert reasons == ["invalid"] * 2 + ["throttled"] * (n - 2)


CROSS_PROCESS = """
import datetime as dt, sys
from access.signin import authenticate
from access.settings import load_settings
s = load_settings()
t = dt.datetime.fromisoformat(sys.argv[1])
if sys.argv[2] == "fail":
    while True:
        r = authenticate("wang.li", "not the right passphrase", now=t, settings=s)
        if r.reason == "locked":
            break
        t += dt.timedelta(seconds=r.retry_after)
    print(r.retry_after)
else:
    print(authenticate("li.na", sys.argv[3], now=t, settings=s).session_id)
"""


def test_processes_agree_on_locks_and_sessions(
    admin: AccessSettings, cli_env: dict[str, str]
) -> None:
    add_user("li.na", GOOD_PASSWORD, role="analyst", settings=admin, now=T0)
    env = dict(cli_env, SURVEY_DATA_DIR=str(admin.data_dir))
    locker = subprocess.run([PYTHON, "-c", CROSS_PROCESS, T0.isoformat(), "fail"], env=env,
                            cwd=ROOT, capture_output=True, text=True, check=True, timeout=120)
    assert float(locker.stdout) == 900.0
    assert authenticate("wang.li", GOOD_PASSWORD, now=at(60), settings=admin).reason == "locked"  # type: ignore[union-attr]
    signer = subprocess.run([PYTHON, "-c", CROSS_PROCESS, T0.isoformat(), "session",
                             GOOD_PASSWORD], env=env, cwd=ROOT, capture_output=True, text=True,
                            check=True, timeout=120)
    session = validate(signer.stdout.strip(), now=at(60), settings=admin)
    assert isinstance(session, Session) and session.username == "li.na"


# --- the unknown-user path spends the same work -----------------------------------------------


def test_every_attempt_verifies_exactly_one_hash(
    admin: AccessSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_disabled("wang.li", True, settings=admin, now=T0)
    add_user("li.na", GOOD_PASSWORD, role="analyst", settings=admin, now=T0)
    calls: list[str] = []
    real_verify = argon2.PasswordHasher.verify

    def counting_verify(self: argon2.PasswordHasher, hash: str, password: str) -> bool:
        calls.append(hash)
        return real_verify(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting_verify)
    stored = read_accounts(admin.accounts_path).accounts
    cases = [
        ("zhang.san", WRONG, "unknown"),                    # unknown user: the dummy hash
        ("not a valid username!", WRONG, "unknown"),
        ("li.na", WRONG, stored["li.na"].password_hash),    # wrong password
        ("li.na", GOOD_PASSWORD, stored["li.na"].password_hash),  # right
        ("wang.li", GOOD_PASSWORD, stored["wang.li"].password_hash),  # disabled
    ]
    for i, (user, password, expected_hash) in enumerate(cases):
        calls.clear()
        authenticate(user, password, client=f"c{i}", now=at(100 * i), settings=admin)
        assert len(calls) == 1, user
        if expected_hash == "unknown":
            assert calls[0].startswith("$argon2id$v=19$m=8,t=1,p=1$")
            assert calls[0] not in {a.password_hash for a in stored.values()}
        else:
            assert calls == [expected_hash]


def test_disabled_account_is_told_only_with_the_right_password(admin: AccessSettings) -> None:
    set_disabled("wang.li", True, settings=admin, now=T0)
    assert authenticate("wang.li", WRONG, now=at(0), settings=admin) == SignInFailure(
        "invalid", INVALID, 0.0
    )
    assert authenticate("wang.li", GOOD_PASSWORD, now=at(10), settings=admin) == SignInFailure(
        "disabled", "This account is disabled. Ask an administrator to enable it.", 1.0
    )


# --- sessions ---------------------------------------------------------------------------------


def sign_in(settings: AccessSettings, seconds: float = 0.0) -> Session:
    result = authenticate("wang.li", GOOD_PASSWORD, client="tab", now=at(seconds),
                          settings=settings)
    assert isinstance(result, Session)
    return result


def test_validate_refreshes_the_idle_timer(admin: AccessSettings) -> None:
    session = sign_in(admin)
    again = validate(session.session_id, now=at(1700), settings=admin)
    assert isinstance(again, Session)
    assert again.username == "wang.li" and again.signed_in_at == T0
    assert again.expires_at == at(1700 + 1800)


def test_idle_expiry(admin: AccessSettings) -> None:
    session = sign_in(admin)
    assert isinstance(validate(session.session_id, now=at(1799), settings=admin), Session)
    ended = validate(session.session_id, now=at(1799 + 1800), settings=admin)
    assert ended == SessionEnded(
        "idle", "You were signed out after 30 minutes without activity. Please sign in again."
    )
    assert validate(session.session_id, now=at(1799 + 1801), settings=admin) == SessionEnded(
        "unknown", "Please sign in."
    )


def test_absolute_expiry_even_when_used(admin: AccessSettings) -> None:
    session = sign_in(admin)
    t = 0
    while t + 1500 < 8 * 3600:
        t += 1500
        result = validate(session.session_id, now=at(t), settings=admin)
        assert isinstance(result, Session), t
        assert result.expires_at == at(min(t + 1800, 8 * 3600))
    assert validate(session.session_id, now=at(8 * 3600), settings=admin) == SessionEnded(
        "expired", "Your session reached its limit of 8 hours. Please sign in again."
    )


def test_session_limits_are_settings(make_settings: Callable[..., AccessSettings]) -> None:
    s = make_settings(session_idle_seconds=60.0, session_lifetime_seconds=90.0)
    add_user("wang.li", GOOD_PASSWORD, role="admin", settings=s, now=T0)
    session = sign_in(s)
    assert session.expires_at == at(60)
    assert isinstance(validate(session.session_id, now=at(59), settings=s), Session)
    assert validate(session.session_id, now=at(90), settings=s).reason == "expired"  # type: ignore[union-attr]


def test_sign_out(admin: AccessSettings) -> None:
    session = sign_in(admin)
    assert sign_out(session.session_id, now=at(5), settings=admin) is True
    assert sign_out(session.session_id, now=at(6), settings=admin) is False
    assert validate(session.session_id, now=at(7), settings=admin).reason == "unknown"  # type: ignore[union-attr]
    assert ("signed_out", "wang.li", "") in events(admin)


@pytest.mark.parametrize("bad", [None, "", "x" * 1000, "forged-session-id", 42])
def test_validate_unknown_ids(admin: AccessSettings, bad: object) -> None:
    assert validate(bad, now=T0, settings=admin) == SessionEnded("unknown", "Please sign in.")  # type: ignore[arg-type]


def test_disable_ends_sessions(admin: AccessSettings) -> None:
    session = sign_in(admin)
    set_disabled("wang.li", True, settings=admin, now=at(10))
    assert validate(session.session_id, now=at(11), settings=admin).reason == "unknown"  # type: ignore[union-attr]


def test_password_change_ends_sessions(admin: AccessSettings) -> None:
    session = sign_in(admin)
    set_password("wang.li", "a brand new passphrase", settings=admin, now=at(10))
    assert validate(session.session_id, now=at(11), settings=admin).reason == "unknown"  # type: ignore[union-attr]
    assert isinstance(
        authenticate("wang.li", "a brand new passphrase", now=at(12), settings=admin), Session
    )


def test_hand_edits_of_the_accounts_file_are_noticed(admin: AccessSettings) -> None:
    """Sessions are checked against the file itself, not only ended by the commands."""
    from dataclasses import replace

    from access.accounts import AccountBook

    def edit(**changes: object) -> None:
        book = read_accounts(admin.accounts_path)
        account = replace(book.accounts["wang.li"], **changes)  # type: ignore[arg-type]
        admin.accounts_path.write_text(
            format_accounts(AccountBook({"wang.li": account}, book.allowed_emails)), "utf-8"
        )

    s1 = sign_in(admin, 0)
    edit(disabled=True)
    assert validate(s1.session_id, now=at(1), settings=admin) == SessionEnded(
        "disabled", "Your account has been disabled. Ask an administrator."
    )
    edit(disabled=False)
    s2 = sign_in(admin, 2)
    edit(password_changed=at(3))
    assert validate(s2.session_id, now=at(4), settings=admin) == SessionEnded(
        "password_changed", "Your password was changed. Please sign in with the new one."
    )
    s3 = sign_in(admin, 5)
    edit(role="analyst")
    role_now = validate(s3.session_id, now=at(6), settings=admin)
    assert isinstance(role_now, Session) and role_now.role == "analyst"
    assert not role_now.can("export_microdata")
    admin.accounts_path.write_text("version = 1\n", "utf-8")
    assert validate(s3.session_id, now=at(7), settings=admin) == SessionEnded(
        "removed", "Your account no longer exists. Ask an administrator."
    )


def test_sessions_are_stored_hashed(admin: AccessSettings) -> None:
    session = sign_in(admin)
    with contextlib.closing(sqlite3.connect(admin.state_file)) as conn:
        stored = [r[0] for r in conn.execute("SELECT token_hash FROM sessions")]
    assert stored == [secret_digest(session.session_id, purpose="session")]
    for path in admin.state_file.parent.iterdir():
        assert session.session_id.encode() not in path.read_bytes()


# --- rehash, audit trail ----------------------------------------------------------------------


def test_rehash_on_sign_in_when_parameters_change(
    admin: AccessSettings, make_settings: Callable[..., AccessSettings]
) -> None:
    before = read_accounts(admin.accounts_path).accounts["wang.li"]
    assert before.password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    session = sign_in(admin)
    dearer = make_settings(argon2_time_cost=2, argon2_memory_kib=16)
    assert isinstance(
        authenticate("wang.li", GOOD_PASSWORD, now=at(10), settings=dearer), Session
    )
    after = read_accounts(admin.accounts_path).accounts["wang.li"]
    assert after.password_hash.startswith("$argon2id$v=19$m=16,t=2,p=1$")
    assert after.password_changed == before.password_changed and after.changed == at(10)
    # a rehash is not a password change: open sessions stay valid
    assert isinstance(validate(session.session_id, now=at(11), settings=dearer), Session)
    assert ("password_rehashed", "wang.li", "") in events(admin)
    assert isinstance(authenticate("wang.li", GOOD_PASSWORD, now=at(12), settings=dearer),
                      Session)
    assert [e[0] for e in events(admin)].count("password_rehashed") == 1


def test_audit_trail_of_sign_ins(admin: AccessSettings) -> None:
    authenticate("wang.li", WRONG, client="tab", now=at(0), settings=admin)
    authenticate("wang.li", WRONG, client="tab", now=at(0), settings=admin)
    authenticate("wang.li", WRONG, client="tab", now=at(0.5), settings=admin)
    authenticate(GOOD_PASSWORD, GOOD_PASSWORD, client="tab", now=at(5), settings=admin)
    sign_in(admin, 10)
    assert events(admin) == [
        ("account_added", "wang.li", "role=admin"),
        ("signin_failed", "wang.li", "wrong password"),
        ("signin_failed", "wang.li", "wrong password"),
        ("signin_refused", "wang.li", "throttled"),
        ("signin_failed", None, "unknown username"),  # what was typed is not recorded
        ("signin_succeeded", "wang.li", "role=admin"),
    ]
    clients = {e.client for e in AccessState(admin.state_file).audit_events()[1:]}
    assert len(clients) == 1 and len(next(iter(clients))) == 16  # hashed, not the raw key


def test_no_password_is_ever_stored_in_the_state(admin: AccessSettings) -> None:
    """Even a password typed into the username field is not kept in clear."""
    authenticate(GOOD_PASSWORD, WRONG, client="tab", now=at(0), settings=admin)
    authenticate("wang.li", WRONG, client="tab", now=at(0), settings=admin)
    sign_in(admin, 100)
    for path in admin.state_file.parent.iterdir():
        data = path.read_bytes()
        assert GOOD_PASSWORD.encode() not in data and WRONG.encode() not in data
    assert GOOD_PASSWORD.encode() not in admin.accounts_path.read_bytes()


def test_audit_trail_is_append_only(admin: AccessSettings) -> None:
    with contextlib.closing(sqlite3.connect(admin.state_file)) as conn:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE audit SET detail = 'x'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM audit")


def test_processes_share_the_state_through_sqlite_wal(admin: AccessSettings) -> None:
    with contextlib.closing(sqlite3.connect(admin.state_file)) as c:
        authenticate("wang.li", WRONG, now=at(0), settings=admin)
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert c.execute("SELECT failures FROM throttle WHERE kind = 'account'").fetchone()[0] == 1


# --- property: random input never does anything but fail --------------------------------------

_text = st.text(max_size=40) | st.text(alphabet=string.printable, max_size=40)


@hsettings(max_examples=150, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(username=_text, password=_text, client=st.none() | st.text(max_size=20),
       seconds=st.floats(min_value=0, max_value=1e6))
def test_random_credentials_only_ever_fail(
    tmp_path: Path, username: str, password: str, client: str | None, seconds: float
) -> None:
    s = AccessSettings(data_dir=tmp_path / "prop", **CHEAP_ARGON2)
    if not s.accounts_path.exists():
        add_user("wang.li", GOOD_PASSWORD, role="admin", settings=s, now=T0)
    try:
        result = authenticate(username, password, client=client, now=at(seconds), settings=s)
    except AccessError:
        return
    assert isinstance(result, SignInFailure)
    assert result.reason in ("invalid", "throttled", "locked")
    assert 0 <= result.retry_after <= 900
    assert re.fullmatch(MESSAGES, result.message), result.message


MESSAGES = "|".join(
    [
        re.escape(INVALID) + r"( Wait \d+ (second|minute)s? before trying again\.)?",
        r"The username or password is not right\. After \d+ failed sign-ins in a row .*",
        r"Too many failed sign-ins(:| for this username:| from this browser:) .*",
    ]
)
