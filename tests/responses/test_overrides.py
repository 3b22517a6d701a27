"""Operational overrides: open/close and quotas without editing the questionnaire file, applied
by effective_questionnaire, submit_answers and quota_status; audit entries; audit search."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from questionnaires import Quotas, load_registry
from questionnaires.registry import QuestionnaireRegistry
from responses.errors import QuotaFullError, ResponseError
from responses.overrides import (
    apply_override,
    effective_questionnaire,
    effective_questionnaires,
    make_quotas,
    offered_questionnaires,
    offered_version,
    quotas_from_json,
    quotas_to_json,
    reset_override,
    set_quotas,
    set_status,
    with_overrides,
)
from responses.record import new_response_id
from responses.state import SQLiteState
from responses.store import ParquetResponseStore
from responses.submission import Paradata, quota_status, submit_answers
from tests.responses.conftest import parquet_files
from tests.responses.test_submission import BASE_YAML, QUOTAS_BY_PROVINCE

ANSWERS = {"province": "bj", "sex": "female", "age": 30, "products": frozenset({"card"})}


def _yaml(*, id: str, version: str, status: str = "open", quotas: str = "") -> str:
    return BASE_YAML.format(
        id=id, version=version, quotas=quotas, invitation_only="false", status=status
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ParquetResponseStore]:
    folder = tmp_path / "data" / "questionnaires"
    folder.mkdir(parents=True)
    (folder / "qov-1.yaml").write_text(_yaml(id="qov", version="1"), encoding="utf-8")
    (folder / "qov-2.yaml").write_text(_yaml(id="qov", version="2"), encoding="utf-8")
    (folder / "qshut-1.yaml").write_text(
        _yaml(id="qshut", version="1", status="closed"), encoding="utf-8"
    )
    (folder / "qquota-1.yaml").write_text(
        _yaml(id="qquota", version="1", quotas=QUOTAS_BY_PROVINCE), encoding="utf-8"
    )
    with ParquetResponseStore(tmp_path / "data") as s:
        yield s


@pytest.fixture
def registry(store: ParquetResponseStore) -> QuestionnaireRegistry:
    return load_registry(store.root)


def submit(store: ParquetResponseStore, questionnaire, answers=ANSWERS):
    return submit_answers(
        store,
        questionnaire,
        answers,
        response_id=new_response_id(),
        language="en",
        started_at=None,
        consent_version="c1",
        paradata=Paradata(),
    )


def test_without_overrides_the_files_settings_apply(store, registry):
    assert effective_questionnaire(registry, store.state, "qov") == registry.latest("qov")
    assert effective_questionnaire(registry, store.state, "qov", "1") == registry.get("qov", "1")
    assert effective_questionnaires(registry, store.state) == registry.list()
    offered = {q.key for q in offered_questionnaires(registry, store.state)}
    assert ("qov", "2") in offered and ("qquota", "1") in offered
    assert not any(q.id == "qshut" for q in offered_questionnaires(registry, store.state))
    with pytest.raises(KeyError, match="every version of questionnaire 'qshut' is closed"):
        effective_questionnaire(registry, store.state, "qshut")
    with pytest.raises(KeyError, match="no questionnaire 'nope'"):
        effective_questionnaire(registry, store.state, "nope")
    with pytest.raises(KeyError, match="has no version '9'"):
        effective_questionnaire(registry, store.state, "qov", "9")


def test_offered_version_is_the_open_one_or_else_the_newest(store, registry):
    """What demo and simulated data are made for: the version respondents are offered, and
    when every version is closed, the newest file version rather than nothing."""
    assert offered_version(registry, store.state, "qov").version == "2"
    set_status(store.state, registry, "qov", "2", "closed", actor="wang.li")
    assert offered_version(registry, store.state, "qov").version == "1"
    set_status(store.state, registry, "qov", "1", "closed", actor="wang.li")
    assert offered_version(registry, store.state, "qov") == registry.get("qov", "2")
    assert offered_version(registry, store.state, "qshut") == registry.get("qshut", "1")
    with pytest.raises(KeyError, match="no questionnaire 'nope'"):
        offered_version(registry, store.state, "nope")


def test_closing_the_newest_version_offers_the_previous_one(store, registry):
    override = set_status(store.state, registry, "qov", "2", "closed", actor="wang.li")
    assert override is not None and override.status == "closed"
    assert effective_questionnaire(registry, store.state, "qov").version == "1"
    assert effective_questionnaire(registry, store.state, "qov", "2").status == "closed"
    set_status(store.state, registry, "qov", "1", "closed", actor="wang.li")
    with pytest.raises(KeyError, match=r"every version of questionnaire 'qov' is closed \(1, 2\)"):
        effective_questionnaire(registry, store.state, "qov")
    assert not any(q.id == "qov" for q in offered_questionnaires(registry, store.state))
    # the file is untouched
    assert load_registry(store.root).get("qov", "2").status == "open"
    # back to the file's status: the override row goes away
    assert set_status(store.state, registry, "qov", "2", "open", actor="wang.li") is None
    assert store.state.read_override("qov", "2") is None
    assert effective_questionnaire(registry, store.state, "qov").version == "2"


def test_a_closed_file_can_be_opened_without_editing_it(store, registry):
    set_status(store.state, registry, "qshut", "1", "open", actor="wang.li")
    q = effective_questionnaire(registry, store.state, "qshut")
    assert q.status == "open"
    assert submit(store, registry.get("qshut", "1")).questionnaire_id == "qshut"


def test_a_closed_version_refuses_submissions_even_when_loaded_open(store, registry):
    loaded = effective_questionnaire(registry, store.state, "qov")  # respondent starts
    assert loaded.status == "open"
    set_status(store.state, registry, "qov", "2", "closed", actor="wang.li")
    with pytest.raises(ResponseError) as caught:
        submit(store, loaded)
    assert [p.rule for p in caught.value.details] == ["closed"]
    assert parquet_files(store.root) == []
    set_status(store.state, registry, "qov", "2", "open", actor="wang.li")
    assert submit(store, loaded).questionnaire_version == "2"


def test_status_changes_are_in_the_audit_log(store, registry):
    set_status(store.state, registry, "qov", "2", "closed", actor="wang.li")
    set_status(store.state, registry, "qov", "2", "open", actor="li.na")
    entries = store.state.read_audit(action="set_status")
    assert [(e.actor, e.target, e.details["status"], e.details["previous"]) for e in entries] == [
        ("wang.li", "qov 2", "closed", "open"),
        ("li.na", "qov 2", "open", "closed"),
    ]
    assert entries[0].details["file_status"] == "open"


def test_overrides_survive_a_new_process(store, registry, tmp_path):
    set_status(store.state, registry, "qov", "2", "closed", actor="wang.li")
    with SQLiteState(store.root / "state.sqlite3") as other:
        assert effective_questionnaire(registry, other, "qov").version == "1"


def test_quota_override_is_used_by_quota_status_and_submit(store, registry):
    file_model = registry.get("qquota", "1")
    assert file_model.settings.quotas == Quotas(("province",), 2, (("11", 3),))
    quotas = make_quotas(file_model, by=["province"], default=5, cells={"11": 1})
    set_quotas(store.state, registry, "qquota", "1", quotas, actor="wang.li")
    # the model the app holds is the file's: quota_status applies the override itself
    assert quota_status(store, file_model, ANSWERS).target == 1
    assert quota_status(store, file_model, {**ANSWERS, "province": "sh"}).target == 5
    submit(store, file_model)
    assert quota_status(store, file_model, ANSWERS).full
    with pytest.raises(QuotaFullError):
        submit(store, file_model)
    effective = effective_questionnaire(registry, store.state, "qquota")
    assert effective.settings.quotas == quotas
    assert effective == dataclasses.replace(
        file_model, settings=dataclasses.replace(file_model.settings, quotas=quotas)
    )
    # no quotas at all, although the file has some
    set_quotas(store.state, registry, "qquota", "1", None, actor="wang.li")
    assert effective_questionnaire(registry, store.state, "qquota").settings.quotas is None
    assert not quota_status(store, file_model, ANSWERS).full
    submit(store, file_model)
    # back to the file's quotas (cell 11 has a target of 3 and 2 completes)
    reset_override(store.state, registry, "qquota", "1", actor="wang.li")
    assert store.state.read_override("qquota", "1") is None
    assert quota_status(store, file_model, ANSWERS).target == 3
    actions = [e.action for e in store.state.read_audit()]
    assert actions.count("set_quotas") == 2 and actions.count("reset_override") == 1


def test_quota_and_status_overrides_are_kept_together(store, registry):
    model = registry.get("qquota", "1")
    quotas = make_quotas(model, by=["province"], default=7)
    set_quotas(store.state, registry, "qquota", "1", quotas, actor="a.b")
    set_status(store.state, registry, "qquota", "1", "closed", actor="a.b")
    q = effective_questionnaire(registry, store.state, "qquota", "1")
    assert (q.status, q.settings.quotas) == ("closed", quotas)
    set_status(store.state, registry, "qquota", "1", "open", actor="a.b")
    kept = store.state.read_override("qquota", "1")
    assert kept is not None and kept.status is None and kept.quotas_set
    assert with_overrides(model, store.state).settings.quotas == quotas
    # quotas equal to the file's remove the quota override
    set_quotas(store.state, registry, "qquota", "1", model.settings.quotas, actor="a.b")
    assert store.state.read_override("qquota", "1") is None


def test_quotas_by_role_and_two_questions(store, registry):
    model = registry.get("qov", "1")
    quotas = make_quotas(model, by=["province", "sex"], cells={"11|2": 4, "31|1": 0})
    assert quotas == Quotas(("province", "sex"), None, (("11|2", 4), ("31|1", 0)))
    assert quotas_from_json(quotas_to_json(quotas)) == quotas
    assert quotas_to_json(None) is None and quotas_from_json(None) is None


def test_bad_quotas_list_every_problem(store, registry):
    model = registry.get("qov", "1")
    with pytest.raises(ResponseError) as caught:
        make_quotas(
            model,
            by=["province", "age", "income_band"],
            default=-1,
            cells={"11": -3, "99": 2},
        )
    problems = caught.value.problems
    assert problems == [
        "quota 'by' names 'age', a integer question; quota cells need single_choice or "
        "likert questions.",
        "quota 'by' names 'income_band', which is neither a question nor a role of qov 1; "
        "use one of province, sex.",
        "the default target must be a whole number, 0 or more; got -1.",
        "the target of quota cell '11' must be a whole number, 0 or more; got -3.",
    ]
    with pytest.raises(ResponseError) as caught:
        make_quotas(model, by=["province", "sex"], cells={"11": 2, "11|7": 1, "xx|1": 1})
    assert caught.value.problems == [
        "the quota cell '11' has 1 code(s) but 'by' names 2 question(s); join one code per "
        "question with '|' (e.g. \"11|2\").",
        "in quota cell '11|7', '7' is not a code of question 'sex'; its codes are 1, 2.",
        "in quota cell 'xx|1', 'xx' is not a code of question 'province'; its codes are "
        + ", ".join(
            str(c)
            for c in sorted(model.question("province").option_codes(with_special=False).values())
        )
        + ".",
    ]
    with pytest.raises(ResponseError, match="need a default target or targets"):
        make_quotas(model, by=["province"])
    with pytest.raises(ResponseError, match="at least one question in 'by'"):
        make_quotas(model, by=[], default=3)
    with pytest.raises(ResponseError, match="names 'sex' twice"):
        make_quotas(model, by=["sex", "sex"], default=3)


def test_changes_to_unknown_versions_and_bad_values_are_refused(store, registry):
    with pytest.raises(ResponseError, match="questionnaire 'qov' has no version '7'"):
        set_status(store.state, registry, "qov", "7", "closed", actor="a.b")
    with pytest.raises(ResponseError, match="status must be 'open' or 'closed'"):
        set_status(store.state, registry, "qov", "1", "paused", actor="a.b")  # type: ignore[arg-type]
    with pytest.raises(ResponseError, match="give the actor"):
        set_status(store.state, registry, "qov", "1", "closed", actor=" ")
    with pytest.raises(ResponseError, match="no questionnaire 'zzz'"):
        reset_override(store.state, registry, "zzz", "1", actor="a.b")
    # quotas built for another version are checked again against this one
    other = make_quotas(registry.get("qov", "1"), by=["sex"], default=3)
    with pytest.raises(ResponseError, match="names 'gender', which is neither"):
        set_quotas(
            store.state,
            registry,
            "qquota",
            "1",
            dataclasses.replace(other, by=("gender",)),
            actor="a.b",
        )
    assert store.state.read_overrides() == []


def test_apply_override_checks_the_version(store, registry):
    set_status(store.state, registry, "qov", "1", "closed", actor="a.b")
    override = store.state.read_override("qov", "1")
    with pytest.raises(ResponseError, match="cannot be applied to qov 2"):
        apply_override(registry.get("qov", "2"), override)
    once = with_overrides(registry.get("qov", "1"), store.state)
    assert with_overrides(once, store.state) == once
    assert apply_override(registry.get("qov", "2"), None) is registry.get("qov", "2")


def test_search_audit_filters_and_pages(store):
    state = store.state
    t0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
    for i in range(25):
        state.append_audit(
            "compact" if i % 2 else "delete",
            actor="wang.li" if i < 10 else "li.na",
            target=f"r{i}",
            details={"i": i},
            now=t0 + dt.timedelta(hours=i),
        )
    page = state.search_audit(limit=10)
    assert page.total == 25 and [e.details["i"] for e in page.entries] == list(range(24, 14, -1))
    page3 = state.search_audit(limit=10, offset=20)
    assert [e.details["i"] for e in page3.entries] == [4, 3, 2, 1, 0]
    deletes = state.search_audit(action="delete", actor="wang.li")
    assert [e.details["i"] for e in deletes.entries] == [8, 6, 4, 2, 0]
    window = state.search_audit(since=t0 + dt.timedelta(hours=5), until=t0 + dt.timedelta(hours=8))
    assert [e.details["i"] for e in window.entries] == [7, 6, 5]
    assert state.search_audit(target="r3").total == 1
    assert state.audit_values("action") == ["compact", "delete"]
    assert state.audit_values("actor") == ["li.na", "wang.li"]
    with pytest.raises(ResponseError, match="limit must be a whole number from 1 to 1000"):
        state.search_audit(limit=0)
    with pytest.raises(ResponseError, match="offset must be a whole number"):
        state.search_audit(offset=-1)
    with pytest.raises(ResponseError, match="column must be 'action' or 'actor'"):
        state.audit_values("target")  # type: ignore[arg-type]
