"""The model a valid questionnaire loads into, and its derived views."""

from __future__ import annotations

import dataclasses

import pytest

from questionnaires import (
    DONT_KNOW,
    PREFER_NOT,
    Choice,
    ChoiceList,
    Column,
    Consent,
    DerivedScore,
    Dimension,
    Index,
    Question,
    Questionnaire,
    Quotas,
    Score,
    Section,
    Settings,
    Text,
    parse_questionnaire,
)
from questionnaires.expressions import Symbol
from questionnaires.validation import provinces
from tests.questionnaires.samples import FULL_YAML, MINIMAL_YAML


def T(zh: str, en: str) -> Text:
    return Text.of({"zh": zh, "en": en})


def C(name: str, code: int, zh: str, en: str, **kw: object) -> Choice:
    return Choice(name, code, T(zh, en), **kw)  # type: ignore[arg-type]


AGREE5 = ChoiceList(
    "agree5",
    (
        C("agree_completely", 1, "完全同意", "Completely agree"),
        C("agree", 2, "同意", "Agree"),
        C("neutral", 3, "一般", "Neutral"),
        C("disagree", 4, "不同意", "Disagree"),
        C("disagree_completely", 5, "完全不同意", "Completely disagree"),
    ),
)
SEX = ChoiceList("sex", (C("male", 1, "男", "Male"), C("female", 2, "女", "Female")))


def expected_full() -> Questionnaire:
    about = (
        Question("intro", "note", T("欢迎", "Welcome"), "about_you", required=False),
        Question(
            "province",
            "single_choice",
            T("您住在哪个省份？", "Which province do you live in?"),
            "about_you",
            choices=provinces(),
            role="province",
        ),
        Question("sex", "single_choice", T("性别", "Sex"), "about_you", choices=SEX, role="sex"),
        Question(
            "age",
            "integer",
            T("年龄", "Age"),
            "about_you",
            hint=T("周岁", "Completed years"),
            constraint=". >= 16",
            constraint_message=T("需年满16岁", "You must be 16 or older"),
            special=("prefer_not",),
            role="age",
            min=0,
            max=120,
            unit=T("岁", "years"),
        ),
        Question(
            "urban",
            "single_choice",
            T("居住地", "Where do you live?"),
            "about_you",
            choices=ChoiceList(
                None, (C("urban", 1, "城镇", "Town or city"), C("rural", 2, "农村", "Countryside"))
            ),
            role="urban",
        ),
        Question(
            "education",
            "single_choice",
            T("学历", "Education"),
            "about_you",
            choices=ChoiceList(
                None,
                (
                    C("primary", 10, "小学", "Primary"),
                    C("secondary", 20, "中学", "Secondary"),
                    C("tertiary", 30, "大学", "Tertiary"),
                ),
            ),
            role="education",
        ),
        Question(
            "income",
            "decimal",
            T("月收入", "Monthly income"),
            "about_you",
            required=False,
            special=("dont_know", "prefer_not"),
            role="income",
            min=0,
            unit=T("元", "yuan"),
            decimals=2,
        ),
        Question(
            "occupation",
            "single_choice",
            T("职业", "Occupation"),
            "about_you",
            choices=ChoiceList(
                None, (C("employed", 1, "在职", "Employed"), C("other", 2, "其他", "Other"))
            ),
            role="occupation",
        ),
        Question(
            "phone",
            "text",
            T("手机号", "Phone"),
            "about_you",
            required=False,
            role="contact",
            max_length=20,
        ),
    )
    knowledge = (
        Question(
            "k_inflation",
            "single_choice",
            T("通胀问题", "Inflation question"),
            "knowledge",
            choices=ChoiceList(
                None,
                (
                    C("more", 1, "更多", "More"),
                    C("same", 2, "一样", "The same"),
                    C("less", 3, "更少", "Less"),
                ),
            ),
            randomize=True,
            special=("dont_know",),
            score=Score("knowledge", correct=("less",)),
            explanation=T("通胀降低购买力", "Inflation lowers purchasing power"),
        ),
        Question(
            "k_interest",
            "decimal",
            T("利息是多少？", "How much interest?"),
            "knowledge",
            special=("dont_know",),
            score=Score("knowledge", correct_value=102, tolerance=0.5),
            min=0,
            max=1000,
            decimals=1,
        ),
        Question(
            "k_compare",
            "single_choice",
            T("比较", "Compare"),
            "knowledge",
            choices=ChoiceList(
                None,
                (
                    C("compare_independent", 1, "独立比较", "Compared independently"),
                    C("compare", 2, "比较", "Compared"),
                    C("none", 3, "没有", "Did not compare"),
                ),
            ),
            score=Score(
                "knowledge", points=(("compare_independent", 2), ("compare", 1), ("none", 0))
            ),
        ),
        Question(
            "attention",
            "single_choice",
            T("请选择同意", "Please choose agree"),
            "knowledge",
            choices=AGREE5,
            role="attention_check",
            expected="agree",
        ),
    )
    grid_items = (
        Question(
            "a_grid_spend",
            "matrix_item",
            T("花钱比存钱更快乐", "Spending beats saving"),
            "attitudes",
            required=False,
            choices=AGREE5,
            score=Score("attitude"),
            parent="a_grid",
        ),
        Question(
            "a_grid_future",
            "matrix_item",
            T("我为未来做打算", "I plan for the future"),
            "attitudes",
            required=False,
            relevant="${age} >= 18",
            choices=AGREE5,
            score=Score("attitude", reverse=True),
            explanation=T("规划很重要", "Planning matters"),
            parent="a_grid",
        ),
    )
    attitudes = (
        Question(
            "a_save",
            "likert",
            T("储蓄很重要", "Saving matters"),
            "attitudes",
            choices=AGREE5,
            special=("dont_know",),
            score=Score("attitude", reverse=True),
        ),
        Question(
            "a_grid",
            "matrix",
            T("您是否同意", "Do you agree"),
            "attitudes",
            hint=T("每行选一项", "One per row"),
            required=False,
            choices=AGREE5,
            randomize=True,
            items=grid_items,
        ),
    )
    exposure = (
        Question(
            "exposure",
            "multiple_choice",
            T("您参加过哪些金融教育？", "Which financial education did you take part in?"),
            "education_exposure",
            choices=ChoiceList(
                None,
                (
                    C("month", 1, "金融知识普及月", "Literacy month", exposure="month"),
                    C("school", 2, "学校课程", "School course", exposure="school"),
                    C("bank", 3, "银行讲座", "Bank talk", exposure="bank"),
                    C("none", 4, "都没有", "None", exposure="none"),
                ),
            ),
            special=("dont_know",),
            role="exposure",
            min_selected=1,
            max_selected=3,
            exclusive=("none",),
        ),
        Question(
            "exposure_recency",
            "single_choice",
            T("最近一次是什么时候？", "When was the last time?"),
            "education_exposure",
            relevant="not selected(${exposure}, 'none')",
            choices=ChoiceList(
                None,
                (
                    C("m3", 1, "三个月内", "Within 3 months", recency_months=3),
                    C("m12", 2, "一年内", "Within a year", recency_months=12),
                    C("longer", 3, "更早", "Longer ago"),
                ),
            ),
            role="exposure_recency",
        ),
        Question(
            "b_budget",
            "multiple_choice",
            T("您如何管理预算？", "How do you budget?"),
            "education_exposure",
            choices=ChoiceList(
                None,
                (C("plan", 1, "做计划", "Make a plan"), C("track", 2, "记账", "Track spending")),
            ),
            score=Score("knowledge", correct=("plan", "track")),
        ),
        Question(
            "pcode",
            "text",
            T("参与编号", "Participant code"),
            "education_exposure",
            constraint="string-length(.) = 6",
            constraint_message=T("六位编号", "Six characters"),
            role="participant_code",
            max_length=500,
        ),
        Question(
            "phase",
            "single_choice",
            T("阶段", "Phase"),
            "education_exposure",
            choices=ChoiceList(
                None, (C("pre", 1, "前测", "Before"), C("post", 2, "后测", "After"))
            ),
            role="phase",
        ),
    )
    return Questionnaire(
        id="full_demo",
        version="2026.1",
        title=T("全功能问卷", "Every feature"),
        description=T("测试用", "For tests"),
        languages=("zh", "en"),
        status="open",
        settings=Settings(
            invitation_only=True,
            one_question_per_page=True,
            quotas=Quotas(("province", "sex"), 50, (("11|1", 80), ("31|2", 70))),
        ),
        consent=Consent("2026-1", T("我同意参加。", "I agree to take part.")),
        dimensions=(
            Dimension("knowledge", T("金融知识", "Financial knowledge"), 0.5),
            Dimension("attitude", T("金融态度", "Financial attitude"), 0.25),
            Dimension("behaviour", T("金融行为", "Financial behaviour"), 0.25, "behaviour_score"),
        ),
        index=Index(
            "literacy_index",
            T("金融素养指数", "Financial literacy index"),
            T("权重来自专家打分", "Weights from an expert panel"),
        ),
        choices=(AGREE5, SEX),
        sections=(
            Section(
                "about_you",
                T("基本情况", "About you"),
                about,
                description=T("请如实填写", "Please answer truthfully"),
            ),
            Section(
                "knowledge",
                T("金融知识", "Financial knowledge"),
                knowledge,
                relevant="${age} >= 18",
            ),
            Section("attitudes", T("态度", "Attitudes"), attitudes),
            Section("education_exposure", T("金融教育", "Financial education"), exposure),
        ),
        derived=(
            DerivedScore(
                "behaviour_score",
                T("行为得分", "Behaviour score"),
                "count-selected(${b_budget})",
                "number",
                0,
                2,
            ),
            DerivedScore(
                "knows_inflation",
                T("懂通胀", "Knows inflation"),
                "${k_inflation} = 'less'",
                "boolean",
            ),
        ),
    )


@pytest.fixture(scope="module")
def full() -> Questionnaire:
    return parse_questionnaire(FULL_YAML, source="full.yaml")


def test_full_questionnaire_loads_into_the_expected_model(full: Questionnaire) -> None:
    expected = expected_full()
    for got, want in zip(full.sections, expected.sections, strict=True):
        for q_got, q_want in zip(got.questions, want.questions, strict=True):
            assert q_got == q_want, q_want.name
        assert got == want
    assert full == expected
    assert hash(full) == hash(expected)


def test_model_is_immutable(full: Questionnaire) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        full.id = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        full.sections[0].questions[0].label = T("a", "b")  # type: ignore[misc]


def test_line_numbers_are_kept_but_not_compared(full: Questionnaire) -> None:
    lines = FULL_YAML.splitlines()
    assert full.question("age").line == lines.index("      - name: age") + 1
    assert full.question("a_grid_future").line == lines.index("          - name: a_grid_future") + 1
    assert (
        full.section("knowledge").line
        == lines.index("  - name: knowledge", lines.index("sections:")) + 1
    )
    assert (
        full.derived_score("knows_inflation").line == lines.index("  - name: knows_inflation") + 1
    )
    assert dataclasses.replace(full.question("age"), line=1) == full.question("age")


def test_flat_questions_expand_matrix_items(full: Questionnaire) -> None:
    names = [q.name for q in full.questions]
    assert names[:3] == ["intro", "province", "sex"]
    assert "a_grid" not in names
    assert names[names.index("a_save") + 1 : names.index("a_save") + 3] == [
        "a_grid_spend",
        "a_grid_future",
    ]
    item = full.question("a_grid_spend")
    assert item.parent == "a_grid"
    assert full.question(item.parent).type == "matrix"
    assert not full.question("a_grid").is_answerable
    assert not full.question("intro").is_answerable


def test_question_lookup_unknown_name(full: Questionnaire) -> None:
    with pytest.raises(KeyError, match="has no question 'nope'"):
        full.question("nope")


def test_columns(full: Questionnaire) -> None:
    cols = full.columns()
    by_name = {c.name: c for c in cols}
    assert [c.name for c in cols][:8] == [
        "province", "sex", "age", "urban", "education", "income", "occupation", "phone"
    ]  # fmt: skip
    assert by_name["income"] == Column("income", "Float64", "income")
    assert by_name["age"] == Column("age", "Int64", "age")
    assert by_name["phone"] == Column("phone", "str", "phone", contact=True)
    assert by_name["exposure__none"] == Column("exposure__none", "Int64", "exposure", "none")
    assert by_name["a_grid_future"].dtype == "Int64"
    assert "intro" not in by_name and "a_grid" not in by_name
    assert "behaviour_score" not in by_name
    assert "phone" not in {c.name for c in full.columns(include_contact=False)}


def test_roles_and_scored_items(full: Questionnaire) -> None:
    assert full.role("province") is full.question("province")
    assert full.role("sex").name == "sex"  # type: ignore[union-attr]
    assert full.role("nothing") is None
    assert set(full.roles()) == {
        "province", "sex", "age", "urban", "education", "income", "occupation", "contact",
        "attention_check", "exposure", "exposure_recency", "participant_code", "phase",
    }  # fmt: skip
    assert [q.name for q in full.scored_items()] == [
        "k_inflation", "k_interest", "k_compare", "a_save", "a_grid_spend", "a_grid_future",
        "b_budget",
    ]  # fmt: skip
    assert [q.name for q in full.scored_items("attitude")] == [
        "a_save", "a_grid_spend", "a_grid_future"
    ]  # fmt: skip
    assert full.question("k_compare").score.kind == "points"  # type: ignore[union-attr]
    assert full.question("k_compare").score.max_points == 2  # type: ignore[union-attr]
    assert full.question("k_interest").score.kind == "correct"  # type: ignore[union-attr]
    assert full.question("a_save").score.kind == "scale"  # type: ignore[union-attr]


def test_symbols(full: Questionnaire) -> None:
    symbols = full.symbols()
    assert symbols["age"] == Symbol("age", "number", {}, frozenset({"prefer_not"}))
    assert symbols["sex"] == Symbol("sex", "choice", {"male": 1, "female": 2}, frozenset())
    assert symbols["exposure"].kind == "multi"
    assert dict(symbols["exposure"].options) == {"month": 1, "school": 2, "bank": 3, "none": 4}
    assert symbols["a_grid_spend"].kind == "choice"
    assert symbols["phone"].kind == "text"
    assert symbols["knows_inflation"] == Symbol("knows_inflation", "boolean")
    assert symbols["behaviour_score"] == Symbol("behaviour_score", "number")
    assert "intro" not in symbols and "a_grid" not in symbols


def test_special_answers(full: Questionnaire) -> None:
    assert (DONT_KNOW, PREFER_NOT) == (-1, -2)
    income = full.question("income")
    assert [c.code for c in income.special_choices] == [-1, -2]
    k = full.question("k_inflation")
    assert k.option_codes() == {"more": 1, "same": 2, "less": 3, "dont_know": -1}
    assert k.option_codes(with_special=False) == {"more": 1, "same": 2, "less": 3}
    assert k.value_labels("en") == {1: "More", 2: "The same", 3: "Less", -1: "Don't know"}
    assert k.value_labels("zh")[-1] == "不知道"


def test_text_falls_back_to_chinese() -> None:
    t = Text.of({"en": "Hello", "zh": "你好"})
    assert t.values == (("zh", "你好"), ("en", "Hello"))
    assert t.get("en") == "Hello"
    assert t.get("fr") == "你好"
    assert Text.of({"zh": "只有中文"}).get("en") == "只有中文"
    assert str(t) == "你好"
    assert "en" in t and "fr" not in t


def test_provinces_builtin_list(full: Questionnaire) -> None:
    p = full.question("province").choices
    assert p is not None and len(p) == 31
    assert p.choice("bj") == Choice("bj", 11, T("北京市", "Beijing"))
    assert p.codes()["xj"] == 65


def test_minimal_single_language_questionnaire() -> None:
    q = parse_questionnaire(MINIMAL_YAML)
    assert q.languages == ("zh",)
    assert q.title == Text.of({"zh": "小问卷"})
    assert q.question("q1").required is True
    assert q.settings == Settings()
    assert q.status == "open"
    assert q.key == ("mini", "1")


def test_quota_target(full: Questionnaire) -> None:
    quotas = full.settings.quotas
    assert quotas is not None
    assert quotas.target("11|1") == 80
    assert quotas.target("12|1") == 50
