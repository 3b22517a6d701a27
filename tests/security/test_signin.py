"""Staff sign-in end to end: no default credentials, passwords hashed with Argon2id and never
stored or logged raw, slow-down then lock-out after failures, sessions that expire."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest

from access import Session, SessionEnded, SignInFailure, authenticate, validate
from access.accounts import add_user, list_accounts, set_disabled, set_password
from access.settings import SETTINGS, AccessSettings

T0 = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC)
PASSWORD = "seven purple lanterns drift north"  # noqa: S105 - a test password
CHEAP = {"argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1}


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SURVEY_"):
            monkeypatch.delenv(name)


@pytest.fixture
def settings(tmp_path: Path) -> AccessSettings:
    return AccessSettings(data_dir=tmp_path / "data", **CHEAP)  # type: ignore[arg-type]


def files_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


@pytest.mark.parametrize(
    ("username", "password"),
    [("admin", "admin"), ("admin", "password"), ("admin", ""), ("root", "root"),
     ("streamlit", "streamlit"), ("admin", "changeme"), ("analyst", "analyst")],
)  # fmt: skip
def test_a_fresh_installation_has_no_account_to_sign_in_with(settings, username, password):
    result = authenticate(username, password, client="c", now=T0, settings=settings)
    assert isinstance(result, SignInFailure) and result.reason == "invalid"
    assert list_accounts(settings=settings) == []
    assert not settings.users_file.exists()


def test_passwords_are_stored_as_argon2id_hashes_only(settings):
    add_user("wang.li", PASSWORD, role="admin", settings=settings, now=T0)
    text = settings.users_file.read_text(encoding="utf-8")
    assert "$argon2id$" in text
    assert PASSWORD not in text
    assert stat.S_IMODE(settings.users_file.stat().st_mode) == 0o600
    # a sign-in, a wrong password and a password typed into the username field
    assert isinstance(authenticate("wang.li", PASSWORD, client="c", now=at(1), settings=settings),
                      Session)
    authenticate("wang.li", PASSWORD + "x", client="c", now=at(2), settings=settings)
    authenticate(PASSWORD, PASSWORD, client="c", now=at(3), settings=settings)
    blob = files_bytes(settings.data_dir)
    assert PASSWORD.encode() not in blob  # not in the accounts file, state or audit trail


def test_the_production_hash_cost_meets_the_owasp_minimum():
    defaults = {s.name: s.default for s in SETTINGS}
    assert defaults["argon2_memory_kib"] >= 19456 and defaults["argon2_time_cost"] >= 2
    assert defaults["password_min_length"] >= 12


def test_failures_slow_down_then_lock_the_username(settings):
    add_user("wang.li", PASSWORD, role="admin", settings=settings, now=T0)
    waits = []
    t = 0.0
    for _ in range(5):
        result = authenticate("wang.li", "wrong password!", client=f"c{t}", now=at(t),
                              settings=settings)
        assert isinstance(result, SignInFailure)
        waits.append((result.reason, result.retry_after))
        t += result.retry_after if result.reason != "locked" else 0
    assert [w for _, w in waits[:4]] == [0.0, 1.0, 2.0, 4.0]  # doubling delays
    assert waits[4] == ("locked", 900.0)  # the 5th failure locks for 15 minutes
    # too early after a failure: refused without checking the password (and not counted)
    early = authenticate("wang.li", PASSWORD, client="c1", now=at(1.5), settings=settings)
    # while locked even the right password is refused, unchecked, from any client
    locked = authenticate("wang.li", PASSWORD, client="c-new", now=at(t + 60), settings=settings)
    assert isinstance(locked, SignInFailure) and locked.reason == "locked"
    after = authenticate("wang.li", PASSWORD, client="c-new", now=at(t + 901), settings=settings)
    assert isinstance(after, Session)
    assert isinstance(early, SignInFailure) and early.reason in ("throttled", "locked")


def test_one_client_trying_many_usernames_is_locked_out(settings):
    t = 0.0
    reasons = []
    for i in range(12):
        result = authenticate(f"user{i}", "guess guess guess", client="bot", now=at(t),
                              settings=settings)
        assert isinstance(result, SignInFailure)
        reasons.append(result.reason)
        t += (result.retry_after if result.reason != "locked" else 0) + 0.5
    # the 10th failure from one client locks that client out, whatever username it tries
    assert reasons[:9] == ["invalid"] * 9 and set(reasons[9:]) == {"locked"}


def test_sessions_expire_when_idle_after_8_hours_and_when_the_account_changes(settings):
    add_user("wang.li", PASSWORD, role="admin", settings=settings, now=T0)

    def sign_in(t: float) -> str:
        s = authenticate("wang.li", PASSWORD, client="c", now=at(t), settings=settings)
        assert isinstance(s, Session)
        assert len(s.session_id) >= 43  # 256 random bits, URL-safe base64
        return s.session_id

    sid = sign_in(0)
    assert isinstance(validate(sid, now=at(29 * 60), settings=settings), Session)
    idle = validate(sid, now=at(29 * 60 + 31 * 60), settings=settings)
    assert isinstance(idle, SessionEnded) and idle.reason == "idle"

    sid = sign_in(10_000)
    t = 10_000.0
    while t < 10_000 + 8 * 3600 - 1200:  # kept busy: still ends after 8 hours in all
        t += 1200
        assert isinstance(validate(sid, now=at(t), settings=settings), Session)
    ended = validate(sid, now=at(10_000 + 8 * 3600 + 1), settings=settings)
    assert isinstance(ended, SessionEnded) and ended.reason == "expired"

    sid = sign_in(50_000)
    set_password("wang.li", PASSWORD + " again", settings=settings, now=at(50_010))
    assert isinstance(validate(sid, now=at(50_020), settings=settings), SessionEnded)

    s = authenticate("wang.li", PASSWORD + " again", client="c", now=at(60_000), settings=settings)
    assert isinstance(s, Session)
    set_disabled("wang.li", True, settings=settings, now=at(60_010))
    assert isinstance(validate(s.session_id, now=at(60_020), settings=settings), SessionEnded)
    assert s.session_id.encode() not in files_bytes(settings.data_dir)  # stored hashed only


def test_a_forged_or_empty_session_id_is_not_a_session(settings):
    for sid in (None, "", "x" * 43, "' OR 1=1 --", "\x00"):
        assert isinstance(validate(sid, now=T0, settings=settings), SessionEnded)
