"""The administration core: audited publishing, the overview of versions, quota progress,
invitations with their CSV, compaction, deletion with a preview, the audit log by page."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from questionnaires import QuestionnaireError, load_registry
from responses import administration
from responses.administration import (
    QuotaCell,
    browse_audit,
    compact_store,
    compaction_backlog,
    count_by_version,
    generate_invitations,
    invitation_summary,
    preview_deletion,
    publish_questionnaire,
    questionnaire_overview,
    quota_progress,
)
from responses.errors import ResponseError
from responses.overrides import effective_questionnaire, make_quotas, set_quotas, set_status
from responses.record import new_response_id
from responses.store import ParquetResponseStore
from responses.submission import Paradata, submit_answers
from tests.questionnaires.uploads import BROKEN_YAML, upload_yaml
from tests.responses.test_submission import BASE_YAML, QUOTAS_BY_SEX

ANSWERS = {"province": "bj", "sex": "female", "age": 30, "products": frozenset({"card"})}
CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ParquetResponseStore]:
    folder = tmp_path / "data" / "questionnaires"
    folder.mkdir(parents=True)
    for version, quotas in (("1", ""), ("2", QUOTAS_BY_SEX)):
        (folder / f"qadm-{version}.yaml").write_text(
            BASE_YAML.format(
                id="qadm", version=version, quotas=quotas, invitation_only="false", status="open"
            ),
            encoding="utf-8",
        )
    with ParquetResponseStore(tmp_path / "data") as s:
        yield s


def submit(store, questionnaire, answers=ANSWERS, *, email: str | None = None):
    values = dict(answers)
    if email:
        values["email"] = email
    return submit_answers(
        store,
        questionnaire,
        values,
        response_id=new_response_id(),
        language="zh",
        started_at=None,
        consent_version="c1",
        paradata=Paradata(user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"),
    )


def test_publishing_is_audited(store):
    published = publish_questionnaire(store, upload_yaml("1"), "pilot.yaml", actor="wang.li")
    assert published.path.name == "pilot-1.yaml"
    [entry] = store.state.read_audit(action="publish_questionnaire")
    assert (entry.actor, entry.target) == ("wang.li", "pilot 1")
    assert dict(entry.details) == {
        "file": "pilot.yaml",
        "format": "yaml",
        "sha256": published.sha256,
        "stored_as": "pilot-1.yaml",
        "bytes": len(upload_yaml("1")),
        "sections": 1,
        "questions": 3,
    }
    with pytest.raises(QuestionnaireError) as caught:
        publish_questionnaire(store, BROKEN_YAML.encode(), "pilot.yaml", actor="wang.li")
    assert len(caught.value.problems) == 3
    with pytest.raises(QuestionnaireError, match="already exists"):
        publish_questionnaire(store, upload_yaml("1"), "pilot.yaml", actor="wang.li")
    assert len(store.state.read_audit(action="publish_questionnaire")) == 1
    with pytest.raises(ResponseError, match="give the actor"):
        publish_questionnaire(store, upload_yaml("2"), "pilot.yaml", actor="")


def test_overview_lists_versions_with_status_responses_and_overrides(store):
    registry = load_registry(store.root)
    v1, v2 = registry.get("qadm", "1"), registry.get("qadm", "2")
    submit(store, v1)
    submit(store, v2)
    submit(store, v2, {**ANSWERS, "sex": "male"})
    set_status(store.state, registry, "qadm", "2", "closed", actor="wang.li")
    rows = {(r.id, r.version): r for r in questionnaire_overview(store, registry)}
    assert [k for k in rows if k[0] == "qadm"] == [("qadm", "2"), ("qadm", "1")]
    r2, r1 = rows[("qadm", "2")], rows[("qadm", "1")]
    assert (r2.status, r2.file_status, r2.status_overridden, r2.offered) == (
        "closed",
        "open",
        True,
        False,
    )
    assert (r1.status, r1.offered, r1.responses, r2.responses) == ("open", True, 1, 2)
    assert r1.source == "uploaded" and r1.path.name == "qadm-1.yaml"
    shipped = rows[("cfl", "2026.1")]
    assert shipped.source == "shipped" and shipped.responses == 0 and shipped.offered


def test_quota_progress_counts_cells_with_the_targets_in_force(store):
    registry = load_registry(store.root)
    v2 = registry.get("qadm", "2")
    submit(store, v2)  # 11|2
    submit(store, v2, {**ANSWERS, "sex": "male"})  # 11|1
    submit(store, v2, {**ANSWERS, "sex": "male"})
    submit(store, v2, {**ANSWERS, "province": "sh", "sex": "prefer_not"})  # in no cell
    progress = quota_progress(store, v2, language="en")
    assert progress is not None and progress.by == ("province", "sex")
    cells = {c.cell: c for c in progress.cells}
    assert len(cells) == 62  # 31 provinces x 2 sexes
    assert cells["11|1"] == QuotaCell("11|1", "Beijing / Male", 3, 2)
    assert cells["11|2"] == QuotaCell("11|2", "Beijing / Female", 2, 1)
    assert cells["31|2"].completes == 0 and cells["31|2"].target == 2
    assert progress.target == 3 + 61 * 2 and progress.completes == 3 and progress.full == 0
    assert cells["11|1"].share == pytest.approx(2 / 3)
    # the targets an administrator set take over once the effective questionnaire is given
    quotas = make_quotas(v2, by=["province"], cells={"11": 3})
    set_quotas(store.state, registry, "qadm", "2", quotas, actor="wang.li")
    effective = effective_questionnaire(registry, store.state, "qadm", "2")
    progress = quota_progress(store, effective, language="zh")
    assert progress is not None
    beijing = next(c for c in progress.cells if c.cell == "11")
    assert beijing == QuotaCell("11", "北京市", 3, 3)
    assert (progress.target, progress.completes, progress.full) == (3, 3, 1)
    assert next(c for c in progress.cells if c.cell == "31") == QuotaCell("31", "上海市", None, 1)
    assert quota_progress(store, registry.get("qadm", "1")) is None


def test_counts_by_version_follow_compaction_and_duplicates(store):
    registry = load_registry(store.root)
    v1, v2 = registry.get("qadm", "1"), registry.get("qadm", "2")
    first = submit(store, v1)
    submit(store, v1, {**ANSWERS, "province": "sh"})
    submit(store, v2)
    assert count_by_version(store, "qadm") == {"1": 2, "2": 1}
    copy = first.path.read_bytes()
    store.compact("qadm")
    first.path.write_bytes(copy)  # a row present twice (a crash mid-compaction)
    assert count_by_version(store, "qadm") == {"1": 2, "2": 1}
    assert count_by_version(store, "qadm") == {
        v: store.count("qadm", version=v) for v in ("1", "2")
    }
    assert count_by_version(store, "cfl") == {}


def test_quota_progress_lists_only_useful_cells_when_there_are_many(store, monkeypatch):
    registry = load_registry(store.root)
    v2 = registry.get("qadm", "2")
    submit(store, v2, {**ANSWERS, "province": "gd", "sex": "female"})
    monkeypatch.setattr(administration, "MAX_LISTED_CELLS", 10)
    progress = quota_progress(store, v2, language="en")
    assert progress is not None and progress.truncated
    assert progress.cells == (QuotaCell("11|1", "Beijing / Male", 3, 0),)  # its own target


def test_invitations_are_generated_as_csv_and_counted(store):
    registry = load_registry(store.root)
    at = dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC)
    batch = generate_invitations(
        store.state,
        registry,
        "qadm",
        5,
        actor="wang.li",
        public_url="https://survey.example.org/",
        now=at,
    )
    assert batch.filename == "invitations-qadm-20260301-083000-5.csv"
    rows = list(csv.DictReader(io.StringIO(batch.csv.decode("utf-8"))))
    assert len(rows) == batch.count == 5
    for row in rows:
        assert row["link"] == f"https://survey.example.org/?q=qadm&token={row['token']}"
        assert store.state.token_status("qadm", row["token"]) == "unused"
    assert len({r["token"] for r in rows}) == 5
    store.state.claim_token("qadm", rows[0]["token"], response_id=new_response_id())
    summary = {s.questionnaire_id: s for s in invitation_summary(store.state, registry)}
    qadm = summary["qadm"]
    assert (qadm.generated, qadm.unused, qadm.started, qadm.submitted, qadm.used) == (
        5,
        4,
        1,
        0,
        1,
    )
    assert summary["cfl"].generated == 0
    [entry] = store.state.read_audit(action="generate_tokens")
    assert (entry.actor, entry.target, entry.details["n"]) == ("wang.li", "qadm", 5)
    with pytest.raises(ResponseError, match="there is no questionnaire 'nope'"):
        generate_invitations(store.state, registry, "nope", 1, actor="a", public_url="http://x/")
    with pytest.raises(ResponseError, match="from 1 to 100,000; got 0"):
        generate_invitations(store.state, registry, "qadm", 0, actor="a", public_url="http://x/")


def test_compaction_summarises_and_reports_progress(store):
    registry = load_registry(store.root)
    for _ in range(4):
        submit(store, registry.get("qadm", "1"))
    assert compaction_backlog(store) == {"qadm": 4}
    calls: list[tuple[int, int, str]] = []
    summary = compact_store(store, actor="wang.li", progress=lambda *a: calls.append(a))
    assert calls == [(0, 1, "qadm"), (1, 1, "")]
    assert (summary.files_merged, summary.files_written, summary.rows) == (4, 1, 4)
    assert (summary.duplicates_dropped, summary.conflicts, summary.quarantined) == (0, 0, 0)
    assert compaction_backlog(store) == {"qadm": 0}
    assert store.count("qadm") == 4
    [entry] = store.state.read_audit(action="compact")
    assert entry.actor == "wang.li" and entry.details["files_merged"] == 4
    again = compact_store(store, actor="wang.li")
    assert again.files_merged == 0 and len(store.state.read_audit(action="compact")) == 1


def test_deletion_shows_what_goes_then_removes_it(store):
    registry = load_registry(store.root)
    v1 = registry.get("qadm", "1")
    keep = submit(store, v1)
    gone = submit(store, v1, email="a@example.org")
    store.compact("qadm")  # the row sits in a compacted file with another response
    preview = preview_deletion(store, f"  {gone.response_id} ")
    assert preview.found and not preview.already_deleted and preview.contacts == 1
    [row] = preview.responses
    assert (row.questionnaire_id, row.questionnaire_version, row.province) == ("qadm", "1", 11)
    assert (row.language, row.device_class) == ("zh", "phone")
    assert row.submitted_at == gone.submitted_at
    result = store.delete(gone.response_id, reason="respondent asked by phone", actor="wang.li")
    assert result.found and result.contacts_removed == 1
    ids = store.read("qadm", columns=["response_id"])["response_id"].tolist()
    assert ids == [keep.response_id]
    after = preview_deletion(store, gone.response_id)
    assert not after.found and after.already_deleted and after.responses == ()
    [entry] = store.state.read_audit(action="delete")
    assert entry.target == gone.response_id
    assert entry.details["reason"] == "respondent asked by phone"
    nothing = preview_deletion(store, new_response_id())
    assert not nothing.found and not nothing.already_deleted
    with pytest.raises(ResponseError):
        preview_deletion(store, "not an id")


def test_the_audit_log_by_page_and_day(store):
    state = store.state
    start = dt.datetime(2026, 3, 1, 15, 0, tzinfo=dt.UTC)  # 23:00 in China
    for i in range(120):
        state.append_audit(
            "compact" if i % 3 else "delete",
            actor="wang.li" if i % 2 else "li.na",
            target=f"t{i}",
            now=start + dt.timedelta(hours=i),
        )
    first = browse_audit(state)
    assert (first.total, first.page, first.pages, len(first.entries)) == (120, 1, 3, 50)
    assert first.entries[0].target == "t119"
    last = browse_audit(state, page=9)  # past the end: the last page
    assert (last.page, len(last.entries), last.entries[-1].target) == (3, 20, "t0")
    assert first.actions == ("compact", "delete") and first.actors == ("li.na", "wang.li")
    deletes = browse_audit(state, action="delete", actor="li.na")
    assert deletes.total == 20 and {e.target for e in deletes.entries} == {
        f"t{i}" for i in range(0, 120, 6)
    }
    # 2 March in China is 1 March 16:00 to 2 March 16:00 UTC: entries 1 to 24
    day = browse_audit(
        state, first_day=dt.date(2026, 3, 2), last_day=dt.date(2026, 3, 2), timezone=CST
    )
    assert day.total == 24 and {e.target for e in day.entries} == {f"t{i}" for i in range(1, 25)}
    utc_day = browse_audit(state, first_day=dt.date(2026, 3, 2), last_day=dt.date(2026, 3, 2))
    assert {e.target for e in utc_day.entries} == {f"t{i}" for i in range(9, 33)}
    with pytest.raises(ResponseError, match=r"the last day \(2026-03-01\) is before the first day"):
        browse_audit(state, first_day=dt.date(2026, 3, 2), last_day=dt.date(2026, 3, 1))
    with pytest.raises(ResponseError, match="page must be a whole number"):
        browse_audit(state, page=0)
    empty = browse_audit(state, action="restore")
    assert (empty.total, empty.pages, empty.entries) == (0, 1, ())
