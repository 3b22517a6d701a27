"""Questionnaires written inline for the tests of the questionnaires package."""

FULL_YAML = """\
id: full_demo
version: "2026.1"
title: {zh: 全功能问卷, en: Every feature}
description: {zh: 测试用, en: For tests}
languages: [zh, en]
status: open
settings:
  invitation_only: true
  one_question_per_page: true
  quotas:
    by: [province, sex]
    default: 50
    cells: {"11|1": 80, "31|2": 70}
consent:
  version: "2026-1"
  text: {zh: "我同意参加。", en: "I agree to take part."}
dimensions:
  - name: knowledge
    label: {zh: 金融知识, en: Financial knowledge}
    weight: 0.5
  - name: attitude
    label: {zh: 金融态度, en: Financial attitude}
    weight: 0.25
  - name: behaviour
    label: {zh: 金融行为, en: Financial behaviour}
    weight: 0.25
    score: behaviour_score
index:
  name: literacy_index
  label: {zh: 金融素养指数, en: Financial literacy index}
  note: {zh: 权重来自专家打分, en: Weights from an expert panel}
choices:
  agree5:
    - {name: agree_completely, code: 1, label: {zh: 完全同意, en: Completely agree}}
    - {name: agree, code: 2, label: {zh: 同意, en: Agree}}
    - {name: neutral, code: 3, label: {zh: 一般, en: Neutral}}
    - {name: disagree, code: 4, label: {zh: 不同意, en: Disagree}}
    - {name: disagree_completely, code: 5, label: {zh: 完全不同意, en: Completely disagree}}
  sex:
    - {name: male, code: 1, label: {zh: 男, en: Male}}
    - {name: female, code: 2, label: {zh: 女, en: Female}}
sections:
  - name: about_you
    title: {zh: 基本情况, en: About you}
    description: {zh: 请如实填写, en: Please answer truthfully}
    questions:
      - name: intro
        type: note
        label: {zh: 欢迎, en: Welcome}
      - name: province
        type: single_choice
        role: province
        choices: provinces
        label: {zh: 您住在哪个省份？, en: "Which province do you live in?"}
      - name: sex
        type: single_choice
        role: sex
        choices: sex
        label: {zh: 性别, en: Sex}
      - name: age
        type: integer
        role: age
        label: {zh: 年龄, en: Age}
        hint: {zh: 周岁, en: Completed years}
        min: 0
        max: 120
        unit: {zh: 岁, en: years}
        special: [prefer_not]
        constraint: ". >= 16"
        constraint_message: {zh: 需年满16岁, en: You must be 16 or older}
      - name: urban
        type: single_choice
        role: urban
        label: {zh: 居住地, en: "Where do you live?"}
        choices:
          - {name: urban, label: {zh: 城镇, en: Town or city}}
          - {name: rural, label: {zh: 农村, en: Countryside}}
      - name: education
        type: single_choice
        role: education
        label: {zh: 学历, en: Education}
        randomize: false
        choices:
          - {name: primary, code: 10, label: {zh: 小学, en: Primary}}
          - {name: secondary, code: 20, label: {zh: 中学, en: Secondary}}
          - {name: tertiary, code: 30, label: {zh: 大学, en: Tertiary}}
      - name: income
        type: decimal
        role: income
        label: {zh: 月收入, en: Monthly income}
        min: 0
        decimals: 2
        unit: {zh: 元, en: yuan}
        special: [dont_know, prefer_not]
        required: false
      - name: occupation
        type: single_choice
        role: occupation
        label: {zh: 职业, en: Occupation}
        choices:
          - {name: employed, label: {zh: 在职, en: Employed}}
          - {name: other, label: {zh: 其他, en: Other}}
      - name: phone
        type: text
        role: contact
        label: {zh: 手机号, en: Phone}
        required: false
        max_length: 20
  - name: knowledge
    title: {zh: 金融知识, en: Financial knowledge}
    relevant: "${age} >= 18"
    questions:
      - name: k_inflation
        type: single_choice
        label: {zh: 通胀问题, en: Inflation question}
        randomize: true
        special: [dont_know]
        choices:
          - {name: more, label: {zh: 更多, en: More}}
          - {name: same, label: {zh: 一样, en: The same}}
          - {name: less, label: {zh: 更少, en: Less}}
        score: {dimension: knowledge, correct: [less]}
        explanation: {zh: 通胀降低购买力, en: Inflation lowers purchasing power}
      - name: k_interest
        type: decimal
        label: {zh: 利息是多少？, en: "How much interest?"}
        min: 0
        max: 1000
        decimals: 1
        special: [dont_know]
        score: {dimension: knowledge, correct: 102, tolerance: 0.5}
      - name: k_compare
        type: single_choice
        label: {zh: 比较, en: Compare}
        choices:
          - {name: compare_independent, label: {zh: 独立比较, en: Compared independently}}
          - {name: compare, label: {zh: 比较, en: Compared}}
          - {name: none, label: {zh: 没有, en: Did not compare}}
        score: {dimension: knowledge, points: {compare_independent: 2, compare: 1, none: 0}}
      - name: attention
        type: single_choice
        role: attention_check
        expected: agree
        label: {zh: 请选择同意, en: Please choose agree}
        choices: agree5
  - name: attitudes
    title: {zh: 态度, en: Attitudes}
    questions:
      - name: a_save
        type: likert
        label: {zh: 储蓄很重要, en: Saving matters}
        choices: agree5
        special: [dont_know]
        score: {dimension: attitude, reverse: true}
      - name: a_grid
        type: matrix
        label: {zh: 您是否同意, en: Do you agree}
        hint: {zh: 每行选一项, en: One per row}
        choices: agree5
        randomize: true
        required: false
        items:
          - name: a_grid_spend
            label: {zh: 花钱比存钱更快乐, en: Spending beats saving}
            score: {dimension: attitude}
          - name: a_grid_future
            label: {zh: 我为未来做打算, en: I plan for the future}
            relevant: "${age} >= 18"
            score: {dimension: attitude, reverse: true}
            explanation: {zh: 规划很重要, en: Planning matters}
  - name: education_exposure
    title: {zh: 金融教育, en: Financial education}
    questions:
      - name: exposure
        type: multiple_choice
        role: exposure
        label: {zh: 您参加过哪些金融教育？, en: "Which financial education did you take part in?"}
        min_selected: 1
        max_selected: 3
        exclusive: [none]
        special: [dont_know]
        choices:
          - {name: month, label: {zh: 金融知识普及月, en: Literacy month}, exposure: month}
          - {name: school, label: {zh: 学校课程, en: School course}, exposure: school}
          - {name: bank, label: {zh: 银行讲座, en: Bank talk}, exposure: bank}
          - {name: none, label: {zh: 都没有, en: None}, exposure: none}
      - name: exposure_recency
        type: single_choice
        role: exposure_recency
        relevant: "not selected(${exposure}, 'none')"
        label: {zh: 最近一次是什么时候？, en: "When was the last time?"}
        choices:
          - {name: m3, label: {zh: 三个月内, en: Within 3 months}, recency_months: 3}
          - {name: m12, label: {zh: 一年内, en: Within a year}, recency_months: 12}
          - {name: longer, label: {zh: 更早, en: Longer ago}}
      - name: b_budget
        type: multiple_choice
        label: {zh: 您如何管理预算？, en: "How do you budget?"}
        choices:
          - {name: plan, label: {zh: 做计划, en: Make a plan}}
          - {name: track, label: {zh: 记账, en: Track spending}}
        score: {dimension: knowledge, correct: [plan, track]}
      - name: pcode
        type: text
        role: participant_code
        label: {zh: 参与编号, en: Participant code}
        constraint: "string-length(.) = 6"
        constraint_message: {zh: 六位编号, en: Six characters}
      - name: phase
        type: single_choice
        role: phase
        label: {zh: 阶段, en: Phase}
        choices:
          - {name: pre, label: {zh: 前测, en: Before}}
          - {name: post, label: {zh: 后测, en: After}}
derived:
  - name: behaviour_score
    label: {zh: 行为得分, en: Behaviour score}
    expression: "count-selected(${b_budget})"
    min: 0
    max: 2
  - name: knows_inflation
    label: {zh: 懂通胀, en: Knows inflation}
    expression: "${k_inflation} = 'less'"
    type: boolean
"""

#: The smallest valid questionnaire (one language).
MINIMAL_YAML = """\
id: mini
version: "1"
title: 小问卷
sections:
  - name: s
    title: 第一部分
    questions:
      - name: q1
        type: integer
        label: 您几岁？
"""
