"""Writing a questionnaire model back to the YAML format of ``questionnaires/FORMAT.md``.

``dump_yaml(questionnaire)`` gives the text; ``write_yaml(questionnaire, path)`` writes it.
Reading the text back with :func:`questionnaires.parse_questionnaire` gives a questionnaire
equal (``==``) to the one written: this is how an XLSForm upload is published as YAML and how
any version is offered for download as YAML.

Keys are written in the order FORMAT.md documents them; keys that hold their default (a
question's ``required: true``, ``randomize: false``, a text question's ``max_length: 500`` ...)
are left out. Texts that span several lines are written as YAML block literals (``|``).
Comments of an original YAML file are not part of the model and are therefore not written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

import yaml

from questionnaires.model import (
    Choice,
    ChoiceList,
    DerivedScore,
    Dimension,
    Question,
    Questionnaire,
    Score,
    Section,
    Text,
)

__all__ = ["dump_yaml", "write_yaml"]

#: A text question's ``max_length`` when the file does not give one (see validation.py).
_TEXT_MAX_LENGTH_DEFAULT = 500


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper: lists indented under their key, block literals for texts of
    several lines, short texts and lists of names on one line."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


class _Flow(dict[str, Any]):
    """A mapping written on one line (``{zh: 性别, en: Sex}``)."""


class _Words(list[Any]):
    """A list of names written on one line (``[zh, en]``)."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        # PyYAML falls back to a quoted style by itself when a literal is not possible
        # (trailing spaces, special characters).
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(
    _Flow, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True)
)
_Dumper.add_representer(
    _Words, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True)
)
#: Texts longer than this (in characters, all languages) are written one language per line.
_FLOW_TEXT_CHARS = 60


def _number(value: float | int) -> float | int:
    """Whole floats as ints (``18`` rather than ``18.0``), other numbers unchanged."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _text(text: Text) -> dict[str, str]:
    values = text.as_dict()
    short = sum(len(v) for v in values.values()) <= _FLOW_TEXT_CHARS
    if short and not any("\n" in v for v in values.values()):
        return _Flow(values)
    return values


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` unless ``value`` is None (texts converted, numbers tidied)."""
    if value is None:
        return
    if isinstance(value, Text):
        out[key] = _text(value)
    elif isinstance(value, float):
        out[key] = _number(value)
    else:
        out[key] = value


def _choice(c: Choice) -> dict[str, Any]:
    out: dict[str, Any] = {"name": c.name, "code": c.code, "label": _text(c.label)}
    _put(out, "exposure", c.exposure)
    _put(out, "recency_months", c.recency_months)
    return out


def _choice_list(cl: ChoiceList) -> list[dict[str, Any]]:
    return [_choice(c) for c in cl.choices]


def _score(s: Score) -> dict[str, Any]:
    out: dict[str, Any] = {"dimension": s.dimension}
    if s.correct:
        out["correct"] = _Words(s.correct)
    if s.correct_value is not None:
        out["correct"] = _number(s.correct_value)
        if s.tolerance:
            out["tolerance"] = _number(s.tolerance)
    if s.points:
        out["points"] = {name: _number(p) for name, p in s.points}
    if s.reverse:
        out["reverse"] = True
    return out


def _question(q: Question) -> dict[str, Any]:
    out: dict[str, Any] = {"name": q.name, "type": q.type, "label": _text(q.label)}
    _put(out, "hint", q.hint)
    if q.type != "note" and not q.required:
        out["required"] = False
    _put(out, "relevant", q.relevant)
    _put(out, "constraint", q.constraint)
    _put(out, "constraint_message", q.constraint_message)
    if q.choices is not None:
        out["choices"] = q.choices.name if q.choices.name is not None else _choice_list(q.choices)
    if q.randomize:
        out["randomize"] = True
    if q.special:
        out["special"] = _Words(q.special)
    _put(out, "min", q.min)
    _put(out, "max", q.max)
    _put(out, "unit", q.unit)
    _put(out, "decimals", q.decimals)
    if q.max_length is not None and q.max_length != _TEXT_MAX_LENGTH_DEFAULT:
        out["max_length"] = q.max_length
    _put(out, "min_selected", q.min_selected)
    _put(out, "max_selected", q.max_selected)
    if q.exclusive:
        out["exclusive"] = _Words(q.exclusive)
    _put(out, "role", q.role)
    _put(out, "expected", q.expected)
    if q.score is not None:
        out["score"] = _score(q.score)
    _put(out, "explanation", q.explanation)
    if q.type == "matrix":
        out["items"] = [_item(item) for item in q.items]
    return out


def _item(item: Question) -> dict[str, Any]:
    out: dict[str, Any] = {"name": item.name, "label": _text(item.label)}
    _put(out, "relevant", item.relevant)
    if item.score is not None:
        out["score"] = _score(item.score)
    _put(out, "explanation", item.explanation)
    return out


def _section(s: Section) -> dict[str, Any]:
    out: dict[str, Any] = {"name": s.name, "title": _text(s.title)}
    _put(out, "description", s.description)
    _put(out, "relevant", s.relevant)
    out["questions"] = [_question(q) for q in s.questions]
    return out


def _dimension(d: Dimension) -> dict[str, Any]:
    out: dict[str, Any] = {"name": d.name, "label": _text(d.label), "weight": _number(d.weight)}
    _put(out, "score", d.score)
    return out


def _derived(d: DerivedScore) -> dict[str, Any]:
    out: dict[str, Any] = {"name": d.name, "label": _text(d.label), "expression": d.expression}
    if d.type != "number":
        out["type"] = d.type
    _put(out, "min", d.min)
    _put(out, "max", d.max)
    return out


def questionnaire_document(questionnaire: Questionnaire) -> dict[str, Any]:
    """The questionnaire as plain dicts, lists, strings and numbers (the YAML document)."""
    q = questionnaire
    doc: dict[str, Any] = {"id": q.id, "version": q.version, "title": _text(q.title)}
    _put(doc, "description", q.description)
    doc["languages"] = _Words(q.languages)
    doc["status"] = q.status
    settings: dict[str, Any] = {
        "invitation_only": q.settings.invitation_only,
        "one_question_per_page": q.settings.one_question_per_page,
    }
    quotas = q.settings.quotas
    if quotas is not None:
        qd: dict[str, Any] = {"by": _Words(quotas.by)}
        _put(qd, "default", quotas.default)
        if quotas.cells:
            qd["cells"] = _Flow(quotas.cells)
        settings["quotas"] = qd
    doc["settings"] = settings
    if q.consent is not None:
        doc["consent"] = {"version": q.consent.version, "text": _text(q.consent.text)}
    if q.dimensions:
        doc["dimensions"] = [_dimension(d) for d in q.dimensions]
    if q.index is not None:
        index: dict[str, Any] = {"name": q.index.name, "label": _text(q.index.label)}
        _put(index, "note", q.index.note)
        doc["index"] = index
    if q.choices:
        doc["choices"] = {cl.name: _choice_list(cl) for cl in q.choices}
    doc["sections"] = [_section(s) for s in q.sections]
    if q.derived:
        doc["derived"] = [_derived(d) for d in q.derived]
    return doc


def dump_yaml(questionnaire: Questionnaire) -> str:
    """The questionnaire as YAML text in the format of ``questionnaires/FORMAT.md``.

    Parameters
    ----------
    questionnaire
        The model to write.

    Returns
    -------
    str
        UTF-8-ready text; :func:`questionnaires.parse_questionnaire` reads it back to an equal
        questionnaire.
    """
    header = (
        f"# {questionnaire.id} version {questionnaire.version}: written by the survey platform "
        "from the questionnaire model\n"
    )
    body = yaml.dump(
        questionnaire_document(questionnaire),
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=100,
    )
    return header + body


def write_yaml(questionnaire: Questionnaire, path: str | os.PathLike[str] | IO[bytes]) -> None:
    """Write :func:`dump_yaml` of ``questionnaire`` as UTF-8 to a path or binary file object."""
    data = dump_yaml(questionnaire).encode("utf-8")
    if isinstance(path, (str, os.PathLike)):
        Path(path).write_bytes(data)
    else:
        path.write(data)
