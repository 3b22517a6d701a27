"""The codebook of a microdata export: every exported variable, its labels, values and rules.

:func:`export_variables` describes, from the questionnaire alone, every column a researcher
export (:mod:`analysis.exports`) writes, in order: the pseudonymous id, the questionnaire and
its version, geography, every answer (codes), education exposure, item, dimension and derived
scores, the index, the weights, the quality flags and the two kept paradata. Each
:class:`Variable` carries its labels in Chinese and English, its value labels and the
missing-value codes, the question text, the skip condition (``relevant``), the scoring rule,
the dimension and the derived-score formula. :func:`build_codebook` wraps them in a
:class:`Codebook` that renders as HTML, Markdown and JSON and lists every label a file format
could not hold in full (:func:`shorten_labels`).

Nothing here reads or writes responses.

Variable names
--------------
Names are those of the questionnaire and of the scoring module (``score__k1``,
``dim__knowledge``) except where a statistics package cannot take them
(:func:`safe_name`): longer than 32 characters (Stata's limit; SPSS allows 64 bytes), or
than 28 for a variable with value labels (``pyreadstat`` names a Stata value-label set after the
variable plus a counter, and that name has the same 32-character limit), they become the first
26 (22) characters, ``_`` and 5 hexadecimal digits of the name's SHA-1; a name
that is a reserved word of Stata or SPSS (``in``, ``if``, ``by``, ``to``, ``long``, ...) gets
a trailing ``_``; a name already taken gets ``_2``, ``_3`` ... The same names are used in
every format, so one script works on all of them; :attr:`Variable.source` keeps the original.

Label limits
------------
=========== ======================================= =========================================
format      variable label                          value label
=========== ======================================= =========================================
Stata .dta  80 characters (release 118 stores them  32,000 bytes of UTF-8 (readstat cuts longer
            in 321 bytes: 80 x 4 + 1)               text at that byte, even inside a character)
SPSS .sav   256 bytes of UTF-8 (85 Chinese          120 bytes of UTF-8 (40 Chinese characters)
            characters)
=========== ======================================= =========================================

A longer label is cut at a character boundary so that, with ``…`` (U+2026, one character,
three bytes) appended, it fits; each shortened label is listed in the codebook with the full
text. CSV, Excel and Parquet carry labels in full.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from analysis.errors import AnalysisError
from analysis.scoring import COUNT_PREFIX, DIMENSION_PREFIX, EXPOSURE_KINDS, ITEM_PREFIX
from questionnaires.model import (
    SPECIAL_CODES,
    SPECIAL_LABELS,
    Question,
    Questionnaire,
    Text,
)

__all__ = [
    "FLAG_VARIABLES",
    "LABEL_LIMITS",
    "SPECIAL_MISSING",
    "Codebook",
    "CodebookError",
    "LabelLimits",
    "ShortenedLabel",
    "Variable",
    "build_codebook",
    "export_variables",
    "safe_name",
    "shorten_labels",
]

Language = Literal["zh", "en"]
Storage = Literal["code", "binary", "int", "float", "text"]
LabelFormat = Literal["dta", "sav"]

#: Special answer code -> Stata extended missing letter (``-1`` -> ``.a``, ``-2`` -> ``.b``).
SPECIAL_MISSING: Mapping[int, str] = {
    SPECIAL_CODES["dont_know"]: "a",
    SPECIAL_CODES["prefer_not"]: "b",
}

_ELLIPSIS = "…"
_MAX_NAME = 32
# pyreadstat names a Stata value-label set after its variable plus a counter (up to 4 digits
# here), and Stata allows 32 characters there too.
_MAX_LABELLED_NAME = 28
_RESERVED = frozenset(
    {
        # Stata ([U] 11.3 Naming conventions)
        "byte", "double", "float", "if", "in", "int", "long", "using", "with", "strl",
        # SPSS (reserved keywords)
        "all", "and", "by", "eq", "ge", "gt", "le", "lt", "ne", "not", "or", "to",
    }
)  # fmt: skip
_STR_TYPE = re.compile(r"str[0-9]+")
_NAME = re.compile(r"[a-z][a-z0-9_]*")

#: Quality-flag export columns -> (flag of analysis.quality, label).
FLAG_VARIABLES: Mapping[str, tuple[str, Text]] = {
    "flag_speeder": (
        "speeder",
        Text.of({"zh": "质量标记：答题过快", "en": "Quality flag: speeder"}),
    ),
    "flag_straightliner": (
        "straightliner",
        Text.of({"zh": "质量标记：矩阵题同一选项", "en": "Quality flag: straight-lining"}),
    ),
    "flag_long_string": (
        "long_string",
        Text.of(
            {"zh": "质量标记：连续相同答案", "en": "Quality flag: long string of same answers"}
        ),
    ),
    "flag_attention_failed": (
        "attention_failed",
        Text.of({"zh": "质量标记：注意力检测未通过", "en": "Quality flag: attention check failed"}),
    ),
    "flag_duplicate_token": (
        "duplicate_token",
        Text.of({"zh": "质量标记：邀请码重复使用", "en": "Quality flag: invitation reused"}),
    ),
    "flag_duplicate_answers": (
        "duplicate_answers",
        Text.of({"zh": "质量标记：答卷重复", "en": "Quality flag: duplicate answer sheet"}),
    ),
    "flag_any": (
        "flag_any",
        Text.of({"zh": "质量标记：任一", "en": "Quality flag: any"}),
    ),
}

_YES_NO = (
    (0, Text.of({"zh": "否", "en": "No"})),
    (1, Text.of({"zh": "是", "en": "Yes"})),
)
_CHOSEN = (
    (0, Text.of({"zh": "未选", "en": "Not chosen"})),
    (1, Text.of({"zh": "选中", "en": "Chosen"})),
)
_EXPOSURE_LABELS: Mapping[str, Text] = {
    "month": Text.of({"zh": "金融知识普及月", "en": "Financial literacy month"}),
    "consumer_day": Text.of({"zh": "3·15消费者权益日", "en": "Consumer rights day (15 March)"}),
    "school": Text.of({"zh": "学校课程", "en": "School or university course"}),
    "bank": Text.of({"zh": "金融机构网点宣传", "en": "Bank or other financial institution"}),
    "online": Text.of({"zh": "网络或媒体", "en": "Online or media"}),
    "other": Text.of({"zh": "其他", "en": "Other"}),
}


class CodebookError(AnalysisError):
    """A codebook cannot be made (bad option values)."""


# ============================================================================ variables
@dataclass(frozen=True)
class Variable:
    """One exported column.

    Attributes
    ----------
    name
        The name in every export format (:func:`safe_name`).
    source
        The column it comes from in the prepared data (the questionnaire's or scoring's name).
    group
        What it is: ``id``, ``questionnaire``, ``geography``, ``answer``, ``pseudonym``,
        ``text``, ``demographic``, ``exposure``, ``item_score``, ``item_count``,
        ``dimension``, ``derived``, ``index``, ``weight``, ``flag``, ``paradata``.
    storage
        ``code`` (integer code with value labels), ``binary`` (0/1), ``int``, ``float`` or
        ``text``.
    label
        Variable label in Chinese and English.
    value_labels
        Code -> label, special answers (-1, -2) included.
    missing_codes
        The special-answer codes this variable can hold (-1 don't know, -2 prefer not to say):
        SPSS user-missing values, Stata ``.a`` / ``.b``.
    question
        The question (or matrix item) it belongs to, if any.
    question_text
        That question's text (for a matrix item: the matrix's text, then the item's).
    relevant
        When the question is asked (skip conditions of the section, the matrix and the
        question, joined by ``and``); None when always asked.
    rule
        How the value is computed (scoring rule, formula), in both languages.
    dimension
        The dimension an item score counts towards.
    formula
        The expression of a derived score.
    unit
        Unit of a number question.
    """

    name: str
    source: str
    group: str
    storage: Storage
    label: Text
    value_labels: tuple[tuple[int, Text], ...] = ()
    missing_codes: tuple[int, ...] = ()
    question: str | None = None
    question_text: Text | None = None
    relevant: str | None = None
    rule: Text | None = None
    dimension: str | None = None
    formula: str | None = None
    unit: Text | None = None

    def value_label_dict(self, lang: str = "zh") -> dict[int, str]:
        """Code -> label in ``lang``."""
        return {code: text.get(lang) for code, text in self.value_labels}

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict (labels in both languages)."""
        return {
            "name": self.name,
            "source": self.source,
            "group": self.group,
            "storage": self.storage,
            "label": self.label.as_dict(),
            "value_labels": [
                {"code": code, "label": text.as_dict()} for code, text in self.value_labels
            ],
            "missing_codes": [
                {"code": code, "stata": f".{SPECIAL_MISSING[code]}", "meaning": _special_name(code)}
                for code in self.missing_codes
            ],
            "question": self.question,
            "question_text": None if self.question_text is None else self.question_text.as_dict(),
            "relevant": self.relevant,
            "rule": None if self.rule is None else self.rule.as_dict(),
            "dimension": self.dimension,
            "formula": self.formula,
            "unit": None if self.unit is None else self.unit.as_dict(),
        }


def _special_name(code: int) -> str:
    return next(name for name, value in SPECIAL_CODES.items() if value == code)


def safe_name(name: str, taken: set[str], *, labelled: bool = False) -> str:
    """A variable name Stata and SPSS accept, not in ``taken`` (which it is added to).

    See the module docstring: at most 32 characters (28 for a variable with value labels),
    not a reserved word, unique.
    """
    if not _NAME.fullmatch(name):
        raise CodebookError(
            f"variable name {name!r} is not an identifier ([a-z][a-z0-9_]*); the questionnaire "
            "loader should have refused it."
        )
    limit = _MAX_LABELLED_NAME if labelled else _MAX_NAME
    out = name
    if len(out) > limit:
        digest = hashlib.sha1(name.encode("utf-8"), usedforsecurity=False).hexdigest()[:5]
        out = f"{name[: limit - 6]}_{digest}"
    if out in _RESERVED or _STR_TYPE.fullmatch(out):
        out = f"{out}_"
    base, k = out, 2
    while out in taken:
        suffix = f"_{k}"
        out = f"{base[: limit - len(suffix)]}{suffix}"
        k += 1
    taken.add(out)
    return out


def _t(zh: str, en: str) -> Text:
    return Text.of({"zh": zh, "en": en})


def _join(a: Text, b: Text, sep_zh: str = "：", sep_en: str = ": ") -> Text:
    return _t(f"{a.get('zh')}{sep_zh}{b.get('zh')}", f"{a.get('en')}{sep_en}{b.get('en')}")


def _specials(q: Question) -> tuple[tuple[int, Text], ...]:
    return tuple((SPECIAL_CODES[s], SPECIAL_LABELS[s]) for s in q.special)


def _choice_labels(q: Question) -> tuple[tuple[int, Text], ...]:
    options = tuple((c.code, c.label) for c in (q.choices or ()))
    return options + _specials(q)


def _relevant(questionnaire: Questionnaire, q: Question) -> str | None:
    parts: list[str] = []
    section = questionnaire.section(q.section)
    if section.relevant:
        parts.append(section.relevant)
    if q.parent is not None:
        matrix = questionnaire.question(q.parent)
        if matrix.relevant:
            parts.append(matrix.relevant)
    if q.relevant:
        parts.append(q.relevant)
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return " and ".join(f"({p})" for p in parts)


def _question_text(questionnaire: Questionnaire, q: Question) -> Text:
    if q.parent is not None:
        return _join(questionnaire.question(q.parent).label, q.label, " ", " ")
    return q.label


def _option_list(q: Question, names: Sequence[str]) -> Text:
    codes = q.option_codes(with_special=False)
    zh = "、".join(f"{n}（{codes[n]}）" for n in names)
    en = ", ".join(f"{n} ({codes[n]})" for n in names)
    return _t(zh, en)


def _score_rule(q: Question) -> Text:
    """The scoring rule of an item, in words (FORMAT.md, Scoring)."""
    score = q.score
    if score is None:  # pragma: no cover - only scored items have a rule
        raise CodebookError(f"question '{q.name}' has no score")
    specials_zh = "“不知道”“不愿回答”计0分；" if q.special else ""
    specials_en = "don't know / prefer not to say score 0; " if q.special else ""
    if score.kind == "correct" and score.correct_value is not None:
        tol = f" ± {score.tolerance:g}" if score.tolerance else ""
        return _t(
            f"答案等于 {score.correct_value:g}{tol} 时得1分，否则0分；{specials_zh}未作答为缺失。",
            f"1 if the answer is {score.correct_value:g}{tol}, else 0; {specials_en}"
            "skipped is missing.",
        )
    if score.kind == "correct":
        options = _option_list(q, score.correct)
        if q.type == "multiple_choice":
            return _t(
                f"恰好选中 {options.get('zh')} 时得1分，否则0分；{specials_zh}未作答为缺失。",
                f"1 if exactly {options.get('en')} are chosen, else 0; {specials_en}"
                "skipped is missing.",
            )
        return _t(
            f"选 {options.get('zh')} 得1分，其他选项0分；{specials_zh}未作答为缺失。",
            f"1 for {options.get('en')}, 0 for any other option; {specials_en}skipped is missing.",
        )
    if score.kind == "points":
        top = score.max_points
        pts_zh = "、".join(f"{n}={p:g}" for n, p in score.points)
        pts_en = ", ".join(f"{n}={p:g}" for n, p in score.points)
        return _t(
            f"得分 = 所选选项的分值 ÷ {top:g}（{pts_zh}；未列出的选项为0）；"
            f"{specials_zh}未作答为缺失。",
            f"points of the chosen option / {top:g} ({pts_en}; options not listed score 0); "
            f"{specials_en}skipped is missing.",
        )
    names = q.choices.names if q.choices is not None else ()
    k = max(len(names) - 1, 1)
    order = "反向计分：第一个选项得1分" if score.reverse else "第一个选项得0分"
    order_en = (
        "reversed: the first option scores 1" if score.reverse else "the first option scores 0"
    )
    return _t(
        f"按量表位置计分：位置 ÷ {k}（{order}）；“不知道”“不愿回答”和未作答为缺失。",
        f"scale position / {k} ({order_en}); don't know, prefer not to say and skipped are "
        "missing.",
    )


def _number_labels(q: Question) -> tuple[tuple[int, Text], ...]:
    return _specials(q)


def _answer_variables(
    questionnaire: Questionnaire, *, include_text: bool, taken: set[str]
) -> list[Variable]:
    out: list[Variable] = []
    for column in questionnaire.columns(include_contact=False):
        q = questionnaire.question(column.question)
        if q.role == "province" and column.name == "province":
            continue  # the same values as the geography column `province`
        common: dict[str, Any] = {
            "question": q.name,
            "question_text": _question_text(questionnaire, q),
            "relevant": _relevant(questionnaire, q),
            "dimension": q.score.dimension if q.score is not None else None,
            "rule": _score_rule(q) if q.score is not None else None,
        }
        specials = tuple(SPECIAL_CODES[s] for s in q.special)
        if q.type == "text":
            if q.role == "participant_code":
                out.append(
                    Variable(
                        safe_name(f"{q.name}_pseudonym", taken),
                        q.name,
                        "pseudonym",
                        "text",
                        _join(q.label, _t("匿名编号", "pseudonym")),
                        rule=_t(
                            "参与者自填编号（去除首尾空格、字母转大写）的带密钥哈希：同一编号得到同一匿名编号，"
                            "可用于匹配前后测，但不显示编号本身。",
                            "Keyed hash of the participant's own code (spaces trimmed, letters "
                            "upper-cased): the same code gives the same pseudonym, so pre- and "
                            "post-tests can be linked without showing the code.",
                        ),
                        **{k: v for k, v in common.items() if k not in ("rule",)},
                    )
                )
            elif include_text:
                out.append(
                    Variable(
                        safe_name(column.name, taken),
                        column.name,
                        "text",
                        "text",
                        q.label,
                        **common,
                    )
                )
            continue
        if column.option is not None:
            option = q.choices.choice(column.option) if q.choices is not None else None
            label = _join(q.label, option.label) if option is not None else q.label
            out.append(
                Variable(
                    safe_name(column.name, taken, labelled=True),
                    column.name,
                    "answer",
                    "binary",
                    label,
                    value_labels=_CHOSEN + _specials(q),
                    missing_codes=specials,
                    **common,
                )
            )
            continue
        label = _question_text(questionnaire, q) if q.parent is not None else q.label
        if q.is_choice:
            out.append(
                Variable(
                    safe_name(column.name, taken, labelled=True),
                    column.name,
                    "answer",
                    "code",
                    label,
                    value_labels=_choice_labels(q),
                    missing_codes=specials,
                    **common,
                )
            )
        else:
            out.append(
                Variable(
                    safe_name(column.name, taken, labelled=bool(q.special)),
                    column.name,
                    "answer",
                    "int" if q.type == "integer" else "float",
                    label,
                    value_labels=_number_labels(q),
                    missing_codes=specials,
                    unit=q.unit,
                    **common,
                )
            )
    return out


def _province_labels() -> tuple[tuple[int, Text], ...]:
    from questionnaires.validation import provinces

    return tuple((c.code, c.label) for c in provinces())


def export_variables(
    questionnaire: Questionnaire,
    *,
    include_text: bool = False,
    top_code_income: float | None = None,
    top_code_age: float | None = None,
) -> tuple[Variable, ...]:
    """Every variable a microdata export of ``questionnaire`` contains, in column order.

    Parameters
    ----------
    questionnaire
        The questionnaire version exported.
    include_text
        Include free-text answers (never contact details; a participant code is always
        replaced by its pseudonym).
    top_code_income, top_code_age
        Top-coding applied (changes the value labels and rules of those questions).

    Returns
    -------
    tuple of Variable
        In export order: ``pid``; ``questionnaire_id``, ``questionnaire_version``,
        ``language``; ``province``, ``province_name_zh``, ``province_name_en``, ``region``;
        the answers in questionnaire order; ``age_band``, ``age_group`` (when there is an
        age question); the exposure indicators (when there is an exposure question); item
        scores, answered-item counts and dimension scores; derived scores; the index;
        ``weight``, ``base_weight``; the quality flags; ``duration_seconds``,
        ``device_class``.
    """
    if not isinstance(questionnaire, Questionnaire):
        raise CodebookError(
            f"questionnaire must be a loaded Questionnaire, got {type(questionnaire).__name__}."
        )
    taken: set[str] = set()
    # Answer names are claimed first so that they keep their own names on a clash.
    answers = _answer_variables(questionnaire, include_text=include_text, taken=taken)
    answers = [_top_coded(v, questionnaire, top_code_income, top_code_age) for v in answers]
    roles = questionnaire.roles()

    def var(source: str, group: str, storage: Storage, label: Text, **kw: Any) -> Variable:
        name = safe_name(source, taken, labelled=bool(kw.get("value_labels")))
        return Variable(name, source, group, storage, label, **kw)

    head = [
        var(
            "pid",
            "id",
            "text",
            _t("匿名受访者编号", "Pseudonymous respondent id"),
            rule=_t(
                "答卷编号的带密钥哈希（HMAC-SHA256，取前24位十六进制）：使用同一密钥的多次导出中保持一致，"
                "但无法还原答卷编号。密钥保存在数据目录中，从不导出。",
                "Keyed hash of the response id (HMAC-SHA256, first 24 hex digits): the same "
                "in every export made with the same key, and it cannot be turned back into "
                "the response id. The key is kept in the data folder and never exported.",
            ),
        ),
        var("questionnaire_id", "questionnaire", "text", _t("问卷编号", "Questionnaire id")),
        var(
            "questionnaire_version",
            "questionnaire",
            "text",
            _t("问卷版本", "Questionnaire version"),
        ),
        var(
            "language",
            "questionnaire",
            "text",
            _t("作答语言", "Language the questionnaire was answered in"),
        ),
        var(
            "province",
            "geography",
            "code",
            _t("省份（GB/T 2260 代码）", "Province (GB/T 2260 code)"),
            value_labels=_province_labels(),
            question=roles["province"].name if "province" in roles else None,
            question_text=roles["province"].label if "province" in roles else None,
        ),
        var(
            "province_name_zh",
            "geography",
            "text",
            _t("省份名称（中文）", "Province name (Chinese)"),
        ),
        var(
            "province_name_en",
            "geography",
            "text",
            _t("省份名称（英文）", "Province name (English)"),
        ),
        var(
            "region",
            "geography",
            "text",
            _t(
                "地区（国家统计局：East 东部、Central 中部、West 西部、Northeast 东北）",
                "Region (NBS: East, Central, West, Northeast)",
            ),
        ),
    ]
    derived_demo: list[Variable] = []
    if "age" in roles:
        derived_demo.append(
            var(
                "age_band",
                "demographic",
                "text",
                _t("年龄段（人口普查口径：15-59、60+）", "Age band (census: 15-59, 60+)"),
                rule=_t("由年龄题得出，用于加权。", "From the age question; used for weighting."),
            )
        )
        derived_demo.append(
            var(
                "age_group",
                "demographic",
                "text",
                _t("年龄组（18-24 … 65+）", "Age group (18-24 ... 65+)"),
                rule=_t(
                    "由年龄题得出，用于分组比较。", "From the age question; for group comparisons."
                ),
            )
        )
    exposure: list[Variable] = []
    if "exposure" in roles:
        q = roles["exposure"]
        exposure.append(
            var(
                "exposure_any",
                "exposure",
                "binary",
                _t("接受过任何金融知识教育", "Received any financial education"),
                value_labels=_YES_NO,
                question=q.name,
                question_text=q.label,
                rule=_t(
                    "选择了“没有”以外的任何教育方式为1；特殊答案或未作答为缺失。",
                    "1 when any kind other than 'none' was chosen; special answers and skips "
                    "are missing.",
                ),
            )
        )
        for kind in EXPOSURE_KINDS:
            options = [c.label for c in (q.choices or ()) if c.exposure == kind]
            kind_label = (
                _t(
                    "；".join(o.get("zh") for o in options),
                    "; ".join(o.get("en") for o in options),
                )
                if options
                else _EXPOSURE_LABELS[kind]
            )
            exposure.append(
                var(
                    f"exposure_{kind}",
                    "exposure",
                    "binary",
                    _join(_t("金融知识教育", "Financial education"), kind_label),
                    value_labels=_YES_NO,
                    question=q.name,
                    question_text=q.label,
                )
            )
    if "exposure_recency" in roles:
        q = roles["exposure_recency"]
        exposure.append(
            var(
                "exposure_recency_months",
                "exposure",
                "int",
                _t(
                    "距上次金融教育的月数（上限）",
                    "Months since the last financial education (upper bound)",
                ),
                question=q.name,
                question_text=q.label,
            )
        )
    scores: list[Variable] = []
    for item in questionnaire.scored_items():
        scores.append(
            var(
                ITEM_PREFIX + item.name,
                "item_score",
                "float",
                _join(
                    _t("题目得分（0-1）", "Item score (0-1)"), _question_text(questionnaire, item)
                ),
                question=item.name,
                question_text=_question_text(questionnaire, item),
                relevant=_relevant(questionnaire, item),
                dimension=item.score.dimension if item.score is not None else None,
                rule=_score_rule(item),
            )
        )
    for d in questionnaire.dimensions:
        items = [q.name for q in questionnaire.scored_items(d.name)]
        scores.append(
            var(
                COUNT_PREFIX + d.name,
                "item_count",
                "int",
                _join(_t("已作答题目数", "Items answered"), d.label),
                dimension=d.name,
                rule=_t(
                    f"计入该维度且有得分的题目数（共 {len(items)} 题）。",
                    f"Items of this dimension with a score (of {len(items)}).",
                ),
            )
        )
        if d.score is not None:
            derived = questionnaire.derived_score(d.score)
            rule = _t(
                f"由派生得分 {d.score} 换算：100 ×（值 − {derived.min:g}）÷"
                f"（{derived.max:g} − {derived.min:g}）。",
                f"From the derived score {d.score}: 100 x (value - {derived.min:g}) / "
                f"({derived.max:g} - {derived.min:g}).",
            )
        else:
            rule = _t(
                f"100 × 已作答题目得分的平均值；题目：{'、'.join(items)}。全部未作答时为缺失。",
                f"100 x the mean of the answered item scores; items: {', '.join(items)}. "
                "Missing when none is answered.",
            )
        scores.append(
            var(
                DIMENSION_PREFIX + d.name,
                "dimension",
                "float",
                _join(d.label, _t("得分（0-100）", "score (0-100)"), "", " "),
                dimension=d.name,
                rule=rule,
            )
        )
    for ds in questionnaire.derived:
        range_zh = (
            f"，取值 {ds.min:g} 至 {ds.max:g}" if ds.min is not None and ds.max is not None else ""
        )
        range_en = (
            f", from {ds.min:g} to {ds.max:g}" if ds.min is not None and ds.max is not None else ""
        )
        scores.append(
            var(
                ds.name,
                "derived",
                "binary" if ds.type == "boolean" else "float",
                ds.label,
                value_labels=_YES_NO if ds.type == "boolean" else (),
                formula=ds.expression,
                rule=_t(
                    f"派生得分：按公式计算{range_zh}。",
                    f"Derived score: computed by the formula{range_en}.",
                ),
            )
        )
    if questionnaire.index is not None:
        total = sum(d.weight for d in questionnaire.dimensions)
        parts = [
            f"{d.weight / total:.4g} × {DIMENSION_PREFIX}{d.name}" for d in questionnaire.dimensions
        ]
        note = questionnaire.index.note
        scores.append(
            var(
                questionnaire.index.name,
                "index",
                "float",
                questionnaire.index.label,
                formula=" + ".join(parts),
                rule=_t(
                    "各维度得分的加权平均（权重归一化为和为1）；任一正权重维度缺失时为缺失。"
                    + (f" {note.get('zh')}" if note else ""),
                    "Weighted mean of the dimension scores (weights normalised to sum 1); "
                    "missing when a dimension with a positive weight is missing."
                    + (f" {note.get('en')}" if note else ""),
                ),
            )
        )
    tail = [
        var(
            "weight",
            "weight",
            "float",
            _t("权重（按2020年人口普查校准）", "Weight (raked to the 2020 census)"),
            rule=WEIGHTS_RULE,
        ),
        var(
            "base_weight",
            "weight",
            "float",
            _t("基础权重（校准前，N/n）", "Base weight (before calibration, N/n)"),
            rule=_t(
                "校准前的设计权重：参与校准的成年人口总数 ÷ 参与校准的受访者数。",
                "Design weight before calibration: the adult population of the calibration "
                "targets / the number of respondents calibrated.",
            ),
        ),
    ]
    for name, (flag, label) in FLAG_VARIABLES.items():
        tail.append(var(name, "flag", "binary", label, value_labels=_YES_NO, rule=FLAG_RULES[flag]))
    tail.append(
        var(
            "duration_seconds",
            "paradata",
            "int",
            _t("作答用时（秒，取整）", "Time taken (seconds, rounded)"),
        )
    )
    tail.append(
        var(
            "device_class",
            "paradata",
            "text",
            _t(
                "设备类型（phone/tablet/desktop/bot/unknown）",
                "Device class (phone/tablet/desktop/bot/unknown)",
            ),
        )
    )
    return tuple(head + answers + derived_demo + exposure + scores + tail)


def _top_coded(
    v: Variable,
    questionnaire: Questionnaire,
    income: float | None,
    age: float | None,
) -> Variable:
    if v.group != "answer" or v.question is None:
        return v
    q = questionnaire.question(v.question)
    limit = income if q.role == "income" else age if q.role == "age" else None
    if limit is None:
        return v
    note_zh = f"已顶部编码：大于 {limit:g} 的值记为 {limit:g}。"
    note_en = f"Top-coded: values above {limit:g} are recorded as {limit:g}."
    labels = v.value_labels
    if v.storage == "code":
        labels = tuple(
            (code, _t(f"{text.get('zh')}及以上", f"{text.get('en')} or more"))
            if code == limit
            else (code, text)
            for code, text in labels
            if code < 0 or code <= limit
        )
        note_zh = f"已顶部编码：代码大于 {limit:g} 的选项并入 {limit:g}。"
        note_en = f"Top-coded: options with codes above {limit:g} are merged into {limit:g}."
    rule = _t(
        ((v.rule.get("zh") + " ") if v.rule else "") + note_zh,
        ((v.rule.get("en") + " ") if v.rule else "") + note_en,
    )
    return Variable(**{**_fields(v), "value_labels": labels, "rule": rule})


def _fields(v: Variable) -> dict[str, Any]:
    return {f: getattr(v, f) for f in Variable.__dataclass_fields__}


WEIGHTS_RULE = _t(
    "按2020年第七次全国人口普查成年人（15岁及以上）口径进行迭代比例加权（raking）。依次尝试以下边际，"
    "采用第一个可行的：① 省份、省份×性别、省份×年龄段、省份×城乡；② 省份、性别、年龄段、城乡；"
    "③ 仅省份。目标总数只包括样本中出现的省份。"
    "性别、年龄、城乡或省份缺失（含“不愿回答”）的受访者不参与校准，权重为缺失。"
    "权重之和为所覆盖省份的成年人口数。权重基于该问卷版本的全部答卷计算，再按筛选条件选取行。",
    "Raked (iterative proportional fitting) to the 2020 census (7th national census), "
    "adults aged 15+. The first of these sets of margins that can be met is used: (1) "
    "province, province x sex, province x age band, province x urban/rural; (2) province, "
    "sex, age band, urban/rural; (3) province only. Targets cover only the provinces present "
    "in the sample. Respondents with no province, sex, age or urban/rural (including 'prefer "
    "not to say') are not calibrated and have a missing weight. The weights sum to the adult "
    "population of the provinces covered. Weights are computed on all responses to the "
    "questionnaire version, before the export's filters select rows.",
)

FLAG_RULES: Mapping[str, Text] = {
    "speeder": _t(
        "作答用时少于该问卷版本全部答卷用时中位数的1/3。",
        "Time taken below 1/3 of the median of all responses to the version.",
    ),
    "straightliner": _t(
        "矩阵题（或连续的同量表李克特题）中至少4题全部选择同一选项。",
        "At least 4 items of a matrix (or run of likert questions on one scale) all answered "
        "with the same option.",
    ),
    "long_string": _t(
        "同一量表上连续至少6题答案相同。",
        "At least 6 consecutive answers on a shared scale are identical.",
    ),
    "attention_failed": _t(
        "注意力检测题未选择要求的选项。", "The attention check was not answered as instructed."
    ),
    "duplicate_token": _t(
        "同一邀请码已被更早的答卷使用。", "The same invitation was used by an earlier response."
    ),
    "duplicate_answers": _t(
        "更早的答卷与本答卷全部答案相同且设备类型相同。",
        "An earlier response has exactly the same answers from the same device class.",
    ),
    "flag_any": _t("以上任一标记。", "Any of the flags above."),
}


# ============================================================================ label limits
@dataclass(frozen=True)
class LabelLimits:
    """How long a label a file format holds: a number of characters or of UTF-8 bytes."""

    variable: int
    variable_unit: Literal["chars", "bytes"]
    value: int
    value_unit: Literal["chars", "bytes"]
    description: str


#: Label limits by format (see the module docstring).
LABEL_LIMITS: Mapping[str, LabelLimits] = {
    "dta": LabelLimits(
        80,
        "chars",
        32000,
        "bytes",
        "Stata .dta release 118: variable labels 80 characters, value labels 32,000 bytes",
    ),
    "sav": LabelLimits(
        256,
        "bytes",
        120,
        "bytes",
        "SPSS .sav: variable labels 256 bytes, value labels 120 "
        "bytes (UTF-8; a Chinese character takes 3)",
    ),
}


@dataclass(frozen=True)
class ShortenedLabel:
    """A label a format could not hold in full, as written and in full."""

    format: str
    variable: str
    kind: Literal["variable", "value"]
    code: int | None
    language: str
    full: str
    written: str

    def to_record(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "variable": self.variable,
            "kind": self.kind,
            "code": self.code,
            "language": self.language,
            "full": self.full,
            "written": self.written,
        }


def _fit(text: str, limit: int, unit: str) -> str:
    size = len(text) if unit == "chars" else len(text.encode("utf-8"))
    if size <= limit:
        return text
    room = limit - (1 if unit == "chars" else len(_ELLIPSIS.encode("utf-8")))
    if unit == "chars":
        return text[:room] + _ELLIPSIS
    cut = text.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    return cut + _ELLIPSIS


def shorten_labels(
    variables: Sequence[Variable], fmt: LabelFormat, language: str
) -> tuple[dict[str, str], dict[str, dict[int, str]], tuple[ShortenedLabel, ...]]:
    """Variable and value labels in ``language`` fitted to the limits of ``fmt``.

    Returns
    -------
    (variable labels, value labels, shortened)
        Name -> label; name -> {code -> label}; every label that had to be shortened.
    """
    if fmt not in LABEL_LIMITS:
        raise CodebookError(f"label limits are known for {', '.join(LABEL_LIMITS)}, not {fmt!r}.")
    limits = LABEL_LIMITS[fmt]
    labels: dict[str, str] = {}
    values: dict[str, dict[int, str]] = {}
    shortened: list[ShortenedLabel] = []
    for v in variables:
        full = v.label.get(language)
        written = _fit(full, limits.variable, limits.variable_unit)
        labels[v.name] = written
        if written != full:
            shortened.append(ShortenedLabel(fmt, v.name, "variable", None, language, full, written))
        if v.value_labels:
            values[v.name] = {}
            for code, text in v.value_labels:
                full = text.get(language)
                written = _fit(full, limits.value, limits.value_unit)
                values[v.name][code] = written
                if written != full:
                    shortened.append(
                        ShortenedLabel(fmt, v.name, "value", code, language, full, written)
                    )
    return labels, values, tuple(shortened)


# ============================================================================ the codebook
@dataclass(frozen=True)
class Codebook:
    """The codebook of one questionnaire version's export.

    Attributes
    ----------
    questionnaire_id, version, title
        The questionnaire.
    variables
        Every exported variable, in column order.
    shortened
        Labels shortened for Stata and SPSS, in both languages.
    weighting
        How the weights of this export were made (margins used, respondents calibrated),
        when known; otherwise the general rule.
    notes
        Further notes (disclosure control, filters).
    """

    questionnaire_id: str
    version: str
    title: Text
    variables: tuple[Variable, ...]
    shortened: tuple[ShortenedLabel, ...] = ()
    weighting: Text = WEIGHTS_RULE
    notes: tuple[Text, ...] = field(default_factory=tuple)

    def variable(self, name: str) -> Variable:
        """The variable called ``name`` (KeyError when there is none)."""
        for v in self.variables:
            if v.name == name:
                return v
        raise KeyError(f"the codebook has no variable {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "questionnaire_id": self.questionnaire_id,
            "version": self.version,
            "title": self.title.as_dict(),
            "missing_values": {
                "system": "skipped (not asked) or not applicable: empty / NA / Stata '.' / "
                "SPSS system-missing",
                "-1": "don't know (不知道): SPSS user-missing -1, Stata .a",
                "-2": "prefer not to say (不愿回答): SPSS user-missing -2, Stata .b",
            },
            "weighting": self.weighting.as_dict(),
            "notes": [n.as_dict() for n in self.notes],
            "variables": [v.to_record() for v in self.variables],
            "shortened_labels": [s.to_record() for s in self.shortened],
        }

    def to_json(self) -> str:
        """The codebook as JSON (UTF-8 text, Chinese kept as is)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    def to_markdown(self, language: Language = "zh") -> str:
        """The codebook as Markdown (``language`` for the headings; labels in both)."""
        lang = _check_language(language)
        h = _headings(lang)
        lines = [
            f"# {h['codebook']}: {self.title.get(lang)} ({self.questionnaire_id} {self.version})",
            "",
            f"## {h['missing']}",
            "",
            *[f"- {line}" for line in _missing_lines(lang)],
            "",
            f"## {h['weights']}",
            "",
            _md(self.weighting.get(lang)),
            "",
        ]
        for note in self.notes:
            lines += [_md(note.get(lang)), ""]
        lines += [f"## {h['variables']}", ""]
        lines += [
            f"| # | {h['name']} | {h['label']} (中文) | {h['label']} (English) | {h['type']} | "
            f"{h['values']} |",
            "|---|---|---|---|---|---|",
        ]
        for i, v in enumerate(self.variables, 1):
            values = "; ".join(f"{c} = {t.get(lang)}" for c, t in v.value_labels)
            lines.append(
                f"| {i} | `{v.name}` | {_md(v.label.get('zh'))} | {_md(v.label.get('en'))} | "
                f"{v.storage} | {_md(values)} |"
            )
        lines += ["", f"## {h['details']}", ""]
        for v in self.variables:
            details = _details(v, lang)
            if not details:
                continue
            lines.append(f"### `{v.name}`")
            lines.append("")
            for key, value in details:
                lines.append(f"- **{key}**: {_md(value)}")
            lines.append("")
        lines += [f"## {h['shortened']}", ""]
        if self.shortened:
            lines += [
                f"| {h['format']} | {h['name']} | {h['kind']} | {h['code']} | {h['language']} | "
                f"{h['written']} | {h['full']} |",
                "|---|---|---|---|---|---|---|",
            ]
            for s in self.shortened:
                lines.append(
                    f"| {s.format} | `{s.variable}` | {s.kind} | "
                    f"{'' if s.code is None else s.code} | {s.language} | {_md(s.written)} | "
                    f"{_md(s.full)} |"
                )
        else:
            lines.append(h["none_shortened"])
        lines.append("")
        return "\n".join(lines)

    def to_html(self, language: Language = "zh") -> str:
        """The codebook as a standalone HTML page (every text escaped)."""
        lang = _check_language(language)
        h = _headings(lang)
        e = html.escape
        parts = [
            "<!DOCTYPE html>",
            f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">',
            f"<title>{e(h['codebook'])}: {e(self.title.get(lang))}</title>",
            "<style>body{font-family:sans-serif;margin:2em;max-width:80em}"
            "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.2em .4em;"
            "vertical-align:top;text-align:left}code{background:#f3f3f3}</style>",
            "</head><body>",
            f"<h1>{e(h['codebook'])}: {e(self.title.get(lang))} "
            f"({e(self.questionnaire_id)} {e(self.version)})</h1>",
            f"<h2>{e(h['missing'])}</h2><ul>",
            *[f"<li>{e(line)}</li>" for line in _missing_lines(lang)],
            "</ul>",
            f"<h2>{e(h['weights'])}</h2><p>{e(self.weighting.get(lang))}</p>",
            *[f"<p>{e(n.get(lang))}</p>" for n in self.notes],
            f"<h2>{e(h['variables'])}</h2>",
            "<table><thead><tr>"
            + "".join(
                f"<th>{e(x)}</th>"
                for x in (
                    "#",
                    h["name"],
                    f"{h['label']} (中文)",
                    f"{h['label']} (English)",
                    h["type"],
                    h["values"],
                    h["details"],
                )
            )
            + "</tr></thead><tbody>",
        ]
        for i, v in enumerate(self.variables, 1):
            values = "<br>".join(e(f"{c} = {t.get(lang)}") for c, t in v.value_labels)
            details = "<br>".join(f"<b>{e(k)}</b>: {e(val)}" for k, val in _details(v, lang))
            parts.append(
                f'<tr id="{e(v.name)}"><td>{i}</td><td><code>{e(v.name)}</code></td>'
                f"<td>{e(v.label.get('zh'))}</td><td>{e(v.label.get('en'))}</td>"
                f"<td>{e(v.storage)}</td><td>{values}</td><td>{details}</td></tr>"
            )
        parts.append("</tbody></table>")
        parts.append(f"<h2>{e(h['shortened'])}</h2>")
        if self.shortened:
            parts.append(
                "<table><thead><tr>"
                + "".join(
                    f"<th>{e(x)}</th>"
                    for x in (
                        h["format"],
                        h["name"],
                        h["kind"],
                        h["code"],
                        h["language"],
                        h["written"],
                        h["full"],
                    )
                )
                + "</tr></thead><tbody>"
            )
            for s in self.shortened:
                parts.append(
                    f"<tr><td>{e(s.format)}</td><td><code>{e(s.variable)}</code></td>"
                    f"<td>{e(s.kind)}</td><td>{'' if s.code is None else s.code}</td>"
                    f"<td>{e(s.language)}</td><td>{e(s.written)}</td><td>{e(s.full)}</td></tr>"
                )
            parts.append("</tbody></table>")
        else:
            parts.append(f"<p>{e(h['none_shortened'])}</p>")
        parts.append("</body></html>")
        return "\n".join(parts)

    def render(self, fmt: Literal["html", "md", "json"], language: Language = "zh") -> str:
        """The codebook as ``html``, ``md`` (Markdown) or ``json``."""
        if fmt == "html":
            return self.to_html(language)
        if fmt == "md":
            return self.to_markdown(language)
        if fmt == "json":
            return self.to_json()
        raise CodebookError(f"codebook format must be 'html', 'md' or 'json', got {fmt!r}.")


def _check_language(language: object) -> Language:
    if language not in ("zh", "en"):
        raise CodebookError(f"language must be 'zh' or 'en', got {language!r}.")
    return "en" if language == "en" else "zh"


_HEADINGS = {
    "codebook": ("变量说明", "Codebook"),
    "missing": ("缺失值", "Missing values"),
    "weights": ("权重", "Weights"),
    "variables": ("变量", "Variables"),
    "name": ("变量名", "Name"),
    "label": ("标签", "Label"),
    "type": ("类型", "Type"),
    "values": ("取值标签", "Value labels"),
    "details": ("说明", "Details"),
    "shortened": ("被缩短的标签", "Shortened labels"),
    "format": ("格式", "Format"),
    "kind": ("种类", "Kind"),
    "code": ("代码", "Code"),
    "language": ("语言", "Language"),
    "written": ("写入文件的标签", "As written"),
    "full": ("完整标签", "In full"),
    "none_shortened": ("没有标签被缩短。", "No label had to be shortened."),
    "question": ("题目", "Question"),
    "text": ("题目文字", "Question text"),
    "relevant": ("出现条件", "Asked when"),
    "rule": ("计算规则", "Rule"),
    "dimension": ("维度", "Dimension"),
    "formula": ("公式", "Formula"),
    "unit": ("单位", "Unit"),
    "missing_codes": ("缺失值代码", "Missing-value codes"),
    "source": ("原名", "Original name"),
}


def _headings(lang: str) -> dict[str, str]:
    i = 1 if lang == "en" else 0
    return {k: v[i] for k, v in _HEADINGS.items()}


def _missing_lines(lang: str) -> list[str]:
    if lang == "en":
        return [
            "Skipped (not asked) or not applicable: empty in CSV and Excel, null in Parquet, "
            "'.' in Stata, system-missing in SPSS.",
            "-1 = don't know: kept as -1 in CSV, Excel and Parquet; user-missing value -1 in "
            "SPSS; extended missing .a (labelled) in Stata.",
            "-2 = prefer not to say: -2 in CSV, Excel and Parquet; user-missing -2 in SPSS; "
            ".b in Stata.",
            "Text cells beginning with = + - @, a tab or a carriage return (or their full-width "
            "forms, also after leading spaces) start with an added apostrophe (') in CSV and "
            "Excel so that spreadsheets do not run them as formulas; numbers are unchanged.",
        ]
    return [
        "跳过（未问）或不适用：CSV 和 Excel 中为空，Parquet 中为 null，"
        "Stata 中为“.”，SPSS 中为系统缺失。",
        "-1 = 不知道：CSV、Excel、Parquet 中保留为 -1；SPSS 中为用户缺失值 -1；"
        "Stata 中为带标签的扩展缺失值 .a。",
        "-2 = 不愿回答：CSV、Excel、Parquet 中为 -2；SPSS 中为用户缺失值 -2；Stata 中为 .b。",
        "CSV 和 Excel 中以 = + - @、制表符或回车（或其全角形式，包括前有空格的情况）"
        "开头的文字单元格前加了一个撇号（'），以免电子表格把它当作公式执行；数字不受影响。",
    ]


def _details(v: Variable, lang: str) -> list[tuple[str, str]]:
    h = _headings(lang)
    out: list[tuple[str, str]] = []
    if v.source != v.name:
        out.append((h["source"], v.source))
    if v.question_text is not None:
        out.append((h["text"], v.question_text.get(lang)))
    if v.question is not None and v.question != v.source:
        out.append((h["question"], v.question))
    if v.relevant:
        out.append((h["relevant"], v.relevant))
    if v.unit is not None:
        out.append((h["unit"], v.unit.get(lang)))
    if v.missing_codes:
        out.append(
            (
                h["missing_codes"],
                ", ".join(
                    f"{c} ({SPECIAL_LABELS[_special_name(c)].get(lang)}; "
                    f"Stata .{SPECIAL_MISSING[c]})"
                    for c in v.missing_codes
                ),
            )
        )
    if v.dimension:
        out.append((h["dimension"], v.dimension))
    if v.rule is not None:
        out.append((h["rule"], v.rule.get(lang)))
    if v.formula:
        out.append((h["formula"], v.formula))
    return out


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell (pipes, newlines and markup escaped)."""
    out = text.replace("\\", "\\\\")
    for ch in "|*_`<>[]#":
        out = out.replace(ch, "\\" + ch)
    return out.replace("\r", " ").replace("\n", " ")


def build_codebook(
    questionnaire: Questionnaire,
    *,
    include_text: bool = False,
    top_code_income: float | None = None,
    top_code_age: float | None = None,
    weighting: Text | None = None,
    notes: Sequence[Text] = (),
    variables: Sequence[Variable] | None = None,
) -> Codebook:
    """The codebook of an export of ``questionnaire``.

    Parameters
    ----------
    questionnaire
        The questionnaire version.
    include_text, top_code_income, top_code_age
        As for the export (:func:`export_variables`).
    weighting
        How this export's weights were made (default: the general rule).
    notes
        Further notes to print.
    variables
        The variables, when already made (default :func:`export_variables`).

    Returns
    -------
    Codebook
        With the labels that Stata (80 characters, 32,000 bytes) and SPSS (256 and 120 bytes)
        cannot hold in full listed for both languages.
    """
    found = (
        tuple(variables)
        if variables is not None
        else export_variables(
            questionnaire,
            include_text=include_text,
            top_code_income=top_code_income,
            top_code_age=top_code_age,
        )
    )
    shortened: list[ShortenedLabel] = []
    formats: tuple[LabelFormat, ...] = ("dta", "sav")
    for fmt in formats:
        for lang in questionnaire.languages:
            shortened.extend(shorten_labels(found, fmt, lang)[2])
    return Codebook(
        questionnaire.id,
        questionnaire.version,
        questionnaire.title,
        found,
        tuple(shortened),
        weighting if weighting is not None else WEIGHTS_RULE,
        tuple(notes),
    )
