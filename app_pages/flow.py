"""The respondent's path through a questionnaire, without Streamlit: screens, option order, timing.

The page (:mod:`app_pages.respondent`) keeps one :class:`SurveyRun` per browser session and asks
this module what to show. Everything about validity, skip logic and storage is delegated to
:mod:`responses` (``relevant_questions``, ``prune_irrelevant``, ``validate_answers``,
``submit_answers``, ``save_progress``); what is here is only the app's own bookkeeping.

- A *screen* is one section (the default) or one question (the one-question-per-screen mode, for
  older respondents); matrix questions stay whole. Screens are worked out again from the answers
  each time, so skip logic applies as soon as an answer changes.
- Option order is shuffled per respondent where the questionnaire says ``randomize``, seeded by
  the response id and the question name, so it is the same on every rerun, after a resume and
  for the stored ``option_order`` paradata.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from questionnaires.model import Question, Questionnaire, Section
from questionnaires.registry import QuestionnaireRegistry
from responses.record import new_response_id
from responses.submission import Paradata
from responses.validation import relevant_questions

Stage = Literal["consent", "questions", "submitted", "quota_full", "closed"]

#: Rough seconds a respondent needs per question type (for the estimated time on the landing
#: page; matrix items count one by one). Calibrated so that the shipped questionnaires come out
#: within the times their descriptions give (cfl 15-20 min, edu_quiz 5-8 min).
SECONDS_PER_QUESTION: Mapping[str, float] = {
    "single_choice": 20.0,
    "likert": 10.0,
    "matrix_item": 10.0,
    "multiple_choice": 25.0,
    "integer": 40.0,
    "decimal": 40.0,
    "text": 45.0,
    "note": 5.0,
}


@dataclass(frozen=True)
class Screen:
    """What one screen shows: a section, or one question of it.

    Attributes
    ----------
    key
        ``<section>`` for a whole section, ``<section>/<question>`` for one question.
    section
        The section (the "page" of the paradata and of saved drafts).
    questions
        The top-level questions shown (a matrix with its items), relevant or not; the page
        asks :func:`responses.validation.relevant_questions` which to draw.
    """

    key: str
    section: Section
    questions: tuple[Question, ...]

    @property
    def answerable(self) -> tuple[Question, ...]:
        """The questions (matrix items instead of their matrix) that take an answer."""
        out: list[Question] = []
        for q in self.questions:
            out.extend(q.items if q.type == "matrix" else (q,) if q.is_answerable else ())
        return tuple(out)


def screens(
    questionnaire: Questionnaire, answers: Mapping[str, object], *, one_per_page: bool
) -> list[Screen]:
    """The screens the respondent goes through, given the answers so far.

    A section that skip logic leaves out, or whose questions all are, has no screen; in the
    one-question mode so has each irrelevant question. A section of notes only keeps its
    screen (it has something to say).
    """
    relevance = relevant_questions(questionnaire, answers)
    out: list[Screen] = []
    for section in questionnaire.sections:
        if section.name not in relevance.sections:
            continue
        shown = tuple(q for q in section.questions if q.name in relevance.questions)
        if not shown:
            continue
        if one_per_page:
            out.extend(Screen(f"{section.name}/{q.name}", section, (q,)) for q in shown)
        else:
            out.append(Screen(section.name, section, section.questions))
    return out


def screen_index(all_screens: list[Screen], key: str | None) -> int:
    """Where ``key`` is among the screens: its position, else that of the first screen of its
    section (a resumed draft names a section), else the first screen."""
    if key is not None:
        for i, s in enumerate(all_screens):
            if s.key == key:
                return i
        section = key.split("/", 1)[0]
        for i, s in enumerate(all_screens):
            if s.section.name == section:
                return i
    return 0


def option_order(question: Question, response_id: str) -> tuple[str, ...]:
    """The options (for a matrix: the items) of ``question`` in the order this respondent sees.

    Questionnaire order unless ``randomize`` is set; then a shuffle seeded by the response id
    and the question name (SHA-256), the same every time for this respondent. Special answers
    are not included: they are always shown last.
    """
    if question.type == "matrix":
        names = [item.name for item in question.items]
    else:
        names = list(question.choices.names) if question.choices is not None else []
    if question.randomize and len(names) > 1:
        seed = hashlib.sha256(f"{response_id}:{question.name}".encode()).digest()
        random.Random(int.from_bytes(seed[:8], "big")).shuffle(names)  # noqa: S311 - not security
    return tuple(names)


def estimated_minutes(questionnaire: Questionnaire) -> int:
    """Minutes a typical respondent needs (from :data:`SECONDS_PER_QUESTION`), at least 1."""
    seconds = sum(SECONDS_PER_QUESTION.get(q.type, 10.0) for q in questionnaire.questions)
    return max(1, round(seconds / 60))


def question_count(questionnaire: Questionnaire) -> int:
    """Questions that take an answer (matrix items count one by one)."""
    return sum(1 for q in questionnaire.questions if q.is_answerable)


def question_numbers(questionnaire: Questionnaire) -> dict[str, int]:
    """The number shown before each question (notes are not numbered), in questionnaire order."""
    numbers: dict[str, int] = {}
    for section in questionnaire.sections:
        for q in section.questions:
            if q.type != "note":
                numbers[q.name] = len(numbers) + 1
    return numbers


def open_questionnaires(registry: QuestionnaireRegistry) -> list[Questionnaire]:
    """The version offered of each questionnaire that has an open one, in id order."""
    out = []
    for qid in registry.ids():
        try:
            out.append(registry.latest(qid))
        except KeyError:
            continue
    return out


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class SurveyRun:
    """One respondent's answer sheet while it is being filled in (kept in the session).

    Attributes
    ----------
    questionnaire_id, questionnaire_version
        The version being answered.
    response_id
        Made when the respondent starts (or taken from the resumed draft) and kept: the
        submission is stored once under it, whatever the clicks and retries.
    started_at
        When the respondent started (UTC).
    stage
        ``consent``, ``questions``, ``submitted``, ``quota_full`` or ``closed``.
    answers
        The answers so far, in the form :mod:`responses.validation` reads.
    screen_key
        The current screen (:attr:`Screen.key`).
    one_per_page
        One question per screen.
    consent_version
        The consent version agreed to (``None`` until then).
    token
        The invitation token (invitation-only questionnaires).
    resume_code
        The code of the saved draft, once there is one.
    errors
        Question -> message of the last validation of the current screen.
    submit_error, save_error
        Why the last submission or save failed (the answers stay; the page offers a retry).
    duplicate
        The submission found the response already stored (a retry after success).
    resumed
        The run was restored from a draft (the page says so once). A resumed run at the
        ``consent`` stage was saved under another consent statement (or under an unrecorded
        one): agreeing continues on the saved screen, keeping ``started_at``.
    draft_consent_version
        The consent version recorded in the draft the run was restored from (``None``: a new
        run, or a draft that did not record one).
    page_seconds
        Seconds spent on each section so far.
    option_order
        Question -> option (or item) names in the order shown, for randomised questions.
    """

    questionnaire_id: str
    questionnaire_version: str
    response_id: str = field(default_factory=new_response_id)
    started_at: dt.datetime = field(default_factory=_utcnow)
    stage: Stage = "consent"
    answers: dict[str, Any] = field(default_factory=dict)
    screen_key: str | None = None
    one_per_page: bool = False
    consent_version: str | None = None
    token: str | None = None
    resume_code: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    page_seconds: dict[str, float] = field(default_factory=dict)
    option_order: dict[str, tuple[str, ...]] = field(default_factory=dict)
    submit_error: str | None = None
    save_error: str | None = None
    duplicate: bool = False
    resumed: bool = False
    draft_consent_version: str | None = None
    _entered: float | None = None
    _entered_section: str | None = None

    def enter(self, section: str | None, *, clock: float | None = None) -> None:
        """Book the time spent on the section being left and start timing ``section``."""
        now = time.monotonic() if clock is None else clock
        if self._entered is not None and self._entered_section is not None:
            spent = max(0.0, now - self._entered)
            name = self._entered_section
            self.page_seconds[name] = round(self.page_seconds.get(name, 0.0) + spent, 3)
        self._entered = now if section is not None else None
        self._entered_section = section

    def paradata(self, questionnaire: Questionnaire, user_agent: str | None) -> Paradata:
        """Timings, device and option order for :func:`responses.submission.submit_answers`.

        Books the time on the current section first; the total duration is left for the
        submission to derive from ``started_at``. The option order is recorded for every
        randomised question shown in this session or answered (an answer given before a
        resume was shown in the same order: it depends only on the response id).
        """
        self.enter(self._entered_section)
        orders = dict(self.option_order)
        for section in questionnaire.sections:
            for q in section.questions:
                names = [i.name for i in q.items] if q.type == "matrix" else [q.name]
                if q.randomize and any(n in self.answers for n in names):
                    orders.setdefault(q.name, option_order(q, self.response_id))
        return Paradata(
            page_seconds=dict(self.page_seconds),
            user_agent=user_agent,
            option_order={k: list(v) for k, v in orders.items()},
        )

    def order_of(self, question: Question) -> tuple[str, ...]:
        """The options (or matrix items) of ``question`` in this respondent's order; records
        the order of randomised questions for the paradata."""
        order = option_order(question, self.response_id)
        if question.randomize:
            self.option_order[question.name] = order
        return order
