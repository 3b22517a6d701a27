"""Passwords: the policy a new password must meet, normalisation, and Argon2id hashing.

Policy (:func:`check_password`), applied to the password after Unicode NFKC normalisation:

- at least ``password_min_length`` characters (default 12; the setting cannot go below 8) and
  at most :data:`MAX_PASSWORD_LENGTH`;
- not the username (compared case-insensitively);
- not on the shipped list of the most common passwords (``access/data/common_passwords.txt``,
  8,354 entries from Django's list, see ``common_passwords.SOURCE.md``; compared
  case-insensitively);
- no control characters (line breaks, tabs, NUL, unpaired surrogates).

There are no composition rules (a digit, a capital ...): length and the common-password list do
more for strength and less harm to usability (NIST SP 800-63B, section 3.1.1.2).

Hashing: Argon2id (RFC 9106) through ``argon2-cffi``, 16-byte random salt, 32-byte tag,
stored in the PHC string format (``$argon2id$v=19$m=...,t=...,p=...$salt$hash``), which
carries its own parameters, so a change of cost settings is noticed and the password is
rehashed at the next successful sign-in. The default cost (``m = 19456`` KiB = 19 MiB,
``t = 2``, ``p = 1``) is the OWASP Password Storage Cheat Sheet's recommended minimum for
Argon2id; one verification takes about 25 ms on the project's 2-core machine (median,
``bench/bench_access.py``), more under load. RFC 9106's second recommended option
(``m = 65536``, ``t = 3``, ``p = 4``) costs about five times more (about 135 ms).
"""

from __future__ import annotations

import functools
import secrets
import unicodedata
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from access.errors import PasswordPolicyError
from access.settings import AccessSettings

__all__ = [
    "COMMON_PASSWORDS_FILE",
    "MAX_PASSWORD_LENGTH",
    "check_password",
    "common_passwords",
    "dummy_hash",
    "hash_password",
    "make_hasher",
    "needs_rehash",
    "normalize_password",
    "verify_password",
]

COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "data" / "common_passwords.txt"
#: Longest password accepted (characters, after normalisation).
MAX_PASSWORD_LENGTH = 1024
HASH_PREFIX = "$argon2id$"


def normalize_password(password: str) -> str:
    """The password as it is checked and hashed: Unicode NFKC normalisation.

    NFKC makes the same password typed on different keyboards or input methods the same
    string (full-width ``ＡＢＣ１`` and ``ABC1``; composed and decomposed accents).
    """
    return unicodedata.normalize("NFKC", password)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, NFKC-normalised and case-folded."""
    text = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8")
    return frozenset(
        unicodedata.normalize("NFKC", line).casefold() for line in text.splitlines() if line
    )


def check_password(password: str, *, username: str, min_length: int = 12) -> str:
    """Check a new password against the policy and return it normalised (ready to hash).

    Parameters
    ----------
    password
        The password as typed.
    username
        The account's username (the password may not be the same).
    min_length
        Fewest characters allowed (the ``password_min_length`` setting).

    Returns
    -------
    str
        The NFKC-normalised password.

    Raises
    ------
    PasswordPolicyError
        Listing every rule the password breaks, each with what to do instead.
    """
    if not isinstance(password, str):
        raise PasswordPolicyError("The password must be text.")
    text = normalize_password(password)
    problems: list[str] = []
    n = len(text)
    if n < min_length:
        problems.append(
            f"The password has {n} characters; it needs at least {min_length}. "
            "Use a longer one, e.g. four or more unrelated words."
        )
    if n > MAX_PASSWORD_LENGTH:
        problems.append(
            f"The password has {n} characters; at most {MAX_PASSWORD_LENGTH} are allowed. "
            "Use a shorter one."
        )
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text):
        problems.append(
            "The password contains a control character (a line break, a tab or an invalid "
            "character). Use printable characters only."
        )
    folded = text.casefold()
    if username and folded == username.casefold():
        problems.append(
            "The password is the same as the username. Choose one that has nothing to do "
            "with the username."
        )
    elif folded in common_passwords():
        problems.append(
            "The password is on the list of the most common passwords. Choose one that is "
            "hard to guess, e.g. four or more unrelated words."
        )
    if problems:
        raise PasswordPolicyError(problems)
    return text


def make_hasher(settings: AccessSettings) -> PasswordHasher:
    """An Argon2id hasher with the cost settings (16-byte salt, 32-byte tag)."""
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        hash_len=32,
        salt_len=16,
    )


def hash_password(password: str, *, settings: AccessSettings) -> str:
    """Hash an already checked and normalised password (see :func:`check_password`)."""
    return make_hasher(settings).hash(password)


def verify_password(password_hash: str, password: str, *, settings: AccessSettings) -> bool:
    """Whether ``password`` (normalised here) matches ``password_hash``.

    A malformed hash, a password that cannot be encoded or one longer than
    :data:`MAX_PASSWORD_LENGTH` counts as no match; a hash is still computed, so the time taken
    does not tell these cases apart.
    """
    hasher = make_hasher(settings)
    text = normalize_password(password)
    try:
        text.encode("utf-8")
        too_long = len(text) > MAX_PASSWORD_LENGTH
    except UnicodeEncodeError:
        too_long = True
    if too_long:
        # No stored password can be like this: spend the same time, then refuse.
        _safe_verify(hasher, dummy_hash(settings), "-")
        return False
    return _safe_verify(hasher, password_hash, text)


def _safe_verify(hasher: PasswordHasher, password_hash: str, text: str) -> bool:
    try:
        return hasher.verify(password_hash, text)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str, *, settings: AccessSettings) -> bool:
    """Whether a stored hash was made with other parameters than the settings' ones."""
    try:
        return make_hasher(settings).check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


@functools.cache
def _dummy_hash(time_cost: int, memory_kib: int, parallelism: int) -> str:
    hasher = PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism,
        hash_len=32, salt_len=16,
    )
    return hasher.hash(secrets.token_urlsafe(32))


def dummy_hash(settings: AccessSettings) -> str:
    """A hash of a random secret with the current parameters, made once per process.

    Sign-in verifies against it when the username is unknown, so that an unknown username
    costs the same time as a wrong password and usernames cannot be found by timing.
    """
    return _dummy_hash(
        settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
    )
