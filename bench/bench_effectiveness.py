"""Benchmark: the effect estimators on simulated surveys of growing size.

Times :func:`analysis.effectiveness.difference_in_means`, ``regression_adjustment``, ``ipw``
and ``aipw`` (linearised SEs) on the simulated stratified cluster sample of the tests
(``tests/analysis/effect_simulation.py``, 4 strata, clusters of 25), and ``ipw`` with JKn
replicate weights (which refits the propensity model once per PSU). The time is the best of
``--repeats`` calls with the design already built; the design's construction is timed apart.

Usage::

    python bench/bench_effectiveness.py                            # 10,000 and 100,000 rows
    python bench/bench_effectiveness.py --sizes 2000 --repeats 1   # smoke run
    python bench/bench_effectiveness.py --out bench/results/effectiveness.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analysis.design import Design  # noqa: E402
from analysis.effectiveness import estimate_effect  # noqa: E402
from analysis.replication import ReplicateDesign  # noqa: E402
from tests.analysis.effect_simulation import simulate_survey  # noqa: E402

COVARIATES = ["age", "sex", "education", "urban"]


def best_of(call: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def run(size: int, repeats: int, replicates: bool) -> dict[str, float]:
    psus = max(2, size // (4 * 25))
    data = simulate_survey(np.random.default_rng(size), psus=psus)
    start = time.perf_counter()
    design = Design(data, weights="weight", strata="stratum", cluster="psu")
    out: dict[str, float] = {"rows": float(len(data)), "psus": float(design.n_psu),
                             "design_s": time.perf_counter() - start}
    for method in ("difference", "regression", "ipw", "aipw"):
        cov = [] if method == "difference" else COVARIATES
        out[f"{method}_s"] = best_of(
            lambda method=method, cov=cov: estimate_effect(
                design, "literacy_index", "exposure_any", method=method, covariates=cov
            ),
            repeats,
        )
    if replicates:
        jk = ReplicateDesign.from_design(design, method="JKn")
        out["ipw_jkn_s"] = best_of(
            lambda: estimate_effect(jk, "literacy_index", "exposure_any", method="ipw",
                                    covariates=COVARIATES),
            1,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-replicates", action="store_true", help="skip the JKn run")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    results = [run(n, args.repeats, not args.no_replicates) for n in args.sizes]
    for r in results:
        print("  ".join(f"{k}={v:.4g}" for k, v in r.items()))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
