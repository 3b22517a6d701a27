"""Command-line subcommands ``effect`` and ``prepost`` (``python -m analysis ...``).

Bad input (unknown column, a treatment not coded 0/1, no overlap, a file that is not CSV or
Parquet) prints one line ``error: ...`` on standard error and exits with status 2; warnings
print one line each, ``warning: ...``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.design import Design
from analysis.effectiveness import Effect, PrePost, estimate_effect, prepost
from analysis.errors import AnalysisError

EXIT_BAD_INPUT = 2
READERS: dict[str, str] = {
    ".csv": "CSV",
    ".csv.gz": "CSV",
    ".parquet": "Parquet",
    ".pq": "Parquet",
}


class CommandError(AnalysisError):
    """Bad command-line input (a file that cannot be read, a malformed option)."""


def add_parsers(subparsers: Any) -> None:
    """Add the ``effect`` and ``prepost`` subcommands to an argparse subparsers object."""
    effect = subparsers.add_parser(
        "effect",
        help="effect of financial education on an outcome (survey data)",
        description=(
            "Compare respondents who received financial education (treatment 1) with those "
            "who did not (0), with design-based standard errors."
        ),
    )
    effect.add_argument("data", metavar="DATA", help="CSV or Parquet file, one row per respondent")
    effect.add_argument("--outcome", required=True, help="numeric outcome column")
    effect.add_argument("--treatment", required=True, help="0/1 treatment column")
    effect.add_argument(
        "--covariates", default="", help="comma-separated covariates (regression, ipw, aipw)"
    )
    effect.add_argument(
        "--categorical", default="", help="comma-separated numeric-coded covariates to treat "
        "as categories",
    )
    effect.add_argument("--weights", help="sampling-weight column (default: equal weights)")
    effect.add_argument("--strata", help="stratum column")
    effect.add_argument("--cluster", help="first-stage cluster (PSU) column")
    effect.add_argument(
        "--lonely-psu", default="fail",
        choices=["fail", "remove", "certainty", "adjust", "average"],
        help="variance contribution of a stratum with one PSU (default: fail)",
    )
    effect.add_argument(
        "--method", default="difference", choices=["difference", "regression", "ipw", "aipw"]
    )
    effect.add_argument("--alpha", type=float, default=0.05, help="significance level")
    effect.add_argument(
        "--propensity-bounds", default="0.01,0.99",
        help="clip propensities to LOWER,UPPER (ipw, aipw), or 'none'",
    )
    effect.add_argument(
        "--weight-percentiles", default="none",
        help="cap stabilised IPW weights at these percentiles, e.g. 1,99 (ipw), or 'none'",
    )
    effect.add_argument("--format", default="table", choices=["table", "json"])
    effect.set_defaults(handler=run_effect)

    quiz = subparsers.add_parser(
        "prepost",
        help="change in a quiz score before and after a session",
        description="Paired comparison of pre- and post-session quiz scores (edu_quiz).",
    )
    quiz.add_argument("pre", metavar="PRE", help="CSV or Parquet file of the pre quiz")
    quiz.add_argument("post", metavar="POST", help="CSV or Parquet file of the post quiz")
    quiz.add_argument("--id", required=True, help="participant-code column")
    quiz.add_argument("--outcome", required=True, help="numeric score column")
    quiz.add_argument("--group", help="treated/control column: adds difference-in-differences")
    quiz.add_argument("--treated", help="value of --group that marks the treated group")
    quiz.add_argument("--items", default="", help="comma-separated 0/1 item columns")
    quiz.add_argument("--alpha", type=float, default=0.05, help="significance level")
    quiz.add_argument("--format", default="table", choices=["table", "json"])
    quiz.set_defaults(handler=run_prepost)


# --------------------------------------------------------------------------------------------
# Handlers


def run_effect(args: argparse.Namespace) -> int:
    """Handler of ``effect``."""
    return _guarded(lambda: _effect(args))


def run_prepost(args: argparse.Namespace) -> int:
    """Handler of ``prepost``."""
    return _guarded(lambda: _prepost(args))


def _guarded(body: Callable[[], str]) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            text = body()
        except AnalysisError as error:
            _report(caught)
            print(f"error: {_one_line(str(error))}", file=sys.stderr)
            return EXIT_BAD_INPUT
    _report(caught)
    print(text)
    return 0


def _report(caught: Sequence[warnings.WarningMessage]) -> None:
    for w in caught:
        print(f"warning: {_one_line(str(w.message))}", file=sys.stderr)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def read_table(path: str) -> pd.DataFrame:
    """Read a CSV or Parquet file (by its extension), or raise :class:`CommandError`."""
    name = Path(path).name.lower()
    kind = next((k for s, k in READERS.items() if name.endswith(s)), None)
    if kind is None:
        raise CommandError(
            f"{path!r} is not a CSV or Parquet file; give a file ending in .csv or .parquet."
        )
    if not Path(path).is_file():
        raise CommandError(f"{path!r} does not exist.")
    try:
        if kind == "CSV":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except Exception as error:  # any reader failure (parser, Arrow, encoding) is bad input
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CommandError(f"{path!r} could not be read as {kind}: {first}") from None


def _names(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _pair(value: str, option: str) -> tuple[float, float] | None:
    if value.strip().lower() == "none":
        return None
    parts = _names(value)
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) != 2:
        raise CommandError(f"{option} must be two numbers LOWER,UPPER or 'none', not {value!r}.")
    return numbers[0], numbers[1]


def _effect(args: argparse.Namespace) -> str:
    data = read_table(args.data)
    design = Design(
        data,
        weights=args.weights,
        strata=args.strata,
        cluster=args.cluster,
        lonely_psu=args.lonely_psu,
    )
    effect = estimate_effect(
        design,
        args.outcome,
        args.treatment,
        method=args.method,
        covariates=_names(args.covariates),
        categorical=_names(args.categorical),
        alpha=args.alpha,
        propensity_bounds=_pair(args.propensity_bounds, "--propensity-bounds"),
        weight_percentiles=_pair(args.weight_percentiles, "--weight-percentiles"),
    )
    if args.format == "json":
        return json.dumps(effect.to_dict(), ensure_ascii=False, indent=2)
    return format_effect(effect)


def _prepost(args: argparse.Namespace) -> str:
    pre = read_table(args.pre)
    post = read_table(args.post)
    treated: object = args.treated
    if args.treated is not None and args.group is not None:
        column = pre[args.group] if args.group in pre.columns else post.get(args.group)
        if column is not None and pd.api.types.is_numeric_dtype(column):
            try:
                number = float(args.treated)
                treated = int(number) if number.is_integer() else number
            except ValueError:
                treated = args.treated
    result = prepost(
        pre, post, id=args.id, outcome=args.outcome, group=args.group, treated=treated,
        items=_names(args.items), alpha=args.alpha,
    )
    if args.format == "json":
        return json.dumps(result.to_dict(), ensure_ascii=False, indent=2)
    return format_prepost(result)


# --------------------------------------------------------------------------------------------
# Tables


def _g(value: float, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NA"
    return f"{value:.{digits}g}"


def _p(value: float) -> str:
    if math.isnan(value):
        return "NA"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def format_effect(effect: Effect) -> str:
    """A plain-text report of an :class:`Effect`."""
    level = round(100 * (1 - effect.alpha))
    lines = [
        f"Effect of {effect.treatment} on {effect.outcome} (method: {effect.method})",
        f"  effect      {_g(effect.effect)}   SE {_g(effect.se)}   {level}% CI "
        f"[{_g(effect.ci_lower)}, {_g(effect.ci_upper)}]   p {_p(effect.p_value)}   "
        f"df {_g(effect.df)}",
        f"  in SD units {_g(effect.effect_sd)}   {level}% CI [{_g(effect.ci_lower_sd)}, "
        f"{_g(effect.ci_upper_sd)}]   (weighted pooled SD {_g(effect.sd)})",
        f"  respondents {effect.n_treated} treated, {effect.n_control} control",
    ]
    for key, value in effect.details.items():
        lines.append(f"  {key:<16} {_g(value)}")
    if effect.overlap is not None:
        o = effect.overlap
        lines += [
            "",
            f"Overlap: common support [{_g(o.common_support[0])}, {_g(o.common_support[1])}]; "
            f"outside it {100 * o.outside_treated:.1f}% of treated, "
            f"{100 * o.outside_control:.1f}% of control (weighted); "
            f"{o.n_clipped} propensities clipped, {o.n_capped} weights capped; "
            f"effective sizes {o.ess_treated:.0f} treated, {o.ess_control:.0f} control",
            o.propensity.to_string(float_format=lambda v: f"{v:.3f}"),
        ]
    if effect.balance is not None:
        table = effect.balance[["covariate", "level", "smd_before", "smd_after"]]
        lines += ["", "Balance (standardised mean differences):",
                  table.to_string(index=False, float_format=lambda v: f"{v:.3f}")]
    return "\n".join(lines)


def format_prepost(result: PrePost) -> str:
    """A plain-text report of a :class:`PrePost` result."""
    level = round(100 * (1 - result.alpha))
    a = result.attrition
    lines = [
        f"Pre/post change in {result.outcome} ({result.n} pairs on {result.id})",
        f"  pre {_g(result.mean_pre)} (SD {_g(result.sd_pre)})   post {_g(result.mean_post)} "
        f"(SD {_g(result.sd_post)})   r {_g(result.correlation, 3)}",
        f"  change {_g(result.mean_change)}   SE {_g(result.se)}   {level}% CI "
        f"[{_g(result.ci_lower)}, {_g(result.ci_upper)}]   t {_g(result.t)}   "
        f"df {_g(result.df)}   p {_p(result.p_value)}",
        f"  d_z {_g(result.d_z, 3)}   d_av {_g(result.d_av, 3)}   Hedges' g "
        f"{_g(result.hedges_g, 3)} {level}% CI [{_g(result.g_ci_lower, 3)}, "
        f"{_g(result.g_ci_upper, 3)}]",
        f"  attrition: {a.n_pre} pre rows, {a.n_post} post rows, {a.n_paired} paired; "
        f"{len(a.only_pre)} only before, {len(a.only_post)} only after, "
        f"{len(a.duplicated_pre) + len(a.duplicated_post)} duplicated codes, "
        f"{len(a.missing_outcome)} missing scores",
    ]
    if len(result.items):
        lines += ["", "Items (percent correct):",
                  result.items.to_string(index=False, float_format=lambda v: f"{v:.3g}")]
    if result.groups is not None and result.did is not None:
        d = result.did
        lines += [
            "",
            result.groups.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
            f"  difference-in-differences ({d.treatment}) {_g(d.effect)}   SE {_g(d.se)}   "
            f"{level}% CI [{_g(d.ci_lower)}, {_g(d.ci_upper)}]   df {_g(d.df)}   "
            f"p {_p(d.p_value)}   in pre-test SD {_g(d.effect_sd, 3)}",
        ]
    return "\n".join(lines)
