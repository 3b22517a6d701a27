"""Errors and warnings of the access package (staff accounts and sign-in).

Every message says what was wrong, which rule it broke and what to do, so the app and the
command line can show it unchanged. No message ever contains a password.
"""

from __future__ import annotations

from collections.abc import Sequence


class AccessError(ValueError):
    """Base class of the access package's errors."""


class AccessConfigError(AccessError):
    """A setting has a bad value, or the accounts file cannot be read as written."""


class AccountError(AccessError):
    """An account operation cannot be done: bad or unknown username, unknown role, duplicate."""


class PasswordPolicyError(AccessError):
    """A new password breaks the password policy.

    All problems found are listed at once: ``problems`` holds one sentence per problem and the
    exception text joins them on one line.

    Parameters
    ----------
    problems
        One message, or several.
    """

    def __init__(self, problems: str | Sequence[str]):
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(" ".join(self.problems))


class AccessWarning(UserWarning):
    """Something needed attention but the operation went on (for example a rehashed password
    that could not be saved because the accounts file is read-only)."""
