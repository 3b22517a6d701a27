"""Fixtures for the access tests: a fresh data folder per test and cheap Argon2 parameters.

Argon2 is kept cheap (t=1, m=8 KiB, p=1) through the ordinary settings, so the suite stays fast;
the production defaults are checked in test_settings.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from access.settings import AccessSettings
from tests.access.support import CHEAP_ARGON2, ROOT


@pytest.fixture(autouse=True)
def _no_access_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the developer's own SURVEY_* settings."""
    for name in list(os.environ):
        if name.startswith("SURVEY_"):
            monkeypatch.delenv(name)


@pytest.fixture
def settings(tmp_path: Path) -> AccessSettings:
    return AccessSettings(data_dir=tmp_path / "data", **CHEAP_ARGON2)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., AccessSettings]:
    def make(**overrides: object) -> AccessSettings:
        values: dict[str, object] = {"data_dir": tmp_path / "data", **CHEAP_ARGON2}
        values.update(overrides)
        return AccessSettings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for ``python -m access`` in a subprocess, on the test's data folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEY_")}
    env.update(
        SURVEY_DATA_DIR=str(tmp_path / "data"),
        SURVEY_ACCESS_ARGON2_TIME_COST="1",
        SURVEY_ACCESS_ARGON2_MEMORY_KIB="8",
        SURVEY_ACCESS_ARGON2_PARALLELISM="1",
        PYTHONPATH=str(ROOT),
    )
    return env

