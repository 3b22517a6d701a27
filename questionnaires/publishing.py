"""Publishing an uploaded questionnaire as a new version, and exporting any version as a file.

:func:`check_upload` validates an uploaded YAML or XLSForm file (its bytes) and reports every
problem at once, each with where (line, or sheet/row/column), what part of the questionnaire,
and what to do; an ``(id, version)`` that already exists is one more problem, with the next
free version suggested. :func:`publish_upload` checks again and writes the file into
``<data dir>/questionnaires/`` atomically; published versions are never replaced.

What is written
---------------
``<data dir>/questionnaires/<id>-<version>.yaml`` in both cases:

- a YAML upload is kept **byte for byte** (the author's comments and layout stay; the file
  reviewed is the file used);
- an XLSForm upload is converted to YAML with :func:`questionnaires.yaml_writer.dump_yaml`
  (one readable, diffable format on disk), after checking that the YAML reads back to a
  questionnaire equal to the workbook's.

The write is atomic and exclusive: the bytes go to a hidden temporary file in the same folder
(which the registry ignores), are flushed to disk, and are linked to the final name only if
that name is free; the folder is then flushed too. A lock (``.publish.lock`` in the folder)
makes the duplicate check and the write one step for concurrent publishers.

This module does no audit logging (the questionnaires package knows nothing of the state
database): :func:`responses.administration.publish_questionnaire` wraps it with the audit
entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from filelock import FileLock

from questionnaires.document import Problem
from questionnaires.errors import QuestionnaireError, QuestionnaireWarning
from questionnaires.loader import parse_questionnaire
from questionnaires.model import Questionnaire
from questionnaires.registry import QuestionnaireRegistry, load_registry, version_key
from questionnaires.xlsform import read_xlsform, write_xlsform
from questionnaires.yaml_writer import dump_yaml

__all__ = [
    "MAX_UPLOAD_BYTES",
    "ExportedFile",
    "PublishedQuestionnaire",
    "UploadCheck",
    "UploadProblem",
    "check_upload",
    "export_questionnaire",
    "next_version",
    "publish_upload",
    "suggest_version",
]

#: Largest upload accepted (the biggest shipped questionnaire is about 60 kB of YAML).
MAX_UPLOAD_BYTES = 5_000_000
UploadFormat = Literal["yaml", "xlsform"]
ExportFormat = Literal["yaml", "xlsform"]
UPLOADS_FOLDER = "questionnaires"
_LOCK_NAME = ".publish.lock"
_XLSX_MAGIC = b"PK\x03\x04"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
YAML_MIME = "application/yaml"


@dataclass(frozen=True)
class UploadProblem:
    """One problem with an uploaded file, ready to be shown in a list.

    Attributes
    ----------
    where
        The place in the file: ``line 12``, or ``sheet 'survey', row 7, column 'type'``
        (empty when the problem is with the file as a whole).
    part
        The part of the questionnaire: ``question 'age'``, ``settings.quotas`` ... (may be
        empty).
    message
        What rule is broken and how to fix it.
    """

    where: str
    part: str
    message: str

    @classmethod
    def of(cls, problem: Problem) -> UploadProblem:
        """From a loader :class:`~questionnaires.document.Problem`."""
        return cls(str(problem.location), problem.context, problem.message)

    def __str__(self) -> str:
        place = ", ".join(p for p in (self.where, self.part) if p)
        return f"{place}: {self.message}" if place else self.message


@dataclass(frozen=True)
class UploadCheck:
    """What :func:`check_upload` found.

    Attributes
    ----------
    filename
        The uploaded file's name.
    format
        ``yaml`` or ``xlsform`` (None when the file is neither).
    questionnaire
        The questionnaire read, when it is valid (also when its version already exists).
    problems
        Every problem found; publishing needs none.
    warnings
        Non-fatal remarks (:class:`QuestionnaireWarning` texts), shown but not blocking.
    sha256
        SHA-256 of the uploaded bytes (recorded in the audit log).
    suggested_version
        When the ``(id, version)`` exists already: the next free version to use instead.
    """

    filename: str
    format: UploadFormat | None
    questionnaire: Questionnaire | None
    problems: tuple[UploadProblem, ...]
    warnings: tuple[str, ...]
    sha256: str
    suggested_version: str | None = None

    @property
    def ok(self) -> bool:
        """True when the file can be published."""
        return self.questionnaire is not None and not self.problems


@dataclass(frozen=True)
class PublishedQuestionnaire:
    """A questionnaire version written into the uploads folder by :func:`publish_upload`."""

    questionnaire: Questionnaire
    path: Path
    format: UploadFormat
    sha256: str
    bytes_written: int
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExportedFile:
    """A questionnaire version as a file to download."""

    filename: str
    data: bytes
    mime: str


def _format_of(data: bytes, filename: str) -> UploadFormat | None:
    suffix = Path(filename).suffix.lower()
    if data.startswith(_XLSX_MAGIC) or suffix == ".xlsx":
        return "xlsform"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    return None


def _read(data: bytes, filename: str) -> tuple[UploadFormat | None, Questionnaire, tuple[str, ...]]:
    """Read the upload; raise QuestionnaireError (with ``problems``) when it is not valid."""
    name = Path(filename).name or "upload"
    if not isinstance(data, bytes | bytearray):
        raise QuestionnaireError(f"{name}: the upload must be the file's bytes")
    if len(data) == 0:
        raise QuestionnaireError(f"{name}: the file is empty; upload the questionnaire file")
    if len(data) > MAX_UPLOAD_BYTES:
        raise QuestionnaireError(
            f"{name}: the file has {len(data):,} bytes, more than the {MAX_UPLOAD_BYTES:,} "
            "accepted; a questionnaire is far smaller: check that this is the right file"
        )
    fmt = _format_of(bytes(data), name)
    if fmt is None:
        raise QuestionnaireError(
            f"{name}: a questionnaire file must end in .yaml, .yml (the platform's format) or "
            ".xlsx (XLSForm); rename the file or convert it"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", QuestionnaireWarning)
        if fmt == "xlsform":
            questionnaire = read_xlsform(bytes(data), name=name)
        else:
            try:
                text = bytes(data).decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise QuestionnaireError(
                    f"{name}: the file is not UTF-8 text (byte {exc.start}); save it as UTF-8"
                ) from None
            questionnaire = parse_questionnaire(text, source=name)
    remarks = tuple(str(w.message) for w in caught if issubclass(w.category, QuestionnaireWarning))
    return fmt, questionnaire, remarks


def next_version(version: str) -> str:
    """The version after ``version``: its last number plus one (``2026.1`` -> ``2026.2``)."""
    parts = version.split(".")
    parts[-1] = str(int(parts[-1]) + 1)
    return ".".join(parts)


def suggest_version(registry: QuestionnaireRegistry, id: str, version: str) -> str:
    """A free version for ``id``: after the newest existing one (or ``version`` itself when it
    is free and newer than all)."""
    existing = registry.versions(id)
    if not existing:
        return version
    newest = max(existing, key=version_key)
    if version not in existing and version_key(version) > version_key(newest):
        return version
    return next_version(newest)


def _duplicate(
    registry: QuestionnaireRegistry, questionnaire: Questionnaire
) -> tuple[UploadProblem, str] | None:
    if questionnaire.key not in registry:
        return None
    suggestion = suggest_version(registry, questionnaire.id, questionnaire.version)
    where = registry.path(*questionnaire.key).name
    problem = UploadProblem(
        "",
        "version",
        f"questionnaire '{questionnaire.id}' version '{questionnaire.version}' already exists "
        f"(file {where}); a published version is never replaced, because responses refer to "
        f'it: change the version to "{suggestion}" in the file and upload it again',
    )
    return problem, suggestion


def check_upload(
    data: bytes, filename: str, *, registry: QuestionnaireRegistry | None = None
) -> UploadCheck:
    """Validate an uploaded questionnaire file; never raises for a bad file.

    Parameters
    ----------
    data
        The uploaded bytes.
    filename
        The file's name (its ending says YAML or XLSForm; an ``.xlsx`` is also recognised
        by its content).
    registry
        The questionnaires already published: an ``(id, version)`` found there is reported as
        a problem, with the next free version suggested.

    Returns
    -------
    UploadCheck
        Every problem at once (``problems``), the questionnaire when valid, warnings.
    """
    raw = bytes(data) if isinstance(data, bytes | bytearray) else b""
    digest = hashlib.sha256(raw).hexdigest()
    name = Path(str(filename)).name
    try:
        fmt, questionnaire, remarks = _read(data, name)
    except QuestionnaireError as exc:
        problems = tuple(UploadProblem.of(p) for p in exc.problems) or (
            UploadProblem("", "", _without_source(str(exc), name)),
        )
        return UploadCheck(name, _format_of(raw, name), None, problems, (), digest)
    suggestion = None
    problems_found: tuple[UploadProblem, ...] = ()
    if registry is not None:
        found = _duplicate(registry, questionnaire)
        if found is not None:
            problems_found = (found[0],)
            suggestion = found[1]
    return UploadCheck(name, fmt, questionnaire, problems_found, remarks, digest, suggestion)


def _without_source(message: str, name: str) -> str:
    prefix = f"{name}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _problems_error(check: UploadCheck) -> QuestionnaireError:
    lines = [str(p) for p in check.problems]
    if len(lines) == 1:
        message = f"{check.filename}: {lines[0]}"
    else:
        message = f"{check.filename} has {len(lines)} problems:\n" + "\n".join(
            f"- {line}" for line in lines
        )
    return QuestionnaireError(message, problems=check.problems)


def publish_upload(
    data: bytes, filename: str, *, data_dir: str | os.PathLike[str]
) -> PublishedQuestionnaire:
    """Validate an uploaded questionnaire and publish it as a new version.

    Parameters
    ----------
    data, filename
        The uploaded file (see :func:`check_upload`).
    data_dir
        The platform's data folder; the file goes to ``<data_dir>/questionnaires/``.

    Returns
    -------
    PublishedQuestionnaire
        The questionnaire and the path written.

    Raises
    ------
    QuestionnaireError
        The file is not a valid questionnaire (``problems`` holds every
        :class:`UploadProblem`), its ``(id, version)`` exists already (the message suggests
        the next version), or the folder cannot be written. Nothing is written then.

    Notes
    -----
    The duplicate check reads the shipped definitions and the uploads folder afresh under the
    publishing lock, so a version published a moment ago by another administrator (or seen
    by no cached registry yet) is never overwritten or shadowed.
    """
    check = check_upload(data, filename)
    if not check.ok or check.questionnaire is None or check.format is None:
        raise _problems_error(check)
    questionnaire = check.questionnaire
    content = bytes(data)
    if check.format == "xlsform":
        content = dump_yaml(questionnaire).encode("utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QuestionnaireWarning)
            again = parse_questionnaire(content.decode("utf-8"), source=check.filename)
        if again != questionnaire:  # pragma: no cover - the writer's round trip is tested
            raise QuestionnaireError(
                f"{check.filename}: the workbook could not be converted to YAML faithfully; "
                "nothing was published. Upload the questionnaire as YAML (download the "
                "workbook's YAML from another version as a model) and report this problem"
            )
    folder = Path(data_dir) / UPLOADS_FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise QuestionnaireError(
            f"cannot create the questionnaires folder {folder} ({exc.strerror}); check that "
            "the data folder is writable"
        ) from None
    final = folder / f"{questionnaire.id}-{questionnaire.version}.yaml"
    with FileLock(folder / _LOCK_NAME, thread_local=False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QuestionnaireWarning)
            current = load_registry(data_dir)
        found = _duplicate(current, questionnaire)
        if found is not None:
            raise QuestionnaireError(f"{check.filename}: {found[0].message}", problems=(found[0],))
        _write_exclusive(final, content)
    return PublishedQuestionnaire(
        questionnaire, final, check.format, check.sha256, len(content), check.warnings
    )


def _write_exclusive(final: Path, content: bytes) -> None:
    temp = final.parent / f".{final.name}.{uuid.uuid4().hex}.tmp"
    try:
        with open(temp, "xb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(temp, final)
        except FileExistsError:
            raise QuestionnaireError(
                f"the file {final.name} already exists in {final.parent} but is not a loadable "
                "questionnaire; move it away (it was not published), then upload again"
            ) from None
        _fsync_dir(final.parent)
    except OSError as exc:
        raise QuestionnaireError(
            f"cannot write {final} ({exc.strerror}); nothing was published; check that the "
            "data folder is writable and not full"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)


def export_questionnaire(
    registry: QuestionnaireRegistry, id: str, version: str, *, format: ExportFormat
) -> ExportedFile:
    """One questionnaire version as a file to download.

    Parameters
    ----------
    registry
        Where the version is found.
    id, version
        Which version.
    format
        ``yaml``: the file as published when it was YAML (comments kept), else the model
        written by :func:`~questionnaires.yaml_writer.dump_yaml`; ``xlsform``: an XLSForm
        workbook (:func:`~questionnaires.xlsform.write_xlsform`).

    Raises
    ------
    KeyError
        Unknown id or version.
    """
    questionnaire = registry.get(id, version)
    stem = f"{id}-{version}"
    if format == "xlsform":
        buffer = io.BytesIO()
        write_xlsform(questionnaire, buffer)
        return ExportedFile(f"{stem}.xlsx", buffer.getvalue(), XLSX_MIME)
    if format != "yaml":
        raise QuestionnaireError(f"format must be 'yaml' or 'xlsform'; got {format!r}")
    path = registry.path(id, version)
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            return ExportedFile(f"{stem}.yaml", path.read_bytes(), YAML_MIME)
        except OSError:
            pass  # removed since the registry read it: write the model instead
    return ExportedFile(f"{stem}.yaml", dump_yaml(questionnaire).encode("utf-8"), YAML_MIME)
