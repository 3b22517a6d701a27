"""Errors and warnings of the responses package.

Every message says what was wrong, which rule it broke and what to do, so the app and the
command line can show it unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from responses.submission import QuotaStatus

_LABEL_CHARS = 50


@dataclass(frozen=True)
class Problem:
    """One problem with a respondent's answers, worded for the respondent.

    Attributes
    ----------
    question
        The question (or matrix item) the problem is about, or ``None`` for a problem with the
        submission as a whole (its size, a missing invitation, a full quota ...). For an answer
        under an unknown name it is that name.
    rule
        Which rule was broken, for code to act on: ``required``, ``type``, ``integer``,
        ``range``, ``decimals``, ``choice``, ``special``, ``min_selected``, ``max_selected``,
        ``exclusive``, ``max_length``, ``characters``, ``constraint``, ``irrelevant``,
        ``unknown``, ``not_answerable``, ``size``, ``answers``, ``consent``, ``closed``,
        ``token_missing``, ``token_unknown``, ``token_used``, ``quota_full``, ``too_many_attempts``,
        or ``other`` (a message that came as plain text).
    message
        What is wrong and what to do, in the respondent's language ("此题为必答题").
    label
        The question's label in that language ("" when there is no question).
    section
        The section (page) the question is on.
    language
        The language of ``message`` and ``label`` (``zh`` or ``en``).
    """

    question: str | None
    rule: str
    message: str
    label: str = ""
    section: str | None = None
    language: str = "zh"

    def __str__(self) -> str:
        if not self.label:
            return self.message
        label = " ".join(self.label.split())
        if len(label) > _LABEL_CHARS:
            label = label[: _LABEL_CHARS - 1] + "…"
        if self.language == "zh":
            return f"“{label}”：{self.message}"
        return f'"{label}": {self.message}'


class ResponseError(ValueError):
    """A response, or an identifier naming one, breaks a rule.

    All problems found are listed at once: ``problems`` holds one message per problem and the
    exception text joins them, one per line. ``details`` holds the same problems as
    :class:`Problem` objects (question, rule, message), so an app can show each one beside its
    question; a problem given as plain text becomes a ``Problem`` with rule ``other``.

    Parameters
    ----------
    problems
        One message or :class:`Problem`, or several.
    """

    def __init__(self, problems: str | Problem | Sequence[str | Problem]):
        items: list[str | Problem] = (
            [problems] if isinstance(problems, str | Problem) else list(problems)
        )
        self.details: tuple[Problem, ...] = tuple(
            p if isinstance(p, Problem) else Problem(None, "other", str(p)) for p in items
        )
        self.problems: list[str] = [str(p) for p in items]
        super().__init__("\n".join(self.problems))

    @property
    def questions(self) -> list[str]:
        """Names of the questions with a problem, in order, each once."""
        return list(dict.fromkeys(p.question for p in self.details if p.question is not None))


class QuotaFullError(ResponseError):
    """The respondent's quota cell already has all the completes it needs.

    The message thanks the respondent and says the survey is closed for their group;
    ``status`` is the :class:`~responses.submission.QuotaStatus` that was full. Nothing was
    stored.
    """

    def __init__(self, problem: Problem, status: QuotaStatus):
        super().__init__(problem)
        self.status = status


class StoreError(ValueError):
    """The store could not do what was asked (disk full, read-only folder, conflicting retry,
    damaged backup). The message says whether anything was changed and what to do."""


class ConflictError(StoreError):
    """A response with this id is already stored with different answers."""


class InvitationError(ValueError):
    """An invitation token cannot be used: unknown, for another questionnaire, or already used."""


class ConfigError(ValueError):
    """A setting has a bad value or an unknown name."""


class StoreWarning(UserWarning):
    """Something in the data folder needed attention but reading went on (for example a file
    that could not be read and was moved to ``quarantine/``)."""
