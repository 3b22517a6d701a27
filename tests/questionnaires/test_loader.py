"""The loader's file handling, YAML corner cases and the warnings it gives."""

# ruff: noqa: E501  (the expected messages are quoted whole)
from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from questionnaires import (
    QuestionnaireError,
    QuestionnaireWarning,
    load_questionnaire,
    parse_questionnaire,
)
from tests.questionnaires.test_loader_errors import BASE, add_q, sub


def test_load_from_file(tmp_path: Path) -> None:
    path = tmp_path / "cfl.yaml"
    path.write_text(BASE, encoding="utf-8")
    q = load_questionnaire(path)
    assert q.source == "cfl.yaml"
    assert q == parse_questionnaire(BASE)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "cfl.yml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode("utf-8"))
    assert load_questionnaire(path).id == "cfl"


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(
        QuestionnaireError,
        match=r"^cfl\.txt: a questionnaire file must end in \.yaml, \.yml or \.xlsx \(XLSForm\); rename the file or convert it$",
    ):
        load_questionnaire(tmp_path / "cfl.txt")
    with pytest.raises(
        QuestionnaireError,
        match=r"^missing\.yaml: cannot read the file \(No such file or directory\)$",
    ):
        load_questionnaire(tmp_path / "missing.yaml")
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes(BASE.encode("gbk"))
    with pytest.raises(
        QuestionnaireError,
        match=r"^gbk\.yaml: the file is not UTF-8 text \(byte \d+\); save it as UTF-8$",
    ):
        load_questionnaire(gbk)


def test_control_character() -> None:
    with pytest.raises(QuestionnaireError) as info:
        parse_questionnaire(BASE.replace("Survey", "Sur\x07vey"), source="cfl.yaml")
    assert (
        str(info.value)
        == "cfl.yaml, line 3: the text contains a control character (#x0007) that YAML does not allow; remove it"
    )


def test_alias_bomb_is_stopped() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 7):
        bomb += f"{'abcdefg'[i]}: &{'abcdefg'[i]} [{', '.join(['*' + 'abcdefg'[i - 1]] * 10)}]\n"
    with pytest.raises(QuestionnaireError) as info:
        parse_questionnaire(bomb, source="bomb.yaml")
    assert "the document is too large or too deeply nested" in str(info.value)


def test_recursive_alias() -> None:
    with pytest.raises(QuestionnaireError, match="a YAML alias refers to itself; remove the alias"):
        parse_questionnaire("id: &a [*a]\n", source="loop.yaml")


def test_yaml_boolean_keys_are_shown_as_written() -> None:
    text = sub("correct: [yes_]}", "points: {yes: 1, no_: 0}}")
    with pytest.raises(QuestionnaireError) as info:
        parse_questionnaire(text, source="cfl.yaml")
    assert (
        str(info.value)
        == "cfl.yaml, line 23, question 'k_interest': points names 'yes', which is not an option of this question (did you mean 'yes_'?); the options are yes_, no_"
    )


def test_quota_cells_may_be_unquoted_numbers() -> None:
    text = BASE.replace(
        "dimensions:", "settings:\n  quotas: {by: [k_interest], cells: {1: 10, 2: 20}}\ndimensions:"
    )
    q = parse_questionnaire(text)
    assert q.settings.quotas is not None
    assert q.settings.quotas.cells == (("1", 10), ("2", 20))
    assert q.settings.quotas.target("2") == 20


def test_several_problems_are_listed_together() -> None:
    text = sub("        type: integer", "        type: integr").replace("id: cfl", "id: Cfl")
    with pytest.raises(QuestionnaireError) as info:
        parse_questionnaire(text, source="cfl.yaml")
    assert str(info.value) == (
        "cfl.yaml has 2 problems:\n"
        "- cfl.yaml, line 1: the id 'Cfl' is not valid: names use lower-case letters a-z, digits and _, and start with a letter, e.g. 'cfl'\n"
        "- cfl.yaml, line 16, question 'age': unknown question type 'integr' (did you mean 'integer'?); the types are single_choice, multiple_choice, likert, matrix, integer, decimal, text, note"
    )
    assert [p.location.line for p in info.value.problems] == [1, 16]
    assert info.value.problems[1].context == "question 'age'"


WARNINGS: dict[str, tuple[str, str]] = {
    "unused_list": (
        sub("choices:\n", "choices:\n  unused:\n    - {name: a, label: {zh: 甲, en: A}}\n"),
        "cfl.yaml, line 8, choice list 'unused': no question uses this list; remove it or use it",
    ),
    "explanation_without_score": (
        sub("        min: 0\n", "        min: 0\n        explanation: {zh: 说明, en: Why}\n"),
        "cfl.yaml, line 19, question 'age': the explanation is shown only with the right answer of a scored question, and this question has no score; add score: or remove the explanation",
    ),
    "dimension_without_items": (
        sub(
            "weight: 1}\n",
            "weight: 1}\n  - {name: attitude, label: {zh: 态度, en: Attitude}, weight: 1}\n",
        ),
        "cfl.yaml, line 7, dimension 'attitude': no question is scored into this dimension; its score will always be missing",
    ),
    "message_without_constraint": (
        sub(
            "        min: 0\n", "        min: 0\n        constraint_message: {zh: 错, en: Wrong}\n"
        ),
        "cfl.yaml, line 19, question 'age': constraint_message is never shown because there is no constraint; remove it or add a constraint",
    ),
}


@pytest.mark.parametrize("case", list(WARNINGS))
def test_warnings(case: str) -> None:
    text, message = WARNINGS[case]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        q = parse_questionnaire(text, source="cfl.yaml")
    assert q.id == "cfl"
    assert [(w.category, str(w.message)) for w in caught] == [(QuestionnaireWarning, message)]


def test_valid_base_gives_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_questionnaire(add_q("      - {name: n, type: note, label: {zh: 注, en: Note}}\n"))
