"""Questionnaire files as an administrator would upload them (YAML text, XLSForm bytes)."""

from __future__ import annotations

import io

import openpyxl

#: A small valid questionnaire with a comment the YAML upload must keep.
UPLOAD_YAML = """\
# 试点问卷：上传测试 (this comment must survive publishing)
id: pilot
version: "{version}"
title: {{zh: 试点问卷, en: Pilot survey}}
languages: [zh, en]
status: open
settings:
  quotas:
    by: [province]
    default: 3
    cells: {{"11": 2}}
sections:
  - name: about
    title: {{zh: 基本情况, en: About you}}
    questions:
      - name: province
        type: single_choice
        role: province
        choices: provinces
        label: {{zh: 您住在哪个省份？, en: "Which province do you live in?"}}
      - name: age
        type: integer
        label: {{zh: 您几岁？, en: "How old are you?"}}
        min: 18
        max: 100
      - name: saves
        type: single_choice
        label: {{zh: 您是否有储蓄？, en: "Do you save?"}}
        choices:
          - {{name: yes_, label: {{zh: 是, en: "Yes"}}}}
          - {{name: no_, label: {{zh: 否, en: "No"}}}}
"""

#: The same questionnaire with three mistakes in three places.
BROKEN_YAML = """\
id: pilot
version: "1"
title: {zh: 试点问卷, en: Pilot survey}
languages: [zh, en]
sections:
  - name: about
    title: {zh: 基本情况, en: About you}
    questions:
      - name: age
        type: integer
        lable: {zh: 您几岁？, en: "How old are you?"}
        min: 18
      - name: saves
        type: single_choise
        label: {zh: 您是否有储蓄？, en: "Do you save?"}
      - name: income
        type: decimal
        label: {zh: 月收入}
"""


def upload_yaml(version: str = "1") -> bytes:
    """The valid upload as bytes, at ``version``."""
    return UPLOAD_YAML.format(version=version).encode("utf-8")


def workbook(sheets: dict[str, list[list[object]]]) -> bytes:
    """An .xlsx file with these sheets and rows."""
    book = openpyxl.Workbook()
    for i, (title, rows) in enumerate(sheets.items()):
        ws = book.active if i == 0 else book.create_sheet(title)
        assert ws is not None
        ws.title = title
        for row in rows:
            ws.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload_xlsform(version: str = "1", *, broken: bool = False) -> bytes:
    """A hand-made XLSForm of a small questionnaire (two mistakes when ``broken``)."""
    label = "label::中文 (zh)"
    return workbook(
        {
            "survey": [
                ["type", "name", label, "label::English (en)", "min"],
                ["begin_group", "about", "基本情况", "About you", None],
                ["integer", "age", "您几岁？", "How old are you?", "ten" if broken else 18],
                [
                    "select_one yesno" if not broken else "select_one yes_no",
                    "saves",
                    "您是否有储蓄？",
                    "Do you save?",
                    None,
                ],
                ["end_group", None, None, None, None],
            ],
            "choices": [
                ["list_name", "name", label, "label::English (en)"],
                ["yesno", "yes_", "是", "Yes"],
                ["yesno", "no_", "否", "No"],
            ],
            "settings": [
                ["form_id", "version", "title::中文 (zh)", "title::English (en)", "languages"],
                ["xlpilot", version, "表格问卷", "Workbook survey", "zh en"],
            ],
        }
    )
