"""Fixtures for the response store tests: a store in a temporary folder and a record factory."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from responses.record import ResponseRecord
from responses.store import ParquetResponseStore

PROVINCES = [11, 12, 13, 31, 32, 44, 51, 65]


def make_record(i: int = 0, **overrides: Any) -> ResponseRecord:
    """A plausible response, different for each ``i`` (answers drawn from a seeded RNG)."""
    rnd = random.Random(i)
    answers: dict[str, Any] = {f"k{j}": rnd.randint(1, 5) for j in range(8)}
    answers.update({f"products__{o}": rnd.randint(0, 1) for o in ("loan", "card", "fund")})
    answers["income"] = rnd.choice([1, 2, 3, -1])
    answers["comment"] = rnd.choice(["", "还好", None])
    fields: dict[str, Any] = {
        "questionnaire_id": "cfl",
        "questionnaire_version": "2026.1",
        "answers": answers,
        "province": rnd.choice(PROVINCES),
        "language": "zh",
        "consent_version": "2026-1",
        "started_at": dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=i % 1000),
        "page_seconds": {"p1": 12.5, "p2": 30.0},
        "device_class": "phone",
    }
    fields.update(overrides)
    return ResponseRecord(**fields)


@pytest.fixture
def record_factory() -> Callable[..., ResponseRecord]:
    return make_record


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ParquetResponseStore]:
    with ParquetResponseStore(tmp_path / "data") as s:
        yield s


def parquet_files(root: Path) -> list[Path]:
    """Every published Parquet file under a data folder's responses/."""
    return sorted((root / "responses").rglob("*.parquet"))


def temp_files(root: Path) -> list[Path]:
    """Temporary files left anywhere under responses/."""
    return sorted(p for p in (root / "responses").rglob(".*") if p.is_file())
