"""Benchmark: scoring synthetic stored responses of the consumer financial literacy survey (cfl).

Makes ``n`` synthetic stored rows of ``questionnaires/definitions/cfl.yaml`` (answer columns as the
store keeps them: Int64 codes, 0/1 option columns, -1/-2 special answers, nulls where skip logic
could skip, plus the store's metadata columns) and times
``analysis.scoring.score_responses`` on them. Each size runs in its own process, so the peak
resident memory reported (``ru_maxrss`` of that process, from ``os.wait4``) is its own:
interpreter, synthetic data and scoring. The time is the best of ``--repeats`` calls of
``score_responses`` alone (data already in memory); the extra memory of scoring is the peak
traced by ``tracemalloc`` during one call (numpy and pandas report their buffers to it).
``analysis.quality.quality_flags`` on the same rows is timed once.

Usage::

    python bench/bench_scoring.py                          # 100,000 and 1,000,000 rows
    python bench/bench_scoring.py --sizes 2000 --repeats 1   # smoke run
    python bench/bench_scoring.py --questionnaire oecd_infe --out bench/results/scoring.json

Synthetic answers are uniform over each question's options (special answers 5% of the time
where allowed); they are for timing, not for statistics.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analysis.quality import quality_flags  # noqa: E402
from analysis.scoring import score_responses  # noqa: E402
from questionnaires import Questionnaire, load_questionnaire  # noqa: E402
from questionnaires.model import SPECIAL_CODES  # noqa: E402
from questionnaires.registry import DEFINITIONS_DIR  # noqa: E402


def synthetic_responses(questionnaire: Questionnaire, n: int, seed: int = 1) -> pd.DataFrame:
    """``n`` synthetic stored rows of ``questionnaire`` (vectorised; see the module docstring)."""
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {
        "response_id": pd.array([f"r{i:021d}" for i in range(n)], dtype="str"),
        "questionnaire_id": pd.array(np.full(n, questionnaire.id, dtype=object), dtype="str"),
        "questionnaire_version": pd.array(
            np.full(n, questionnaire.version, dtype=object), dtype="str"
        ),
        "submitted_at": pd.Timestamp("2026-03-01", tz="UTC")
        + pd.to_timedelta(rng.integers(0, 30 * 86400, n), unit="s"),
        "language": pd.array(np.where(rng.random(n) < 0.9, "zh", "en"), dtype="str"),
        "duration_seconds": rng.gamma(4.0, 200.0, n),
        "token_hash": pd.array(np.full(n, None, dtype=object), dtype="str"),
        "device_class": pd.array(
            rng.choice(np.array(["phone", "desktop", "tablet"], dtype=object), n), dtype="str"
        ),
    }
    for q in questionnaire.questions:
        if not q.is_answerable:
            continue
        specials = np.array([SPECIAL_CODES[s] for s in q.special], dtype=np.int64)
        is_special = rng.random(n) < (0.05 if len(specials) else 0.0)
        skipped = rng.random(n) < (0.1 if q.relevant else 0.0)
        special_codes = rng.choice(specials, n) if len(specials) else np.zeros(n, dtype=np.int64)
        if q.type == "multiple_choice":
            options = q.choices.choices if q.choices else ()
            for option in options:
                values = np.where(is_special, special_codes, rng.random(n) < 0.3)
                columns[f"{q.name}__{option.name}"] = pd.arrays.IntegerArray(
                    values.astype(np.int64), skipped.copy()
                )
        elif q.type in ("single_choice", "likert", "matrix_item"):
            codes = np.array([c.code for c in q.choices or ()], dtype=np.int64)
            values = np.where(is_special, special_codes, rng.choice(codes, n))
            columns[q.name] = pd.arrays.IntegerArray(values.astype(np.int64), skipped)
        elif q.type in ("integer", "decimal"):
            low = q.min if q.min is not None else 0
            high = min(q.max if q.max is not None else 1000, low + 1000)
            numbers = rng.integers(int(low), int(high) + 1, n).astype(np.float64)
            if q.score is not None and q.score.correct_value is not None:
                numbers = np.where(rng.random(n) < 0.5, q.score.correct_value, numbers)
            values = np.where(is_special, special_codes, numbers)
            if q.type == "integer":
                columns[q.name] = pd.arrays.IntegerArray(values.astype(np.int64), skipped)
            else:
                columns[q.name] = pd.arrays.FloatingArray(values, skipped)
        elif q.type == "text":
            letters = rng.integers(0, 26 * 26 * 26, n)
            text = np.char.add(
                np.char.add(
                    np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))[letters % 26],
                    np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))[(letters // 26) % 26],
                ),
                np.char.zfill(rng.integers(101, 1232, n).astype(str), 4),
            )
            columns[q.name] = pd.array(text.astype(object), dtype="str")
    return pd.DataFrame(columns)


def run_one(questionnaire_id: str, n: int, repeats: int) -> dict[str, object]:
    """Time scoring of ``n`` rows in this process."""
    questionnaire = load_questionnaire(DEFINITIONS_DIR / f"{questionnaire_id}.yaml")
    t0 = time.perf_counter()
    frame = synthetic_responses(questionnaire, n)
    made = time.perf_counter() - t0
    score_responses(frame.head(100), questionnaire)  # warm the plan cache
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        scored = score_responses(frame, questionnaire)
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    scored = score_responses(frame, questionnaire)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    t0 = time.perf_counter()
    quality_flags(frame, questionnaire)
    quality = time.perf_counter() - t0
    return {
        "questionnaire": questionnaire_id,
        "rows": n,
        "answer_columns": len(questionnaire.columns()),
        "scored_columns": scored.frame.shape[1],
        "make_data_seconds": round(made, 3),
        "score_seconds_best": round(min(times), 4),
        "score_seconds_all": [round(t, 4) for t in times],
        "input_mb": round(frame.memory_usage(deep=True).sum() / 2**20, 1),
        "output_mb": round(scored.frame.memory_usage(deep=True).sum() / 2**20, 1),
        "scoring_traced_peak_mb": round(traced_peak / 2**20, 1),
        "quality_flags_seconds": round(quality, 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--questionnaire", default="cfl")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(run_one(args.questionnaire, args.child, args.repeats)))
        return 0
    results = []
    for n in args.sizes:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            str(n),
            "--repeats",
            str(args.repeats),
            "--questionnaire",
            args.questionnaire,
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        out = proc.stdout.read() if proc.stdout else ""
        if status != 0:
            print(f"size {n}: child failed with status {status}", file=sys.stderr)
            return 1
        result = json.loads(out.strip().splitlines()[-1])
        scale = 1024 if sys.platform != "darwin" else 1  # ru_maxrss: KiB on Linux
        result["process_peak_rss_mb"] = round(usage.ru_maxrss * scale / 2**20, 1)
        results.append(result)
        print(json.dumps(result))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
