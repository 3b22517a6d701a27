"""Submitting a response: the one call the app makes, plus quotas, invitations, save and resume.

:func:`submit_answers` checks everything before anything is written (nothing is stored when
the answers are invalid), builds the :class:`~responses.record.ResponseRecord`, refuses a
missing, unknown or used invitation and a full quota cell, writes through
:meth:`ParquetResponseStore.submit <responses.store.ParquetResponseStore.submit>` (idempotent
by response id; it also marks the invitation submitted and removes the draft), and keeps
contact details in the state database's contact store, never in the response files.

Quotas (``settings.quotas``) are counted from the store's files: a quota by province alone
counts file names and the ``response_id`` column of compacted files; any other quota one DuckDB
``count(DISTINCT response_id)`` over the partitions concerned, reading only the quota columns.
The check and the write happen under a per-questionnaire lock, so concurrent submissions never
overfill a cell.

Save and resume (:func:`save_progress`, :func:`resume`) sit on the state database's drafts.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from filelock import FileLock

from questionnaires.model import SPECIAL_CODES, Questionnaire
from responses.errors import InvitationError, Problem, QuotaFullError, ResponseError
from responses.overrides import with_overrides
from responses.record import (
    META_COLUMNS,
    ResponseRecord,
    check_response_id,
    classify_device,
    hash_token,
)
from responses.state import StateStore, normalize_resume_code
from responses.store import (
    COMPACTED_RE,
    LOCK_DIR,
    PARTITION_RE,
    SMALL_RE,
    ParquetResponseStore,
    SubmitReceipt,
)
from responses.validation import (
    MAX_SUBMISSION_BYTES,
    AnswerValue,
    _check_value,
    _payload_bytes,
    check_answers,
    encode_answers,
    language_of,
    message,
    split_contact,
)

__all__ = [
    "DRAFT_FORMAT",
    "DRAFT_SAVE_LIMIT",
    "SUBMIT_ATTEMPT_LIMIT",
    "SUBMIT_ATTEMPT_WINDOW",
    "Paradata",
    "Progress",
    "QuotaStatus",
    "claim_invitation",
    "count_completes",
    "quota_cell",
    "quota_status",
    "resume",
    "save_progress",
    "submit_answers",
]

#: Version of the draft layout written by :func:`save_progress`.
DRAFT_FORMAT: Final = 1
_ATTEMPT_WINDOW: Final = dt.timedelta(minutes=15)
#: Submission attempts allowed per browser session (``attempt_key``) and per invitation token
#: within :data:`SUBMIT_ATTEMPT_WINDOW`: a respondent submits once, plus a few retries after a
#: problem; a script hammering the endpoint from one session or with one token is refused.
SUBMIT_ATTEMPT_LIMIT: Final = 10
SUBMIT_ATTEMPT_WINDOW: Final = dt.timedelta(minutes=15)
#: Draft saves allowed per browser session within :data:`SUBMIT_ATTEMPT_WINDOW`: one every
#: 3 seconds on average, more than a respondent clicking "Next" through one question per page.
DRAFT_SAVE_LIMIT: Final = 300


def _refuse(rule: str, language: str, **values: object) -> ResponseError:
    lang = language_of(language)
    return ResponseError(Problem(None, rule, message(rule, lang, **values), language=lang))


# --- paradata ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paradata:
    """How the questionnaire was filled in (stored beside the answers, never compared on retry).

    Attributes
    ----------
    page_seconds
        Seconds spent on each page (section name -> seconds).
    duration_seconds
        Total time taken; when ``None`` it is derived from ``started_at`` and the submission
        time.
    user_agent
        The browser's ``User-Agent`` header. Only the device class derived from it
        (:func:`responses.record.classify_device`) is stored, never the header itself.
    option_order
        Question -> option (or matrix item) names in the order shown, where randomised.
    """

    page_seconds: Mapping[str, float] = field(default_factory=dict)
    duration_seconds: float | None = None
    user_agent: str | None = None
    option_order: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @property
    def device_class(self) -> str:
        """``phone``, ``tablet``, ``desktop``, ``bot`` or ``unknown``, from ``user_agent``."""
        return classify_device(self.user_agent)


# --- quotas ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaStatus:
    """Where a respondent stands against the questionnaire's quotas.

    Attributes
    ----------
    cell
        The respondent's quota cell: the stored codes of the ``by`` questions joined by ``|``
        (``"11|2"``); ``None`` when the questionnaire has no quotas or a ``by`` question is not
        (yet) answered with one of its options (skipped, or a special answer): no quota applies.
    target
        Planned completes of the cell (``None``: no target, never full).
    completes
        Responses stored in the cell (every version of the questionnaire).
    full
        ``completes >= target``: a new response in this cell is refused.
    """

    cell: str | None
    target: int | None
    completes: int
    full: bool


def _quota_codes(
    questionnaire: Questionnaire, answers: Mapping[str, object]
) -> dict[str, int] | None:
    quotas = questionnaire.settings.quotas
    if quotas is None:
        return None
    codes: dict[str, int] = {}
    for name in quotas.by:
        q = questionnaire.question(name)
        value, problems = _check_value(q, answers.get(name), "zh")
        if value is None or problems or not isinstance(value, str) or value in SPECIAL_CODES:
            return None
        codes[name] = q.option_codes()[value]
    return codes


def quota_cell(questionnaire: Questionnaire, answers: Mapping[str, object]) -> str | None:
    """The respondent's quota cell key (codes joined by ``|``), or ``None`` (see
    :class:`QuotaStatus`)."""
    codes = _quota_codes(questionnaire, answers)
    return None if codes is None else "|".join(str(c) for c in codes.values())


Cell = tuple[object, ...]
"""The stored codes of the quota columns of one response (``None`` where missing)."""

_CACHE_LOCK = threading.Lock()
#: (partition folder, quota columns) -> {small file name: cell}. Small files never change
#: (the name is the response id), so a file is read once; names that vanished (compaction,
#: deletion) are dropped at the next count.
_SMALL_CELLS: dict[tuple[str, tuple[str, ...]], dict[str, Cell]] = {}
#: (compacted file version, quota columns) -> {cell: response ids}. A compacted file is only
#: ever replaced (a new inode, size or time), never changed in place.
_COMPACTED_CELLS: OrderedDict[tuple[Any, ...], dict[Cell, frozenset[str]]] = OrderedDict()
_COMPACTED_CACHE_SIZE: Final = 64
_DUCKDB_CHUNK: Final = 2048
_duckdb_connection: duckdb.DuckDBPyConnection | None = None


def _duckdb() -> duckdb.DuckDBPyConnection:
    """A cursor on one shared in-memory DuckDB (opening a connection costs ~60 ms)."""
    global _duckdb_connection
    with _CACHE_LOCK:
        if _duckdb_connection is None:
            con = duckdb.connect()
            con.execute("SET enable_progress_bar = false")
            _duckdb_connection = con
        return _duckdb_connection.cursor()


def _listing(
    store: ParquetResponseStore, questionnaire_id: str, province: int | None
) -> list[tuple[Path, list[str], list[Path]]]:
    """(partition, small file names, compacted files) of every version, in one province's
    partition (or all)."""
    base = store.responses_dir / questionnaire_id
    wanted = None if province is None else f"province={province:02d}"
    out: list[tuple[Path, list[str], list[Path]]] = []
    try:
        versions = sorted(os.listdir(base))
    except FileNotFoundError:
        return out
    for version in versions:
        try:
            partitions = sorted(os.listdir(base / version))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for partition in partitions:
            if not PARTITION_RE.fullmatch(partition) or (wanted and partition != wanted):
                continue
            folder = base / version / partition
            try:
                names = os.listdir(folder)
            except (FileNotFoundError, NotADirectoryError):
                continue
            small = [n for n in names if SMALL_RE.fullmatch(n)]
            compacted = [folder / n for n in names if COMPACTED_RE.fullmatch(n)]
            out.append((folder, small, compacted))
    return out


def _read_cells(files: Sequence[Path], by: tuple[str, ...]) -> dict[str, Cell]:
    """File name -> the quota columns' values of its one row, read by DuckDB in chunks."""
    out: dict[str, Cell] = {}
    cursor = _duckdb()
    try:
        for start in range(0, len(files), _DUCKDB_CHUNK):
            chunk = [str(f) for f in files[start : start + _DUCKDB_CHUNK]]
            relation = cursor.read_parquet(
                chunk, union_by_name=True, hive_partitioning=False, filename=True
            )
            present = set(relation.columns)
            # Names are questionnaire identifiers ([a-z][a-z0-9_]*): safe inside the SQL.
            select = ", ".join(f'"{c}"' if c in present else f'NULL AS "{c}"' for c in by)
            for row in relation.project(f"filename, {select}").fetchall():
                out[os.path.basename(row[0])] = tuple(row[1:])
            for f in chunk:  # a file without a row is never in a cell
                out.setdefault(os.path.basename(f), (None,) * len(by))
    finally:
        cursor.close()
    return out


def _small_cells(folder: Path, names: list[str], by: tuple[str, ...]) -> dict[str, Cell]:
    key = (str(folder), by)
    with _CACHE_LOCK:
        known = _SMALL_CELLS.get(key, {})
    cells = {n: known[n] for n in names if n in known}
    missing = [folder / n for n in names if n not in known]
    if missing:
        cells.update(_read_cells(missing, by))
    with _CACHE_LOCK:
        _SMALL_CELLS[key] = cells
    return cells


def _compacted_cells(path: Path, by: tuple[str, ...]) -> dict[Cell, frozenset[str]]:
    st = path.stat()
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns, by)
    with _CACHE_LOCK:
        found = _COMPACTED_CELLS.get(key)
        if found is not None:
            _COMPACTED_CELLS.move_to_end(key)
            return found
    schema = pq.read_schema(path)
    present = [c for c in by if c in schema.names]
    table = pq.read_table(path, columns=["response_id", *present])
    columns = [table.column(c).to_pylist() if c in present else [None] * table.num_rows for c in by]
    groups: dict[Cell, set[str]] = {}
    for rid, *cell in zip(table.column("response_id").to_pylist(), *columns, strict=True):
        groups.setdefault(tuple(cell), set()).add(rid)
    found = {cell: frozenset(ids) for cell, ids in groups.items()}
    with _CACHE_LOCK:
        _COMPACTED_CELLS[key] = found
        while len(_COMPACTED_CELLS) > _COMPACTED_CACHE_SIZE:
            _COMPACTED_CELLS.popitem(last=False)
    return found


def _arrow_count(
    store: ParquetResponseStore,
    questionnaire_id: str,
    codes: Mapping[str, int],
    exclude: str | None,
) -> int:
    """The slow, careful count: the store's own read (which quarantines unreadable files)."""
    try:
        table = store.read_table(questionnaire_id, columns=list(codes)).table
    except ResponseError:
        return 0  # a quota column no stored response has
    mask = pa.array([True] * table.num_rows, type=pa.bool_())
    for name, code in codes.items():
        mask = pc.and_kleene(mask, pc.fill_null(pc.equal(table.column(name), code), False))
    if exclude is not None:
        mask = pc.and_kleene(mask, pc.not_equal(table.column("response_id"), exclude))
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def count_completes(
    store: ParquetResponseStore,
    questionnaire: Questionnaire,
    codes: Mapping[str, int],
    *,
    exclude_response_id: str | None = None,
) -> int:
    """Stored responses (all versions of the questionnaire) whose columns have these codes.

    Parameters
    ----------
    store
        The response store.
    questionnaire
        The questionnaire (its id names the folder; its ``province`` role, if among ``codes``,
        narrows the count to that province's partition folders).
    codes
        Column name -> stored code, e.g. ``{"province": 11, "sex": 2}``.
    exclude_response_id
        Leave this response out (a retry of an already stored response does not count itself).

    Notes
    -----
    Each response id counts once (a row present twice after a crash mid-compaction is one
    response). The province is read from the partition folder names. For a count by
    province alone, small files are counted by name without being opened. Otherwise each
    small file's quota columns are read once (DuckDB, 2048 files per query) and remembered
    (a small file never changes: its name is its response id); each compacted file's
    response ids are grouped by cell once per file version. A count is then a directory
    listing plus set unions: it costs about the same with 1,000 or 100,000 responses after
    the first call. The memory kept is about 100 bytes per stored response.
    If a file cannot be read, the store's own read is used, which moves the file to
    quarantine with a warning and counts the rest.
    """
    qid = questionnaire.id
    province_q = questionnaire.role("province")
    province = codes.get(province_q.name) if province_q is not None else None
    rest = {k: v for k, v in codes.items() if province_q is None or k != province_q.name}
    by = tuple(rest)
    want: Cell = tuple(rest.values())
    for _attempt in range(5):
        try:
            ids: set[str] = set()
            for folder, names, compacted in _listing(store, qid, province):
                if by:
                    cells = _small_cells(folder, names, by)
                    ids.update(n[: -len(".parquet")] for n, c in cells.items() if c == want)
                else:
                    ids.update(n[: -len(".parquet")] for n in names)
                for f in compacted:
                    ids |= _compacted_cells(f, by).get(want, frozenset())
            ids.discard(exclude_response_id or "")
            return len(ids)
        except FileNotFoundError:
            continue  # compaction or deletion replaced a file: list again
        except (duckdb.Error, pa.ArrowException, OSError):
            break
    return _arrow_count(store, qid, codes, exclude_response_id)


def quota_status(
    store: ParquetResponseStore,
    questionnaire: Questionnaire,
    answers: Mapping[str, object],
    *,
    exclude_response_id: str | None = None,
) -> QuotaStatus:
    """The respondent's quota cell, its target and how many completes it has.

    Call it as soon as the ``by`` questions are answered, to thank and stop a respondent
    whose cell is full before they spend time on the rest; :func:`submit_answers` checks
    again before writing.

    Parameters
    ----------
    store
        The response store.
    questionnaire
        The questionnaire; its ``settings.quotas`` name the ``by`` questions.
    answers
        The answers so far (the app's form).
    exclude_response_id
        Do not count this response (the respondent's own, if already stored).

    Returns
    -------
    QuotaStatus
        ``cell=None`` (never full) when there are no quotas or the cell is not known yet.

    Notes
    -----
    The quotas are those in force: the questionnaire's, or the ones an administrator set
    for this version (:func:`responses.overrides.with_overrides`, read from ``store.state``).
    """
    return _quota_status(
        store,
        with_overrides(questionnaire, store.state),
        answers,
        exclude_response_id=exclude_response_id,
    )


def _quota_status(
    store: ParquetResponseStore,
    questionnaire: Questionnaire,
    answers: Mapping[str, object],
    *,
    exclude_response_id: str | None = None,
) -> QuotaStatus:
    quotas = questionnaire.settings.quotas
    codes = _quota_codes(questionnaire, answers)
    if quotas is None or codes is None:
        return QuotaStatus(None, None, 0, False)
    cell = "|".join(str(c) for c in codes.values())
    target = quotas.target(cell)
    completes = count_completes(
        store, questionnaire, codes, exclude_response_id=exclude_response_id
    )
    return QuotaStatus(cell, target, completes, target is not None and completes >= target)


_RESPONSE_LOCKS: Final = tuple(threading.Lock() for _ in range(64))


def _response_lock(response_id: str) -> threading.Lock:
    """One of a fixed set of locks, by response id: two threads submitting the same response
    (a double click) take turns, so its contact details are saved once."""
    return _RESPONSE_LOCKS[int(hash_token(response_id)[:8], 16) % len(_RESPONSE_LOCKS)]


def _quota_lock(
    store: ParquetResponseStore, questionnaire: Questionnaire
) -> AbstractContextManager[Any]:
    if questionnaire.settings.quotas is None:
        return nullcontext()
    folder = store.root / LOCK_DIR
    folder.mkdir(parents=True, exist_ok=True)
    # A fresh lock object each time: flock() then also excludes other threads.
    return FileLock(folder / f"quota-{questionnaire.id}.lock", thread_local=False)


# --- invitations -------------------------------------------------------------------------------


def claim_invitation(
    state: StateStore,
    questionnaire: Questionnaire,
    token: str | None,
    *,
    response_id: str,
    language: str = "zh",
) -> None:
    """Start a response with an invitation token: claim it for ``response_id`` (atomically).

    The app calls it when a respondent opens an invitation link of an invitation-only
    questionnaire; claiming again with the same response id (a reload, a resume) is fine.

    Raises
    ------
    ResponseError
        In the respondent's language: no token (rule ``token_missing``), a token that is not
        one of this questionnaire's (``token_unknown``), or one already used by another
        response (``token_used``).
    """
    check_response_id(response_id)
    if not token:
        raise _refuse("token_missing", language)
    if state.claim_token(questionnaire.id, token, response_id=response_id):
        return
    status = state.token_status(questionnaire.id, token)
    raise _refuse("token_unknown" if status == "unknown" else "token_used", language)


# --- submission --------------------------------------------------------------------------------


def _province(questionnaire: Questionnaire, cleaned: Mapping[str, AnswerValue]) -> int | None:
    q = questionnaire.role("province")
    if q is None:
        return None
    value = cleaned.get(q.name)
    if not isinstance(value, str) or value in SPECIAL_CODES:
        return None
    code = q.option_codes()[value]
    return code if 10 <= code <= 99 else None


def _count_submit_attempt(
    store: ParquetResponseStore,
    questionnaire: Questionnaire,
    attempt_key: str | None,
    token: str | None,
    language: str,
    now: dt.datetime | None,
) -> None:
    """Count one submission attempt per session key and per invitation token; refuse the
    :data:`SUBMIT_ATTEMPT_LIMIT` + 1-th within the window."""
    keys = []
    if attempt_key is not None:
        keys.append("submit:" + str(attempt_key))
    if questionnaire.settings.invitation_only and isinstance(token, str) and token:
        keys.append("submit-token:" + hash_token(token))
    for key in keys:
        if not store.state.allow_attempt(
            key, limit=SUBMIT_ATTEMPT_LIMIT, window=SUBMIT_ATTEMPT_WINDOW, now=now
        ):
            raise _refuse(
                "too_many_attempts", language, minutes=SUBMIT_ATTEMPT_WINDOW.seconds // 60
            )


def submit_answers(
    store: ParquetResponseStore,
    questionnaire: Questionnaire,
    answers: Mapping[str, object],
    *,
    response_id: str,
    language: str,
    started_at: dt.datetime | None,
    consent_version: str | None,
    paradata: Paradata,
    token: str | None = None,
    attempt_key: str | None = None,
    now: dt.datetime | None = None,
) -> SubmitReceipt:
    """Check and store a respondent's answers: the one call the app makes to submit.

    Parameters
    ----------
    store
        The response store.
    questionnaire
        The questionnaire version answered.
    answers
        The answers in the app's form (see :mod:`responses.validation`).
    response_id
        Made when the respondent started (:func:`responses.record.new_response_id`) and kept,
        so that a retried or double-clicked submission is stored once.
    language
        The language the questionnaire was shown in; messages are in it (``zh`` or ``en``).
    started_at
        When the respondent started (timezone-aware).
    consent_version
        The consent version the respondent agreed to; must be the questionnaire's when it has
        a consent text.
    paradata
        Timings, user agent and option order (:class:`Paradata`).
    token
        The invitation token, for an invitation-only questionnaire (ignored otherwise).
    attempt_key
        A key of the respondent's browser session (never a raw IP address). Every call counts
        as an attempt under it, and for an invitation-only questionnaire also under the
        token; after :data:`SUBMIT_ATTEMPT_LIMIT` attempts within
        :data:`SUBMIT_ATTEMPT_WINDOW` under either, the call is refused (rule
        ``too_many_attempts``) before anything else is looked at.
    now
        The submission time (default: now, UTC).

    Returns
    -------
    SubmitReceipt
        The store's receipt; ``duplicate=True`` when this response was already stored (a
        retry): nothing new was written.

    Raises
    ------
    ResponseError
        Nothing was written. In the respondent's language: invalid answers (every problem
        listed, see :func:`responses.validation.check_answers`), a closed questionnaire
        (rule ``closed``), consent not given (``consent``), a missing, unknown or used
        invitation (``token_missing``, ``token_unknown``, ``token_used``), too many attempts
        from this session or with this token (``too_many_attempts``).
    QuotaFullError
        The respondent's quota cell is full (a :class:`ResponseError`, rule ``quota_full``);
        nothing was written and the invitation, if any, was not used up.
    ConflictError
        This response id is already stored with different answers.
    StoreError
        The response could not be written (disk full ...; nothing was changed), or it was
        written but the contact details could not be saved (submitting again finishes it).

    Notes
    -----
    The status and quotas in force are the questionnaire's with the override an
    administrator set for this version applied (:func:`responses.overrides.with_overrides`):
    a version closed on the administration pages refuses submissions even when the app loaded
    it while it was open.

    Order: answers checked; record built (province from the ``province`` role's code, the
    device class from the user agent, the token only as its SHA-256); then, under the
    questionnaire's quota lock when it has quotas, the quota checked and the record written by
    ``store.submit``, which reserves the invitation atomically (of two responses racing for one
    token exactly one wins), writes durably, marks the invitation submitted and removes the
    draft. Contact details go to ``store.state.save_contact`` linked by the response id, once
    (a retry, or a double click in the same process, does not save them twice). A province
    question named ``province`` is stored in the fixed ``province`` column only.
    """
    lang = language_of(language)
    _count_submit_attempt(store, questionnaire, attempt_key, token, lang, now)
    check_response_id(response_id)
    if not isinstance(paradata, Paradata):
        raise ResponseError(
            f"paradata must be a responses.submission.Paradata; got {type(paradata).__name__}."
        )
    questionnaire = with_overrides(questionnaire, store.state)
    if questionnaire.status == "closed":
        raise _refuse("closed", lang)
    consent = questionnaire.consent
    if consent is not None and consent_version != consent.version:
        raise _refuse("consent", lang, version=consent.version)
    cleaned = check_answers(questionnaire, answers, language=lang)
    columns = encode_answers(questionnaire, cleaned)
    contact = split_contact(questionnaire, cleaned)
    province = _province(questionnaire, cleaned)
    province_q = questionnaire.role("province")
    if province_q is not None and province_q.name in META_COLUMNS:
        columns.pop(province_q.name, None)  # the fixed column holds the same code
    token_hash = None
    if questionnaire.settings.invitation_only:
        if not token:
            raise _refuse("token_missing", lang)
        if store.state.token_status(questionnaire.id, token) == "unknown":
            raise _refuse("token_unknown", lang)
        token_hash = hash_token(token)
    record = ResponseRecord(
        questionnaire_id=questionnaire.id,
        questionnaire_version=questionnaire.version,
        answers=columns,
        response_id=response_id,
        submitted_at=now or dt.datetime.now(dt.UTC),
        started_at=started_at,
        language=language,
        province=province,
        consent_version=consent_version,
        duration_seconds=paradata.duration_seconds,
        page_seconds=dict(paradata.page_seconds),
        device_class=paradata.device_class,
        option_order={k: list(v) for k, v in paradata.option_order.items()},
        token_hash=token_hash,
    )
    with _response_lock(response_id):
        with _quota_lock(store, questionnaire):
            status = _quota_status(
                store, questionnaire, cleaned, exclude_response_id=response_id
            )
            if status.full:
                raise QuotaFullError(
                    Problem(None, "quota_full", message("quota_full", lang), language=lang),
                    status,
                )
            try:
                receipt = store.submit(record)
            except InvitationError:
                raise _refuse("token_used", lang) from None
        if contact:
            saved = receipt.duplicate and any(
                c.response_id == response_id for c in store.state.list_contacts(questionnaire.id)
            )
            if not saved:
                store.state.save_contact(
                    questionnaire.id, contact, response_id=response_id, now=now
                )
    return receipt


# --- save and resume ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """A saved, unfinished response, as :func:`resume` gives it back.

    Attributes
    ----------
    questionnaire_id, questionnaire_version
        The questionnaire version being answered (load that version to continue).
    response_id
        The response's id: keep using it, so the eventual submission is idempotent.
    answers
        The answers saved, in the app's form (multiple choice as ``frozenset``).
    page
        The page (section name) the respondent was on, or ``None``.
    language
        The language the respondent was using.
    started_at
        When the respondent first started (``None`` if not saved).
    saved_at, expires_at
        When the draft was last saved and when it will be removed.
    has_token
        The draft is linked to an invitation (it can also be resumed from the link).
    resume_code
        The code it was resumed with (``None`` when resumed by invitation token). Pass it to
        :func:`save_progress` so that saving again keeps the same code.
    consent_version
        The version of the consent statement the respondent agreed to before saving
        (``None``: not recorded, as in drafts saved before versions were kept). When it is not
        the questionnaire's current ``consent.version``, ask for consent again before
        continuing: the respondent has not seen the current text.
    """

    questionnaire_id: str
    questionnaire_version: str
    response_id: str
    answers: Mapping[str, AnswerValue]
    page: str | None
    language: str
    started_at: dt.datetime | None
    saved_at: dt.datetime
    expires_at: dt.datetime
    has_token: bool
    resume_code: str | None = None
    consent_version: str | None = None


def _strip_surrogates(text: str) -> str:
    return "".join(c for c in text if not "\ud800" <= c <= "\udfff")


def _draft_value(value: object) -> Any:
    """A JSON value for a draft, or ``None`` to leave the answer out."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        return _strip_surrogates(value) or None
    if isinstance(value, set | frozenset | list | tuple):
        items = sorted({_strip_surrogates(x) for x in value if isinstance(x, str)} - {""})
        return items or None
    return None


def save_progress(
    state: StateStore,
    questionnaire: Questionnaire,
    answers: Mapping[str, object],
    *,
    page: str | None,
    response_id: str,
    language: str = "zh",
    started_at: dt.datetime | None = None,
    token: str | None = None,
    resume_code: str | None = None,
    attempt_key: str | None = None,
    consent_version: str | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Save unfinished answers; return the resume code to show the respondent.

    Parameters
    ----------
    state
        The state database (``store.state``).
    questionnaire
        The questionnaire version being answered.
    answers
        The answers so far, as the app holds them. They are not validated (a draft may be
        incomplete or wrong): answers to questions of the questionnaire are kept, normalised
        where they can be (text NFC ...); names that are not questions and values that are
        not answers (objects, NaN) are left out.
    page
        The section name the respondent is on (``None``: the start).
    response_id
        The response's id (kept, so the submission after resuming is the same response).
    language, started_at
        Saved with the answers and given back by :func:`resume`.
    token
        The invitation token: the draft can then also be resumed from the invitation link.
    resume_code
        The code of an earlier save of this response (:attr:`Progress.resume_code`, or the
        return value of the previous call): the same draft is updated and the code stays
        the same. Otherwise a new code is made.
    attempt_key
        A key of the respondent's browser session (never a raw IP address): each save counts
        under it, and after :data:`DRAFT_SAVE_LIMIT` within 15 minutes the call is refused
        (rule ``too_many_attempts``), so a script cannot fill the disk with drafts.
    consent_version
        The version of the consent statement the respondent agreed to (``SurveyRun``'s
        ``consent_version``; ``None`` when there was none). Given back as
        :attr:`Progress.consent_version`, so that a draft started under an older consent
        statement is not submitted as if the respondent had agreed to the current one.
    now
        The time of saving (default now).

    Returns
    -------
    str
        12 characters; show it with :func:`responses.state.format_resume_code`
        (``7K3M-Q9TZ-2HXC``).

    Raises
    ------
    ResponseError
        ``page`` is not a section of the questionnaire; ``consent_version`` is neither a
        string nor ``None``; the answers are larger than a submission may be (rule ``size``,
        :data:`responses.validation.MAX_SUBMISSION_BYTES`); too many saves under
        ``attempt_key`` (``too_many_attempts``).
    """
    if page is not None and page not in {s.name for s in questionnaire.sections}:
        names = ", ".join(s.name for s in questionnaire.sections)
        raise ResponseError(
            f"page {page!r} is not a section of {questionnaire.id}: use one of {names}."
        )
    if not isinstance(answers, Mapping):
        raise ResponseError(
            f"answers must be a mapping of question name to answer; got {type(answers).__name__}."
        )
    if consent_version is not None and not isinstance(consent_version, str):
        raise ResponseError(
            "consent_version must be the consent statement's version (a string such as "
            f"'2026-2') or None; got {type(consent_version).__name__}."
        )
    size = _payload_bytes(answers, MAX_SUBMISSION_BYTES)
    if size > MAX_SUBMISSION_BYTES:
        raise _refuse(
            "size", language, size=-(-size // 1024), limit=MAX_SUBMISSION_BYTES // 1024
        )
    if attempt_key is not None and not state.allow_attempt(
        "draft:" + str(attempt_key),
        limit=DRAFT_SAVE_LIMIT,
        window=SUBMIT_ATTEMPT_WINDOW,
        now=now,
    ):
        raise _refuse("too_many_attempts", language, minutes=SUBMIT_ATTEMPT_WINDOW.seconds // 60)
    saved: dict[str, Any] = {}
    for q in questionnaire.questions:
        if not q.is_answerable or q.name not in answers:
            continue
        value, _ = _check_value(q, answers[q.name], "zh")
        encoded = _draft_value(value)
        if encoded is not None:
            saved[q.name] = encoded
    data = {
        "format": DRAFT_FORMAT,
        "answers": saved,
        "page": page,
        "language": language,
        "started_at": started_at.astimezone(dt.UTC).isoformat() if started_at else None,
        "consent_version": (
            _strip_surrogates(consent_version) if consent_version is not None else None
        ),
    }
    return state.save_draft(
        questionnaire.id,
        questionnaire.version,
        data,
        response_id=response_id,
        resume_code=resume_code,
        token=token,
        now=now,
    )


def _answers_from_draft(raw: object) -> dict[str, AnswerValue]:
    out: dict[str, AnswerValue] = {}
    if not isinstance(raw, Mapping):
        return out
    for name, value in raw.items():
        if isinstance(value, list):
            out[name] = frozenset(str(x) for x in value)
        elif isinstance(value, int | float | str) and not isinstance(value, bool):
            out[name] = value
    return out


def resume(
    state: StateStore,
    code_or_token: str,
    *,
    questionnaire_id: str | None = None,
    attempt_key: str | None = None,
    language: str = "zh",
    now: dt.datetime | None = None,
) -> Progress | None:
    """Find a saved draft by resume code or invitation token.

    Parameters
    ----------
    state
        The state database (``store.state``).
    code_or_token
        A resume code as the respondent typed it (case, spaces, dashes and look-alike letters
        are forgiven), or an invitation token.
    questionnaire_id
        Needed to resume by invitation token (a token belongs to one questionnaire).
    attempt_key
        A session key (never a raw IP address): each call counts as an attempt under it, and
        after 10 within 15 minutes the call is refused (guessing codes is pointless anyway:
        see ``responses/STORE.md``).
    language
        Language of the refusal message.
    now
        The current time (default now).

    Returns
    -------
    Progress or None
        ``None`` when there is no such draft (wrong or expired code, or nothing saved with
        the token): the same answer for both, so a guesser learns nothing. Its
        ``consent_version`` is ``None`` for a draft saved without one (older drafts).

    Raises
    ------
    ResponseError
        Too many attempts under ``attempt_key`` (rule ``too_many_attempts``).
    """
    if attempt_key is not None and not state.allow_attempt(
        attempt_key, window=_ATTEMPT_WINDOW, now=now
    ):
        raise _refuse("too_many_attempts", language, minutes=int(_ATTEMPT_WINDOW.seconds // 60))
    if not isinstance(code_or_token, str) or not code_or_token.strip():
        return None
    code = normalize_resume_code(code_or_token)
    draft = state.load_draft(code, now=now) if code is not None else None
    if draft is None:
        code = None
        if questionnaire_id is not None:
            draft = state.load_draft_by_token(questionnaire_id, code_or_token.strip(), now=now)
    if draft is None:
        return None
    data = draft.data
    started = data.get("started_at")
    try:
        started_at = dt.datetime.fromisoformat(started) if isinstance(started, str) else None
    except ValueError:
        started_at = None
    page = data.get("page")
    lang = data.get("language")
    consent_version = data.get("consent_version")
    return Progress(
        questionnaire_id=draft.questionnaire_id,
        questionnaire_version=draft.questionnaire_version,
        response_id=draft.response_id,
        answers=MappingProxyType(_answers_from_draft(data.get("answers"))),
        page=page if isinstance(page, str) else None,
        language=lang if isinstance(lang, str) else "zh",
        started_at=started_at,
        saved_at=draft.saved_at,
        expires_at=draft.expires_at,
        has_token=draft.has_token,
        resume_code=code,
        consent_version=consent_version if isinstance(consent_version, str) else None,
    )
