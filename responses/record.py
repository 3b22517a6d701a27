"""The response record: one submitted questionnaire, as stored (one row of Parquet).

The record does not know the questionnaire: answers are a mapping from column name to coded
value (multiple choice already expanded to ``<question>__<option>`` 0/1 columns). Checking the
answers against the questionnaire is the validator's job (see ``ParquetResponseStore``), which
runs before anything is written.

Never stored: the respondent's IP address (the record has no field for it) and the raw
invitation token (only its SHA-256, :func:`hash_token`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import numbers
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from responses.errors import ResponseError

__all__ = [
    "DEVICE_CLASSES",
    "META_COLUMNS",
    "Answer",
    "DeviceClass",
    "ResponseRecord",
    "check_province",
    "check_questionnaire_id",
    "check_response_id",
    "check_version",
    "classify_device",
    "hash_token",
    "new_response_id",
]

Answer = int | float | str | bool | None
DeviceClass = Literal["phone", "tablet", "desktop", "bot", "unknown"]
DEVICE_CLASSES: tuple[str, ...] = ("phone", "tablet", "desktop", "bot", "unknown")

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")

#: The fixed columns of every response file, in order, with their Arrow types. Answer columns
#: follow them.
META_COLUMNS: Mapping[str, pa.DataType] = MappingProxyType(
    {
        "response_id": pa.string(),
        "questionnaire_id": pa.string(),
        "questionnaire_version": pa.string(),
        "submitted_at": UTC_TIMESTAMP,
        "started_at": UTC_TIMESTAMP,
        "language": pa.string(),
        "province": pa.int64(),
        "consent_version": pa.string(),
        "duration_seconds": pa.float64(),
        "page_seconds": pa.string(),
        "device_class": pa.string(),
        "option_order": pa.string(),
        "token_hash": pa.string(),
    }
)

#: Columns that describe how the questionnaire was filled in rather than what was answered;
#: they (and ``submitted_at``) are left out when deciding whether a retry is the same response.
PARADATA_COLUMNS = frozenset(
    {
        "submitted_at",
        "started_at",
        "duration_seconds",
        "page_seconds",
        "device_class",
        "option_order",
    }
)

RESPONSE_ID_RE = re.compile(r"[A-Za-z0-9_-]{22}")
QUESTIONNAIRE_ID_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
VERSION_RE = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9}){0,4}")
ANSWER_COLUMN_RE = re.compile(r"[a-z][a-z0-9_]{0,79}")
LANGUAGE_RE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}")
TOKEN_HASH_RE = re.compile(r"[0-9a-f]{64}")
CONSENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_TEXT_ANSWER = 5000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def new_response_id() -> str:
    """A new random response id: 128 bits from :mod:`secrets`, URL-safe base64, 22 characters.

    Drawn again while it starts with ``-``: such an id passed to a command
    (``python -m responses delete <id>``) would be read as an option, and a spreadsheet would
    read it as a formula. That keeps 63 of the 64 first characters (127.98 bits).
    """
    while True:
        response_id = secrets.token_urlsafe(16)
        if not response_id.startswith("-"):
            return response_id


def hash_token(token: str) -> str:
    """SHA-256 of an invitation token, as 64 lower-case hex digits (what the store keeps)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_response_id(value: object) -> str:
    """Return ``value`` if it is a well-formed response id, else raise :class:`ResponseError`."""
    if not isinstance(value, str) or not RESPONSE_ID_RE.fullmatch(value):
        raise ResponseError(
            f"response_id {value!r} is not valid: it must be 22 characters of A-Z, a-z, 0-9, "
            "'-' or '_' (128 random bits). Make one with responses.record.new_response_id()."
        )
    return value


def check_questionnaire_id(value: object) -> str:
    """Return ``value`` if it is a valid questionnaire id (``[a-z][a-z0-9_]{0,31}``)."""
    if not isinstance(value, str) or not QUESTIONNAIRE_ID_RE.fullmatch(value):
        raise ResponseError(
            f"questionnaire_id {value!r} is not valid: it must start with a lower-case letter "
            "followed by at most 31 lower-case letters, digits or '_' (e.g. 'cfl')."
        )
    return value


def check_version(value: object) -> str:
    """Return ``value`` if it is a valid questionnaire version (dot-separated numbers)."""
    if not isinstance(value, str) or not VERSION_RE.fullmatch(value):
        raise ResponseError(
            f"questionnaire_version {value!r} is not valid: it must be dot-separated numbers "
            "such as '2026.1' (at most 5 parts)."
        )
    return value


def check_province(value: object) -> int | None:
    """Return ``value`` if it is ``None`` or a two-digit GB/T 2260 province code (10-99)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 10 <= value <= 99:
        raise ResponseError(
            f"province {value!r} is not valid: it must be a two-digit GB/T 2260 code as an "
            "integer (e.g. 11 for Beijing), or None when unknown."
        )
    return value


# --- user agent -----------------------------------------------------------------------------

_BOT_RE = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|headless|lighthouse|python-requests|python-urllib|"
    r"aiohttp|httpx|curl/|wget/|go-http-client|java/|okhttp|scrapy|phantomjs|"
    r"facebookexternalhit|preview|monitor|uptime|checker|fetcher",
    re.IGNORECASE,
)
_TABLET_RE = re.compile(
    r"ipad|tablet|kindle|silk/|playbook|nexus (7|9|10)|sm-t\d|sm-x\d|gt-p\d|matepad|mediapad|"
    r"mipad|xiaomi pad|redmi pad|lenovo tab|honor pad",
    re.IGNORECASE,
)
_PHONE_RE = re.compile(
    r"iphone|ipod|windows phone|blackberry|bb10|opera mini|mobile|phone",
    re.IGNORECASE,
)


def classify_device(user_agent: str | None) -> DeviceClass:
    """Classify a browser's User-Agent header as ``phone``, ``tablet``, ``desktop`` or ``bot``.

    Parameters
    ----------
    user_agent
        The ``User-Agent`` header; ``None`` or empty gives ``"unknown"``.

    Returns
    -------
    str
        One of :data:`DEVICE_CLASSES`.

    Notes
    -----
    Rules, in order: crawler and script signatures (``bot``, ``spider``, ``curl/``, headless
    browsers ...) -> ``bot``; iPad, Android without ``Mobile`` and known tablet models
    -> ``tablet``; iPhone, ``Mobile`` (Android phones, WeChat and mobile browsers) -> ``phone``;
    anything else -> ``desktop``. An iPad set to "request desktop website" (the iPadOS default)
    sends a Mac user agent and is counted as desktop: the header alone cannot tell them apart.
    """
    if user_agent is None or not user_agent.strip():
        return "unknown"
    ua = user_agent.strip()
    if _BOT_RE.search(ua):
        return "bot"
    if _TABLET_RE.search(ua):
        return "tablet"
    lower = ua.lower()
    if "android" in lower and "mobile" not in lower:
        return "tablet"
    if _PHONE_RE.search(ua):
        return "phone"
    return "desktop"


# --- the record -----------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(name: str, value: object, problems: list[str], *, required: bool) -> dt.datetime | None:
    if value is None:
        if required:
            problems.append(f"{name} is missing: give the time as a timezone-aware datetime.")
        return None
    if not isinstance(value, dt.datetime):
        problems.append(f"{name} must be a datetime; got {type(value).__name__}.")
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        problems.append(
            f"{name} {value.isoformat()} has no timezone: give an aware datetime, "
            "e.g. datetime.now(timezone.utc)."
        )
        return None
    return value.astimezone(dt.UTC)


def _json_text(
    name: str, value: object, problems: list[str], *, kind: Literal["seconds", "order"]
) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            problems.append(f"{name} is not valid JSON ({exc.msg}); give a mapping or JSON text.")
            return None
    if not isinstance(value, Mapping):
        problems.append(f"{name} must be a mapping (or a JSON object); got {type(value).__name__}.")
        return None
    for key, item in value.items():
        if not isinstance(key, str):
            problems.append(f"{name}: key {key!r} must be a text (a page or question name).")
        elif kind == "seconds":
            if (
                isinstance(item, bool)
                or not isinstance(item, int | float)
                or not math.isfinite(item)
                or item < 0
            ):
                problems.append(f"{name}[{key!r}] must be a non-negative number of seconds.")
        elif not (
            isinstance(item, Sequence)
            and not isinstance(item, str)
            and all(isinstance(x, str) for x in item)
        ):
            problems.append(f"{name}[{key!r}] must be a list of option (or item) names.")
    try:
        return json.dumps(dict(value), ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        problems.append(f"{name} cannot be written as JSON: {exc}.")
        return None


_TYPE_OF: dict[type, pa.DataType] = {int: pa.int64(), float: pa.float64(), str: pa.string()}


def _answer_type(column: str, value: object, problems: list[str]) -> tuple[Answer, pa.DataType]:
    """The value as stored (plain int, float or str) and its Arrow type."""
    if value is None:
        return None, pa.null()
    if isinstance(value, bool | np.bool_):
        return int(value), pa.int64()
    if isinstance(value, numbers.Integral):
        number = int(value)
        if not INT64_MIN <= number <= INT64_MAX:
            problems.append(f"answer '{column}' = {number} is too large for a 64-bit integer.")
        return number, pa.int64()
    if isinstance(value, numbers.Real):
        real = float(value)
        if not math.isfinite(real):
            problems.append(
                f"answer '{column}' = {real} is not a finite number: "
                "store a missing answer as None."
            )
        return real, pa.float64()
    if isinstance(value, str):
        if len(value) > MAX_TEXT_ANSWER:
            problems.append(
                f"answer '{column}' has {len(value)} characters; "
                f"at most {MAX_TEXT_ANSWER} are kept."
            )
        return str(value), pa.string()
    problems.append(
        f"answer '{column}' has a value of type {type(value).__name__}: answers must be coded "
        "values (int, float, str, bool) or None."
    )
    return None, pa.null()


@dataclass(frozen=True)
class ResponseRecord:
    """One submitted response.

    Parameters
    ----------
    questionnaire_id, questionnaire_version
        Which questionnaire (and version) was answered. Both become folder names, so they are
        checked against strict patterns.
    answers
        Column name -> coded value (``int``, ``float``, ``str``, ``bool`` stored as 0/1, or
        ``None`` for missing). Names are ``[a-z][a-z0-9_]*`` (multiple choice as
        ``<question>__<option>``) and may not repeat a fixed column name.
    response_id
        128-bit random URL-safe id (default: a new one). Make it when the respondent starts, so
        that a retried submission carries the same id and is stored once.
    submitted_at, started_at
        Timezone-aware datetimes, stored in UTC. ``submitted_at`` defaults to now.
    language
        Language the questionnaire was shown in (``zh``, ``en``).
    province
        GB/T 2260 two-digit code (``int``) or ``None``.
    consent_version
        Version of the consent text the respondent agreed to.
    duration_seconds
        Time taken; derived from ``started_at`` when not given.
    page_seconds
        Seconds per page, a mapping (or its JSON text); stored as JSON text.
    device_class
        ``phone``, ``tablet``, ``desktop``, ``bot`` or ``unknown`` (:func:`classify_device`).
    option_order
        Question -> option (or item) names in the order shown, where randomised; JSON text.
    token_hash
        SHA-256 hex of the invitation token (:func:`hash_token`), where one was used. Never
        the token itself.

    Raises
    ------
    ResponseError
        Listing every problem found.
    """

    questionnaire_id: str
    questionnaire_version: str
    answers: Mapping[str, Answer]
    response_id: str = field(default_factory=new_response_id)
    submitted_at: dt.datetime = field(default_factory=_now)
    started_at: dt.datetime | None = None
    language: str = "zh"
    province: int | None = None
    consent_version: str | None = None
    duration_seconds: float | None = None
    page_seconds: Mapping[str, float] | str | None = None
    device_class: str | None = None
    option_order: Mapping[str, Sequence[str]] | str | None = None
    token_hash: str | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        checks = (
            ("response_id", check_response_id),
            ("questionnaire_id", check_questionnaire_id),
            ("questionnaire_version", check_version),
            ("province", check_province),
        )
        for attr, check in checks:
            try:
                check(getattr(self, attr))
            except ResponseError as exc:
                problems.extend(exc.problems)
        submitted = _utc("submitted_at", self.submitted_at, problems, required=True)
        started = _utc("started_at", self.started_at, problems, required=False)
        if not isinstance(self.language, str) or not LANGUAGE_RE.fullmatch(self.language):
            problems.append(
                f"language {self.language!r} is not a language code such as 'zh' or 'en'."
            )
        if self.consent_version is not None and not (
            isinstance(self.consent_version, str) and CONSENT_RE.fullmatch(self.consent_version)
        ):
            problems.append(
                f"consent_version {self.consent_version!r} must be a short text of letters, "
                "digits, '.', '_' or '-' (e.g. '2026-1')."
            )
        duration = self.duration_seconds
        if duration is not None:
            if (
                isinstance(duration, bool)
                or not isinstance(duration, int | float)
                or not math.isfinite(duration)
                or duration < 0
            ):
                problems.append(f"duration_seconds {duration!r} must be a non-negative number.")
            else:
                duration = float(duration)
        elif started is not None and submitted is not None:
            duration = max((submitted - started).total_seconds(), 0.0)
        if self.device_class is not None and self.device_class not in DEVICE_CLASSES:
            problems.append(
                f"device_class {self.device_class!r} must be one of {', '.join(DEVICE_CLASSES)} "
                "(use responses.record.classify_device(user_agent))."
            )
        if self.token_hash is not None and not (
            isinstance(self.token_hash, str) and TOKEN_HASH_RE.fullmatch(self.token_hash)
        ):
            problems.append(
                "token_hash must be the SHA-256 of the invitation token as 64 lower-case hex "
                "digits (responses.record.hash_token(token)); the raw token is never stored."
            )
        page_seconds = _json_text("page_seconds", self.page_seconds, problems, kind="seconds")
        option_order = _json_text("option_order", self.option_order, problems, kind="order")
        answers: dict[str, Answer] = {}
        if not isinstance(self.answers, Mapping):
            problems.append(
                "answers must be a mapping of column name to value; "
                f"got {type(self.answers).__name__}."
            )
        else:
            for column, value in self.answers.items():
                if not isinstance(column, str) or not ANSWER_COLUMN_RE.fullmatch(column):
                    problems.append(
                        f"answer column {column!r} is not a valid name: use lower-case letters, "
                        "digits and '_', starting with a letter (at most 80 characters)."
                    )
                    continue
                if column in META_COLUMNS:
                    problems.append(
                        f"answer column '{column}' clashes with the fixed column of that name: "
                        "rename the question."
                    )
                    continue
                answers[column], _ = _answer_type(column, value, problems)
        if problems:
            raise ResponseError(problems)
        object.__setattr__(self, "submitted_at", submitted)
        object.__setattr__(self, "started_at", started)
        object.__setattr__(self, "duration_seconds", duration)
        object.__setattr__(self, "page_seconds", page_seconds)
        object.__setattr__(self, "option_order", option_order)
        object.__setattr__(self, "answers", MappingProxyType(answers))

    # -- conversions --------------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        """The fixed columns as a dict (JSON texts as stored)."""
        return {name: getattr(self, name) for name in META_COLUMNS}

    def to_table(self) -> pa.Table:
        """This record as a one-row Arrow table: the fixed columns, then the answers."""
        names = [*META_COLUMNS, *self.answers]
        values = [getattr(self, name) for name in META_COLUMNS]
        types = list(META_COLUMNS.values())
        for value in self.answers.values():
            values.append(value)
            types.append(_TYPE_OF.get(type(value), pa.null()))
        # One Arrow array per type, sliced into columns: far cheaper than one array per column.
        groups: dict[pa.DataType, list[int]] = {}
        for i, type_ in enumerate(types):
            groups.setdefault(type_, []).append(i)
        arrays: list[pa.Array] = [pa.nulls(1)] * len(names)
        for type_, positions in groups.items():
            array = pa.array([values[i] for i in positions], type=type_)
            for k, i in enumerate(positions):
                arrays[i] = array.slice(k, 1)
        return pa.Table.from_arrays(arrays, names=names)

    def fingerprint(self) -> str:
        """SHA-256 of what was answered: everything except ``submitted_at`` and the paradata.

        Two submissions with the same response id and the same fingerprint are the same
        response (a retry); missing answers (``None``) are left out, so a column that only
        exists because of a later questionnaire version does not change it.
        """
        return content_fingerprint({**self.meta(), **self.answers})

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ResponseRecord:
        """Rebuild a record from a stored row (a dict of column -> value, e.g. from Arrow)."""
        answers = {
            k: _plain(v) for k, v in row.items() if k not in META_COLUMNS and _plain(v) is not None
        }
        meta = {k: _plain(row.get(k)) for k in META_COLUMNS}
        for name in ("submitted_at", "started_at"):
            value = meta[name]
            if value is not None and hasattr(value, "to_pydatetime"):
                meta[name] = value.to_pydatetime()
        if meta["province"] is not None:
            meta["province"] = int(meta["province"])
        return cls(answers=answers, **meta)


def _plain(value: Any) -> Any:
    """Missing values (None, NaN, pandas NA) -> None; integral floats stay floats."""
    if value is None:
        return None
    try:
        if value != value:  # NaN
            return None
    except (TypeError, ValueError):  # pandas NA compares ambiguously
        return None
    if type(value).__name__ == "NAType":
        return None
    if hasattr(value, "item") and not isinstance(value, str | dt.datetime):
        return value.item()
    return value


def _canonical(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return value


def content_fingerprint(row: Mapping[str, Any]) -> str:
    """SHA-256 over a row's non-missing values, leaving out ``submitted_at`` and paradata.

    Numbers compare by value (``3`` and ``3.0`` are equal), so the fingerprint of a row read
    back after schemas were unified equals that of the record that was submitted.
    """
    content = {
        k: _canonical(_plain(v))
        for k, v in row.items()
        if k not in PARADATA_COLUMNS and _plain(v) is not None
    }
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
