"""File formats of the microdata export: CSV, Excel, Parquet, Stata and SPSS writers.

Each writer is opened on a path with the export's variables (:class:`analysis.codebook.Variable`)
and the number of rows it will get, takes Arrow tables of rows in order (:meth:`write`), and
finishes the file on :meth:`close`. CSV, Excel and Parquet are written as the rows come (memory
stays that of one chunk); Stata and SPSS files are written by ``pyreadstat`` from one data frame,
so those two writers fill preallocated column arrays (the whole export, in compact types) and
write the file at :meth:`close`.

Formula injection
-----------------
A spreadsheet runs a cell as a formula when its text begins with ``=``, ``+``, ``-`` or
``@`` (tab and carriage return are stripped first by some programs). :func:`neutralise` puts an
apostrophe before any *text* cell that begins with one of those characters, with a tab or a
carriage return, or with one of ``= + - @`` after leading spaces (space, tab, CR, LF, no-break
space, ideographic space U+3000), counting the full-width forms ``＝ ＋ － ＠`` too. It is applied
to every text cell of CSV and Excel files (labels included). Numeric columns are written as
numbers and never changed, so a negative code such as ``-1`` stays the number -1.
(OWASP, "CSV Injection".)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from analysis.codebook import SPECIAL_MISSING, ShortenedLabel, Variable, shorten_labels

__all__ = [
    "EXCEL_MAX_ROWS",
    "FORMAT_SUFFIXES",
    "FORMULA_PATTERN",
    "arrow_type",
    "neutralise",
    "neutralise_array",
    "open_writer",
]

Format = Literal["csv", "xlsx", "parquet", "dta", "sav"]

#: File suffix of each format.
FORMAT_SUFFIXES: Mapping[str, str] = {
    "csv": ".csv",
    "xlsx": ".xlsx",
    "parquet": ".parquet",
    "dta": ".dta",
    "sav": ".sav",
}
#: Data rows per Excel sheet (1,048,576 rows less the header); more go on ``data_2`` ...
EXCEL_MAX_ROWS = 1_048_575
_TRIGGERS = "=+\\-@\uff1d\uff0b\uff0d\uff20"
_SPACES = " \t\r\n\u00a0\u3000"
#: The rule of :func:`neutralise` as a regular expression (Python ``re`` and RE2 alike).
FORMULA_PATTERN = f"^(?:[\t\r]|[{_SPACES}]*[{_TRIGGERS}])"
_FORMULA = re.compile(FORMULA_PATTERN)
_BOM = b"\xef\xbb\xbf"
# XML 1.0 cannot hold these control characters; openpyxl refuses them.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def neutralise(text: str) -> str:
    """``text`` with an apostrophe put in front when a spreadsheet could run it as a formula.

    See the module docstring for the rule. ``neutralise("=1+2")`` is ``"'=1+2"``;
    ``neutralise("-5")`` (text) is ``"'-5"``; ``neutralise("中=")`` is unchanged.
    """
    return "'" + text if _FORMULA.match(text) else text


def neutralise_array(array: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """:func:`neutralise` applied to every string of an Arrow string array (nulls kept)."""
    hit = pc.match_substring_regex(array, FORMULA_PATTERN)
    if not pc.any(hit).as_py():
        return array
    return pc.if_else(hit, pc.binary_join_element_wise("'", array, ""), array)


def arrow_type(v: Variable) -> pa.DataType:
    """The Arrow type of a variable in the prepared data and in Parquet exports."""
    if v.storage == "text":
        return pa.string()
    if v.storage == "float":
        return pa.float64()
    return pa.int64()


class Writer(Protocol):
    """What every format writer does."""

    shortened: tuple[ShortenedLabel, ...]

    def write(self, table: pa.Table) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


# ============================================================================ CSV
class _CsvWriter:
    """UTF-8 with a byte-order mark (so Excel in China opens it as UTF-8), neutralised text."""

    def __init__(self, path: Path, variables: Sequence[Variable]) -> None:
        self.path = path
        self.shortened: tuple[ShortenedLabel, ...] = ()
        self._text = [i for i, v in enumerate(variables) if v.storage == "text"]
        self._schema = pa.schema([(v.name, arrow_type(v)) for v in variables])
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close()/abort()
        self._file.write(_BOM)
        self._writer = pacsv.CSVWriter(
            self._file,
            self._schema,
            write_options=pacsv.WriteOptions(include_header=True, quoting_style="needed"),
        )

    def write(self, table: pa.Table) -> None:
        for i in self._text:
            table = table.set_column(i, table.field(i), neutralise_array(table.column(i)))
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()
        self._file.close()

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            self._file.close()


# ============================================================================ Excel
def _excel_text(value: str) -> str:
    return neutralise(_ILLEGAL_XML.sub("\ufffd", value))


class _XlsxWriter:
    """openpyxl in write-only mode: a ``data`` sheet (and ``data_2`` ... past Excel's row
    limit), then ``variables`` and ``values`` sheets with the labels."""

    def __init__(self, path: Path, variables: Sequence[Variable], language: str) -> None:
        from openpyxl import Workbook

        self.path = path
        self.shortened: tuple[ShortenedLabel, ...] = ()
        self._variables = list(variables)
        self._language = language
        self._book = Workbook(write_only=True)
        self._sheets = 0
        self._rows_in_sheet = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        self._sheets += 1
        title = "data" if self._sheets == 1 else f"data_{self._sheets}"
        self._sheet = self._book.create_sheet(title)
        self._sheet.append([v.name for v in self._variables])
        self._rows_in_sheet = 0

    def write(self, table: pa.Table) -> None:
        columns: list[list[Any]] = []
        for v, column in zip(self._variables, table.columns, strict=True):
            values = column.to_pylist()
            if v.storage == "text":
                values = [None if x is None else _excel_text(x) for x in values]
            elif v.storage == "float":
                values = [None if x is None or not math.isfinite(x) else x for x in values]
            columns.append(values)
        for row in zip(*columns, strict=True):
            if self._rows_in_sheet >= EXCEL_MAX_ROWS:
                self._new_sheet()
            self._sheet.append(row)
            self._rows_in_sheet += 1

    def close(self) -> None:
        lang = self._language
        heads = {
            "zh": ("变量名", "标签", "类型", "缺失值代码", "题目", "出现条件", "计算规则", "公式"),
            "en": (
                "name",
                "label",
                "type",
                "missing codes",
                "question",
                "asked when",
                "rule",
                "formula",
            ),
        }[lang]
        sheet = self._book.create_sheet("variables")
        sheet.append(list(heads))
        for v in self._variables:
            sheet.append(
                [
                    v.name,
                    _excel_text(v.label.get(lang)),
                    v.storage,
                    ", ".join(f"{c} (.{SPECIAL_MISSING[c]})" for c in v.missing_codes) or None,
                    None if v.question_text is None else _excel_text(v.question_text.get(lang)),
                    None if v.relevant is None else _excel_text(v.relevant),
                    None if v.rule is None else _excel_text(v.rule.get(lang)),
                    None if v.formula is None else _excel_text(v.formula),
                ]
            )
        values = self._book.create_sheet("values")
        values.append(["变量名", "代码", "标签"] if lang == "zh" else ["name", "code", "label"])
        for v in self._variables:
            for code, text in v.value_labels:
                values.append([v.name, code, _excel_text(text.get(lang))])
        self._book.save(self.path)

    def abort(self) -> None:
        self._book.close()


# ============================================================================ Parquet
def parquet_schema(
    variables: Sequence[Variable], language: str, metadata: Mapping[str, str]
) -> pa.Schema:
    """The Arrow schema of a Parquet export, labels in field and schema metadata."""
    fields = []
    for v in variables:
        meta = {
            "label": v.label.get(language),
            "label_zh": v.label.get("zh"),
            "label_en": v.label.get("en"),
        }
        if v.value_labels:
            meta["value_labels"] = json.dumps(
                {str(c): t.get(language) for c, t in v.value_labels}, ensure_ascii=False
            )
        if v.missing_codes:
            meta["missing_codes"] = json.dumps(list(v.missing_codes))
        fields.append(pa.field(v.name, arrow_type(v), metadata=meta))
    return pa.schema(fields, metadata=dict(metadata))


class _ParquetWriter:
    def __init__(
        self, path: Path, variables: Sequence[Variable], language: str, metadata: Mapping[str, str]
    ) -> None:
        self.path = path
        self.shortened: tuple[ShortenedLabel, ...] = ()
        self._schema = parquet_schema(variables, language, metadata)
        self._writer = pq.ParquetWriter(path, self._schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table.cast(self._schema))

    def close(self) -> None:
        self._writer.close()

    def abort(self) -> None:
        self._writer.close()


# ============================================================================ Stata, SPSS
class _ColumnBuffer:
    """Preallocated columns of the whole export, filled chunk by chunk."""

    def __init__(self, variables: Sequence[Variable], rows: int, fmt: str) -> None:
        self.rows = rows
        self.filled = 0
        self.fmt = fmt
        self.columns: dict[str, np.ndarray] = {}
        for v in variables:
            self.columns[v.name] = _allocate(v, rows, fmt)
        self.variables = list(variables)

    def write(self, table: pa.Table) -> None:
        n = table.num_rows
        if self.filled + n > self.rows:
            raise RuntimeError("more rows written than announced")  # pragma: no cover
        stop = self.filled + n
        for v, column in zip(self.variables, table.columns, strict=True):
            _fill(self.columns[v.name], self.filled, stop, v, column, self.fmt)
        self.filled = stop

    def frame(self) -> pd.DataFrame:
        if self.filled != self.rows:
            for name, array in self.columns.items():
                self.columns[name] = array[: self.filled]
        return pd.DataFrame(self.columns, copy=False)


def _allocate(v: Variable, rows: int, fmt: str) -> np.ndarray:
    if v.storage == "text":
        return np.full(rows, "", dtype=object)
    if fmt == "dta" and v.missing_codes:
        return np.full(rows, None, dtype=object)
    if v.storage in ("code", "binary"):  # small whole numbers: exact in float32
        return np.full(rows, np.nan, dtype=np.float32)
    return np.full(rows, np.nan, dtype=np.float64)


def _fill(
    target: np.ndarray, start: int, stop: int, v: Variable, column: pa.ChunkedArray, fmt: str
) -> None:
    if v.storage == "text":
        # through a dictionary, so that repeated texts share one Python string
        position = start
        for chunk in pc.dictionary_encode(column.fill_null("")).chunks:
            words = chunk.dictionary.to_numpy(zero_copy_only=False)
            codes = chunk.indices.to_numpy(zero_copy_only=False)
            target[position : position + len(codes)] = words[codes]
            position += len(codes)
        return
    numbers = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
    if target.dtype != object:
        target[start:stop] = numbers
        return
    # Stata with special answers: Python numbers, "a"/"b" for .a/.b, None for "."
    present = ~np.isnan(numbers)
    if v.storage == "float":
        block = numbers.astype(object)
    else:
        block = np.where(present, numbers, 0).astype(np.int64).astype(object)
    block[~present] = None
    for code, letter in SPECIAL_MISSING.items():
        if code in v.missing_codes:
            block[present & (numbers == code)] = letter
    target[start:stop] = block


class _StataWriter:
    """Stata release 118 (``pyreadstat.write_dta(version=14)``): UTF-8 labels, Stata 14+.

    Special answers become extended missing values with value labels (``.a`` don't know,
    ``.b`` prefer not to say), skips system missing ``.``; text missing is ``""``.
    """

    def __init__(
        self, path: Path, variables: Sequence[Variable], rows: int, language: str, file_label: str
    ) -> None:
        self.path = path
        self._variables = list(variables)
        self._buffer = _ColumnBuffer(variables, rows, "dta")
        self._language = language
        self._file_label = file_label
        labels, values, shortened = shorten_labels(variables, "dta", language)
        self._labels: dict[str, str | None] = dict(labels)
        self._values = values
        self.shortened = shortened

    def write(self, table: pa.Table) -> None:
        self._buffer.write(table)

    def close(self) -> None:
        import pyreadstat

        frame = self._buffer.frame()
        value_labels: dict[str, dict[Any, str]] = {}
        missing: dict[str, list[str]] = {}
        for v in self._variables:
            if v.storage == "text":
                continue
            as_object = frame[v.name].dtype == object
            labels: dict[Any, str] = {}
            for code, text in self._values.get(v.name, {}).items():
                if code in v.missing_codes:
                    labels[SPECIAL_MISSING[code]] = text
                else:
                    labels[code if as_object else float(code)] = text
            if labels:
                value_labels[v.name] = labels
            if v.missing_codes:
                missing[v.name] = [SPECIAL_MISSING[c] for c in v.missing_codes]
        pyreadstat.write_dta(
            frame,
            str(self.path),
            file_label=_fit_chars(self._file_label, 80),
            column_labels=self._labels,
            version=14,
            variable_value_labels=value_labels,
            missing_user_values=missing,
        )

    def abort(self) -> None:
        self._buffer = _ColumnBuffer([], 0, "dta")


class _SpssWriter:
    """SPSS .sav (pyreadstat, UTF-8): special answers -1/-2 are user-missing values."""

    def __init__(
        self, path: Path, variables: Sequence[Variable], rows: int, language: str, file_label: str
    ) -> None:
        self.path = path
        self._variables = list(variables)
        self._buffer = _ColumnBuffer(variables, rows, "sav")
        self._file_label = file_label
        labels, values, shortened = shorten_labels(variables, "sav", language)
        self._labels: dict[str, str | None] = dict(labels)
        self._values = values
        self.shortened = shortened

    def write(self, table: pa.Table) -> None:
        self._buffer.write(table)

    def close(self) -> None:
        import pyreadstat

        frame = self._buffer.frame()
        value_labels = {
            name: {float(code): text for code, text in labels.items()}
            for name, labels in self._values.items()
        }
        missing: dict[str, list[Any]] = {
            v.name: [float(c) for c in v.missing_codes] for v in self._variables if v.missing_codes
        }
        measure = {
            v.name: "scale" if v.storage in ("int", "float") else "nominal" for v in self._variables
        }
        pyreadstat.write_sav(
            frame,
            str(self.path),
            file_label=_fit_bytes(self._file_label, 64),
            column_labels=self._labels,
            variable_value_labels=value_labels,
            missing_ranges=missing,
            variable_measure=measure,
        )

    def abort(self) -> None:
        self._buffer = _ColumnBuffer([], 0, "sav")


def _fit_chars(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fit_bytes(text: str, limit: int) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode("utf-8", errors="ignore") + "…"


def open_writer(
    fmt: str,
    path: Path,
    variables: Sequence[Variable],
    *,
    rows: int,
    language: str,
    file_label: str,
    metadata: Mapping[str, str],
) -> Writer:
    """A writer of ``fmt`` on ``path`` for ``rows`` rows of ``variables``."""
    if fmt == "csv":
        return _CsvWriter(path, variables)
    if fmt == "xlsx":
        return _XlsxWriter(path, variables, language)
    if fmt == "parquet":
        return _ParquetWriter(path, variables, language, metadata)
    if fmt == "dta":
        return _StataWriter(path, variables, rows, language, file_label)
    if fmt == "sav":
        return _SpssWriter(path, variables, rows, language, file_label)
    raise ValueError(f"unknown format {fmt!r}")  # pragma: no cover - checked by the caller
