"""Submission: validation before writing, invitations, quotas, idempotent retries, the contact
split, save and resume; hypothesis over the shipped questionnaires against the Parquet files."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from questionnaires import load_questionnaire, parse_questionnaire
from responses.errors import QuotaFullError, ResponseError, StoreWarning
from responses.record import new_response_id
from responses.state import format_resume_code
from responses.store import ParquetResponseStore
from responses.submission import (
    Paradata,
    QuotaStatus,
    claim_invitation,
    count_completes,
    quota_cell,
    quota_status,
    resume,
    save_progress,
    submit_answers,
)
from responses.validation import check_answers, contact_details, from_columns, to_columns
from tests.responses.answers import invalid_answers, valid_answers
from tests.responses.conftest import parquet_files

DEFINITIONS_DIR = Path(__file__).resolve().parents[2] / "questionnaires/definitions"
SHIPPED = {p.stem: load_questionnaire(p) for p in sorted(DEFINITIONS_DIR.glob("*.yaml"))}

BASE_YAML = """\
id: {id}
version: "{version}"
title: {{zh: 配额调查, en: Quota survey}}
languages: [zh, en]
status: {status}
settings:
  invitation_only: {invitation_only}
{quotas}
consent:
  version: "c1"
  text: {{zh: 我同意, en: I agree}}
sections:
  - name: about
    title: {{zh: 基本情况, en: About you}}
    questions:
      - name: province
        type: single_choice
        role: province
        choices: provinces
        label: {{zh: 省份, en: Province}}
      - name: sex
        type: single_choice
        role: sex
        label: {{zh: 性别, en: Sex}}
        special: [prefer_not]
        choices:
          - {{name: male, code: 1, label: {{zh: 男, en: Male}}}}
          - {{name: female, code: 2, label: {{zh: 女, en: Female}}}}
      - name: age
        type: integer
        label: {{zh: 年龄, en: Age}}
        min: 18
        max: 100
      - name: products
        type: multiple_choice
        label: {{zh: 产品, en: Products}}
        exclusive: [none]
        choices:
          - {{name: card, code: 1, label: {{zh: 银行卡, en: Card}}}}
          - {{name: loan, code: 2, label: {{zh: 贷款, en: Loan}}}}
          - {{name: none, code: 9, label: {{zh: 都没有, en: None}}}}
      - name: email
        type: text
        role: contact
        required: false
        label: {{zh: 电子邮箱（抽奖用）, en: Email (for the prize draw)}}
"""

QUOTAS_BY_SEX = """\
  quotas:
    by: [province, sex]
    default: 2
    cells: {"11|1": 3}"""

QUOTAS_BY_PROVINCE = """\
  quotas:
    by: [province]
    default: 2
    cells: {"11": 3}"""


def make(
    *,
    id: str = "qdemo",
    version: str = "1",
    quotas: str = "",
    invitation_only: bool = False,
    status: str = "open",
):
    return parse_questionnaire(
        BASE_YAML.format(
            id=id,
            version=version,
            quotas=quotas,
            invitation_only=str(invitation_only).lower(),
            status=status,
        )
    )


PLAIN = make()
BY_SEX = make(id="qsex", quotas=QUOTAS_BY_SEX)
BY_PROVINCE = make(id="qprov", quotas=QUOTAS_BY_PROVINCE)
INVITE = make(id="qinv", invitation_only=True)
INVITE_QUOTA = make(id="qinvq", invitation_only=True, quotas=QUOTAS_BY_SEX)

ANSWERS: dict[str, Any] = {
    "province": "bj",
    "sex": "female",
    "age": 34,
    "products": {"card", "loan"},
    "email": "wang.xiaoming@example.cn",
}
UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
STARTED = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 3, 1, 8, 12, tzinfo=dt.UTC)


def submit(store, questionnaire, answers=None, **overrides):
    kwargs: dict[str, Any] = {
        "response_id": new_response_id(),
        "language": "zh",
        "started_at": STARTED,
        "consent_version": "c1",
        "paradata": Paradata(
            page_seconds={"about": 41.5},
            user_agent=UA,
            option_order={"products": ["loan", "card", "none"]},
        ),
        "now": NOW,
    }
    kwargs.update(overrides)
    return submit_answers(store, questionnaire, ANSWERS if answers is None else answers, **kwargs)


def stored_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in parquet_files(root))


def rule_of(exc: ResponseError) -> str:
    assert len(exc.details) == 1, exc.details
    return exc.details[0].rule


# --- the happy path ---------------------------------------------------------------------


def test_submit_stores_the_coded_row_and_keeps_contact_details_apart(store):
    receipt = submit(store, PLAIN)
    assert not receipt.duplicate
    assert receipt.province == 11
    assert receipt.path == (
        store.root / "responses/qdemo/1/province=11" / f"{receipt.response_id}.parquet"
    )
    row = pq.read_table(receipt.path).to_pylist()[0]
    columns = to_columns(PLAIN, ANSWERS)
    assert "email" not in columns
    for name, value in columns.items():
        assert row[name] == value, name
    assert row["province"] == 11  # the fixed column holds the province question's code
    assert row["language"] == "zh" and row["consent_version"] == "c1"
    assert row["started_at"] == STARTED and row["submitted_at"] == NOW
    assert row["duration_seconds"] == 720.0
    assert row["device_class"] == "phone"
    assert json.loads(row["page_seconds"]) == {"about": 41.5}
    assert json.loads(row["option_order"]) == {"products": ["loan", "card", "none"]}
    assert row["token_hash"] is None
    assert from_columns(PLAIN, row) == check_answers(PLAIN, {**ANSWERS, "email": None})
    # no contact text and no user agent anywhere in the response files
    data = stored_bytes(store.root)
    assert b"wang.xiaoming" not in data and b"example.cn" not in data
    assert b"iPhone" not in data and b"Mozilla" not in data
    assert "email" not in pq.read_schema(receipt.path).names
    contacts = store.state.list_contacts("qdemo")
    assert [(c.response_id, dict(c.details)) for c in contacts] == [
        (receipt.response_id, {"email": "wang.xiaoming@example.cn"})
    ]
    # the store's own read gives the same row
    frame = store.read("qdemo")
    assert len(frame) == 1 and frame.loc[0, "products__loan"] == 1


def test_an_invalid_submission_writes_nothing(store):
    rid = new_response_id()
    code = save_progress(store.state, PLAIN, {"age": 30}, page="about", response_id=rid)
    bad = {**ANSWERS, "age": 12, "products": {"none", "card"}, "agee": 3}
    with pytest.raises(ResponseError) as info:
        submit(store, PLAIN, bad, response_id=rid, language="en")
    assert [(p.question, p.rule) for p in info.value.details] == [
        ("age", "range"),
        ("products", "exclusive"),
        ("agee", "unknown"),
    ]
    assert info.value.problems == [
        '"Age": Enter a whole number from 18 to 100',
        '"Products": "None" cannot be combined with other options',
        'There is no question "agee" in this questionnaire (did you mean "age"?)',
    ]
    assert parquet_files(store.root) == []
    assert store.state.list_contacts("qdemo") == []
    assert store.state.read_audit() == []
    assert not (store.root / "responses").exists()
    progress = resume(store.state, code)  # the draft is still there
    assert progress is not None and progress.response_id == rid


def test_same_response_id_twice_is_stored_once(store):
    rid = new_response_id()
    first = submit(store, PLAIN, response_id=rid)
    later = NOW + dt.timedelta(seconds=3)
    second = submit(store, PLAIN, response_id=rid, now=later)
    assert not first.duplicate and second.duplicate
    assert second.submitted_at == first.submitted_at
    assert store.count("qdemo") == 1
    assert len(parquet_files(store.root)) == 1
    assert len(store.state.list_contacts("qdemo")) == 1


def test_a_double_click_from_two_threads_is_stored_once(store):
    rid = new_response_id()
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def go():
        barrier.wait()
        results.append(submit(store, PLAIN, response_id=rid))

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.duplicate for r in results) == [False, True, True, True]
    assert store.count("qdemo") == 1
    assert len(store.state.list_contacts("qdemo")) == 1


def test_the_draft_is_removed_on_submission(store):
    rid = new_response_id()
    code = save_progress(store.state, PLAIN, {"age": 30}, page="about", response_id=rid)
    assert resume(store.state, code) is not None
    submit(store, PLAIN, response_id=rid)
    assert resume(store.state, code) is None


def test_closed_questionnaire_and_missing_consent_are_refused(store):
    closed = make(id="qclosed", status="closed")
    with pytest.raises(ResponseError) as info:
        submit(store, closed)
    assert rule_of(info.value) == "closed"
    assert str(info.value) == "本调查已结束，感谢您的关注"
    with pytest.raises(ResponseError) as info:
        submit(store, PLAIN, consent_version=None, language="en")
    assert rule_of(info.value) == "consent"
    assert str(info.value) == ("Please read and agree to the consent statement (version c1) first")
    with pytest.raises(ResponseError, match=r"请先阅读并同意知情同意书（版本 c1）"):
        submit(store, PLAIN, consent_version="c0")
    assert parquet_files(store.root) == []


def test_paradata_must_be_paradata(store):
    with pytest.raises(ResponseError, match=r"paradata must be a responses\.submission\.Paradata"):
        submit(store, PLAIN, paradata={"user_agent": UA})


# --- invitations --------------------------------------------------------------------------


def test_invitation_only_refuses_missing_unknown_and_used_tokens(store):
    token, other = store.state.generate_tokens("qinv", 2, actor="test")
    (foreign,) = store.state.generate_tokens("qdemo", 1, actor="test")
    for bad, rule, zh, en in [
        (
            None,
            "token_missing",
            "本调查仅限受邀者参加：请使用邀请中的链接或邀请码打开问卷",
            "This survey is by invitation only: open it with the link or code in your invitation",
        ),
        (
            "not-a-token",
            "token_unknown",
            "邀请码无效：请检查邀请中的链接，确保完整地打开了它",
            "The invitation code is not valid: check that you opened the link in your "
            "invitation exactly as it was sent",
        ),
        (foreign, "token_unknown", None, None),
    ]:
        for language, text in (("zh", zh), ("en", en)):
            with pytest.raises(ResponseError) as info:
                submit(store, INVITE, token=bad, language=language)
            assert rule_of(info.value) == rule
            if text is not None:
                assert str(info.value) == text
    assert parquet_files(store.root) == []
    receipt = submit(store, INVITE, token=token)
    row = pq.read_table(receipt.path).to_pylist()[0]
    assert row["token_hash"] is not None and token.encode() not in stored_bytes(store.root)
    assert store.state.token_status("qinv", token) == "submitted"
    with pytest.raises(ResponseError) as info:
        submit(store, INVITE, token=token, language="en")
    assert rule_of(info.value) == "token_used"
    assert str(info.value) == (
        "This invitation has already been used: each invitation is for one response"
    )
    # a retry of the stored response with its token is still fine
    assert submit(store, INVITE, token=token, response_id=receipt.response_id).duplicate
    assert store.count("qinv") == 1
    assert store.state.token_status("qinv", other) == "unused"


def test_a_token_is_claimed_once_even_with_two_threads(store):
    (token,) = store.state.generate_tokens("qinv", 1, actor="test")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def go():
        barrier.wait()
        try:
            submit(store, INVITE, token=token)
            outcomes.append("stored")
        except ResponseError as exc:
            outcomes.append(rule_of(exc))

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["stored", "token_used"]
    assert store.count("qinv") == 1


def test_claim_invitation_when_starting(store):
    (token,) = store.state.generate_tokens("qinv", 1, actor="test")
    rid = new_response_id()
    with pytest.raises(ResponseError) as info:
        claim_invitation(store.state, INVITE, None, response_id=rid)
    assert rule_of(info.value) == "token_missing"
    with pytest.raises(ResponseError) as info:
        claim_invitation(store.state, INVITE, "nope", response_id=rid, language="en")
    assert rule_of(info.value) == "token_unknown"
    barrier = threading.Barrier(3)
    won: list[str] = []
    lost: list[str] = []

    def go(response_id: str):
        barrier.wait()
        try:
            claim_invitation(store.state, INVITE, token, response_id=response_id)
            won.append(response_id)
        except ResponseError as exc:
            lost.append(rule_of(exc))

    threads = [threading.Thread(target=go, args=(new_response_id(),)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and lost == ["token_used", "token_used"]
    claim_invitation(store.state, INVITE, token, response_id=won[0])  # a reload: fine
    with pytest.raises(ResponseError) as info:
        submit(store, INVITE, token=token, response_id=rid)
    assert rule_of(info.value) == "token_used"
    assert submit(store, INVITE, token=token, response_id=won[0]).response_id == won[0]


# --- quotas -------------------------------------------------------------------------------


def test_quota_status_without_quotas_or_without_a_cell(store):
    assert quota_status(store, PLAIN, ANSWERS) == QuotaStatus(None, None, 0, False)
    assert quota_status(store, BY_SEX, {"province": "bj"}) == QuotaStatus(None, None, 0, False)
    assert quota_cell(BY_SEX, {**ANSWERS, "sex": "prefer_not"}) is None
    assert quota_cell(BY_SEX, {**ANSWERS, "sex": "other"}) is None
    assert quota_cell(BY_SEX, ANSWERS) == "11|2"
    assert quota_cell(BY_PROVINCE, {"province": "sh"}) == "31"


@pytest.mark.parametrize("by_sex", [True, False], ids=["duckdb", "file-names"])
def test_quota_counts_are_exact(store, by_sex):
    quotas = (QUOTAS_BY_SEX if by_sex else QUOTAS_BY_PROVINCE).replace("default: 2", "default: 99")
    questionnaire = make(id="qcount", quotas=quotas.replace("3}", "99}"))
    plan = [("bj", "female")] * 2 + [("bj", "male")] * 3 + [("sh", "female")]
    for province, sex in plan:
        submit(store, questionnaire, {**ANSWERS, "province": province, "sex": sex})

    def completes(province: str, sex: str) -> int:
        return quota_status(store, questionnaire, {"province": province, "sex": sex}).completes

    expected = {
        ("bj", "female"): 2 if by_sex else 5,
        ("bj", "male"): 3 if by_sex else 5,
        ("sh", "female"): 1,
        ("sh", "male"): 0 if by_sex else 1,
        ("gd", "female"): 0,
    }
    assert {k: completes(*k) for k in expected} == expected
    # after compaction, and with a row present twice (a crash mid-compaction) still exact
    keep = parquet_files(store.root)[0]
    copy = keep.read_bytes()
    store.compact(questionnaire.id)
    assert {k: completes(*k) for k in expected} == expected
    keep.write_bytes(copy)
    assert {k: completes(*k) for k in expected} == expected
    # leaving one response out
    rid = keep.stem
    row = pq.read_table(keep).to_pylist()[0]
    answers = from_columns(questionnaire, row)
    status = quota_status(store, questionnaire, answers, exclude_response_id=rid)
    assert status.completes == quota_status(store, questionnaire, answers).completes - 1


@pytest.mark.parametrize("by_sex", [True, False], ids=["cells", "file-names"])
def test_quota_counts_follow_new_and_deleted_responses(store, by_sex):
    quotas = (QUOTAS_BY_SEX if by_sex else QUOTAS_BY_PROVINCE).replace("default: 2", "default: 99")
    questionnaire = make(id="qlive", quotas=quotas.replace("3}", "99}"))
    receipts = [submit(store, questionnaire) for _ in range(3)]
    assert quota_status(store, questionnaire, ANSWERS).completes == 3  # fills the caches
    receipts.append(submit(store, questionnaire))
    assert quota_status(store, questionnaire, ANSWERS).completes == 4
    store.delete(receipts[0].response_id, reason="asked", actor="test")
    assert quota_status(store, questionnaire, ANSWERS).completes == 3
    store.compact("qlive")
    assert quota_status(store, questionnaire, ANSWERS).completes == 3
    store.delete(receipts[1].response_id, reason="asked", actor="test")  # rewrites the file
    assert quota_status(store, questionnaire, ANSWERS).completes == 2
    submit(store, questionnaire)
    assert quota_status(store, questionnaire, ANSWERS).completes == 3
    store.compact("qlive")
    assert quota_status(store, questionnaire, ANSWERS).completes == 3


def test_a_full_cell_refuses_and_writes_nothing(store):
    female = {**ANSWERS, "sex": "female"}
    first = submit(store, BY_SEX, female)
    submit(store, BY_SEX, female)
    assert quota_status(store, BY_SEX, female) == QuotaStatus("11|2", 2, 2, True)
    before = parquet_files(store.root)
    for language, text in (
        ("zh", "感谢您的参与！您所在群体的问卷已经收满，本次调查对您所在的群体已关闭"),
        (
            "en",
            "Thank you for taking part! We have all the responses we need from your group, "
            "so the survey is now closed for it",
        ),
    ):
        with pytest.raises(QuotaFullError) as info:
            submit(store, BY_SEX, female, language=language)
        assert isinstance(info.value, ResponseError)
        assert rule_of(info.value) == "quota_full"
        assert str(info.value) == text
        assert info.value.status == QuotaStatus("11|2", 2, 2, True)
    assert parquet_files(store.root) == before
    assert len(store.state.list_contacts("qsex")) == 2
    # a retry of a response already counted is not refused
    assert submit(store, BY_SEX, female, response_id=first.response_id).duplicate
    # the listed cell has its own target; other cells the default
    for _ in range(3):
        submit(store, BY_SEX, {**ANSWERS, "sex": "male"})
    with pytest.raises(QuotaFullError):
        submit(store, BY_SEX, {**ANSWERS, "sex": "male"})
    submit(store, BY_SEX, {**ANSWERS, "province": "sh"})
    # no cell for a special answer: no quota applies
    submit(store, BY_SEX, {**ANSWERS, "sex": "prefer_not"})
    assert store.count("qsex") == 7


def test_a_full_cell_does_not_use_up_the_invitation(store):
    tokens = store.state.generate_tokens("qinvq", 3, actor="test")
    submit(store, INVITE_QUOTA, token=tokens[0])
    submit(store, INVITE_QUOTA, token=tokens[1])
    with pytest.raises(QuotaFullError):
        submit(store, INVITE_QUOTA, token=tokens[2])
    assert store.state.token_status("qinvq", tokens[2]) == "unused"


def test_concurrent_submissions_never_overfill_a_cell(store):
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def go():
        barrier.wait()
        try:
            submit(store, BY_SEX)
            outcomes.append("stored")
        except QuotaFullError:
            outcomes.append("full")

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["full"] * 4 + ["stored"] * 2
    assert store.count("qsex") == 2


def test_quotas_count_every_version(store):
    v2 = make(id="qsex", version="2", quotas=QUOTAS_BY_SEX)
    submit(store, BY_SEX)
    submit(store, v2)
    assert quota_status(store, v2, ANSWERS).completes == 2
    with pytest.raises(QuotaFullError):
        submit(store, v2)


def test_a_column_no_response_has_counts_zero(store):
    submit(store, PLAIN)
    assert count_completes(store, PLAIN, {"province": 11, "nothing_here": 1}) == 0
    assert count_completes(store, PLAIN, {"province": 11, "age": 34}) == 1
    assert count_completes(store, PLAIN, {"province": 31, "age": 34}) == 0


def test_an_unreadable_file_falls_back_to_the_stores_careful_read(store):
    submit(store, BY_SEX)
    bad = store.root / "responses/qsex/1/province=11" / f"{new_response_id()}.parquet"
    bad.write_bytes(b"PAR1 not really parquet")
    with pytest.warns(StoreWarning, match="moved to"):
        status = quota_status(store, BY_SEX, ANSWERS)
    assert status.completes == 1
    assert not bad.exists()


# --- save and resume ----------------------------------------------------------------------


def test_save_and_resume_round_trip(store):
    rid = new_response_id()
    answers = {
        "province": "bj",
        "age": "3",  # not valid yet: drafts keep what was typed
        "products": ["loan", "card"],
        "email": "Cafe\u0301\x00 ",
        "not_a_question": 1,
        "sex": object(),
    }
    code = save_progress(
        store.state,
        PLAIN,
        answers,
        page="about",
        response_id=rid,
        language="en",
        started_at=STARTED,
        now=NOW,
    )
    progress = resume(store.state, format_resume_code(code).lower().replace("0", "o"), now=NOW)
    assert progress is not None
    assert progress.response_id == rid
    assert (progress.questionnaire_id, progress.questionnaire_version) == ("qdemo", "1")
    assert dict(progress.answers) == {
        "province": "bj",
        "age": "3",
        "products": frozenset({"loan", "card"}),
        "email": "Café",
    }
    assert progress.page == "about" and progress.language == "en"
    assert progress.started_at == STARTED and progress.saved_at == NOW
    assert progress.resume_code == code and not progress.has_token
    # saving again with the code keeps the code
    again = save_progress(
        store.state, PLAIN, {"age": 40}, page=None, response_id=rid, resume_code=code, now=NOW
    )
    assert again == code
    assert dict(resume(store.state, code, now=NOW).answers) == {"age": 40}  # type: ignore[union-attr]
    # expired
    later = NOW + dt.timedelta(days=31)
    assert resume(store.state, code, now=later) is None
    assert resume(store.state, "0000-0000-0000") is None
    assert resume(store.state, "") is None


def test_a_draft_keeps_the_consent_version_agreed_to(store):
    rid = new_response_id()
    code = save_progress(
        store.state, PLAIN, {"age": 30}, page="about", response_id=rid, consent_version="c1"
    )
    progress = resume(store.state, code)
    assert progress is not None and progress.consent_version == "c1"
    # saving again replaces it, and None (no consent agreed) is kept as None
    save_progress(store.state, PLAIN, {"age": 31}, page="about", response_id=rid, resume_code=code)
    progress = resume(store.state, code)
    assert progress is not None and progress.consent_version is None
    assert dict(progress.answers) == {"age": 31}


@pytest.mark.parametrize("extra", [{}, {"consent_version": 3}, {"consent_version": None}])
def test_an_older_draft_without_a_consent_version_resumes_with_none(store, extra):
    """Drafts written before the consent version was kept have no such key (or, hand-edited,
    a value that is not a version): resuming works and says no version was recorded."""
    rid = new_response_id()
    data = {
        "format": 1,
        "answers": {"age": 30},
        "page": "about",
        "language": "en",
        "started_at": STARTED.isoformat(),
        **extra,
    }
    code = store.state.save_draft("qdemo", "1", data, response_id=rid)
    progress = resume(store.state, code)
    assert progress is not None
    assert progress.consent_version is None
    assert progress.response_id == rid and dict(progress.answers) == {"age": 30}
    assert progress.page == "about" and progress.started_at == STARTED


def test_save_progress_refuses_a_consent_version_that_is_not_a_string(store):
    version: Any = 2
    with pytest.raises(ResponseError, match=r"consent_version must be .* or None; got int\."):
        save_progress(
            store.state,
            PLAIN,
            {},
            page=None,
            response_id=new_response_id(),
            consent_version=version,
        )


def test_resume_by_invitation_token(store):
    (token,) = store.state.generate_tokens("qinv", 1, actor="test")
    rid = new_response_id()
    claim_invitation(store.state, INVITE, token, response_id=rid)
    save_progress(store.state, INVITE, {"age": 50}, page="about", response_id=rid, token=token)
    progress = resume(store.state, token, questionnaire_id="qinv")
    assert progress is not None and progress.response_id == rid and progress.has_token
    assert progress.resume_code is None
    assert resume(store.state, token) is None  # a token needs the questionnaire id
    assert resume(store.state, token, questionnaire_id="qdemo") is None


def test_resume_attempts_are_limited(store):
    for _ in range(10):
        assert resume(store.state, "AAAA-AAAA-AAAA", attempt_key="session-1") is None
    with pytest.raises(ResponseError) as info:
        resume(store.state, "AAAA-AAAA-AAAA", attempt_key="session-1", language="en")
    assert rule_of(info.value) == "too_many_attempts"
    assert str(info.value) == "Too many attempts; please try again in 15 minutes"
    assert resume(store.state, "AAAA-AAAA-AAAA", attempt_key="session-2") is None


def test_save_progress_refuses_an_unknown_page(store):
    with pytest.raises(ResponseError, match="page 'abut' is not a section of qdemo: use one of"):
        save_progress(store.state, PLAIN, {}, page="abut", response_id=new_response_id())


# --- properties over the shipped questionnaires ---------------------------------------------

PROPERTY = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory):
    with ParquetResponseStore(tmp_path_factory.mktemp("shared") / "data") as s:
        yield s


def _consent(q) -> str | None:
    return q.consent.version if q.consent is not None else None


@pytest.mark.parametrize("name", sorted(SHIPPED))
@PROPERTY
@given(data=st.data())
def test_valid_answers_are_stored_and_read_back_as_coded(shared_store, name, data):
    q = SHIPPED[name]
    answers = data.draw(valid_answers(q))
    language = data.draw(st.sampled_from(q.languages))
    receipt = submit_answers(
        shared_store,
        q,
        answers,
        response_id=new_response_id(),
        language=language,
        started_at=STARTED,
        consent_version=_consent(q),
        paradata=Paradata(user_agent=UA),
        now=NOW,
    )
    row = pq.read_table(receipt.path).to_pylist()[0]
    columns = to_columns(q, answers)
    assert {k: row[k] for k in columns} == columns
    assert from_columns(q, row, contact=contact_details(q, answers)) == answers
    province = q.role("province")
    if province is not None and province.name in answers:
        assert row["province"] == columns[province.name] == receipt.province


@pytest.mark.parametrize("name", sorted(SHIPPED))
@PROPERTY
@given(data=st.data())
def test_invalid_answers_raise_only_response_error_and_write_nothing(shared_store, name, data):
    q = SHIPPED[name]
    broken, question, kind = data.draw(invalid_answers(q))
    before = len(parquet_files(shared_store.root))
    with pytest.raises(ResponseError) as info:
        submit_answers(
            shared_store,
            q,
            broken,
            response_id=new_response_id(),
            language="en",
            started_at=STARTED,
            consent_version=_consent(q),
            paradata=Paradata(),
            now=NOW,
        )
    assert type(info.value) is ResponseError
    assert question in info.value.questions, (kind, info.value.problems)
    assert len(parquet_files(shared_store.root)) == before
