"""The response store: durable, immutable Parquet files, one per submission, merged by compaction.

Layout under the data folder (``root``)::

    responses/<questionnaire>/<version>/province=<code|none>/<response_id>.parquet
    responses/<questionnaire>/<version>/province=<code|none>/compacted-<32 hex>.parquet
    quarantine/        files that could not be read, each with a ``.reason.txt``
    tombstones/        ids of responses deleted on request (never stored again)
    locks/             the maintenance lock (compaction, deletion, backup, restore)
    state.sqlite3      invitations, drafts, audit log, contact details (responses.state)

Guarantees
----------
* A submission is acknowledged (``submit`` returns) only after its file was written to a
  temporary name, fsync'ed, published under its final name with an atomic ``link`` (which
  fails if the name exists) and the folder fsync'ed. A crash at any moment leaves either no
  file or the complete file; temporary files are never read.
* The file name is the response id, so a retried submission is stored once; a retry with
  different answers is refused (:class:`ConflictError`).
* Compaction writes the merged file (temporary name, fsync, rename, fsync) before it removes
  the small files: a crash may leave a row twice, never lose one. Reads drop duplicates.
* Submissions take no lock. Compaction, deletion, backup and restore take the maintenance lock
  (``filelock``), so they never run at the same time as each other.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import os
import re
import shutil
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from filelock import FileLock

from responses.config import SETTINGS, Config, load_config
from responses.errors import ConflictError, ResponseError, StoreError, StoreWarning
from responses.record import (
    META_COLUMNS,
    QUESTIONNAIRE_ID_RE,
    RESPONSE_ID_RE,
    VERSION_RE,
    ResponseRecord,
    check_province,
    check_questionnaire_id,
    check_response_id,
    check_version,
    content_fingerprint,
)
from responses.state import SQLiteState, StateStore

__all__ = [
    "BackupResult",
    "BulkPublishResult",
    "CompactionResult",
    "DeleteResult",
    "ParquetResponseStore",
    "QuarantinedFile",
    "ReadResult",
    "ResponseStore",
    "RestoreResult",
    "SubmitReceipt",
    "Validator",
]

PathLike = str | os.PathLike[str]
DtypeBackend = Literal["numpy_nullable", "pyarrow"]

#: Called with each record before anything is written; returns the record to store (possibly
#: normalised) or ``None`` to keep it as is, and raises ResponseError to refuse it.
Validator = Callable[[ResponseRecord], "ResponseRecord | None"]

RESPONSES_DIR = "responses"
QUARANTINE_DIR = "quarantine"
TOMBSTONE_DIR = "tombstones"
LOCK_DIR = "locks"
STATE_FILE = "state.sqlite3"
MANIFEST = "manifest.json"

SMALL_RE = re.compile(r"([A-Za-z0-9_-]{22})\.parquet")
COMPACTED_RE = re.compile(r"compacted-[0-9a-f]{32}\.parquet")
PARTITION_RE = re.compile(r"province=([0-9]{2}|none)")
TEMP_SUFFIX = ".tmp"
_SMALL_CHUNK = 512
#: Where a backup's manifest may point: published files of the layout, nothing else.
_BACKUP_FILE_RE = re.compile(
    rf"{RESPONSES_DIR}/{QUESTIONNAIRE_ID_RE.pattern}/{VERSION_RE.pattern}/"
    rf"{PARTITION_RE.pattern}/(?:{SMALL_RE.pattern}|{COMPACTED_RE.pattern})"
)
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
#: Folders under the data folder that may hold copies of responses besides responses/:
#: the data a restore replaced, and the staging folder of a restore that was interrupted.
_RESPONSE_COPIES = ("pre-restore-*", ".restore-*")

_SMALL_FILE_OPTIONS: dict[str, Any] = {
    "compression": "none",
    "use_dictionary": False,
    "write_statistics": False,
    "store_schema": False,
}
_DEFAULT = {s.name: s.default for s in SETTINGS}


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitReceipt:
    """What :meth:`ParquetResponseStore.submit` stored.

    ``duplicate`` is ``True`` when this response id was already stored with the same answers
    (a retry): nothing was written and ``submitted_at`` is that of the stored copy.
    """

    response_id: str
    questionnaire_id: str
    questionnaire_version: str
    province: int | None
    submitted_at: dt.datetime
    path: Path
    duplicate: bool = False


@dataclass(frozen=True)
class QuarantinedFile:
    """A file that could not be read, moved out of the data (``moved_to``) with its reason."""

    original: Path
    moved_to: Path
    reason: str


@dataclass(frozen=True)
class ReadResult:
    """Rows read (duplicates removed), files quarantined on the way, duplicates dropped."""

    table: pa.Table
    quarantined: tuple[QuarantinedFile, ...] = ()
    duplicates_dropped: int = 0


@dataclass(frozen=True)
class CompactionResult:
    """What :meth:`ParquetResponseStore.compact` did for one questionnaire."""

    questionnaire_id: str
    partitions: int
    files_merged: int
    files_written: int
    rows: int
    duplicates_dropped: int
    conflicts: int
    seconds: float
    quarantined: tuple[QuarantinedFile, ...] = ()


@dataclass(frozen=True)
class BulkPublishResult:
    """What :meth:`ParquetResponseStore.publish_bulk` wrote."""

    questionnaire_id: str
    questionnaire_version: str
    partitions: int
    files_written: int
    rows: int
    seconds: float
    paths: tuple[Path, ...] = ()


@dataclass(frozen=True)
class DeleteResult:
    """What :meth:`ParquetResponseStore.delete` removed."""

    response_id: str
    found: bool
    files_removed: int
    files_rewritten: int
    drafts_removed: int
    contacts_removed: int


@dataclass(frozen=True)
class BackupResult:
    """A backup: where, how many files and rows, and the checksum of its manifest."""

    path: Path
    files: int
    rows: int
    bytes: int
    checksum: str


@dataclass(frozen=True)
class RestoreResult:
    """A restore: what was put back, and where the data it replaced was moved."""

    source: Path
    files: int
    rows: int
    checksum: str
    previous: Path | None = None
    deletions_reapplied: int = 0
    """Files removed or rewritten because they held responses deleted on request."""


class ResponseStore(Protocol):
    """What the app and the analysis need from a response store (local Parquet today)."""

    def submit(self, record: ResponseRecord) -> SubmitReceipt: ...
    def read(
        self,
        questionnaire_id: str,
        *,
        version: str | None = None,
        columns: Sequence[str] | None = None,
        dtype_backend: DtypeBackend = "numpy_nullable",
        narrow_integers: bool = False,
    ) -> pd.DataFrame: ...
    def read_table(
        self,
        questionnaire_id: str,
        *,
        version: str | None = None,
        columns: Sequence[str] | None = None,
        narrow_integers: bool = False,
    ) -> ReadResult: ...
    def iter_batches(
        self,
        questionnaire_id: str,
        *,
        version: str | None = None,
        columns: Sequence[str] | None = None,
        batch_size: int = 65536,
    ) -> Iterator[pa.RecordBatch]: ...
    def count(self, questionnaire_id: str, *, version: str | None = None) -> int: ...
    def uncompacted_files(self, questionnaire_id: str, *, version: str | None = None) -> int: ...
    def list_questionnaires(self) -> list[str]: ...
    def list_versions(self, questionnaire_id: str) -> list[str]: ...
    def compact(
        self, questionnaire_id: str, *, version: str | None = None, actor: str = "system"
    ) -> CompactionResult: ...
    def delete(self, response_id: str, *, reason: str, actor: str) -> DeleteResult: ...
    def backup(self, dest: PathLike, *, actor: str = "system") -> BackupResult: ...
    def restore(self, src: PathLike, *, actor: str = "system") -> RestoreResult: ...


# --- low-level file operations ------------------------------------------------------------


def _write_parquet(sink: Any, table: pa.Table, **options: Any) -> None:
    """Write ``table`` as Parquet to ``sink`` (an Arrow output stream or a binary file)."""
    pq.write_table(table, sink, **options)


def _write_bytes(file: Any, data: Any) -> None:
    """Write ``data`` to an open binary file (the point where a full disk shows up; tests
    replace this function to simulate one)."""
    file.write(data)


def _step(name: str) -> None:
    """A named point in a multi-step operation (tests replace this to crash there)."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ensure_dir(path: Path) -> None:
    """Create ``path`` and missing parents, fsync'ing each parent that got a new entry."""
    if path.is_dir():
        return
    missing: list[Path] = []
    p = path
    while not p.is_dir():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(d)
        _fsync_dir(d.parent)


def _write_durably(path: Path, table: pa.Table, *, buffered: bool, **options: Any) -> None:
    """Write ``table`` to the new file ``path`` and fsync it; remove it on any failure.

    ``buffered``: encode in memory and write once (small files: fewer system calls), else
    stream to the file (large compacted files).
    """
    try:
        with open(path, "xb") as f:
            if buffered:
                sink = pa.BufferOutputStream()
                _write_parquet(sink, table, **options)
                _write_bytes(f, sink.getvalue())
            else:
                _write_parquet(f, table, **options)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def _os_problem(exc: OSError, where: Path) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full (no space left on the device holding {where})"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"the data folder {where} is read-only or not writable ({exc.strerror})"
    return f"{exc.strerror or exc} ({where})"


def _folder_argument(value: PathLike, what: str) -> Path:
    """``value`` as an absolute path, refusing what no file system can hold (NUL bytes)."""
    text = os.fspath(value)
    problem = None
    if not isinstance(text, str) or not text or "\x00" in text:
        problem = "it is empty or holds a NUL character"
    else:
        try:
            os.fsencode(text)
        except UnicodeEncodeError:
            problem = "it holds a character no file name can hold"
    if problem:
        raise StoreError(f"{what} {text!r} is not a usable folder name: {problem}.")
    return Path(text).absolute()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _copy_durably(src: Path, dest: Path, *, hardlink: bool) -> str:
    """Copy (or hard-link) ``src`` to ``dest``, fsync it, and return its SHA-256."""
    _ensure_dir(dest.parent)
    if hardlink:
        os.link(src, dest)
        return _sha256_file(dest)
    h = hashlib.sha256()
    with open(src, "rb") as fin, open(dest, "xb") as fout:
        for chunk in iter(lambda: fin.read(1 << 20), b""):
            h.update(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    shutil.copystat(src, dest)
    return h.hexdigest()


class _BadFile(Exception):
    def __init__(self, path: Path, reason: str):
        super().__init__(reason)
        self.path = path
        self.reason = reason


def _unify(schemas: Sequence[pa.Schema]) -> pa.Schema:
    """One schema for all files: columns in order of first appearance, types widened
    (null -> anything, int -> float); irreconcilable types become text."""
    try:
        return pa.unify_schemas(list(schemas), promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    types: dict[str, pa.DataType] = {}
    for schema in schemas:
        for f in schema:
            if f.name not in types:
                types[f.name] = f.type
            elif types[f.name] != f.type:
                try:
                    merged = pa.unify_schemas(
                        [pa.schema([(f.name, types[f.name])]), pa.schema([f])],
                        promote_options="permissive",
                    )
                    types[f.name] = merged.field(0).type
                except (pa.ArrowInvalid, pa.ArrowTypeError):
                    types[f.name] = pa.string()
    return pa.schema(list(types.items()))


def _conform(table: pa.Table, schema: pa.Schema, names: Sequence[str] | None = None) -> pa.Table:
    """``table`` with ``schema``'s columns (or those of them in ``names``), missing ones null,
    cast to the schema's types."""
    fields = [schema.field(n) for n in names] if names is not None else list(schema)
    arrays = []
    for f in fields:
        if f.name in table.column_names:
            col = table.column(f.name)
            arrays.append(col if col.type == f.type else pc.cast(col, f.type))
        else:
            arrays.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


_NARROW_TYPES = ((pa.int8(), np.int8), (pa.int16(), np.int16), (pa.int32(), np.int32))


def _narrowed(
    schema: pa.Schema,
    names: Sequence[str],
    footers: Sequence[pq.FileMetaData],
    chunks: Sequence[pa.Table],
) -> pa.Schema:
    """``schema`` with each ``int64`` column of ``names`` narrowed to the smallest of int8,
    int16, int32 that holds all its values: those of the compacted files (``footers``: each
    row group's min and max statistics, no data read) and of the small files' ``chunks``.

    A column a file's statistics do not bound (no statistics, or not an integer column
    there) stays ``int64``; a column with no values at all becomes ``int8``.
    """
    low: dict[str, int] = {}
    high: dict[str, int] = {}
    open_: set[str] = {n for n in names if pa.types.is_int64(schema.field(n).type)}

    def bound(name: str, lo: int, hi: int) -> None:
        low[name] = min(low.get(name, lo), lo)
        high[name] = max(high.get(name, hi), hi)

    for footer in footers:
        index = {n: i for i, n in enumerate(footer.schema.names)}
        here = [n for n in open_ if n in index]
        for g in range(footer.num_row_groups):
            group = footer.row_group(g)
            for name in here:
                if name not in open_:
                    continue
                chunk = group.column(index[name])
                stats = chunk.statistics
                if chunk.physical_type not in ("INT32", "INT64") or stats is None:
                    open_.discard(name)
                elif stats.has_min_max:
                    bound(name, int(stats.min), int(stats.max))
                elif not (stats.has_null_count and stats.num_values == 0):
                    open_.discard(name)  # values without a min and max
    for table in chunks:
        for name in [n for n in open_ if n in table.column_names]:
            column = table.column(name)
            if column.null_count == len(column):
                continue
            if not pa.types.is_integer(column.type):
                open_.discard(name)
                continue
            extremes = pc.min_max(column).as_py()
            bound(name, int(extremes["min"]), int(extremes["max"]))
    fields = []
    for f in schema:
        if f.name in open_:
            lo, hi = low.get(f.name, 0), high.get(f.name, 0)
            for typ, info in _NARROW_TYPES:
                if np.iinfo(info).min <= lo and hi <= np.iinfo(info).max:
                    f = f.with_type(typ)
                    break
        fields.append(f)
    return pa.schema(fields, metadata=schema.metadata)


def _concat(tables: Sequence[pa.Table]) -> pa.Table:
    """Tables with possibly different columns -> one table (one chunk per column)."""
    try:
        combined = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        schema = _unify([t.schema for t in tables])
        combined = pa.concat_tables([_conform(t, schema) for t in tables])
    return combined.combine_chunks()


_REQUIRED = ("response_id", "questionnaire_id", "questionnaire_version", "submitted_at")


def _check_response_schema(schema: pa.Schema) -> str | None:
    names = set(schema.names)
    for name in _REQUIRED:
        if name not in names:
            return f"not a response file: it has no '{name}' column"
    if not pa.types.is_string(schema.field("response_id").type):
        return "not a response file: its 'response_id' column is not text"
    return None


_duckdb_lock = threading.Lock()
_duckdb_connection: tuple[int, duckdb.DuckDBPyConnection] | None = None


def _duckdb() -> duckdb.DuckDBPyConnection:
    """This process's in-memory DuckDB connection (opening one costs tens of ms; each use
    takes its own cursor, so threads do not share one)."""
    global _duckdb_connection
    with _duckdb_lock:
        if _duckdb_connection is None or _duckdb_connection[0] != os.getpid():
            _duckdb_connection = (os.getpid(), duckdb.connect())
        return _duckdb_connection[1]


def _read_chunk_duckdb(files: Sequence[Path], keep: Sequence[str] | None = None) -> pa.Table | None:
    """One-row response files read together by DuckDB (columns unified by name), or ``None``
    when that fails or the result is not exactly one row per file whose ``response_id`` is
    the file's name (the caller then reads them one by one to find the bad file).

    ``keep``: read only these columns (those of them the files have) besides the required
    ones; ``None`` reads all.
    """
    con = _duckdb().cursor()
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute("SET TimeZone = 'UTC'")
        relation = con.read_parquet(
            [str(f) for f in files], union_by_name=True, hive_partitioning=False
        )
        if keep is not None:
            wanted = {*_REQUIRED, *keep}
            relation = relation.select(
                *[duckdb.ColumnExpression(c) for c in relation.columns if c in wanted]
            )
        table = relation.to_arrow_table()
    except duckdb.Error:
        return None
    finally:
        con.close()
    if table.num_rows != len(files) or _check_response_schema(table.schema) is not None:
        return None
    for name in _REQUIRED:
        if table.column(name).null_count:
            return None
    if not pa.types.is_timestamp(table.schema.field("submitted_at").type):
        return None
    names = sorted(f.stem for f in files)
    if sorted(table.column("response_id").to_pylist()) != names:
        return None
    for i, f in enumerate(table.schema):  # DuckDB names UTC "Etc/UTC"; keep one spelling
        if pa.types.is_timestamp(f.type) and f.type.tz is not None and f.type.tz != "UTC":
            table = table.set_column(
                i, f.name, pc.cast(table.column(i), pa.timestamp(f.type.unit, tz="UTC"))
            )
    return table.combine_chunks()


def _may_have_duplicates(ids: pa.ChunkedArray) -> bool:
    """Whether a column of response ids may hold one id twice; ``False`` is certain.

    Response ids are 22 random characters: if their first 8 bytes (48 random bits) are all
    different, so are the ids. Sorting those 8 bytes as integers is some 20 times faster than
    hashing the strings; only when two prefixes agree (rare) are the whole ids compared.
    """
    arr = ids.combine_chunks() if ids.num_chunks != 1 else ids.chunk(0)
    if len(arr) < 2:
        return False
    if arr.null_count == 0 and pa.types.is_string(arr.type):
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[
            arr.offset : arr.offset + len(arr) + 1
        ]
        if bool(np.all(np.diff(offsets) == 22)):
            data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
            key = np.sort(np.ascontiguousarray(data.reshape(-1, 22)[:, :8]).view(np.uint64).ravel())
            if not bool((key[1:] == key[:-1]).any()):
                return False
    return len(pc.unique(arr)) != len(arr)


def _dedupe(table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Keep one row per response id: the earliest ``submitted_at`` (then the first in order).

    Returns the rows kept and the rows dropped.
    """
    if table.num_rows < 2:
        return table, table.slice(0, 0)
    ids = table.column("response_id")
    if not _may_have_duplicates(ids):
        return table, table.slice(0, 0)
    frame = pd.DataFrame(
        {
            "id": ids.to_numpy(zero_copy_only=False),
            "ts": pc.cast(table.column("submitted_at"), pa.int64()).to_numpy(zero_copy_only=False),
            "i": range(table.num_rows),
        }
    )
    frame = frame.sort_values(["id", "ts", "i"], kind="stable")
    first = ~frame["id"].duplicated(keep="first")
    keep = sorted(frame.loc[first, "i"].tolist())
    drop = sorted(frame.loc[~first, "i"].tolist())
    return table.take(keep), table.take(drop)


def _utcstamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


# --- the store ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Files:
    compacted: list[Path] = field(default_factory=list)
    small: list[Path] = field(default_factory=list)
    foreign: list[Path] = field(default_factory=list)

    @property
    def all(self) -> list[Path]:
        return [*self.compacted, *self.small]


class ParquetResponseStore:
    """Responses as Parquet files under a local folder (see the module docstring for layout
    and guarantees).

    Parameters
    ----------
    root
        The data folder (``Config.data_dir``); created when missing.
    validator
        Called with every record before anything is written (see :data:`Validator`).
    state
        Operational state (invitations, drafts, audit log); default an
        :class:`~responses.state.SQLiteState` in ``root/state.sqlite3``, opened on first use.
    row_group_size, target_rows, temp_max_age, draft_retention_days, contact_retention_days
        See :data:`responses.config.SETTINGS`.
    """

    def __init__(
        self,
        root: PathLike,
        *,
        validator: Validator | None = None,
        state: StateStore | None = None,
        row_group_size: int = int(_DEFAULT["compact_row_group_size"]),
        target_rows: int = int(_DEFAULT["compact_target_rows"]),
        temp_max_age: float = float(_DEFAULT["temp_max_age_seconds"]),
        draft_retention_days: float = float(_DEFAULT["draft_retention_days"]),
        contact_retention_days: float = float(_DEFAULT["contact_retention_days"]),
        busy_timeout: float = float(_DEFAULT["state_busy_timeout_seconds"]),
    ):
        self.root = _folder_argument(root, "data folder")
        self.validator = validator
        self.row_group_size = row_group_size
        self.target_rows = target_rows
        self.temp_max_age = temp_max_age
        self._state = state
        self._state_lock = threading.Lock()
        self._state_options = {
            "draft_retention": dt.timedelta(days=draft_retention_days),
            "contact_retention": dt.timedelta(days=contact_retention_days),
            "busy_timeout": busy_timeout,
        }

    @classmethod
    def from_config(
        cls, config: Config | None = None, *, validator: Validator | None = None
    ) -> ParquetResponseStore:
        """A store with the settings in force (:func:`responses.config.load_config`)."""
        cfg = config or load_config()
        return cls(
            cfg.data_dir,
            validator=validator,
            row_group_size=cfg.compact_row_group_size,
            target_rows=cfg.compact_target_rows,
            temp_max_age=cfg.temp_max_age_seconds,
            draft_retention_days=cfg.draft_retention_days,
            contact_retention_days=cfg.contact_retention_days,
            busy_timeout=cfg.state_busy_timeout_seconds,
        )

    def __repr__(self) -> str:
        return f"ParquetResponseStore({str(self.root)!r})"

    # -- paths ------------------------------------------------------------------------------

    @property
    def state(self) -> StateStore:
        """The operational state (opened on first use)."""
        if self._state is None:
            with self._state_lock:
                if self._state is None:
                    self._state = SQLiteState(self.root / STATE_FILE, **self._state_options)  # type: ignore[arg-type]
        return self._state

    def close(self) -> None:
        """Close the state database's connections."""
        if self._state is not None:
            self._state.close()

    def __enter__(self) -> ParquetResponseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def responses_dir(self) -> Path:
        return self.root / RESPONSES_DIR

    def _partition_dir(self, questionnaire_id: str, version: str, province: int | None) -> Path:
        check_questionnaire_id(questionnaire_id)
        check_version(version)
        check_province(province)
        code = "none" if province is None else f"{province:02d}"
        return self.responses_dir / questionnaire_id / version / f"province={code}"

    def _lock(self) -> FileLock:
        _ensure_dir(self.root / LOCK_DIR)
        # A fresh lock object each time: flock() then also excludes other threads.
        return FileLock(self.root / LOCK_DIR / "maintenance.lock", thread_local=False)

    @staticmethod
    def _subdirs(path: Path, pattern: re.Pattern[str]) -> list[Path]:
        try:
            with os.scandir(path) as it:
                return sorted(Path(e.path) for e in it if e.is_dir() and pattern.fullmatch(e.name))
        except FileNotFoundError:
            return []

    def list_questionnaires(self) -> list[str]:
        """Ids of the questionnaires that have a folder of responses."""
        return [p.name for p in self._subdirs(self.responses_dir, QUESTIONNAIRE_ID_RE)]

    def list_versions(self, questionnaire_id: str) -> list[str]:
        """Versions of a questionnaire that have responses, in numeric order."""
        check_questionnaire_id(questionnaire_id)
        names = [p.name for p in self._subdirs(self.responses_dir / questionnaire_id, VERSION_RE)]
        return sorted(names, key=lambda v: tuple(int(x) for x in v.split(".")))

    def _partitions(self, questionnaire_id: str, version: str | None) -> list[Path]:
        check_questionnaire_id(questionnaire_id)
        versions = (
            [check_version(version)]
            if version is not None
            else self.list_versions(questionnaire_id)
        )
        out: list[Path] = []
        for v in versions:
            out.extend(self._subdirs(self.responses_dir / questionnaire_id / v, PARTITION_RE))
        return out

    @staticmethod
    def _files_in(partition: Path) -> _Files:
        files = _Files()
        try:
            with os.scandir(partition) as it:
                names = sorted(e.name for e in it if e.is_file())
        except FileNotFoundError:
            return files
        for name in names:
            if name.startswith(".") or not name.endswith(".parquet"):
                continue  # temporary files and anything that is not Parquet
            if COMPACTED_RE.fullmatch(name):
                files.compacted.append(partition / name)
            elif SMALL_RE.fullmatch(name):
                files.small.append(partition / name)
            else:
                files.foreign.append(partition / name)
        return files

    # -- submit -----------------------------------------------------------------------------

    def submit(self, record: ResponseRecord) -> SubmitReceipt:
        """Store one response durably; a retry with the same response id is a no-op.

        Steps: the validator (if any) checks the record; the invitation token (if any) is
        reserved for this response; the row is written to a temporary file in the partition
        folder and fsync'ed, published under ``<response_id>.parquet`` with an atomic link,
        and the folder fsync'ed. Only then is the token marked submitted and any draft of the
        response removed.

        Returns
        -------
        SubmitReceipt
            ``duplicate=True`` when the same response was already stored.

        Raises
        ------
        ResponseError
            The validator refused the record.
        ConflictError
            A response with this id is stored with different answers.
        InvitationError
            The token is unknown or was used by another response.
        StoreError
            The file could not be written (disk full, read-only folder ...): nothing was
            changed; the message says so.
        """
        if not isinstance(record, ResponseRecord):
            raise ResponseError(
                f"submit() takes a ResponseRecord; got {type(record).__name__}. "
                "Build one with responses.record.ResponseRecord(...)."
            )
        if self.validator is not None:
            checked = self.validator(record)
            if checked is not None:
                if not isinstance(checked, ResponseRecord):
                    raise ResponseError(
                        f"the validator returned {type(checked).__name__}; it must return a "
                        "ResponseRecord or None."
                    )
                record = checked
        rid = check_response_id(record.response_id)
        partition = self._partition_dir(
            record.questionnaire_id, record.questionnaire_version, record.province
        )
        if (self.root / TOMBSTONE_DIR / rid).exists():
            raise StoreError(
                f"response {rid} was deleted on request and cannot be stored again; "
                "nothing was changed."
            )
        final = partition / f"{rid}.parquet"
        for existing in self._copies_of(record.questionnaire_id, rid):
            receipt = self._same_or_conflict(existing, record)
            if receipt is not None:
                self._after_submit(record)
                return receipt
        if record.token_hash is not None:
            self.state.reserve_token(record.questionnaire_id, record.token_hash, response_id=rid)
        table = record.to_table()
        temp = partition / f".{rid}.{uuid.uuid4().hex}{TEMP_SUFFIX}"
        try:
            _ensure_dir(partition)
            _write_durably(temp, table, buffered=True, **_SMALL_FILE_OPTIONS)
            try:
                os.link(temp, final)
            except FileExistsError:
                os.unlink(temp)
                receipt = self._same_or_conflict(final, record)
                if receipt is None:  # the other copy was unreadable and quarantined: retry once
                    _write_durably(temp, table, buffered=True, **_SMALL_FILE_OPTIONS)
                    os.link(temp, final)
                else:
                    self._after_submit(record)
                    return receipt
            os.unlink(temp)
            _fsync_dir(partition)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise StoreError(
                f"could not store the response: {_os_problem(exc, partition)}; "
                "nothing was changed; try again."
            ) from exc
        if (self.root / TOMBSTONE_DIR / rid).exists():  # deleted while we were writing
            with contextlib.suppress(FileNotFoundError):
                os.unlink(final)
            _fsync_dir(partition)
            raise StoreError(
                f"response {rid} was deleted on request and cannot be stored again; "
                "nothing was changed."
            )
        self._after_submit(record)
        return SubmitReceipt(
            rid,
            record.questionnaire_id,
            record.questionnaire_version,
            record.province,
            record.submitted_at,
            final,
        )

    def _copies_of(self, questionnaire_id: str, rid: str) -> list[Path]:
        """Published small files of this response id, in any version or province."""
        base = os.path.join(self.responses_dir, questionnaire_id)
        name = rid + ".parquet"
        out: list[Path] = []
        try:
            versions = os.listdir(base)
        except FileNotFoundError:
            return out
        for version in versions:
            vdir = os.path.join(base, version)
            try:
                partitions = os.listdir(vdir)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for partition in partitions:
                candidate = os.path.join(vdir, partition, name)
                if os.path.exists(candidate):
                    out.append(Path(candidate))
        return out

    def _same_or_conflict(self, existing: Path, record: ResponseRecord) -> SubmitReceipt | None:
        """The receipt of an identical stored copy; ConflictError if it differs; ``None`` if
        the copy vanished or was unreadable (and was quarantined)."""
        try:
            rows = pq.read_table(existing).to_pylist()
            if len(rows) != 1:
                raise _BadFile(existing, f"a response file must hold one row; it holds {len(rows)}")
            row = rows[0]
        except FileNotFoundError:
            return None
        except (pa.ArrowException, OSError, _BadFile) as exc:
            reason = exc.reason if isinstance(exc, _BadFile) else f"cannot be read: {exc}"
            q = self._quarantine(existing, reason)
            if q is not None:
                warnings.warn(
                    f"{q.original} could not be read ({reason}); moved to {q.moved_to}.",
                    StoreWarning,
                    stacklevel=3,
                )
            return None
        if content_fingerprint(row) != record.fingerprint():
            raise ConflictError(
                f"response {record.response_id} is already stored with different answers "
                f"({existing.relative_to(self.root)}); a response id can be used for one "
                "response only. Nothing was changed: start a new response for new answers."
            )
        return SubmitReceipt(
            record.response_id,
            record.questionnaire_id,
            record.questionnaire_version,
            row.get("province"),
            row["submitted_at"].astimezone(dt.UTC),
            existing,
            duplicate=True,
        )

    def _after_submit(self, record: ResponseRecord) -> None:
        """Bookkeeping once the response is durable: token submitted, draft removed."""
        try:
            if record.token_hash is not None:
                self.state.complete_token(record.token_hash, response_id=record.response_id)
            self.state.delete_drafts(response_id=record.response_id)
        except StoreError as exc:
            warnings.warn(
                f"response {record.response_id} is stored, but the invitation/draft state could "
                f"not be updated ({exc}); submitting again will finish it.",
                StoreWarning,
                stacklevel=3,
            )

    # -- quarantine -------------------------------------------------------------------------

    def _quarantine(self, path: Path, reason: str) -> QuarantinedFile | None:
        """Move an unreadable file to ``quarantine/`` with a reason file; ``None`` if it
        was already gone."""
        qdir = self.root / QUARANTINE_DIR
        _ensure_dir(qdir)
        try:
            rel = path.relative_to(self.responses_dir)
        except ValueError:
            rel = Path(path.name)
        name = f"{_utcstamp()}-{'~'.join(rel.parts)}"
        target = qdir / name
        try:
            os.rename(path, target)
        except FileNotFoundError:
            return None
        note = {
            "original": str(path.relative_to(self.root))
            if path.is_relative_to(self.root)
            else str(path),
            "reason": reason,
            "quarantined_at": dt.datetime.now(dt.UTC).isoformat(),
            "what_to_do": "inspect the file; if it holds good responses, repair it and put it "
            "back under its original name; otherwise delete both files",
        }
        reason_path = qdir / f"{name}.reason.txt"
        with open(reason_path, "w", encoding="utf-8") as f:
            json.dump(note, f, indent=2, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(qdir)
        with contextlib.suppress(OSError):
            _fsync_dir(path.parent)
        return QuarantinedFile(Path(note["original"]), target, reason)

    # -- read -------------------------------------------------------------------------------

    def _quarantine_into(self, quarantined: list[QuarantinedFile], path: Path, reason: str) -> None:
        q = self._quarantine(path, reason)
        if q is not None:
            quarantined.append(q)

    def _check_schemas(
        self,
        files: Sequence[Path],
        quarantined: list[QuarantinedFile],
        metadata: list[pq.FileMetaData] | None = None,
    ) -> tuple[list[Path], list[pa.Schema]]:
        """The files whose footer reads and that are response files, with their schemas
        (and, into ``metadata`` when given, their footers); the others are quarantined. A
        vanished file raises FileNotFoundError."""
        good: list[Path] = []
        schemas: list[pa.Schema] = []
        for f in files:
            footer = None
            try:
                if metadata is None:
                    schema = pq.read_schema(f)
                else:
                    with pq.ParquetFile(f) as parquet:
                        schema, footer = parquet.schema_arrow, parquet.metadata
            except FileNotFoundError:
                raise
            except (pa.ArrowException, OSError) as exc:
                self._quarantine_into(quarantined, f, f"not a readable Parquet file ({exc})")
                continue
            problem = _check_response_schema(schema)
            if problem:
                self._quarantine_into(quarantined, f, problem)
                continue
            good.append(f)
            schemas.append(schema)
            if metadata is not None and footer is not None:
                metadata.append(footer)
        return good, schemas

    def _read_small(
        self,
        files: Sequence[Path],
        quarantined: list[QuarantinedFile],
        keep: Sequence[str] | None = None,
    ) -> list[pa.Table]:
        """Read one-row files in chunks, each chunk as one table (many 1-row tables would cost
        far more memory than their rows). A chunk is read with DuckDB and accepted when it
        holds exactly one row per file whose ``response_id`` is the file's name; otherwise
        the files are read one by one and the bad ones quarantined."""
        chunks: list[pa.Table] = []
        for start in range(0, len(files), _SMALL_CHUNK):
            part = files[start : start + _SMALL_CHUNK]
            table = _read_chunk_duckdb(part, keep)
            if table is None:
                table = self._read_one_by_one(part, quarantined)
            if table is not None:
                chunks.append(table)
        return chunks

    def _read_one_by_one(
        self, files: Sequence[Path], quarantined: list[QuarantinedFile]
    ) -> pa.Table | None:
        tables: list[pa.Table] = []
        for f in files:
            try:
                with open(f, "rb") as fh:
                    data = fh.read()
                table = pq.ParquetFile(pa.BufferReader(data)).read(use_threads=False)
            except FileNotFoundError:
                raise
            except (pa.ArrowException, OSError) as exc:
                self._quarantine_into(quarantined, f, f"not a readable Parquet file ({exc})")
                continue
            problem = _check_response_schema(table.schema)
            if problem is None and (
                table.num_rows != 1 or table.column("response_id")[0].as_py() != f.stem
            ):
                problem = "a response file holds one row whose response_id is the file's name"
            if problem:
                self._quarantine_into(quarantined, f, problem)
                continue
            tables.append(table)
        return _concat(tables) if tables else None

    def _read_compacted(
        self,
        files: list[Path],
        schema: pa.Schema,
        wanted: list[str],
        quarantined: list[QuarantinedFile],
    ) -> pa.Table | None:
        """Read compacted files with one multi-threaded scan; a file whose data turns out
        unreadable is quarantined and the scan repeated without it."""
        while files:
            dataset = ds.dataset([str(f) for f in files], schema=schema, format="parquet")
            try:
                return dataset.to_table(columns=wanted)
            except FileNotFoundError:
                raise
            except (pa.ArrowException, OSError) as exc:
                bad = None
                for f in files:
                    try:
                        pq.read_table(f)
                    except FileNotFoundError:
                        raise
                    except (pa.ArrowException, OSError) as err:
                        bad = (f, f"its data cannot be read ({err})")
                        break
                if bad is None:
                    raise StoreError(f"could not read the responses: {exc}") from exc
                self._quarantine_into(quarantined, *bad)
                files = [f for f in files if f != bad[0]]
        return None

    def _read_files(
        self,
        found: _Files,
        columns: Sequence[str] | None,
        quarantined: list[QuarantinedFile],
        narrow_integers: bool = False,
    ) -> pa.Table:
        """Read compacted and small files into one table with a unified schema (its integer
        columns narrowed when ``narrow_integers``: see :func:`_narrowed`)."""
        footers: list[pq.FileMetaData] | None = [] if narrow_integers else None
        compacted, schemas = self._check_schemas(found.compacted, quarantined, footers)
        chunks = self._read_small(found.small, quarantined, columns)
        all_schemas = schemas + [c.schema for c in chunks]
        schema = _unify(all_schemas) if all_schemas else pa.schema(list(META_COLUMNS.items()))
        wanted = self._columns(schema, columns)
        if footers is not None:
            schema = _narrowed(schema, wanted, footers, chunks)
        parts: list[pa.Table] = []
        if compacted:
            table = self._read_compacted(compacted, schema, wanted, quarantined)
            if table is not None:
                parts.append(table)
        parts.extend(_conform(c, schema, wanted) for c in chunks)
        if not parts:
            return pa.schema([schema.field(n) for n in wanted]).empty_table()
        return pa.concat_tables(parts) if len(parts) > 1 else parts[0]

    def _collect(
        self, questionnaire_id: str, version: str | None, quarantined: list[QuarantinedFile]
    ) -> _Files:
        """Every published file of the questionnaire; oddly named ones are quarantined."""
        out = _Files()
        for partition in self._partitions(questionnaire_id, version):
            found = self._files_in(partition)
            for foreign in found.foreign:
                self._quarantine_into(
                    quarantined,
                    foreign,
                    "unexpected file name: the store only reads <response_id>.parquet and "
                    "compacted-<hex>.parquet files it wrote itself",
                )
            out.compacted.extend(found.compacted)
            out.small.extend(found.small)
        return out

    @staticmethod
    def _columns(schema: pa.Schema, columns: Sequence[str] | None) -> list[str]:
        if columns is None:
            return list(schema.names)
        unknown = [c for c in columns if c not in schema.names]
        if unknown:
            raise ResponseError(
                f"unknown column(s) {', '.join(map(repr, unknown))}: the stored responses have "
                f"{', '.join(schema.names)}."
            )
        wanted = list(dict.fromkeys(columns))
        if "response_id" not in wanted:
            wanted.insert(0, "response_id")
        if "submitted_at" not in wanted:
            wanted.append("submitted_at")
        return wanted

    def read_table(
        self,
        questionnaire_id: str,
        *,
        version: str | None = None,
        columns: Sequence[str] | None = None,
        narrow_integers: bool = False,
    ) -> ReadResult:
        """All responses of a questionnaire as an Arrow table, one row per response id.

        Parameters
        ----------
        questionnaire_id
            Which questionnaire.
        version
            One version only; default all, with columns unified across versions (a column a
            version does not have is null in its rows; int and float widen to float).
        columns
            Only these columns (``response_id`` is always included).
        narrow_integers
            Read each ``int64`` column as the narrowest of ``int8``, ``int16``, ``int32``
            that holds every stored value (known before reading from the Parquet files'
            statistics; a column without statistics stays ``int64``). Answer codes then
            take an eighth of the memory, and the read is faster.

        Returns
        -------
        ReadResult
            ``table``, the files ``quarantined`` on the way, and ``duplicates_dropped``.

        Notes
        -----
        A file that cannot be read, or that is not a response file, is moved to
        ``quarantine/`` with a reason file, a :class:`StoreWarning` is issued, and reading goes
        on with the rest. Duplicate rows of one response id (a crash mid-compaction, a retry
        after compaction) are removed, keeping the earliest ``submitted_at``.
        """
        quarantined: list[QuarantinedFile] = []
        table: pa.Table | None = None
        for _attempt in range(5):
            try:
                found = self._collect(questionnaire_id, version, quarantined)
                table = self._read_files(found, columns, quarantined, narrow_integers)
                break
            except FileNotFoundError:  # compaction or deletion removed a file: list again
                continue
        if table is None:
            with self._lock():
                found = self._collect(questionnaire_id, version, quarantined)
                table = self._read_files(found, columns, quarantined, narrow_integers)
        kept, dropped = _dedupe(table)
        if columns is not None:
            kept = kept.select(list(dict.fromkeys(["response_id", *columns])))
        for q in quarantined:
            warnings.warn(
                f"{q.original} could not be read ({q.reason}); it was moved to {q.moved_to} "
                "and the other responses were read.",
                StoreWarning,
                stacklevel=2,
            )
        return ReadResult(kept, tuple(quarantined), dropped.num_rows)

    def read(
        self,
        questionnaire_id: str,
        *,
        version: str | None = None,
        columns: Sequence[str] | None = None,
        dtype_backend: DtypeBackend = "numpy_nullable",
        narrow_integers: bool = False,
    ) -> pd.DataFrame:
        """All responses of a questionnaire as a DataFrame, one row per response id.

        Like :meth:`read_table`; integer columns become pandas ``Int64`` (missing = ``<NA>``)
        with ``dtype_backend="numpy_nullable"`` (default), or Arrow-backed columns with
        ``"pyarrow"`` (fastest, no copy). With ``narrow_integers=True`` they are ``Int8``,
        ``Int16`` or ``Int32`` when every stored value fits (see :meth:`read_table`): answer
        codes then take an eighth of the memory, and scoring them is faster. Files
        quarantined on the way are listed in ``frame.attrs["quarantined"]`` (and warned
        about).
        """
        if dtype_backend not in ("numpy_nullable", "pyarrow"):
            raise ResponseError(
                f"dtype_backend must be 'numpy_nullable' or 'pyarrow'; got {dtype_backend!r}."
            )
        result = self.read_table(
            questionnaire_id, version=version, columns=columns, narrow_integers=narrow_integers
        )
        frame = _to_pandas(result.table, dtype_backend)
        frame.attrs["quarantined"] = list(result.quarantined)
        return frame

    def iter_batches(
        self,
        questionnaire_id: str,
        *,
        version: str | None = None,
        columns: Sequence[str] | None = None,
        batch_size: int = 65536,
    ) -> Iterator[pa.RecordBatch]:
        """Responses in Arrow record batches, for reads too large for memory.

        All batches share one schema (unified across versions); each response id appears once
        (the first copy met). The maintenance lock is held until the iterator is exhausted or
        closed, so compaction and deletion wait; submissions go on.
        """
        quarantined: list[QuarantinedFile] = []
        with self._lock():
            found = self._collect(questionnaire_id, version, quarantined)
            files, schemas = self._check_schemas(found.all, quarantined)
            for q in quarantined:
                warnings.warn(
                    f"{q.original} could not be read ({q.reason}); it was moved to {q.moved_to}.",
                    StoreWarning,
                    stacklevel=2,
                )
            if not files:
                return
            schema = _unify(schemas)
            wanted = self._columns(schema, columns)
            dataset = ds.dataset([str(f) for f in files], schema=schema, format="parquet")
            seen: set[str] = set()
            # One thread, one batch ahead: with the default threaded scan, Arrow reads on
            # ahead of a consumer slower than the disk (scoring, writing an export) and holds
            # what it read, so memory grew with the rows instead of staying one batch.
            batches = dataset.to_batches(
                columns=wanted,
                batch_size=batch_size,
                use_threads=False,
                batch_readahead=1,
                fragment_readahead=1,
            )
            for batch in batches:
                ids = batch.column("response_id").to_pylist()
                mask = []
                for rid in ids:
                    mask.append(rid not in seen)
                    seen.add(rid)
                if not all(mask):
                    batch = batch.filter(pa.array(mask))
                if batch.num_rows:
                    yield batch

    def uncompacted_files(self, questionnaire_id: str, *, version: str | None = None) -> int:
        """How many one-response files wait for compaction (cheap: a directory listing).

        Reading costs about a millisecond or two per such file, against microseconds per row
        once compacted: compact when this grows (e.g. past a few thousand).
        """
        return sum(
            len(self._files_in(p).small) for p in self._partitions(questionnaire_id, version)
        )

    def count(self, questionnaire_id: str, *, version: str | None = None) -> int:
        """Number of distinct responses stored for a questionnaire (or one version)."""
        return self.read_table(
            questionnaire_id, version=version, columns=["response_id"]
        ).table.num_rows

    # -- compaction -------------------------------------------------------------------------

    def compact(
        self, questionnaire_id: str, *, version: str | None = None, actor: str = "system"
    ) -> CompactionResult:
        """Merge each partition's small files into one compacted file, crash-safely.

        In each ``province=`` folder: the small files and the compacted files smaller than
        ``target_rows`` are read, duplicate response ids dropped (also ids already in the
        larger compacted files), and the rows written to a temporary file (zstd, row groups
        of ``row_group_size``), fsync'ed, renamed to ``compacted-<hex>.parquet`` and the
        folder fsync'ed; only then are the merged files removed. A crash at any step loses
        nothing: at worst rows exist twice until the next compaction, and reads drop
        duplicates. Temporary files older than ``temp_max_age`` (left by crashes) are removed.
        Runs under the maintenance lock; recorded in the audit log.
        """
        check_questionnaire_id(questionnaire_id)
        start = time.perf_counter()
        totals = {"partitions": 0, "merged": 0, "written": 0, "rows": 0, "dups": 0}
        quarantined: list[QuarantinedFile] = []
        conflicts: list[str] = []
        with self._lock():
            for partition in self._partitions(questionnaire_id, version):
                self._sweep_temp(partition)
                for attempt in range(3):
                    try:
                        done = self._compact_partition(partition, quarantined, conflicts)
                        break
                    except FileNotFoundError:  # a concurrent read quarantined a file
                        if attempt == 2:
                            raise
                if done is None:
                    continue
                totals["partitions"] += 1
                for key, value in done.items():
                    totals[key] += value
        result = CompactionResult(
            questionnaire_id,
            totals["partitions"],
            totals["merged"],
            totals["written"],
            totals["rows"],
            totals["dups"],
            len(conflicts),
            time.perf_counter() - start,
            tuple(quarantined),
        )
        for q in quarantined:
            warnings.warn(
                f"{q.original} could not be read ({q.reason}); it was moved to {q.moved_to}.",
                StoreWarning,
                stacklevel=2,
            )
        for rid in conflicts:
            warnings.warn(
                f"response {rid} was stored twice with different answers; the first stored "
                "copy was kept.",
                StoreWarning,
                stacklevel=2,
            )
        if result.files_merged:
            self.state.append_audit(
                "compact",
                actor=actor,
                target=questionnaire_id,
                details={
                    "version": version,
                    "partitions": result.partitions,
                    "files_merged": result.files_merged,
                    "files_written": result.files_written,
                    "rows": result.rows,
                    "duplicates_dropped": result.duplicates_dropped,
                    "conflicts": result.conflicts,
                    "quarantined": [str(q.original) for q in quarantined],
                },
            )
        return result

    def publish_bulk(self, table: pa.Table, *, actor: str = "system") -> BulkPublishResult:
        """Publish many already-validated responses at once as compacted files.

        For loading data in bulk (simulated data for demos and benchmarks, a migration from
        another system): the rows go straight into ``compacted-<hex>.parquet`` files, one per
        province partition, exactly as :meth:`compact` would have written them, without one
        small file per response.

        Parameters
        ----------
        table
            One row per response, all of one questionnaire version: the fixed columns
            (:data:`responses.record.META_COLUMNS`, with their types) followed by the answer
            columns (``int64``, ``float64`` or ``string``), as
            :meth:`ResponseRecord.to_table <responses.record.ResponseRecord.to_table>` makes
            them. The store's ``validator`` is **not** called: check the answers first (e.g.
            :func:`responses.validation.to_columns` builds valid rows).
        actor
            Who loaded the data (recorded in the audit log).

        Returns
        -------
        BulkPublishResult
            Partitions, files written, rows, and the files' paths.

        Raises
        ------
        ResponseError
            The table is not a response table (a fixed column missing or of another type),
            mixes questionnaires or versions, has a malformed or repeated response id, a bad
            province code, or a response id that is already stored or was deleted on request.
            Nothing was written.
        StoreError
            A file could not be written (disk full ...); nothing was published.

        Notes
        -----
        Under the maintenance lock, every partition's file is written to a temporary name
        (zstd, row groups of ``row_group_size``) and fsync'ed before the first is renamed to
        its final name, then the folders are fsync'ed: a failure while writing publishes
        nothing. Each rename is atomic, so a reader sees a partition's rows all or not at all;
        only a crash between the renames (microseconds apart) can leave some partitions
        published, and a second call then refuses the ids already stored, which says so.
        """
        start = time.perf_counter()
        if not isinstance(table, pa.Table):
            raise ResponseError(
                f"publish_bulk() takes a pyarrow Table; got {type(table).__name__}."
            )
        if not isinstance(actor, str) or not actor.strip():
            raise ResponseError("publish_bulk: give the actor (who loads the data).")
        problems: list[str] = []
        for name, type_ in META_COLUMNS.items():
            if name not in table.column_names:
                problems.append(f"fixed column '{name}' is missing")
            elif table.schema.field(name).type != type_:
                problems.append(
                    f"fixed column '{name}' is {table.schema.field(name).type}, not {type_}"
                )
        if problems:
            raise ResponseError(
                [f"publish_bulk: {p}; build rows like ResponseRecord.to_table()." for p in problems]
            )
        if table.num_rows == 0:
            raise ResponseError("publish_bulk: the table has no rows; there is nothing to publish.")
        for name in _REQUIRED:
            if table.column(name).null_count:
                raise ResponseError(f"publish_bulk: column '{name}' has missing values.")
        keys = {
            name: pc.unique(table.column(name)).to_pylist()
            for name in ("questionnaire_id", "questionnaire_version")
        }
        for name, values in keys.items():
            if len(values) != 1:
                raise ResponseError(
                    f"publish_bulk: the table mixes {len(values)} values of '{name}' "
                    f"({', '.join(map(str, values[:5]))}); publish each questionnaire version "
                    "separately."
                )
        qid = check_questionnaire_id(keys["questionnaire_id"][0])
        version = check_version(keys["questionnaire_version"][0])
        ids = table.column("response_id")
        well_formed = pc.match_substring_regex(ids, r"^[A-Za-z0-9_-]{22}$")
        if not pc.all(well_formed).as_py():
            bad = ids.filter(pc.invert(well_formed))[0].as_py()
            check_response_id(bad)
        if _may_have_duplicates(ids):
            counts = pc.value_counts(ids)
            repeated = counts.filter(pc.greater(counts.field("counts"), 1))[0]["values"]
            raise ResponseError(
                f"publish_bulk: response id {repeated.as_py()} appears more than once in the "
                "table; every response needs its own id."
            )
        province = table.column("province")
        valid = pc.or_kleene(
            pc.is_null(province),
            pc.and_(pc.greater_equal(province, 10), pc.less_equal(province, 99)),
        )
        if not pc.all(valid).as_py():
            check_province(int(province.filter(pc.invert(valid))[0].as_py()))
        with self._lock():
            quarantined: list[QuarantinedFile] = []
            found = self._collect(qid, None, quarantined)
            stored = self._read_files(found, ["response_id"], quarantined).column("response_id")
            deleted = self._tombstoned_ids()
            for what, known in (("already stored", stored), ("deleted on request", deleted)):
                if len(known):
                    clash = pc.is_in(ids, value_set=pa.chunked_array(known).combine_chunks())
                    if pc.any(clash).as_py():
                        first = ids.filter(clash)[0].as_py()
                        raise ResponseError(
                            f"publish_bulk: response {first} is {what} "
                            f"({pc.sum(clash).as_py()} of the table's ids are); nothing was "
                            "written. Give new response ids."
                        )
            codes = pc.fill_null(province, -1)
            order = pc.sort_indices(codes)
            ordered = table.take(order)
            sorted_codes = codes.take(order).to_numpy()
            bounds = np.flatnonzero(np.diff(sorted_codes)) + 1
            starts = [0, *bounds.tolist()]
            ends = [*bounds.tolist(), len(sorted_codes)]
            pending: list[tuple[Path, Path, Path]] = []
            try:
                for lo, hi in zip(starts, ends, strict=True):
                    code = int(sorted_codes[lo])
                    partition = self._partition_dir(qid, version, None if code < 0 else code)
                    _ensure_dir(partition)
                    temp = partition / f".bulk-{uuid.uuid4().hex}{TEMP_SUFFIX}"
                    final = partition / f"compacted-{uuid.uuid4().hex}.parquet"
                    pending.append((partition, temp, final))
                    _write_durably(
                        temp,
                        ordered.slice(lo, hi - lo),
                        buffered=False,
                        compression="zstd",
                        row_group_size=self.row_group_size,
                    )
                _step("bulk:written")
                for _, temp, final in pending:
                    os.rename(temp, final)
                for partition in dict.fromkeys(p for p, _, _ in pending):
                    _fsync_dir(partition)
            except OSError as exc:
                for _, temp, _ in pending:
                    with contextlib.suppress(OSError):
                        os.unlink(temp)
                raise StoreError(
                    f"could not publish the responses: {_os_problem(exc, self.responses_dir)}; "
                    "nothing was published; try again."
                ) from exc
            result = BulkPublishResult(
                qid,
                version,
                len(pending),
                len(pending),
                table.num_rows,
                time.perf_counter() - start,
                tuple(final for _, _, final in pending),
            )
            self.state.append_audit(
                "bulk_publish",
                actor=actor,
                target=qid,
                details={"version": version, "partitions": result.partitions, "rows": result.rows},
            )
        return result

    def _tombstoned_ids(self) -> list[str]:
        try:
            with os.scandir(self.root / TOMBSTONE_DIR) as it:
                return [e.name for e in it if SMALL_RE.fullmatch(e.name + ".parquet")]
        except FileNotFoundError:
            return []

    def _sweep_temp(self, partition: Path) -> None:
        cutoff = time.time() - self.temp_max_age
        with os.scandir(partition) as it:
            for e in it:
                if e.name.startswith(".") and e.name.endswith(TEMP_SUFFIX):
                    with contextlib.suppress(FileNotFoundError):
                        if e.stat().st_mtime < cutoff:
                            os.unlink(e.path)

    def _compact_partition(
        self, partition: Path, quarantined: list[QuarantinedFile], conflicts: list[str]
    ) -> dict[str, int] | None:
        found = self._files_in(partition)
        for foreign in found.foreign:
            self._quarantine_into(quarantined, foreign, "unexpected file name in the data folder")
        big: list[Path] = []
        small_compacted: list[Path] = []
        for f in found.compacted:
            try:
                rows = pq.read_metadata(f).num_rows
            except (pa.ArrowException, OSError) as exc:
                self._quarantine_into(quarantined, f, f"not a readable Parquet file ({exc})")
                continue
            (big if rows >= self.target_rows else small_compacted).append(f)
        if not found.small and len(small_compacted) < 2:
            return None
        merge = _Files(compacted=small_compacted, small=found.small)
        combined = self._read_files(merge, None, quarantined)
        kept, dropped = _dedupe(combined)
        conflicts.extend(self._count_conflicts(kept, dropped))
        if big and kept.num_rows:
            known = pa.chunked_array(
                [pq.read_table(f, columns=["response_id"]).column(0) for f in big]
            ).combine_chunks()
            already = pc.is_in(kept.column("response_id"), value_set=known)
            if pc.any(already).as_py():
                dropped_known = kept.filter(already)
                conflicts.extend(self._count_conflicts_against(dropped_known, big))
                dropped = _concat([dropped, dropped_known])
                kept = kept.filter(pc.invert(already))
        written = 0
        if kept.num_rows:
            temp = partition / f".compact-{uuid.uuid4().hex}{TEMP_SUFFIX}"
            final = partition / f"compacted-{uuid.uuid4().hex}.parquet"
            try:
                _write_durably(
                    temp,
                    kept,
                    buffered=False,
                    compression="zstd",
                    row_group_size=self.row_group_size,
                )
                _step("compact:written")
                os.rename(temp, final)
                _fsync_dir(partition)
                _step("compact:published")
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise StoreError(
                    f"could not compact {partition.relative_to(self.root)}: "
                    f"{_os_problem(exc, partition)}; nothing was changed; try again."
                ) from exc
            written = 1
        merged = 0
        for f in merge.all:
            with contextlib.suppress(FileNotFoundError):  # quarantined on the way
                os.unlink(f)
                merged += 1
                _step("compact:removed")
        _fsync_dir(partition)
        return {
            "merged": merged,
            "written": written,
            "rows": kept.num_rows,
            "dups": dropped.num_rows,
        }

    def _count_conflicts(self, kept: pa.Table, dropped: pa.Table) -> list[str]:
        """Ids of dropped duplicates whose answers differ from the copy kept."""
        if not dropped.num_rows:
            return []
        dropped_ids = set(dropped.column("response_id").to_pylist())
        mask = pc.is_in(kept.column("response_id"), value_set=pa.array(sorted(dropped_ids)))
        first = {r["response_id"]: content_fingerprint(r) for r in kept.filter(mask).to_pylist()}
        return self._warn_conflicts(first, dropped)

    def _count_conflicts_against(self, dropped: pa.Table, big: Sequence[Path]) -> list[str]:
        ids = pa.array(sorted(set(dropped.column("response_id").to_pylist())))
        first: dict[str, str] = {}
        for f in big:
            t = pq.read_table(f)
            for r in t.filter(pc.is_in(t.column("response_id"), value_set=ids)).to_pylist():
                first.setdefault(r["response_id"], content_fingerprint(r))
        return self._warn_conflicts(first, dropped)

    @staticmethod
    def _warn_conflicts(first: dict[str, str], dropped: pa.Table) -> list[str]:
        return [
            row["response_id"]
            for row in dropped.to_pylist()
            if row["response_id"] in first and content_fingerprint(row) != first[row["response_id"]]
        ]

    # -- delete -----------------------------------------------------------------------------

    def delete(self, response_id: str, *, reason: str, actor: str) -> DeleteResult:
        """Remove a response everywhere it is stored, on request; recorded in the audit log.

        The small file is removed, and every compacted file holding the row is rewritten
        without it (temporary file, fsync, atomic replace). Its drafts and linked contact
        details are removed, quarantined copies named after it too, and a tombstone keeps a
        late retry of the same submission from storing it again.

        Parameters
        ----------
        response_id
            The response to remove.
        reason
            Why (kept in the audit log; do not put personal data in it).
        actor
            Who asked for or carried out the removal.

        Raises
        ------
        StoreError
            A file could not be rewritten (disk full ...); files already handled stay
            handled, the rest is unchanged, and running the deletion again finishes it.
        """
        check_response_id(response_id)
        if not isinstance(reason, str) or not reason.strip():
            raise ResponseError("delete: give a reason (e.g. 'respondent asked for removal').")
        if not isinstance(actor, str) or not actor.strip():
            raise ResponseError("delete: give the actor (who asked for or made the removal).")
        with self._lock():
            self._write_tombstone(response_id)
            removed, rewritten = self._remove_everywhere({response_id})
            drafts = self.state.delete_drafts(response_id=response_id)
            contacts = self.state.delete_contacts(response_id=response_id)
            result = DeleteResult(
                response_id, bool(removed or rewritten), removed, rewritten, drafts, contacts
            )
            self.state.append_audit(
                "delete",
                actor=actor,
                target=response_id,
                details={
                    "reason": reason.strip(),
                    "found": result.found,
                    "files_removed": removed,
                    "files_rewritten": rewritten,
                    "drafts_removed": drafts,
                    "contacts_removed": contacts,
                },
            )
            checkpoint = getattr(self.state, "checkpoint", None)
            if checkpoint is not None:
                checkpoint()  # no copy of the removed rows left in the state's log
        return result

    def _all_partitions(self) -> list[Path]:
        """Partition folders of responses/ and of the copies a restore left in the data
        folder (``pre-restore-*/responses``, an interrupted restore's ``.restore-*``)."""
        bases = [self.responses_dir]
        for pattern in _RESPONSE_COPIES:
            bases.extend(sorted(p / RESPONSES_DIR for p in self.root.glob(pattern)))
        out: list[Path] = []
        for base in bases:
            for qdir in self._subdirs(base, QUESTIONNAIRE_ID_RE):
                for vdir in self._subdirs(qdir, VERSION_RE):
                    out.extend(self._subdirs(vdir, PARTITION_RE))
        return out

    def _remove_everywhere(self, response_ids: set[str]) -> tuple[int, int]:
        """Remove these responses from every file (small, compacted, quarantined, and the
        copies kept by a restore); return the numbers of files removed and rewritten. Call
        under the maintenance lock."""
        removed = rewritten = 0
        for partition in self._all_partitions():
            found = self._files_in(partition)
            for small in found.small:
                if small.stem in response_ids:
                    os.unlink(small)
                    removed += 1
            for path in found.compacted:
                outcome = self._remove_rows(path, response_ids)
                removed += outcome == "removed"
                rewritten += outcome == "rewritten"
            _fsync_dir(partition)
        qdir = self.root / QUARANTINE_DIR
        if qdir.is_dir():
            for p in qdir.iterdir():
                if any(rid in p.name for rid in response_ids):
                    p.unlink()
                    removed += 1
        return removed, rewritten

    def _write_tombstone(self, response_id: str) -> None:
        tomb_dir = self.root / TOMBSTONE_DIR
        try:
            _ensure_dir(tomb_dir)
            with open(tomb_dir / response_id, "w", encoding="utf-8") as f:
                f.write(dt.datetime.now(dt.UTC).isoformat() + "\n")
                f.flush()
                os.fsync(f.fileno())
            _fsync_dir(tomb_dir)
        except OSError as exc:
            raise StoreError(
                f"could not delete response {response_id}: {_os_problem(exc, tomb_dir)}; "
                "nothing was changed; try again."
            ) from exc

    def _remove_rows(
        self, path: Path, response_ids: set[str]
    ) -> Literal["absent", "removed", "rewritten"]:
        """Rewrite a compacted file without some responses (atomically), or remove the file
        if nothing else is left in it."""
        value_set = pa.array(sorted(response_ids), type=pa.string())
        try:
            ids = pq.read_table(path, columns=["response_id"]).column(0)
        except (pa.ArrowException, OSError):
            return "absent"  # unreadable: the next read quarantines it
        if not pc.any(pc.is_in(ids, value_set=value_set)).as_py():
            return "absent"
        table = pq.read_table(path)
        rest = table.filter(pc.invert(pc.is_in(table.column("response_id"), value_set=value_set)))
        if not rest.num_rows:
            os.unlink(path)
            return "removed"
        temp = path.parent / f".rewrite-{uuid.uuid4().hex}{TEMP_SUFFIX}"
        try:
            _write_durably(
                temp,
                rest,
                buffered=False,
                compression="zstd",
                row_group_size=self.row_group_size,
            )
            os.replace(temp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise StoreError(
                f"could not delete response {', '.join(sorted(response_ids))} from "
                f"{path.relative_to(self.root)}: {_os_problem(exc, path.parent)}; "
                "that file was not changed; try again."
            ) from exc
        return "rewritten"

    # -- backup and restore -----------------------------------------------------------------

    def _published_files(self) -> list[Path]:
        files: list[Path] = []
        for qid in self.list_questionnaires():
            for partition in self._partitions(qid, None):
                files.extend(self._files_in(partition).all)
        return files

    def backup(
        self, dest: PathLike, *, actor: str = "system", hardlink: bool = False
    ) -> BackupResult:
        """Copy the data folder consistently to ``dest`` while submissions go on.

        Under the maintenance lock (so no compaction or deletion removes a file mid-copy) the
        published Parquet files are listed and copied (or hard-linked: they are never changed
        in place), the tombstones copied, and the state database copied with SQLite's online
        backup. ``manifest.json`` (written last) lists every file with its size, SHA-256 and
        row count. Submissions arriving during the backup are not in it.

        Parameters
        ----------
        dest
            A folder that does not exist yet or is empty.
        hardlink
            Link instead of copy (same file system only; fast, no extra space).
        """
        out = _folder_argument(dest, "backup destination")
        try:
            if out.exists() and (not out.is_dir() or any(out.iterdir())):
                raise StoreError(f"backup destination {out} is not empty: choose a new folder.")
            real, root = out.resolve(), self.root.resolve()  # through symbolic links too
        except OSError as exc:
            raise StoreError(
                f"backup destination {out} cannot be used: {_os_problem(exc, out)}."
            ) from None
        if real == root or real.is_relative_to(root):
            raise StoreError(f"backup destination {out} is inside the data folder: choose another.")
        entries: list[dict[str, Any]] = []
        skipped: list[Path] = []
        with self._lock():
            try:
                _ensure_dir(out)
                for f in self._published_files():
                    rel = f.relative_to(self.root)
                    try:
                        digest = _copy_durably(f, out / rel, hardlink=hardlink)
                    except FileNotFoundError:
                        continue  # quarantined by a concurrent read
                    try:
                        rows = pq.read_metadata(out / rel).num_rows
                    except pa.ArrowException:
                        (out / rel).unlink()
                        skipped.append(rel)
                        continue
                    entries.append(
                        {
                            "path": rel.as_posix(),
                            "bytes": (out / rel).stat().st_size,
                            "sha256": digest,
                            "rows": rows,
                        }
                    )
                tomb = self.root / TOMBSTONE_DIR
                tombstones = sorted(p.name for p in tomb.iterdir()) if tomb.is_dir() else []
                for name in tombstones:
                    _copy_durably(tomb / name, out / TOMBSTONE_DIR / name, hardlink=False)
                self.state.backup_to(out / STATE_FILE)
                state_digest = _sha256_file(out / STATE_FILE)
                for d in {(out / e["path"]).parent for e in entries}:
                    _fsync_dir(d)
                checksum = _manifest_checksum(entries)
                manifest = {
                    "format": 1,
                    "created_at": dt.datetime.now(dt.UTC).isoformat(),
                    "source": str(self.root),
                    "files": entries,
                    "rows": sum(e["rows"] for e in entries),
                    "tombstones": tombstones,
                    "state": {"path": STATE_FILE, "sha256": state_digest},
                    "checksum": checksum,
                }
                temp = out / f".{MANIFEST}{TEMP_SUFFIX}"
                with open(temp, "w", encoding="utf-8") as fh:
                    json.dump(manifest, fh, indent=1)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.rename(temp, out / MANIFEST)
                _fsync_dir(out)
            except OSError as exc:
                raise StoreError(
                    f"backup to {out} failed: {_os_problem(exc, out)}. The data folder was not "
                    "changed; remove the incomplete backup folder and try again."
                ) from exc
            result = BackupResult(
                out, len(entries), manifest["rows"], sum(e["bytes"] for e in entries), checksum
            )
            self.state.append_audit(
                "backup",
                actor=actor,
                target=str(out),
                details={"files": result.files, "rows": result.rows, "checksum": checksum},
            )
        for rel in skipped:
            warnings.warn(
                f"{rel} is not readable Parquet and was left out of the backup "
                "(the next read moves it to quarantine/).",
                StoreWarning,
                stacklevel=2,
            )
        return result

    def restore(self, src: PathLike, *, actor: str = "system") -> RestoreResult:
        """Replace the data with a backup made by :meth:`backup`, after checking it.

        Every file is checked against the manifest (size, SHA-256, rows) before anything is
        changed; a damaged or incomplete backup is refused. The responses are copied into a
        staging folder, then swapped in; the replaced data is kept in
        ``pre-restore-<time>/`` under the data folder (delete it when satisfied). The state
        database is restored with SQLite's backup API; the audit log keeps its newer entries.
        Deletions on request made since the backup stay in force: their tombstones are kept
        and the responses removed again (with their drafts and contact details).
        Stop the app while restoring: a submission made during the swap lands in the
        replaced data.
        """
        source = _folder_argument(src, "backup folder")
        manifest = self._check_backup(source)
        checksum = manifest["checksum"]
        stamp = _utcstamp()
        staging = self.root / f".restore-{stamp}"
        previous = self.root / f"pre-restore-{stamp}"
        with self._lock():
            try:
                _ensure_dir(staging)
                for e in manifest["files"]:
                    digest = _copy_durably(source / e["path"], staging / e["path"], hardlink=False)
                    if digest != e["sha256"]:
                        raise StoreError(
                            f"restore: {e['path']} changed while it was copied; nothing was "
                            "changed; try again."
                        )
                # Deletions on request outlive a restore: tombstones made since the backup are
                # kept, and the responses they name removed again from the restored data.
                current = self.root / TOMBSTONE_DIR
                tombstones = set(manifest["tombstones"])
                for name in manifest["tombstones"]:
                    _copy_durably(
                        source / TOMBSTONE_DIR / name,
                        staging / TOMBSTONE_DIR / name,
                        hardlink=False,
                    )
                if current.is_dir():
                    for p in current.iterdir():
                        if p.name not in tombstones:
                            _copy_durably(p, staging / TOMBSTONE_DIR / p.name, hardlink=False)
                            tombstones.add(p.name)
                for d in {(staging / e["path"]).parent for e in manifest["files"]}:
                    _fsync_dir(d)
                moved = False
                for name in (RESPONSES_DIR, TOMBSTONE_DIR):
                    if (self.root / name).exists():
                        _ensure_dir(previous)
                        os.rename(self.root / name, previous / name)
                        moved = True
                    if (staging / name).exists():
                        os.rename(staging / name, self.root / name)
                if moved:
                    _fsync_dir(previous)
                _fsync_dir(self.root)
                shutil.rmtree(staging, ignore_errors=True)
                reapplied = sum(self._remove_everywhere(tombstones))
            except OSError as exc:
                raise StoreError(
                    f"restore from {source} failed: {_os_problem(exc, self.root)}. Check "
                    f"{self.root} ({previous.name} holds the data that was there before)."
                ) from exc
            self.state.restore_from(source / manifest["state"]["path"])
            for rid in sorted(tombstones):
                self.state.delete_drafts(response_id=rid)
                self.state.delete_contacts(response_id=rid)
            rows = sum(e["rows"] for e in manifest["files"])
            result = RestoreResult(
                source,
                len(manifest["files"]),
                rows,
                checksum,
                previous if moved else None,
                reapplied,
            )
            self.state.append_audit(
                "restore",
                actor=actor,
                target=str(source),
                details={
                    "files": result.files,
                    "rows": rows,
                    "checksum": checksum,
                    "previous": str(result.previous) if result.previous else None,
                    "deletions_reapplied": reapplied,
                },
            )
        return result

    @staticmethod
    def _check_backup(source: Path) -> dict[str, Any]:
        path = source / MANIFEST
        try:
            with open(path, encoding="utf-8") as f:
                manifest: dict[str, Any] = json.load(f)
        except FileNotFoundError:
            raise StoreError(
                f"{source} is not a complete backup: it has no {MANIFEST} (a backup writes it "
                "last). Nothing was changed."
            ) from None
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StoreError(f"{path} cannot be read ({exc}); nothing was changed.") from None
        layout = _manifest_layout_problems(manifest)
        if layout:
            raise StoreError(
                f"{path} is not a manifest written by backup(); nothing was changed:\n- "
                + "\n- ".join(layout[:10])
            )
        problems: list[str] = []
        if _manifest_checksum(manifest.get("files", [])) != manifest.get("checksum"):
            problems.append("the manifest's checksum does not match its list of files")
        for e in manifest.get("files", []):
            p = source / e["path"]
            if ".." in Path(e["path"]).parts or not p.is_file():
                problems.append(f"{e['path']} is missing")
                continue
            try:
                if p.stat().st_size != e["bytes"] or _sha256_file(p) != e["sha256"]:
                    problems.append(f"{e['path']} does not match its checksum")
                    continue
            except OSError as exc:
                problems.append(f"{e['path']} cannot be read ({exc.strerror})")
                continue
            try:
                if pq.read_metadata(p).num_rows != e["rows"]:
                    problems.append(f"{e['path']} does not hold {e['rows']} rows")
            except (pa.ArrowException, OSError):
                problems.append(f"{e['path']} is not readable Parquet")
        if sum(e["rows"] for e in manifest.get("files", [])) != manifest.get("rows"):
            problems.append("the row count does not add up")
        state = source / manifest.get("state", {}).get("path", STATE_FILE)
        if not state.is_file() or _sha256_file(state) != manifest.get("state", {}).get("sha256"):
            problems.append(f"{state.name} is missing or does not match its checksum")
        for name in manifest.get("tombstones", []):
            if not (source / TOMBSTONE_DIR / name).is_file():
                problems.append(f"tombstone {name} is missing")
        if problems:
            raise StoreError(
                f"the backup {source} is damaged; nothing was changed:\n- " + "\n- ".join(problems)
            )
        return manifest


def _manifest_layout_problems(manifest: object) -> list[str]:
    """What makes a manifest unusable before any file is looked at: wrong types, and paths
    outside the store's layout (absolute, ``..``, NUL, another folder), which a restore would
    otherwise read from or write to."""
    if not isinstance(manifest, dict):
        return ["it is not a JSON object"]
    problems: list[str] = []
    files = manifest.get("files")
    if not isinstance(files, list):
        return ["'files' is not a list"]
    for e in files:
        if not isinstance(e, dict):
            problems.append(f"file entry {e!r} is not an object")
            continue
        path = e.get("path")
        if not isinstance(path, str) or not _BACKUP_FILE_RE.fullmatch(path):
            problems.append(
                f"file path {path!r} is not a response file of the store's layout "
                "(responses/<questionnaire>/<version>/province=<code>/<file>.parquet)"
            )
        for key in ("bytes", "rows"):
            value = e.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problems.append(f"{key} of {path!r} is not a whole number")
        if not isinstance(e.get("sha256"), str) or not _SHA256_RE.fullmatch(e["sha256"]):
            problems.append(f"sha256 of {path!r} is not 64 hex digits")
    tombstones = manifest.get("tombstones", [])
    if not isinstance(tombstones, list):
        problems.append("'tombstones' is not a list")
    else:
        problems.extend(
            f"tombstone {t!r} is not a response id"
            for t in tombstones
            if not isinstance(t, str) or not RESPONSE_ID_RE.fullmatch(t)
        )
    state = manifest.get("state")
    if not isinstance(state, dict) or state.get("path") != STATE_FILE:
        problems.append(f"'state' must name {STATE_FILE}")
    if isinstance(manifest.get("rows"), bool) or not isinstance(manifest.get("rows"), int):
        problems.append("'rows' is not a whole number")
    return problems


def _manifest_checksum(entries: Sequence[dict[str, Any]]) -> str:
    text = json.dumps(
        [[e["path"], e["bytes"], e["sha256"], e["rows"]] for e in entries], separators=(",", ":")
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _to_pandas(table: pa.Table, dtype_backend: DtypeBackend) -> pd.DataFrame:
    if dtype_backend == "pyarrow":
        return table.to_pandas(types_mapper=pd.ArrowDtype)
    mapping = {
        pa.int64(): pd.Int64Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int8(): pd.Int8Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }
    return table.to_pandas(types_mapper=mapping.get, split_blocks=True)
