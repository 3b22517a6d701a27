"""Questionnaires and stored rows written by hand for the tests of scoring, items and quality."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from questionnaires import Questionnaire, load_questionnaire, parse_questionnaire
from questionnaires.model import SPECIAL_CODES
from questionnaires.registry import DEFINITIONS_DIR

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
#: The outputs of tests/reference/scoring.R.
SCORING_REFERENCE = REFERENCE / "scoring"

# The questionnaire of tests/reference/scoring.R: four dimensions, correct, points and scale
# items, reverse coding, "don't know" on knowledge and on one scale item, a number item.
REFQ_YAML = """\
id: refq
version: "1.0"
title: {zh: 参考问卷, en: Reference questionnaire}
languages: [zh, en]
dimensions:
  - {name: knowledge, label: {zh: 知识, en: Knowledge}, weight: 0.3}
  - {name: skills, label: {zh: 技能, en: Skills}, weight: 0.2}
  - {name: attitude, label: {zh: 态度, en: Attitude}, weight: 0.25}
  - {name: behaviour, label: {zh: 行为, en: Behaviour}, weight: 0.25}
index:
  name: literacy_index
  label: {zh: 指数, en: Index}
choices:
  abcd:
    - {name: a, code: 1, label: {zh: 甲, en: A}}
    - {name: b, code: 2, label: {zh: 乙, en: B}}
    - {name: c, code: 3, label: {zh: 丙, en: C}}
    - {name: d, code: 4, label: {zh: 丁, en: D}}
  agree5:
    - {name: strongly_disagree, code: 1, label: {zh: 非常不同意, en: Strongly disagree}}
    - {name: disagree, code: 2, label: {zh: 不同意, en: Disagree}}
    - {name: neutral, code: 3, label: {zh: 说不清, en: Neutral}}
    - {name: agree, code: 4, label: {zh: 同意, en: Agree}}
    - {name: strongly_agree, code: 5, label: {zh: 非常同意, en: Strongly agree}}
  freq3:
    - {name: never, code: 1, label: {zh: 从不, en: Never}}
    - {name: sometimes, code: 2, label: {zh: 有时, en: Sometimes}}
    - {name: often, code: 3, label: {zh: 经常, en: Often}}
sections:
  - name: main
    title: {zh: 题目, en: Questions}
    questions:
      - {name: k1, type: single_choice, label: {zh: 知识1, en: K1},
         choices: abcd, special: [dont_know], score: {dimension: knowledge, correct: [a]}}
      - {name: k2, type: single_choice, label: {zh: 知识2, en: K2},
         choices: abcd, special: [dont_know], score: {dimension: knowledge, correct: [b]}}
      - {name: k3, type: single_choice, label: {zh: 知识3, en: K3},
         choices: abcd, special: [dont_know], score: {dimension: knowledge, correct: [c]}}
      - {name: k4, type: single_choice, label: {zh: 知识4, en: K4},
         choices: abcd, special: [dont_know], score: {dimension: knowledge, correct: [d]}}
      - {name: k5, type: single_choice, label: {zh: 知识5, en: K5}, required: false,
         choices: abcd, special: [dont_know], score: {dimension: knowledge, correct: [a]}}
      - {name: s1, type: single_choice, label: {zh: 技能1, en: S1},
         choices: abcd, special: [dont_know], score: {dimension: skills, correct: [b]}}
      - {name: s2, type: single_choice, label: {zh: 技能2, en: S2},
         choices: abcd, special: [dont_know], score: {dimension: skills, correct: [c]}}
      - {name: s3, type: integer, label: {zh: 技能3, en: S3},
         min: 0, max: 1000, special: [dont_know], score: {dimension: skills, correct: 120}}
      - {name: a1, type: likert, label: {zh: 态度1, en: A1},
         choices: agree5, score: {dimension: attitude}}
      - {name: a2, type: likert, label: {zh: 态度2, en: A2},
         choices: agree5, score: {dimension: attitude, reverse: true}}
      - {name: a3, type: likert, label: {zh: 态度3, en: A3},
         choices: agree5, score: {dimension: attitude}}
      - {name: a4, type: likert, label: {zh: 态度4, en: A4},
         choices: agree5, score: {dimension: attitude, reverse: true}}
      - {name: a5, type: likert, label: {zh: 态度5, en: A5},
         choices: agree5, special: [dont_know], score: {dimension: attitude}}
      - {name: b1, type: single_choice, label: {zh: 行为1, en: B1},
         choices: freq3, score: {dimension: behaviour, points: {often: 2, sometimes: 1, never: 0}}}
      - {name: b2, type: single_choice, label: {zh: 行为2, en: B2},
         choices: freq3, score: {dimension: behaviour, points: {often: 2, sometimes: 1}}}
      - {name: b3, type: likert, label: {zh: 行为3, en: B3},
         choices: freq3, score: {dimension: behaviour}}
      - {name: b4, type: likert, label: {zh: 行为4, en: B4},
         choices: freq3, score: {dimension: behaviour}}
"""


def refq() -> Questionnaire:
    """The reference questionnaire of tests/reference/scoring.R."""
    return parse_questionnaire(REFQ_YAML, source="refq.yaml")


def shipped(name: str) -> Questionnaire:
    """A shipped questionnaire (cfl, oecd_infe, edu_quiz)."""
    return load_questionnaire(DEFINITIONS_DIR / f"{name}.yaml")


def stored(
    qn: Questionnaire,
    rows: Sequence[Mapping[str, object]],
    **meta: Sequence[object],
) -> pd.DataFrame:
    """Stored rows written by hand.

    Each row maps a question (or matrix item) name to its answer: an option name or a stored
    code (int), a set of option names for a multiple choice, a number, a text,
    ``"dont_know"``/``"prefer_not"``, or a stored column name (``q__option``) to its stored
    value. A question not given is skipped (null). ``meta`` adds metadata columns.
    """
    data: dict[str, list[object]] = {}
    for column in qn.columns():
        q = qn.question(column.question)
        values: list[object] = []
        for answers in rows:
            if column.name in answers and column.option is not None:
                values.append(answers[column.name])
                continue
            answer = answers.get(q.name)
            if answer is None:
                values.append(None)
            elif isinstance(answer, str) and answer in SPECIAL_CODES:
                values.append(SPECIAL_CODES[answer])
            elif column.option is not None:
                assert isinstance(answer, set | frozenset), (q.name, answer)
                values.append(int(column.option in answer))
            elif q.choices is not None and isinstance(answer, str):
                values.append(q.option_codes()[answer])
            else:
                values.append(answer)
        data[column.name] = values
    frame = pd.DataFrame(
        {c.name: pd.array(data[c.name], dtype=c.dtype) for c in qn.columns()}
    )
    n = len(rows)
    frame.insert(0, "response_id", pd.array([f"resp{i:018d}" for i in range(n)], dtype="str"))
    frame.insert(1, "questionnaire_id", pd.array([qn.id] * n, dtype="str"))
    frame.insert(2, "questionnaire_version", pd.array([qn.version] * n, dtype="str"))
    for name, values in meta.items():
        frame[name] = values if isinstance(values, pd.api.extensions.ExtensionArray) else list(
            values
        )
    return frame
