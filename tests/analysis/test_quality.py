"""Tests of analysis.quality: the data-quality flags on hand-made stored rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ScoringError
from analysis.quality import FLAGS, QualitySummary, quality_flags, quality_summary
from questionnaires import Questionnaire, parse_questionnaire
from tests.analysis.samples import shipped, stored

ATT = [
    "att_live_today",
    "att_spend_satisfy",
    "att_money_spend",
    "att_plan_retire",
    "att_credit_value",
    "att_high_return",
    "att_acquaintance",
    "att_rights",
]
BEH = ["beh_record", "beh_check_statement", "beh_read_terms", "beh_public_wifi"]
QS = ["qs2_3", "qs3_11", "qs1_1", "qs2_5", "qs1_5", "qs1_3", "qs1_8"]


@pytest.fixture(scope="module")
def cfl() -> Questionnaire:
    return shipped("cfl")


@pytest.fixture(scope="module")
def oecd() -> Questionnaire:
    return shipped("oecd_infe")


def varied(items: list[str], names: list[str]) -> dict[str, object]:
    """Answers cycling through ``names`` (never two equal neighbours when len(names) > 1)."""
    return {item: names[i % len(names)] for i, item in enumerate(items)}


CFL_BASE: dict[str, object] = {
    **varied(ATT, ["agree", "disagree", "neutral"]),
    **varied(BEH, ["often", "rarely"]),
    "att_check": "agree",
    "sex": "female",
    "age": 40,
}


def flags_of(qn: Questionnaire, rows: list[dict[str, object]], **kw: object) -> pd.DataFrame:
    frame = stored(qn, rows, duration_seconds=[600.0] * len(rows))
    return quality_flags(frame, qn, **kw)  # type: ignore[arg-type]


def test_speeders_are_below_a_third_of_the_median(cfl: Questionnaire) -> None:
    rows = [{**CFL_BASE, "age": 20 + i} for i in range(6)]
    frame = stored(cfl, rows, duration_seconds=[100.0, 300.0, 300.0, 300.0, 90.0, None])
    flags = quality_flags(frame, cfl)
    # median of the timed responses: 300; threshold 100 (strictly below is a speeder)
    assert flags["speeder"].tolist() == [False, False, False, False, True, False]
    half = quality_flags(frame, cfl, speeder_ratio=0.5)
    assert half["speeder"].tolist() == [True, False, False, False, True, False]


def test_straight_lining_in_a_matrix(cfl: Questionnaire, oecd: Questionnaire) -> None:
    rows = [
        CFL_BASE,
        {**CFL_BASE, **dict.fromkeys(ATT, "agree")},  # 8 the same
        {**CFL_BASE, **dict.fromkeys(ATT, "agree"), "att_rights": "neutral"},
        {**CFL_BASE, **dict.fromkeys(BEH, "never")},  # a 4-item block
    ]
    flags = flags_of(cfl, rows)
    assert flags["straightliner"].tolist() == [False, True, False, True]
    assert flags_of(cfl, rows, straightline_min_items=5)["straightliner"].tolist() == [
        False, True, False, False,
    ]
    # specials and skips do not count: 4 real answers alike still flag, 3 do not
    four = {**dict.fromkeys(QS[:4], "agree"), **dict.fromkeys(QS[4:], "dont_know")}
    three = {**dict.fromkeys(QS[:3], "agree"), **dict.fromkeys(QS[3:], "prefer_not")}
    skipped = dict.fromkeys(QS[:4], "disagree")
    assert flags_of(oecd, [four, three, skipped])["straightliner"].tolist() == [
        True, False, True,
    ]


LIKERT_YAML = """\
id: likert_run
version: "1.0"
title: {zh: 量表, en: Scales}
languages: [zh, en]
choices:
  agree3:
    - {name: disagree, label: {zh: 不同意, en: Disagree}}
    - {name: neutral, label: {zh: 一般, en: Neutral}}
    - {name: agree, label: {zh: 同意, en: Agree}}
  yes_no:
    - {name: y, label: {zh: 是, en: "Yes"}}
    - {name: n, label: {zh: 否, en: "No"}}
sections:
  - name: s
    title: {zh: 题, en: Questions}
    questions:
      - {name: l1, type: likert, choices: agree3, label: {zh: 1, en: "1"}}
      - {name: l2, type: likert, choices: agree3, label: {zh: 2, en: "2"}}
      - {name: l3, type: likert, choices: agree3, label: {zh: 3, en: "3"}}
      - {name: l4, type: likert, choices: agree3, label: {zh: 4, en: "4"}}
      - {name: q5, type: single_choice, choices: yes_no, label: {zh: 5, en: "5"}}
      - {name: l6, type: likert, choices: agree3, label: {zh: 6, en: "6"}}
      - {name: l7, type: likert, choices: agree3, label: {zh: 7, en: "7"}}
"""


def test_runs_of_likert_questions_are_blocks_and_other_lists_break_long_strings() -> None:
    qn = parse_questionnaire(LIKERT_YAML, source="likert.yaml")
    same = dict.fromkeys(["l1", "l2", "l3", "l4", "l6", "l7"], "agree")
    rows = [
        {**same, "q5": "y"},
        {**same, "q5": "y", "l4": "neutral"},
        {**same, "q5": "y", "l1": "neutral"},
    ]
    flags = flags_of(qn, rows, long_string_min=4)
    assert flags["straightliner"].tolist() == [True, False, False]
    # q5 (another list) ends the run: l1..l4 is at most 4 long, l6..l7 2
    assert flags["long_string"].tolist() == [True, False, False]
    assert flags_of(qn, rows, long_string_min=5)["long_string"].tolist() == [False] * 3


def test_long_strings_cross_blocks_on_the_same_list(cfl: Questionnaire) -> None:
    tail = {**varied(ATT[:3], ["neutral", "agree"]), **dict.fromkeys(ATT[3:], "agree")}
    rows = [
        {**CFL_BASE, **tail, "att_check": "agree"},  # 5 items + the check alike: run 6
        {**CFL_BASE, **tail, "att_check": "neutral"},  # run 5
        {**CFL_BASE, **dict.fromkeys(ATT[:6], "neutral")},  # 6 items alike
    ]
    flags = flags_of(cfl, rows)
    assert flags["long_string"].tolist() == [True, False, True]
    assert flags["straightliner"].tolist() == [False, False, False]


def test_attention_check(cfl: Questionnaire, oecd: Questionnaire) -> None:
    rows = [
        CFL_BASE,
        {**CFL_BASE, "att_check": "neutral"},
        {**CFL_BASE, "att_check": "strongly_agree"},
        {**CFL_BASE, "att_check": None},
    ]
    assert flags_of(cfl, rows)["attention_failed"].tolist() == [False, True, True, False]
    assert not flags_of(oecd, [{}, {"qf1": "self"}])["attention_failed"].any()


def test_duplicates(cfl: Questionnaire) -> None:
    rows = [
        {**CFL_BASE, "age": 31},
        {**CFL_BASE, "age": 32},
        {**CFL_BASE, "age": 31},  # same answers as row 0, submitted earlier
        {**CFL_BASE, "age": 31},  # same answers, another kind of device
        {**CFL_BASE, "age": 33},
        {**CFL_BASE, "age": 34},
    ]
    t1, t2 = "a" * 64, "b" * 64
    frame = stored(
        cfl,
        rows,
        duration_seconds=[600.0] * 6,
        submitted_at=pd.to_datetime(
            ["2026-03-02", "2026-03-03", "2026-03-01", "2026-03-04", "2026-03-05", None],
            utc=True,
        ),
        device_class=["phone", "phone", "phone", "desktop", "phone", "phone"],
        token_hash=[t1, t2, None, None, t1, None],
    )
    frame.index = pd.Index(list("abcdef"))
    flags = quality_flags(frame, cfl)
    assert list(flags.index) == list("abcdef")
    assert flags["response_id"].tolist() == frame["response_id"].tolist()
    assert flags["duplicate_answers"].tolist() == [True, False, False, False, False, False]
    assert flags["duplicate_token"].tolist() == [False, False, False, False, True, False]
    assert flags["flag_any"].tolist() == [True, False, False, False, True, False]
    no_meta = quality_flags(frame.drop(columns=["submitted_at", "token_hash"]), cfl)
    assert no_meta["duplicate_answers"].tolist() == [False, False, True, False, False, False]
    assert not no_meta["duplicate_token"].any()


def test_flag_columns_and_summary(cfl: Questionnaire) -> None:
    rows = [
        CFL_BASE,
        {**CFL_BASE, "att_check": "neutral", **dict.fromkeys(ATT, "agree")},
        {**CFL_BASE, "age": 50},
        {**CFL_BASE, "age": 51},
    ]
    frame = stored(cfl, rows, duration_seconds=[600.0, 60.0, 500.0, 700.0])
    flags = quality_flags(frame, cfl)
    assert list(flags.columns) == ["response_id", *FLAGS, "flag_any"]
    assert all(flags[c].dtype == bool for c in (*FLAGS, "flag_any"))
    assert flags["flag_any"].tolist() == [False, True, False, False]
    summary = quality_summary(flags)
    assert isinstance(summary, QualitySummary)
    assert summary.n == 4
    assert dict(summary.counts) == {
        "speeder": 1,
        "straightliner": 1,
        "long_string": 1,
        "attention_failed": 1,
        "duplicate_token": 0,
        "duplicate_answers": 0,
        "flag_any": 1,
    }
    assert summary.share("flag_any") == 0.25
    table = summary.to_frame()
    assert table.columns.tolist() == ["flag", "n_flagged", "share"]
    assert table.set_index("flag").loc["speeder", "share"] == 0.25
    with pytest.raises(ScoringError, match="flags has none of the flag columns"):
        quality_summary(pd.DataFrame({"x": [True]}))


def test_errors(cfl: Questionnaire) -> None:
    frame = stored(cfl, [CFL_BASE], duration_seconds=[100.0])
    with pytest.raises(ScoringError, match="column 'duration_seconds' is missing"):
        quality_flags(frame.drop(columns=["duration_seconds"]), cfl)
    for bad in (0, 1, 1.5, "a", True):
        with pytest.raises(ScoringError, match="speeder_ratio must be a number between 0 and 1"):
            quality_flags(frame, cfl, speeder_ratio=bad)  # type: ignore[arg-type]
    with pytest.raises(ScoringError, match="straightline_min_items must be a whole number >= 2"):
        quality_flags(frame, cfl, straightline_min_items=1)
    with pytest.raises(ScoringError, match="long_string_min must be a whole number >= 2"):
        quality_flags(frame, cfl, long_string_min=2.5)  # type: ignore[arg-type]
    with pytest.raises(ScoringError, match=r"column 'questionnaire_version' has '2025\.1'"):
        quality_flags(frame.assign(questionnaire_version="2025.1"), cfl)
    with pytest.raises(ScoringError, match=r"answer column\(s\) k_compound are missing"):
        quality_flags(frame.drop(columns=["k_compound"]), cfl)
    with pytest.raises(ScoringError, match="column 'att_check' must hold integer codes"):
        quality_flags(frame.assign(att_check="agree"), cfl)
    with pytest.raises(ScoringError, match="responses must be a pandas DataFrame"):
        quality_flags({}, cfl)  # type: ignore[arg-type]


def test_many_rows(cfl: Questionnaire) -> None:
    rows = [CFL_BASE, {**CFL_BASE, **dict.fromkeys(ATT, "agree")}]
    frame = stored(cfl, rows * 1500, duration_seconds=list(np.linspace(10, 1000, 3000)))
    flags = quality_flags(frame, cfl)
    assert flags["straightliner"].sum() == 1500
    assert flags["duplicate_answers"].sum() == 2998  # two distinct answer sheets
    assert flags["speeder"].sum() == int((np.linspace(10, 1000, 3000) < 505 / 3).sum())
