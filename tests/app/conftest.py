"""App test fixtures: a fresh data folder per test, and the app driven in-process (AppTest)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from responses.store import ParquetResponseStore

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "survey_app.py"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty data folder the app uses (``SURVEY_DATA_DIR``); the app's caches start empty."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("SURVEY_DATA_DIR", str(folder))
    monkeypatch.delenv("SURVEY_CONFIG", raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield folder
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def store(data_dir: Path) -> ParquetResponseStore:
    """A store on the same folder, to prepare data and read back what the app stored."""
    return ParquetResponseStore(data_dir)


@pytest.fixture
def app(data_dir: Path) -> Callable[..., AppTest]:
    """Make an AppTest of ``survey_app.py`` with the given query parameters, already run."""

    def make(**params: str) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=60)
        for name, value in params.items():
            at.query_params[name] = value
        at.run()
        assert not at.exception, at.exception
        return at

    return make
