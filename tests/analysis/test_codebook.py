"""Tests of analysis.codebook: the exported variables, label limits, names, and the renderings."""

from __future__ import annotations

import json
import re

import pytest

from analysis.codebook import (
    LABEL_LIMITS,
    SPECIAL_MISSING,
    CodebookError,
    build_codebook,
    export_variables,
    safe_name,
    shorten_labels,
)
from analysis.exports import ExportError, write_codebook
from questionnaires import parse_questionnaire
from tests.analysis.export_support import edge, shipped
from tests.analysis.samples import refq

SECRETS = {
    "response_id",
    "token_hash",
    "submitted_at",
    "started_at",
    "page_seconds",
    "option_order",
    "consent_version",
    "user_agent",
}

NASTY_YAML = """\
id: nasty
version: "1.0"
title: {zh: "问卷 <script>alert(1)</script>", en: "Survey | *bold* <i>"}
languages: [zh, en]
dimensions:
  - {name: knowledge, label: {zh: 知识, en: Knowledge}, weight: 1}
sections:
  - name: intro
    title: {zh: 开始, en: Start}
    questions:
      - name: age
        type: integer
        role: age
        min: 18
        max: 99
        label: {zh: 年龄, en: Age}
  - name: main
    title: {zh: 题目, en: Questions}
    relevant: "${age} >= 30"
    questions:
      - name: q1
        type: single_choice
        relevant: "${age} < 80"
        label: {zh: "题目 | 一 <b>粗</b>", en: "Question | one <b>bold</b>"}
        choices:
          - {name: a, code: 1, label: {zh: "<img src=x onerror=alert(1)>", en: "A|B"}}
          - {name: b, code: 2, label: {zh: 乙, en: B}}
        score: {dimension: knowledge, correct: [a]}
      - name: grid
        type: matrix
        relevant: "${q1} = 'a'"
        label: {zh: 矩阵, en: Grid}
        choices:
          - {name: lo, code: 1, label: {zh: 低, en: Low}}
          - {name: hi, code: 2, label: {zh: 高, en: High}}
        items:
          - {name: g1, label: {zh: 一, en: One}, score: {dimension: knowledge}}
          - {name: g2, label: {zh: 二, en: Two}, relevant: "${age} > 40",
             score: {dimension: knowledge, reverse: true}}
"""


def nasty():
    return parse_questionnaire(NASTY_YAML, source="nasty.yaml")


# ============================================================================ variables
@pytest.mark.parametrize("name", ["cfl", "oecd_infe", "edu_quiz"])
def test_every_answer_is_a_variable_and_no_secret_is(name):
    q = shipped(name)
    variables = export_variables(q)
    names = [v.name for v in variables]
    assert names[0] == "pid"
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]{0,31}", n) for n in names)
    assert all(len(v.name) <= 28 for v in variables if v.value_labels)
    assert not ({v.source for v in variables} | set(names)) & SECRETS
    answers = {v.source for v in variables if v.group == "answer"}
    expected = {
        c.name
        for c in q.columns(include_contact=False)
        if c.dtype != "str" and c.name != "province"
    }
    assert answers == expected
    for group in ("weight", "flag", "paradata"):
        assert any(v.group == group for v in variables)
    assert [v.name for v in variables if v.group == "flag"][-1] == "flag_any"


def test_choice_variables_carry_labels_and_missing_codes_in_both_languages():
    q = shipped("cfl")
    v = next(v for v in export_variables(q) if v.source == "k_inflation")
    question = q.question("k_inflation")
    assert v.storage == "code"
    assert v.value_label_dict("zh") == question.value_labels("zh")
    assert v.value_label_dict("en") == question.value_labels("en")
    assert v.missing_codes == (-1,)
    assert v.label == question.label
    assert v.dimension == "knowledge"
    record = v.to_record()
    assert record["missing_codes"] == [{"code": -1, "stata": ".a", "meaning": "dont_know"}]
    assert SPECIAL_MISSING == {-1: "a", -2: "b"}


def test_multiple_choice_columns_are_binary_with_the_option_in_the_label():
    q = shipped("cfl")
    v = next(v for v in export_variables(q) if v.source == "fin_products__credit_card")
    assert v.storage == "binary"
    assert v.value_label_dict("en")[1] == "Chosen"
    assert v.label.get("zh").endswith("：信用卡")


def test_scoring_rules_are_written_out():
    q = refq()
    rules = {v.source: v.rule for v in export_variables(q) if v.group == "answer"}
    assert "1 for a (1), 0 for any other option" in rules["k1"].get("en")
    assert "don't know / prefer not to say score 0" in rules["k1"].get("en")
    assert "选 a（1） 得1分" in rules["k1"].get("zh")
    assert "1 if the answer is 120" in rules["s3"].get("en")
    assert "points of the chosen option / 2 (often=2, sometimes=1, never=0" in rules["b1"].get("en")
    assert "scale position / 4 (the first option scores 0)" in rules["a1"].get("en")
    assert "reversed: the first option scores 1" in rules["a2"].get("en")
    dims = {v.source: v.rule.get("en") for v in export_variables(q) if v.group == "dimension"}
    assert "items: k1, k2, k3, k4, k5" in dims["dim__knowledge"]
    index = next(v for v in export_variables(q) if v.group == "index")
    assert index.formula == (
        "0.3 × dim__knowledge + 0.2 × dim__skills + 0.25 × dim__attitude + 0.25 × dim__behaviour"
    )


def test_skip_conditions_combine_section_matrix_and_item():
    variables = {v.source: v for v in export_variables(nasty())}
    assert variables["age"].relevant is None
    assert variables["q1"].relevant == "(${age} >= 30) and (${age} < 80)"
    assert variables["g2"].relevant == "(${age} >= 30) and (${q1} = 'a') and (${age} > 40)"
    assert variables["g1"].question_text.get("en") == "Grid One"
    assert variables["score__g2"].dimension == "knowledge"


def test_derived_scores_keep_their_formula():
    q = shipped("oecd_infe")
    variables = {v.source: v for v in export_variables(q)}
    knowledge = variables["oecd_knowledge"]
    assert knowledge.formula == q.derived_score("oecd_knowledge").expression
    assert knowledge.storage == "float"
    target = variables["oecd_knowledge_target"]
    assert target.storage == "binary" and target.value_label_dict("zh") == {0: "否", 1: "是"}
    attitude = variables["dim__attitude"]
    assert "From the derived score oecd_attitude" in attitude.rule.get("en")


def test_top_coding_changes_the_value_labels():
    q = shipped("cfl")
    v = next(v for v in export_variables(q, top_code_income=3) if v.source == "household_income")
    labels = v.value_label_dict("zh")
    assert sorted(labels) == [-2, 1, 2, 3]
    assert labels[3] == "8万至15万元及以上"
    assert "merged into 3" in v.rule.get("en")
    age = next(v for v in export_variables(q, top_code_age=75) if v.source == "age")
    assert "values above 75 are recorded as 75" in age.rule.get("en")


def test_free_text_and_contact():
    q = edge()
    plain = {v.source for v in export_variables(q)}
    with_text = {v.source for v in export_variables(q, include_text=True)}
    assert "comment" not in plain and "comment" in with_text
    assert "phone" not in with_text
    quiz = {v.name: v for v in export_variables(shipped("edu_quiz"), include_text=True)}
    assert "participant_code" not in quiz
    assert quiz["participant_code_pseudonym"].group == "pseudonym"


# ============================================================================ names
def test_safe_names():
    taken: set[str] = set()
    assert safe_name("k1", taken) == "k1"
    assert safe_name("k1", taken) == "k1_2"
    assert safe_name("k1", taken) == "k1_3"
    assert safe_name("in", taken) == "in_"
    assert safe_name("str12", taken) == "str12_"
    assert safe_name("to", taken) == "to_"
    long = safe_name("a" * 40, taken)
    assert len(long) == 32 and long.startswith("a" * 26 + "_")
    labelled = safe_name("b" * 30, taken, labelled=True)
    assert len(labelled) == 28 and labelled.startswith("b" * 22 + "_")
    assert safe_name("c" * 32, taken) == "c" * 32
    with pytest.raises(CodebookError, match="not an identifier"):
        safe_name("Bad-Name", taken)


# ============================================================================ label limits
@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        ("dta", "中" * 80, "中" * 80),
        ("dta", "中" * 81, "中" * 79 + "…"),
        ("dta", "x" * 81, "x" * 79 + "…"),
        ("sav", "中" * 85, "中" * 85),  # 255 bytes
        ("sav", "中" * 86, "中" * 84 + "…"),  # 252 + 3 bytes
        ("sav", "x" * 256, "x" * 256),
        ("sav", "x" * 257, "x" * 253 + "…"),
    ],
)
def test_variable_labels_fit_the_format(fmt, text, expected):
    q = parse_questionnaire(
        NASTY_YAML.replace('"题目 | 一 <b>粗</b>"', f'"{text}"'), source="x.yaml"
    )
    labels, _, shortened = shorten_labels(export_variables(q), fmt, "zh")
    assert labels["q1"] == expected
    listed = [s for s in shortened if s.variable == "q1" and s.kind == "variable"]
    assert (listed != []) == (text != expected)
    if listed:
        assert listed[0].full == text and listed[0].written == expected


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        ("sav", "值" * 40, "值" * 40),  # 120 bytes
        ("sav", "值" * 41, "值" * 39 + "…"),  # 117 + 3 bytes
        ("sav", "ab" + "值" * 40, "ab" + "值" * 38 + "…"),  # 2 + 114 + 3 bytes
        ("dta", "值" * 10666, "值" * 10666),  # 31,998 bytes
        ("dta", "值" * 10667, "值" * 10665 + "…"),
    ],
)
def test_value_labels_fit_the_format(fmt, text, expected):
    q = parse_questionnaire(
        NASTY_YAML.replace('"<img src=x onerror=alert(1)>"', f'"{text}"'), source="x.yaml"
    )
    _, values, shortened = shorten_labels(export_variables(q), fmt, "zh")
    assert values["q1"][1] == expected
    limits = LABEL_LIMITS[fmt]
    assert len(values["q1"][1].encode()) <= limits.value
    assert any(s.kind == "value" and s.code == 1 for s in shortened) == (text != expected)


def test_codebook_lists_shortened_labels_of_both_formats_and_languages():
    codebook = build_codebook(edge(), include_text=True)
    found = {(s.format, s.variable, s.kind, s.language) for s in codebook.shortened}
    assert ("dta", "in_", "variable", "zh") in found
    assert ("dta", "in_", "variable", "en") in found
    assert ("sav", "in_", "value", "zh") in found
    assert ("dta", "in_", "value", "zh") not in found
    for s in codebook.shortened:
        limits = LABEL_LIMITS[s.format]
        if s.kind == "variable":
            size, unit = limits.variable, limits.variable_unit
        else:
            size, unit = limits.value, limits.value_unit
        assert (len(s.written) if unit == "chars" else len(s.written.encode())) <= size
        assert s.written.endswith("…") and s.full.startswith(s.written[:-1])


# ============================================================================ renderings
def test_html_escapes_everything():
    html = build_codebook(nasty()).to_html("zh")
    assert "<script>" not in html and "<img" not in html and "<b>粗" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert '<html lang="zh-CN">' in html
    assert html.count("<tr id=") == len(export_variables(nasty()))


def test_markdown_escapes_table_syntax():
    md = build_codebook(nasty()).to_markdown("en")
    row = next(line for line in md.splitlines() if line.startswith("| ") and "`q1`" in line)
    assert row.count("|") - row.count("\\|") == 7  # the 6 columns' own pipes
    assert "Question \\| one \\<b\\>bold\\</b\\>" in row
    assert "## Shortened labels" in md and "No label had to be shortened." in md


def test_json_holds_every_variable_and_the_missing_value_rules():
    codebook = build_codebook(shipped("cfl"))
    data = json.loads(codebook.to_json())
    assert [v["name"] for v in data["variables"]] == [v.name for v in codebook.variables]
    assert data["missing_values"]["-1"].endswith("Stata .a")
    assert data["weighting"]["zh"].startswith("按2020年")
    k = next(v for v in data["variables"] if v["name"] == "k_inflation")
    assert k["label"]["zh"] == shipped("cfl").question("k_inflation").label.get("zh")
    assert {"code": -1, "label": {"zh": "不知道", "en": "Don't know"}} in k["value_labels"]


def test_render_refuses_unknown_formats_and_languages():
    codebook = build_codebook(refq())
    with pytest.raises(CodebookError, match="'html', 'md' or 'json'"):
        codebook.render("pdf")  # type: ignore[arg-type]
    with pytest.raises(CodebookError, match="'zh' or 'en'"):
        codebook.to_html("fr")  # type: ignore[arg-type]


def test_write_codebook_by_suffix(tmp_path):
    codebook = build_codebook(shipped("cfl"))
    for suffix, start in ((".html", "<!DOCTYPE html>"), (".md", "# 变量说明"), (".json", "{")):
        result = write_codebook(codebook, tmp_path / f"cb{suffix}")
        assert result.path.read_text(encoding="utf-8").startswith(start)
        assert result.columns == len(codebook.variables)
    with pytest.raises(ExportError, match=r"end the name with \.html, \.md or \.json"):
        write_codebook(codebook, tmp_path / "cb.pdf")
    with pytest.raises(ExportError, match="does not exist"):
        write_codebook(codebook, tmp_path / "missing" / "cb.md")
