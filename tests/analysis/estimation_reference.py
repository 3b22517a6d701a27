"""R's reference values and the `api` designs they were computed on.

Written by ``tests/reference/estimation.R`` (R's survey package): the data it used are in
``tests/reference/data/est_*.csv`` and every result in ``tests/reference/estimation_r.json``,
each with the R call that produced it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analysis.design import CalibrationModel, Design
from analysis.results import Estimate

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reference"
R_SCRIPT = REFERENCE_DIR / "estimation.R"
R_OUTPUT = REFERENCE_DIR / "estimation_r.json"
REL = 1e-9  # relative agreement with R asked of every estimate and standard error


@cache
def reference() -> dict[str, Any]:
    """All R results, by name."""
    return json.loads(R_OUTPUT.read_text(encoding="utf-8"))


def ref(name: str) -> dict[str, Any]:
    """One R result (with its ``call``)."""
    return reference()[name]


@cache
def api(name: str) -> pd.DataFrame:
    """``apistrat``, ``apiclus1``, ``apiclus2`` (with R's calibrated weights), or replicates."""
    return pd.read_csv(REFERENCE_DIR / "data" / f"est_{name}.csv")


CALIBRATIONS: dict[str, CalibrationModel] = {
    "ps": CalibrationModel(categorical=("stype",), interaction=True, method="poststratify"),
    "ps2": CalibrationModel(
        categorical=("stype", "sch.wide"), interaction=True, method="poststratify"
    ),
    "rake": CalibrationModel(categorical=("stype", "sch.wide"), method="rake"),
    "rakedefault": CalibrationModel(categorical=("stype", "sch.wide"), method="rake"),
    "linear": CalibrationModel(categorical=("stype",), numeric=("api99",), method="linear"),
    "raking": CalibrationModel(categorical=("stype", "sch.wide"), method="raking"),
    "logit": CalibrationModel(categorical=("stype",), numeric=("api99",), method="logit"),
}
# R's rake() with its default control stops when the weighted table moves by less than 1; the
# standard error then uses each margin's weights from that last sweep, which differ from the
# converged weights by about 1e-5. Our raking converges, so we compare with a tightly converged
# rake() ("rake") at 1e-9 and with R's default ("rakedefault") at 1e-4.
DEFAULT_RAKE_REL = 1e-4


@cache
def strat() -> Design:
    """``svydesign(id=~1, strata=~stype, weights=~pw, data=apistrat, fpc=~fpc)``"""
    return Design(api("apistrat"), weights="pw", strata="stype", fpc="fpc")


@cache
def clus1() -> Design:
    """``svydesign(id=~dnum, weights=~pw, data=apiclus1, fpc=~fpc)``"""
    return Design(api("apiclus1"), weights="pw", cluster="dnum", fpc="fpc")


@cache
def clus2() -> Design:
    """``svydesign(id=~dnum+snum, weights=~pw, data=apiclus2)``: first stage only."""
    return Design(api("apiclus2"), weights="pw", cluster="dnum")


@cache
def clus2_fpc() -> Design:
    """``svydesign(id=~dnum+snum, fpc=~fpc1+fpc2, weights=~pw)`` with
    ``options(survey.ultimate.cluster=TRUE)``."""
    return Design(api("apiclus2"), weights="pw", cluster="dnum", fpc="fpc1")


@cache
def nest() -> Design:
    """``svydesign(id=~dnum, strata=~stype, weights=~pw, data=apistrat, nest=TRUE)``"""
    return Design(api("apistrat"), weights="pw", strata="stype", cluster="dnum", nest=True)


@cache
def lonely(mode: str) -> Design:
    """``svydesign(id=~dnum2, strata=~stype, weights=~pw, nest=TRUE)``: stratum H has one PSU."""
    return Design(
        api("apistrat"),
        weights="pw",
        strata="stype",
        cluster="dnum2",
        nest=True,
        lonely_psu=mode,  # type: ignore[arg-type]
    )


@cache
def calibrated(kind: str) -> Design:
    """``dclus1`` calibrated in R (postStratify, rake, calibrate), weights exported."""
    return Design(
        api("apiclus1"),
        weights=f"w_{kind}",
        cluster="dnum",
        fpc="fpc",
        calibration=CALIBRATIONS[kind],
        base_weights="pw",
    )


def close(actual: float, expected: float | None, *, rel: float = REL, scale: float = 1.0) -> bool:
    """``actual`` agrees with R's ``expected`` (None: R gave NA/NaN)."""
    if expected is None:
        return math.isnan(actual)
    if abs(expected) < 1e-10 * scale:  # R's arithmetic noise around an exact zero
        return abs(actual) < 1e-9 * scale
    return actual == pytest.approx(expected, rel=rel)


def assert_close(
    actual: Sequence[float],
    expected: Sequence[float | None],
    *,
    what: str,
    call: str,
    rel: float = REL,
    scale: Sequence[float] | None = None,
) -> None:
    assert len(actual) == len(expected), f"{what}: {len(actual)} values, R has {len(expected)}"
    for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
        s = 1.0 if scale is None else max(1.0, abs(scale[i]))
        assert close(a, e, rel=rel, scale=s), f"{what}[{i}]: {a!r} but R {e!r}\n  R: {call}"


def assert_matches(
    estimates: Sequence[Estimate],
    name: str,
    *,
    rel: float = REL,
    fields: Sequence[str] = ("estimate", "se", "ci_lower", "ci_upper", "deff"),
) -> None:
    """Estimates (in R's order) agree with R result ``name`` on every field R reported."""
    r = ref(name)
    scale = [e.estimate for e in estimates]
    for field in fields:
        expected = r.get(field)
        if expected is None or (isinstance(expected, list) and not expected):
            continue
        actual = [float(getattr(e, field)) for e in estimates]
        assert_close(actual, expected, what=f"{name}.{field}", call=r["call"], rel=rel, scale=scale)
    if "df" in r:
        expected_df = math.inf if r["df"] is None else r["df"]
        for e in estimates:
            assert e.df == expected_df, f"{name}.df: {e.df} but R {expected_df}"


def by_label(estimate: Estimate) -> str:
    """The domain as R's svyby labels it here: values joined by ``|``."""
    return "|".join(str(v) for v in estimate.by.values())


def in_r_order(estimates: Sequence[Estimate], name: str) -> list[Estimate]:
    """Domain estimates reordered as R's ``svyby`` output ``name`` (one statistic)."""
    labels = ref(name)["by"]
    lookup = {by_label(e): e for e in estimates}
    return [lookup[label] for label in labels]
