"""Tests of access.settings: declared settings, environment parsing, errors, documentation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from access.errors import AccessConfigError
from access.settings import SETTINGS, AccessSettings, data_dir, load_settings
from tests.access.support import ROOT


def test_every_setting_is_a_field_with_the_declared_default() -> None:
    fields = {f.name: f.default for f in dataclasses.fields(AccessSettings)}
    assert list(fields) == [s.name for s in SETTINGS]
    for s in SETTINGS:
        if s.name == "data_dir":
            assert fields["data_dir"] == Path(str(s.default))
        else:
            assert fields[s.name] == s.default, s.name
        assert s.help


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "access" / "README.md").read_text("utf-8")
    for s in SETTINGS:
        assert f"`{s.env}`" in readme, s.env


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(environ={})
    assert s.data_dir == tmp_path / "data"
    assert s.accounts_path == tmp_path / "data" / "config" / "users.toml"
    assert s.state_file == tmp_path / "data" / "state" / "access.sqlite"
    assert (s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism) == (2, 19456, 1)
    assert (s.lockout_threshold, s.lockout_seconds) == (5, 900.0)
    assert (s.session_idle_seconds, s.session_lifetime_seconds) == (1800.0, 28800.0)
    assert s.password_min_length == 12 and s.oidc_require_verified is True


def test_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(environ={
        "SURVEY_DATA_DIR": "d",
        "SURVEY_USERS_FILE": "elsewhere/users.toml",
        "SURVEY_ACCESS_PASSWORD_MIN_LENGTH": " 16 ",
        "SURVEY_ACCESS_LOCKOUT_SECONDS": "60",
        "SURVEY_ACCESS_OIDC_REQUIRE_VERIFIED": "false",
        "SURVEY_ACCESS_SESSION_IDLE_SECONDS": "",
    })
    assert s.data_dir == tmp_path / "d"
    assert s.accounts_path == tmp_path / "elsewhere" / "users.toml"
    assert s.password_min_length == 16 and s.lockout_seconds == 60.0
    assert s.oidc_require_verified is False and s.session_idle_seconds == 1800.0
    assert data_dir(environ={"SURVEY_DATA_DIR": "/srv/survey"}) == Path("/srv/survey")


def test_bad_environment_values_name_the_variable_and_the_fix() -> None:
    with pytest.raises(AccessConfigError) as info:
        load_settings(environ={"SURVEY_ACCESS_LOCKOUT_THRESHOLD": "five"})
    assert str(info.value) == (
        "Environment variable SURVEY_ACCESS_LOCKOUT_THRESHOLD must be a whole number; got "
        "'five'. Give e.g. SURVEY_ACCESS_LOCKOUT_THRESHOLD=5."
    )
    with pytest.raises(AccessConfigError) as info:
        load_settings(environ={"SURVEY_ACCESS_PASSWORD_MIN_LENGTH": "6"})
    assert str(info.value) == (
        "Setting 'password_min_length' must be at least 8; got 6. Set "
        "SURVEY_ACCESS_PASSWORD_MIN_LENGTH, e.g. SURVEY_ACCESS_PASSWORD_MIN_LENGTH=12."
    )
    with pytest.raises(AccessConfigError, match="SURVEY_ACCESS_OIDC_REQUIRE_VERIFIED must be "
                       "true or false"):
        load_settings(environ={"SURVEY_ACCESS_OIDC_REQUIRE_VERIFIED": "maybe"})


def test_argon2_memory_must_cover_the_lanes() -> None:
    with pytest.raises(AccessConfigError, match=r"at least 8 x argon2_parallelism \(= 32\)"):
        AccessSettings(argon2_memory_kib=16, argon2_parallelism=4)


def test_wrong_types_in_code_are_refused() -> None:
    with pytest.raises(AccessConfigError, match="'lockout_threshold' must be a whole number"):
        AccessSettings(lockout_threshold=2.5)  # type: ignore[arg-type]
    with pytest.raises(AccessConfigError, match="'oidc_require_verified' must be true or false"):
        AccessSettings(oidc_require_verified=1)  # type: ignore[arg-type]
