"""Errors and warnings of the responses package.

Every message says what was wrong, which rule it broke and what to do, so the app and the
command line can show it unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence


class ResponseError(ValueError):
    """A response, or an identifier naming one, breaks a rule.

    All problems found are listed at once: ``problems`` holds one message per problem and the
    exception text joins them, one per line.

    Parameters
    ----------
    problems
        One message, or several.
    """

    def __init__(self, problems: str | Sequence[str]):
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


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
