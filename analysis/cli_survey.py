"""Command-line subcommands of the survey pipeline (``python -m analysis ...``).

``score``, ``weight``, ``estimate``, ``items``, ``quality``, ``simulate`` and ``demo``. Input is a
CSV or Parquet file (``DATA``) or the response store (``--store DIR --questionnaire ID``);
output is a readable table, or JSON with ``--format json``. Bad input prints one line
``error: ...`` and exits with status 2 (see :mod:`analysis.cli`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.cli import EXIT_BAD_INPUT, one_line
from analysis.cli_effect import CommandError, read_table

ESTIMATE_KEYS = ("by", "variable", "level", "estimate", "se", "ci_lower", "ci_upper", "df", "n",
                 "deff")
METHODS = ("rake", "poststratify", "linear", "logit")


# --------------------------------------------------------------------------------------------
# Argument types


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, not {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, not {text!r}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a probability between 0 and 1, not {text!r}")
    return value


def _alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, not {text!r}")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 0.5:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 0.5, not {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text!r}")
    return value


def _bounds(text: str) -> tuple[float, float]:
    parts = [p.strip() for p in text.split(",")]
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be two numbers LOW,HIGH (e.g. 0.3,3), not {text!r}"
        ) from None
    if not (0 <= low < 1 < high and math.isfinite(high)):
        raise argparse.ArgumentTypeError(
            f"must be LOW,HIGH with 0 <= LOW < 1 < HIGH (e.g. 0.3,3), not {text!r}"
        )
    return low, high


# --------------------------------------------------------------------------------------------
# Parsers


def _input_arguments(parser: argparse.ArgumentParser, *, questionnaire: str) -> None:
    parser.add_argument(
        "data", metavar="DATA", nargs="?",
        help="CSV or Parquet file, one row per response (or use --store)",
    )
    parser.add_argument("--store", metavar="DIR", help="read the responses from this data folder")
    help_q = {
        "required": "questionnaire id (e.g. cfl)",
        "optional": "questionnaire id: score stored responses first (needed with --store)",
    }[questionnaire]
    parser.add_argument("--questionnaire", metavar="ID", help=help_q)
    parser.add_argument("--version", help="questionnaire version (default: that of the data)")


def _format_argument(parser: argparse.ArgumentParser, *, csv: bool = False) -> None:
    choices = ["table", "json", "csv"] if csv else ["table", "json"]
    parser.add_argument("--format", default="table", choices=choices, help="output format")


def add_parsers(subparsers: Any) -> None:
    """Add the pipeline's subcommands to an argparse subparsers object."""
    score = subparsers.add_parser(
        "score", help="score responses: items, dimensions, index, analysis columns",
        description="Score responses with the questionnaire's rules (analysis.scoring).",
    )
    _input_arguments(score, questionnaire="required")
    score.add_argument("--out", metavar="FILE", help="write the scored data (.csv or .parquet)")
    _format_argument(score)
    score.set_defaults(handler=run_score, needs_questionnaire=True)

    weight = subparsers.add_parser(
        "weight", help="calibrate survey weights to population targets",
        description="Calibrate weights to census margins or a targets table (analysis.weighting).",
    )
    _input_arguments(weight, questionnaire="optional")
    weight.add_argument(
        "--targets", required=True, metavar="FILE|census",
        help="CSV with columns variable,level,total, or 'census' (province, province*sex, "
        "province*age_band, province*urban of the 2020 census)",
    )
    weight.add_argument("--base-weights", metavar="COL", help="column of base (design) weights")
    weight.add_argument("--method", default="rake", choices=METHODS)
    weight.add_argument("--bounds", type=_bounds, metavar="LOW,HIGH",
                        help="limits on final/base weight (linear, logit)")
    weight.add_argument("--trim-upper", type=_positive_float, metavar="X",
                        help="no weight above X times the mean weight (trim and re-calibrate)")
    weight.add_argument("--weight-column", default="weight", metavar="COL",
                        help="name of the weight column written (default: weight)")
    weight.add_argument("--out", metavar="FILE", help="write the data with the weights")
    _format_argument(weight)
    weight.set_defaults(handler=run_weight, needs_questionnaire=False)

    estimate = subparsers.add_parser(
        "estimate", help="design-based means, totals, proportions, quantiles",
        description="Design-based estimates with standard errors (analysis.estimation).",
    )
    _input_arguments(estimate, questionnaire="optional")
    what = estimate.add_mutually_exclusive_group(required=True)
    what.add_argument("--mean", metavar="COL", help="estimate the mean of COL")
    what.add_argument("--total", metavar="COL", help="estimate the total of COL")
    what.add_argument("--proportion", metavar="COL", help="estimate the share of each category")
    what.add_argument("--quantile", metavar="COL", help="estimate a quantile of COL (see --q)")
    estimate.add_argument("--q", type=_probability, metavar="P",
                          help="probability of --quantile (default 0.5)")
    estimate.add_argument("--weights", metavar="COL", help="weight column (default: equal)")
    estimate.add_argument("--strata", metavar="COL", help="stratum column")
    estimate.add_argument("--cluster", metavar="COL", help="first-stage cluster (PSU) column")
    estimate.add_argument("--fpc", metavar="COL", help="finite population correction column")
    estimate.add_argument("--lonely-psu", default="fail",
                          choices=["fail", "remove", "certainty", "adjust", "average"])
    estimate.add_argument("--by", metavar="COL[,COL...]", help="domains")
    estimate.add_argument("--targets", metavar="FILE|census",
                          help="calibrate the weights to these targets first (SEs account for it)")
    estimate.add_argument("--method", default="rake", choices=METHODS[:3],
                          help="calibration method with --targets")
    estimate.add_argument("--alpha", type=_alpha, default=0.05, help="significance level")
    _format_argument(estimate, csv=True)
    estimate.set_defaults(handler=run_estimate, needs_questionnaire=False)

    items = subparsers.add_parser(
        "items", help="item analysis: difficulty, discrimination, alpha, distractors",
        description="Item analysis of scored items (analysis.items).",
    )
    _input_arguments(items, questionnaire="required")
    items.add_argument("--weights", metavar="COL", help="survey weight column")
    _format_argument(items)
    items.set_defaults(handler=run_items, needs_questionnaire=True)

    quality = subparsers.add_parser(
        "quality", help="data-quality flags: speeders, straight-lining, attention, duplicates",
        description="Data-quality flags (analysis.quality).",
    )
    _input_arguments(quality, questionnaire="required")
    quality.add_argument("--out", metavar="FILE", help="write the flags (.csv or .parquet)")
    _format_argument(quality)
    quality.set_defaults(handler=run_quality, needs_questionnaire=True)

    simulate = subparsers.add_parser(
        "simulate", help="store simulated responses with a known truth",
        description="Simulate responses and store them (analysis.simulation); the true "
        "population values go to <DIR>/simulation/truth.json.",
    )
    simulate.add_argument("--questionnaire", required=True, metavar="ID")
    simulate.add_argument("--version", help="questionnaire version (default: the newest open)")
    simulate.add_argument("--n", required=True, type=_positive_int,
                          help="responses (participants for a pre/post quiz)")
    simulate.add_argument("--seed", required=True, type=_seed)
    simulate.add_argument("--out", metavar="DIR", help="data folder (default: the configured one)")
    simulate.add_argument("--method", default="bulk", choices=["bulk", "submit"],
                          help="bulk: compacted files at once; submit: one by one as the app")
    simulate.add_argument("--breakoff", type=_rate, help="share of break-offs (default 0.12)")
    simulate.add_argument("--truth-per-province", type=_positive_int, metavar="M",
                          help="simulated population per province for the truth (default 10000)")
    simulate.add_argument("--no-truth", action="store_true", help="skip the true values")
    _format_argument(simulate)
    simulate.set_defaults(handler=run_simulate)

    demo = subparsers.add_parser(
        "demo", help="fill a data folder with a demo dataset",
        description="3,000 cfl + 1,000 oecd_infe responses + 200 edu_quiz participants.",
    )
    demo.add_argument("--if-empty", action="store_true",
                      help="do nothing when the folder already holds responses")
    demo.add_argument("--data-dir", metavar="DIR", help="default: the configured data folder")
    demo.add_argument("--seed", type=_seed, default=2026)
    _format_argument(demo)
    demo.set_defaults(handler=run_demo)


# --------------------------------------------------------------------------------------------
# Shared helpers


class Progress:
    """A progress bar on standard error, drawn only when it is a terminal."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = max(int(total), 1)
        self.active = sys.stderr.isatty()
        self.started = time.perf_counter()

    def update(self, done: int, label: str | None = None) -> None:
        if not self.active:
            return
        share = min(max(done / self.total, 0.0), 1.0)
        width = 30
        filled = round(share * width)
        text = label or self.label
        elapsed = time.perf_counter() - self.started
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {100 * share:5.1f}% {text} "
            f"({elapsed:.1f} s)\x1b[K"
        )
        sys.stderr.flush()

    def done(self) -> None:
        if self.active:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _guarded(body: Callable[[], str]) -> int:
    """Run ``body`` printing its output, with warnings as one line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            text = body()
        finally:
            for w in caught:
                print(f"warning: {one_line(str(w.message))}", file=sys.stderr)
    if text:
        print(text)
    return 0


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def _json(value: Any) -> str:
    return json.dumps(_clean(value), ensure_ascii=False, indent=2)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [_clean(r) for r in frame.astype(object).to_dict(orient="records")]


def _table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "(no rows)"
    return frame.to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep="NA")


def _names(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _registry(args: argparse.Namespace) -> Any:
    from questionnaires.registry import load_registry

    return load_registry(args.store if getattr(args, "store", None) else None)


def _questionnaire(args: argparse.Namespace, data: pd.DataFrame | None) -> Any:
    registry = _registry(args)
    qid = args.questionnaire
    version = getattr(args, "version", None)
    if version is None and data is not None and "questionnaire_version" in data.columns:
        found = pd.unique(data["questionnaire_version"].dropna().astype(str))
        if len(found) == 1:
            version = str(found[0])
        elif len(found) > 1:
            raise CommandError(
                f"the data hold {len(found)} versions of the questionnaire "
                f"({', '.join(sorted(found))}); choose one with --version."
            )
    if version is not None:
        return registry.get(qid, version)
    return registry.latest(qid)


def _read(args: argparse.Namespace) -> pd.DataFrame:
    if args.data is not None and args.store is not None:
        raise CommandError("give either DATA or --store DIR, not both.")
    if args.data is not None:
        return read_table(args.data)
    if args.store is None:
        raise CommandError(
            "give a CSV or Parquet file (DATA) or --store DIR --questionnaire ID to read from."
        )
    if not args.questionnaire:
        raise CommandError("--store needs --questionnaire ID (which questionnaire to read).")
    folder = Path(args.store)
    if not folder.is_dir():
        raise CommandError(f"--store {args.store!r} is not a folder.")
    from responses.store import ParquetResponseStore

    store = ParquetResponseStore(folder)
    registry = _registry(args)
    if args.questionnaire not in registry.ids():
        registry.latest(args.questionnaire)  # raises with the list of questionnaires
    versions = store.list_versions(args.questionnaire)
    if not versions:
        raise CommandError(
            f"the store {args.store!r} holds no responses to {args.questionnaire!r}."
        )
    version = args.version or versions[-1]
    if version not in versions:
        raise CommandError(
            f"the store holds no responses to {args.questionnaire!r} version {version!r}; "
            f"its versions are {', '.join(versions)}."
        )
    frame = store.read(args.questionnaire, version=version)
    store.close()
    return frame


def _analysis_frame(args: argparse.Namespace, progress: Progress) -> pd.DataFrame:
    """The data to weight or estimate from: scored first when a questionnaire is named."""
    progress.update(0, "reading")
    data = _read(args)
    if args.questionnaire:
        from analysis.scoring import score_responses

        progress.update(1, "scoring")
        questionnaire = _questionnaire(args, data)
        scored = score_responses(data, questionnaire)
        extra = [c for c in data.columns if c not in scored.frame.columns]
        data = pd.concat([scored.frame, data[extra]], axis=1)
    return data


def _check_columns(data: pd.DataFrame, options: Sequence[tuple[str, str | None]]) -> None:
    import difflib

    names = [str(c) for c in data.columns]
    for option, column in options:
        if column is None or column in data.columns:
            continue
        close = difflib.get_close_matches(column, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        listed = ", ".join(names[:15]) + (
            f" and {len(names) - 15} more" if len(names) > 15 else ""
        )
        raise CommandError(
            f"{option}: column {column!r} is not in the data{hint}; columns: {listed}."
        )


def _write(frame: pd.DataFrame, path: str) -> None:
    name = path.lower()
    if name.endswith(".parquet") or name.endswith(".pq"):
        frame.to_parquet(path, index=False)
    elif name.endswith(".csv") or name.endswith(".csv.gz"):
        frame.to_csv(path, index=False)
    else:
        raise CommandError(
            f"--out {path!r}: give a file ending in .csv or .parquet to write."
        )


def _targets(spec: str) -> Any:
    from analysis.targets import Targets, census_targets

    if spec == "census":
        return census_targets()
    path = Path(spec)
    if not spec.lower().endswith((".csv", ".csv.gz")):
        raise CommandError(
            f"--targets {spec!r}: give 'census' or a CSV file with columns variable,level,total."
        )
    if not path.is_file():
        raise CommandError(f"--targets {spec!r} does not exist.")
    return Targets.read_csv(path)


# --------------------------------------------------------------------------------------------
# Handlers


def run_score(args: argparse.Namespace) -> int:
    """Handler of ``score``."""
    return _guarded(lambda: _score(args))


def _score(args: argparse.Namespace) -> str:
    from analysis.scoring import score_responses

    if not args.questionnaire:
        raise CommandError("score needs --questionnaire ID (whose scoring rules to use).")
    progress = Progress("score", 3)
    progress.update(0, "reading")
    data = _read(args)
    questionnaire = _questionnaire(args, data)
    progress.update(1, "scoring")
    scored = score_responses(data, questionnaire)
    if args.out:
        progress.update(2, "writing")
        _write(scored.frame, args.out)
    progress.done()
    columns = [f"dim__{d}" for d in scored.dimensions]
    if scored.index:
        columns.append(scored.index)
    rows = []
    for column in columns:
        values = scored.frame[column].to_numpy(dtype=float, na_value=np.nan)
        ok = values[~np.isnan(values)]
        rows.append({
            "score": column,
            "n": len(ok),
            "mean": float(ok.mean()) if len(ok) else math.nan,
            "sd": float(ok.std(ddof=1)) if len(ok) > 1 else math.nan,
            "min": float(ok.min()) if len(ok) else math.nan,
            "max": float(ok.max()) if len(ok) else math.nan,
        })
    summary = pd.DataFrame(rows)
    if args.format == "json":
        return _json({
            "questionnaire_id": scored.questionnaire_id,
            "questionnaire_version": scored.questionnaire_version,
            "n": scored.n,
            "out": args.out,
            "scores": _records(summary),
        })
    head = (
        f"Scored {scored.n} responses to {scored.questionnaire_id} "
        f"{scored.questionnaire_version} (unweighted summary)"
    )
    tail = f"\nScored data written to {args.out}" if args.out else ""
    return f"{head}\n{_table(summary)}{tail}"


def run_weight(args: argparse.Namespace) -> int:
    """Handler of ``weight``."""
    return _guarded(lambda: _weight(args))


def _weight(args: argparse.Namespace) -> str:
    from analysis.weighting import Trim, calibrate

    progress = Progress("weight", 3)
    targets = _targets(args.targets)
    data = _analysis_frame(args, progress)
    _check_columns(data, [("--base-weights", args.base_weights)])
    if args.bounds is not None and args.method not in ("linear", "logit"):
        raise CommandError(f"--bounds is for --method linear or logit, not {args.method}.")
    if args.method == "logit" and args.bounds is None:
        raise CommandError("--method logit needs --bounds LOW,HIGH.")
    trim = Trim(upper=args.trim_upper, relative_to="mean") if args.trim_upper else None
    progress.update(2, "calibrating")
    result = calibrate(
        data, targets, weights=args.base_weights, method=args.method, bounds=args.bounds,
        trim=trim,
    )
    if args.out:
        _write(data.assign(**{args.weight_column: result.weights}), args.out)
    progress.done()
    summary = result.to_frame()
    if args.format == "json":
        return _json({
            "summary": _records(summary)[0],
            "margins": _records(result.margins),
            "out": args.out,
        })
    lines = [
        f"Calibrated {result.n} weights ({result.method}) to {len(targets.margins)} margin(s) "
        f"and {len(targets.numeric)} numeric total(s)",
        _table(summary.T.reset_index().set_axis(["", "value"], axis=1)),
    ]
    worst = result.margins.sort_values("rel_error", ascending=False).head(5)
    lines += ["", "Largest margin errors:", _table(worst)]
    if args.out:
        lines.append(f"\nData with column {args.weight_column!r} written to {args.out}")
    return "\n".join(lines)


def run_estimate(args: argparse.Namespace) -> int:
    """Handler of ``estimate``."""
    return _guarded(lambda: _estimate(args))


def _estimate(args: argparse.Namespace) -> str:
    from analysis.design import Design
    from analysis.estimation import (
        estimate_mean,
        estimate_proportion,
        estimate_quantile,
        estimate_total,
    )

    if args.q is not None and args.quantile is None:
        raise CommandError("--q is the probability of --quantile; give --quantile COL too.")
    if args.method != "rake" and args.targets is None:
        raise CommandError("--method is the calibration method of --targets; give --targets.")
    progress = Progress("estimate", 4)
    targets = _targets(args.targets) if args.targets else None
    data = _analysis_frame(args, progress)
    statistic, column = next(
        (name, getattr(args, name))
        for name in ("mean", "total", "proportion", "quantile")
        if getattr(args, name) is not None
    )
    by = _names(args.by)
    _check_columns(
        data,
        [(f"--{statistic}", column), ("--weights", args.weights), ("--strata", args.strata),
         ("--cluster", args.cluster), ("--fpc", args.fpc),
         *(("--by", b) for b in by)],
    )
    weights = args.weights
    calibration = None
    base = None
    if targets is not None:
        from analysis.weighting import calibrate

        progress.update(2, "calibrating")
        result = calibrate(data, targets, weights=args.weights, method=args.method)
        data = data.assign(_calibrated_weight=result.weights, _base_weight=result.base_weights)
        weights, base, calibration = "_calibrated_weight", "_base_weight", result.model
    progress.update(3, "estimating")
    design = Design(
        data, weights=weights, strata=args.strata, cluster=args.cluster, fpc=args.fpc,
        calibration=calibration, base_weights=base, lonely_psu=args.lonely_psu,
    )
    options: dict[str, Any] = {"by": by or None, "alpha": args.alpha}
    if statistic == "mean":
        estimates = estimate_mean(design, column, **options)
    elif statistic == "total":
        estimates = estimate_total(design, column, **options)
    elif statistic == "proportion":
        estimates = estimate_proportion(design, column, **options)
    else:
        q = 0.5 if args.q is None else args.q
        estimates = estimate_quantile(design, column, quantiles=q, **options)
    progress.done()
    records = [{k: r[k] for k in ESTIMATE_KEYS} for r in estimates.to_records()]
    if args.format == "json":
        return _json(records)
    frame = estimates.to_frame()
    keep = [*by, "variable", "level", "estimate", "se", "ci_lower", "ci_upper", "df", "n", "deff"]
    frame = frame[[c for c in keep if c in frame.columns]]
    if statistic != "proportion" and statistic != "quantile":
        frame = frame.drop(columns=["level"], errors="ignore")
    if args.format == "csv":
        return frame.to_csv(index=False).rstrip("\n")
    level = round(100 * (1 - args.alpha), 2)
    design_text = []
    if args.strata:
        design_text.append(f"strata {args.strata}")
    if args.cluster:
        design_text.append(f"clusters {args.cluster}")
    if targets is not None:
        design_text.append(f"weights calibrated ({args.method}) to {args.targets}")
    elif args.weights:
        design_text.append(f"weights {args.weights}")
    described = "; ".join(design_text) or "equal weights, simple random sample"
    frame = frame.rename(columns={"ci_lower": f"{level:g}% CI lower", "ci_upper": "upper"})
    return f"{statistic.capitalize()} of {column} ({described})\n{_table(frame)}"


def run_items(args: argparse.Namespace) -> int:
    """Handler of ``items``."""
    return _guarded(lambda: _items(args))


def _items(args: argparse.Namespace) -> str:
    from analysis.items import analyse_items

    if not args.questionnaire:
        raise CommandError("items needs --questionnaire ID (which items to analyse).")
    progress = Progress("items", 2)
    progress.update(0, "reading")
    data = _read(args)
    questionnaire = _questionnaire(args, data)
    _check_columns(data, [("--weights", args.weights)])
    progress.update(1, "analysing")
    result = analyse_items(data, questionnaire, weights=args.weights)
    progress.done()
    if args.format == "json":
        return _json({
            "questionnaire_id": result.questionnaire_id,
            "questionnaire_version": result.questionnaire_version,
            "weighted": result.weighted,
            "items": _records(result.items),
            "dimensions": _records(result.dimensions),
            "distractors": _records(result.distractors),
        })
    items = result.items[["item", "dimension", "n", "percent_correct", "difficulty",
                          "r_item_rest", "alpha_if_deleted"]]
    return (
        f"Items of {result.questionnaire_id} {result.questionnaire_version} "
        f"({'weighted' if result.weighted else 'unweighted'})\n{_table(items)}\n\n"
        f"Dimensions\n{_table(result.dimensions)}"
    )


def run_quality(args: argparse.Namespace) -> int:
    """Handler of ``quality``."""
    return _guarded(lambda: _quality(args))


def _quality(args: argparse.Namespace) -> str:
    from analysis.quality import quality_flags, quality_summary

    if not args.questionnaire:
        raise CommandError("quality needs --questionnaire ID (which questionnaire to check).")
    progress = Progress("quality", 2)
    progress.update(0, "reading")
    data = _read(args)
    questionnaire = _questionnaire(args, data)
    progress.update(1, "checking")
    flags = quality_flags(data, questionnaire)
    summary = quality_summary(flags)
    if args.out:
        _write(flags, args.out)
    progress.done()
    frame = summary.to_frame()
    if args.format == "json":
        return _json({"n": summary.n, "flags": _records(frame), "out": args.out})
    tail = f"\nFlags written to {args.out}" if args.out else ""
    return f"Quality flags of {summary.n} responses\n{_table(frame)}{tail}"


def _data_dir(value: str | None) -> Path:
    if value:
        return Path(value)
    from responses.config import load_config

    return Path(load_config().data_dir)


def run_simulate(args: argparse.Namespace) -> int:
    """Handler of ``simulate``."""
    return _guarded(lambda: _simulate(args))


def _simulate(args: argparse.Namespace) -> str:
    from dataclasses import replace

    from analysis.simulation import SimulationSpec, simulate

    registry = _registry(argparse.Namespace(store=args.out))
    folder = _data_dir(args.out)
    if args.version:
        questionnaire = registry.get(args.questionnaire, args.version)
    else:  # the version respondents are offered (open/close set by administrators)
        from responses.overrides import offered_version
        from responses.store import ParquetResponseStore

        if not registry.versions(args.questionnaire):  # unknown: fail before touching the folder
            registry.latest(args.questionnaire)
        questionnaire = offered_version(
            registry, ParquetResponseStore(folder).state, args.questionnaire
        )
    spec = SimulationSpec()
    if args.breakoff is not None:
        spec = replace(spec, rates=replace(spec.rates, breakoff=args.breakoff))
    if args.truth_per_province is not None:
        if args.truth_per_province < 100:
            raise CommandError("--truth-per-province must be at least 100.")
        spec = replace(spec, truth_per_province=args.truth_per_province)
    progress = Progress(f"simulate {questionnaire.id}", args.n)
    result = simulate(
        questionnaire, args.n, seed=args.seed, store=folder, method=args.method, spec=spec,
        truth=not args.no_truth, progress=lambda done, total: progress.update(done),
    )
    progress.done()
    national = result.truth.get("national", {})
    summary = {
        "questionnaire_id": result.questionnaire_id,
        "questionnaire_version": result.questionnaire_version,
        "data_dir": str(folder),
        "n_submitted": result.n_submitted,
        "n_breakoffs": result.n_breakoffs,
        "method": result.method,
        "validated": result.validated,
        "truth_path": result.truth_path,
        "design_path": result.design_path,
        "seconds": round(result.seconds, 3),
        "true_national": national,
    }
    if args.format == "json":
        return _json(summary)
    lines = [
        f"Stored {result.n_submitted} simulated responses to {result.questionnaire_id} "
        f"{result.questionnaire_version} in {folder} ({result.method}; "
        f"{result.validated} checked against the questionnaire; {result.n_breakoffs} "
        f"break-offs saved as drafts) in {result.seconds:.1f} s",
    ]
    if national:
        values = ", ".join(f"{k} {v:.2f}" for k, v in national.items() if k != "mc_se")
        lines.append(f"True national values: {values}")
    if result.truth_path:
        lines.append(f"Truth: {result.truth_path}")
    return "\n".join(lines)


def run_demo(args: argparse.Namespace) -> int:
    """Handler of ``demo``."""
    return _guarded(lambda: _demo(args))


def _demo(args: argparse.Namespace) -> str:
    from analysis.simulation import demo

    folder = _data_dir(args.data_dir)
    bars: dict[str, Progress] = {}

    def report(qid: str, done: int, total: int) -> None:
        bar = bars.setdefault(qid, Progress(f"demo {qid}", total))
        bar.update(done)

    results = demo(folder, if_empty=args.if_empty, seed=args.seed, progress=report)
    for bar in bars.values():
        bar.done()
    rows = [
        {"questionnaire_id": r.questionnaire_id, "n_submitted": r.n_submitted,
         "n_breakoffs": r.n_breakoffs, "seconds": round(r.seconds, 2)}
        for r in results
    ]
    if args.format == "json":
        return _json({"data_dir": str(folder), "skipped": not results, "stored": rows})
    if not results:
        return f"{folder} already holds responses; nothing was added (--if-empty)."
    return f"Demo data stored in {folder}\n{_table(pd.DataFrame(rows))}"


__all__ = ["EXIT_BAD_INPUT", "Progress", "add_parsers"]
