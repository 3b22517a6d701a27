"""XLSForm interchange: read a questionnaire from an ``.xlsx`` workbook, or write one.

The workbook follows XLSForm's conventions where they exist, and adds the platform's own
columns and sheets for what XLSForm has no word for.

Sheet ``survey`` (one row per question; ``begin_group``/``end_group`` rows around sections):

==========================  ===================================================================
column                      meaning
==========================  ===================================================================
type                        ``begin_group``, ``end_group``, ``select_one <list>``,
                            ``select_multiple <list>``, ``integer``, ``decimal``, ``text``,
                            ``note``
name                        section, question or matrix-item name
label::中文 (zh) ...          label (a section's title) per language; ``label::English (en)``
hint::<language>            hint (a section's description)
required                    ``yes``/``no`` (blank: the format's default, yes except notes)
relevant, constraint        expressions
constraint_message::<lang>  shown when the constraint fails
appearance                  ``likert`` on ``select_one`` (a likert scale); ``table-list`` on a
                            ``begin_group`` inside a section (a matrix: its rows are its items,
                            each ``select_one`` of the same list)
role, randomize, special    as in the YAML format (``special``/``exclusive``: names separated
exclusive, expected         by spaces)
min, max, unit::<lang>      number questions
decimals, max_length
min_selected, max_selected  multiple choice
score_dimension             ``score.dimension``
score_correct               right option names separated by spaces, or the right number
score_tolerance             ``score.tolerance``
score_points                ``option=points`` pairs separated by spaces
score_reverse               ``yes`` to score a scale item in reverse
explanation::<language>     shown with the right answer
==========================  ===================================================================

Sheet ``choices``: ``list_name``, ``name``, ``label::<language>``, ``code``, ``exposure``,
``recency_months``. A list whose name starts with ``_`` holds the options written inline on one
question in YAML (``_<question name>``). The built-in ``provinces`` list needs no rows.

Sheet ``settings`` (a header row and one row of values): ``form_id``, ``version``,
``title::<language>`` (or XLSForm's ``form_title``), ``description::<language>``,
``languages`` (codes separated by spaces), ``status``, ``invitation_only``,
``one_question_per_page``, ``consent_version``, ``consent_text::<language>``, ``index_name``,
``index_label::<language>``, ``index_note::<language>``, ``quota_by``, ``quota_default``.

Extra sheets when needed: ``dimensions`` (``name``, ``label::<language>``, ``weight``,
``score``), ``derived`` (``name``, ``label::<language>``, ``expression``, ``type``, ``min``,
``max``) and ``quotas`` (``cell``, ``target``).

Problems are reported with the sheet, row and column (``form.xlsx, sheet 'survey', row 7,
column 'type', question 'age': ...``).
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import ParseError

from questionnaires.document import Location, Problems, RawList, RawMap
from questionnaires.model import ChoiceList, Question, Questionnaire, Text

__all__ = ["read_xlsform", "write_xlsform"]

LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
SURVEY = "survey"
CHOICES = "choices"
SETTINGS = "settings"
DIMENSIONS = "dimensions"
DERIVED = "derived"
QUOTAS = "quotas"

#: survey columns holding translated texts, and the YAML key they fill.
SURVEY_TEXTS = ("label", "hint", "constraint_message", "unit", "explanation")
#: survey columns holding one plain value.
SURVEY_PLAIN = (
    "type",
    "name",
    "required",
    "relevant",
    "constraint",
    "appearance",
    "role",
    "randomize",
    "special",
    "min",
    "max",
    "decimals",
    "max_length",
    "min_selected",
    "max_selected",
    "exclusive",
    "expected",
    "score_dimension",
    "score_correct",
    "score_tolerance",
    "score_points",
    "score_reverse",
)
CHOICES_TEXTS = ("label",)
CHOICES_PLAIN = ("list_name", "name", "code", "exposure", "recency_months")
SETTINGS_TEXTS = ("title", "description", "consent_text", "index_label", "index_note")
SETTINGS_PLAIN = (
    "form_id",
    "id",
    "version",
    "form_title",
    "languages",
    "status",
    "invitation_only",
    "one_question_per_page",
    "consent_version",
    "index_name",
    "quota_by",
    "quota_default",
    "default_language",
)
DIMENSIONS_TEXTS = ("label",)
DIMENSIONS_PLAIN = ("name", "weight", "score")
DERIVED_TEXTS = ("label",)
DERIVED_PLAIN = ("name", "expression", "type", "min", "max")
QUOTAS_PLAIN = ("cell", "target")
NUMERIC = {
    "min",
    "max",
    "decimals",
    "max_length",
    "min_selected",
    "max_selected",
    "score_tolerance",
    "code",
    "recency_months",
    "weight",
    "quota_default",
    "target",
}
BOOLEAN = {"required", "randomize", "score_reverse", "invitation_only", "one_question_per_page"}
WORDS = {"special", "exclusive", "languages", "quota_by"}
XLSFORM_TYPES = (
    "begin_group",
    "end_group",
    "select_one",
    "select_multiple",
    "integer",
    "decimal",
    "text",
    "note",
)
#: columns allowed on each kind of survey row (besides type and name).
SECTION_COLUMNS = {"label", "hint", "relevant", "appearance"}
MATRIX_COLUMNS = {"label", "hint", "relevant", "appearance", "required", "randomize", "special"}
ITEM_COLUMNS = {"label", "relevant", "explanation", "appearance"} | {
    c for c in SURVEY_PLAIN if c.startswith("score_")
}
_TRUE = {"yes", "true", "1", "y"}
_FALSE = {"no", "false", "0", "n"}
_HEADER = re.compile(r"^\s*([A-Za-z_]+)\s*(?:::\s*(.*?))?\s*$")
_LANG_IN_PARENS = re.compile(r"\(([A-Za-z-]+)\)\s*$")


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    header: str
    key: str
    lang: str | None


@dataclass
class _Row:
    sheet: str
    number: int
    cells: dict[_Column, Any]

    def loc(self, column: _Column | None = None) -> Location:
        return Location(sheet=self.sheet, row=self.number, column=column.header if column else None)

    def get(self, key: str) -> tuple[Any, _Column] | None:
        for col, value in self.cells.items():
            if col.key == key and col.lang is None:
                return value, col
        return None

    def value(self, key: str) -> Any:
        found = self.get(key)
        return found[0] if found else None

    def has(self, key: str) -> bool:
        return any(col.key == key for col in self.cells)


def read_xlsform(
    source: str | os.PathLike[str] | bytes | IO[bytes], *, name: str | None = None
) -> Questionnaire:
    """Read and validate a questionnaire from an XLSForm workbook.

    Parameters
    ----------
    source
        Path of an ``.xlsx`` file, its bytes, or a binary file object.
    name
        File name used in messages (default: the file's name, or ``<xlsform>``).

    Returns
    -------
    Questionnaire
        The same model :func:`questionnaires.load_questionnaire` gives for the YAML form.

    Raises
    ------
    QuestionnaireError
        Listing every problem, each with the sheet, row and column.
    """
    from questionnaires.loader import finish

    if isinstance(source, (str, os.PathLike)):
        label = name or Path(source).name
    else:
        label = name or "<xlsform>"
    problems = Problems(label)
    raw = _read_document(source, problems)
    return finish(raw, problems)


def _read_document(source: Any, problems: Problems) -> RawMap | None:
    from openpyxl import load_workbook

    if isinstance(source, bytes):
        source = io.BytesIO(source)
    try:
        book = load_workbook(source, read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, TypeError, ParseError) as exc:
        problems.error(
            Location(),
            "",
            f"the file cannot be read as an .xlsx workbook ({exc}); save it "
            "from Excel or LibreOffice as .xlsx",
        )
        return None
    try:
        sheets = {ws.title.strip().lower(): ws for ws in book.worksheets}
        rows: dict[str, list[_Row]] = {}
        known = {
            SURVEY: (SURVEY_PLAIN, SURVEY_TEXTS),
            CHOICES: (CHOICES_PLAIN, CHOICES_TEXTS),
            SETTINGS: (SETTINGS_PLAIN, SETTINGS_TEXTS),
            DIMENSIONS: (DIMENSIONS_PLAIN, DIMENSIONS_TEXTS),
            DERIVED: (DERIVED_PLAIN, DERIVED_TEXTS),
            QUOTAS: (QUOTAS_PLAIN, ()),
        }
        for title, ws in sheets.items():
            if title not in known:
                problems.warn(
                    Location(sheet=ws.title),
                    "",
                    f"the sheet '{ws.title}' is not used and is "
                    f"ignored (the sheets are {', '.join(known)})",
                )
                continue
            plain, texts = known[title]
            rows[title] = _read_sheet(title, ws.iter_rows(values_only=True), plain, texts, problems)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, TypeError, ParseError) as exc:
        # read-only workbooks parse each sheet's XML as it is read
        problems.error(
            Location(),
            "",
            f"a sheet of the workbook cannot be read ({exc}); save the file again from Excel "
            "or LibreOffice as .xlsx",
        )
        return None
    finally:
        book.close()
    if problems.errors:
        return None
    if SURVEY not in rows:
        problems.error(
            Location(),
            "",
            "the workbook has no 'survey' sheet; add one with the columns type, name and label",
        )
        return None
    settings = rows.get(SETTINGS)
    if not settings:
        problems.error(
            Location(sheet=SETTINGS),
            "",
            "the workbook needs a 'settings' sheet with the columns form_id, version and "
            "title::<language> and one row of values under them",
        )
        return None
    missing = [
        column
        for column, keys in (
            ("form_id", ("form_id", "id")),
            ("version", ("version",)),
            ("title", ("title", "form_title")),
        )
        if not any(settings[0].has(k) for k in keys)
    ]
    if missing:
        problems.error(
            settings[0].loc(),
            "",
            f"the settings sheet has no {' or '.join(missing)}; fill in "
            f"{', '.join(missing)} (title as title::中文 (zh), title::English (en), ...)",
        )
        return None
    return _Assembler(rows, problems).document()


def _read_sheet(
    sheet: str,
    values: Iterator[tuple[Any, ...]],
    plain: Iterable[str],
    texts: Iterable[str],
    problems: Problems,
) -> list[_Row]:
    plain = tuple(plain)
    texts = tuple(texts)
    columns: list[_Column | None] = []
    out: list[_Row] = []
    header_seen = False
    for number, row in enumerate(values, start=1):
        if not header_seen:
            if all(_blank(v) for v in row):
                continue
            header_seen = True
            seen: set[tuple[str, str | None]] = set()
            for cell in row:
                column = _parse_header(sheet, number, cell, plain, texts, problems)
                if column is not None and (column.key, column.lang) in seen:
                    problems.error(
                        Location(sheet=sheet, row=number, column=column.header),
                        "",
                        f"the column '{column.header}' appears twice; keep one",
                    )
                    column = None
                if column is not None:
                    seen.add((column.key, column.lang))
                columns.append(column)
            continue
        cells: dict[_Column, Any] = {}
        for col, value in zip(columns, row, strict=False):
            if col is None or _blank(value):
                continue
            cells[col] = value.strip() if isinstance(value, str) and col.lang is None else value
        if cells:
            out.append(_Row(sheet, number, cells))
    return out


def _parse_header(
    sheet: str,
    number: int,
    cell: Any,
    plain: tuple[str, ...],
    texts: tuple[str, ...],
    problems: Problems,
) -> _Column | None:
    if _blank(cell):
        return None
    header = str(cell).strip()
    loc = Location(sheet=sheet, row=number, column=header)
    m = _HEADER.match(header)
    if m is None:
        problems.error(
            loc,
            "",
            f"the column header '{header}' is not understood; the columns "
            f"of this sheet are {', '.join(plain + texts)}",
        )
        return None
    key = m.group(1).lower()
    lang_part = m.group(2)
    if key.replace(" ", "_") in ("list name",):
        key = "list_name"
    allowed = plain + texts
    if key not in allowed:
        from questionnaires.validation import _suggest

        suggestion = _suggest(key, allowed)
        tail = suggestion or f"; the columns of this sheet are {', '.join(allowed)}"
        problems.error(loc, "", f"unknown column '{key}'{tail}")
        return None
    if lang_part is None:
        return _Column(header, key, None) if key in plain else _Column(header, key, "")
    if key not in texts:
        problems.error(
            loc, "", f"the column '{key}' is not translated; name it '{key}' without '::'"
        )
        return None
    paren = _LANG_IN_PARENS.search(lang_part)
    lang = (paren.group(1) if paren else lang_part).strip().lower()
    return _Column(header, key, lang)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return value
    return value


def _boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    return value


def _words(value: Any, loc: Location) -> RawList:
    out = RawList(loc)
    for word in str(value).replace(",", " ").split():
        out.add(word, loc)
    return out


class _Assembler:
    """Turns the rows of the sheets into the raw document the validator reads."""

    def __init__(self, rows: dict[str, list[_Row]], problems: Problems) -> None:
        self.rows = rows
        self.p = problems
        self.inline: dict[str, RawList] = {}
        self.matrix_lists: dict[int, str] = {}
        self.languages: list[str] = []

    def value(self, row: _Row, column: _Column) -> Any:
        value = row.cells[column]
        if column.key in NUMERIC:
            return _number(value)
        if column.key in BOOLEAN:
            return _boolean(value)
        if column.key in WORDS:
            return _words(value, row.loc(column))
        return value

    def text(self, row: _Row, key: str, target: RawMap, as_key: str | None = None) -> None:
        """Gather ``key::<language>`` cells of ``row`` into ``target[as_key]``."""
        cols = [c for c in row.cells if c.key == key and c.lang is not None]
        if not cols:
            return
        as_key = as_key or key
        plain = [c for c in cols if c.lang == ""]
        if plain and len(cols) == 1:
            target.set(as_key, row.cells[plain[0]], row.loc(plain[0]))
            return
        text = RawMap(row.loc(cols[0]))
        for c in cols:
            lang = c.lang or "zh"
            text.set(lang, row.cells[c], row.loc(c))
        target.set(as_key, text, row.loc(cols[0]))

    def set_plain(self, row: _Row, key: str, target: RawMap, as_key: str | None = None) -> None:
        found = row.get(key)
        if found is not None:
            target.set(as_key or key, self.value(row, found[1]), row.loc(found[1]))

    def document(self) -> RawMap:
        doc = RawMap(Location(sheet=SURVEY))
        self.read_settings(doc)
        self.read_choices(doc)
        self.read_survey(doc)
        self.read_dimensions(doc)
        self.read_derived(doc)
        return doc

    # -- settings ---------------------------------------------------------------------------

    def read_settings(self, doc: RawMap) -> None:
        rows = self.rows.get(SETTINGS, [])
        texts_seen: set[str] = {
            c.lang
            for rs in self.rows.values()
            for r in rs
            for c in r.cells
            if c.lang not in (None, "")
        }
        if len(rows) > 1:
            self.p.error(
                rows[1].loc(),
                "",
                "the settings sheet has one row of values under its header; merge the rows",
            )
        row = rows[0]
        for key, as_key in (
            ("form_id", "id"),
            ("id", "id"),
            ("version", "version"),
            ("status", "status"),
            ("languages", "languages"),
        ):
            self.set_plain(row, key, doc, as_key)
        version = row.get("version")
        if version is not None and not isinstance(version[0], str):
            value = version[0]
            text = str(int(value)) if isinstance(value, float) and value.is_integer() else None
            self.p.warn(
                row.loc(version[1]),
                "",
                f"the version {text or value} is a number "
                "cell; format the cell as text so that 2026.10 is not read as "
                "2026.1",
            )
            doc.set("version", text or str(value), row.loc(version[1]))
        if "languages" not in doc:
            self.default_languages(doc, texts_seen)
        self.text(row, "title", doc)
        if "title" not in doc:
            self.set_plain(row, "form_title", doc, "title")
        self.text(row, "description", doc)
        settings = RawMap(row.loc())
        for key in ("invitation_only", "one_question_per_page"):
            self.set_plain(row, key, settings)
        if row.has("quota_by") or row.has("quota_default") or self.rows.get(QUOTAS):
            quotas = RawMap(row.loc())
            self.set_plain(row, "quota_by", quotas, "by")
            self.set_plain(row, "quota_default", quotas, "default")
            cells_rows = self.rows.get(QUOTAS, [])
            if cells_rows:
                cells = RawMap(Location(sheet=QUOTAS))
                for r in cells_rows:
                    cell = r.get("cell")
                    target = r.get("target")
                    if cell is None or target is None:
                        self.p.error(
                            r.loc(), "", "each row of the quotas sheet needs a cell and a target"
                        )
                        continue
                    key = cell[0]
                    key = str(int(key)) if isinstance(key, (int, float)) else str(key)
                    cells.set(key, self.value(r, target[1]), r.loc(target[1]))
                quotas.set("cells", cells, Location(sheet=QUOTAS))
            settings.set("quotas", quotas, row.loc())
        if settings:
            doc.set("settings", settings, row.loc())
        if row.has("consent_version") or row.has("consent_text"):
            consent = RawMap(row.loc())
            self.set_plain(row, "consent_version", consent, "version")
            found = row.get("consent_version")
            if found is not None and not isinstance(found[0], str):
                consent.set("version", str(found[0]), row.loc(found[1]))
            self.text(row, "consent_text", consent, "text")
            doc.set("consent", consent, row.loc())
        if row.has("index_name") or row.has("index_label") or row.has("index_note"):
            index = RawMap(row.loc())
            self.set_plain(row, "index_name", index, "name")
            self.text(row, "index_label", index, "label")
            self.text(row, "index_note", index, "note")
            doc.set("index", index, row.loc())

    def default_languages(self, doc: RawMap, seen: set[str]) -> None:
        order = {"zh": 0, "en": 1}
        langs = sorted((s for s in seen if s), key=lambda s: (order.get(s, 2), s))
        loc = Location(sheet=SETTINGS)
        value = RawList(loc)
        for lang in langs or ["zh"]:
            value.add(lang, loc)
        doc.set("languages", value, loc)

    # -- choices ----------------------------------------------------------------------------

    def read_choices(self, doc: RawMap) -> None:
        lists: RawMap = RawMap(Location(sheet=CHOICES))
        for row in self.rows.get(CHOICES, []):
            found = row.get("list_name")
            if found is None:
                self.p.error(row.loc(), "", "this option has no list_name; fill it in")
                continue
            list_name, col = found
            if not isinstance(list_name, str):
                list_name = str(list_name)
            option = RawMap(row.loc())
            for key in ("name", "code", "exposure", "recency_months"):
                self.set_plain(row, key, option)
            self.text(row, "label", option)
            if list_name.startswith("_"):
                target = self.inline.setdefault(list_name, RawList(row.loc(col)))
            else:
                if list_name not in lists:
                    lists.set(list_name, RawList(row.loc(col)), row.loc(col))
                target = lists[list_name]
            target.add(option, row.loc())
        if lists:
            doc.set("choices", lists, Location(sheet=CHOICES))

    # -- survey -----------------------------------------------------------------------------

    def row_type(self, row: _Row) -> tuple[str, str | None, _Column] | None:
        found = row.get("type")
        if found is None:
            self.p.error(
                row.loc(), "", "this row has no type; fill in the type column or clear the row"
            )
            return None
        value, col = found
        text = re.sub(r"\s+", " ", str(value).strip().lower())
        m = re.fullmatch(r"(select[_ ]one|select[_ ]multiple)(?: (\S+))?", text)
        if m:
            kind = m.group(1).replace(" ", "_")
            if m.group(2) is None:
                self.p.error(
                    row.loc(col),
                    "",
                    f"'{value}' needs the name of a choice list, like '{kind} agree5'",
                )
                return None
            return kind, m.group(2), col
        base = text.replace(" ", "_")
        if base in XLSFORM_TYPES:
            return base, None, col
        from questionnaires.validation import _suggest

        suggestion = _suggest(base, XLSFORM_TYPES)
        self.p.error(
            row.loc(col),
            _row_context(row),
            f"the type '{value}' is not supported"
            f"{suggestion}; use one of {', '.join(XLSFORM_TYPES)}",
        )
        return None

    def read_survey(self, doc: RawMap) -> None:
        sections = RawList(Location(sheet=SURVEY))
        section: RawMap | None = None
        section_row: _Row | None = None
        matrix: RawMap | None = None
        matrix_row: _Row | None = None
        for row in self.rows[SURVEY]:
            parsed = self.row_type(row)
            if parsed is None:
                continue
            kind, list_name, type_col = parsed
            appearance = str(row.value("appearance") or "").strip().lower()
            if kind == "begin_group":
                if section is None:
                    section = self.section_row(row)
                    section_row = row
                    sections.add(section, row.loc())
                elif matrix is None and appearance == "table-list":
                    matrix = self.matrix_row(row)
                    matrix_row = row
                    section["questions"].add(matrix, row.loc())
                elif matrix is None:
                    self.p.error(
                        row.loc(type_col),
                        _row_context(row),
                        "a group inside a "
                        "section is a matrix and needs appearance table-list; end the "
                        "section first (end_group) to start a new one",
                    )
                else:
                    self.p.error(
                        row.loc(type_col),
                        _row_context(row),
                        "a matrix cannot contain groups; close it with end_group first",
                    )
                continue
            if kind == "end_group":
                if matrix is not None:
                    self.finish_matrix(matrix, matrix_row)
                    matrix = matrix_row = None
                elif section is not None:
                    section = section_row = None
                else:
                    self.p.error(
                        row.loc(type_col),
                        "",
                        "end_group without a begin_group before it; remove the row",
                    )
                continue
            if section is None:
                self.p.error(
                    row.loc(type_col),
                    _row_context(row),
                    "every question must be "
                    "inside a section: add a begin_group row (name and label) "
                    "before it and an end_group row after the section",
                )
                continue
            if matrix is not None:
                self.item_row(row, kind, list_name, type_col, matrix)
            else:
                section["questions"].add(
                    self.question_row(row, kind, list_name, appearance), row.loc()
                )
        for open_row in (matrix_row, section_row):
            if open_row is not None:
                self.p.error(
                    open_row.loc(),
                    _row_context(open_row),
                    "this begin_group has no "
                    "end_group; add an end_group row after its last question",
                )
        if matrix is not None:
            self.finish_matrix(matrix, matrix_row)
        doc.set("sections", sections, Location(sheet=SURVEY))

    def only(self, row: _Row, allowed: set[str], what: str) -> None:
        for col in row.cells:
            if col.key in ("type", "name") or col.key in allowed:
                continue
            self.p.error(
                row.loc(col),
                _row_context(row),
                f"the column '{col.header}' is not used on {what}; clear the cell",
            )

    def section_row(self, row: _Row) -> RawMap:
        self.only(row, SECTION_COLUMNS, "a section (begin_group) row")
        section = RawMap(row.loc())
        self.set_plain(row, "name", section)
        self.text(row, "label", section, "title")
        self.text(row, "hint", section, "description")
        self.set_plain(row, "relevant", section)
        section.set("questions", RawList(row.loc()), row.loc())
        return section

    def matrix_row(self, row: _Row) -> RawMap:
        self.only(row, MATRIX_COLUMNS, "a matrix (begin_group table-list) row")
        m = RawMap(row.loc())
        self.set_plain(row, "name", m)
        m.set("type", "matrix", row.loc())
        self.text(row, "label", m)
        self.text(row, "hint", m)
        for key in ("required", "relevant", "randomize", "special"):
            self.set_plain(row, key, m)
        m.set("items", RawList(row.loc()), row.loc())
        return m

    def item_row(
        self, row: _Row, kind: str, list_name: str | None, col: _Column, matrix: RawMap
    ) -> None:
        if kind != "select_one" or list_name is None:
            self.p.error(
                row.loc(col),
                _row_context(row),
                "the rows of a matrix are its items and must all be select_one of the same list",
            )
            return
        previous = matrix.get("choices")
        if previous is None:
            matrix.set("choices", self.resolve_list(list_name), row.loc(col))
            self.matrix_lists[id(matrix)] = list_name
        elif self.matrix_lists.get(id(matrix)) != list_name:
            self.p.error(
                row.loc(col),
                _row_context(row),
                f"this item uses the list "
                f"'{list_name}' but the matrix's first item uses "
                f"'{self.matrix_lists.get(id(matrix))}'; a matrix has one "
                "scale",
            )
            return
        self.only(row, ITEM_COLUMNS, "a matrix item row (set it on the matrix's begin_group row)")
        item = RawMap(row.loc())
        self.set_plain(row, "name", item)
        self.text(row, "label", item)
        self.set_plain(row, "relevant", item)
        self.text(row, "explanation", item)
        self.score(row, item, None)
        matrix["items"].add(item, row.loc())

    def finish_matrix(self, matrix: RawMap, row: _Row | None) -> None:
        if not matrix["items"] and row is not None:
            self.p.error(
                row.loc(),
                _row_context(row),
                "this matrix has no items; add "
                "select_one rows between its begin_group and end_group",
            )

    def resolve_list(self, list_name: str) -> Any:
        if list_name in self.inline:
            return self.inline[list_name]
        return list_name

    def question_row(self, row: _Row, kind: str, list_name: str | None, appearance: str) -> RawMap:
        q = RawMap(row.loc())
        type_col = row.get("type")
        type_loc = row.loc(type_col[1]) if type_col else row.loc()
        qtype = {
            "select_one": "likert" if appearance == "likert" else "single_choice",
            "select_multiple": "multiple_choice",
        }.get(kind, kind)
        self.set_plain(row, "name", q)
        q.set("type", qtype, type_loc)
        if list_name is not None:
            q.set("choices", self.resolve_list(list_name), type_loc)
        for key in SURVEY_TEXTS:
            self.text(row, key, q)
        for key in (
            "required",
            "relevant",
            "constraint",
            "role",
            "randomize",
            "special",
            "min",
            "max",
            "decimals",
            "max_length",
            "min_selected",
            "max_selected",
            "exclusive",
            "expected",
        ):
            self.set_plain(row, key, q)
        found = row.get("appearance")
        if found is not None and appearance not in ("", "likert"):
            self.p.warn(
                row.loc(found[1]),
                _row_context(row),
                f"the appearance '{found[0]}' is not used by the platform and is ignored",
            )
        elif found is not None and appearance == "likert" and kind != "select_one":
            self.p.warn(
                row.loc(found[1]),
                _row_context(row),
                "appearance likert is used only on select_one questions and is ignored here",
            )
        self.score(row, q, qtype)
        return q

    def score(self, row: _Row, target: RawMap, qtype: str | None) -> None:
        cols = [c for c in row.cells if c.key.startswith("score_")]
        if not cols:
            return
        score = RawMap(row.loc(cols[0]))
        self.set_plain(row, "score_dimension", score, "dimension")
        found = row.get("score_correct")
        if found is not None:
            value, col = found
            if qtype in ("integer", "decimal"):
                score.set("correct", _number(value), row.loc(col))
            else:
                score.set("correct", _words(value, row.loc(col)), row.loc(col))
        self.set_plain(row, "score_tolerance", score, "tolerance")
        self.set_plain(row, "score_reverse", score, "reverse")
        found = row.get("score_points")
        if found is not None:
            value, col = found
            loc = row.loc(col)
            points = RawMap(loc)
            bad = False
            for token in str(value).replace(",", " ").split():
                option, sep, number = token.partition("=")
                if not sep or not option:
                    self.p.error(
                        loc,
                        _row_context(row),
                        f"score_points has '{token}'; write "
                        "option=points pairs separated by spaces, like "
                        "'right=2 partly=1 wrong=0'",
                    )
                    bad = True
                    continue
                points.set(option.strip(), _number(number.strip()), loc)
            if bad:
                return
            score.set("points", points, loc)
        target.set("score", score, row.loc(cols[0]))

    # -- dimensions and derived -------------------------------------------------------------

    def read_dimensions(self, doc: RawMap) -> None:
        rows = self.rows.get(DIMENSIONS)
        if not rows:
            return
        out = RawList(Location(sheet=DIMENSIONS))
        for row in rows:
            m = RawMap(row.loc())
            for key in DIMENSIONS_PLAIN:
                self.set_plain(row, key, m)
            self.text(row, "label", m)
            out.add(m, row.loc())
        doc.set("dimensions", out, Location(sheet=DIMENSIONS))

    def read_derived(self, doc: RawMap) -> None:
        rows = self.rows.get(DERIVED)
        if not rows:
            return
        out = RawList(Location(sheet=DERIVED))
        for row in rows:
            m = RawMap(row.loc())
            for key in DERIVED_PLAIN:
                self.set_plain(row, key, m)
            self.text(row, "label", m)
            out.add(m, row.loc())
        doc.set("derived", out, Location(sheet=DERIVED))


def _row_context(row: _Row) -> str:
    name = row.value("name")
    return f"question '{name}'" if isinstance(name, str) and name else ""


# -- writing ------------------------------------------------------------------------------------


def write_xlsform(questionnaire: Questionnaire, path: str | os.PathLike[str] | IO[bytes]) -> None:
    """Write ``questionnaire`` as an XLSForm workbook.

    Parameters
    ----------
    questionnaire
        The model to write.
    path
        Where to write the ``.xlsx`` file (a path or a binary file object).

    Notes
    -----
    Reading the file back with :func:`read_xlsform` gives a questionnaire equal (``==``) to
    ``questionnaire``. Inline choice lists are written as lists named ``_<question>``.
    """
    from openpyxl import Workbook

    langs = questionnaire.languages
    book = Workbook()
    survey = book.active
    assert survey is not None  # noqa: S101 - a new workbook always has one sheet
    survey.title = SURVEY
    text_cols = [f"{key}::{_lang_header(lang)}" for key in SURVEY_TEXTS for lang in langs]
    survey_header = [
        "type",
        "name",
        *text_cols[: len(langs)],
        *SURVEY_PLAIN[2:],
        *text_cols[len(langs) :],
    ]
    survey.append(survey_header)
    for qrow in _survey_rows(questionnaire):
        survey.append([_cell(qrow.get(h)) for h in survey_header])

    choices = book.create_sheet(CHOICES)
    choices_header = [
        "list_name",
        "name",
        *(f"label::{_lang_header(lg)}" for lg in langs),
        "code",
        "exposure",
        "recency_months",
    ]
    choices.append(choices_header)
    for list_name, choice_list in _lists(questionnaire):
        for c in choice_list:
            row: dict[str, Any] = {
                "list_name": list_name,
                "name": c.name,
                "code": c.code,
                "exposure": c.exposure,
                "recency_months": c.recency_months,
            }
            _put_text(row, "label", c.label, langs)
            choices.append([_cell(row.get(h)) for h in choices_header])

    settings = book.create_sheet(SETTINGS)
    srow: dict[str, Any] = {
        "form_id": questionnaire.id,
        "version": questionnaire.version,
        "languages": " ".join(langs),
        "status": questionnaire.status,
        "invitation_only": questionnaire.settings.invitation_only,
        "one_question_per_page": questionnaire.settings.one_question_per_page,
    }
    _put_text(srow, "title", questionnaire.title, langs)
    _put_text(srow, "description", questionnaire.description, langs)
    if questionnaire.consent is not None:
        srow["consent_version"] = questionnaire.consent.version
        _put_text(srow, "consent_text", questionnaire.consent.text, langs)
    if questionnaire.index is not None:
        srow["index_name"] = questionnaire.index.name
        _put_text(srow, "index_label", questionnaire.index.label, langs)
        _put_text(srow, "index_note", questionnaire.index.note, langs)
    quotas = questionnaire.settings.quotas
    if quotas is not None:
        srow["quota_by"] = " ".join(quotas.by)
        srow["quota_default"] = quotas.default
    settings_header = list(srow)
    settings.append(settings_header)
    settings.append([_cell(srow[h]) for h in settings_header])

    if quotas is not None and quotas.cells:
        sheet = book.create_sheet(QUOTAS)
        sheet.append(["cell", "target"])
        for cell, target in quotas.cells:
            sheet.append([cell, target])
    if questionnaire.dimensions:
        sheet = book.create_sheet(DIMENSIONS)
        header = ["name", *(f"label::{_lang_header(lg)}" for lg in langs), "weight", "score"]
        sheet.append(header)
        for d in questionnaire.dimensions:
            drow: dict[str, Any] = {"name": d.name, "weight": d.weight, "score": d.score}
            _put_text(drow, "label", d.label, langs)
            sheet.append([_cell(drow.get(h)) for h in header])
    if questionnaire.derived:
        sheet = book.create_sheet(DERIVED)
        header = [
            "name",
            *(f"label::{_lang_header(lg)}" for lg in langs),
            "expression",
            "type",
            "min",
            "max",
        ]
        sheet.append(header)
        for ds in questionnaire.derived:
            xrow: dict[str, Any] = {
                "name": ds.name,
                "expression": ds.expression,
                "type": ds.type,
                "min": ds.min,
                "max": ds.max,
            }
            _put_text(xrow, "label", ds.label, langs)
            sheet.append([_cell(xrow.get(h)) for h in header])
    for ws in book.worksheets:
        ws.freeze_panes = "A2"
    book.save(path)


def _lang_header(lang: str) -> str:
    name = LANGUAGE_NAMES.get(lang)
    return f"{name} ({lang})" if name else lang


def _put_text(row: dict[str, Any], key: str, text: Text | None, langs: Iterable[str]) -> None:
    if text is None:
        return
    for lang in langs:
        if lang in text:
            row[f"{key}::{_lang_header(lang)}"] = text[lang]


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def _list_name(q: Question) -> str:
    assert q.choices is not None  # noqa: S101 - only called for choice questions
    return q.choices.name if q.choices.name is not None else f"_{q.name}"


def _lists(questionnaire: Questionnaire) -> Iterator[tuple[str, ChoiceList]]:
    for cl in questionnaire.choices:
        assert cl.name is not None  # noqa: S101 - named lists have names
        yield cl.name, cl
    for section in questionnaire.sections:
        for q in section.questions:
            if q.choices is not None and q.choices.name is None:
                yield f"_{q.name}", q.choices


def _score_cells(row: dict[str, Any], q: Question) -> None:
    s = q.score
    if s is None:
        return
    row["score_dimension"] = s.dimension
    if s.correct:
        row["score_correct"] = " ".join(s.correct)
    if s.correct_value is not None:
        row["score_correct"] = s.correct_value
        row["score_tolerance"] = s.tolerance if s.tolerance else None
    if s.points:
        row["score_points"] = " ".join(f"{k}={_num(v)}" for k, v in s.points)
    if s.reverse:
        row["score_reverse"] = True


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _survey_rows(questionnaire: Questionnaire) -> Iterator[dict[str, Any]]:
    langs = questionnaire.languages
    for section in questionnaire.sections:
        row: dict[str, Any] = {
            "type": "begin_group",
            "name": section.name,
            "relevant": section.relevant,
        }
        _put_text(row, "label", section.title, langs)
        _put_text(row, "hint", section.description, langs)
        yield row
        for q in section.questions:
            yield from _question_rows(q, langs)
        yield {"type": "end_group"}


def _question_rows(q: Question, langs: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    row: dict[str, Any] = {"name": q.name, "relevant": q.relevant}
    _put_text(row, "label", q.label, langs)
    _put_text(row, "hint", q.hint, langs)
    if q.type == "matrix":
        row.update(
            type="begin_group",
            appearance="table-list",
            required=q.required,
            randomize=q.randomize or None,
            special=" ".join(q.special) or None,
        )
        yield row
        for item in q.items:
            irow: dict[str, Any] = {
                "type": f"select_one {_list_name(q)}",
                "name": item.name,
                "relevant": item.relevant,
            }
            _put_text(irow, "label", item.label, langs)
            _put_text(irow, "explanation", item.explanation, langs)
            _score_cells(irow, item)
            yield irow
        yield {"type": "end_group"}
        return
    if q.type in ("single_choice", "likert"):
        row["type"] = f"select_one {_list_name(q)}"
        if q.type == "likert":
            row["appearance"] = "likert"
    elif q.type == "multiple_choice":
        row["type"] = f"select_multiple {_list_name(q)}"
    else:
        row["type"] = q.type
    if q.type != "note":
        row["required"] = q.required
    row.update(
        constraint=q.constraint,
        role=q.role,
        randomize=q.randomize or None,
        special=" ".join(q.special) or None,
        min=q.min,
        max=q.max,
        decimals=q.decimals,
        max_length=q.max_length,
        min_selected=q.min_selected,
        max_selected=q.max_selected,
        exclusive=" ".join(q.exclusive) or None,
        expected=q.expected,
    )
    _put_text(row, "constraint_message", q.constraint_message, langs)
    _put_text(row, "unit", q.unit, langs)
    _put_text(row, "explanation", q.explanation, langs)
    _score_cells(row, q)
    yield row
