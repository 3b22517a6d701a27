"""XLSForm interchange: round trips, a hand-made workbook, and errors naming sheet/row/column."""

# ruff: noqa: E501  (the expected messages are quoted whole)
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from questionnaires import (
    Questionnaire,
    QuestionnaireError,
    QuestionnaireWarning,
    load_questionnaire,
    parse_questionnaire,
    read_xlsform,
    write_xlsform,
)
from questionnaires.registry import DEFINITIONS_DIR
from tests.questionnaires.samples import FULL_YAML, MINIMAL_YAML


def round_trip(q: Questionnaire) -> Questionnaire:
    buffer = io.BytesIO()
    write_xlsform(q, buffer)
    return read_xlsform(buffer.getvalue(), name="rt.xlsx")


def workbook(sheets: dict[str, list[list[Any]]]) -> bytes:
    book = openpyxl.Workbook()
    first = True
    for title, rows in sheets.items():
        ws = book.active if first else book.create_sheet(title)
        assert ws is not None
        ws.title = title
        first = False
        for row in rows:
            ws.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_full_round_trip() -> None:
    q = parse_questionnaire(FULL_YAML, source="full.yaml")
    assert round_trip(q) == q


def test_minimal_round_trip(tmp_path: Path) -> None:
    q = parse_questionnaire(MINIMAL_YAML)
    path = tmp_path / "mini.xlsx"
    write_xlsform(q, path)
    assert load_questionnaire(path) == q
    assert read_xlsform(path) == q


def test_written_workbook_layout() -> None:
    q = parse_questionnaire(FULL_YAML, source="full.yaml")
    buffer = io.BytesIO()
    write_xlsform(q, buffer)
    book = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))
    assert book.sheetnames == ["survey", "choices", "settings", "quotas", "dimensions", "derived"]
    survey = [list(r) for r in book["survey"].iter_rows(values_only=True)]
    header = survey[0]
    assert header[:4] == ["type", "name", "label::中文 (zh)", "label::English (en)"]
    rows = {r[1]: dict(zip(header, r, strict=True)) for r in survey[1:] if r[1]}
    assert rows["about_you"]["type"] == "begin_group"
    assert rows["province"]["type"] == "select_one provinces"
    assert rows["a_save"]["type"] == "select_one agree5"
    assert rows["a_save"]["appearance"] == "likert"
    assert rows["a_grid"]["type"] == "begin_group"
    assert rows["a_grid"]["appearance"] == "table-list"
    assert rows["a_grid_spend"]["type"] == "select_one agree5"
    assert rows["urban"]["type"] == "select_one _urban"
    assert rows["exposure"]["type"] == "select_multiple _exposure"
    assert rows["k_compare"]["score_points"] == "compare_independent=2 compare=1 none=0"
    assert rows["k_interest"]["score_correct"] == 102
    assert rows["age"]["required"] == "yes"
    assert rows["income"]["special"] == "dont_know prefer_not"
    choice_lists = {r[0] for r in book["choices"].iter_rows(min_row=2, values_only=True)}
    assert "provinces" not in choice_lists
    assert {"agree5", "sex", "_urban", "_exposure"} <= choice_lists


HAND_MADE: dict[str, list[list[Any]]] = {
    "survey": [
        [
            "type",
            "name",
            "label::中文 (zh)",
            "label::English (en)",
            "required",
            "relevant",
            "appearance",
            "constraint",
            "constraint_message::中文 (zh)",
            "constraint_message::English (en)",
            "score_dimension",
            "score_correct",
        ],
        ["begin group", "about", "关于您", "About you"],
        ["select_one sex", "sex", "性别", "Sex"],
        [
            "integer",
            "age",
            "年龄",
            "Age",
            "yes",
            None,
            None,
            ". >= 18",
            "须年满18岁",
            "18 or older",
        ],
        [
            "select_one agree",
            "q_save",
            "储蓄重要",
            "Saving matters",
            None,
            "${age} >= 18",
            "likert",
        ],
        ["begin_group", "grid", "同意吗", "Do you agree", "no", None, "table-list"],
        ["select_one agree", "g_plan", "我会计划", "I plan"],
        [
            "select_one agree",
            "g_track",
            "我会记账",
            "I track",
            None,
            None,
            None,
            None,
            None,
            None,
            "knowledge",
            "agree",
        ],
        ["end_group"],
        ["select_multiple products", "products", "产品", "Products"],
        ["text", "comment", "意见", "Comments", "no"],
        ["note", "thanks", "谢谢", "Thank you"],
        ["end group"],
    ],
    "choices": [
        ["list_name", "name", "label::中文 (zh)", "label::English (en)"],
        ["sex", "male", "男", "Male"],
        ["sex", "female", "女", "Female"],
        ["agree", "agree", "同意", "Agree"],
        ["agree", "neutral", "一般", "Neutral"],
        ["agree", "disagree", "不同意", "Disagree"],
        ["products", "loan", "贷款", "Loan"],
        ["products", "fund", "基金", "Fund"],
    ],
    "settings": [
        ["form_id", "version", "title::中文 (zh)", "title::English (en)"],
        ["hand_made", "1.0", "手工问卷", "Hand-made form"],
    ],
    "dimensions": [
        ["name", "label::中文 (zh)", "label::English (en)", "weight"],
        ["knowledge", "知识", "Knowledge", 1],
    ],
}


def test_reading_a_hand_made_xlsform() -> None:
    q = read_xlsform(workbook(HAND_MADE), name="form.xlsx")
    assert (q.id, q.version, q.languages) == ("hand_made", "1.0", ("zh", "en"))
    assert q.title.get("en") == "Hand-made form"
    assert [s.name for s in q.sections] == ["about"]
    assert [x.name for x in q.sections[0].questions] == [
        "sex", "age", "q_save", "grid", "products", "comment", "thanks",
    ]  # fmt: skip
    assert q.question("sex").type == "single_choice"
    assert q.question("sex").option_codes() == {"male": 1, "female": 2}
    assert q.question("q_save").type == "likert"
    assert q.question("q_save").relevant == "${age} >= 18"
    assert q.question("age").constraint == ". >= 18"
    assert q.question("age").constraint_message is not None
    assert q.question("age").constraint_message.get("en") == "18 or older"
    grid = q.question("grid")
    assert grid.type == "matrix" and grid.required is False
    assert [i.name for i in grid.items] == ["g_plan", "g_track"]
    assert q.question("g_track").score is not None
    assert q.question("g_track").score.correct == ("agree",)
    assert q.question("products").type == "multiple_choice"
    assert q.question("comment").required is False and q.question("comment").max_length == 500
    assert q.question("thanks").type == "note"
    assert [c.name for c in q.columns()] == [
        "sex", "age", "q_save", "g_plan", "g_track", "products__loan", "products__fund", "comment",
    ]  # fmt: skip
    # and what was read writes back to the same model
    assert round_trip(q) == q


def broken(**changes: list[list[Any]]) -> bytes:
    sheets = {k: [list(r) for r in v] for k, v in HAND_MADE.items()}
    sheets.update(changes)
    return workbook(sheets)


def survey_with(row_index: int, row: list[Any]) -> list[list[Any]]:
    rows = [list(r) for r in HAND_MADE["survey"]]
    rows[row_index] = row
    return rows


XLSFORM_ERRORS: dict[str, tuple[bytes, str]] = {
    "misspelled_column": (
        broken(
            survey=[
                ["type", "name", "label::中文 (zh)", "lable::English (en)"],
                *HAND_MADE["survey"][1:],
            ]
        ),
        "form.xlsx, sheet 'survey', row 1, column 'lable::English (en)': unknown column 'lable' (did you mean 'label'?)",
    ),
    "unsupported_type": (
        broken(survey=survey_with(2, ["date", "sex", "性别", "Sex"])),
        "form.xlsx, sheet 'survey', row 3, column 'type', question 'sex': the type 'date' is not supported; use one of begin_group, end_group, select_one, select_multiple, integer, decimal, text, note",
    ),
    "unknown_list": (
        broken(survey=survey_with(2, ["select_one sexx", "sex", "性别", "Sex"])),
        "form.xlsx, sheet 'survey', row 3, column 'type', question 'sex': unknown choice list 'sexx' (did you mean 'sex'?); define it under choices: or use one of sex, agree, products, provinces",
    ),
    "outside_section": (
        broken(survey=[*HAND_MADE["survey"], ["integer", "late", "晚", "Late"]]),
        "form.xlsx, sheet 'survey', row 14, column 'type', question 'late': every question must be inside a section: add a begin_group row (name and label) before it and an end_group row after the section",
    ),
    "missing_end_group": (
        broken(survey=HAND_MADE["survey"][:-1]),
        "form.xlsx, sheet 'survey', row 2, question 'about': this begin_group has no end_group; add an end_group row after its last question",
    ),
    "bad_required": (
        broken(survey=survey_with(3, ["integer", "age", "年龄", "Age", "maybe"])),
        "form.xlsx, sheet 'survey', row 4, column 'required', question 'age': 'required' must be true or false, not 'maybe'",
    ),
    "missing_label": (
        broken(survey=survey_with(3, ["integer", "age", None, None, "yes"])),
        "form.xlsx, sheet 'survey', row 4, question 'age': the key 'label' is missing; an integer question needs 'label'",
    ),
    "duplicate_option": (
        broken(choices=[*HAND_MADE["choices"], ["sex", "male", "男2", "Male 2"]]),
        "form.xlsx, sheet 'choices', row 9, column 'name', choice list 'sex', option 'male': the option name 'male' is used twice in this list (options 1 and 3); option names must be unique",
    ),
    "bad_points": (
        broken(
            survey=[
                [
                    "type",
                    "name",
                    "label::中文 (zh)",
                    "label::English (en)",
                    "score_dimension",
                    "score_points",
                ],
                ["begin_group", "s", "部分", "Part"],
                ["select_one agree", "q", "题", "Q", "knowledge", "agree:2"],
                ["end_group"],
            ]
        ),
        "form.xlsx, sheet 'survey', row 3, column 'score_points', question 'q': score_points has 'agree:2'; write option=points pairs separated by spaces, like 'right=2 partly=1 wrong=0'",
    ),
    "column_on_section_row": (
        broken(survey=survey_with(1, ["begin_group", "about", "关于您", "About you", "yes"])),
        "form.xlsx, sheet 'survey', row 2, column 'required', question 'about': the column 'required' is not used on a section (begin_group) row; clear the cell",
    ),
    "missing_english": (
        broken(survey=survey_with(2, ["select_one sex", "sex", "性别", None])),
        "form.xlsx, sheet 'survey', row 3, column 'label::中文 (zh)', question 'sex': 'label' has no 'en' text; every text needs zh, en",
    ),
    "no_settings": (
        workbook({k: v for k, v in HAND_MADE.items() if k != "settings"}),
        "form.xlsx, sheet 'settings': the workbook needs a 'settings' sheet with the columns form_id, version and title::<language> and one row of values under them",
    ),
    "settings_without_version": (
        broken(settings=[["form_id", "title::中文 (zh)", "title::English (en)"], ["x", "题", "T"]]),
        "form.xlsx, sheet 'settings', row 2: the settings sheet has no version; fill in version (title as title::中文 (zh), title::English (en), ...)",
    ),
    "no_survey": (
        workbook({"settings": HAND_MADE["settings"]}),
        "form.xlsx: the workbook has no 'survey' sheet; add one with the columns type, name and label",
    ),
    "matrix_mixed_lists": (
        broken(survey=survey_with(6, ["select_one sex", "g_plan", "我会计划", "I plan"])),
        "form.xlsx, sheet 'survey', row 8, column 'type', question 'g_track': this item uses the list 'agree' but the matrix's first item uses 'sex'; a matrix has one scale",
    ),
}


@pytest.mark.parametrize("case", list(XLSFORM_ERRORS))
def test_xlsform_errors_name_sheet_row_and_column(case: str) -> None:
    data, message = XLSFORM_ERRORS[case]
    with pytest.raises(QuestionnaireError) as info:
        read_xlsform(data, name="form.xlsx")
    assert str(info.value) == message


def test_not_a_workbook() -> None:
    with pytest.raises(
        QuestionnaireError, match=r"^form\.xlsx: the file cannot be read as an \.xlsx workbook"
    ):
        read_xlsform(b"this is not a zip file", name="form.xlsx")


def test_extra_sheet_is_a_warning() -> None:
    sheets = dict(HAND_MADE)
    sheets["notes"] = [["anything"], ["here"]]
    with pytest.warns(QuestionnaireWarning, match="the sheet 'notes' is not used and is ignored"):
        q = read_xlsform(workbook(sheets), name="form.xlsx")
    assert q.id == "hand_made"


def test_numeric_version_cell_is_a_warning() -> None:
    sheets = dict(HAND_MADE)
    sheets["settings"] = [["form_id", "version", "title::中文 (zh)", "title::English (en)"],
                          ["hand_made", 2026, "手工问卷", "Hand-made form"]]  # fmt: skip
    with pytest.warns(QuestionnaireWarning, match="the version 2026 is a number cell"):
        q = read_xlsform(workbook(sheets), name="form.xlsx")
    assert q.version == "2026"


def test_shipped_definitions_round_trip() -> None:
    files = sorted(DEFINITIONS_DIR.glob("*.yaml"))
    assert files or not DEFINITIONS_DIR.exists()
    for path in files:
        q = load_questionnaire(path)
        assert round_trip(q) == q, path.name
