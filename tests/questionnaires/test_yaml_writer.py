"""The YAML writer: every shipped definition, the full sample and XLSForm imports round-trip."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from questionnaires import (
    dump_yaml,
    load_questionnaire,
    parse_questionnaire,
    read_xlsform,
    write_xlsform,
    write_yaml,
)
from questionnaires.registry import DEFINITIONS_DIR
from tests.questionnaires.samples import FULL_YAML, MINIMAL_YAML

SHIPPED = sorted(DEFINITIONS_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_definitions_round_trip(path: Path) -> None:
    q = load_questionnaire(path)
    assert parse_questionnaire(dump_yaml(q), source="rt.yaml") == q


@pytest.mark.parametrize("text", [FULL_YAML, MINIMAL_YAML], ids=["full", "minimal"])
def test_samples_round_trip_through_yaml_and_xlsform(text: str) -> None:
    q = parse_questionnaire(text)
    assert parse_questionnaire(dump_yaml(q)) == q
    buffer = io.BytesIO()
    write_xlsform(q, buffer)
    from_xlsform = read_xlsform(buffer.getvalue(), name="q.xlsx")
    assert parse_questionnaire(dump_yaml(from_xlsform)) == q


def test_written_layout_is_readable() -> None:
    q = parse_questionnaire(FULL_YAML)
    text = dump_yaml(q)
    assert text.startswith("# full_demo version 2026.1: written by the survey platform")
    lines = text.splitlines()
    assert "version: '2026.1'" in lines  # a version stays a text
    assert "title: {zh: 全功能问卷, en: Every feature}" in lines  # short texts on one line
    assert "languages: [zh, en]" in lines
    assert "    cells: {11|1: 80, 31|2: 70}" in lines
    doc = yaml.safe_load(text)
    age = next(x for x in doc["sections"][0]["questions"] if x["name"] == "age")
    assert "required" not in age  # defaults are left out
    assert age["special"] == ["prefer_not"] and age["min"] == 0
    intro = doc["sections"][0]["questions"][0]
    assert intro == {"name": "intro", "type": "note", "label": {"zh": "欢迎", "en": "Welcome"}}


def test_texts_of_several_lines_are_block_literals(tmp_path: Path) -> None:
    q = load_questionnaire(DEFINITIONS_DIR / "edu_quiz.yaml")
    path = tmp_path / "edu.yaml"
    write_yaml(q, path)
    text = path.read_text(encoding="utf-8")
    assert "    zh: |\n      **知情同意书**\n" in text
    assert load_questionnaire(path) == q
    buffer = io.BytesIO()
    write_yaml(q, buffer)
    assert buffer.getvalue() == text.encode("utf-8")
