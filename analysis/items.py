"""Item analysis of one questionnaire: difficulty, discrimination, reliability and distractors.

:func:`analyse_items` works on stored responses and their scores (:func:`analysis.scoring.
score_responses`), optionally with survey weights, and gives for every scored item:

- ``n`` (responses that answered it, "don't know" included), and for items with a right answer
  ``n_correct`` and ``percent_correct`` (100 x weighted share right among those answering);
- ``difficulty``: the proportion right (weighted) for ``correct`` items, the mean item score
  (0-1) for ``points`` and ``scale`` items; ``sd`` the item score's standard deviation;
- ``r_item_total``: correlation of the item score with its dimension score, and
  ``r_item_rest``: the corrected item-total correlation, with the *rest score*: the dimension
  score without the item (the mean of the other answered items of the dimension). For a 0/1
  item both are point-biserial correlations. Computed on the responses that answered the item
  and at least one other item of the dimension (pairwise);
- ``alpha_if_deleted``: Cronbach's alpha of the dimension without the item;

for every dimension Cronbach's ``alpha`` and the number of complete cases it uses; and a
distractor table: for each option of each scored choice item (special answers included) the
number and weighted share of those answering who chose it, and the score it gets.

Cronbach's alpha uses listwise complete cases: the responses that answered every item of the
dimension (a "don't know" on a knowledge item is an answer scoring 0; a skipped item or a
special answer on a scale item is not). Items skipped by design (skip logic) therefore restrict
alpha to the respondents who saw all items; ``n_complete`` says how many that is.
``alpha_if_deleted`` uses the same complete cases as ``alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from analysis.errors import ScoringError
from analysis.scoring import ITEM_PREFIX, ScoredResponses, score_responses
from questionnaires.model import SPECIAL_CODES, SPECIAL_LABELS, Question, Questionnaire

__all__ = ["ItemAnalysis", "analyse_items", "cronbach_alpha"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class ItemAnalysis:
    """Item statistics of one questionnaire (from :func:`analyse_items`).

    Attributes
    ----------
    items
        One row per scored item: ``item, dimension, kind, type, n, n_correct,
        percent_correct, difficulty, sd, r_item_total, r_item_rest, alpha_if_deleted``.
    dimensions
        One row per dimension with items: ``dimension, n_items, n_complete, alpha``.
    distractors
        One row per option (special answers included) of each scored choice item:
        ``item, option, code, label, score, correct, n, share``. For a multiple choice the
        share is that of responses choosing the option (shares do not add up to 1).
    weighted
        Whether survey weights were used.
    questionnaire_id, questionnaire_version
        The questionnaire analysed.
    """

    items: pd.DataFrame
    dimensions: pd.DataFrame
    distractors: pd.DataFrame
    weighted: bool
    questionnaire_id: str
    questionnaire_version: str

    def to_frame(self) -> pd.DataFrame:
        """The item table with each item's dimension alpha: one row per item."""
        alpha = self.dimensions.set_index("dimension")["alpha"]
        out = self.items.copy()
        out["alpha_dimension"] = out["dimension"].map(alpha).astype("float64")
        return out


# ============================================================================ statistics
def _wmean(x: FloatArray, w: FloatArray) -> float:
    return float(np.sum(w * x) / np.sum(w))


def _wcorr(x: FloatArray, y: FloatArray, w: FloatArray) -> float:
    """Weighted Pearson correlation; NaN when either variable is constant or n < 2."""
    if len(x) < 2:
        return float("nan")
    w = w / np.sum(w)
    dx = x - np.sum(w * x)
    dy = y - np.sum(w * y)
    sxx = float(np.sum(w * dx * dx))
    syy = float(np.sum(w * dy * dy))
    if sxx <= 0 or syy <= 0:
        return float("nan")
    return float(np.sum(w * dx * dy) / np.sqrt(sxx * syy))


def _wsd(x: FloatArray, w: FloatArray) -> float:
    """Standard deviation with the n - 1 (unweighted) or ``1 - sum(w^2)`` (weighted) divisor."""
    if len(x) < 2:
        return float("nan")
    p = w / np.sum(w)
    m = float(np.sum(p * x))
    denominator = 1.0 - float(np.sum(p * p))
    if denominator <= 0:
        return float("nan")
    return float(np.sqrt(np.sum(p * (x - m) ** 2) / denominator))


def cronbach_alpha(items: ArrayLike, *, weights: ArrayLike | None = None) -> float:
    """Cronbach's alpha of complete item scores.

    Parameters
    ----------
    items
        An (n, k) array of item scores without missing values, k >= 2.
    weights
        Survey weights (n,), or ``None``.

    Returns
    -------
    float
        :math:`\\alpha = \\frac{k}{k-1}\\left(1 - \\frac{\\sum_j s_j^2}{s_T^2}\\right)`, with
        :math:`s_j^2` the item variances and :math:`s_T^2 = \\sum_{j,l} s_{jl}` the variance
        of the sum score, from the (weighted) covariance matrix; NaN when the sum score is
        constant or there are fewer than 2 items or 2 rows.

    Notes
    -----
    Cronbach (1951), *Psychometrika* 16, 297-334. The divisor of the covariances cancels, so
    the weighted alpha equals R's ``cov.wt`` based formula and the unweighted one
    ``psych::alpha``'s ``raw_alpha``.
    """
    x = np.asarray(items, dtype=np.float64)
    if x.ndim != 2:
        raise ScoringError(f"items must be a 2-D array (rows x items), got {x.ndim} dimension(s).")
    n, k = x.shape
    if k < 2 or n < 2:
        return float("nan")
    if np.isnan(x).any():
        raise ScoringError("items must be complete (no missing values); drop incomplete rows.")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    return _alpha_of(_weighted_cov(x, w))


def _weighted_cov(x: FloatArray, w: FloatArray) -> FloatArray:
    """Weighted covariance matrix of the columns of ``x`` (divisor: the weight total)."""
    p = w / np.sum(w)
    centred = x - p @ x
    return np.asarray((centred * p[:, None]).T @ centred)


def _alpha_of(cov: FloatArray) -> float:
    """Cronbach's alpha from the items' covariance matrix (NaN for < 2 items or a constant
    sum score)."""
    k = cov.shape[0]
    total = float(cov.sum())
    if k < 2 or total <= 0:
        return float("nan")
    return float(k / (k - 1) * (1.0 - np.trace(cov) / total))


# ============================================================================ analyse_items
def _weights(responses: pd.DataFrame, weights: str | ArrayLike | None) -> FloatArray | None:
    if weights is None:
        return None
    if isinstance(weights, str):
        if weights not in responses.columns:
            raise ScoringError(
                f"weights column {weights!r} is not in the responses; add it or pass the "
                "weights as an array aligned to the rows."
            )
        w = responses[weights].to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        w = np.asarray(weights, dtype=np.float64)
    if w.shape != (len(responses),):
        raise ScoringError(
            f"weights must have one value per response ({len(responses)}), got shape {w.shape}."
        )
    if np.isnan(w).any() or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ScoringError(
            "weights must be finite, >= 0 and not missing, with a positive total; drop the "
            "rows without a weight first."
        )
    return w


def _codes(responses: pd.DataFrame, column: str) -> FloatArray:
    if column not in responses.columns:
        raise ScoringError(
            f"column '{column}' is missing from the responses; pass the stored responses the "
            "scores were computed from."
        )
    return responses[column].to_numpy(dtype=np.float64, na_value=np.nan)


def _option_rows(question: Question, language: str) -> list[tuple[str, int, str]]:
    rows = [(c.name, c.code, c.label.get(language)) for c in question.choices or ()]
    rows += [(s, SPECIAL_CODES[s], SPECIAL_LABELS[s].get(language)) for s in question.special]
    return rows


def _option_score(question: Question, name: str) -> float:
    score = question.score
    if score is None or name in SPECIAL_CODES:
        return 0.0 if score is not None and score.kind != "scale" else float("nan")
    names = question.choices.names if question.choices is not None else ()
    if score.kind == "correct":
        return float(name in score.correct)
    if score.kind == "points":
        return score.points_dict().get(name, 0.0) / score.max_points
    position = names.index(name) / max(len(names) - 1, 1)
    return 1.0 - position if score.reverse else position


def _distractors(
    responses: pd.DataFrame, question: Question, w: FloatArray, language: str
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    kind = question.score.kind if question.score is not None else "scale"
    if question.type == "multiple_choice":
        options = question.choices.choices if question.choices is not None else ()
        first = _codes(responses, f"{question.name}__{options[0].name}") if options else None
        if first is None:
            return rows
        answered = ~np.isnan(first)
        total = float(w[answered].sum())
        for name, code, label in _option_rows(question, language):
            if name in SPECIAL_CODES:
                chose = answered & (first == code)
            else:
                chose = answered & (_codes(responses, f"{question.name}__{name}") == 1)
            rows.append(
                {
                    "item": question.name,
                    "option": name,
                    "code": code,
                    "label": label,
                    "score": float("nan"),
                    "correct": (
                        name in question.score.correct if question.score is not None else None
                    ),
                    "n": int(chose.sum()),
                    "share": float(w[chose].sum()) / total if total > 0 else float("nan"),
                }
            )
        return rows
    codes = _codes(responses, question.name)
    answered = ~np.isnan(codes)
    total = float(w[answered].sum())
    for name, code, label in _option_rows(question, language):
        chose = answered & (codes == code)
        rows.append(
            {
                "item": question.name,
                "option": name,
                "code": code,
                "label": label,
                "score": _option_score(question, name),
                "correct": (
                    (question.score is not None and name in question.score.correct)
                    if kind == "correct"
                    else None
                ),
                "n": int(chose.sum()),
                "share": float(w[chose].sum()) / total if total > 0 else float("nan"),
            }
        )
    return rows


def analyse_items(
    responses: pd.DataFrame,
    questionnaire: Questionnaire,
    *,
    weights: str | ArrayLike | None = None,
    scored: ScoredResponses | None = None,
    language: str = "zh",
) -> ItemAnalysis:
    """Item analysis of stored responses to one questionnaire version.

    Parameters
    ----------
    responses
        Stored responses (as for :func:`analysis.scoring.score_responses`).
    questionnaire
        The questionnaire version they answer.
    weights
        Survey weights: a column of ``responses`` or an array aligned to its rows; ``None``
        for unweighted statistics.
    scored
        ``score_responses(responses, questionnaire)`` if already computed (with item scores).
    language
        Language of the option labels in the distractor table.

    Returns
    -------
    ItemAnalysis
        Item, dimension and distractor tables (see the module docstring for definitions).

    Raises
    ------
    ScoringError
        As :func:`analysis.scoring.score_responses`; bad weights; ``scored`` without item
        scores or of another questionnaire.

    Notes
    -----
    With weights :math:`w_i` (normalised :math:`p_i = w_i / \\sum w`) the proportion right is
    :math:`\\sum p_i x_i`, correlations are weighted Pearson correlations and alpha uses the
    weighted covariance matrix (:func:`cronbach_alpha`). Without weights they are the usual
    statistics: ``r_item_rest`` equals ``psych::alpha``'s ``r.drop`` when the dimension has no
    missing item scores, and for a 0/1 item ``scipy.stats.pointbiserialr`` of the item and the
    rest score.
    """
    if scored is None:
        scored = score_responses(responses, questionnaire)
    elif not isinstance(scored, ScoredResponses) or scored.questionnaire_id != questionnaire.id:
        raise ScoringError(
            "scored must be score_responses(responses, questionnaire) for this questionnaire."
        )
    if len(scored.frame) != len(responses):
        raise ScoringError(
            f"scored has {len(scored.frame)} rows but responses {len(responses)}; score these "
            "responses."
        )
    w_given = _weights(responses, weights)
    n = len(responses)
    w = np.ones(n) if w_given is None else w_given
    frame = scored.frame
    item_rows: list[dict[str, Any]] = []
    dimension_rows: list[dict[str, Any]] = []
    distractor_rows: list[dict[str, Any]] = []
    for dim in questionnaire.dimensions:
        questions = questionnaire.scored_items(dim.name)
        if not questions:
            continue
        names = [q.name for q in questions]
        missing = [ITEM_PREFIX + nm for nm in names if ITEM_PREFIX + nm not in frame.columns]
        if missing:
            raise ScoringError(
                "scored has no item scores (columns "
                f"{', '.join(missing[:3])}); score with item_scores=True."
            )
        x = np.column_stack(
            [frame[ITEM_PREFIX + nm].to_numpy(dtype=np.float64, na_value=np.nan) for nm in names]
        )
        answered = ~np.isnan(x)
        sums = np.where(answered, x, 0.0).sum(axis=1)
        counts = answered.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            total_score = np.where(counts > 0, 100.0 * sums / counts, np.nan)
        complete = answered.all(axis=1)
        xc, wc = x[complete], w[complete]
        # One covariance matrix per dimension: alpha without an item uses its submatrix.
        cov = _weighted_cov(xc, wc) if len(xc) >= 2 else None
        alpha = _alpha_of(cov) if cov is not None else float("nan")
        dimension_rows.append(
            {
                "dimension": dim.name,
                "n_items": len(names),
                "n_complete": int(complete.sum()),
                "alpha": alpha,
            }
        )
        for j, q in enumerate(questions):
            score = q.score
            kind = score.kind if score is not None else "scale"
            xj = x[:, j]
            has = answered[:, j]
            others = counts - has
            rest = np.full(n, np.nan)
            use = has & (others > 0)
            rest[use] = 100.0 * (sums[use] - xj[use]) / others[use]
            keep = np.delete(np.arange(len(names)), j)
            row: dict[str, Any] = {
                "item": q.name,
                "dimension": dim.name,
                "kind": kind,
                "type": q.type,
                "n": int(has.sum()),
                "n_correct": int((xj[has] == 1.0).sum()) if kind == "correct" else None,
                "percent_correct": (
                    100.0 * _wmean(xj[has], w[has]) if kind == "correct" and has.any() else None
                ),
                "difficulty": _wmean(xj[has], w[has]) if has.any() else float("nan"),
                "sd": _wsd(xj[has], w[has]),
                "r_item_total": _wcorr(xj[use], total_score[use], w[use]),
                "r_item_rest": _wcorr(xj[use], rest[use], w[use]),
                "alpha_if_deleted": (
                    _alpha_of(cov[np.ix_(keep, keep)]) if cov is not None else float("nan")
                ),
            }
            item_rows.append(row)
            if q.is_choice or q.type == "multiple_choice":
                distractor_rows.extend(_distractors(responses, q, w, language))
    order = {q.name: i for i, q in enumerate(questionnaire.scored_items())}
    item_rows.sort(key=lambda row: order[row["item"]])
    distractor_rows.sort(key=lambda row: order[row["item"]])  # stable: options keep order
    items = pd.DataFrame(
        item_rows,
        columns=[
            "item",
            "dimension",
            "kind",
            "type",
            "n",
            "n_correct",
            "percent_correct",
            "difficulty",
            "sd",
            "r_item_total",
            "r_item_rest",
            "alpha_if_deleted",
        ],
    )
    items["n_correct"] = items["n_correct"].astype("Int64")
    items["percent_correct"] = items["percent_correct"].astype("Float64")
    distractors = pd.DataFrame(
        distractor_rows,
        columns=["item", "option", "code", "label", "score", "correct", "n", "share"],
    )
    distractors["correct"] = distractors["correct"].astype("boolean")
    return ItemAnalysis(
        items=items,
        dimensions=pd.DataFrame(
            dimension_rows, columns=["dimension", "n_items", "n_complete", "alpha"]
        ),
        distractors=distractors,
        weighted=w_given is not None,
        questionnaire_id=questionnaire.id,
        questionnaire_version=questionnaire.version,
    )
