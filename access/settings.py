"""Settings of staff access: where accounts and sign-in state live, the password, throttling
and session rules, and the Argon2id cost.

Settings are declared as data in :data:`SETTINGS` (name, environment variable, default, help).
Each is read from its environment variable, else it takes its default. Tests and scripts may
also build :class:`AccessSettings` directly with keyword arguments.

The data folder (``SURVEY_DATA_DIR``, default ``./data``) is shared by every part of the
platform. :func:`data_dir` is a small local reader of it; once ``responses.config`` (which owns
that setting) is merged, it can be replaced by ``responses.config.load_config().data_dir``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from access.errors import AccessConfigError

__all__ = ["SETTINGS", "AccessSettings", "Setting", "data_dir", "load_settings"]

DATA_DIR_ENV = "SURVEY_DATA_DIR"
USERS_FILE_ENV = "SURVEY_USERS_FILE"
DEFAULT_DATA_DIR = "./data"


@dataclass(frozen=True)
class Setting:
    """One setting: its name, environment variable, default (whose type is the setting's type)
    and help text; ``minimum`` bounds numbers from below."""

    name: str
    env: str
    default: str | int | float | bool | None
    help: str
    minimum: float | None = None


def _env(name: str) -> str:
    return "SURVEY_ACCESS_" + name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "data_dir",
        DATA_DIR_ENV,
        DEFAULT_DATA_DIR,
        "Data folder shared by the whole platform. Access keeps its sign-in state (failure "
        "counters, locks, sessions, audit trail) in <data_dir>/state/access.sqlite.",
    ),
    Setting(
        "users_file",
        USERS_FILE_ENV,
        None,
        "Accounts file (TOML, git-ignored). Default: <data_dir>/config/users.toml.",
    ),
    Setting(
        "password_min_length",
        _env("password_min_length"),
        12,
        "Fewest characters (after Unicode NFKC normalisation) a new password may have.",
        minimum=8,
    ),
    Setting(
        "argon2_time_cost",
        _env("argon2_time_cost"),
        2,
        "Argon2id passes over memory (t). Changing a cost setting rehashes each password at "
        "its next sign-in.",
        minimum=1,
    ),
    Setting(
        "argon2_memory_kib",
        _env("argon2_memory_kib"),
        19456,
        "Argon2id memory in KiB (m); at least 8 x argon2_parallelism.",
        minimum=8,
    ),
    Setting(
        "argon2_parallelism",
        _env("argon2_parallelism"),
        1,
        "Argon2id lanes (p).",
        minimum=1,
    ),
    Setting(
        "failure_delay_seconds",
        _env("failure_delay_seconds"),
        1.0,
        "Wait imposed after the second failed sign-in in a row; it doubles with each further "
        "failure (1, 2, 4 ... seconds), up to failure_delay_max_seconds.",
        minimum=0,
    ),
    Setting(
        "failure_delay_max_seconds",
        _env("failure_delay_max_seconds"),
        60.0,
        "Longest wait between two failed sign-ins (before the lock-out).",
        minimum=0,
    ),
    Setting(
        "lockout_threshold",
        _env("lockout_threshold"),
        5,
        "Failed sign-ins in a row to one username that lock it for lockout_seconds.",
        minimum=1,
    ),
    Setting(
        "client_lockout_threshold",
        _env("client_lockout_threshold"),
        10,
        "Failed sign-ins in a row from one client (browser session), to any usernames, that "
        "lock that client out for lockout_seconds.",
        minimum=1,
    ),
    Setting(
        "lockout_seconds",
        _env("lockout_seconds"),
        900.0,
        "How long a lock-out lasts (an administrator can lift it: python -m access unlock).",
        minimum=1,
    ),
    Setting(
        "failure_window_seconds",
        _env("failure_window_seconds"),
        900.0,
        "Failures are forgotten when no new one came for this long.",
        minimum=1,
    ),
    Setting(
        "session_idle_seconds",
        _env("session_idle_seconds"),
        1800.0,
        "A session ends after this long without use (idle timeout).",
        minimum=1,
    ),
    Setting(
        "session_lifetime_seconds",
        _env("session_lifetime_seconds"),
        28800.0,
        "A session ends this long after sign-in, used or not (absolute lifetime).",
        minimum=1,
    ),
    Setting(
        "oidc_require_verified",
        _env("oidc_require_verified"),
        True,
        "With OIDC sign-in (st.login), accept only identities whose provider says the e-mail "
        "address is verified (claim email_verified = true).",
    ),
    Setting(
        "lock_timeout_seconds",
        _env("lock_timeout_seconds"),
        10.0,
        "How long a change waits for another process holding the accounts file lock or the "
        "state database.",
        minimum=0.1,
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class AccessSettings:
    """The settings in force (see :data:`SETTINGS` for their meaning).

    ``users_file`` left as ``None`` becomes ``<data_dir>/config/users.toml``. Values are checked
    on construction; a bad one raises :class:`~access.errors.AccessConfigError`.
    """

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    users_file: Path | None = None
    password_min_length: int = 12
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1
    failure_delay_seconds: float = 1.0
    failure_delay_max_seconds: float = 60.0
    lockout_threshold: int = 5
    client_lockout_threshold: int = 10
    lockout_seconds: float = 900.0
    failure_window_seconds: float = 900.0
    session_idle_seconds: float = 1800.0
    session_lifetime_seconds: float = 28800.0
    oidc_require_verified: bool = True
    lock_timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if self.users_file is None:
            object.__setattr__(self, "users_file", self.data_dir / "config" / "users.toml")
        else:
            object.__setattr__(self, "users_file", Path(self.users_file))
        for f in fields(self):
            setting = _BY_NAME[f.name]
            value = getattr(self, f.name)
            kind = type(setting.default)
            if setting.default is None or kind is str:
                continue
            ok = isinstance(value, bool) if kind is bool else (
                isinstance(value, (int, float)) and not isinstance(value, bool)
                and (kind is float or isinstance(value, int))
            )
            if not ok:
                raise AccessConfigError(
                    f"Setting '{f.name}' must be {_noun(kind)}; got {value!r}. "
                    f"Set {setting.env}, e.g. {setting.env}={_example(setting)}."
                )
            if setting.minimum is not None and value < setting.minimum:
                raise AccessConfigError(
                    f"Setting '{f.name}' must be at least {_fmt(setting.minimum)}; got {value!r}. "
                    f"Set {setting.env}, e.g. {setting.env}={_example(setting)}."
                )
        if self.argon2_memory_kib < 8 * self.argon2_parallelism:
            raise AccessConfigError(
                f"Setting 'argon2_memory_kib' must be at least 8 x argon2_parallelism "
                f"(= {8 * self.argon2_parallelism}); got {self.argon2_memory_kib}. "
                "Raise the memory or lower the parallelism."
            )

    @property
    def accounts_path(self) -> Path:
        """The accounts file (``users_file``, resolved)."""
        if self.users_file is None:  # pragma: no cover - __post_init__ always sets it
            return self.data_dir / "config" / "users.toml"
        return self.users_file

    @property
    def state_file(self) -> Path:
        """The sign-in state database: ``<data_dir>/state/access.sqlite``."""
        return self.data_dir / "state" / "access.sqlite"


def _noun(kind: type) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number"}.get(kind, "text")


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _example(setting: Setting) -> str:
    if isinstance(setting.default, bool):
        return "true" if setting.default else "false"
    if isinstance(setting.default, float):
        return _fmt(setting.default)
    return str(setting.default)


def _convert(setting: Setting, raw: str) -> Any:
    text = raw.strip()
    kind = type(setting.default)
    try:
        if kind is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
    except ValueError:
        raise AccessConfigError(
            f"Environment variable {setting.env} must be {_noun(kind)}; got {raw!r}. "
            f"Give e.g. {setting.env}={_example(setting)}."
        ) from None
    return text


def data_dir(*, environ: Mapping[str, str] | None = None) -> Path:
    """The platform's data folder: ``$SURVEY_DATA_DIR``, else ``./data``, made absolute against
    the working folder.

    A local stand-in for ``responses.config.load_config().data_dir`` (same variable, same
    default) until that module is merged.
    """
    env = os.environ if environ is None else environ
    raw = env.get(DATA_DIR_ENV, "").strip() or DEFAULT_DATA_DIR
    path = Path(raw).expanduser()
    return path if path.is_absolute() else Path.cwd() / path


def load_settings(*, environ: Mapping[str, str] | None = None) -> AccessSettings:
    """Read the settings from the environment, with the defaults for the rest.

    Parameters
    ----------
    environ
        Environment to read (default ``os.environ``).

    Returns
    -------
    AccessSettings

    Raises
    ------
    AccessConfigError
        A variable is not of its setting's type or is out of range.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {"data_dir": data_dir(environ=env)}
    for setting in SETTINGS:
        if setting.name == "data_dir":
            continue
        raw = env.get(setting.env, "")
        if not raw.strip():
            continue
        if setting.name == "users_file":
            path = Path(raw.strip()).expanduser()
            values["users_file"] = path if path.is_absolute() else Path.cwd() / path
        else:
            values[setting.name] = _convert(setting, raw)
    return AccessSettings(**values)
