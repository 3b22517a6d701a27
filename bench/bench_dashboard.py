"""Benchmark: the analyst dashboards' data layer (and the Literacy page) with a million responses.

Targets (2 cores): the first load of the Literacy page under 5 s; a filter change under 1 s.

Data: ``--n`` responses to the shipped ``cfl`` questionnaire from the simulator
(``analysis.simulation.simulate``, bulk: a sample skewed against the census, a latent literacy
trait, careless respondents, break-offs as drafts), written once into a store folder;
``--source synthetic`` uses the quicker generator of ``tests/analysis/synthetic.py``
instead (written in chunks, then compacted by the store: one file per province, as the
simulator writes them and as the nightly compaction leaves a store). ``--data`` reuses a
folder (compact it first, ``python -m responses --data-dir DIR compact``, if it holds many
small files).

Each measurement run is a fresh process (cold: nothing cached, as after a restart):

* **first Literacy page** = ``load_dashboard`` (read the store with Arrow types, score, census
  weights) + the first ``literacy()`` (the table of sums by calibration cell and domain atom,
  then the national, province, region and group estimates), with the read and the preparation
  also timed apart;
* **filter changes**: ``literacy()`` for new filters (groups, regions, provinces, unweighted,
  dates, flagged excluded) on the loaded data, each the first time it is asked for;
* the other pages' first computation: overview (computes the quality flags), data quality,
  weighting, items, effectiveness (the difference alone, and all four methods);
* for comparison, the row-level ``estimate_mean(Design(...), by="province")`` of the same
  five outcomes;
* with ``--apptest``, the Literacy page itself run by ``streamlit.testing`` (load, compute and
  draw every chart and table), cold and warm.

Reported: wall seconds (median of ``--repeat`` fresh processes), the CPU seconds of the first
page, the peak resident memory of the process, and the 1-minute load average when each run
started and after its first page (a figure taken while other work runs is not a figure). The
end of the output is a Markdown table to paste into BENCHMARKS.md. Usage::

    python bench/bench_dashboard.py                              # 1,000,000 responses
    python bench/bench_dashboard.py --n 20000 --repeat 1         # smoke run
    python bench/bench_dashboard.py --source synthetic --data /tmp/dash1m --keep  # quick build
    python bench/bench_dashboard.py --data /tmp/dash1m --keep --apptest

Results go to ``bench/out/dashboard.json`` (git-ignored) and to the terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHUNK = 200_000
TARGET_FIRST_PAGE = 5.0
TARGET_FILTER = 1.0


def build(root: Path, n: int, source: str) -> float:
    """Write ``n`` cfl responses into ``root``; seconds taken."""
    from tests.analysis.samples import shipped

    start = time.perf_counter()
    questionnaire = shipped("cfl")
    if source == "simulate":
        from analysis.simulation import simulate

        simulate(questionnaire, n, seed=20260301, store=root, method="bulk", truth=False)
        return time.perf_counter() - start
    from responses.store import ParquetResponseStore
    from tests.analysis.synthetic import synthetic_frame, write_compacted

    begin = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    for i, first in enumerate(range(0, n, CHUNK)):
        size = min(CHUNK, n - first)
        frame = synthetic_frame(questionnaire, size, seed=1000 + i, start=begin, days=42)
        write_compacted(root, frame, questionnaire)
    # The store's own compaction then merges each province's files into one, as the nightly
    # compaction leaves a store (one file per province instead of one per chunk).
    with ParquetResponseStore(root) as store:
        store.compact(questionnaire.id)
    return time.perf_counter() - start


def _timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def child(data_dir: str, apptest: bool, compare: bool) -> dict[str, Any]:
    """One cold measurement run (this process)."""
    started = time.perf_counter()
    from analysis import dashboard as db
    from questionnaires import load_registry
    from responses.store import ParquetResponseStore

    out: dict[str, Any] = {"import_seconds": time.perf_counter() - started,
                           "load_average_start": os.getloadavg()[0]}
    store = ParquetResponseStore(data_dir)
    registry = load_registry(data_dir)
    questionnaires = {"2026.1": registry.get("cfl", "2026.1")}
    out["read_seconds"], (table, _, _) = _timed(
        lambda: db._read(store, "cfl", None, questionnaires))
    out["n"] = table.num_rows
    del table
    cpu = time.process_time()
    out["load_seconds"], data = _timed(lambda: db.load_dashboard(store, registry, "cfl"))
    base = db.Filters("cfl")
    out["literacy_first_seconds"], _ = _timed(lambda: db.literacy(data, base))
    out["first_literacy_page_seconds"] = out["load_seconds"] + out["literacy_first_seconds"]
    # CPU time of this process (all its threads): what the machine's other load cannot inflate
    out["first_literacy_page_cpu_seconds"] = time.process_time() - cpu
    out["load_average_1min"] = os.getloadavg()[0]
    out["weighting_scheme"] = data.weighting.scheme
    days = data.frame["day"]
    first = dt.date(1970, 1, 1) + dt.timedelta(days=int(days.min()))
    changes = {
        "women": db.Filters("cfl", sex=("female",)),
        "east_25_34": db.Filters("cfl", regions=("East",), age_group=("25-34",)),
        "three_provinces_graduates": db.Filters(
            "cfl", provinces=(11, 31, 44), education=("bachelor", "postgraduate")),
        "unweighted": db.Filters("cfl", weighted=False),
        "unweighted_rural": db.Filters("cfl", weighted=False, urban=("rural",)),
        "two_weeks": db.Filters("cfl", start=first + dt.timedelta(days=7),
                                end=first + dt.timedelta(days=20)),
        "two_weeks_women_west": db.Filters("cfl", start=first + dt.timedelta(days=7),
                                           end=first + dt.timedelta(days=20),
                                           sex=("female",), regions=("West",)),
    }
    out["filter_change_seconds"] = {
        name: _timed(lambda f=f: db.literacy(data, f))[0] for name, f in changes.items()
    }
    out["exclude_flagged_first_seconds"], _ = _timed(
        lambda: db.literacy(data, db.Filters("cfl", exclude_flagged=True)))
    out["filter_change_seconds"]["excluded_women"] = _timed(
        lambda: db.literacy(data, db.Filters("cfl", exclude_flagged=True, sex=("female",))))[0]
    out["overview_seconds"], _ = _timed(lambda: db.overview(data, base, drafts=[]))
    out["data_quality_seconds"], _ = _timed(lambda: db.data_quality(data, base))
    out["weighting_seconds"], _ = _timed(lambda: db.weighting_report(data, base))
    out["items_seconds"], _ = _timed(lambda: db.items(data, base))
    out["effect_difference_seconds"], _ = _timed(
        lambda: db.effectiveness(data, base, methods=("difference",)))
    out["effect_all_methods_seconds"], _ = _timed(lambda: db.effectiveness(data, base))
    if compare:
        from analysis.design import Design
        from analysis.estimation import estimate_mean

        w = data.weighting

        def row_level() -> object:
            design = Design(w.design_frame(data.frame), weights="weight",
                            calibration=w.result.model)
            return estimate_mean(design, list(data.outcomes), by="province")

        out["row_level_estimate_mean_by_province_seconds"], _ = _timed(row_level)
    if apptest:
        out.update(_apptest(data_dir))
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["load_average_end"] = os.getloadavg()[0]
    return out


def _apptest(data_dir: str) -> dict[str, float]:
    """The Literacy page run by streamlit.testing, signed in, cold then warm."""
    os.environ["SURVEY_DATA_DIR"] = data_dir
    for name, value in (("SURVEY_ACCESS_ARGON2_TIME_COST", "1"),
                        ("SURVEY_ACCESS_ARGON2_MEMORY_KIB", "8"),
                        ("SURVEY_ACCESS_ARGON2_PARALLELISM", "1")):
        os.environ[name] = value
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    import access

    if access.get_account("bench.analyst") is None:
        access.add_user("bench.analyst", "correct horse battery staple", role="analyst")
    session = access.authenticate("bench.analyst", "correct horse battery staple")
    assert isinstance(session, access.Session)
    st.cache_data.clear()
    st.cache_resource.clear()
    page = str(ROOT / "app_pages" / "dash_literacy.py")
    out = {}
    for label in ("apptest_literacy_page_cold_seconds", "apptest_literacy_page_warm_seconds"):
        at = AppTest.from_file(page, default_timeout=600)
        at.session_state["staff_session_id"] = session.session_id
        out[label], at = _timed(at.run)
        assert not at.exception, [e.value for e in at.exception]
        assert at.get("plotly_chart"), "the page drew no chart"
    return out


def run_child(data_dir: Path, apptest: bool, compare: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", str(data_dir)]
    command += ["--apptest"] if apptest else []
    command += ["--compare"] if compare else []
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if result.returncode:
        raise SystemExit(f"benchmark child failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in runs[0].items():
        if isinstance(value, dict):
            out[key] = {k: statistics.median(r[key][k] for r in runs) for k in value}
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = statistics.median(r[key] for r in runs)
        else:
            out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, help="store folder to use (built if empty)")
    parser.add_argument("--source", choices=("simulate", "synthetic"), default="simulate",
                        help="how to make the responses (default: the simulator)")
    parser.add_argument("--keep", action="store_true", help="keep the store folder")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--apptest", action="store_true", help="also time the page itself")
    parser.add_argument("--compare", action="store_true",
                        help="also time the row-level estimate_mean")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "dashboard.json")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.apptest, args.compare)))
        return 0
    root = args.data or Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    results: dict[str, Any] = {"n_requested": args.n, "cpus": os.cpu_count(),
                               "machine": machine(), "data": str(root),
                               "source": args.source, "repeat": args.repeat}
    try:
        marker = root / "bench-source.txt"  # how a reused folder was built
        if not (root / "responses" / "cfl").exists():
            results["build_seconds"] = build(root, args.n, args.source)
            marker.write_text(args.source, encoding="utf-8")
        else:
            results["source"] = (
                marker.read_text(encoding="utf-8").strip() if marker.exists()
                else f"existing folder {root}"
            )
        runs = [run_child(root, args.apptest, args.compare) for _ in range(args.repeat)]
        results.update(median(runs))
        results["runs"] = runs
    finally:
        if args.data is None and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    report(results)
    return 0


def machine() -> str:
    """CPU model and count, memory, operating system, Python: one line."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown memory"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f"{kb / 2**20:.1f} GiB"
    system = platform.platform()
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                system = line.split("=", 1)[1].strip('"')
    return f"{os.cpu_count()} x {cpu}, {ram}, {system}, Python {platform.python_version()}"


def table(r: dict[str, Any]) -> str:
    """The figures as a Markdown table (to paste into BENCHMARKS.md)."""
    runs = r.get("runs", [r])
    loads = [x for run in runs for x in (run.get("load_average_start"),
                                         run.get("load_average_1min"),
                                         run.get("load_average_end")) if x is not None]
    changes = r["filter_change_seconds"]
    slowest = max(changes, key=changes.get)
    lines = [
        f"{r['n']:,} responses (`--source {r.get('source', '?')}`, weights: "
        f"{r['weighting_scheme']}); median of {len(runs)} cold process(es); "
        f"load average (1 min) {min(loads):.1f}-{max(loads):.1f} during the runs; "
        f"{r.get('machine', '')}",
        "",
        "| figure | seconds | target |",
        "|---|---:|---|",
        f"| **first Literacy page** (load + first `literacy()`) | "
        f"**{r['first_literacy_page_seconds']:.2f}** | < {TARGET_FIRST_PAGE:g} s |",
        f"| - CPU seconds of the first page (all threads) | "
        f"{r['first_literacy_page_cpu_seconds']:.2f} | |",
        f"| - `load_dashboard` (read, score, weight) | {r['load_seconds']:.2f} | |",
        f"| - the store's read alone (timed apart, before) | {r['read_seconds']:.2f} | |",
        f"| - first `literacy()` (table of sums + estimates) | "
        f"{r['literacy_first_seconds']:.2f} | |",
        f"| **slowest filter change** ({slowest}) | **{changes[slowest]:.2f}** | "
        f"< {TARGET_FILTER:g} s |",
    ]
    lines += [f"| - filter: {name} | {seconds:.2f} | < {TARGET_FILTER:g} s |"
              for name, seconds in changes.items()]
    lines.append(f"| flagged excluded, first time (flags + own weights) | "
                 f"{r['exclude_flagged_first_seconds']:.2f} | |")
    pages = {"overview": "Overview page (computes the quality flags)",
             "data_quality": "Data quality page", "weighting": "Weighting page",
             "items": "Items page", "effect_difference": "Effectiveness page, difference only",
             "effect_all_methods": "Effectiveness page, all four methods"}
    for key, label in pages.items():
        lines.append(f"| {label}, first computation | {r[key + '_seconds']:.2f} | |")
    if "row_level_estimate_mean_by_province_seconds" in r:
        lines.append("| peer: row-level `estimate_mean(Design(...), by=\"province\")`, 5 "
                     f"outcomes | {r['row_level_estimate_mean_by_province_seconds']:.2f} | |")
    for key in ("apptest_literacy_page_cold_seconds", "apptest_literacy_page_warm_seconds"):
        if key in r:
            label = key.removeprefix("apptest_").removesuffix("_seconds").replace("_", " ")
            lines.append(f"| AppTest: {label} (drawn) | {r[key]:.2f} | |")
    lines.append(f"| peak memory of the process (MB) | {r['peak_rss_mb']:,.0f} | |")
    return "\n".join(lines)


def report(r: dict[str, Any]) -> None:
    first = r["first_literacy_page_seconds"]
    changes = r["filter_change_seconds"]
    print(f"responses: {r['n']:,} (weights: {r['weighting_scheme']}), "
          f"peak memory {r['peak_rss_mb']:,.0f} MB")
    print(f"first Literacy page: {first:.2f} s (target < {TARGET_FIRST_PAGE:g} s) = load "
          f"{r['load_seconds']:.2f} s + literacy {r['literacy_first_seconds']:.2f} s; CPU "
          f"{r['first_literacy_page_cpu_seconds']:.2f} s; a separate read of the store took "
          f"{r['read_seconds']:.2f} s; load average {r['load_average_1min']:.1f}")
    print(f"filter changes (target < {TARGET_FILTER:g} s): slowest {max(changes.values()):.2f} s")
    for name, seconds in changes.items():
        print(f"  {name:28s} {seconds:6.2f} s")
    print(f"flagged excluded, first time (flags + own weights): "
          f"{r['exclude_flagged_first_seconds']:.2f} s")
    for key in ("overview", "data_quality", "weighting", "items", "effect_difference",
                "effect_all_methods"):
        print(f"{key.replace('_', ' '):28s} {r[key + '_seconds']:6.2f} s")
    if "row_level_estimate_mean_by_province_seconds" in r:
        print(f"row-level estimate_mean by province: "
              f"{r['row_level_estimate_mean_by_province_seconds']:.2f} s")
    for key in ("apptest_literacy_page_cold_seconds", "apptest_literacy_page_warm_seconds"):
        if key in r:
            print(f"{key.removeprefix('apptest_').replace('_', ' '):28s} {r[key]:6.2f} s")
    print()
    print(table(r))


if __name__ == "__main__":
    sys.exit(main())
