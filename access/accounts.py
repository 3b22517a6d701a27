"""Staff accounts: roles and what each may do, and the accounts file with its changes.

Roles and actions
-----------------
Three roles, from least to most: ``analyst`` (dashboards), ``researcher`` (dashboards and
microdata export), ``admin`` (everything). What each may do is declared in :data:`ACTIONS`
and asked with :func:`can`:

=========================  ========  ==========  =====  ======================================
action                     analyst   researcher  admin  what it covers
=========================  ========  ==========  =====  ======================================
``view_dashboards``        yes       yes         yes    weighted indices, maps, estimate tables
                                                        and their downloads (aggregates only)
``export_microdata``       no        yes         yes    respondent-level data with weights,
                                                        scores and labels; codebook
``manage_questionnaires``  no        no          yes    upload, edit, publish, retire
``manage_invitations``     no        no          yes    create and revoke invitation tokens
``compact_store``          no        no          yes    compact the response store
``delete_responses``       no        no          yes    delete responses (erasure requests)
``manage_accounts``        no        no          yes    accounts, passwords, OIDC allow-list
``view_audit_trail``       no        no          yes    sign-ins, lock-outs, account changes
=========================  ========  ==========  =====  ======================================

The accounts file
-----------------
TOML, at ``users_file`` (default ``<data_dir>/config/users.toml``, or ``$SURVEY_USERS_FILE``);
git-ignored; written with permissions 0600. There is no default account and no default
password: the first admin is made with ``python -m access add-user NAME --role admin``.
``config/users.example.toml`` shows the layout::

    version = 1

    [accounts."wang.li"]
    name = "Wang Li"
    role = "admin"
    disabled = false
    password_hash = "$argon2id$v=19$m=19456,t=2,p=1$..."
    created = 2026-03-01T08:00:00.000000Z
    changed = 2026-03-01T08:00:00.000000Z
    password_changed = 2026-03-01T08:00:00.000000Z

    [allowed_emails]   # OIDC sign-in (st.login): e-mail address -> role
    "li.na@example.org" = "analyst"

Every change takes an exclusive lock on ``<users_file>.lock`` (``filelock``), reads the file
afresh, changes it and replaces it atomically (a temporary file in the same folder, fsync,
rename), so two processes adding accounts at once both keep theirs, and a reader never sees a
half-written file. Each change is recorded in the audit trail (:mod:`access.state`). Usernames
and e-mail addresses are checked against patterns and every string is written escaped, so no
value can change the file's structure.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import os
import re
import tempfile
import tomllib
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Literal, cast, get_args

import filelock

from access.errors import AccessConfigError, AccessError, AccountError
from access.passwords import HASH_PREFIX, check_password, hash_password
from access.settings import AccessSettings, load_settings
from access.state import AccessState, record_event

__all__ = [
    "ACTIONS",
    "ROLES",
    "USERNAME_RULE",
    "Account",
    "AccountBook",
    "Action",
    "Role",
    "add_user",
    "allow_email",
    "can",
    "check_email",
    "check_role",
    "check_username",
    "format_accounts",
    "get_account",
    "list_accounts",
    "load_accounts",
    "normalize_username",
    "read_accounts",
    "revoke_email",
    "set_disabled",
    "set_password",
]

Role = Literal["analyst", "researcher", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)


@dataclass(frozen=True)
class Action:
    """Something a signed-in staff member may be allowed to do."""

    name: str
    description: str
    roles: frozenset[Role]


def _action(name: str, description: str, *roles: Role) -> tuple[str, Action]:
    return name, Action(name, description, frozenset(roles))


#: The permission table: action name -> :class:`Action` (who may do it). See the module doc.
ACTIONS: MappingProxyType[str, Action] = MappingProxyType(
    dict(
        [
            _action(
                "view_dashboards",
                "Browse weighted indices, maps and estimate tables; download aggregates.",
                "analyst", "researcher", "admin",
            ),
            _action(
                "export_microdata",
                "Export respondent-level data with weights, scores and labels, and the codebook.",
                "researcher", "admin",
            ),
            _action(
                "manage_questionnaires",
                "Upload, edit, publish and retire questionnaires.",
                "admin",
            ),
            _action("manage_invitations", "Create and revoke invitation tokens.", "admin"),
            _action("compact_store", "Compact the response store.", "admin"),
            _action("delete_responses", "Delete responses (erasure requests).", "admin"),
            _action(
                "manage_accounts",
                "Add accounts, set passwords, disable and enable accounts, unlock, edit the "
                "OIDC allow-list.",
                "admin",
            ),
            _action(
                "view_audit_trail",
                "Read the audit trail of sign-ins, lock-outs and account changes.",
                "admin",
            ),
        ]
    )
)


def _unknown(kind: str, value: str, known: Iterator[str] | tuple[str, ...], fix: str) -> str:
    names = list(known)
    close = difflib.get_close_matches(str(value), names, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"Unknown {kind} '{value}'.{hint} {fix}: {', '.join(names)}."


def check_role(role: object) -> Role:
    """``role`` if it is one of :data:`ROLES`, else :class:`AccountError`."""
    if role not in ROLES:
        raise AccountError(_unknown("role", str(role), ROLES, "Use one of the roles"))
    return cast(Role, role)


def can(role: str, action: str) -> bool:
    """Whether a staff member with ``role`` may do ``action``.

    Parameters
    ----------
    role
        One of :data:`ROLES`.
    action
        A name from :data:`ACTIONS` (e.g. ``"export_microdata"``).

    Returns
    -------
    bool

    Raises
    ------
    AccountError
        The role or the action is unknown (a misspelt action must not silently deny or allow).
    """
    checked = check_role(role)
    if action not in ACTIONS:
        raise AccountError(
            _unknown("action", action, tuple(ACTIONS), "Use one of the actions in access.ACTIONS")
        )
    return checked in ACTIONS[action].roles


# --- usernames, e-mail addresses, names -----------------------------------------------------

USERNAME_RULE = (
    "2 to 32 characters: lower-case letters a-z, digits, '.', '_' or '-', "
    "starting with a letter (e.g. 'wang.li')"
)
_USERNAME_RE = re.compile(r"[a-z][a-z0-9._-]{1,31}")
_EMAIL_RE = re.compile(r"[^@\s\"\\<>()\[\],;:]+@[^@\s\"\\<>()\[\],;:]+\.[^@\s\"\\<>()\[\],;:.]+")
MAX_NAME_LENGTH = 100


def normalize_username(text: str) -> str:
    """A username as typed, made comparable: NFKC, surrounding spaces removed, lower case."""
    return unicodedata.normalize("NFKC", text).strip().lower()


def check_username(username: object) -> str:
    """The normalised username if it follows :data:`USERNAME_RULE`, else :class:`AccountError`."""
    if not isinstance(username, str):
        raise AccountError(f"The username must be text; got {type(username).__name__}.")
    name = normalize_username(username)
    if not _USERNAME_RE.fullmatch(name):
        raise AccountError(f"The username {username!r} is not allowed: use {USERNAME_RULE}.")
    return name


def check_email(email: object) -> str:
    """The e-mail address, trimmed and in lower case, if it looks like one (``local@domain.tld``,
    at most 254 characters, no spaces or quotes), else :class:`AccountError`."""
    if not isinstance(email, str):
        raise AccountError(f"The e-mail address must be text; got {type(email).__name__}.")
    text = unicodedata.normalize("NFKC", email).strip().lower()
    if len(text) > 254 or not _EMAIL_RE.fullmatch(text):
        raise AccountError(
            f"The e-mail address {email!r} is not valid: write it as name@domain.example, "
            "without spaces, quotes or brackets."
        )
    return text


def _check_name(name: object, username: str) -> str:
    if not isinstance(name, str):
        raise AccountError(f"The display name of '{username}' must be text.")
    text = unicodedata.normalize("NFKC", name).strip()
    if not text or len(text) > MAX_NAME_LENGTH:
        raise AccountError(
            f"The display name of '{username}' must have 1 to {MAX_NAME_LENGTH} characters; "
            f"it has {len(text)}."
        )
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text):
        raise AccountError(
            f"The display name of '{username}' contains a control character (a line break or "
            "tab); use printable characters only."
        )
    return text


# --- accounts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """One staff account as stored in the accounts file."""

    username: str
    name: str
    role: Role
    disabled: bool
    password_hash: str = field(repr=False)
    created: dt.datetime
    changed: dt.datetime
    password_changed: dt.datetime
    """When the password was last set; sessions begun before a change are invalid."""

    def can(self, action: str) -> bool:
        """Whether this account's role may do ``action`` (see :func:`can`)."""
        return can(self.role, action)


@dataclass(frozen=True)
class AccountBook:
    """The whole accounts file: accounts by username, and the OIDC e-mail allow-list."""

    accounts: Mapping[str, Account] = field(default_factory=dict)
    allowed_emails: Mapping[str, Role] = field(default_factory=dict)


_ACCOUNT_FIELDS = (
    "name", "role", "disabled", "password_hash", "created", "changed", "password_changed",
)


def _file_error(path: Path, where: str, problem: str, fix: str) -> AccessConfigError:
    return AccessConfigError(f"Accounts file {path}, {where}: {problem} {fix}".rstrip())


def _parse_account(path: Path, key: str, raw: object) -> Account:
    where = f"account '{key}'"
    if not _USERNAME_RE.fullmatch(key):
        raise _file_error(
            path, where, "the username is not allowed.", f"Rename it: use {USERNAME_RULE}."
        )
    if not isinstance(raw, dict):
        raise _file_error(path, where, "must be a table.", f'Write it as [accounts."{key}"].')
    for name in raw:
        if name not in _ACCOUNT_FIELDS:
            close = difflib.get_close_matches(name, _ACCOUNT_FIELDS, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise _file_error(
                path, where, f"unknown field '{name}'.{hint}",
                f"Known fields: {', '.join(_ACCOUNT_FIELDS)}.",
            )
    for name in ("role", "password_hash", "created", "changed", "password_changed"):
        if name not in raw:
            raise _file_error(
                path, where, f"the field '{name}' is missing.",
                "Add it (see config/users.example.toml), or remake the account with "
                "python -m access add-user.",
            )
    role = raw["role"]
    if role not in ROLES:
        raise _file_error(
            path, where, _unknown("role", str(role), ROLES, "Use one of the roles"), ""
        )
    pw_hash = raw["password_hash"]
    if not isinstance(pw_hash, str) or not pw_hash.startswith(HASH_PREFIX):
        raise _file_error(
            path, where, "password_hash is not an Argon2id hash.",
            f"Set the password with: python -m access set-password {key}",
        )
    disabled = raw.get("disabled", False)
    if not isinstance(disabled, bool):
        raise _file_error(path, where, "disabled must be true or false.", "Fix the value.")
    stamps: dict[str, dt.datetime] = {}
    for name in ("created", "changed", "password_changed"):
        value = raw[name]
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise _file_error(
                path, where, f"{name} must be a date and time with a time zone.",
                "Write it like 2026-03-01T08:00:00Z.",
            )
        stamps[name] = value.astimezone(dt.UTC)
    try:
        name = _check_name(raw.get("name", key), key)
    except AccountError as exc:
        raise _file_error(path, where, str(exc), "Fix the name.") from None
    return Account(
        username=key, name=name, role=cast(Role, role), disabled=disabled,
        password_hash=pw_hash, **stamps,
    )


def read_accounts(path: Path) -> AccountBook:
    """Read and check the accounts file at ``path``; a missing file is an empty book.

    Raises
    ------
    AccessConfigError
        The file is not TOML, or breaks the layout (naming the account, the field and the fix).
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        return AccountBook()
    except tomllib.TOMLDecodeError as exc:
        raise AccessConfigError(
            f"Accounts file {path} is not valid TOML: {exc}. Fix it by hand, or restore it from "
            "a backup."
        ) from None
    except OSError as exc:
        raise AccessConfigError(f"Cannot read the accounts file {path}: {exc}.") from None
    known = ("version", "accounts", "allowed_emails")
    for key in doc:
        if key not in known:
            raise _file_error(
                path, "top level", f"unknown key '{key}'.", f"Known keys: {', '.join(known)}."
            )
    if doc.get("version", 1) != 1:
        raise _file_error(
            path, "top level", f"version {doc['version']!r} is not supported.",
            "This program reads version = 1.",
        )
    raw_accounts = doc.get("accounts", {})
    if not isinstance(raw_accounts, dict):
        raise _file_error(path, "accounts", "must be a table.", "See config/users.example.toml.")
    accounts = {key: _parse_account(path, key, raw) for key, raw in raw_accounts.items()}
    raw_emails = doc.get("allowed_emails", {})
    if not isinstance(raw_emails, dict):
        raise _file_error(
            path, "allowed_emails", "must be a table.", 'Write lines like "a@b.org" = "analyst".'
        )
    emails: dict[str, Role] = {}
    for email, role in raw_emails.items():
        where = f"allowed_emails '{email}'"
        try:
            checked = check_email(email)
            emails[checked] = check_role(role)
        except AccountError as exc:
            raise _file_error(path, where, str(exc), "Fix the entry.") from None
    return AccountBook(accounts=accounts, allowed_emails=emails)


# --- writing --------------------------------------------------------------------------------

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}


def _toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and every control character escaped."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_datetime(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


HEADER = """\
# Staff accounts of the survey platform. Written by `python -m access` (see access/README.md).
# Keep it private: it holds password hashes. There is no default account or password.
"""


def format_accounts(book: AccountBook) -> str:
    """The accounts file text for ``book`` (what :func:`read_accounts` reads back)."""
    lines = [HEADER, "version = 1", ""]
    for username in sorted(book.accounts):
        a = book.accounts[username]
        lines += [
            f"[accounts.{_toml_string(username)}]",
            f"name = {_toml_string(a.name)}",
            f"role = {_toml_string(a.role)}",
            f"disabled = {'true' if a.disabled else 'false'}",
            f"password_hash = {_toml_string(a.password_hash)}",
            f"created = {_toml_datetime(a.created)}",
            f"changed = {_toml_datetime(a.changed)}",
            f"password_changed = {_toml_datetime(a.password_changed)}",
            "",
        ]
    if book.allowed_emails:
        lines.append("[allowed_emails]  # OIDC sign-in (st.login): e-mail address -> role")
        for email in sorted(book.allowed_emails):
            lines.append(f"{_toml_string(email)} = {_toml_string(book.allowed_emails[email])}")
        lines.append("")
    return "\n".join(lines)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename durable (not possible everywhere)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def _locked(settings: AccessSettings) -> Iterator[None]:
    path = settings.accounts_path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AccessError(f"Cannot create the folder of the accounts file {path}: {exc}.") from None
    lock = filelock.FileLock(str(path) + ".lock", timeout=settings.lock_timeout_seconds)
    try:
        with lock:
            yield
    except filelock.Timeout:
        raise AccessError(
            f"Another process has been changing the accounts file {path} for more than "
            f"{settings.lock_timeout_seconds:g} s. Try again; if it persists, check that no "
            "command is stuck."
        ) from None


def _now(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise AccessError("'now' must be a date and time with a time zone (e.g. datetime.UTC).")
    return now.astimezone(dt.UTC)


def _save(
    settings: AccessSettings,
    book: AccountBook,
    event: str,
    *,
    at: dt.datetime,
    username: str | None,
    actor: str | None,
    detail: str = "",
    end_sessions_of: str | None = None,
) -> None:
    """Write the book and its audit entry (ending sessions if asked) as one change."""
    state = AccessState(settings.state_file, timeout=settings.lock_timeout_seconds)
    with state.transaction() as conn:
        try:
            _write_atomic(settings.accounts_path, format_accounts(book))
        except OSError as exc:
            raise AccessError(
                f"Cannot write the accounts file {settings.accounts_path}: {exc}. Nothing was "
                "changed."
            ) from None
        record_event(
            conn, event, at=at.timestamp(), username=username, actor=actor, detail=detail
        )
        if end_sessions_of is not None:
            conn.execute("DELETE FROM sessions WHERE username = ?", (end_sessions_of,))


def _with_account(book: AccountBook, account: Account) -> AccountBook:
    accounts = dict(book.accounts)
    accounts[account.username] = account
    return AccountBook(accounts=accounts, allowed_emails=book.allowed_emails)


def _existing(book: AccountBook, username: str) -> Account:
    account = book.accounts.get(username)
    if account is None:
        raise AccountError(
            f"There is no account '{username}'. Check the name with: python -m access list"
        )
    return account


def load_accounts(*, settings: AccessSettings | None = None) -> AccountBook:
    """Read the accounts file of the settings (default: from the environment)."""
    settings = settings or load_settings()
    return read_accounts(settings.accounts_path)


def get_account(username: str, *, settings: AccessSettings | None = None) -> Account | None:
    """The account with this username (normalised), or ``None``."""
    return load_accounts(settings=settings).accounts.get(normalize_username(username))


def list_accounts(*, settings: AccessSettings | None = None) -> list[Account]:
    """All accounts, sorted by username."""
    book = load_accounts(settings=settings)
    return [book.accounts[k] for k in sorted(book.accounts)]


def add_user(
    username: str,
    password: str,
    *,
    role: str,
    name: str | None = None,
    actor: str | None = None,
    settings: AccessSettings | None = None,
    now: dt.datetime | None = None,
) -> Account:
    """Create an account.

    Parameters
    ----------
    username
        Follows :data:`USERNAME_RULE` (normalised: NFKC, trimmed, lower case).
    password
        Checked against the policy (:func:`access.passwords.check_password`), then hashed.
    role
        One of :data:`ROLES`.
    name
        Display name (default: the username).
    actor
        Who makes the change, for the audit trail (e.g. ``"cli:root"`` or an admin's username).
    settings, now
        Settings (default: from the environment) and the time (default: now; tests inject it).

    Returns
    -------
    Account

    Raises
    ------
    AccountError
        Bad username, role or name, or the username is taken.
    PasswordPolicyError
        The password breaks the policy.
    """
    settings = settings or load_settings()
    user = check_username(username)
    checked_role = check_role(role)
    display = _check_name(user if name is None else name, user)
    text = check_password(password, username=user, min_length=settings.password_min_length)
    pw_hash = hash_password(text, settings=settings)
    at = _now(now)
    with _locked(settings):
        book = read_accounts(settings.accounts_path)
        if user in book.accounts:
            raise AccountError(
                f"An account '{user}' already exists. Choose another username, or set its "
                f"password with: python -m access set-password {user}"
            )
        account = Account(
            username=user, name=display, role=checked_role, disabled=False,
            password_hash=pw_hash, created=at, changed=at, password_changed=at,
        )
        _save(settings, _with_account(book, account), "account_added", at=at,
              username=user, actor=actor, detail=f"role={checked_role}")
    return account


def set_password(
    username: str,
    password: str,
    *,
    actor: str | None = None,
    settings: AccessSettings | None = None,
    now: dt.datetime | None = None,
) -> Account:
    """Give an account a new password (policy-checked); its open sessions end.

    Raises
    ------
    AccountError
        No such account.
    PasswordPolicyError
        The password breaks the policy.
    """
    settings = settings or load_settings()
    user = check_username(username)
    _existing(read_accounts(settings.accounts_path), user)  # fail before the slow hash
    text = check_password(password, username=user, min_length=settings.password_min_length)
    pw_hash = hash_password(text, settings=settings)
    at = _now(now)
    with _locked(settings):
        book = read_accounts(settings.accounts_path)
        account = replace(
            _existing(book, user), password_hash=pw_hash, changed=at, password_changed=at
        )
        _save(settings, _with_account(book, account), "password_changed", at=at,
              username=user, actor=actor, end_sessions_of=user)
    return account


def set_disabled(
    username: str,
    disabled: bool,
    *,
    actor: str | None = None,
    settings: AccessSettings | None = None,
    now: dt.datetime | None = None,
) -> Account:
    """Disable (its open sessions end) or enable an account.

    Raises
    ------
    AccountError
        No such account.
    """
    settings = settings or load_settings()
    user = check_username(username)
    at = _now(now)
    with _locked(settings):
        book = read_accounts(settings.accounts_path)
        account = replace(_existing(book, user), disabled=bool(disabled), changed=at)
        _save(settings, _with_account(book, account),
              "account_disabled" if disabled else "account_enabled", at=at, username=user,
              actor=actor, end_sessions_of=user if disabled else None)
    return account


def replace_password_hash(
    username: str,
    old_hash: str,
    new_hash: str,
    *,
    settings: AccessSettings,
    now: dt.datetime | None = None,
) -> bool:
    """Swap in a rehashed password (same password, new parameters) if the stored hash is still
    ``old_hash``; sessions stay valid. Returns whether it was swapped."""
    at = _now(now)
    with _locked(settings):
        book = read_accounts(settings.accounts_path)
        account = book.accounts.get(username)
        if account is None or account.password_hash != old_hash:
            return False
        _save(settings, _with_account(book, replace(account, password_hash=new_hash, changed=at)),
              "password_rehashed", at=at, username=username, actor="signin")
    return True


def allow_email(
    email: str,
    *,
    role: str,
    actor: str | None = None,
    settings: AccessSettings | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Put an e-mail address on the OIDC allow-list with a role (or change its role)."""
    settings = settings or load_settings()
    address = check_email(email)
    checked_role = check_role(role)
    at = _now(now)
    with _locked(settings):
        book = read_accounts(settings.accounts_path)
        emails = dict(book.allowed_emails)
        emails[address] = checked_role
        _save(settings, AccountBook(accounts=book.accounts, allowed_emails=emails),
              "email_allowed", at=at, username=None, actor=actor,
              detail=f"{address} role={checked_role}")


def revoke_email(
    email: str,
    *,
    actor: str | None = None,
    settings: AccessSettings | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Take an e-mail address off the OIDC allow-list.

    Raises
    ------
    AccountError
        The address is not on the list.
    """
    settings = settings or load_settings()
    address = check_email(email)
    at = _now(now)
    with _locked(settings):
        book = read_accounts(settings.accounts_path)
        if address not in book.allowed_emails:
            raise AccountError(
                f"The e-mail address '{address}' is not on the allow-list. See the list with: "
                "python -m access list"
            )
        emails = {k: v for k, v in book.allowed_emails.items() if k != address}
        _save(settings, AccountBook(accounts=book.accounts, allowed_emails=emails),
              "email_revoked", at=at, username=None, actor=actor, detail=address)

