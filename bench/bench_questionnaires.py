"""Benchmark: loading, validating and XLSForm round trips of questionnaires of growing size.

Run from the repository root:
``PYTHONPATH=. python bench/bench_questionnaires.py [--sizes 10 100 1000] [--repeat 3]``.
Prints one line per size: questions, YAML parse + validation time, XLSForm write time,
XLSForm read time (best of ``--repeat`` runs), and peak memory of one YAML load.
"""

from __future__ import annotations

import argparse
import io
import time
import tracemalloc
import warnings
from collections.abc import Callable

from questionnaires import parse_questionnaire, read_xlsform, write_xlsform


def synthetic_yaml(n: int) -> str:
    """A valid two-language questionnaire with ``n`` questions of mixed types."""
    lines = [
        "id: bench",
        'version: "1"',
        "title: {zh: 基准, en: Bench}",
        "languages: [zh, en]",
        "dimensions:",
        "  - {name: knowledge, label: {zh: 知识, en: Knowledge}, weight: 1}",
        "choices:",
        "  agree5:",
    ]
    for i in range(1, 6):
        lines.append(f"    - {{name: a{i}, label: {{zh: 选项{i}, en: Option {i}}}}}")
    lines += ["sections:", "  - name: s", "    title: {zh: 部分, en: Part}", "    questions:"]
    lines += [
        "      - {name: age, type: integer, label: {zh: 年龄, en: Age}, min: 0, max: 120, "
        "special: [prefer_not]}"
    ]
    for i in range(1, n):
        kind = i % 4
        if kind == 0:
            lines.append(
                f"      - {{name: q{i}, type: single_choice, label: {{zh: 题{i}, en: Q{i}}}, "
                f'choices: agree5, relevant: "${{age}} >= 18", '
                f"score: {{dimension: knowledge, correct: [a2]}}}}"
            )
        elif kind == 1:
            lines.append(
                f"      - {{name: q{i}, type: multiple_choice, label: {{zh: 题{i}, en: Q{i}}}, "
                "choices: agree5, special: [dont_know]}"
            )
        elif kind == 2:
            lines.append(
                f"      - {{name: q{i}, type: decimal, label: {{zh: 题{i}, en: Q{i}}}, min: 0, "
                'constraint: ". <= 1000", constraint_message: {zh: 太大, en: Too large}}'
            )
        else:
            lines.append(
                f"      - {{name: q{i}, type: likert, label: {{zh: 题{i}, en: Q{i}}}, "
                "choices: agree5, score: {dimension: knowledge}}"
            )
    return "\n".join(lines) + "\n"


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"{'questions':>9} {'yaml_load_s':>11} {'xlsx_write_s':>12} {'xlsx_read_s':>11} "
          f"{'peak_MiB':>8}")  # fmt: skip
    for n in args.sizes:
        text = synthetic_yaml(n)
        q = parse_questionnaire(text)
        load = best(lambda text=text: parse_questionnaire(text), args.repeat)
        buffer = io.BytesIO()
        write = best(lambda q=q, buffer=buffer: write_xlsform(q, buffer), args.repeat)
        sink = io.BytesIO()
        write_xlsform(q, sink)
        data = sink.getvalue()
        read = best(lambda data=data: read_xlsform(data), args.repeat)
        assert read_xlsform(data) == q
        tracemalloc.start()
        parse_questionnaire(text)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        print(f"{n:>9} {load:>11.3f} {write:>12.3f} {read:>11.3f} {peak:>8.1f}")


if __name__ == "__main__":
    main()
