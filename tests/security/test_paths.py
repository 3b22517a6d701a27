"""Identifiers that become paths are checked: no way out of the data folder with ``..``,
absolute paths, NUL bytes or look-alike characters, and a tampered backup cannot make a
restore read or write outside the store's layout."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from questionnaires import QuestionnaireError, parse_questionnaire
from questionnaires.publishing import MAX_UPLOAD_BYTES, check_upload, publish_upload
from responses.errors import ResponseError, StoreError
from responses.record import (
    ResponseRecord,
    check_province,
    check_questionnaire_id,
    check_response_id,
    check_version,
)
from responses.store import ParquetResponseStore, _manifest_checksum
from tests.security.conftest import SURVEY_YAML, submit

TRAVERSALS = [
    "..",
    "../x",
    "../../etc/passwd",
    "/etc/passwd",
    "cfl/../../x",
    "cfl\x00",
    "cfl\x00/../x",
    "ｃｆｌ",  # full-width letters
    "cfl\u0301",  # combining accent
    "сfl",  # Cyrillic 'с'
    "cfl\u202e",  # right-to-left override
    "%2e%2e%2f",
    "..\\..\\x",
    "CFL",
    "cfl/",
    " cfl",
    "",
]


@pytest.mark.parametrize("value", TRAVERSALS)
def test_questionnaire_ids_refuse_traversal_and_look_alikes(value):
    with pytest.raises(ResponseError, match="questionnaire_id"):
        check_questionnaire_id(value)


@pytest.mark.parametrize(
    "value", ["..", "1/../..", "/1", "1\x00", "１", "1.2.3.4.5.6", "2026.1\n", "1..2", "-1", ""]
)
def test_versions_refuse_traversal(value):
    with pytest.raises(ResponseError, match="version"):
        check_version(value)


@pytest.mark.parametrize("value", [5, 100, -11, "44", "../44", 44.0, True, "４４"])
def test_province_codes_are_two_digit_numbers(value):
    with pytest.raises(ResponseError):
        check_province(value)


@pytest.mark.parametrize(
    "value", ["../../../../etc/passwd", "a" * 21 + "/", "a" * 21 + "\x00", "ａ" * 22, "a" * 23]
)
def test_response_ids_refuse_traversal(value):
    with pytest.raises(ResponseError, match="response_id"):
        check_response_id(value)


def test_every_store_entry_point_checks_its_identifiers(store):
    submit(store)
    for call in (
        lambda: store.read("../secq"),
        lambda: store.read("secq", version="../../1"),
        lambda: store.count("/etc"),
        lambda: store.compact("..", actor="x"),
        lambda: store.compact("secq", version="1/../..", actor="x"),
        lambda: store.delete("../../../state.sqlite3", reason="x", actor="x"),
        lambda: store.list_versions("../"),
        lambda: ResponseRecord("../secq", "1", {}),
        lambda: ResponseRecord("secq", "../1", {}),
        lambda: ResponseRecord("secq", "1", {"../x": 1}),
    ):
        with pytest.raises(ResponseError):
            call()
    assert store.count("secq") == 1


@pytest.mark.parametrize("bad_id", ['"../evil"', '"/abs"', '"ｅｖｉｌ"', '"a\\0b"'])
def test_an_uploaded_questionnaire_cannot_name_a_path(bad_id):
    text = SURVEY_YAML.format(id="placeholder", invitation_only="false").replace(
        "id: placeholder", f"id: {bad_id}"
    )
    with pytest.raises(QuestionnaireError, match="id"):
        parse_questionnaire(text)


@pytest.mark.parametrize("bad_version", ['"../1"', '"1/2"', '"1\\0"'])
def test_an_uploaded_questionnaire_version_cannot_name_a_path(bad_version):
    text = SURVEY_YAML.format(id="okid", invitation_only="false").replace(
        'version: "1"', f"version: {bad_version}"
    )
    with pytest.raises(QuestionnaireError, match="version"):
        parse_questionnaire(text)


# --- backup and restore destinations ----------------------------------------------------------


def test_backup_refuses_destinations_inside_the_data_folder(tmp_path, store):
    submit(store)
    link = tmp_path / "innocent-looking"
    link.symlink_to(store.root / "responses")
    for dest in (
        store.root / "backups",
        tmp_path / "elsewhere" / ".." / "data" / "bk",
        link / "bk",  # through a symbolic link
    ):
        with pytest.raises(StoreError, match="inside the data folder"):
            store.backup(dest)
    for dest in ("back\x00up", str(tmp_path / "a\udcff\ud800")):
        with pytest.raises(StoreError, match="not a usable folder name"):
            store.backup(dest)
    assert not (store.root / "backups").exists()


def test_a_data_folder_with_a_nul_byte_is_refused():
    with pytest.raises(StoreError, match="not a usable folder name"):
        ParquetResponseStore("data\x00/../../")


def _tamper(backup: Path, change) -> None:
    """Edit a backup's manifest the way an attacker would: and fix its checksum."""
    path = backup / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    if all(isinstance(e, dict) for e in manifest["files"]):
        manifest["checksum"] = _manifest_checksum(manifest["files"])
        manifest["rows"] = sum(e["rows"] for e in manifest["files"])
    path.write_text(json.dumps(manifest))


def _outside_target(tmp_path: Path) -> Path:
    return tmp_path / "outside" / "planted.parquet"


def _point_file_at(target: Path):
    def change(manifest):
        manifest["files"][0]["path"] = str(target)

    return change


def _point_file_up(manifest):
    manifest["files"][0]["path"] = "responses/secq/1/../../../../outside/planted.parquet"


def _point_file_at_state(manifest):
    manifest["files"][0]["path"] = "state.sqlite3"


def _tombstone_up(manifest):
    manifest["tombstones"] = ["../../outside/planted"]


def _state_elsewhere(manifest):
    manifest["state"]["path"] = "/etc/passwd"


def _not_an_object(manifest):
    manifest["files"][0] = "responses/secq/1/province=11/x.parquet"


@pytest.mark.parametrize(
    "change",
    ["absolute", _point_file_up, _point_file_at_state, _tombstone_up, _state_elsewhere,
     _not_an_object],
)  # fmt: skip
def test_a_tampered_manifest_cannot_make_restore_read_or_write_outside(tmp_path, store, change):
    submit(store)
    backup = tmp_path / "backup"
    store.backup(backup)
    target = _outside_target(tmp_path)
    target.parent.mkdir()
    first = json.loads((backup / "manifest.json").read_text())["files"][0]["path"]
    # the attacker also planted a copy of a real file where the manifest points
    target.write_bytes((backup / first).read_bytes())
    _tamper(backup, _point_file_at(target) if change == "absolute" else change)
    fresh = ParquetResponseStore(tmp_path / "fresh")
    with pytest.raises(StoreError, match="not a manifest written by backup"):
        fresh.restore(backup)
    assert sorted(p.name for p in target.parent.iterdir()) == ["planted.parquet"]
    assert not (fresh.root / "responses").exists()
    assert not os.path.exists(tmp_path / "outside" / "planted")


def test_a_manifest_that_is_not_json_or_not_an_object_is_refused(tmp_path, store):
    submit(store)
    backup = tmp_path / "backup"
    store.backup(backup)
    fresh = ParquetResponseStore(tmp_path / "fresh")
    for text in ("[1, 2]", "{", "\udcff", "null"):
        (backup / "manifest.json").write_text(text, errors="surrogateescape")
        with pytest.raises(StoreError):
            fresh.restore(backup)


def test_an_untampered_backup_still_restores(tmp_path, store):
    submit(store)
    store.backup(tmp_path / "backup")
    fresh = ParquetResponseStore(tmp_path / "fresh")
    assert fresh.restore(tmp_path / "backup").rows == 1
    assert fresh.count("secq") == 1


# --- uploaded questionnaire files ---------------------------------------------------------------


@pytest.mark.parametrize(
    "filename",
    ["../../../../tmp/evil.yaml", "/etc/cron.d/evil.yaml", "..\\..\\evil.yaml", "evil\x00.yaml",
     "ｅｖｉｌ.yaml", "evil.yaml/../../x.yaml", ".hidden.yaml", "~$lock.yaml"],
)  # fmt: skip
def test_an_uploaded_file_name_never_becomes_a_path(tmp_path, filename):
    """The file is stored as ``<data>/questionnaires/<id>-<version>.yaml`` whatever its name."""
    data = tmp_path / "data"
    text = SURVEY_YAML.format(id="uploaded", invitation_only="false").encode("utf-8")
    published = publish_upload(text, filename, data_dir=data)
    assert published.path == data / "questionnaires" / "uploaded-1.yaml"
    written = sorted(p for p in tmp_path.rglob("*") if p.is_file() and p.suffix == ".yaml")
    assert written == [published.path]


def test_an_upload_over_the_limit_is_refused_before_it_is_read(tmp_path):
    big = b"# " + b"x" * MAX_UPLOAD_BYTES + b"\n"
    check = check_upload(big, "big.yaml")
    assert not check.ok and "5,000,000" in str(check.problems[0])
    with pytest.raises(QuestionnaireError, match="5,000,000"):
        publish_upload(big, "big.yaml", data_dir=tmp_path / "data")
    assert not (tmp_path / "data" / "questionnaires").exists() or not list(
        (tmp_path / "data" / "questionnaires").glob("*.yaml")
    )
