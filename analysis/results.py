"""Result objects of design-based estimation: one estimate, and a collection of them."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import pandas as pd

RECORD_KEYS = (
    "by",
    "variable",
    "level",
    "statistic",
    "estimate",
    "se",
    "ci_lower",
    "ci_upper",
    "df",
    "n",
    "deff",
    "cv",
    "flags",
)


class Domain(Mapping[str, object]):
    """A read-only, hashable mapping of domain column to value (``Estimate.by``)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, object] | None = None):
        self._items = dict(items or {})

    def __getitem__(self, key: str) -> object:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(self._items.items()))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return self._items == dict(other.items())

    def __repr__(self) -> str:
        return repr(self._items)


@dataclass(frozen=True)
class Estimate:
    """One design-based estimate.

    Attributes
    ----------
    estimate
        The point estimate.
    se
        Its standard error (linearised or replicate).
    ci_lower, ci_upper
        Confidence limits at the level the estimate was asked for (t with ``df`` degrees of
        freedom; the normal when ``df`` is infinite).
    df
        Degrees of freedom of the confidence interval.
    n
        Number of respondents the estimate is computed from (in its domain, not missing).
    deff
        Design effect (Kish): the variance over that of a simple random sample of the same
        size without replacement, as R's ``deff=TRUE``. NaN when not defined.
    cv
        Coefficient of variation, ``se / |estimate|``.
    variable
        Column estimated (``"num/den"`` for a ratio).
    level
        Category of a proportion, or the probability of a quantile; None otherwise.
    by
        Domain: column name to value.
    statistic
        ``"mean"``, ``"total"``, ``"proportion"``, ``"ratio"`` or ``"quantile"``.
    flags
        Reasons the estimate is too imprecise to publish: ``"small_n"`` (fewer respondents
        than ``min_n``), ``"high_cv"`` (coefficient of variation above ``max_cv``).
    """

    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    df: float
    n: int
    deff: float
    cv: float
    variable: str
    level: object = None
    by: Mapping[str, object] = field(default_factory=Domain)
    statistic: str = "mean"
    flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.by, Domain):
            object.__setattr__(self, "by", Domain(self.by))

    @property
    def publishable(self) -> bool:
        """True when no low-precision flag is raised."""
        return not self.flags

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite numbers become None)."""
        return {
            "by": {str(k): _plain(v) for k, v in self.by.items()},
            "variable": self.variable,
            "level": _plain(self.level),
            "statistic": self.statistic,
            "estimate": _number(self.estimate),
            "se": _number(self.se),
            "ci_lower": _number(self.ci_lower),
            "ci_upper": _number(self.ci_upper),
            "df": _number(self.df),
            "n": int(self.n),
            "deff": _number(self.deff),
            "cv": _number(self.cv),
            "flags": list(self.flags),
        }


class Estimates(Sequence[Estimate]):
    """An ordered, immutable collection of :class:`Estimate` (one per domain and variable).

    Parameters
    ----------
    items
        The estimates.
    alpha
        Significance level of their confidence intervals.
    """

    __slots__ = ("_items", "alpha")

    def __init__(self, items: Sequence[Estimate] = (), *, alpha: float = 0.05):
        self._items = tuple(items)
        self.alpha = alpha

    @overload
    def __getitem__(self, index: int) -> Estimate: ...

    @overload
    def __getitem__(self, index: slice) -> Estimates: ...

    def __getitem__(self, index: int | slice) -> Estimate | Estimates:
        if isinstance(index, slice):
            return Estimates(self._items[index], alpha=self.alpha)
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Estimate]:
        return iter(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Estimates):
            return NotImplemented
        return self._items == other._items and self.alpha == other.alpha

    def __hash__(self) -> int:
        return hash((self._items, self.alpha))

    def __repr__(self) -> str:
        return f"Estimates({len(self._items)} estimates, alpha={self.alpha})"

    def __add__(self, other: Estimates) -> Estimates:
        return Estimates(self._items + tuple(other), alpha=self.alpha)

    def find(self, *, variable: str | None = None, level: object = None, **by: object) -> Estimate:
        """The single estimate of ``variable`` (and ``level``) in the domain given by ``by``.

        Raises
        ------
        KeyError
            None or several estimates match.
        """
        found = [
            e
            for e in self._items
            if (variable is None or e.variable == variable)
            and (level is None or e.level == level)
            and all(e.by.get(k) == v for k, v in by.items())
        ]
        if len(found) != 1:
            raise KeyError(
                f"{len(found)} estimates match variable={variable!r}, level={level!r}, by={by!r}"
            )
        return found[0]

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-ready dicts with keys ``by, variable, level, statistic, estimate, se,
        ci_lower, ci_upper, df, n, deff, cv, flags``."""
        return [e.to_record() for e in self._items]

    def to_frame(self) -> pd.DataFrame:
        """One row per estimate: a column per domain variable, then the statistics."""
        by_names: dict[str, None] = {}
        for e in self._items:
            for k in e.by:
                by_names.setdefault(str(k), None)
        rows = []
        for e in self._items:
            row: dict[str, Any] = {k: e.by.get(k) for k in by_names}
            row.update(
                variable=e.variable,
                level=e.level,
                statistic=e.statistic,
                estimate=e.estimate,
                se=e.se,
                ci_lower=e.ci_lower,
                ci_upper=e.ci_upper,
                df=e.df,
                n=e.n,
                deff=e.deff,
                cv=e.cv,
                flags=",".join(e.flags),
            )
            rows.append(row)
        columns = [
            *by_names,
            "variable",
            "level",
            "statistic",
            "estimate",
            "se",
            "ci_lower",
            "ci_upper",
            "df",
            "n",
            "deff",
            "cv",
            "flags",
        ]
        return pd.DataFrame(rows, columns=columns)


def _number(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def precision_flags(n: int, cv: float, *, min_n: int, max_cv: float) -> tuple[str, ...]:
    """The low-precision flags of an estimate (see :class:`Estimate`)."""
    flags = []
    if n < min_n:
        flags.append("small_n")
    if cv > max_cv:
        flags.append("high_cv")
    return tuple(flags)
