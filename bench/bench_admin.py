"""Benchmark: what the administration pages compute on every page run.

With ``--n`` simulated ``cfl`` responses stored as compacted files
(:func:`analysis.simulation.simulate`, ``method="bulk"``) plus ``--small`` one-response files
waiting for compaction, and ``--audit`` audit entries:

* **questionnaire_overview**: every version with its effective status and response count
  (small files counted by name, compacted files by their ``response_id`` column);
* **quota_progress** of a quota by province (31 cells) and by province and sex (62 cells),
  first call (fills the per-file caches shared with the submission path) and next calls;
* **with_overrides** / **offered_questionnaires**: what every respondent page run and every
  submission adds (one SQLite read);
* **preview_deletion**: finding one response id among all stored rows;
* **browse_audit**: one page of 50 entries, unfiltered and filtered by action and actor;
* **publish_upload**: validating and publishing a YAML upload (re-reads the registry).

Usage::

    python bench/bench_admin.py                         # --n 100000 --small 2000 --audit 100000
    python bench/bench_admin.py --n 5000 --small 100 --audit 2000 --repeats 3   # smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analysis.simulation import simulate  # noqa: E402
from questionnaires import load_registry  # noqa: E402
from questionnaires.publishing import publish_upload  # noqa: E402
from responses.administration import (  # noqa: E402
    browse_audit,
    preview_deletion,
    questionnaire_overview,
    quota_progress,
)
from responses.overrides import (  # noqa: E402
    effective_questionnaire,
    make_quotas,
    offered_questionnaires,
    set_quotas,
    with_overrides,
)
from responses.store import ParquetResponseStore  # noqa: E402
from tests.questionnaires.uploads import upload_yaml  # noqa: E402


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def report(results: dict[str, Any], name: str, seconds: list[float]) -> None:
    results[name] = {"median_ms": round(statistics.median(seconds) * 1000, 2), "runs": len(seconds)}
    print(f"{name:48s} median {statistics.median(seconds) * 1000:10.2f} ms  ({len(seconds)} runs)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="compacted responses")
    parser.add_argument("--small", type=int, default=2_000, help="uncompacted responses")
    parser.add_argument("--audit", type=int, default=100_000, help="audit entries")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"n": args.n, "small": args.small, "audit": args.audit}
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        store = ParquetResponseStore(data)
        registry = load_registry(data)
        cfl = registry.latest("cfl")
        start = time.perf_counter()
        simulate(cfl, args.n, seed=1, store=store, method="bulk", truth=False)
        if args.small:
            simulate(cfl, args.small, seed=2, store=store, method="submit", truth=False)
        print(f"stored {args.n} + {args.small} responses in {time.perf_counter() - start:.1f} s")
        state = store.state
        with state._write() as c:  # bulk audit entries, for the benchmark only
            c.executemany(
                "INSERT INTO audit (entry_id, at, actor, action, target, details) "
                "VALUES (?, ?, ?, ?, ?, '{}')",
                [
                    (
                        f"{i:032x}",
                        f"2026-03-01T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:"
                        f"{i % 60:02d}.000000+00:00",
                        "wang.li" if i % 7 == 0 else "system",
                        ("compact", "delete", "generate_tokens")[i % 3],
                        f"t{i}",
                    )
                    for i in range(args.audit)
                ],
            )

        report(
            results,
            "questionnaire_overview",
            timed(lambda: questionnaire_overview(store, registry), args.repeats),
        )
        for by in (["province"], ["province", "sex"]):
            quotas = make_quotas(cfl, by=by, default=1000)
            set_quotas(state, registry, "cfl", cfl.version, quotas, actor="bench")
            q = effective_questionnaire(registry, state, "cfl", cfl.version)
            label = "+".join(by)
            report(
                results,
                f"quota_progress {label} first",
                timed(lambda q=q: quota_progress(store, q), 1),
            )
            report(
                results,
                f"quota_progress {label} next",
                timed(lambda q=q: quota_progress(store, q), args.repeats),
            )
        report(
            results,
            "with_overrides x1000",
            timed(lambda: [with_overrides(cfl, state) for _ in range(1000)], args.repeats),
        )
        report(
            results,
            "offered_questionnaires x100",
            timed(
                lambda: [offered_questionnaires(registry, state) for _ in range(100)], args.repeats
            ),
        )
        rid = store.read_table("cfl", columns=["response_id"]).table.column(0)[0].as_py()
        report(
            results, "preview_deletion", timed(lambda: preview_deletion(store, rid), args.repeats)
        )
        report(results, "browse_audit page 1", timed(lambda: browse_audit(state), args.repeats))
        report(
            results,
            "browse_audit action+actor page 3",
            timed(
                lambda: browse_audit(state, action="delete", actor="wang.li", page=3), args.repeats
            ),
        )
        versions = iter(range(1, 10_000))
        report(
            results,
            "publish_upload",
            timed(
                lambda: publish_upload(upload_yaml(str(next(versions))), "p.yaml", data_dir=data),
                args.repeats,
            ),
        )
        store.close()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
