"""National and provincial averages of the scores: what a respondent's feedback compares with.

:func:`score_averages` scores the stored responses of one questionnaire version
(:func:`analysis.scoring.score_responses`), weights them to the 2020 census
(:func:`analysis.targets.census_targets`, :func:`analysis.weighting.calibrate`) and estimates the
mean of every dimension score and of the index, overall and by province
(:func:`analysis.estimation.estimate_mean`, calibration-aware standard errors). The app caches
the result; the feedback page shows an average only when it rests on at least ``min_n``
responses, and says so otherwise.

Weighting falls back from fine to coarse margins, because a young survey does not yet cover
every province: the first of :data:`MARGIN_SETS` whose variables every response has and whose
cells the responses fill is used (raking). When none can be met (or the questionnaire has no
demographic roles, like the training quiz) the averages are unweighted, and
:attr:`ScoreAverages.weighted_on` is empty so the page can say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from analysis.design import Design
from analysis.errors import EstimationError, WeightingError
from analysis.estimation import estimate_mean
from analysis.results import Estimate, Estimates
from analysis.scoring import DIMENSION_PREFIX, score_responses
from analysis.targets import DEFAULT_MARGINS, census_targets
from analysis.weighting import calibrate
from questionnaires.model import Questionnaire

__all__ = ["MARGIN_SETS", "ScoreAverages", "average_scores", "score_averages"]

#: Census margins tried in turn (the platform's default margins first, national ones last).
MARGIN_SETS: tuple[tuple[str, ...], ...] = (
    tuple(DEFAULT_MARGINS),
    ("province", "sex", "age_band", "urban"),
    ("region", "sex", "age_band", "urban"),
    ("sex", "age_band", "urban"),
)

_WEIGHT = "_average_weight"


@dataclass(frozen=True)
class ScoreAverages:
    """Weighted mean scores of the stored responses, overall and by province.

    Attributes
    ----------
    n
        Responses averaged.
    min_n
        Fewest responses an average shown to a respondent may rest on.
    weighted_on
        The census margins the weights were raked to (``()``: unweighted).
    variables
        The columns averaged: ``dim__<dimension>`` for each dimension, then the index.
    national
        One estimate per variable (empty when ``n < min_n``).
    provincial
        One estimate per variable and province (``by = {"province": code}``); empty when the
        questionnaire has no province or ``n < min_n``.
    """

    n: int
    min_n: int
    weighted_on: tuple[str, ...]
    variables: tuple[str, ...]
    national: Estimates
    provincial: Estimates

    def national_mean(self, variable: str) -> Estimate | None:
        """The overall mean of ``variable``, or ``None`` when it rests on too few responses."""
        return _usable(self.national, self.min_n, variable=variable)

    def province_mean(self, variable: str, province: int | None) -> Estimate | None:
        """The mean of ``variable`` in ``province`` (GB/T 2260 code), or ``None`` when there
        are too few responses from it (or ``province`` is ``None``)."""
        if province is None:
            return None
        return _usable(self.provincial, self.min_n, variable=variable, province=int(province))

    def province_n(self, province: int | None) -> int:
        """Responses from ``province`` (0 when unknown)."""
        if province is None:
            return 0
        counts = [e.n for e in self.provincial if e.by.get("province") == int(province)]
        return max(counts, default=0)

    def to_frame(self) -> pd.DataFrame:
        """National then provincial estimates, one row each (``province`` null for national)."""
        frames = [self.national.to_frame().assign(province=pd.NA)]
        if len(self.provincial):
            frames.append(self.provincial.to_frame())
        frame = pd.concat(frames, ignore_index=True)
        first = ["province", "variable"]
        return frame[first + [c for c in frame.columns if c not in first]]


def _usable(estimates: Estimates, min_n: int, **where: object) -> Estimate | None:
    try:
        found = estimates.find(**where)  # type: ignore[arg-type]
    except KeyError:
        return None
    return found if found.n >= min_n and found.estimate == found.estimate else None


def _margin_variables(margins: Sequence[str]) -> set[str]:
    return {part for margin in margins for part in margin.split("*")}


def _weights(
    frame: pd.DataFrame, margin_sets: Sequence[Sequence[str]]
) -> tuple[pd.Series | None, tuple[str, ...], object]:
    """Raked weights for the first margin set the data support, its margins and the model."""
    for margins in margin_sets:
        needed = _margin_variables(margins)
        if not needed <= set(frame.columns):
            continue
        if any(frame[v].isna().any() for v in needed):
            continue
        try:
            targets = census_targets(margins=margins)
            result = calibrate(
                frame, targets, method="rake", tol=1e-10, max_iter=500, on_nonconvergence="raise"
            )
        except WeightingError:
            continue
        return pd.Series(result.weights, index=frame.index), tuple(margins), result.model
    return None, (), None


def average_scores(
    scored: pd.DataFrame,
    variables: Sequence[str],
    *,
    min_n: int = 30,
    margin_sets: Sequence[Sequence[str]] = MARGIN_SETS,
    alpha: float = 0.05,
) -> ScoreAverages:
    """Weighted means of score columns, overall and by province.

    Parameters
    ----------
    scored
        One row per response with the ``variables`` and the analysis columns the margins
        name (``province``, ``region``, ``sex``, ``age_band``, ``urban``), as
        :attr:`analysis.scoring.ScoredResponses.frame` has them.
    variables
        The numeric columns to average (missing values are left out of each one's mean).
    min_n
        No estimate is made from fewer rows than this, and a province's average is reported
        only when it has this many (:meth:`ScoreAverages.province_mean`).
    margin_sets
        Census margins to try, in order (:data:`MARGIN_SETS`); the first whose variables
        every row has and whose targets raking can meet is used; none: equal weights.
    alpha
        Significance level of the confidence intervals.

    Returns
    -------
    ScoreAverages

    Notes
    -----
    For each variable :math:`y` the estimate is the calibrated-weight mean
    :math:`\\hat{\\bar y} = \\sum_i w_i y_i / \\sum_i w_i` over the rows where :math:`y` is
    present. The weights start from :math:`N/n` (``N`` the census adult population) and are
    raked to the adult (15+) totals of the 2020 census (:func:`analysis.targets.census_targets`);
    the standard error is linearised with the calibration residuals, R's ``svymean`` on a
    ``rake``d ``svydesign(ids=~1)``. Province means are domain estimates of the same design
    (R's ``svyby``). Checked against R in ``tests/reference/averages.R``. Reference: Lumley
    (2010), *Complex Surveys*, sections 2.2 and 7.2.
    """
    variables = tuple(variables)
    n = len(scored)
    empty = Estimates((), alpha=alpha)
    if n < max(min_n, 2):
        return ScoreAverages(n, min_n, (), variables, empty, empty)
    weights, margins, model = _weights(scored, margin_sets)
    if weights is None:
        design = Design(scored)
    else:
        design = Design(
            scored.assign(**{_WEIGHT: weights}),
            weights=_WEIGHT,
            calibration=model,  # type: ignore[arg-type]
        )
    national: list[Estimate] = []
    provincial: list[Estimate] = []
    has_province = "province" in scored.columns and scored["province"].notna().any()
    for variable in variables:
        if scored[variable].notna().sum() < 2:
            continue
        try:
            national.extend(estimate_mean(design, variable, alpha=alpha, min_n=min_n))
            if has_province:
                provincial.extend(
                    estimate_mean(design, variable, by="province", alpha=alpha, min_n=min_n)
                )
        except EstimationError:
            continue
    return ScoreAverages(
        n,
        min_n,
        margins,
        variables,
        Estimates(national, alpha=alpha),
        Estimates(provincial, alpha=alpha),
    )


def score_averages(
    responses: pd.DataFrame,
    questionnaire: Questionnaire,
    *,
    min_n: int = 30,
    margin_sets: Sequence[Sequence[str]] = MARGIN_SETS,
    alpha: float = 0.05,
) -> ScoreAverages:
    """Weighted mean dimension scores and index of stored responses, overall and by province.

    Parameters
    ----------
    responses
        Stored responses to ``questionnaire`` (one version), as
        :meth:`responses.store.ParquetResponseStore.read` gives them (an empty store's
        frame, without answer columns, is fine).
    questionnaire
        The questionnaire version answered.
    min_n, margin_sets, alpha
        As for :func:`average_scores`.

    Returns
    -------
    ScoreAverages
        Of the columns ``dim__<dimension>`` (0-100) for each dimension, then the index.

    Raises
    ------
    ScoringError
        The responses do not match the questionnaire.

    Notes
    -----
    :func:`analysis.scoring.score_responses` (without item scores), then
    :func:`average_scores`.
    """
    variables = tuple(DIMENSION_PREFIX + d.name for d in questionnaire.dimensions)
    if questionnaire.index is not None:
        variables += (questionnaire.index.name,)
    if len(responses) < max(min_n, 2):
        # Too few to show; an empty store's frame has no answer columns to score either.
        empty = Estimates((), alpha=alpha)
        return ScoreAverages(len(responses), min_n, (), variables, empty, empty)
    scored = score_responses(responses, questionnaire, item_scores=False).frame
    return average_scores(scored, variables, min_n=min_n, margin_sets=margin_sets, alpha=alpha)
