"""Abuse by bots and scripts: size limits on every input, rate limits on submissions, draft
saves and resume-code guesses, and secrets that cannot be guessed and are never stored raw."""

from __future__ import annotations

import datetime as dt
import math
import string
from collections import Counter

import pytest

from questionnaires import QuestionnaireError, parse_questionnaire
from responses.errors import ResponseError
from responses.record import (
    MAX_TEXT_ANSWER,
    ResponseRecord,
    hash_token,
    new_response_id,
)
from responses.state import (
    RESUME_CODE_ALPHABET,
    RESUME_CODE_BITS,
    format_resume_code,
    new_resume_code,
)
from responses.submission import (
    DRAFT_SAVE_LIMIT,
    SUBMIT_ATTEMPT_LIMIT,
    SUBMIT_ATTEMPT_WINDOW,
    resume,
    save_progress,
)
from responses.validation import MAX_SUBMISSION_BYTES
from tests.security.conftest import (
    ANSWERS,
    INVITED,
    NOW,
    SURVEY,
    SURVEY_YAML,
    every_file_bytes,
    submit,
)


def rules(exc: pytest.ExceptionInfo[ResponseError]) -> list[str]:
    return [p.rule for p in exc.value.details]


def stored(store) -> int:
    return len(list(store.responses_dir.rglob("*.parquet"))) if store.responses_dir.exists() else 0


# --- size limits ------------------------------------------------------------------------------


def test_text_over_its_max_length_is_refused_and_nothing_is_stored(store):
    with pytest.raises(ResponseError) as exc:
        submit(store, answers={**ANSWERS, "comment": "长" * 5001})
    assert rules(exc) == ["max_length"]
    assert exc.value.details[0].question == "comment"
    assert stored(store) == 0
    submit(store, answers={**ANSWERS, "comment": "长" * 5000})  # the limit itself is fine
    assert stored(store) == 1


def test_a_questionnaire_cannot_allow_longer_texts_than_the_platform():
    text = SURVEY_YAML.format(id="big", invitation_only="false").replace(
        "max_length: 5000", "max_length: 5001"
    )
    with pytest.raises(QuestionnaireError, match="max_length"):
        parse_questionnaire(text)


def test_the_store_itself_refuses_an_oversized_text():
    """Defence in depth: a record built without validation still cannot carry a huge text."""
    with pytest.raises(ResponseError, match=str(MAX_TEXT_ANSWER)):
        ResponseRecord("secq", "1", {"comment": "x" * (MAX_TEXT_ANSWER + 1)})


@pytest.mark.parametrize(
    "age", [17, 101, 18.5, 10**30, -(10**30), math.inf, "18; DROP TABLE", True, [18]]
)
def test_numbers_out_of_range_or_of_the_wrong_kind_are_refused(store, age):
    with pytest.raises(ResponseError) as exc:
        submit(store, answers={**ANSWERS, "age": age})
    assert [p.question for p in exc.value.details] == ["age"]
    assert stored(store) == 0


def test_a_submission_over_256_kib_is_refused_before_anything_else(store):
    """300 unknown names of 1 KB each: one ``size`` problem, not 300 ``unknown`` ones."""
    answers = {**ANSWERS, **{f"x{i}": "y" * 1024 for i in range(300)}}
    with pytest.raises(ResponseError) as exc:
        submit(store, answers=answers)
    assert rules(exc) == ["size"]
    assert "256" in str(exc.value)
    assert MAX_SUBMISSION_BYTES == 256 * 1024
    assert stored(store) == 0


def test_a_draft_over_256_kib_is_refused(store):
    rid = new_response_id()
    big = {"comment": "z" * (MAX_SUBMISSION_BYTES + 1)}
    with pytest.raises(ResponseError) as exc:
        save_progress(store.state, SURVEY, big, page="about", response_id=rid)
    assert rules(exc) == ["size"]
    # texts over max_length in a draft are kept only up to the draft limit: a legitimate
    # draft of the longest answers is accepted
    code = save_progress(store.state, SURVEY, {"comment": "z" * 5000}, page=None, response_id=rid)
    assert len(code) == 12


# --- rate limits ------------------------------------------------------------------------------


def test_submissions_are_limited_per_session(store):
    key = "session-abc"
    for _ in range(SUBMIT_ATTEMPT_LIMIT):
        with pytest.raises(ResponseError) as exc:
            submit(store, answers={"province": "bj"}, attempt_key=key)  # age missing
        assert rules(exc) == ["required"]
    with pytest.raises(ResponseError) as exc:
        submit(store, attempt_key=key)  # valid answers, but one attempt too many
    assert rules(exc) == ["too_many_attempts"]
    assert stored(store) == 0
    submit(store, attempt_key="another-session")  # other sessions are not affected
    later = NOW + SUBMIT_ATTEMPT_WINDOW + dt.timedelta(seconds=1)
    submit(store, attempt_key=key, now=later)  # and the window passes
    assert stored(store) == 2


def test_submissions_are_limited_per_invitation_token_across_sessions(store):
    (token,) = store.state.generate_tokens("secinv", 1, actor="test")
    for i in range(SUBMIT_ATTEMPT_LIMIT):
        with pytest.raises(ResponseError):
            submit(store, INVITED, answers={"province": "bj"}, token=token, attempt_key=f"s{i}")
    with pytest.raises(ResponseError) as exc:
        submit(store, INVITED, token=token, attempt_key="fresh-session")
    assert rules(exc) == ["too_many_attempts"]
    assert store.state.token_status("secinv", token) == "unused"


def test_draft_saves_are_limited_per_session(store):
    rid = new_response_id()
    code = None
    for _ in range(DRAFT_SAVE_LIMIT):
        code = save_progress(
            store.state, SURVEY, ANSWERS, page="about", response_id=rid, resume_code=code,
            attempt_key="k", now=NOW,
        )
    with pytest.raises(ResponseError) as exc:
        save_progress(store.state, SURVEY, ANSWERS, page="about", response_id=rid,
                      attempt_key="k", now=NOW)
    assert rules(exc) == ["too_many_attempts"]


def test_resume_code_guessing_is_limited_per_session(store):
    rid = new_response_id()
    code = save_progress(store.state, SURVEY, ANSWERS, page="about", response_id=rid, now=NOW)
    for _ in range(10):
        assert resume(store.state, new_resume_code(), attempt_key="guesser", now=NOW) is None
    with pytest.raises(ResponseError) as exc:
        resume(store.state, code, attempt_key="guesser", now=NOW)  # even the right one
    assert rules(exc) == ["too_many_attempts"]
    found = resume(store.state, format_resume_code(code).lower(), attempt_key="owner", now=NOW)
    assert found is not None and found.response_id == rid


# --- secrets: long enough, random, stored only as hashes ---------------------------------------


def test_invitation_tokens_carry_128_bits_and_never_start_with_a_formula_character(store):
    tokens = store.state.generate_tokens("secinv", 5000, actor="test")
    alphabet = set(string.ascii_letters + string.digits + "-_")
    assert len(set(tokens)) == 5000
    assert all(len(t) == 22 and set(t) <= alphabet for t in tokens)  # 22 x 6 bits > 128 bits
    assert not any(t[0] in "-+=@" for t in tokens)  # a spreadsheet would read a formula
    # every symbol turns up at every inner position about equally often (a biased generator
    # would not): 5000 draws of 64 symbols, ~78 each
    for position in (1, 10, 20):
        counts = Counter(t[position] for t in tokens)
        assert len(counts) == 64 and min(counts.values()) > 30, position


def test_resume_codes_carry_60_bits():
    codes = [new_resume_code() for _ in range(5000)]
    assert RESUME_CODE_BITS == 60 == len(codes[0]) * math.log2(len(RESUME_CODE_ALPHABET))
    assert len(set(codes)) == 5000
    counts = Counter(c for code in codes for c in code)
    assert set(counts) == set(RESUME_CODE_ALPHABET)
    # with a million live drafts and the rate limit (10 guesses per 15 minutes per session),
    # one guess finds some draft with probability 1e6 / 2**60
    assert 1e6 / 2**RESUME_CODE_BITS < 1e-12


def test_response_ids_carry_128_bits():
    ids = {new_response_id() for _ in range(5000)}
    assert len(ids) == 5000 and {len(i) for i in ids} == {22}


def test_tokens_and_resume_codes_are_stored_only_as_hashes(store):
    """Nothing in the data folder holds a raw token or code, so every look-up is by hash
    (hash-then-lookup: timing reveals nothing about other secrets)."""
    tokens = store.state.generate_tokens("secinv", 20, actor="test")
    submit(store, INVITED, token=tokens[0])
    rid = new_response_id()
    code = save_progress(store.state, SURVEY, ANSWERS, page="about", response_id=rid,
                         token=tokens[1])
    store.state.checkpoint()
    blob = every_file_bytes(store.root)
    for secret in [*tokens, code, format_resume_code(code)]:
        assert secret.encode() not in blob
    assert hash_token(tokens[0]).encode() in blob  # the response keeps the hash only


def test_the_ip_address_and_user_agent_are_never_stored(store):
    submit(store)
    table = store.read_table("secq").table
    assert "ip" not in " ".join(table.column_names).lower()
    assert b"Pixel 8" not in every_file_bytes(store.root)  # only the device class
    assert table.column("device_class").to_pylist() == ["phone"]
