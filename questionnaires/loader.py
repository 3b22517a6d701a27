"""Reading questionnaire files (YAML or XLSForm) into the validated model.

``parse_questionnaire(text)`` does no file IO (like pyxform's ``convert()``);
``load_questionnaire(path)`` reads a ``.yaml``/``.yml`` or ``.xlsx`` file and calls the same
validation. Every problem found is reported at once in one :class:`QuestionnaireError`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from questionnaires.document import Location, Problems, RawList, RawMap
from questionnaires.errors import QuestionnaireError, QuestionnaireWarning
from questionnaires.model import Questionnaire
from questionnaires.validation import build_questionnaire

__all__ = ["load_questionnaire", "parse_questionnaire", "read_yaml_document"]

#: libyaml's loader when PyYAML was built with it (about ten times faster), else PyYAML's own.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: Largest number of YAML nodes a questionnaire may expand to (guards against alias bombs).
MAX_NODES = 200_000
_MAX_DEPTH = 60


def load_questionnaire(path: str | os.PathLike[str]) -> Questionnaire:
    """Read and validate a questionnaire file.

    Parameters
    ----------
    path
        A ``.yaml``/``.yml`` file in the format of ``questionnaires/FORMAT.md``, or an XLSForm
        ``.xlsx`` workbook (see :mod:`questionnaires.xlsform`).

    Returns
    -------
    Questionnaire
        The immutable model.

    Raises
    ------
    QuestionnaireError
        When the file cannot be read or breaks any rule; the message lists every problem
        found, each with the file, line (or sheet/row/column), question, rule and fix.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".xlsx":
        from questionnaires.xlsform import read_xlsform

        return read_xlsform(p)
    if suffix not in (".yaml", ".yml"):
        raise QuestionnaireError(
            f"{p.name}: a questionnaire file must end in .yaml, .yml or .xlsx (XLSForm); "
            "rename the file or convert it"
        )
    try:
        raw_bytes = p.read_bytes()
    except OSError as exc:
        raise QuestionnaireError(f"{p.name}: cannot read the file ({exc.strerror})") from exc
    try:
        text = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise QuestionnaireError(
            f"{p.name}: the file is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from exc
    return parse_questionnaire(text, source=p.name)


def parse_questionnaire(text: str, *, source: str = "<string>") -> Questionnaire:
    """Validate a questionnaire given as YAML text (no file IO).

    Parameters
    ----------
    text
        The YAML document.
    source
        Name used for the file in messages (``cfl.yaml``).

    Returns
    -------
    Questionnaire
        The immutable model.

    Raises
    ------
    QuestionnaireError
        Listing every problem found. Non-fatal oddities are emitted as
        :class:`QuestionnaireWarning`.
    """
    problems = Problems(source)
    raw = read_yaml_document(text, problems)
    return finish(raw, problems)


def finish(raw: Any, problems: Problems) -> Questionnaire:
    """Validate a raw document and raise or warn about what ``problems`` collected."""
    questionnaire = None
    if not problems.errors or raw is not None:
        questionnaire = build_questionnaire(raw, problems)
    if questionnaire is None and not problems.errors:
        problems.error(Location(), "", "the questionnaire could not be read; check its layout")
    raise_problems(problems)
    for w in problems.warnings:
        warnings.warn(str(w), QuestionnaireWarning, stacklevel=3)
    if questionnaire is None:  # pragma: no cover - raise_problems raised above
        raise QuestionnaireError(f"{problems.source}: the questionnaire could not be read")
    return questionnaire


def raise_problems(problems: Problems) -> None:
    """Raise one QuestionnaireError listing every error collected, if there is any."""
    errors = problems.errors
    if not errors:
        return
    if len(errors) == 1:
        message = str(errors[0])
    else:
        lines = "\n".join(f"- {p}" for p in errors)
        message = f"{problems.source} has {len(errors)} problems:\n{lines}"
    raise QuestionnaireError(message, problems=errors)


def read_yaml_document(text: str, problems: Problems) -> Any:
    """Parse YAML text into a located raw document; None (with a problem recorded) on failure."""
    if not isinstance(text, str):
        problems.error(Location(), "", "the questionnaire must be given as text")
        return None
    bad = next((i for i, c in enumerate(text) if "\ud800" <= c <= "\udfff"), None)
    if bad is not None:  # a lone surrogate: no UTF-8 file can hold it, libyaml cannot read it
        problems.error(
            Location(line=text.count("\n", 0, bad) + 1),
            "",
            f"the text contains an invalid character (U+{ord(text[bad]):04X}, half of a "
            "surrogate pair); save the file as UTF-8 text",
        )
        return None
    try:
        loader = _SafeLoader(text)
    except yaml.reader.ReaderError as exc:
        problems.error(
            Location(line=text.count("\n", 0, exc.position) + 1),
            "",
            f"the text contains a control character (#x{exc.character:04x}) that YAML "
            "does not allow; remove it",
        )
        return None
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            loc = Location(line=mark.line + 1) if mark is not None else Location()
            what = exc.problem or exc.context or "unreadable"
            lines = text.splitlines()
            if mark is not None and mark.line < len(lines) and "\t" in _indent(lines[mark.line]):
                problems.error(
                    loc,
                    "",
                    "this line is indented with a tab; YAML needs spaces: indent with spaces only",
                )
                return None
            problems.error(
                loc,
                "",
                f"this is not valid YAML ({what}); check the indentation, and put texts "
                "that contain : # ? , { } [ ] in quotes",
            )
            return None
        except yaml.reader.ReaderError as exc:
            line = text.count("\n", 0, exc.position) + 1
            problems.error(
                Location(line=line),
                "",
                f"the text contains a control character "
                f"(#x{exc.character:04x}) that YAML does not allow; remove it",
            )
            return None
        except yaml.YAMLError as exc:
            problems.error(Location(), "", f"this is not valid YAML ({exc}); fix the syntax")
            return None
        if node is None:
            problems.error(
                Location(),
                "",
                "the file is empty; a questionnaire needs id, version, title and sections",
            )
            return None
        converter = _Converter(loader, problems)
        return converter.convert(node, 0)
    finally:
        loader.dispose()


class _Converter:
    """Turns PyYAML nodes into RawMap/RawList/scalars with line numbers."""

    def __init__(self, loader: Any, problems: Problems) -> None:
        self.loader = loader
        self.problems = problems
        self.count = 0
        self.stack: set[int] = set()
        self.too_big = False

    def scalar(self, node: ScalarNode) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            self.problems.error(
                Location(line=node.start_mark.line + 1),
                "",
                f"the value {node.value!r} cannot be read ({exc}); write it as plain text",
            )
            return None

    def convert(self, node: Node, depth: int) -> Any:
        self.count += 1
        loc = Location(line=node.start_mark.line + 1)
        if self.count > MAX_NODES or depth > _MAX_DEPTH:
            if not self.too_big:
                self.too_big = True
                self.problems.error(
                    loc,
                    "",
                    "the document is too large or too deeply nested (check for "
                    "YAML aliases that repeat big parts); simplify it",
                )
            return None
        if id(node) in self.stack:
            self.problems.error(loc, "", "a YAML alias refers to itself; remove the alias")
            return None
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        self.stack.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                seq = RawList(loc)
                for child in node.value:
                    seq.add(self.convert(child, depth + 1), _located(child))
                return seq
            if isinstance(node, MappingNode):
                return self.mapping(node, loc, depth)
            return None
        finally:
            self.stack.discard(id(node))

    def mapping(self, node: MappingNode, loc: Location, depth: int) -> RawMap:
        mapping = RawMap(loc)
        for key_node, value_node in node.value:
            key_loc = Location(line=key_node.start_mark.line + 1)
            if not isinstance(key_node, ScalarNode):
                self.problems.error(
                    key_loc,
                    "",
                    "a key must be a plain word, not a list or mapping; fix the indentation",
                )
                continue
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.error(
                    key_loc, "", "YAML merge keys ('<<') are not supported; write the keys out"
                )
                continue
            key = self.scalar(key_node)
            try:
                hash(key)
            except TypeError:
                key = key_node.value
            if key in mapping:
                self.problems.error(
                    key_loc,
                    "",
                    f"the key '{key_node.value}' appears twice in the same mapping "
                    f"(first on line {mapping.loc_of(key).line}); keep only one",
                )
                continue
            value = self.convert(value_node, depth + 1)
            text = value_node.value if isinstance(value_node, ScalarNode) else None
            mapping.set(key, value, Location(line=key_loc.line, text=text))
            if not isinstance(key, str):
                mapping.key_texts[key] = key_node.value
        return mapping


def _located(node: Node) -> Location:
    text = node.value if isinstance(node, ScalarNode) else None
    return Location(line=node.start_mark.line + 1, text=text)


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]
