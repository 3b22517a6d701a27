"""Tests of access.accounts: permission table, usernames, the accounts file (format, hashing,
atomic and locked writes, concurrent writers) and account changes."""

from __future__ import annotations

import datetime as dt
import re
import stat
import subprocess
import textwrap
import tomllib
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from access.accounts import (
    ACTIONS,
    ROLES,
    Account,
    AccountBook,
    add_user,
    allow_email,
    can,
    check_email,
    check_username,
    format_accounts,
    get_account,
    list_accounts,
    load_accounts,
    read_accounts,
    revoke_email,
    set_disabled,
    set_password,
)
from access.errors import AccessConfigError, AccessError, AccountError, PasswordPolicyError
from access.passwords import hash_password, verify_password
from access.settings import AccessSettings
from access.state import AccessState
from tests.access.support import CHEAP_ARGON2, GOOD_PASSWORD, PYTHON, ROOT, T0, at

# --- permission table -------------------------------------------------------------------------

EXPECTED_PERMISSIONS = {
    "view_dashboards": {"analyst", "researcher", "admin"},
    "export_microdata": {"researcher", "admin"},
    "manage_questionnaires": {"admin"},
    "manage_invitations": {"admin"},
    "compact_store": {"admin"},
    "delete_responses": {"admin"},
    "manage_accounts": {"admin"},
    "view_audit_trail": {"admin"},
}


def test_roles() -> None:
    assert ROLES == ("analyst", "researcher", "admin")


@pytest.mark.parametrize("role", ["analyst", "researcher", "admin"])
@pytest.mark.parametrize("action", sorted(EXPECTED_PERMISSIONS))
def test_permission_table(role: str, action: str) -> None:
    assert can(role, action) is (role in EXPECTED_PERMISSIONS[action])


def test_permission_table_is_declared_and_documented() -> None:
    assert set(ACTIONS) == set(EXPECTED_PERMISSIONS)
    import access.accounts as module

    for name, action in ACTIONS.items():
        assert action.name == name and action.description
        assert f"``{name}``" in (module.__doc__ or "")  # the table in the module docstring
    readme = (ROOT / "access" / "README.md").read_text("utf-8")
    for name in ACTIONS:
        assert f"`{name}`" in readme


def test_admin_may_do_everything_and_roles_are_nested() -> None:
    for action in ACTIONS:
        assert can("admin", action)
        if can("analyst", action):
            assert can("researcher", action)


def test_unknown_action_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(AccountError, match=r"^Unknown action 'export_microdat'\. Did you mean "
                       r"'export_microdata'\? Use one of the actions in access\.ACTIONS: "):
        can("admin", "export_microdat")


def test_unknown_role_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(AccountError, match=r"^Unknown role 'admn'\. Did you mean 'admin'\? "
                       r"Use one of the roles: analyst, researcher, admin\.$"):
        can("admn", "view_dashboards")


# --- usernames and addresses ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("wang.li", "wang.li"), ("  Wang.Li ", "wang.li"), ("ｗａｎｇ_li-2", "wang_li-2"),
     ("ab", "ab")],
)
def test_usernames_are_normalised(typed: str, expected: str) -> None:
    assert check_username(typed) == expected


@pytest.mark.parametrize(
    "bad", ["a", "1abc", "wang li", 'x"]\n[accounts.evil', "a" * 33, "王丽", "", "li@x", "a/b"]
)
def test_bad_usernames_are_refused(bad: str) -> None:
    with pytest.raises(AccountError) as info:
        check_username(bad)
    assert str(info.value) == (
        f"The username {bad!r} is not allowed: use 2 to 32 characters: lower-case letters a-z, "
        "digits, '.', '_' or '-', starting with a letter (e.g. 'wang.li')."
    )


def test_email_addresses() -> None:
    assert check_email(" Li.Na@Example.ORG ") == "li.na@example.org"
    for bad in ["li.na", "a b@example.org", 'x"@example.org', "a@b", "a@@b.org"]:
        with pytest.raises(AccountError, match=r"is not valid: write it as name@domain\.example"):
            check_email(bad)


# --- the accounts file ------------------------------------------------------------------------


def test_a_fresh_data_folder_has_no_account(settings: AccessSettings) -> None:
    assert not settings.accounts_path.exists()
    assert load_accounts(settings=settings) == AccountBook()
    assert list_accounts(settings=settings) == []


def test_default_location_of_the_accounts_file(tmp_path: Path) -> None:
    s = AccessSettings(data_dir=tmp_path)
    assert s.accounts_path == tmp_path / "config" / "users.toml"
    assert s.state_file == tmp_path / "state" / "access.sqlite"
    assert AccessSettings(data_dir=tmp_path, users_file=tmp_path / "u.toml").accounts_path == (
        tmp_path / "u.toml"
    )


def test_add_user_stores_a_hash_and_never_the_password(settings: AccessSettings) -> None:
    account = add_user("Wang.Li", GOOD_PASSWORD, role="admin", name="王丽", actor="cli:test",
                       settings=settings, now=T0)
    assert account.username == "wang.li" and account.role == "admin" and account.name == "王丽"
    assert (account.created, account.changed, account.password_changed) == (T0, T0, T0)
    raw = settings.accounts_path.read_bytes()
    # grep the file: neither the password nor any part of it longer than 4 characters
    assert GOOD_PASSWORD.encode() not in raw
    for word in GOOD_PASSWORD.split():
        assert word.encode() not in raw
    doc = tomllib.loads(raw.decode())
    stored = doc["accounts"]["wang.li"]["password_hash"]
    assert re.fullmatch(r"\$argon2id\$v=19\$m=8,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}",
                        stored)
    assert verify_password(stored, GOOD_PASSWORD, settings=settings)
    assert "password_hash" not in repr(account)  # hashes stay out of logs and tracebacks
    assert stat.S_IMODE(settings.accounts_path.stat().st_mode) == 0o600


def test_the_state_database_holds_no_password(settings: AccessSettings) -> None:
    add_user("wang.li", GOOD_PASSWORD, role="admin", settings=settings, now=T0)
    for path in settings.state_file.parent.iterdir():
        assert GOOD_PASSWORD.encode() not in path.read_bytes()


def test_file_written_matches_the_documented_layout(settings: AccessSettings) -> None:
    add_user("wang.li", GOOD_PASSWORD, role="researcher", name="Wang Li", settings=settings,
             now=T0)
    allow_email("Li.Na@example.org", role="analyst", settings=settings, now=T0)
    text = settings.accounts_path.read_text("utf-8")
    stored = tomllib.loads(text)["accounts"]["wang.li"]["password_hash"]
    assert text.split("\n", 3)[3] == textwrap.dedent(f"""\
        version = 1

        [accounts."wang.li"]
        name = "Wang Li"
        role = "researcher"
        disabled = false
        password_hash = "{stored}"
        created = 2026-03-01T08:00:00.000000Z
        changed = 2026-03-01T08:00:00.000000Z
        password_changed = 2026-03-01T08:00:00.000000Z

        [allowed_emails]  # OIDC sign-in (st.login): e-mail address -> role
        "li.na@example.org" = "analyst"
        """)


def test_example_file_parses_and_its_example_block_is_the_real_layout(tmp_path: Path) -> None:
    example = (ROOT / "config" / "users.example.toml").read_text("utf-8")
    assert read_accounts(ROOT / "config" / "users.example.toml") == AccountBook()
    assert "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" in example  # a placeholder only

    def uncomment(begin: str, end: str) -> str:
        block = example.split(begin)[1].split(end)[0]
        return "\n".join(line.removeprefix("# ") for line in block.strip().splitlines())

    real_hash = hash_password(GOOD_PASSWORD, settings=AccessSettings(**CHEAP_ARGON2))
    account_block = uncomment("# --- example account (written by python -m access) ---",
                              "# --- end of example account ---")
    emails_block = uncomment("# --- example allow-list ---", "# --- end of example allow-list ---")
    path = tmp_path / "users.toml"
    path.write_text(
        "version = 1\n" + account_block.replace("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>",
                                                real_hash)
        + "\n" + emails_block + "\n",
        encoding="utf-8",
    )
    book = read_accounts(path)
    assert book.accounts["wang.li"] == Account(
        username="wang.li", name="Wang Li", role="admin", disabled=False, password_hash=real_hash,
        created=T0, changed=T0, password_changed=T0,
    )
    assert book.allowed_emails == {"li.na@example.org": "analyst",
                                   "zhao.min@example.org": "researcher"}


_names = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40
).filter(lambda s: bool(s.strip()) and s == unicodedata.normalize("NFKC", s).strip())


@hsettings(max_examples=60, deadline=None)
@given(name=_names, disabled=st.booleans(),
       micro=st.integers(min_value=0, max_value=999_999))
def test_writer_round_trips_any_display_name(
    tmp_path_factory: pytest.TempPathFactory, name: str, disabled: bool, micro: int
) -> None:
    when = T0.replace(microsecond=micro)
    account = Account(username="wang.li", name=name, role="analyst", disabled=disabled,
                      password_hash="$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaA",  # noqa: S106
                      created=when, changed=when, password_changed=when)
    book = AccountBook(accounts={"wang.li": account}, allowed_emails={"a.b@c.org": "admin"})
    path = tmp_path_factory.mktemp("rt") / "users.toml"
    path.write_text(format_accounts(book), encoding="utf-8")
    assert read_accounts(path) == book


def test_writer_escapes_quotes_and_line_breaks_so_nothing_is_injected(
    settings: AccessSettings,
) -> None:
    with pytest.raises(AccountError, match="contains a control character"):
        add_user("eve", GOOD_PASSWORD, role="analyst", name='x"\nrole = "admin', settings=settings)
    add_user("eve", GOOD_PASSWORD, role="analyst", name='x" role = "admin', settings=settings)
    account = load_accounts(settings=settings).accounts["eve"]
    assert account.role == "analyst" and account.name == 'x" role = "admin'


def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_hand_edited_file_errors_name_account_field_and_fix(tmp_path: Path) -> None:
    stamp = "2026-03-01T08:00:00Z"
    base = f'created = {stamp}\nchanged = {stamp}\npassword_changed = {stamp}\n'
    path = tmp_path / "users.toml"
    _write(path, '[accounts.x1]\nrole = "boss"\npassword_hash = "$argon2id$x"\n' + base)
    with pytest.raises(AccessConfigError) as info:
        read_accounts(path)
    assert str(info.value) == (
        f"Accounts file {path}, account 'x1': Unknown role 'boss'. Use one of the roles: "
        "analyst, researcher, admin."
    )
    _write(path, '[accounts.x1]\nrole = "admin"\npassword_hash = "hunter2hunter2"\n' + base)
    with pytest.raises(AccessConfigError) as info:
        read_accounts(path)
    assert str(info.value) == (
        f"Accounts file {path}, account 'x1': password_hash is not an Argon2id hash. "
        "Set the password with: python -m access set-password x1"
    )
    _write(path, '[accounts.x1]\nrole = "admin"\npasword_hash = "$argon2id$x"\n' + base)
    with pytest.raises(AccessConfigError, match=r"unknown field 'pasword_hash'\. Did you mean "
                       r"'password_hash'\?"):
        read_accounts(path)
    _write(path, '[accounts.x1]\nrole = "admin"\n' + base)
    with pytest.raises(AccessConfigError, match=r"account 'x1': the field 'password_hash' is "
                       "missing"):
        read_accounts(path)
    _write(path, '[accounts.x1]\nrole = "admin"\npassword_hash = "$argon2id$x"\n'
           'created = 2026-03-01T08:00:00\nchanged = 2026-03-01T08:00:00Z\n'
           'password_changed = 2026-03-01T08:00:00Z\n')
    with pytest.raises(AccessConfigError, match="created must be a date and time with a time zone"):
        read_accounts(path)
    _write(path, "[accounts.x1\n")
    with pytest.raises(AccessConfigError, match=f"^Accounts file {re.escape(str(path))} is not "
                       "valid TOML: "):
        read_accounts(path)
    _write(path, "users = 1\n")
    with pytest.raises(AccessConfigError, match="top level: unknown key 'users'"):
        read_accounts(path)
    _write(path, '[allowed_emails]\n"a@b.org" = "root"\n')
    with pytest.raises(AccessConfigError, match=r"allowed_emails 'a@b\.org': Unknown role 'root'"):
        read_accounts(path)


# --- account changes --------------------------------------------------------------------------


def test_duplicate_username_is_refused(settings: AccessSettings) -> None:
    add_user("wang.li", GOOD_PASSWORD, role="admin", settings=settings)
    with pytest.raises(AccountError) as info:
        add_user("Wang.Li", "another long passphrase", role="analyst", settings=settings)
    assert str(info.value) == (
        "An account 'wang.li' already exists. Choose another username, or set its password "
        "with: python -m access set-password wang.li"
    )


def test_weak_password_creates_nothing(settings: AccessSettings) -> None:
    with pytest.raises(PasswordPolicyError):
        add_user("wang.li", "wang.li", role="admin", settings=settings)
    assert not settings.accounts_path.exists()


def test_unknown_user_changes_are_refused(settings: AccessSettings) -> None:
    message = "There is no account 'nobody'. Check the name with: python -m access list"
    with pytest.raises(AccountError, match=f"^{re.escape(message)}$"):
        set_password("nobody", GOOD_PASSWORD, settings=settings)
    with pytest.raises(AccountError, match=f"^{re.escape(message)}$"):
        set_disabled("nobody", True, settings=settings)


def test_set_password_disable_enable(settings: AccessSettings) -> None:
    add_user("wang.li", GOOD_PASSWORD, role="admin", settings=settings, now=T0)
    account = set_password("wang.li", "a brand new passphrase", settings=settings, now=at(60))
    assert account.password_changed == at(60) and account.created == T0
    assert verify_password(account.password_hash, "a brand new passphrase", settings=settings)
    assert set_disabled("wang.li", True, settings=settings, now=at(120)).disabled
    assert get_account("WANG.LI", settings=settings).disabled  # type: ignore[union-attr]
    enabled = set_disabled("wang.li", False, settings=settings, now=at(180))
    assert not enabled.disabled and enabled.changed == at(180)
    assert enabled.password_changed == at(60)


def test_account_changes_are_audited(settings: AccessSettings) -> None:
    add_user("wang.li", GOOD_PASSWORD, role="admin", actor="cli:root", settings=settings, now=T0)
    set_password("wang.li", "a brand new passphrase", actor="cli:root", settings=settings,
                 now=at(1))
    set_disabled("wang.li", True, actor="cli:root", settings=settings, now=at(2))
    set_disabled("wang.li", False, actor="cli:root", settings=settings, now=at(3))
    allow_email("li.na@example.org", role="analyst", actor="cli:root", settings=settings,
                now=at(4))
    revoke_email("li.na@example.org", actor="cli:root", settings=settings, now=at(5))
    events = AccessState(settings.state_file).audit_events()
    assert [(e.event, e.username, e.actor, e.at, e.detail) for e in events] == [
        ("account_added", "wang.li", "cli:root", T0, "role=admin"),
        ("password_changed", "wang.li", "cli:root", at(1), ""),
        ("account_disabled", "wang.li", "cli:root", at(2), ""),
        ("account_enabled", "wang.li", "cli:root", at(3), ""),
        ("email_allowed", None, "cli:root", at(4), "li.na@example.org role=analyst"),
        ("email_revoked", None, "cli:root", at(5), "li.na@example.org"),
    ]


def test_allow_list(settings: AccessSettings) -> None:
    allow_email("Li.Na@Example.org", role="analyst", settings=settings)
    allow_email("li.na@example.org", role="researcher", settings=settings)
    assert load_accounts(settings=settings).allowed_emails == {"li.na@example.org": "researcher"}
    revoke_email("li.na@example.org", settings=settings)
    assert load_accounts(settings=settings).allowed_emails == {}
    with pytest.raises(AccountError, match="is not on the allow-list"):
        revoke_email("li.na@example.org", settings=settings)


def test_naive_now_is_refused(settings: AccessSettings) -> None:
    with pytest.raises(AccessError, match="'now' must be a date and time with a time"):
        add_user("wang.li", GOOD_PASSWORD, role="admin", settings=settings,
                 now=dt.datetime(2026, 3, 1))


def test_write_is_atomic_and_leaves_no_temporary_file(settings: AccessSettings) -> None:
    add_user("wang.li", GOOD_PASSWORD, role="admin", settings=settings)
    add_user("li.na", GOOD_PASSWORD, role="analyst", settings=settings)
    names = sorted(p.name for p in settings.accounts_path.parent.iterdir())
    assert names == ["users.toml", "users.toml.lock"]


def test_failed_write_changes_nothing(
    settings: AccessSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user("wang.li", GOOD_PASSWORD, role="admin", settings=settings)
    before = settings.accounts_path.read_bytes()

    def disk_full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("access.accounts.os.replace", disk_full)
    with pytest.raises(AccessError) as info:
        add_user("li.na", GOOD_PASSWORD, role="analyst", settings=settings)
    assert str(info.value) == (
        f"Cannot write the accounts file {settings.accounts_path}: [Errno 28] No space left on "
        "device. Nothing was changed."
    )
    assert settings.accounts_path.read_bytes() == before
    assert sorted(p.name for p in settings.accounts_path.parent.iterdir()) == [
        "users.toml", "users.toml.lock"
    ]
    # the audit entry was rolled back with the failed write
    assert [e.event for e in AccessState(settings.state_file).audit_events()] == ["account_added"]


CONCURRENT_SCRIPT = """
import sys
from access.accounts import add_user
from access.settings import load_settings
prefix, n = sys.argv[1], int(sys.argv[2])
s = load_settings()
for i in range(n):
    add_user(f"{prefix}{i}", "correct horse battery staple", role="analyst", settings=s)
"""


def test_concurrent_add_user_from_two_processes_keeps_both(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    n = 15
    procs = [
        subprocess.Popen([PYTHON, "-c", CONCURRENT_SCRIPT, prefix, str(n)], cwd=ROOT, env=cli_env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for prefix in ("alpha", "beta")
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    s = AccessSettings(data_dir=tmp_path / "data", **CHEAP_ARGON2)
    names = {a.username for a in list_accounts(settings=s)}
    assert names == {f"{prefix}{i}" for prefix in ("alpha", "beta") for i in range(n)}
    assert len(AccessState(s.state_file).audit_events()) == 2 * n
