"""The registry: versions side by side, the newest open one, broken files reported."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from questionnaires import (
    QuestionnaireRegistry,
    QuestionnaireWarning,
    load_registry,
    parse_questionnaire,
    write_xlsform,
)
from questionnaires.registry import DEFINITIONS_DIR, version_key
from tests.questionnaires.samples import MINIMAL_YAML


def mini(version: str, *, status: str = "open", qid: str = "mini") -> str:
    text = MINIMAL_YAML.replace('version: "1"', f'version: "{version}"')
    text = text.replace("id: mini", f"id: {qid}")
    return text.replace("title: 小问卷", f"title: 小问卷\nstatus: {status}")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "mini.yaml").write_text(mini("2026.9"), encoding="utf-8")
    (tmp_path / "mini-2026.10.yaml").write_text(mini("2026.10"), encoding="utf-8")
    (tmp_path / "mini-2027.1.yml").write_text(mini("2027.1", status="closed"), encoding="utf-8")
    (tmp_path / "other.yaml").write_text(mini("1", qid="other"), encoding="utf-8")
    (tmp_path / "README.md").write_text("not a questionnaire", encoding="utf-8")
    return tmp_path


def test_versions_compare_numerically() -> None:
    assert version_key("2026.10") > version_key("2026.9")
    assert version_key("2") > version_key("1.99")
    assert sorted(["1.10", "1.2", "1.9"], key=version_key) == ["1.2", "1.9", "1.10"]


def test_index_by_id_and_version(folder: Path) -> None:
    reg = QuestionnaireRegistry([folder])
    assert len(reg) == 4
    assert reg.ids() == ["mini", "other"]
    assert reg.versions("mini") == ["2026.9", "2026.10", "2027.1"]
    assert reg.get("mini", "2026.10").version == "2026.10"
    assert ("mini", "2026.9") in reg
    assert [(q.id, q.version) for q in reg.list()] == [
        ("mini", "2026.9"),
        ("mini", "2026.10"),
        ("mini", "2027.1"),
        ("other", "1"),
    ]
    assert reg.path("other", "1") == folder / "other.yaml"
    assert reg.problems == ()


def test_latest_is_the_newest_open_version(folder: Path) -> None:
    reg = QuestionnaireRegistry([folder])
    assert reg.latest("mini").version == "2026.10"  # 2027.1 is closed
    assert reg.latest("other").version == "1"


def test_unknown_ids_and_versions(folder: Path) -> None:
    reg = QuestionnaireRegistry([folder])
    with pytest.raises(KeyError) as info:
        reg.get("mini", "3")
    assert info.value.args[0] == (
        "questionnaire 'mini' has no version '3'; its versions are 2026.9, 2026.10, 2027.1"
    )
    with pytest.raises(KeyError) as info:
        reg.latest("minni")
    assert info.value.args[0] == "no questionnaire 'minni'; the questionnaires are mini, other"


def test_all_closed(tmp_path: Path) -> None:
    (tmp_path / "mini.yaml").write_text(mini("1", status="closed"), encoding="utf-8")
    reg = QuestionnaireRegistry([tmp_path])
    with pytest.raises(KeyError, match=r"every version of questionnaire 'mini' is closed \(1\)"):
        reg.latest("mini")


def test_broken_file_is_reported_not_fatal(folder: Path) -> None:
    (folder / "broken.yaml").write_text("id: broken\nversion: 1\n", encoding="utf-8")
    with pytest.warns(QuestionnaireWarning) as caught:
        reg = QuestionnaireRegistry([folder])
    assert len(reg) == 4
    assert len(reg.problems) == 1
    problem = reg.problems[0]
    assert problem.path == folder / "broken.yaml"
    assert problem.message == (
        f"{folder / 'broken.yaml'} was not loaded: broken.yaml has 3 problems:\n"
        "- broken.yaml, line 1: the key 'title' is missing; a questionnaire needs 'title'\n"
        "- broken.yaml, line 1: the key 'sections' is missing; a questionnaire needs 'sections'\n"
        '- broken.yaml, line 2: the version 1 must be quoted, as version: "1" (unquoted, YAML '
        "reads it as a number: 2026.10 would become 2026.1)"
    )
    assert [str(w.message) for w in caught] == [problem.message]


def test_repeated_id_and_version_is_reported(
    folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    uploads = tmp_path_factory.mktemp("uploads")
    (uploads / "mini-copy.yaml").write_text(mini("2026.9"), encoding="utf-8")
    with pytest.warns(QuestionnaireWarning, match="already defined by"):
        reg = QuestionnaireRegistry([folder, uploads])
    assert reg.path("mini", "2026.9") == folder / "mini.yaml"
    assert reg.problems[0].path == uploads / "mini-copy.yaml"


def test_xlsx_uploads_and_missing_folders(tmp_path: Path) -> None:
    uploads = tmp_path / "questionnaires"
    uploads.mkdir()
    write_xlsform(parse_questionnaire(mini("5")), uploads / "mini.xlsx")
    (uploads / "~$mini.xlsx").write_bytes(b"Excel lock file")
    reg = QuestionnaireRegistry([tmp_path / "nowhere", uploads])
    assert reg.versions("mini") == ["5"]


def test_load_registry_reads_definitions_and_the_data_dir(tmp_path: Path) -> None:
    uploads = tmp_path / "questionnaires"
    uploads.mkdir()
    (uploads / "uploaded.yaml").write_text(mini("1", qid="uploaded"), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg = load_registry(tmp_path)
        shipped = load_registry()
    assert reg.folders == (DEFINITIONS_DIR, uploads)
    assert "uploaded" in reg.ids()
    assert "uploaded" not in shipped.ids()
    assert shipped.problems == ()
    assert set(reg.ids()) == set(shipped.ids()) | {"uploaded"}
