"""Tests of analysis.items: item statistics, Cronbach's alpha and distractors.

Reference values come from ``tests/reference/scoring.R`` (R 4, psych 2.2.9): ``psych::alpha``
on the complete cases of each dimension (``raw_alpha``, ``alpha.drop``, ``r.drop``), the
weighted alpha from ``cov.wt``, item-rest correlations with ``cor``/``cov.wt(cor = TRUE)``,
and weighted option shares; point-biserial correlations are checked against
``scipy.stats.pointbiserialr``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.errors import ScoringError
from analysis.items import ItemAnalysis, analyse_items, cronbach_alpha
from analysis.scoring import score_responses
from questionnaires import Questionnaire, parse_questionnaire
from tests.analysis.samples import SCORING_REFERENCE, refq, shipped, stored

R_VALUES = pd.read_csv(SCORING_REFERENCE / "scoring_r.csv", keep_default_na=False)
DIMENSIONS = {
    "knowledge": ["k1", "k2", "k3", "k4", "k5"],
    "skills": ["s1", "s2", "s3"],
    "attitude": ["a1", "a2", "a3", "a4", "a5"],
    "behaviour": ["b1", "b2", "b3", "b4"],
}


def r_value(quantity: str, dimension: str = "", item: str = "", option: str = "") -> float:
    rows = R_VALUES[
        (R_VALUES["quantity"] == quantity)
        & (R_VALUES["dimension"] == dimension)
        & (R_VALUES["item"] == item)
        & (R_VALUES["option"] == option)
    ]
    assert len(rows) == 1, (quantity, dimension, item, option)
    return float(rows["value"].iloc[0])


def refq_responses() -> tuple[pd.DataFrame, np.ndarray]:
    raw = pd.read_csv(SCORING_REFERENCE / "refq_stored.csv", dtype=str, keep_default_na=False)
    frame = pd.DataFrame({"response_id": pd.array(raw["response_id"], dtype="str")})
    for column in refq().columns():
        frame[column.name] = pd.array(
            [None if v == "" else int(v) for v in raw[column.name]], dtype="Int64"
        )
    return frame, raw["w"].astype(float).to_numpy()


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    return refq_responses()


@pytest.fixture(scope="module")
def unweighted(data: tuple[pd.DataFrame, np.ndarray]) -> ItemAnalysis:
    frame, _ = data
    return analyse_items(frame, refq())


@pytest.fixture(scope="module")
def weighted(data: tuple[pd.DataFrame, np.ndarray]) -> ItemAnalysis:
    frame, w = data
    return analyse_items(frame, refq(), weights=w)


def item_row(result: ItemAnalysis, item: str) -> pd.Series:
    return result.items.set_index("item").loc[item]


@pytest.mark.parametrize("dimension", sorted(DIMENSIONS))
def test_alpha_matches_psych(unweighted: ItemAnalysis, dimension: str) -> None:
    """R: psych::alpha(complete cases)$total$raw_alpha and $alpha.drop$raw_alpha."""
    dims = unweighted.dimensions.set_index("dimension")
    assert dims.loc[dimension, "alpha"] == pytest.approx(r_value("alpha", dimension), rel=1e-10)
    assert dims.loc[dimension, "n_complete"] == r_value("n_complete", dimension)
    assert dims.loc[dimension, "n_items"] == len(DIMENSIONS[dimension])
    for item in DIMENSIONS[dimension]:
        assert item_row(unweighted, item)["alpha_if_deleted"] == pytest.approx(
            r_value("alpha_if_deleted", dimension, item), rel=1e-10
        )


@pytest.mark.parametrize("dimension", sorted(DIMENSIONS))
def test_weighted_alpha_matches_r_cov_wt(weighted: ItemAnalysis, dimension: str) -> None:
    """R: k/(k-1) (1 - tr(C)/sum(C)) with C = cov.wt(X, wt = w)$cov on complete cases."""
    dims = weighted.dimensions.set_index("dimension")
    assert weighted.weighted
    assert dims.loc[dimension, "alpha"] == pytest.approx(
        r_value("alpha_weighted", dimension), rel=1e-10
    )
    for item in DIMENSIONS[dimension]:
        assert item_row(weighted, item)["alpha_if_deleted"] == pytest.approx(
            r_value("alpha_if_deleted_weighted", dimension, item), rel=1e-10
        )


@pytest.mark.parametrize("dimension", sorted(DIMENSIONS))
def test_item_statistics_match_r(
    unweighted: ItemAnalysis, weighted: ItemAnalysis, dimension: str
) -> None:
    for item in DIMENSIONS[dimension]:
        row, wrow = item_row(unweighted, item), item_row(weighted, item)
        assert row["n"] == r_value("n", dimension, item)
        assert row["difficulty"] == pytest.approx(r_value("difficulty", dimension, item), rel=1e-12)
        assert wrow["difficulty"] == pytest.approx(
            r_value("difficulty_weighted", dimension, item), rel=1e-12
        )
        assert row["sd"] == pytest.approx(r_value("sd", dimension, item), rel=1e-10)
        assert row["r_item_rest"] == pytest.approx(
            r_value("r_item_rest", dimension, item), rel=1e-10
        )
        assert row["r_item_total"] == pytest.approx(
            r_value("r_item_total", dimension, item), rel=1e-10
        )
        assert wrow["r_item_rest"] == pytest.approx(
            r_value("r_item_rest_weighted", dimension, item), rel=1e-10
        )


@pytest.mark.parametrize("dimension", ["skills", "behaviour"])
def test_item_rest_equals_psych_r_drop_without_missing_items(
    unweighted: ItemAnalysis, dimension: str
) -> None:
    """With every item answered, the rest score is proportional to psych's scale without the
    item, so the corrected item-total correlation is psych::alpha's r.drop."""
    dims = unweighted.dimensions.set_index("dimension")
    assert dims.loc[dimension, "n_complete"] == 400
    for item in DIMENSIONS[dimension]:
        assert item_row(unweighted, item)["r_item_rest"] == pytest.approx(
            r_value("psych_r_drop", dimension, item), rel=1e-10
        )


@pytest.mark.parametrize("item", ["k1", "k4", "k5", "s1", "s3"])
def test_point_biserial_matches_scipy(data: tuple[pd.DataFrame, np.ndarray], item: str) -> None:
    frame, _ = data
    qn = refq()
    scored = score_responses(frame, qn)
    result = analyse_items(frame, qn, scored=scored)
    dimension = "knowledge" if item.startswith("k") else "skills"
    others = [f"score__{i}" for i in DIMENSIONS[dimension] if i != item]
    x = scored.frame[f"score__{item}"].to_numpy(dtype=float, na_value=np.nan)
    rest = 100 * scored.frame[others].mean(axis=1, skipna=True).to_numpy(
        dtype=float, na_value=np.nan
    )
    use = ~np.isnan(x) & ~np.isnan(rest)
    expected = stats.pointbiserialr(x[use].astype(bool), rest[use]).statistic
    assert item_row(result, item)["r_item_rest"] == pytest.approx(expected, rel=1e-12)
    row = item_row(result, item)
    assert row["kind"] == "correct"
    assert row["percent_correct"] == pytest.approx(100 * row["difficulty"])
    assert row["n_correct"] == int((x == 1).sum())


@pytest.mark.parametrize("item", ["k1", "k5", "s3", "a2", "a5", "b1", "b3"])
def test_distractor_shares_match_r(
    weighted: ItemAnalysis, item: str
) -> None:
    table = weighted.distractors[weighted.distractors["item"] == item]
    if item == "s3":
        assert table.empty  # a number question has no options
        return
    assert table["share"].sum() == pytest.approx(1.0)
    for row in table.itertuples():
        code = str(row.code)
        found = R_VALUES[
            (R_VALUES["quantity"] == "share_weighted")
            & (R_VALUES["item"] == item)
            & (R_VALUES["option"] == code)
        ]
        if found.empty:  # an option nobody chose
            assert row.n == 0 and row.share == 0
        else:
            assert row.share == pytest.approx(float(found["value"].iloc[0]), rel=1e-12)
            assert row.n == r_value("count", "", item, code)


def test_distractor_table_layout(unweighted: ItemAnalysis) -> None:
    table = unweighted.distractors
    assert list(table.columns) == [
        "item", "option", "code", "label", "score", "correct", "n", "share",
    ]
    k1 = table[table["item"] == "k1"]
    assert k1["option"].tolist() == ["a", "b", "c", "d", "dont_know"]
    assert k1["code"].tolist() == [1, 2, 3, 4, -1]
    assert k1["label"].tolist() == ["甲", "乙", "丙", "丁", "不知道"]
    assert k1["correct"].tolist() == [True, False, False, False, False]
    assert k1["score"].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    a2 = table[table["item"] == "a2"]  # reverse-coded scale
    assert a2["score"].tolist() == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert a2["correct"].isna().all()
    b2 = table[table["item"] == "b2"]  # points {often: 2, sometimes: 1}, never unlisted
    assert b2["score"].tolist() == [0.0, 0.5, 1.0]
    a5 = table[table["item"] == "a5"]
    assert a5["option"].iloc[-1] == "dont_know" and np.isnan(a5["score"].iloc[-1])


def test_result_tables(unweighted: ItemAnalysis) -> None:
    items = unweighted.items
    assert items["item"].tolist() == [q.name for q in refq().scored_items()]
    assert list(items.columns) == [
        "item", "dimension", "kind", "type", "n", "n_correct", "percent_correct",
        "difficulty", "sd", "r_item_total", "r_item_rest", "alpha_if_deleted",
    ]
    assert items.set_index("item").loc["a1", "percent_correct"] is pd.NA
    assert items.set_index("item").loc["b1", "kind"] == "points"
    frame = unweighted.to_frame()
    assert frame.set_index("item").loc["k1", "alpha_dimension"] == pytest.approx(
        r_value("alpha", "knowledge"), rel=1e-10
    )
    assert not unweighted.weighted
    assert (unweighted.questionnaire_id, unweighted.questionnaire_version) == ("refq", "1.0")


def test_weights_column_and_language(data: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, w = data
    by_column = analyse_items(frame.assign(w=w), refq(), weights="w", language="en")
    by_array = analyse_items(frame, refq(), weights=w)
    pd.testing.assert_frame_equal(by_column.items, by_array.items)
    assert by_column.distractors["label"].iloc[0] == "A"


def test_cronbach_alpha() -> None:
    x = np.array([[1, 2, 2], [2, 3, 3], [3, 3, 5], [4, 5, 4], [5, 5, 6]], dtype=float)
    c = np.cov(x, rowvar=False)
    expected = 3 / 2 * (1 - np.trace(c) / c.sum())
    assert cronbach_alpha(x) == pytest.approx(expected, rel=1e-12)
    assert cronbach_alpha(np.column_stack([x[:, 0]] * 4)) == pytest.approx(1.0)
    assert cronbach_alpha(x, weights=np.full(5, 3.0)) == pytest.approx(expected, rel=1e-12)
    assert np.isnan(cronbach_alpha(x[:, :1]))
    assert np.isnan(cronbach_alpha(np.ones((4, 3))))
    with pytest.raises(ScoringError, match="items must be complete"):
        cronbach_alpha(np.array([[1.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(ScoringError, match=r"items must be a 2-D array"):
        cronbach_alpha(np.ones(4))


MULTI_YAML = """\
id: multi
version: "1.0"
title: {zh: 多选, en: Multi}
languages: [zh, en]
dimensions:
  - {name: knowledge, label: {zh: 知识, en: Knowledge}}
sections:
  - name: s
    title: {zh: 题, en: Questions}
    questions:
      - name: scams
        type: multiple_choice
        label: {zh: 哪些是诈骗？, en: Which are scams?}
        special: [dont_know]
        choices:
          - {name: safe_account, label: {zh: 安全账户, en: Safe account}}
          - {name: refund_call, label: {zh: 退款电话, en: Refund call}}
          - {name: bank_app, label: {zh: 官方App, en: Official app}}
        score: {dimension: knowledge, correct: [safe_account, refund_call]}
      - name: k2
        type: single_choice
        label: {zh: 题2, en: Q2}
        choices:
          - {name: x, label: {zh: 甲, en: X}}
          - {name: y, label: {zh: 乙, en: Y}}
        score: {dimension: knowledge, correct: [x]}
"""


def test_multiple_choice_distractors_are_shares_choosing_each_option() -> None:
    qn = parse_questionnaire(MULTI_YAML, source="multi.yaml")
    frame = stored(
        qn,
        [
            {"scams": {"safe_account", "refund_call"}, "k2": "x"},
            {"scams": {"safe_account"}, "k2": "y"},
            {"scams": "dont_know", "k2": "x"},
            {"k2": "y"},
        ],
    )
    result = analyse_items(frame, qn, weights=[1.0, 1.0, 2.0, 5.0])
    table = result.distractors[result.distractors["item"] == "scams"].set_index("option")
    assert table["n"].to_dict() == {
        "safe_account": 2, "refund_call": 1, "bank_app": 0, "dont_know": 1,
    }
    assert table["share"].to_dict() == pytest.approx(
        {"safe_account": 0.5, "refund_call": 0.25, "bank_app": 0.0, "dont_know": 0.5}
    )
    assert table["correct"].to_dict() == {
        "safe_account": True, "refund_call": True, "bank_app": False, "dont_know": False,
    }
    scams = result.items.set_index("item").loc["scams"]
    assert scams["n"] == 3 and scams["n_correct"] == 1
    assert scams["percent_correct"] == pytest.approx(100 * 1 / 4)  # weights 1, 1, 2


@pytest.mark.parametrize("name", ["cfl", "oecd_infe", "edu_quiz"])
def test_shipped_questionnaires(name: str) -> None:
    qn: Questionnaire = shipped(name)
    rng = np.random.default_rng(3)
    rows = []
    for _ in range(60):
        row: dict[str, object] = {}
        for q in qn.scored_items():
            if q.choices is not None:
                row[q.name] = str(rng.choice(list(q.choices.names) + list(q.special)))
            else:
                assert q.score is not None and q.score.correct_value is not None
                row[q.name] = q.score.correct_value if rng.random() < 0.5 else 1
        rows.append(row)
    frame = stored(qn, rows)
    result = analyse_items(frame, qn)
    assert result.items["item"].tolist() == [q.name for q in qn.scored_items()]
    expected_rows = sum(
        len(q.choices or ()) + len(q.special) for q in qn.scored_items() if q.choices is not None
    )
    assert len(result.distractors) == expected_rows
    assert result.distractors.groupby("item")["share"].sum().to_numpy() == pytest.approx(1.0)
    assert set(result.dimensions["dimension"]) <= {d.name for d in qn.dimensions}


def test_errors(data: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, w = data
    qn = refq()
    with pytest.raises(ScoringError, match="weights column 'w' is not in the responses"):
        analyse_items(frame, qn, weights="w")
    with pytest.raises(ScoringError, match=r"weights must have one value per response \(400\)"):
        analyse_items(frame, qn, weights=w[:3])
    with pytest.raises(ScoringError, match="weights must be finite, >= 0 and not missing"):
        analyse_items(frame, qn, weights=np.where(np.arange(400) == 0, np.nan, w))
    lean = score_responses(frame, qn, item_scores=False)
    with pytest.raises(ScoringError, match="score with item_scores=True"):
        analyse_items(frame, qn, scored=lean)
    with pytest.raises(ScoringError, match="scored has 400 rows but responses 10"):
        analyse_items(frame.head(10), qn, scored=score_responses(frame, qn))
    other = shipped("edu_quiz")
    with pytest.raises(ScoringError, match="scored must be score_responses"):
        analyse_items(frame, other, scored=score_responses(frame, qn))
