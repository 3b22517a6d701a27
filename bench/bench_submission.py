"""Benchmark: answer validation, submission and quota counting.

Measured on the shipped ``cfl`` questionnaire (58 questions, 72 stored columns) with random
valid answers:

* **check_answers** and **to_columns**: microseconds per respondent (pure Python, one core).
* **submit_answers** end to end (validation, quota check, durable write with two fsyncs,
  contact details): submissions per second from one thread.
* **quota_status** with ``--n`` stored responses spread over 31 provinces, for a quota by
  province alone (file names + the ``response_id`` column of compacted files) and by
  province and sex (one DuckDB count over the province's partition), before and after
  compaction. The stored files are written directly with the bytes ``submit`` writes but
  without its fsyncs.

Usage::

    python bench/bench_submission.py                     # --n 100000
    python bench/bench_submission.py --n 2000 --submit 50 --validate 200   # smoke run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from questionnaires import parse_questionnaire  # noqa: E402
from questionnaires.model import Question, Questionnaire  # noqa: E402
from responses.record import ResponseRecord, new_response_id  # noqa: E402
from responses.store import _SMALL_FILE_OPTIONS, ParquetResponseStore  # noqa: E402
from responses.submission import Paradata, quota_status, submit_answers  # noqa: E402
from responses.validation import _holds, check_answers, relevant_questions, to_columns  # noqa: E402

CFL = ROOT / "questionnaires/definitions/cfl.yaml"
STARTED = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def questionnaire(quota_by: str) -> Questionnaire:
    text = CFL.read_text(encoding="utf-8")
    quotas = f"  quotas:\n    by: [{quota_by}]\n    default: 1000000000\n"
    text = text.replace(
        "  one_question_per_page: false\n", "  one_question_per_page: false\n" + quotas
    )
    return parse_questionnaire(text, source=f"cfl+quota({quota_by})")


def random_value(rng: random.Random, q: Question) -> Any:
    if q.special and rng.random() < 0.1:
        return rng.choice(q.special)
    options = list(q.choices.names) if q.choices is not None else []
    if q.type in ("single_choice", "likert", "matrix_item"):
        return rng.choice(options)
    if q.type == "multiple_choice":
        plain = [o for o in options if o not in q.exclusive]
        if q.exclusive and rng.random() < 0.1:
            return {q.exclusive[0]}
        high = min(q.max_selected or len(plain), len(plain))
        return set(rng.sample(plain, rng.randint(max(q.min_selected or 1, 1), high)))
    if q.type == "integer":
        low, high = int(q.min or 0), int(q.max if q.max is not None else 10**6)
        return rng.randint(low, min(high, low + 20000))
    if q.type == "decimal":
        d = q.decimals if q.decimals is not None else 2
        return round(rng.uniform(q.min or 0, q.max if q.max is not None else 1e6), d)
    return "".join(rng.choice("金融素养调查abcXYZ0123") for _ in range(rng.randint(6, 12)))


def random_answers(rng: random.Random, qn: Questionnaire) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for q in qn.questions:
        if not q.is_answerable:
            continue
        relevance = relevant_questions(qn, answers)
        if q.name not in relevance:
            continue
        for _ in range(50):
            value = random_value(rng, q)
            if isinstance(value, str) and value in ("dont_know", "prefer_not"):
                break
            if _holds(q.constraint, relevance.values, value):
                break
        else:
            value = int(q.min or 0)  # the bench's constraints all hold at the minimum
        answers[q.name] = value
    return answers


def per_call(fn: Any, items: list[Any]) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / len(items) * 1e6


def fill_store(store: ParquetResponseStore, qn: Questionnaire, n: int, rng: random.Random) -> None:
    """``n`` responses written as small files (the bytes submit writes, without fsync)."""
    pool = [random_answers(rng, qn) for _ in range(200)]
    for i in range(n):
        answers = pool[i % len(pool)]
        columns = to_columns(qn, answers)
        province = columns.pop("province")
        record = ResponseRecord(
            questionnaire_id=qn.id,
            questionnaire_version=qn.version,
            answers=columns,
            province=province,  # type: ignore[arg-type]
            started_at=STARTED,
            consent_version="2026-1",
        )
        folder = store.root / f"responses/{qn.id}/{qn.version}/province={province:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            record.to_table(), folder / f"{record.response_id}.parquet", **_SMALL_FILE_OPTIONS
        )


def time_quota(
    store: ParquetResponseStore, qn: Questionnaire, answers: dict[str, Any]
) -> tuple[float, float]:
    """(first call in ms: reads every file of the partition once; later calls in ms)."""
    start = time.perf_counter()
    quota_status(store, qn, answers)
    first = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    repeats = 5
    for _ in range(repeats):
        status = quota_status(store, qn, answers)
    assert status.cell is not None
    return first, (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="stored responses for quotas")
    parser.add_argument("--submit", type=int, default=500, help="submissions to time")
    parser.add_argument("--validate", type=int, default=2000, help="answer sets to validate")
    parser.add_argument("--out", type=Path, help="write the figures as JSON")
    args = parser.parse_args()
    rng = random.Random(2026)
    results: dict[str, Any] = {"n": args.n}

    plain = questionnaire("province")
    sets = [random_answers(rng, plain) for _ in range(args.validate)]
    results["check_answers_us"] = per_call(lambda a: check_answers(plain, a), sets)
    results["to_columns_us"] = per_call(lambda a: to_columns(plain, a), sets)
    print(f"check_answers: {results['check_answers_us']:.0f} us per respondent")
    print(f"to_columns:    {results['to_columns_us']:.0f} us per respondent")

    with tempfile.TemporaryDirectory() as tmp, ParquetResponseStore(Path(tmp) / "d") as store:
        start = time.perf_counter()
        for answers in sets[: args.submit]:
            submit_answers(
                store,
                plain,
                answers,
                response_id=new_response_id(),
                language="zh",
                started_at=STARTED,
                consent_version=plain.consent.version if plain.consent else None,
                paradata=Paradata(user_agent="Mozilla/5.0 (iPhone) Mobile"),
            )
        rate = args.submit / (time.perf_counter() - start)
        results["submit_per_second"] = rate
        print(f"submit_answers: {rate:.0f} per second (one thread, with quota check)")

    for by in ("province", "province, sex"):
        qn = questionnaire(by)
        with tempfile.TemporaryDirectory() as tmp, ParquetResponseStore(Path(tmp) / "d") as store:
            fill_store(store, qn, args.n, rng)
            probe = sets[0]
            before = time_quota(store, qn, probe)
            store.compact(qn.id)
            after = time_quota(store, qn, probe)
            key = "quota_by_" + by.replace(", ", "_")
            results[key] = {
                "before_compaction_first_ms": before[0],
                "before_compaction_ms": before[1],
                "after_compaction_first_ms": after[0],
                "after_compaction_ms": after[1],
            }
            print(
                f"quota_status by {by} ({args.n} responses): before compaction "
                f"{before[0]:.1f} ms first call, {before[1]:.2f} ms then; after compaction "
                f"{after[0]:.1f} ms first call, {after[1]:.2f} ms then"
            )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
