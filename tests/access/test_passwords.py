"""Tests of access.passwords: the policy's exact messages, normalisation, Argon2id hashing."""

from __future__ import annotations

import hashlib

import argon2
import pytest

from access.errors import PasswordPolicyError
from access.passwords import (
    COMMON_PASSWORDS_FILE,
    MAX_PASSWORD_LENGTH,
    check_password,
    common_passwords,
    dummy_hash,
    hash_password,
    needs_rehash,
    normalize_password,
    verify_password,
)
from access.settings import AccessSettings
from tests.access.support import GOOD_PASSWORD

SHORT = (
    "The password has {n} characters; it needs at least {m}. "
    "Use a longer one, e.g. four or more unrelated words."
)
SAME_AS_USERNAME = (
    "The password is the same as the username. Choose one that has nothing to do with the "
    "username."
)
COMMON = (
    "The password is on the list of the most common passwords. Choose one that is hard to "
    "guess, e.g. four or more unrelated words."
)
CONTROL = (
    "The password contains a control character (a line break, a tab or an invalid "
    "character). Use printable characters only."
)


def policy_problems(password: str, *, username: str = "wang.li", min_length: int = 12) -> list[str]:
    with pytest.raises(PasswordPolicyError) as info:
        check_password(password, username=username, min_length=min_length)
    return info.value.problems


def test_too_short_message_is_exact() -> None:
    assert policy_problems("abcdefghijk") == [SHORT.format(n=11, m=12)]


def test_minimum_length_is_a_setting() -> None:
    assert check_password("tiger lily", username="wang.li", min_length=8) == "tiger lily"
    assert policy_problems("tiger lily", min_length=16) == [SHORT.format(n=10, m=16)]


def test_password_equal_to_username_is_refused_whatever_the_case() -> None:
    assert policy_problems("Wang.Li.Statistics", username="wang.li.statistics") == [
        SAME_AS_USERNAME
    ]


def test_common_password_is_refused_case_insensitively() -> None:
    assert policy_problems("Qwerty123456") == [COMMON]
    assert policy_problems("PASSWORD1234") == [COMMON]


def test_control_characters_are_refused() -> None:
    assert policy_problems("correct horse\tbattery") == [CONTROL]
    assert policy_problems("correct horse\nbattery") == [CONTROL]


def test_all_problems_are_listed_on_one_line() -> None:
    with pytest.raises(PasswordPolicyError) as info:
        check_password("qwerty12", username="x", min_length=12)
    assert info.value.problems == [SHORT.format(n=8, m=12), COMMON]
    assert str(info.value) == SHORT.format(n=8, m=12) + " " + COMMON
    assert "\n" not in str(info.value)


def test_too_long_is_refused() -> None:
    problems = policy_problems("a" * (MAX_PASSWORD_LENGTH + 1))
    assert problems == [
        f"The password has {MAX_PASSWORD_LENGTH + 1} characters; at most "
        f"{MAX_PASSWORD_LENGTH} are allowed. Use a shorter one."
    ]


def test_length_and_checks_apply_after_nfkc() -> None:
    # Full-width letters and digits (as typed with a Chinese input method) are the same
    # password as their ASCII forms, so a full-width common password is still common.
    assert normalize_password("ＱＷＥＲＴＹ１２３４５６") == "QWERTY123456"
    assert policy_problems("ＱＷＥＲＴＹ１２３４５６") == [COMMON]
    # A ligature counts as two letters after NFKC.
    assert len(check_password("ﬁﬁﬁﬁﬁﬁ horse", username="x")) == 18


def test_good_password_comes_back_normalised() -> None:
    assert check_password("ＡＢＣ " + GOOD_PASSWORD, username="wang.li") == "ABC " + GOOD_PASSWORD
    chinese = "金融素养调查平台的密码很长"
    assert check_password(chinese, username="wang.li") == chinese


def test_shipped_common_list_and_its_source() -> None:
    entries = common_passwords()
    assert len(entries) == 8354
    assert "password1234" in entries and "qwertyuiop123" in entries
    assert all(len(e) >= 8 for e in entries)
    source = COMMON_PASSWORDS_FILE.with_name("common_passwords.SOURCE.md").read_text("utf-8")
    digest = hashlib.sha256(COMMON_PASSWORDS_FILE.read_bytes()).hexdigest()
    assert digest in source  # the documented output hash is this file's
    assert "Django" in source and "BSD" in source


def test_hash_is_argon2id_with_the_settings_parameters() -> None:
    settings = AccessSettings(argon2_time_cost=2, argon2_memory_kib=64, argon2_parallelism=2)
    stored = hash_password(GOOD_PASSWORD, settings=settings)
    assert stored.startswith("$argon2id$v=19$m=64,t=2,p=2$")
    params = argon2.extract_parameters(stored)
    assert (params.salt_len, params.hash_len) == (16, 32)
    assert GOOD_PASSWORD not in stored
    assert hash_password(GOOD_PASSWORD, settings=settings) != stored  # random salt
    assert verify_password(stored, GOOD_PASSWORD, settings=settings)
    assert not verify_password(stored, GOOD_PASSWORD + "!", settings=settings)


def test_verification_normalises_like_hashing() -> None:
    settings = AccessSettings(argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1)
    stored = hash_password(normalize_password("ＡＢＣ horse battery"), settings=settings)
    assert verify_password(stored, "ABC horse battery", settings=settings)
    assert verify_password(stored, "ＡＢＣ horse battery", settings=settings)


def test_verification_never_raises() -> None:
    settings = AccessSettings(argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1)
    assert not verify_password("not a hash", GOOD_PASSWORD, settings=settings)
    assert not verify_password(dummy_hash(settings), "\ud800 lone surrogate", settings=settings)
    assert not verify_password(dummy_hash(settings), "x" * 100_000, settings=settings)


def test_needs_rehash_follows_the_parameters() -> None:
    cheap = AccessSettings(argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1)
    dearer = AccessSettings(argon2_time_cost=2, argon2_memory_kib=8, argon2_parallelism=1)
    stored = hash_password(GOOD_PASSWORD, settings=cheap)
    assert not needs_rehash(stored, settings=cheap)
    assert needs_rehash(stored, settings=dearer)
    assert needs_rehash("garbage", settings=cheap)


def test_dummy_hash_uses_the_current_parameters() -> None:
    cheap = AccessSettings(argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1)
    dearer = AccessSettings(argon2_time_cost=2, argon2_memory_kib=16, argon2_parallelism=1)
    assert dummy_hash(cheap).startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert dummy_hash(dearer).startswith("$argon2id$v=19$m=16,t=2,p=1$")
    assert dummy_hash(cheap) == dummy_hash(cheap)  # made once per process
