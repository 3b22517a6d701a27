"""Errors and warnings of the analysis package.

Every message says where (which column, which cell), what rule was broken and how to fix it, so
the app and the command line can show it unchanged.
"""

from __future__ import annotations


class AnalysisError(ValueError):
    """Base class of the analysis package's errors."""


class ScoringError(AnalysisError):
    """Responses cannot be scored with the questionnaire's rules."""


class WeightingError(AnalysisError):
    """Weights cannot be computed: empty cells, unknown categories, impossible targets."""


class EstimationError(AnalysisError):
    """An estimate cannot be computed from the data and design given."""


class AnalysisWarning(UserWarning):
    """Base class of the analysis package's warnings (filter them all with this)."""


class ConvergenceWarning(AnalysisWarning):
    """An iterative method stopped before meeting its tolerance."""


class PrecisionWarning(AnalysisWarning):
    """An estimate is too imprecise to publish (small n, high coefficient of variation)."""


class MapError(AnalysisError):
    """Values cannot be drawn on the province map: unknown codes, duplicates, non-numbers."""
