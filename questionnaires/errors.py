"""Errors and warnings raised while reading questionnaires and their expressions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class QuestionnaireError(ValueError):
    """A questionnaire (or one of its expressions) breaks a rule of the format.

    The message is meant to be shown to the author unchanged: it names where (file, question,
    line), what rule was broken, and how to fix it.

    Parameters
    ----------
    message
        The whole message, one problem per line.
    problems
        The problems one by one (``questionnaires.document.Problem`` objects, each with
        ``source``, ``location``, ``context`` and ``message``), when the loader found several.
    """

    def __init__(self, message: str, *, problems: Sequence[Any] = ()):
        super().__init__(message)
        self.problems: tuple[Any, ...] = tuple(problems)


class ExpressionError(QuestionnaireError):
    """An expression cannot be parsed or does not type-check.

    Parameters
    ----------
    message
        What is wrong and how to fix it.
    expression
        The expression text.
    position
        0-based character offset of the problem in ``expression``, when known.
    """

    def __init__(self, message: str, *, expression: str = "", position: int | None = None):
        super().__init__(message)
        self.message = message
        self.expression = expression
        self.position = position


class QuestionnaireWarning(UserWarning):
    """A questionnaire is usable but something in it is probably not what the author meant."""
