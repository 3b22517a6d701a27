"""Constants and helpers shared by the access tests."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
T0 = dt.datetime(2026, 3, 1, 8, 0, 0, tzinfo=dt.UTC)
GOOD_PASSWORD = "correct horse battery staple"  # noqa: S105 - a test password
CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1}


def at(seconds: float) -> dt.datetime:
    """The test clock: ``T0`` plus ``seconds``."""
    return T0 + dt.timedelta(seconds=seconds)
