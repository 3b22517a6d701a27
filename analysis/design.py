"""Descriptions of a sampling design and of the calibration applied to its weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CalibrationMethod = Literal["poststratify", "rake", "linear", "logit"]


@dataclass(frozen=True)
class CalibrationModel:
    """What a set of weights was calibrated on.

    Weighting returns one beside the calibrated weights; estimation uses it to compute
    standard errors that account for the calibration (the residuals of the influence values
    on the calibration variables, as R's ``calibrate()``, ``postStratify()`` and ``rake()`` do).

    Attributes
    ----------
    categorical
        Categorical calibration variables (column names). Each enters as a set of dummies;
        several may be crossed with ``*`` in one name (``"province*sex"``) for a margin of
        joint cells.
    numeric
        Numeric calibration variables, each entering as one column (GREG with a covariate).
    interaction
        True for post-stratification: the cells are the joint categories of all
        ``categorical`` variables, and there are no numeric ones.
    method
        The calibration function used.
    """

    categorical: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    interaction: bool = False
    method: CalibrationMethod = "linear"

    @property
    def variables(self) -> tuple[str, ...]:
        """Every column the calibration depends on, in order, without repeats."""
        seen: dict[str, None] = {}
        for term in (*self.categorical, *self.numeric):
            for name in term.split("*"):
                seen.setdefault(name.strip(), None)
        return tuple(seen)
