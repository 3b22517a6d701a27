"""Benchmark: a 20-term OECD-style scoring expression, vectorised vs. row by row.

``Expression.evaluate_frame`` on ``--rows`` stored responses (default 1,000,000) against
``Expression.evaluate`` in a Python loop over ``--loop-rows`` responses (default 10,000),
extrapolated to ``--rows``. Run it from the repository root on a quiet machine::

    python -m bench.bench_expressions                                   # full size
    python -m bench.bench_expressions --rows 20000 --loop-rows 2000     # smoke run

The expression mixes the term kinds of the OECD/INFE financial-literacy score: knowledge items
(single choice compared with the right option), a numeric answer within a tolerance, attitude
items (likert, disagreement scores), behaviour items (multiple choice options), with special
answers and skipped questions in the data.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from questionnaires.expressions import SPECIAL_CODES, Symbol, parse

DK = frozenset({"dont_know"})
LIKERT = {"agree_completely": 1, "agree": 2, "neutral": 3, "disagree": 4, "disagree_completely": 5}
BEHAVIOUR = {"budget": 1, "save": 2, "compare": 3, "borrow": 4, "none": 5}


def build_symbols() -> dict[str, Symbol]:
    symbols: dict[str, Symbol] = {}
    for i in range(1, 9):  # knowledge: 8 single-choice items with dont_know
        symbols[f"k{i}"] = Symbol(f"k{i}", "choice", {"a": 1, "b": 2, "c": 3, "d": 4}, DK)
    symbols["k_interest"] = Symbol("k_interest", "number", specials=DK)
    for i in range(1, 4):  # attitudes: likert
        symbols[f"a{i}"] = Symbol(f"a{i}", "choice", LIKERT, DK)
    symbols["b_actions"] = Symbol("b_actions", "multi", BEHAVIOUR, DK)
    symbols["b_target"] = Symbol("b_target", "choice", {"yes": 1, "no": 2}, DK)
    return symbols


TERMS = [
    *(f"if(${{k{i}}} = '{'abcd'[i % 4]}', 1, 0)" for i in range(1, 9)),  # 8 terms
    "if(${k_interest} >= 101.5 and ${k_interest} <= 102.5, 1, 0)",  # 1 term
    *(f"if(${{a{i}}} = 'disagree' or ${{a{i}}} = 'disagree_completely', 1, 0)"
      for i in range(1, 4)),  # 3 terms
    *(f"if(selected(${{b_actions}}, '{option}'), 1, 0)"
      for option in ("budget", "save", "compare")),  # 3 terms
    "if(count-selected(${b_actions}) >= 2, 1, 0)",
    "if(${b_target} = 'yes', 1, 0)",
    "if(answered(${k1}) and answered(${k2}), 0.5, 0)",
    "if(${k1} = 'dont_know', -0.5, 0)",
    "min(if(${a1} = 'agree', 1, 0), 1)",
]
EXPRESSION = " + ".join(TERMS)


def build_frame(rows: int, seed: int = 20260) -> pd.DataFrame:
    """Stored responses: codes with ~5% dont_know and ~3% skipped per question."""
    rng = np.random.default_rng(seed)

    def codes(n_options: int) -> pd.arrays.IntegerArray:
        values = rng.integers(1, n_options + 1, size=rows)
        values = np.where(rng.random(rows) < 0.05, SPECIAL_CODES["dont_know"], values)
        return pd.arrays.IntegerArray(values.astype(np.int64), rng.random(rows) < 0.03)

    columns: dict[str, object] = {}
    for i in range(1, 9):
        columns[f"k{i}"] = codes(4)
    interest = np.round(rng.normal(102, 3, size=rows), 1)
    interest = np.where(rng.random(rows) < 0.05, -1.0, interest)
    columns["k_interest"] = pd.arrays.FloatingArray(interest, rng.random(rows) < 0.03)
    for i in range(1, 4):
        columns[f"a{i}"] = codes(5)
    special = rng.random(rows) < 0.05
    skipped = rng.random(rows) < 0.03
    for option in BEHAVIOUR:
        flags = (rng.random(rows) < 0.4).astype(np.int64)
        columns[f"b_actions__{option}"] = pd.arrays.IntegerArray(
            np.where(special, -1, flags), skipped
        )
    columns["b_target"] = codes(2)
    return pd.DataFrame(columns)


def app_rows(frame: pd.DataFrame, symbols: dict[str, Symbol]) -> list[dict[str, object]]:
    """The same responses as the app holds them (option names, sets, special names)."""
    names_by_code = {code: name for name, code in SPECIAL_CODES.items()}
    out: list[dict[str, object]] = []
    records = frame.to_dict("records")
    for record in records:
        values: dict[str, object] = {}
        for name, symbol in symbols.items():
            if symbol.kind == "multi":
                first = record[f"{name}__{next(iter(symbol.options))}"]
                if first is None or first is pd.NA:
                    values[name] = None
                elif first < 0:
                    values[name] = names_by_code[int(first)]
                else:
                    values[name] = {o for o in symbol.options if record[f"{name}__{o}"] == 1}
                continue
            raw = record[name]
            if raw is None or raw is pd.NA:
                values[name] = None
            elif raw < 0:
                values[name] = names_by_code[int(raw)]
            elif symbol.kind == "choice":
                values[name] = {c: o for o, c in symbol.options.items()}[int(raw)]
            else:
                values[name] = float(raw)
        out.append(values)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--loop-rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    symbols = build_symbols()
    expression = parse(EXPRESSION)
    assert expression.check(symbols, context="derived") == "number"
    print(f"expression: {len(TERMS)} terms, {len(EXPRESSION)} characters")

    frame = build_frame(args.rows)
    timings = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = expression.evaluate_frame(frame, symbols)
        timings.append(time.perf_counter() - start)
    vector_seconds = min(timings)
    print(
        f"evaluate_frame: {args.rows:,} rows in {vector_seconds:.3f} s "
        f"(best of {args.repeat}; {args.rows / vector_seconds:,.0f} rows/s)"
    )

    loop_frame = frame.iloc[: args.loop_rows]
    rows = app_rows(loop_frame, symbols)
    start = time.perf_counter()
    scalar = [expression.evaluate(values) for values in rows]
    loop_seconds = time.perf_counter() - start
    extrapolated = loop_seconds * args.rows / len(rows)
    print(
        f"evaluate loop: {len(rows):,} rows in {loop_seconds:.3f} s; extrapolated to "
        f"{args.rows:,} rows: {extrapolated:.1f} s ({extrapolated / vector_seconds:,.0f}x slower)"
    )

    # The two must agree on the rows both computed.
    head = result.iloc[: len(rows)]
    mismatches = sum(
        1 for got, want in zip(head, scalar, strict=True)
        if not ((got is pd.NA and want is None) or got == want)
    )
    print(f"agreement on {len(rows):,} rows: {'ok' if mismatches == 0 else f'{mismatches} differ'}")
    if mismatches:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
