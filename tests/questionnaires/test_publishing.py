"""Publishing uploads: every problem at once, duplicates refused with a suggested version, the
atomic exclusive write (YAML kept verbatim, XLSForm stored as YAML), exports."""

# ruff: noqa: E501  (the expected messages are quoted whole)
from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from questionnaires import QuestionnaireError, load_registry, read_xlsform
from questionnaires.publishing import (
    MAX_UPLOAD_BYTES,
    UploadProblem,
    check_upload,
    export_questionnaire,
    next_version,
    publish_upload,
    suggest_version,
)
from questionnaires.registry import DEFINITIONS_DIR
from tests.questionnaires.uploads import BROKEN_YAML, upload_xlsform, upload_yaml


def uploads(data_dir: Path) -> list[str]:
    folder = data_dir / "questionnaires"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_a_valid_yaml_upload_is_published_byte_for_byte(tmp_path: Path) -> None:
    data = upload_yaml("1")
    published = publish_upload(data, "pilot.yaml", data_dir=tmp_path)
    assert published.path == tmp_path / "questionnaires" / "pilot-1.yaml"
    assert published.path.read_bytes() == data  # the author's comment is kept
    assert published.format == "yaml" and published.bytes_written == len(data)
    assert uploads(tmp_path) == [".publish.lock", "pilot-1.yaml"]  # no temporary file left
    registry = load_registry(tmp_path)
    assert registry.get("pilot", "1") == published.questionnaire
    assert registry.latest("pilot").version == "1"


def test_a_valid_xlsform_upload_is_stored_as_yaml(tmp_path: Path) -> None:
    data = upload_xlsform("2")
    published = publish_upload(data, "workbook.xlsx", data_dir=tmp_path)
    assert published.format == "xlsform"
    assert published.path.name == "xlpilot-2.yaml"
    text = published.path.read_text(encoding="utf-8")
    assert text.startswith("# xlpilot version 2: written by the survey platform")
    assert load_registry(tmp_path).get("xlpilot", "2") == read_xlsform(data)


def test_every_problem_of_a_broken_yaml_is_listed_at_once(tmp_path: Path) -> None:
    check = check_upload(BROKEN_YAML.encode("utf-8"), "pilot.yaml")
    assert not check.ok and check.questionnaire is None and check.format == "yaml"
    assert check.problems == (
        UploadProblem("line 11", "question 'age'", "unknown key 'lable' (did you mean 'label'?)"),
        UploadProblem(
            "line 14",
            "question 'saves'",
            "unknown question type 'single_choise' (did you mean 'single_choice'?); the types are single_choice, multiple_choice, likert, matrix, integer, decimal, text, note",
        ),
        UploadProblem(
            "line 18", "question 'income'", "'label' has no 'en' text; every text needs zh, en"
        ),
    )
    assert (
        str(check.problems[0])
        == "line 11, question 'age': unknown key 'lable' (did you mean 'label'?)"
    )
    with pytest.raises(QuestionnaireError) as caught:
        publish_upload(BROKEN_YAML.encode("utf-8"), "pilot.yaml", data_dir=tmp_path)
    assert len(caught.value.problems) == 3
    assert str(caught.value).splitlines()[0] == "pilot.yaml has 3 problems:"
    assert uploads(tmp_path) == []


def test_every_problem_of_a_broken_xlsform_names_sheet_row_and_column() -> None:
    check = check_upload(upload_xlsform(broken=True), "survey.xlsx")
    assert [(p.where, p.part) for p in check.problems] == [
        ("sheet 'survey', row 3, column 'min'", "question 'age'"),
        ("sheet 'survey', row 4, column 'type'", "question 'saves'"),
    ]
    assert check.problems[1].message == (
        "unknown choice list 'yes_no' (did you mean 'yesno'?); define it under choices: or "
        "use one of yesno, provinces"
    )


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "a.yaml", "the file is empty; upload the questionnaire file"),
        (
            b"id: x",
            "a.csv",
            "a questionnaire file must end in .yaml, .yml (the platform's format) or .xlsx (XLSForm); rename the file or convert it",
        ),
        (
            "id: 调查".encode("gb18030"),
            "a.yaml",
            "the file is not UTF-8 text (byte 4); save it as UTF-8",
        ),
        (
            b"a" * (MAX_UPLOAD_BYTES + 1),
            "a.yaml",
            "the file has 5,000,001 bytes, more than the 5,000,000 accepted; a questionnaire is far smaller: check that this is the right file",
        ),
        (
            b"PK\x03\x04 not a workbook",
            "a.xlsx",
            "the file cannot be read as an .xlsx workbook (File is not a zip file); save it from Excel or LibreOffice as .xlsx",
        ),
    ],
    ids=["empty", "suffix", "encoding", "too_big", "bad_zip"],
)
def test_files_that_are_not_questionnaires(data: bytes, name: str, message: str) -> None:
    check = check_upload(data, name)
    assert not check.ok
    assert check.problems == (UploadProblem("", "", message),)


def test_an_existing_version_is_refused_with_the_next_one_suggested(tmp_path: Path) -> None:
    shipped = (DEFINITIONS_DIR / "edu_quiz.yaml").read_bytes()
    check = check_upload(shipped, "edu_quiz.yaml", registry=load_registry(tmp_path))
    assert check.questionnaire is not None and not check.ok
    assert check.suggested_version == "2026.2"
    assert check.problems == (
        UploadProblem(
            "",
            "version",
            "questionnaire 'edu_quiz' version '2026.1' already exists (file edu_quiz.yaml); a published version is never replaced, because responses refer to it: change the version to \"2026.2\" in the file and upload it again",
        ),
    )
    with pytest.raises(QuestionnaireError, match=r'change the version to "2026\.2"'):
        publish_upload(shipped, "edu_quiz.yaml", data_dir=tmp_path)
    assert uploads(tmp_path) == [".publish.lock"]
    # an uploaded version: the check is made afresh at publishing time, with no registry given
    publish_upload(upload_yaml("1.5"), "p.yaml", data_dir=tmp_path)
    with pytest.raises(QuestionnaireError, match=r'change the version to "1\.6"') as caught:
        publish_upload(upload_yaml("1.5"), "p.yaml", data_dir=tmp_path)
    assert [p.part for p in caught.value.problems] == ["version"]
    publish_upload(upload_yaml("1.6"), "p.yaml", data_dir=tmp_path)
    assert load_registry(tmp_path).versions("pilot") == ["1.5", "1.6"]


def test_a_broken_file_in_the_way_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "questionnaires"
    folder.mkdir()
    (folder / "pilot-1.yaml").write_text("id: [", encoding="utf-8")
    with pytest.raises(
        QuestionnaireError,
        match=r"the file pilot-1\.yaml already exists .* is not a loadable questionnaire; move it away",
    ):
        publish_upload(upload_yaml("1"), "pilot.yaml", data_dir=tmp_path)
    assert (folder / "pilot-1.yaml").read_text(encoding="utf-8") == "id: ["


def test_concurrent_publishers_of_one_version_one_wins(tmp_path: Path) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def publish(i: int) -> None:
        barrier.wait()
        try:
            publish_upload(upload_yaml("3"), f"p{i}.yaml", data_dir=tmp_path)
            outcomes.append("published")
        except QuestionnaireError:
            outcomes.append("refused")

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["published", "refused", "refused", "refused"]
    assert uploads(tmp_path) == [".publish.lock", "pilot-3.yaml"]


def test_warnings_are_reported_not_raised() -> None:
    text = upload_yaml("1").decode() + (
        "choices:\n  unused:\n    - {name: a, label: {zh: 甲, en: A}}\n"
        "    - {name: b, label: {zh: 乙, en: B}}\n"
    )
    check = check_upload(text.encode(), "pilot.yaml")
    assert check.ok
    assert len(check.warnings) == 1 and "unused" in check.warnings[0]


def test_versions_suggested() -> None:
    assert next_version("2026.1") == "2026.2"
    assert next_version("2026.9") == "2026.10"
    assert next_version("7") == "8"
    registry = load_registry()
    assert suggest_version(registry, "cfl", "2026.1") == "2026.2"
    assert suggest_version(registry, "cfl", "2027.1") == "2027.1"  # free and newest
    assert suggest_version(registry, "cfl", "2025.1") == "2026.2"  # free but older
    assert suggest_version(registry, "brand_new", "1") == "1"


def test_exports(tmp_path: Path) -> None:
    publish_upload(upload_yaml("1"), "pilot.yaml", data_dir=tmp_path)
    publish_upload(upload_xlsform("1"), "x.xlsx", data_dir=tmp_path)
    registry = load_registry(tmp_path)
    original = export_questionnaire(registry, "pilot", "1", format="yaml")
    assert (original.filename, original.data) == ("pilot-1.yaml", upload_yaml("1"))
    workbook = export_questionnaire(registry, "pilot", "1", format="xlsform")
    assert workbook.filename == "pilot-1.xlsx" and workbook.mime.endswith("sheet")
    assert read_xlsform(io.BytesIO(workbook.data)) == registry.get("pilot", "1")
    shipped = export_questionnaire(registry, "cfl", "2026.1", format="yaml")
    assert shipped.data == (DEFINITIONS_DIR / "cfl.yaml").read_bytes()
    with pytest.raises(KeyError, match="has no version '9'"):
        export_questionnaire(registry, "pilot", "9", format="yaml")
    with pytest.raises(QuestionnaireError, match="format must be 'yaml' or 'xlsform'"):
        export_questionnaire(registry, "pilot", "1", format="pdf")  # type: ignore[arg-type]
