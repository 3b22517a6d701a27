"""What the administration pages do, as plain functions: publishing questionnaires (audited),
the overview of versions with responses and quota progress, invitations, compaction, deletion
on request with a preview, and the audit log page by page.

The pages only draw; every action and every number comes from here (or from
:mod:`responses.overrides` for open/close and quotas). Each change is recorded in the audit log
of the state database with the acting administrator.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from questionnaires.model import Question, Questionnaire, Text
from questionnaires.publishing import PublishedQuestionnaire, publish_upload
from questionnaires.registry import DEFINITIONS_DIR, QuestionnaireRegistry
from responses.errors import ResponseError
from responses.overrides import apply_override
from responses.record import check_response_id
from responses.state import AuditEntry, AuditPage, StateStore, invitation_link
from responses.store import (
    COMPACTED_RE,
    PARTITION_RE,
    SMALL_RE,
    TOMBSTONE_DIR,
    CompactionResult,
    ParquetResponseStore,
)
from responses.submission import count_completes

__all__ = [
    "AUDIT_PAGE_SIZE",
    "AuditBrowse",
    "CompactionSummary",
    "DeletionPreview",
    "InvitationBatch",
    "InvitationSummary",
    "QuotaCell",
    "QuotaProgress",
    "StoredResponse",
    "VersionOverview",
    "browse_audit",
    "compact_store",
    "compaction_backlog",
    "count_by_version",
    "generate_invitations",
    "invitation_summary",
    "preview_deletion",
    "publish_questionnaire",
    "questionnaire_overview",
    "quota_progress",
]

AUDIT_PAGE_SIZE = 50
#: More quota cells than this (e.g. province x age x sex) are shown only where they have a
#: target of their own or responses.
MAX_LISTED_CELLS = 500


# --- publishing --------------------------------------------------------------------------------


def publish_questionnaire(
    store: ParquetResponseStore, data: bytes, filename: str, *, actor: str
) -> PublishedQuestionnaire:
    """Publish an uploaded YAML or XLSForm file as a new questionnaire version (audited).

    Parameters
    ----------
    store
        The response store; its folder is the data folder the file is written into
        (``<data dir>/questionnaires/<id>-<version>.yaml``), its state database keeps the
        audit entry (action ``publish_questionnaire``, target ``"<id> <version>"``, details:
        file name, format, SHA-256, bytes, sections, questions).
    data, filename
        The uploaded file.
    actor
        The administrator.

    Raises
    ------
    QuestionnaireError
        Every problem of the file at once (``problems``), or a version that exists already
        (the message suggests the next one); nothing is written or logged then.

    Notes
    -----
    See :mod:`questionnaires.publishing` for what is written and how. The app's cached
    registry must be refreshed afterwards to list the new version.
    """
    if not isinstance(actor, str) or not actor.strip():
        raise ResponseError("give the actor: the signed-in administrator publishing the file.")
    published = publish_upload(data, filename, data_dir=store.root)
    q = published.questionnaire
    store.state.append_audit(
        "publish_questionnaire",
        actor=actor,
        target=f"{q.id} {q.version}",
        details={
            "file": Path(filename).name,
            "format": published.format,
            "sha256": published.sha256,
            "stored_as": published.path.name,
            "bytes": published.bytes_written,
            "sections": len(q.sections),
            "questions": sum(1 for x in q.questions if x.is_answerable),
        },
    )
    return published


# --- overview of versions and quota progress ---------------------------------------------------


@dataclass(frozen=True)
class QuotaCell:
    """One quota cell: its key, label (the options' labels), target and completes."""

    cell: str
    label: str
    target: int | None
    completes: int

    @property
    def share(self) -> float | None:
        """``completes / target`` (None without a target; 1.0 for a target of 0)."""
        if self.target is None:
            return None
        return 1.0 if self.target == 0 else self.completes / self.target


@dataclass(frozen=True)
class QuotaProgress:
    """Completes against targets for every cell of a questionnaire's quotas.

    ``completes`` and ``target`` add up the cells that have a target; ``full`` counts the cells
    whose target is reached. ``truncated`` is True when only some cells are listed (more than
    :data:`MAX_LISTED_CELLS` possible cells).
    """

    by: tuple[str, ...]
    cells: tuple[QuotaCell, ...]
    completes: int
    target: int
    full: int
    truncated: bool = False


def _cell_options(q: Question, language: str) -> list[tuple[int, str]]:
    if q.choices is None:
        return []
    return [(c.code, c.label.get(language)) for c in q.choices]


def quota_progress(
    store: ParquetResponseStore, questionnaire: Questionnaire, *, language: str = "zh"
) -> QuotaProgress | None:
    """Completes per quota cell of ``questionnaire`` (give the effective questionnaire).

    Each cell is counted by :func:`responses.submission.count_completes`, exactly as
    submissions are checked: every stored response of the questionnaire id (all versions),
    from per-file caches shared with the submission path. Returns None without quotas.
    When the ``by`` questions make more than :data:`MAX_LISTED_CELLS` cells, only the cells
    with a target of their own are listed (``truncated``).
    """
    quotas = questionnaire.settings.quotas
    if quotas is None:
        return None
    by_questions = [questionnaire.question(name) for name in quotas.by]
    options = [_cell_options(q, language) for q in by_questions]
    truncated = math.prod(len(o) for o in options) > MAX_LISTED_CELLS
    listed = dict(quotas.cells)
    cells: list[QuotaCell] = []
    for combo in itertools.product(*options):
        cell = "|".join(str(code) for code, _ in combo)
        if truncated and cell not in listed:
            continue
        codes = {q.name: code for q, (code, _) in zip(by_questions, combo, strict=True)}
        cells.append(
            QuotaCell(
                cell,
                " / ".join(label for _, label in combo),
                quotas.target(cell),
                count_completes(store, questionnaire, codes),
            )
        )
    with_target = [c for c in cells if c.target is not None]
    return QuotaProgress(
        by=quotas.by,
        cells=tuple(cells),
        completes=sum(min(c.completes, c.target or 0) for c in with_target),
        target=sum(c.target or 0 for c in with_target),
        full=sum(1 for c in with_target if c.completes >= (c.target or 0)),
        truncated=truncated,
    )


def count_by_version(store: ParquetResponseStore, questionnaire_id: str) -> dict[str, int]:
    """Stored responses of each version of a questionnaire, each response id once.

    Cheap: small files are counted by name (a small file is named after its response id)
    and only the ``response_id`` column of compacted files is read, so the page listing
    every version stays fast however many responses wait for compaction. A compacted file
    that cannot be read makes the store's own count (which moves it to quarantine) decide.
    """
    out: dict[str, int] = {}
    for version in store.list_versions(questionnaire_id):
        for _attempt in range(5):
            try:
                out[version] = len(_version_ids(store, questionnaire_id, version))
                break
            except FileNotFoundError:
                continue  # compaction or deletion replaced a file: list again
            except (pa.ArrowException, OSError):
                out[version] = store.count(questionnaire_id, version=version)
                break
        else:
            out[version] = store.count(questionnaire_id, version=version)
    return out


def _version_ids(store: ParquetResponseStore, questionnaire_id: str, version: str) -> set[str]:
    ids: set[str] = set()
    base = store.responses_dir / questionnaire_id / version
    with os.scandir(base) as partitions:
        folders = [e.path for e in partitions if e.is_dir() and PARTITION_RE.fullmatch(e.name)]
    for folder in folders:
        with os.scandir(folder) as files:
            names = [e.name for e in files]
        for name in names:
            small = SMALL_RE.fullmatch(name)
            if small:
                ids.add(small.group(1))
            elif COMPACTED_RE.fullmatch(name):
                column = pq.read_table(os.path.join(folder, name), columns=["response_id"])
                ids.update(column.column(0).to_pylist())
    return ids


@dataclass(frozen=True)
class VersionOverview:
    """One questionnaire version as the Questionnaires page lists it.

    Attributes
    ----------
    questionnaire
        The effective questionnaire (overrides applied).
    file_status
        The status written in the file.
    status_overridden, quotas_overridden
        True when an administrator's override replaces the file's status or quotas.
    offered
        True for the version a new respondent gets (the newest open one of its id).
    responses
        Stored responses of this version.
    source
        ``shipped`` (``questionnaires/definitions/``) or ``uploaded`` (the data folder).
    path
        The file it was read from.
    """

    questionnaire: Questionnaire
    file_status: str
    status_overridden: bool
    quotas_overridden: bool
    offered: bool
    responses: int
    source: Literal["shipped", "uploaded"]
    path: Path

    @property
    def id(self) -> str:
        return self.questionnaire.id

    @property
    def version(self) -> str:
        return self.questionnaire.version

    @property
    def status(self) -> str:
        return self.questionnaire.status

    @property
    def title(self) -> Text:
        return self.questionnaire.title


def questionnaire_overview(
    store: ParquetResponseStore, registry: QuestionnaireRegistry
) -> list[VersionOverview]:
    """Every questionnaire version with its effective status, quotas and response count
    (by id, then newest version first)."""
    overrides = {(o.questionnaire_id, o.version): o for o in store.state.read_overrides()}
    stored = set(store.list_questionnaires())
    rows: list[VersionOverview] = []
    counts: dict[str, dict[str, int]] = {}
    newest_open: dict[str, str] = {}
    effective = []
    for q in registry.list():
        e = apply_override(q, overrides.get(q.key))
        effective.append((q, e))
        if e.status == "open":
            newest_open[q.id] = q.version
    for q, e in effective:
        path = registry.path(q.id, q.version)
        override = overrides.get(q.key)
        if q.id not in counts:
            counts[q.id] = count_by_version(store, q.id) if q.id in stored else {}
        count = counts[q.id].get(q.version, 0)
        rows.append(
            VersionOverview(
                questionnaire=e,
                file_status=q.status,
                status_overridden=override is not None and override.status is not None,
                quotas_overridden=override is not None and override.quotas_set,
                offered=newest_open.get(q.id) == q.version,
                responses=count,
                source="shipped" if path.parent == DEFINITIONS_DIR else "uploaded",
                path=path,
            )
        )
    rows.sort(key=lambda r: (r.id, [-int(p) for p in r.version.split(".")]))
    return rows


# --- invitations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvitationSummary:
    """Invitation tokens of one questionnaire: generated, unused, started, submitted."""

    questionnaire_id: str
    title: Text
    invitation_only: bool
    generated: int
    unused: int
    started: int
    submitted: int

    @property
    def used(self) -> int:
        """Tokens someone has started or submitted with."""
        return self.started + self.submitted


def invitation_summary(
    state: StateStore, registry: QuestionnaireRegistry
) -> list[InvitationSummary]:
    """Token counts of every questionnaire id (title and invitation-only taken from its
    newest version)."""
    newest = {q.id: q for q in registry.list()}  # versions come oldest first
    out: list[InvitationSummary] = []
    for qid, q in sorted(newest.items()):
        counts = state.token_counts(qid)
        out.append(
            InvitationSummary(
                qid,
                q.title,
                q.settings.invitation_only,
                counts.total,
                counts.unused,
                counts.started,
                counts.submitted,
            )
        )
    return out


@dataclass(frozen=True)
class InvitationBatch:
    """Newly made invitation tokens as a CSV file (columns ``token``, ``link``).

    The CSV is the only copy of the tokens (only their hashes are stored): hand it over once.
    """

    questionnaire_id: str
    count: int
    csv: bytes
    filename: str


def generate_invitations(
    state: StateStore,
    registry: QuestionnaireRegistry,
    questionnaire_id: str,
    n: int,
    *,
    actor: str,
    public_url: str,
    now: dt.datetime | None = None,
) -> InvitationBatch:
    """Make ``n`` single-use invitation tokens and their CSV of codes and links (audited as
    ``generate_tokens`` by the state database).

    Parameters
    ----------
    state
        The state database.
    registry
        Checks that ``questionnaire_id`` exists.
    questionnaire_id
        The questionnaire the tokens open.
    n
        How many (1 to 100,000 at a time from the app).
    actor
        The administrator.
    public_url
        The survey's address as respondents reach it (setting ``public_url``); links are
        ``<public_url>?q=<id>&token=<token>`` (:func:`responses.state.invitation_link`).
    now
        Time used in the file name (default now).
    """
    if questionnaire_id not in registry.ids():
        known = ", ".join(registry.ids())
        raise ResponseError(
            f"there is no questionnaire '{questionnaire_id}'; choose one of {known}."
        )
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 100_000:
        raise ResponseError(f"the number of invitations must be from 1 to 100,000; got {n!r}.")
    if not isinstance(actor, str) or not actor.strip():
        raise ResponseError("give the actor: the signed-in administrator making invitations.")
    tokens = state.generate_tokens(questionnaire_id, n, actor=actor)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["token", "link"])
    for token in tokens:
        writer.writerow([token, invitation_link(public_url, questionnaire_id, token)])
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d-%H%M%S")
    return InvitationBatch(
        questionnaire_id,
        len(tokens),
        buffer.getvalue().encode("utf-8"),
        f"invitations-{questionnaire_id}-{stamp}-{len(tokens)}.csv",
    )


# --- compaction --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompactionSummary:
    """What :func:`compact_store` did, per questionnaire and in total."""

    results: tuple[CompactionResult, ...]
    seconds: float

    @property
    def files_merged(self) -> int:
        return sum(r.files_merged for r in self.results)

    @property
    def files_written(self) -> int:
        return sum(r.files_written for r in self.results)

    @property
    def rows(self) -> int:
        return sum(r.rows for r in self.results)

    @property
    def duplicates_dropped(self) -> int:
        return sum(r.duplicates_dropped for r in self.results)

    @property
    def conflicts(self) -> int:
        return sum(r.conflicts for r in self.results)

    @property
    def quarantined(self) -> int:
        return sum(len(r.quarantined) for r in self.results)


def compaction_backlog(store: ParquetResponseStore) -> dict[str, int]:
    """Questionnaire id -> one-response files waiting for compaction (directory listings)."""
    return {qid: store.uncompacted_files(qid) for qid in store.list_questionnaires()}


def compact_store(
    store: ParquetResponseStore,
    *,
    actor: str,
    questionnaire_ids: Sequence[str] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> CompactionSummary:
    """Compact every questionnaire's responses (or those given), one after the other.

    Parameters
    ----------
    store
        The response store; each questionnaire's compaction is recorded in the audit log
        (``compact``) by the store when it merged any file.
    actor
        The administrator.
    questionnaire_ids
        Only these (default: every questionnaire with responses).
    progress
        Called as ``progress(done, total, questionnaire_id)`` before each questionnaire and
        once at the end with ``done == total``.
    """
    if not isinstance(actor, str) or not actor.strip():
        raise ResponseError("give the actor: the signed-in administrator compacting the store.")
    qids = list(questionnaire_ids) if questionnaire_ids is not None else store.list_questionnaires()
    start = dt.datetime.now(dt.UTC)
    results: list[CompactionResult] = []
    for i, qid in enumerate(qids):
        if progress is not None:
            progress(i, len(qids), qid)
        results.append(store.compact(qid, actor=actor))
    if progress is not None:
        progress(len(qids), len(qids), "")
    seconds = (dt.datetime.now(dt.UTC) - start).total_seconds()
    return CompactionSummary(tuple(results), seconds)


# --- deletion on request -----------------------------------------------------------------------


@dataclass(frozen=True)
class StoredResponse:
    """A stored copy of a response, as shown before deleting it."""

    questionnaire_id: str
    questionnaire_version: str
    submitted_at: dt.datetime | None
    province: int | None
    language: str | None
    device_class: str | None


@dataclass(frozen=True)
class DeletionPreview:
    """What deleting a response would remove.

    Attributes
    ----------
    response_id
        The response.
    responses
        Its stored rows (normally one).
    contacts
        Contact records linked to it (kept apart from the answers; removed with it).
    already_deleted
        It was deleted before (a tombstone exists): deleting again removes any copy that
        came back (e.g. from a restored backup) and records the request again.
    """

    response_id: str
    responses: tuple[StoredResponse, ...]
    contacts: int
    already_deleted: bool

    @property
    def found(self) -> bool:
        """True when something is stored under this id."""
        return bool(self.responses) or self.contacts > 0


_PREVIEW_COLUMNS = (
    "questionnaire_id",
    "questionnaire_version",
    "submitted_at",
    "province",
    "language",
    "device_class",
)


def preview_deletion(store: ParquetResponseStore, response_id: str) -> DeletionPreview:
    """Find everything stored under ``response_id`` before deleting it with
    :meth:`ParquetResponseStore.delete <responses.store.ParquetResponseStore.delete>`.

    Raises
    ------
    ResponseError
        ``response_id`` is not a response id (22 characters of A-Z, a-z, 0-9, ``-``, ``_``).
    """
    rid = check_response_id(response_id.strip() if isinstance(response_id, str) else response_id)
    found: list[StoredResponse] = []
    contacts = 0
    for qid in store.list_questionnaires():
        table = store.read_table(qid, columns=list(_PREVIEW_COLUMNS)).table
        rows = table.filter(pc.equal(table.column("response_id"), rid)).to_pylist()
        for r in rows:
            found.append(
                StoredResponse(
                    r["questionnaire_id"],
                    r["questionnaire_version"],
                    r["submitted_at"],
                    r["province"],
                    r["language"],
                    r["device_class"],
                )
            )
        contacts += sum(1 for c in store.state.list_contacts(qid) if c.response_id == rid)
    tombstone = store.root / TOMBSTONE_DIR / rid
    return DeletionPreview(rid, tuple(found), contacts, tombstone.exists())


# --- the audit log -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditBrowse:
    """One page of the audit log with the filters' choices.

    ``page`` counts from 1; ``pages`` is at least 1; ``actions`` and ``actors`` are every
    value found in the log (for the filter menus).
    """

    entries: tuple[AuditEntry, ...]
    total: int
    page: int
    pages: int
    actions: tuple[str, ...]
    actors: tuple[str, ...]


def browse_audit(
    state: StateStore,
    *,
    action: str | None = None,
    actor: str | None = None,
    first_day: dt.date | None = None,
    last_day: dt.date | None = None,
    timezone: dt.tzinfo = dt.UTC,
    page: int = 1,
    page_size: int = AUDIT_PAGE_SIZE,
) -> AuditBrowse:
    """The audit log, newest first, filtered and cut into pages.

    Parameters
    ----------
    state
        The state database.
    action, actor
        Only entries with this action or actor (None: all).
    first_day, last_day
        Only entries made on these days or between them (inclusive), days being taken in
        ``timezone`` (the administrators' time zone, e.g. UTC+8 for China).
    page, page_size
        Which page (from 1; a page past the end gives the last page) and its length.
    """
    if first_day is not None and last_day is not None and last_day < first_day:
        raise ResponseError(
            f"the last day ({last_day.isoformat()}) is before the first day "
            f"({first_day.isoformat()}); swap them."
        )
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise ResponseError(f"page must be a whole number, 1 or more; got {page!r}.")
    since = dt.datetime.combine(first_day, dt.time(0), tzinfo=timezone) if first_day else None
    until = (
        dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), tzinfo=timezone)
        if last_day
        else None
    )

    def search(offset: int) -> AuditPage:
        return state.search_audit(
            action=action or None,
            actor=actor or None,
            since=since,
            until=until,
            offset=offset,
            limit=page_size,
        )

    first = search(0)
    pages = max(1, math.ceil(first.total / page_size))
    page = min(page, pages)
    result = first if page == 1 else search((page - 1) * page_size)
    return AuditBrowse(
        result.entries,
        result.total,
        page,
        pages,
        tuple(state.audit_values("action")),
        tuple(state.audit_values("actor")),
    )
