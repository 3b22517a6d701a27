"""Answer validation: every rule with its exact zh and en message, relevance, normalisation,
stored columns and back, and hypothesis properties over the shipped questionnaires."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from questionnaires import load_questionnaire, parse_questionnaire
from responses.errors import Problem, ResponseError
from responses.validation import (
    MAX_SUBMISSION_BYTES,
    MESSAGES,
    check_answers,
    contact_details,
    from_columns,
    normalize_text,
    prune_irrelevant,
    relevant_questions,
    to_columns,
    validate_answers,
)
from tests.responses.answers import invalid_answers, valid_answers

DEFINITIONS = sorted(
    (Path(__file__).resolve().parents[2] / "questionnaires/definitions").glob("*.yaml")
)
SHIPPED = {p.stem: load_questionnaire(p) for p in DEFINITIONS}

RULES_YAML = """\
id: rules
version: "1"
title: {zh: 规则, en: Rules}
languages: [zh, en]
choices:
  yn:
    - {name: "yes", code: 1, label: {zh: 是, en: "Yes"}}
    - {name: "no", code: 0, label: {zh: 否, en: "No"}}
  agree3:
    - {name: disagree, code: 1, label: {zh: 不同意, en: Disagree}}
    - {name: neutral, code: 2, label: {zh: 一般, en: Neutral}}
    - {name: agree, code: 3, label: {zh: 同意, en: Agree}}
sections:
  - name: about
    title: {zh: 基本情况, en: About you}
    questions:
      - name: intro
        type: note
        label: {zh: 欢迎, en: Welcome}
      - name: age
        type: integer
        label: {zh: 年龄, en: Age}
        min: 18
        max: 100
      - name: income
        type: decimal
        label: {zh: 月收入, en: Monthly income}
        min: 0
        max: 100000
        decimals: 2
        special: [dont_know, prefer_not]
      - name: saving
        type: integer
        label: {zh: 每月储蓄, en: Monthly saving}
        required: false
        min: 0
        special: [dont_know]
        relevant: "answered(${income})"
        constraint: ". <= ${income}"
        constraint_message: {zh: 储蓄不能超过收入, en: Saving cannot exceed income}
      - name: owns
        type: single_choice
        label: {zh: 您有银行卡吗？, en: Do you have a bank card?}
        choices: yn
        special: [dont_know]
      - name: products
        type: multiple_choice
        label: {zh: 您用哪些产品？, en: Which products do you use?}
        relevant: "${owns} = 'yes'"
        min_selected: 2
        max_selected: 3
        exclusive: [none]
        special: [prefer_not]
        choices:
          - {name: card, code: 1, label: {zh: 信用卡, en: Credit card}}
          - {name: loan, code: 2, label: {zh: 贷款, en: Loan}}
          - {name: fund, code: 3, label: {zh: 基金, en: Fund}}
          - {name: insurance, code: 4, label: {zh: 保险, en: Insurance}}
          - {name: none, code: 9, label: {zh: 都没有, en: None of these}}
      - name: loan_rate
        type: decimal
        label: {zh: 贷款利率, en: Loan rate}
        relevant: "selected(${products}, 'loan')"
        min: 0
        max: 36
        decimals: 1
      - name: comment
        type: text
        label: {zh: 意见, en: Comments}
        required: false
        max_length: 10
      - name: phone
        type: text
        role: contact
        label: {zh: 手机号, en: Phone}
        required: false
        max_length: 20
  - name: views
    title: {zh: 看法, en: Views}
    relevant: "${age} >= 30"
    questions:
      - name: grid
        type: matrix
        label: {zh: 您是否同意, en: Do you agree}
        choices: agree3
        special: [dont_know]
        items:
          - {name: grid_save, label: {zh: 储蓄很重要, en: Saving matters}}
          - name: grid_debt
            label: {zh: 借钱没关系, en: Debt is fine}
            relevant: "${grid_save} = 'agree'"
      - name: scale
        type: likert
        label: {zh: 满意度, en: Satisfaction}
        choices: agree3
        required: false
"""

RULES = parse_questionnaire(RULES_YAML)

VALID = {
    "age": 40,
    "income": 5000.5,
    "saving": 1000,
    "owns": "yes",
    "products": {"card", "loan"},
    "loan_rate": 4.5,
    "comment": "还好",
    "phone": "13812345678",
    "grid_save": "agree",
    "grid_debt": "dont_know",
    "scale": "neutral",
}


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def test_valid_answers_have_no_problems_and_come_back_cleaned():
    assert validate_answers(RULES, VALID) == []
    cleaned = check_answers(RULES, VALID)
    assert cleaned == {**VALID, "products": frozenset({"card", "loan"})}
    assert list(cleaned) == [n for n in VALID]  # questionnaire order
    assert isinstance(cleaned["products"], frozenset)
    assert isinstance(cleaned["income"], float)


# (change, question, rule, zh message, en message)
CASES = [
    ({"age": None}, "age", "required", "此题为必答题", "This question is required"),
    (
        {"age": "thirty"},
        "age",
        "type",
        "请输入 18 到 100 之间的整数",
        "Enter a whole number from 18 to 100",
    ),
    (
        {"age": 17},
        "age",
        "range",
        "请输入 18 到 100 之间的整数",
        "Enter a whole number from 18 to 100",
    ),
    (
        {"age": 101},
        "age",
        "range",
        "请输入 18 到 100 之间的整数",
        "Enter a whole number from 18 to 100",
    ),
    (
        {"age": 30.5},
        "age",
        "integer",
        "请输入 18 到 100 之间的整数",
        "Enter a whole number from 18 to 100",
    ),
    (
        {"age": True},
        "age",
        "type",
        "请输入 18 到 100 之间的整数",
        "Enter a whole number from 18 to 100",
    ),
    (
        {"age": math.inf},
        "age",
        "type",
        "请输入 18 到 100 之间的整数",
        "Enter a whole number from 18 to 100",
    ),
    (
        {"income": 5000.125},
        "income",
        "decimals",
        "最多保留 2 位小数",
        "Use at most 2 decimal places",
    ),
    (
        {"income": -5, "saving": None},
        "income",
        "range",
        "请输入 0 到 100000 之间的数字",
        "Enter a number from 0 to 100000",
    ),
    (
        {"income": "5000", "saving": None},
        "income",
        "type",
        "请输入 0 到 100000 之间的数字",
        "Enter a number from 0 to 100000",
    ),
    ({"saving": 6000}, "saving", "constraint", "储蓄不能超过收入", "Saving cannot exceed income"),
    (
        {"saving": -1},
        "saving",
        "range",
        "请输入不小于 0 的整数",
        "Enter a whole number of at least 0",
    ),
    (
        {"saving": "prefer_not"},
        "saving",
        "special",
        "此题不能选择“不愿回答”",
        'This question does not offer "Prefer not to say"',
    ),
    (
        {"owns": "maybe"},
        "owns",
        "choice",
        "“maybe”不是此题的选项",
        '"maybe" is not an option of this question',
    ),
    ({"owns": 1}, "owns", "type", "请从选项中选择一项", "Choose one of the options"),
    (
        {"owns": "prefer_not"},
        "owns",
        "special",
        "此题不能选择“不愿回答”",
        'This question does not offer "Prefer not to say"',
    ),
    ({"products": set()}, "products", "required", "此题为必答题", "This question is required"),
    (
        {"products": {"card"}},
        "products",
        "min_selected",
        "请至少选择 2 项",
        "Select at least 2 options",
    ),
    (
        {"products": {"card", "loan", "fund", "insurance"}},
        "products",
        "max_selected",
        "最多只能选择 3 项",
        "Select at most 3 options",
    ),
    (
        {"products": {"none", "card"}},
        "products",
        "exclusive",
        "“都没有”不能与其他选项同时选择",
        '"None of these" cannot be combined with other options',
    ),
    (
        {"products": {"prefer_not", "card", "loan"}},
        "products",
        "exclusive",
        "“不愿回答”不能与其他选项同时选择",
        '"Prefer not to say" cannot be combined with other options',
    ),
    (
        {"products": {"dont_know"}},
        "products",
        "special",
        "此题不能选择“不知道”",
        'This question does not offer "Don\'t know"',
    ),
    (
        {"products": {"card", "bogus"}},
        "products",
        "choice",
        "“bogus”不是此题的选项",
        '"bogus" is not an option of this question',
    ),
    ({"products": "card"}, "products", "type", "请从选项中选择", "Choose from the options"),
    ({"products": {"card": 1}}, "products", "type", "请从选项中选择", "Choose from the options"),
    (
        {"loan_rate": 1.25},
        "loan_rate",
        "decimals",
        "最多保留 1 位小数",
        "Use at most 1 decimal place",
    ),
    (
        {"comment": "一二三四五六七八九十十"},
        "comment",
        "max_length",
        "最多 10 个字，现在有 11 个",
        "Use at most 10 characters (there are 11)",
    ),
    (
        {"comment": "ok\ud800"},
        "comment",
        "characters",
        "包含无法识别的字符，请删除后重新输入",
        "This text contains characters that cannot be read; delete them and type it again",
    ),
    ({"comment": 5}, "comment", "type", "请输入文字", "Enter text"),
    (
        {"grid_save": None, "grid_debt": None},
        "grid_save",
        "required",
        "此题为必答题",
        "This question is required",
    ),
    (
        {"grid_save": "dont_know", "grid_debt": "agree"},
        "grid_debt",
        "irrelevant",
        "根据您前面的回答，此题无需作答，请清除此题的答案",
        "This question does not apply given your earlier answers; clear its answer",
    ),
    (
        {"products": {"card", "fund"}},
        "loan_rate",
        "irrelevant",
        "根据您前面的回答，此题无需作答，请清除此题的答案",
        "This question does not apply given your earlier answers; clear its answer",
    ),
    (
        {"agee": 3},
        "agee",
        "unknown",
        "问卷中没有“agee”这道题（您是不是指“age”？）",
        'There is no question "agee" in this questionnaire (did you mean "age"?)',
    ),
    (
        {"zzzz": "x"},
        "zzzz",
        "unknown",
        "问卷中没有“zzzz”这道题",
        'There is no question "zzzz" in this questionnaire',
    ),
    (
        {"intro": "hello"},
        "intro",
        "not_answerable",
        "这是说明文字，不需要作答",
        "This is a note and takes no answer",
    ),
    (
        {"grid": "agree"},
        "grid",
        "not_answerable",
        "这是表格题，请分别回答每一行",
        "This is a table: answer each of its rows",
    ),
]


@pytest.mark.parametrize(("change", "question", "rule", "zh", "en"), CASES)
def test_each_rule_has_its_exact_message(change, question, rule, zh, en):
    answers = {**VALID, **change}
    if rule != "irrelevant":  # leave out what the change made irrelevant (age < 30 ...)
        answers = {**prune_irrelevant(RULES, answers), **change}
    p_zh = only(validate_answers(RULES, answers))
    p_en = only(validate_answers(RULES, answers, language="en"))
    assert (p_zh.question, p_zh.rule, p_zh.message, p_zh.language) == (question, rule, zh, "zh")
    assert (p_en.question, p_en.rule, p_en.message, p_en.language) == (question, rule, en, "en")
    known = question in {q.name for q in RULES.questions} or question in ("grid",)
    if known:
        q = RULES.question(question)
        assert p_zh.label == q.label["zh"] and p_en.label == q.label["en"]
        assert str(p_zh) == f"“{q.label['zh']}”：{zh}"
        assert str(p_en) == f'"{q.label["en"]}": {en}'
        assert p_zh.section == q.section
    else:
        assert str(p_zh) == zh
    with pytest.raises(ResponseError) as info:
        check_answers(RULES, answers, language="en")
    assert info.value.details == (p_en,)
    assert info.value.problems == [str(p_en)]
    assert str(info.value) == str(p_en)


def test_every_problem_is_listed_at_once_in_questionnaire_order():
    answers = {
        **VALID,
        "age": 150,
        "income": 5000.505,
        "owns": "maybe",
        "comment": "x" * 11,
        "grid_save": None,
        "grid_debt": None,
        "agee": 1,
    }
    # owns is invalid, so products is not relevant (owns is not 'yes'); loan_rate neither
    problems = validate_answers(RULES, answers)
    assert [(p.question, p.rule) for p in problems] == [
        ("age", "range"),
        ("income", "decimals"),
        ("owns", "choice"),
        ("products", "irrelevant"),
        ("loan_rate", "irrelevant"),
        ("comment", "max_length"),
        ("grid_save", "required"),
        ("agee", "unknown"),
    ]
    with pytest.raises(ResponseError) as info:
        check_answers(RULES, answers)
    assert info.value.problems == [str(p) for p in problems]
    assert str(info.value).splitlines() == [str(p) for p in problems]
    assert info.value.questions == [
        "age",
        "income",
        "owns",
        "products",
        "loan_rate",
        "comment",
        "grid_save",
        "agee",
    ]


def test_messages_cover_both_languages():
    for key, texts in MESSAGES.items():
        assert set(texts) == {"zh", "en"}, key
        assert all(t.strip() for t in texts.values()), key


def test_only_the_range_bounds_given_are_named():
    yaml = """\
id: nums
version: "1"
title: {zh: 数, en: Numbers}
languages: [zh, en]
sections:
  - name: s
    title: {zh: 一, en: One}
    questions:
      - {name: a, type: integer, label: {zh: 甲, en: A}, max: 9}
      - {name: b, type: integer, label: {zh: 乙, en: B}}
      - {name: c, type: decimal, label: {zh: 丙, en: C}, min: 0.5}
      - {name: d, type: decimal, label: {zh: 丁, en: D}, max: 2.5, decimals: 0}
      - {name: e, type: decimal, label: {zh: 戊, en: E}}
"""
    q = parse_questionnaire(yaml)
    answers = {"a": 10, "b": 2**63, "c": 0.25, "d": 1.5, "e": "x"}
    got = {(p.question, p.rule, p.message) for p in validate_answers(q, answers, language="en")}
    assert got == {
        ("a", "range", "Enter a whole number of at most 9"),
        ("b", "range", "Enter a whole number"),
        ("c", "range", "Enter a number of at least 0.5"),
        ("d", "decimals", "Enter a whole number"),
        ("e", "type", "Enter a number"),
    }
    got_zh = {p.message for p in validate_answers(q, answers)}
    assert got_zh == {
        "请输入不大于 9 的整数",
        "请输入整数",
        "请输入不小于 0.5 的数字",
        "请输入数字",
    }
    assert validate_answers(q, {"a": 9.0, "b": -(2**63), "c": 0.5, "d": 2.0, "e": 1e300}) == []
    assert check_answers(
        q, {"a": 9.0, "b": np.int64(3), "c": Decimal("0.75"), "d": 2, "e": 1e300}
    ) == {"a": 9, "b": 3, "c": 0.75, "d": 2.0, "e": 1e300}


def test_required_only_when_relevant():
    young = {"age": 20, "income": "prefer_not", "owns": "no"}
    assert validate_answers(RULES, young) == []
    rel = relevant_questions(RULES, young)
    assert rel.sections == ("about",)
    assert "grid_save" not in rel and "views" not in rel and "scale" not in rel
    assert "saving" not in rel  # income is a special answer: answered() is false
    assert rel.questions == ("intro", "age", "income", "owns", "comment", "phone")
    assert rel.values == {"age": 20, "income": "prefer_not", "owns": "no"}
    assert rel.is_relevant("about") and not rel.is_relevant("views")


def test_irrelevant_answer_counts_as_empty_for_later_relevance():
    # owns = 'no': products is irrelevant, so its 'loan' must not make loan_rate relevant
    answers = {**VALID, "owns": "no", "products": {"loan", "card"}, "loan_rate": 3.0}
    rel = relevant_questions(RULES, answers)
    assert "products" not in rel and "loan_rate" not in rel
    assert "products" not in rel.values
    problems = validate_answers(RULES, answers)
    assert [(p.question, p.rule) for p in problems] == [
        ("products", "irrelevant"),
        ("loan_rate", "irrelevant"),
    ]
    pruned = prune_irrelevant(RULES, answers)
    assert pruned == {k: v for k, v in answers.items() if k not in ("products", "loan_rate")}
    assert validate_answers(RULES, pruned) == []


def test_prune_keeps_everything_else_as_given():
    answers = {**VALID, "age": 20, "unknown_thing": 1, "owns": "maybe"}
    pruned = prune_irrelevant(RULES, answers)
    # age 20: the views section goes; owns invalid: products and loan_rate go
    gone = {"grid_save", "grid_debt", "scale", "products", "loan_rate"}
    assert pruned == {k: v for k, v in answers.items() if k not in gone}
    assert pruned["unknown_thing"] == 1 and pruned["owns"] == "maybe"


def test_page_limits_problems_to_that_page():
    answers = {**VALID, "age": 150, "grid_save": None, "grid_debt": None, "agee": 1}
    about = validate_answers(RULES, answers, page="about")
    assert [(p.question, p.rule) for p in about] == [("age", "range")]
    # age 150 is out of range but still a number: the views section stays relevant
    views = validate_answers(RULES, answers, page="views")
    assert [(p.question, p.rule) for p in views] == [("grid_save", "required")]
    with pytest.raises(
        ResponseError,
        match='There is no page "view" in this questionnaire '
        r"\(did you mean \"views\"\?\)",
    ):
        validate_answers(RULES, answers, page="view", language="en")
    with pytest.raises(ResponseError, match="问卷中没有“nowhere”这一页（共有：about、views）"):
        validate_answers(RULES, answers, page="nowhere")


def test_constraints_are_not_applied_to_special_or_empty_answers():
    assert validate_answers(RULES, {**VALID, "saving": "dont_know"}) == []
    assert validate_answers(RULES, {**VALID, "saving": None}) == []
    # the constraint sees the other answers: saving equal to income is fine
    assert validate_answers(RULES, {**VALID, "income": 1000, "saving": 1000}) == []


def test_specials_and_exclusive_alone_are_fine():
    assert validate_answers(RULES, {**VALID, "products": "prefer_not", "loan_rate": None}) == []
    assert validate_answers(RULES, {**VALID, "products": ["prefer_not"], "loan_rate": None}) == []
    # an exclusive option alone satisfies min_selected
    assert validate_answers(RULES, {**VALID, "products": {"none"}, "loan_rate": None}) == []
    cleaned = check_answers(RULES, {**VALID, "products": ("prefer_not",), "loan_rate": None})
    assert cleaned["products"] == "prefer_not"


def test_text_is_normalised_before_it_is_checked_and_stored():
    assert normalize_text("  Cafe\u0301\r\n\x00ok\x1b\t! ") == "Café\nok\t!"
    assert normalize_text("\u3000全角空格\u3000") == "全角空格"
    # ten characters once composed (twenty code points as typed): within max_length 10
    decomposed = "e\u0301" * 10
    cleaned = check_answers(RULES, {**VALID, "comment": decomposed})
    assert cleaned["comment"] == "é" * 10
    assert to_columns(RULES, {**VALID, "comment": decomposed})["comment"] == "é" * 10
    # white space and control characters only: an empty answer
    cleaned = check_answers(RULES, {**VALID, "comment": " \x07\n "})
    assert "comment" not in cleaned


def test_answers_that_are_empty_in_every_form():
    base = {k: v for k, v in VALID.items() if k != "scale"}
    for empty in (None, "", set(), [], float("nan"), pd.NA):
        assert validate_answers(RULES, {**base, "scale": empty}) == []
        assert "scale" not in check_answers(RULES, {**base, "scale": empty})
    # unknown names holding nothing are harmless
    assert validate_answers(RULES, {**VALID, "agee": None}) == []


def test_keys_that_are_not_text_and_answers_that_are_not_a_mapping():
    p = only(validate_answers(RULES, {**VALID, 7: "x"}, language="en"))
    assert (p.question, p.rule, p.message) == ("7", "unknown", "Question names must be text, not 7")
    with pytest.raises(ResponseError) as info:
        validate_answers(RULES, ["age", 3], language="en")  # type: ignore[arg-type]
    assert info.value.details[0].rule == "answers"
    assert str(info.value) == "Answers must be a mapping of question name to answer, not list"
    with pytest.raises(ResponseError, match="答案必须是“题目名称 → 答案”的映射，而不是 str"):
        relevant_questions(RULES, "age")  # type: ignore[arg-type]


def test_oversized_submission_is_refused_alone():
    big = {**VALID, "comment": "x" * (MAX_SUBMISSION_BYTES + 10), "age": 7}
    p = only(validate_answers(RULES, big))
    assert (p.question, p.rule) == (None, "size")
    assert p.message == "提交的答案过大（257 KB），上限为 256 KB"
    assert only(validate_answers(RULES, big, language="en")).message == (
        "The answers are too large to submit (257 KB; the limit is 256 KB)"
    )
    # many small unknown entries count as well
    many = {f"x{i}": "y" * 100 for i in range(3000)}
    assert only(validate_answers(RULES, many)).rule == "size"


def test_plain_response_errors_still_work():
    exc = ResponseError(["a is wrong", "b is wrong"])
    assert exc.problems == ["a is wrong", "b is wrong"]
    assert [p.rule for p in exc.details] == ["other", "other"]
    assert exc.questions == []
    assert str(ResponseError("one")) == "one"


# --- stored columns -----------------------------------------------------------------------


def test_to_columns_codes_every_column():
    cols = to_columns(RULES, VALID)
    assert cols == {
        "age": 40,
        "income": 5000.5,
        "saving": 1000,
        "owns": 1,
        "products__card": 1,
        "products__loan": 1,
        "products__fund": 0,
        "products__insurance": 0,
        "products__none": 0,
        "loan_rate": 4.5,
        "comment": "还好",
        "grid_save": 3,
        "grid_debt": -1,
        "scale": 2,
    }
    assert list(cols) == [c.name for c in RULES.columns(include_contact=False)]
    assert "phone" not in cols
    assert contact_details(RULES, VALID) == {"phone": "13812345678"}


def test_specials_and_skips_in_columns():
    answers = {"age": 20, "income": "prefer_not", "owns": "yes", "products": "prefer_not"}
    cols = to_columns(RULES, answers)
    assert cols["income"] == -2.0 and isinstance(cols["income"], float)
    assert [cols[f"products__{o}"] for o in ("card", "loan", "fund", "insurance", "none")] == [
        -2
    ] * 5
    assert cols["saving"] is None and cols["loan_rate"] is None
    assert cols["grid_save"] is None and cols["comment"] is None
    assert contact_details(RULES, answers) == {}
    assert from_columns(RULES, cols) == answers


def test_to_columns_refuses_invalid_answers():
    with pytest.raises(ResponseError, match="此题为必答题"):
        to_columns(RULES, {})


def test_from_columns_reads_stored_rows_of_any_flavour():
    cols = to_columns(RULES, VALID)
    row = {
        k: np.int64(v) if isinstance(v, int) else np.float64(v) if isinstance(v, float) else v
        for k, v in cols.items()
    }
    row["response_id"] = "x" * 22  # metadata columns are ignored
    back = from_columns(RULES, row, contact={"phone": "13812345678"})
    assert back == check_answers(RULES, VALID)
    # floats where codes widened to float across versions; NaN for missing
    widened = {k: (float(v) if isinstance(v, int) else v) for k, v in cols.items()}
    widened["scale"] = pd.NA
    expected = check_answers(RULES, {**VALID, "scale": None})
    assert from_columns(RULES, widened, contact={"phone": "13812345678"}) == expected


def test_from_columns_refuses_codes_that_are_not_options():
    cols = to_columns(RULES, VALID)
    with pytest.raises(ResponseError, match="stored column 'owns' holds code 7, which is not"):
        from_columns(RULES, {**cols, "owns": 7})
    with pytest.raises(ResponseError, match="multiple choice 'products' disagree"):
        from_columns(RULES, {**cols, "products__card": -2})
    with pytest.raises(ResponseError, match="must be a whole number"):
        from_columns(RULES, {**cols, "owns": 1.5})
    with pytest.raises(ResponseError, match="question 'age' is a number"):
        from_columns(RULES, {**cols, "age": "forty"})
    # a special code on a question that does not allow it
    with pytest.raises(ResponseError, match="code -2"):
        from_columns(RULES, {**cols, "owns": -2})


# --- properties over the shipped questionnaires ---------------------------------------------

PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.parametrize("name", sorted(SHIPPED))
@PROPERTY
@given(data=st.data())
def test_generated_valid_answers_are_accepted_and_round_trip(name, data):
    q = SHIPPED[name]
    answers = data.draw(valid_answers(q))
    assert validate_answers(q, answers) == []
    cleaned = check_answers(q, answers)
    assert cleaned == answers
    cols = to_columns(q, answers)
    assert list(cols) == [c.name for c in q.columns(include_contact=False)]
    assert from_columns(q, cols, contact=contact_details(q, answers)) == answers
    assert prune_irrelevant(q, answers) == answers


@pytest.mark.parametrize("name", sorted(SHIPPED))
@PROPERTY
@given(data=st.data())
def test_invalid_mutations_name_the_mutated_question(name, data):
    q = SHIPPED[name]
    broken, question, kind = data.draw(invalid_answers(q))
    for language in ("zh", "en"):
        problems = validate_answers(q, broken, language=language)
        assert any(p.question == question for p in problems), (kind, question, problems)
        assert all(p.language == language for p in problems)
    with pytest.raises(ResponseError) as info:
        check_answers(q, broken)
    assert question in info.value.questions


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_normalised_text_is_stable_and_clean(text):
    once = normalize_text(text)
    if any("\ud800" <= c <= "\udfff" for c in text):
        return
    assert normalize_text(once) == once
    assert once == once.strip()
    assert "\r" not in once
    assert all(c in "\n\t" or not (ord(c) < 32 or 0x7F <= ord(c) <= 0x9F) for c in once)
