"""Benchmark: the cost of staff sign-in.

Measures, with the production Argon2id cost (and the alternatives named in
``access/passwords.py``):

1. one Argon2id hash verification per parameter set (what each sign-in attempt costs);
2. ``authenticate`` end to end for a right password, a wrong password and an unknown username
   (the last two should take the same time: that is the no-probing guarantee), and for an
   attempt refused by the throttle (no hash at all);
3. ``validate`` (one SQLite write transaction per page run).

Run it from the repository root on a quiet machine::

    python -m bench.bench_access                  # 30 repeats
    python -m bench.bench_access --repeats 3      # smoke run

It works in a temporary data folder and prints medians (and the 90th percentile) in ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from access.accounts import add_user
from access.passwords import hash_password, verify_password
from access.settings import AccessSettings
from access.signin import Session, authenticate, validate

PASSWORD = "correct horse battery staple"  # noqa: S105 - a benchmark password
PARAMETER_SETS = {
    "default (OWASP: m=19456, t=2, p=1)": {},
    "RFC 9106 low-memory (m=65536, t=3, p=4)": {
        "argon2_memory_kib": 65536, "argon2_time_cost": 3, "argon2_parallelism": 4,
    },
    "tests (m=8, t=1, p=1)": {
        "argon2_memory_kib": 8, "argon2_time_cost": 1, "argon2_parallelism": 1,
    },
}


def timed(fn: Callable[[int], object], repeats: int) -> tuple[float, float]:
    """Median and 90th percentile of ``fn(i)`` in milliseconds."""
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.9 * len(times)))]


def row(label: str, result: tuple[float, float]) -> None:
    print(f"  {label:<44} median {result[0]:9.2f} ms   p90 {result[1]:9.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    n = args.repeats

    print("1. one Argon2id verification")
    for label, params in PARAMETER_SETS.items():
        s = AccessSettings(**params)  # type: ignore[arg-type]
        stored = hash_password(PASSWORD, settings=s)
        row(label, timed(lambda _i, s=s, h=stored: verify_password(h, PASSWORD, settings=s), n))

    with tempfile.TemporaryDirectory() as tmp:
        s = AccessSettings(data_dir=Path(tmp))
        t0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
        add_user("wang.li", PASSWORD, role="admin", settings=s, now=t0)

        def at(i: int) -> dt.datetime:  # an hour apart: each attempt starts with no failures
            return t0 + dt.timedelta(hours=i + 1)

        print("2. authenticate (default cost)")
        row("right password", timed(
            lambda i: authenticate("wang.li", PASSWORD, now=at(i), settings=s), n))
        row("wrong password", timed(
            lambda i: authenticate("wang.li", "wrong " + PASSWORD, now=at(n + i), settings=s), n))
        row("unknown username", timed(
            lambda i: authenticate(f"nobody{i}", PASSWORD, now=at(2 * n + i), settings=s), n))
        late = at(4 * n)
        for _ in range(2):
            authenticate("wang.li", "wrong " + PASSWORD, now=late, settings=s)
        row("refused by the throttle (no hash)", timed(
            lambda _i: authenticate("wang.li", PASSWORD, now=late, settings=s), n))

        print("3. validate")
        session = authenticate("wang.li", PASSWORD, now=at(5 * n), settings=s)
        assert isinstance(session, Session)
        row("validate a live session", timed(
            lambda i: validate(session.session_id, now=at(5 * n) + dt.timedelta(seconds=i),
                               settings=s), n))


if __name__ == "__main__":
    main()
