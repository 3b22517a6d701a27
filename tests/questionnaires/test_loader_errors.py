"""Broken questionnaires: each case asserts the exact message an author sees."""
# ruff: noqa: E501  (the expected messages are quoted whole)

from __future__ import annotations

import pytest

from questionnaires import QuestionnaireError, parse_questionnaire

BASE = """\
id: cfl
version: "2026.1"
title: {zh: 调查, en: Survey}
languages: [zh, en]
dimensions:
  - {name: knowledge, label: {zh: 知识, en: Knowledge}, weight: 1}
choices:
  yesno:
    - {name: yes_, label: {zh: 是, en: "Yes"}}
    - {name: no_, label: {zh: 否, en: "No"}}
sections:
  - name: main
    title: {zh: 主要, en: Main}
    questions:
      - name: age
        type: integer
        label: {zh: 年龄, en: Age}
        min: 0
      - name: k_interest
        type: single_choice
        label: {zh: 利息, en: Interest}
        choices: yesno
        score: {dimension: knowledge, correct: [yes_]}
"""


def sub(old: str, new: str) -> str:
    """BASE with one piece of text replaced."""
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def add_q(text: str) -> str:
    """BASE with one more question at the end of its section."""
    return BASE + text


CASES: dict[str, str] = {
    "misspelled_key": sub(
        "        label: {zh: 利息, en: Interest}", "        lable: {zh: 利息, en: Interest}"
    ),
    "unknown_key_no_match": sub("        min: 0\n", "        min: 0\n        colour: red\n"),
    "key_of_other_type": sub(
        "        choices: yesno\n", "        choices: yesno\n        max_length: 20\n"
    ),
    "missing_label": sub("        label: {zh: 年龄, en: Age}\n", ""),
    "missing_top": BASE.replace('version: "2026.1"\n', ""),
    "version_unquoted": sub('version: "2026.1"', "version: 2026.1"),
    "version_bad": sub('version: "2026.1"', 'version: "v1"'),
    "bad_id": sub("id: cfl", "id: CFL-2026"),
    "name_uppercase": sub("      - name: age\n", "      - name: Age\n"),
    "name_too_long": sub(
        "      - name: age\n", "      - name: a_very_long_question_name_over_32_chars\n"
    ),
    "name_double_underscore": sub("      - name: age\n", "      - name: age__years\n"),
    "name_yaml_bool": sub("    - {name: no_, ", "    - {name: no, "),
    "duplicate_question": sub("      - name: k_interest\n", "      - name: age\n"),
    "missing_english": sub("        label: {zh: 年龄, en: Age}", "        label: {zh: 年龄}"),
    "plain_string_two_langs": sub("        label: {zh: 年龄, en: Age}", "        label: 年龄"),
    "unknown_language": sub("languages: [zh, en]", "languages: [zh, english]"),
    "no_zh": sub("languages: [zh, en]", "languages: [en]"),
    "unknown_type": sub("        type: integer", "        type: integr"),
    "xlsform_type": sub("        type: integer", "        type: select_one"),
    "unknown_choice_list": sub("        choices: yesno", "        choices: yes_no"),
    "duplicate_option_name": sub("    - {name: no_, label", "    - {name: yes_, label"),
    "duplicate_code": sub(
        '    - {name: yes_, label: {zh: 是, en: "Yes"}}\n    - {name: no_, label: {zh: 否, en: "No"}}',
        '    - {name: yes_, code: 1, label: {zh: 是, en: "Yes"}}\n    - {name: no_, code: 1, label: {zh: 否, en: "No"}}',
    ),
    "negative_code": sub("    - {name: yes_, label", "    - {name: yes_, code: -1, label"),
    "reserved_option": sub("    - {name: no_, label", "    - {name: dont_know, label"),
    "unknown_special": sub("        min: 0\n", "        min: 0\n        special: [dont_knw]\n"),
    "special_on_text": add_q(
        "      - name: note_q\n        type: text\n        label: {zh: 备注, en: Note}\n        special: [dont_know]\n"
    ),
    "special_needs_min": sub("        min: 0\n", "        special: [dont_know]\n"),
    "min_gt_max": sub("        min: 0\n", "        min: 10\n        max: 5\n"),
    "max_length_too_big": add_q(
        "      - name: remark\n        type: text\n        label: {zh: 备注, en: Remark}\n        max_length: 10000\n"
    ),
    "matrix_no_items": add_q(
        "      - name: grid\n        type: matrix\n        label: {zh: 表, en: Grid}\n        choices: yesno\n"
    ),
    "matrix_item_key": add_q(
        "      - name: grid\n        type: matrix\n        label: {zh: 表, en: Grid}\n        choices: yesno\n        items:\n          - {name: g1, label: {zh: 一, en: One}, special: [dont_know]}\n"
    ),
    "unknown_role": sub("        min: 0\n", "        min: 0\n        role: agee\n"),
    "role_wrong_type": sub(
        "        choices: yesno\n", "        choices: yesno\n        role: contact\n"
    ),
    "role_twice": sub("        min: 0\n", "        min: 0\n        role: age\n")
    + "      - name: age2\n        type: integer\n        label: {zh: 年龄, en: Age}\n        role: age\n",
    "sex_options": sub("        choices: yesno\n", "        choices: yesno\n        role: sex\n"),
    "province_list": sub(
        "        choices: yesno\n", "        choices: yesno\n        role: province\n"
    ),
    "unknown_dimension": sub("score: {dimension: knowledge,", "score: {dimension: knowlege,"),
    "correct_not_option": sub("correct: [yes_]", "correct: [yes]"),
    "correct_special": sub("correct: [yes_]", "correct: [dont_know]"),
    "reverse_not_scale": sub("correct: [yes_]}", "correct: [yes_], reverse: true}"),
    "points_not_option": sub("correct: [yes_]}", "points: {yes_: 1, maybe: 2}}"),
    "score_needs_correct": sub(
        "score: {dimension: knowledge, correct: [yes_]}", "score: {dimension: knowledge}"
    ),
    "negative_weight": sub("weight: 1}", "weight: -1}"),
    "dimension_derived_missing": sub("weight: 1}", "weight: 1, score: knowledge_total}"),
    "derived_min_max": BASE
    + 'derived:\n  - {name: total, label: {zh: 总分, en: Total}, expression: "1", min: 5, max: 1}\n',
    "quota_unknown_by": BASE.replace(
        "dimensions:", "settings:\n  quotas: {by: [provnce], default: 10}\ndimensions:"
    ),
    "quota_bad_cell": BASE.replace(
        "dimensions:", 'settings:\n  quotas: {by: [k_interest], cells: {"3": 10}}\ndimensions:'
    ),
    "consent_missing_text": BASE.replace("dimensions:", 'consent: {version: "1"}\ndimensions:'),
    "constraint_without_message": sub(
        "        min: 0\n", '        min: 0\n        constraint: ". < 100"\n'
    ),
    "duplicate_key": sub("        min: 0\n", "        min: 0\n        min: 1\n"),
    "bad_yaml": sub("        min: 0\n", "        min: [0\n"),
    "not_a_mapping": "- just\n- a list\n",
    "empty": "",
    "tab_indent": sub("        min: 0\n", "\tmin: 0\n"),
    "required_not_bool": sub("        min: 0\n", "        min: 0\n        required: maybe\n"),
    "status_bad": BASE.replace("languages:", "status: opened\nlanguages:"),
    "exclusive_unknown": add_q(
        "      - name: multi\n        type: multiple_choice\n        label: {zh: 多选, en: Multi}\n        choices: yesno\n        exclusive: [none]\n"
    ),
    "min_selected_too_big": add_q(
        "      - name: multi\n        type: multiple_choice\n        label: {zh: 多选, en: Multi}\n        choices: yesno\n        min_selected: 3\n"
    ),
    "likert_one_option": add_q(
        "      - name: lk\n        type: likert\n        label: {zh: 量表, en: Scale}\n        choices:\n          - {name: only, label: {zh: 唯一, en: Only}}\n"
    ),
    "integer_fraction_min": sub("        min: 0\n", "        min: 0.5\n"),
    "attention_no_expected": sub(
        "        choices: yesno\n", "        choices: yesno\n        role: attention_check\n"
    ),
    "expected_without_role": sub(
        "        choices: yesno\n", "        choices: yesno\n        expected: yes_\n"
    ),
    "section_no_questions": BASE
    + "  - name: empty\n    title: {zh: 空, en: Empty}\n    questions: []\n",
    "builtin_redefined": sub(
        "  yesno:\n", "  provinces:\n    - {name: a, label: {zh: 甲, en: A}}\n  yesno:\n"
    ),
    "index_no_dimensions": BASE.replace(
        "dimensions:\n  - {name: knowledge, label: {zh: 知识, en: Knowledge}, weight: 1}\n",
        "index: {name: idx, label: {zh: 指数, en: Index}}\n",
    ).replace("        score: {dimension: knowledge, correct: [yes_]}\n", ""),
    "text_lang_not_listed": sub(
        "title: {zh: 调查, en: Survey}", "title: {zh: 调查, en: Survey, fr: Enquête}"
    ),
    "empty_label": sub("        label: {zh: 年龄, en: Age}", '        label: {zh: 年龄, en: ""}'),
    "expr_unknown_reference": sub(
        "        choices: yesno\n", '        choices: yesno\n        relevant: "${agee} >= 18"\n'
    ),
    "expr_forward_reference": sub(
        "        min: 0\n", "        min: 0\n        relevant: \"${k_interest} = 'yes_'\"\n"
    ),
    "expr_self_reference": sub(
        "        min: 0\n",
        '        min: 0\n        constraint: "${age} < 120"\n        constraint_message: {zh: 太大, en: Too large}\n',
    ),
    "expr_dot_outside_constraint": sub(
        "        choices: yesno\n", '        choices: yesno\n        relevant: ". > 1"\n'
    ),
    "expr_syntax": sub(
        "        choices: yesno\n", '        choices: yesno\n        relevant: "${age} >= "\n'
    ),
    "expr_not_an_option": add_q(
        "      - name: follow_up\n        type: text\n        label: {zh: 追问, en: Follow-up}\n        relevant: \"${k_interest} = 'yes'\"\n"
    ),
    "expr_choice_vs_number": add_q(
        '      - name: follow_up\n        type: text\n        label: {zh: 追问, en: Follow-up}\n        relevant: "${k_interest} = 1"\n'
    ),
    "expr_relevant_not_condition": sub(
        "        choices: yesno\n", '        choices: yesno\n        relevant: "${age} + 1"\n'
    ),
    "expr_derived_boolean_gives_number": BASE
    + 'derived:\n  - name: older\n    label: {zh: 年长, en: Older}\n    expression: "${age} + 1"\n    type: boolean\n',
    "expr_derived_number_gives_boolean": BASE
    + 'derived:\n  - name: adult\n    label: {zh: 成年, en: Adult}\n    expression: "${age} >= 18"\n',
    "expr_section_relevant": BASE
    + "  - name: more\n    title: {zh: 更多, en: More}\n    relevant: \"selected(${age}, 'x')\"\n    questions:\n      - {name: q9, type: note, label: {zh: 注, en: Note}}\n",
}

MESSAGES: dict[str, str] = {
    "misspelled_key": (
        "cfl.yaml, line 21, question 'k_interest': unknown key 'lable' (did you mean 'label'?)"
    ),
    "unknown_key_no_match": (
        "cfl.yaml, line 19, question 'age': unknown key 'colour'; the keys of an integer question are: name, type, label, hint, required, relevant, role, constraint, constraint_message, min, max, unit, special, score, explanation"
    ),
    "key_of_other_type": (
        "cfl.yaml, line 23, question 'k_interest': the key 'max_length' does not belong to a single_choice question (it is used by text questions); remove it"
    ),
    "missing_label": (
        "cfl.yaml, line 15, question 'age': the key 'label' is missing; an integer question needs 'label'"
    ),
    "missing_top": (
        "cfl.yaml, line 1: the key 'version' is missing; a questionnaire needs 'version'"
    ),
    "version_unquoted": (
        'cfl.yaml, line 2: the version 2026.1 must be quoted, as version: "2026.1" (unquoted, YAML reads it as a number: 2026.10 would become 2026.1)'
    ),
    "version_bad": (
        "cfl.yaml, line 2: the version 'v1' is not valid: write dot-separated numbers in quotes, like version: \"2026.1\""
    ),
    "bad_id": (
        "cfl.yaml, line 1: the id 'CFL-2026' is not valid: names use lower-case letters a-z, digits and _, and start with a letter, e.g. 'cfl_2026'"
    ),
    "name_uppercase": (
        "cfl.yaml, line 15, question 'Age': the question name 'Age' is not valid: names use lower-case letters a-z, digits and _, and start with a letter, e.g. 'age'"
    ),
    "name_too_long": (
        "cfl.yaml, line 15, question 'a_very_long_question_name_over_32_chars': the question name 'a_very_long_question_name_over_32_chars' is 39 characters long; the limit is 32 (Stata's), shorten it"
    ),
    "name_double_underscore": (
        "cfl.yaml, line 15, question 'age__years': the question name 'age__years' contains '__', which separates a multiple-choice question from its options in column names; use a single _"
    ),
    "name_yaml_bool": (
        "cfl.yaml, line 10, choice list 'yesno', option 2: the option name no was read by YAML as false; put it in quotes: \"no\""
    ),
    "duplicate_question": (
        "cfl.yaml, line 19, question 'age': the name 'age' is already used by question 'age' (line 15); names of questions, matrix items and derived scores must be unique"
    ),
    "missing_english": (
        "cfl.yaml, line 17, question 'age': 'label' has no 'en' text; every text needs zh, en"
    ),
    "plain_string_two_langs": (
        "cfl.yaml, line 17, question 'age': 'label' must give the text in every language of the questionnaire (zh, en), as label: {zh: ..., en: ...}"
    ),
    "unknown_language": (
        "cfl.yaml, line 4: unknown language 'english' (did you mean 'en'?); the languages are zh, en"
    ),
    "no_zh": ("cfl.yaml, line 4: languages must include zh (Chinese); add zh"),
    "unknown_type": (
        "cfl.yaml, line 16, question 'age': unknown question type 'integr' (did you mean 'integer'?); the types are single_choice, multiple_choice, likert, matrix, integer, decimal, text, note"
    ),
    "xlsform_type": (
        "cfl.yaml, line 16, question 'age': unknown question type 'select_one' (did you mean 'single_choice'?); the types are single_choice, multiple_choice, likert, matrix, integer, decimal, text, note"
    ),
    "unknown_choice_list": (
        "cfl.yaml, line 22, question 'k_interest': unknown choice list 'yes_no' (did you mean 'yesno'?); define it under choices: or use one of yesno, provinces"
    ),
    "duplicate_option_name": (
        "cfl.yaml, line 10, choice list 'yesno', option 'yes_': the option name 'yes_' is used twice in this list (options 1 and 2); option names must be unique"
    ),
    "duplicate_code": (
        "cfl.yaml, line 10, choice list 'yesno', option 'no_': the code 1 is also the code of option 'yes_'; codes must be unique within a list"
    ),
    "negative_code": (
        "cfl.yaml, line 9, choice list 'yesno', option 'yes_': the code -1 is negative; codes must be 0 or more (-1 and -2 are kept for the special answers: use special: [dont_know, prefer_not])"
    ),
    "reserved_option": (
        "cfl.yaml, line 10, choice list 'yesno', option 'dont_know': the option name 'dont_know' is kept for the special answer; remove the option and add special: [dont_know] to the question"
    ),
    "unknown_special": (
        "cfl.yaml, line 19, question 'age': unknown special answer 'dont_knw' (did you mean 'dont_know'?); use dont_know and/or prefer_not"
    ),
    "special_on_text": (
        "cfl.yaml, line 27, question 'note_q': the key 'special' does not belong to a text question (it is used by single_choice, multiple_choice, likert, matrix, integer and decimal questions); remove it"
    ),
    "special_needs_min": (
        "cfl.yaml, line 18, question 'age': an integer question with special answers needs min: 0 or more, because dont_know and prefer_not are stored as -1 and -2; add min: 0"
    ),
    "min_gt_max": ("cfl.yaml, line 18, question 'age': min (10) is larger than max (5); swap them"),
    "max_length_too_big": (
        "cfl.yaml, line 27, question 'remark': 'max_length' is 10000; it must be at most 5000"
    ),
    "matrix_no_items": (
        "cfl.yaml, line 24, question 'grid': a matrix question needs items: a list of {name, label} rows sharing the scale"
    ),
    "matrix_item_key": (
        "cfl.yaml, line 29, item 'g1' of matrix 'grid': the key 'special' does not belong to a matrix item (set it on the matrix itself); remove it"
    ),
    "unknown_role": (
        "cfl.yaml, line 19, question 'age': unknown role 'agee' (did you mean 'age'?); the roles are province, sex, age, urban, education, income, occupation, exposure, exposure_recency, participant_code, phase, attention_check, contact"
    ),
    "role_wrong_type": (
        "cfl.yaml, line 23, question 'k_interest': the role 'contact' needs a text question, not single_choice"
    ),
    "role_twice": (
        "cfl.yaml, line 28, question 'age2': the role 'age' is already given to question 'age'; each role may appear once"
    ),
    "sex_options": (
        "cfl.yaml, line 23, question 'k_interest': the role 'sex' needs options named male, female; missing: male, female"
    ),
    "province_list": (
        "cfl.yaml, line 23, question 'k_interest': the role 'province' needs choices: provinces (the built-in list of the 31 provinces)"
    ),
    "unknown_dimension": (
        "cfl.yaml, line 23, question 'k_interest': unknown dimension 'knowlege' (did you mean 'knowledge'?); the dimensions are knowledge"
    ),
    "correct_not_option": (
        "cfl.yaml, line 23, question 'k_interest': the correct answer 'yes' is not an option of this question (did you mean 'yes_'?); the options are yes_, no_"
    ),
    "correct_special": (
        "cfl.yaml, line 23, question 'k_interest': 'dont_know' cannot be a correct answer (special answers always score 0); name a real option"
    ),
    "reverse_not_scale": (
        "cfl.yaml, line 23, question 'k_interest': reverse applies only to scale items (likert or matrix items scored by position, without correct or points); remove it"
    ),
    "points_not_option": (
        "cfl.yaml, line 23, question 'k_interest': points names 'maybe', which is not an option of this question; the options are yes_, no_"
    ),
    "score_needs_correct": (
        "cfl.yaml, line 23, question 'k_interest': the score of a single_choice question needs correct: [option] or points: {option: points}; scoring by position on the scale is only for likert and matrix questions"
    ),
    "negative_weight": (
        "cfl.yaml, line 6, dimension 'knowledge': the weight -1 is negative; weights must be 0 or more"
    ),
    "dimension_derived_missing": (
        "cfl.yaml, line 6, dimension 'knowledge': the score 'knowledge_total' is not a derived score; define it under derived:"
    ),
    "derived_min_max": (
        "cfl.yaml, line 25, derived score 'total': min (5) is larger than max (1); swap them"
    ),
    "quota_unknown_by": (
        "cfl.yaml, line 6, settings.quotas: quotas.by names 'provnce', which is neither a question nor a role"
    ),
    "quota_bad_cell": (
        "cfl.yaml, line 6, settings.quotas: in quota cell '3', '3' is not a code of question 'k_interest'; its codes are 1, 2"
    ),
    "consent_missing_text": (
        "cfl.yaml, line 5, consent: the key 'text' is missing; the consent needs 'text'"
    ),
    "constraint_without_message": (
        "cfl.yaml, line 19, question 'age': a constraint needs a constraint_message telling the respondent what to enter; add constraint_message: {zh: ..., en: ...}"
    ),
    "duplicate_key": (
        "cfl.yaml, line 19: the key 'min' appears twice in the same mapping (first on line 18); keep only one"
    ),
    "bad_yaml": (
        "cfl.yaml, line 19: this is not valid YAML (did not find expected ',' or ']'); check the indentation, and put texts that contain : # ? , { } [ ] in quotes"
    ),
    "not_a_mapping": (
        "cfl.yaml: the questionnaire must be a mapping of keys and values, not a list; check the indentation"
    ),
    "empty": ("cfl.yaml: the file is empty; a questionnaire needs id, version, title and sections"),
    "tab_indent": (
        "cfl.yaml, line 18: this line is indented with a tab; YAML needs spaces: indent with spaces only"
    ),
    "required_not_bool": (
        "cfl.yaml, line 19, question 'age': 'required' must be true or false, not 'maybe'"
    ),
    "status_bad": (
        "cfl.yaml, line 4: the status 'opened' is not valid (did you mean 'open'?); use open or closed"
    ),
    "exclusive_unknown": (
        "cfl.yaml, line 28, question 'multi': exclusive names 'none', which is not an option of this question; the options are yes_, no_"
    ),
    "min_selected_too_big": (
        "cfl.yaml, line 28, question 'multi': 'min_selected' is 3; it must be at most 2"
    ),
    "likert_one_option": (
        "cfl.yaml, line 27, question 'lk': the scale of a likert question needs at least 2 options; it has 1"
    ),
    "integer_fraction_min": (
        "cfl.yaml, line 18, question 'age': 'min' is 0.5 but the answer is a whole number; use a whole number or type: decimal"
    ),
    "attention_no_expected": (
        "cfl.yaml, line 23, question 'k_interest': the role 'attention_check' needs expected: <the option an attentive respondent chooses>"
    ),
    "expected_without_role": (
        "cfl.yaml, line 23, question 'k_interest': expected is used only with role: attention_check; add the role or remove expected"
    ),
    "section_no_questions": (
        "cfl.yaml, line 26, section 'empty': questions must be a non-empty list of questions (each with name, type and label)"
    ),
    "builtin_redefined": (
        "cfl.yaml, line 8, choice list 'provinces': 'provinces' is the name of a built-in list; use choices: provinces without defining it, or choose another name"
    ),
    "index_no_dimensions": (
        "cfl.yaml, line 5, index: an index is the weighted mean of the dimensions, but there are no dimensions; declare them under dimensions:"
    ),
    "text_lang_not_listed": (
        "cfl.yaml, line 3: 'title' has a text in unknown language 'fr'; the languages are zh, en"
    ),
    "empty_label": ("cfl.yaml, line 17, question 'age': 'label.en' is empty; write the text"),
    "expr_unknown_reference": (
        "cfl.yaml, line 23, question 'k_interest': relevant \"${agee} >= 18\" (at character 1): Unknown reference ${agee} (did you mean ${age}?)"
    ),
    "expr_forward_reference": (
        "cfl.yaml, line 19, question 'age': relevant \"${k_interest} = 'yes_'\" (at character 1): ${k_interest} is defined after this question; an expression can only refer to earlier questions"
    ),
    "expr_self_reference": (
        "cfl.yaml, line 19, question 'age': constraint \"${age} < 120\" (at character 1): ${age} refers to this question itself; an expression can only refer to earlier questions (in a constraint, write . for this answer)"
    ),
    "expr_dot_outside_constraint": (
        "cfl.yaml, line 23, question 'k_interest': relevant \". > 1\" (at character 1): '.' (this answer) at position 0 can only be used in a constraint; refer to questions as ${name}"
    ),
    "expr_syntax": (
        "cfl.yaml, line 23, question 'k_interest': relevant \"${age} >= \" (at character 11): The expression ends too early: a value is missing after '>='"
    ),
    "expr_not_an_option": (
        "cfl.yaml, line 27, question 'follow_up': relevant \"${k_interest} = 'yes'\" (at character 17): 'yes' is not an option of ${k_interest}; options are: yes_, no_ (did you mean 'yes_'?)"
    ),
    "expr_choice_vs_number": (
        "cfl.yaml, line 27, question 'follow_up': relevant \"${k_interest} = 1\" (at character 17): Cannot compare ${k_interest} (a choice) with the number 1: compare with an option name in quotes, e.g. ${k_interest} = 'yes_'"
    ),
    "expr_relevant_not_condition": (
        "cfl.yaml, line 23, question 'k_interest': relevant \"${age} + 1\" (at character 1): A relevant expression must be a condition (true or false), but this one gives a number; compare it, e.g. ${age} >= 18"
    ),
    "expr_derived_boolean_gives_number": (
        "cfl.yaml, line 27, derived score 'older': expression \"${age} + 1\" gives a number, but the derived score has type: boolean; make it a condition or use type: number"
    ),
    "expr_derived_number_gives_boolean": (
        "cfl.yaml, line 27, derived score 'adult': expression \"${age} >= 18\" gives true or false, but the derived score is a number; add type: boolean"
    ),
    "expr_section_relevant": (
        "cfl.yaml, line 26, section 'more': relevant \"selected(${age}, 'x')\" (at character 10): selected() needs a single or multiple choice question, but ${age} (a number) is not one"
    ),
}


def test_base_loads() -> None:
    q = parse_questionnaire(BASE, source="cfl.yaml")
    assert [x.name for x in q.questions] == ["age", "k_interest"]


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 30
    assert set(CASES) == set(MESSAGES)


@pytest.mark.parametrize("case", list(CASES))
def test_broken_questionnaire_message(case: str) -> None:
    with pytest.raises(QuestionnaireError) as info:
        parse_questionnaire(CASES[case], source="cfl.yaml")
    assert str(info.value) == MESSAGES[case]
    assert len(info.value.problems) == max(1, MESSAGES[case].count("\n- "))
