"""Where the response data lives and how long things are kept: the store's settings.

Settings are declared as data in :data:`SETTINGS` (name, default, help). Each is read, first
found wins, from

1. the environment variable ``SURVEY_<NAME>`` (``SURVEY_DATA_DIR``, ``SURVEY_DRAFT_RETENTION_DAYS``
   ...);
2. the configuration file: ``$SURVEY_CONFIG`` if set, else ``survey.toml`` in the working
   folder, if it exists. ``data_dir`` may stand at the top level (it is shared by every part of
   the platform); the other settings go in a ``[responses]`` table;
3. the default.

A relative ``data_dir`` is taken relative to the working folder when it comes from the
environment or the default, and relative to the configuration file's folder when it comes from
the file.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from responses.errors import ConfigError

__all__ = ["SETTINGS", "Config", "Setting", "load_config"]

ENV_PREFIX = "SURVEY_"
CONFIG_ENV = "SURVEY_CONFIG"
CONFIG_FILE = "survey.toml"
CONFIG_TABLE = "responses"


@dataclass(frozen=True)
class Setting:
    """One setting: its name, default value (whose type is the setting's type) and help text."""

    name: str
    default: str | int | float
    help: str
    minimum: float | None = None


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "data_dir",
        "./data",
        "Folder holding the response files (responses/), the state database state.sqlite3 "
        "(invitations, drafts, audit log, contact details), quarantine/, locks/ and tombstones/.",
    ),
    Setting(
        "draft_retention_days",
        30,
        "Days a saved draft (save and resume) is kept after it was last saved; "
        "purge removes older drafts. Drafts are also removed as soon as the response is submitted.",
        minimum=0.01,
    ),
    Setting(
        "contact_retention_days",
        180,
        "Days contact details (prize draw, follow-up) are kept after they were given; "
        "purge removes older ones.",
        minimum=0.01,
    ),
    Setting(
        "public_url",
        "http://localhost:8501/",
        "Address of the survey as respondents reach it; invitation links are "
        "<public_url>?q=<questionnaire>&token=<token>.",
    ),
    Setting(
        "compact_row_group_size",
        131072,
        "Rows per Parquet row group in compacted files (larger: fewer, bigger reads).",
        minimum=1024,
    ),
    Setting(
        "compact_target_rows",
        1000000,
        "A compacted file with at least this many rows is left alone by later compactions; "
        "smaller ones are merged with the new submissions.",
        minimum=1,
    ),
    Setting(
        "state_busy_timeout_seconds",
        30.0,
        "How long a write to the state database waits for another writer before giving up.",
        minimum=0.1,
    ),
    Setting(
        "temp_max_age_seconds",
        3600.0,
        "Temporary files older than this (left behind by a crash mid-write) are removed "
        "by compaction; younger ones may belong to a submission in progress.",
        minimum=60,
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Config:
    """The settings in force (see :data:`SETTINGS` for their meaning)."""

    data_dir: Path
    draft_retention_days: int
    contact_retention_days: int
    public_url: str
    compact_row_group_size: int
    compact_target_rows: int
    state_busy_timeout_seconds: float
    temp_max_age_seconds: float
    sources: Mapping[str, str]
    """Where each value came from: ``"environment"``, the config file's path, or ``"default"``."""


def _convert(setting: Setting, raw: Any, source: str) -> Any:
    kind = type(setting.default)
    where = f"setting '{setting.name}' (from {source})"
    if kind is str:
        if not isinstance(raw, str) or not raw.strip():
            raise ConfigError(f"{where} must be a non-empty text; got {raw!r}.")
        return raw.strip()
    try:
        if isinstance(raw, bool):
            raise TypeError
        value = kind(raw.strip()) if isinstance(raw, str) else kind(raw)
        if kind is int and isinstance(raw, float) and not raw.is_integer():
            raise TypeError
    except (TypeError, ValueError):
        noun = "a whole number" if kind is int else "a number"
        raise ConfigError(
            f"{where} must be {noun}; got {raw!r}. Give e.g. {setting.name} = {setting.default!r}."
        ) from None
    if setting.minimum is not None and float(value) < setting.minimum:
        raise ConfigError(f"{where} must be at least {setting.minimum}; got {value!r}.")
    return value


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(
            f"configuration file {path} does not exist; create it or unset {CONFIG_ENV}."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {path} is not valid TOML: {exc}.") from None
    values: dict[str, Any] = {}
    if "data_dir" in doc:
        values["data_dir"] = doc["data_dir"]
    table = doc.get(CONFIG_TABLE, {})
    if not isinstance(table, dict):
        raise ConfigError(f"configuration file {path}: '{CONFIG_TABLE}' must be a table.")
    for key, value in table.items():
        if key not in _BY_NAME:
            close = difflib.get_close_matches(key, list(_BY_NAME), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"configuration file {path}: unknown setting '{key}' in [{CONFIG_TABLE}].{hint} "
                f"Known settings: {', '.join(_BY_NAME)}."
            )
        values[key] = value
    return values


def load_config(
    *, environ: Mapping[str, str] | None = None, cwd: str | os.PathLike[str] | None = None
) -> Config:
    """Read the settings from the environment, the configuration file and the defaults.

    Parameters
    ----------
    environ
        Environment to read (default ``os.environ``).
    cwd
        Working folder to resolve ``survey.toml`` and relative paths against (default: the
        current one).

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        A value has the wrong type or range, the file is not TOML, or a name is unknown.
    """
    env = os.environ if environ is None else environ
    base = Path.cwd() if cwd is None else Path(cwd)
    file_path: Path | None = None
    if env.get(CONFIG_ENV):
        file_path = Path(env[CONFIG_ENV])
        if not file_path.is_absolute():
            file_path = base / file_path
    elif (base / CONFIG_FILE).is_file():
        file_path = base / CONFIG_FILE
    file_values = _read_file(file_path) if file_path is not None else {}

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    raw: Any
    for setting in SETTINGS:
        env_name = ENV_PREFIX + setting.name.upper()
        if env.get(env_name, "").strip():
            source, raw, rel_base = "environment", env[env_name], base
        elif file_path is not None and setting.name in file_values:
            source, raw, rel_base = str(file_path), file_values[setting.name], file_path.parent
        else:
            source, raw, rel_base = "default", setting.default, base
        value = _convert(setting, raw, source)
        if setting.name == "data_dir":
            path = Path(value).expanduser()
            value = path if path.is_absolute() else (rel_base / path)
        values[setting.name] = value
        sources[setting.name] = source
    return Config(**values, sources=sources)
