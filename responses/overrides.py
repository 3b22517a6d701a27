"""Opening, closing and quotas of questionnaire versions without editing their files.

An administrator opens or closes a questionnaire version, or sets its quotas, from the
administration pages. The change is stored in the state database as an *override* of that
version (:class:`responses.state.QuestionnaireOverride`), recorded in the audit log, and the
questionnaire file is left as it was published.

Every decision about respondents goes through the *effective* questionnaire: the file's model
with the override applied (:func:`dataclasses.replace` of ``status`` and
``settings.quotas``):

- the respondent landing page: :func:`offered_questionnaires` (what can be started) and
  :func:`effective_questionnaire` (one questionnaire, newest open version or a given one);
- :func:`responses.submission.submit_answers` and :func:`responses.submission.quota_status`
  apply the override themselves (:func:`with_overrides`), so a version closed while a
  respondent was answering refuses the submission, and quota changes take effect at once.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from questionnaires.model import Question, Questionnaire, Quotas
from questionnaires.registry import QuestionnaireRegistry
from responses.errors import ResponseError
from responses.state import QuestionnaireOverride, StateStore

__all__ = [
    "apply_override",
    "effective_questionnaire",
    "effective_questionnaires",
    "make_quotas",
    "offered_questionnaires",
    "offered_version",
    "quotas_from_json",
    "quotas_to_json",
    "reset_override",
    "set_quotas",
    "set_status",
    "with_overrides",
]

Status = Literal["open", "closed"]
_CODE_RE = re.compile(r"[0-9]+")


# --- the quotas as JSON ------------------------------------------------------------------------


def quotas_to_json(quotas: Quotas | None) -> dict[str, Any] | None:
    """``Quotas`` as ``{"by": [...], "default": n or None, "cells": {cell: n}}`` (None stays)."""
    if quotas is None:
        return None
    return {"by": list(quotas.by), "default": quotas.default, "cells": dict(quotas.cells)}


def quotas_from_json(value: Mapping[str, Any] | None) -> Quotas | None:
    """The inverse of :func:`quotas_to_json`."""
    if value is None:
        return None
    cells = value.get("cells") or {}
    return Quotas(
        by=tuple(value.get("by") or ()),
        default=value.get("default"),
        cells=tuple((str(k), int(v)) for k, v in cells.items()),
    )


# --- applying overrides ------------------------------------------------------------------------


def apply_override(
    questionnaire: Questionnaire, override: QuestionnaireOverride | None
) -> Questionnaire:
    """``questionnaire`` with ``override``'s status and quotas (itself when there is none).

    Parameters
    ----------
    questionnaire
        The model as read from its file.
    override
        The override of that same ``(id, version)``, or None.
    """
    if override is None:
        return questionnaire
    if override.questionnaire_id != questionnaire.id or override.version != questionnaire.version:
        raise ResponseError(
            f"the override of {override.questionnaire_id} {override.version} cannot be applied "
            f"to {questionnaire.id} {questionnaire.version}."
        )
    changes: dict[str, Any] = {}
    if override.status is not None and override.status != questionnaire.status:
        changes["status"] = override.status
    if override.quotas_set:
        quotas = quotas_from_json(override.quotas)
        if quotas != questionnaire.settings.quotas:
            changes["settings"] = dataclasses.replace(questionnaire.settings, quotas=quotas)
    return dataclasses.replace(questionnaire, **changes) if changes else questionnaire


def with_overrides(questionnaire: Questionnaire, state: StateStore) -> Questionnaire:
    """``questionnaire`` with the override stored for its ``(id, version)`` applied.

    Cheap (one indexed SQLite read): call it whenever a decision depends on the status or the
    quotas. Applying it to an already effective questionnaire gives the same questionnaire.
    """
    return apply_override(
        questionnaire, state.read_override(questionnaire.id, questionnaire.version)
    )


def effective_questionnaires(
    registry: QuestionnaireRegistry, state: StateStore
) -> list[Questionnaire]:
    """Every questionnaire version of ``registry`` with its override applied (id, then
    version, oldest first)."""
    found = {(o.questionnaire_id, o.version): o for o in state.read_overrides()}
    return [apply_override(q, found.get(q.key)) for q in registry.list()]


def effective_questionnaire(
    registry: QuestionnaireRegistry,
    state: StateStore,
    id: str,
    version: str | None = None,
) -> Questionnaire:
    """The questionnaire as respondents get it: the file's model with its override applied.

    Parameters
    ----------
    registry
        The questionnaires on offer.
    state
        The state database (``store.state``), where the overrides are kept.
    id
        The questionnaire id.
    version
        A version to get (whatever its status: check ``.status``); default the newest version
        whose effective status is ``open``: the one a new respondent is offered.

    Returns
    -------
    Questionnaire
        With ``status`` and ``settings.quotas`` as the administrators set them.

    Raises
    ------
    KeyError
        Like :meth:`QuestionnaireRegistry.get` and :meth:`QuestionnaireRegistry.latest`: an
        unknown id or version, or (without ``version``) every version of ``id`` closed.
    """
    if version is not None:
        return with_overrides(registry.get(id, version), state)
    versions = [q for q in effective_questionnaires(registry, state) if q.id == id]
    if not versions:
        registry.latest(id)  # raises the registry's own KeyError for an unknown id
    open_ones = [q for q in versions if q.status == "open"]
    if not open_ones:
        raise KeyError(
            f"every version of questionnaire {id!r} is closed "
            f"({', '.join(q.version for q in versions)}); an administrator can open one "
            "on the Questionnaires page"
        )
    return open_ones[-1]


def offered_version(
    registry: QuestionnaireRegistry, state: StateStore, id: str
) -> Questionnaire:
    """The version of ``id`` a new respondent is offered (:func:`effective_questionnaire`),
    or the newest file version when every version is closed (by an administrator or in its
    file): simulated and demo data need a version whatever its status.

    Raises
    ------
    KeyError
        ``id`` is not a questionnaire of ``registry`` (the registry's own message).
    """
    try:
        return effective_questionnaire(registry, state, id)
    except KeyError:
        versions = registry.versions(id)
        if not versions:
            raise
        return registry.get(id, versions[-1])


def offered_questionnaires(
    registry: QuestionnaireRegistry, state: StateStore
) -> list[Questionnaire]:
    """The questionnaires a new respondent can start: for each id, its newest open version
    (after overrides), in id order. Ids whose versions are all closed are left out."""
    newest: dict[str, Questionnaire] = {}
    for q in effective_questionnaires(registry, state):
        if q.status == "open":
            newest[q.id] = q  # versions come oldest first
    return [newest[i] for i in sorted(newest)]


# --- changing overrides ------------------------------------------------------------------------


def _file_version(registry: QuestionnaireRegistry, id: str, version: str) -> Questionnaire:
    try:
        return registry.get(id, version)
    except KeyError as exc:
        raise ResponseError(str(exc.args[0]) + ".") from None


def _check_actor(actor: str) -> None:
    if not isinstance(actor, str) or not actor.strip():
        raise ResponseError("give the actor: the signed-in administrator making the change.")


def set_status(
    state: StateStore,
    registry: QuestionnaireRegistry,
    id: str,
    version: str,
    status: Status,
    *,
    actor: str,
) -> QuestionnaireOverride | None:
    """Open or close one questionnaire version; recorded in the audit log (``set_status``).

    Closing a version stops new respondents from starting it and refuses submissions of
    respondents who are answering it (their drafts stay; opening it again lets them submit).
    The quotas override, if any, is kept.

    Parameters
    ----------
    state
        The state database.
    registry
        Where the version's file model is read from.
    id, version
        The version to open or close.
    status
        ``"open"`` or ``"closed"``. When it equals the file's status, the status override is
        removed rather than stored.
    actor
        The administrator (username).

    Returns
    -------
    QuestionnaireOverride or None
        The override now stored (None when the file's settings apply again).

    Raises
    ------
    ResponseError
        Unknown questionnaire or version, or a status other than open/closed.
    """
    _check_actor(actor)
    if status not in ("open", "closed"):
        raise ResponseError(f"status must be 'open' or 'closed'; got {status!r}.")
    file_model = _file_version(registry, id, version)
    current = state.read_override(id, version)
    previous = apply_override(file_model, current).status
    stored: Status | None = None if status == file_model.status else status
    quotas_set = current.quotas_set if current is not None else False
    quotas = current.quotas if current is not None else None
    written = state.write_override(
        id,
        version,
        status=stored,
        quotas_set=quotas_set,
        quotas=quotas,
        actor=actor,
        action="set_status",
        details={"status": status, "previous": previous, "file_status": file_model.status},
    )
    return written if (stored is not None or quotas_set) else None


def make_quotas(
    questionnaire: Questionnaire,
    *,
    by: Sequence[str],
    default: int | None = None,
    cells: Mapping[str, int] | None = None,
) -> Quotas:
    """Check quotas for ``questionnaire`` (the rules of FORMAT.md) and build them.

    Parameters
    ----------
    questionnaire
        The version the quotas are for.
    by
        Question names or role names (``province``) of single-choice or likert questions whose
        answers define the cells.
    default
        Planned completes of any cell not listed in ``cells`` (None: such cells have no target).
    cells
        Cell key (the stored codes of the ``by`` questions joined by ``|``, e.g. ``"11"`` or
        ``"11|2"``) -> planned completes.

    Raises
    ------
    ResponseError
        Listing every problem at once, each naming the value, the rule and the fix.
    """
    problems: list[str] = []
    by_questions: list[Question] = []
    names = [str(n) for n in by] if isinstance(by, Sequence) and not isinstance(by, str) else []
    if not names:
        problems.append(
            "quotas need at least one question in 'by' (e.g. the province question): "
            "name the question(s) whose answers define the cells."
        )
    for name in names:
        q: Question | None
        try:
            q = questionnaire.question(name)
        except KeyError:
            q = questionnaire.role(name)
        if q is None:
            choices = [
                x.name for x in questionnaire.questions if x.type in ("single_choice", "likert")
            ]
            problems.append(
                f"quota 'by' names '{name}', which is neither a question nor a role of "
                f"{questionnaire.id} {questionnaire.version}; use one of {', '.join(choices)}."
            )
            continue
        if q.type not in ("single_choice", "likert"):
            problems.append(
                f"quota 'by' names '{q.name}', a {q.type} question; quota cells need "
                "single_choice or likert questions."
            )
            continue
        if q.name in (b.name for b in by_questions):
            problems.append(f"quota 'by' names '{q.name}' twice; name each question once.")
            continue
        by_questions.append(q)
    if default is not None and (
        isinstance(default, bool) or not isinstance(default, int) or default < 0
    ):
        problems.append(f"the default target must be a whole number, 0 or more; got {default!r}.")
    checked: list[tuple[str, int]] = []
    for raw_cell, target in (cells or {}).items():
        cell = str(raw_cell).strip()
        if isinstance(target, bool) or not isinstance(target, int) or target < 0:
            problems.append(
                f"the target of quota cell '{cell}' must be a whole number, 0 or more; "
                f"got {target!r}."
            )
            continue
        if by_questions and len(by_questions) == len(names):
            problem = _cell_problem(cell, by_questions)
            if problem:
                problems.append(problem)
                continue
        checked.append((cell, target))
    if names and default is None and not cells:
        problems.append(
            "quotas need a default target or targets for some cells: give the planned "
            "completes per cell."
        )
    if problems:
        raise ResponseError(problems)
    return Quotas(tuple(q.name for q in by_questions), default, tuple(checked))


def _cell_problem(cell: str, by: list[Question]) -> str | None:
    parts = cell.split("|")
    if len(parts) != len(by):
        return (
            f"the quota cell '{cell}' has {len(parts)} code(s) but 'by' names {len(by)} "
            "question(s); join one code per question with '|' (e.g. \"11|2\")."
        )
    for part, q in zip(parts, by, strict=True):
        codes = sorted(q.choices.codes().values()) if q.choices is not None else []
        if not _CODE_RE.fullmatch(part.strip()) or int(part) not in codes:
            return (
                f"in quota cell '{cell}', '{part}' is not a code of question '{q.name}'; "
                f"its codes are {', '.join(str(c) for c in codes)}."
            )
    return None


def set_quotas(
    state: StateStore,
    registry: QuestionnaireRegistry,
    id: str,
    version: str,
    quotas: Quotas | None,
    *,
    actor: str,
) -> QuestionnaireOverride | None:
    """Replace the quotas of one questionnaire version; recorded in the audit log
    (``set_quotas``).

    Parameters
    ----------
    state, registry, id, version, actor
        As for :func:`set_status`.
    quotas
        New quotas, built and checked with :func:`make_quotas`; ``None`` for no quotas at all.
        When they equal the file's quotas, the quotas override is removed.

    Returns
    -------
    QuestionnaireOverride or None
        The override now stored (None when the file's settings apply again).
    """
    _check_actor(actor)
    file_model = _file_version(registry, id, version)
    if quotas is not None:  # re-check: the quotas may have been built for another version
        quotas = make_quotas(
            file_model, by=quotas.by, default=quotas.default, cells=dict(quotas.cells)
        )
    current = state.read_override(id, version)
    previous = apply_override(file_model, current).settings.quotas
    quotas_set = quotas != file_model.settings.quotas
    status = current.status if current is not None else None
    written = state.write_override(
        id,
        version,
        status=status,
        quotas_set=quotas_set,
        quotas=quotas_to_json(quotas) if quotas_set else None,
        actor=actor,
        action="set_quotas",
        details={"quotas": quotas_to_json(quotas), "previous": quotas_to_json(previous)},
    )
    return written if (status is not None or quotas_set) else None


def reset_override(
    state: StateStore,
    registry: QuestionnaireRegistry,
    id: str,
    version: str,
    *,
    actor: str,
) -> None:
    """Remove the override of one version: its file's status and quotas apply again
    (recorded in the audit log as ``reset_override``)."""
    _check_actor(actor)
    file_model = _file_version(registry, id, version)
    current = state.read_override(id, version)
    effective = apply_override(file_model, current)
    state.write_override(
        id,
        version,
        status=None,
        quotas_set=False,
        quotas=None,
        actor=actor,
        action="reset_override",
        details={
            "previous_status": effective.status,
            "previous_quotas": quotas_to_json(effective.settings.quotas),
        },
    )
