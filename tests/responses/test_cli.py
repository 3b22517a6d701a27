"""The administrators' command line, run in-process and as ``python -m responses``."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from responses.cli import main
from responses.record import hash_token
from responses.store import ParquetResponseStore
from tests.responses.conftest import make_record

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SURVEY_DATA_DIR", raising=False)
    monkeypatch.delenv("SURVEY_CONFIG", raising=False)
    root = tmp_path / "data"
    store = ParquetResponseStore(root)
    for i in range(6):
        store.submit(make_record(i))
    store.close()
    return root


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_compact_and_audit(data, capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0 and out == "cfl\t2026.1\t6\n"
    code, out, _ = run(capsys, "--actor", "alice", "compact")
    assert code == 0 and out.startswith("cfl: 6 files merged into")
    code, out, _ = run(capsys, "audit")
    assert code == 0
    assert "\talice\tcompact\tcfl\t" in out


def test_tokens_csv_and_counts(data, tmp_path, capsys):
    out_file = tmp_path / "invites.csv"
    code, out, _ = run(
        capsys,
        "tokens",
        "--questionnaire",
        "cfl",
        "--n",
        "5",
        "--out",
        str(out_file),
        "--base-url",
        "https://survey.example.cn/",
    )
    assert code == 0 and "5 tokens" in out
    rows = list(csv.DictReader(out_file.read_text().splitlines()))
    assert len(rows) == 5
    assert rows[0]["link"] == f"https://survey.example.cn/?q=cfl&token={rows[0]['token']}"
    store = ParquetResponseStore(data)
    assert store.state.token_status("cfl", rows[0]["token"]) == "unused"
    store.submit(make_record(50, token_hash=hash_token(rows[0]["token"])))
    store.close()
    code, out, _ = run(capsys, "invitations", "--questionnaire", "cfl")
    assert out == "cfl: 5 tokens, 4 unused, 0 started, 1 submitted\n"
    code, _, err = run(
        capsys, "tokens", "--questionnaire", "cfl", "--n", "5", "--out", str(out_file)
    )
    assert code == 1 and "already exists" in err


def test_delete_backup_restore_purge(data, tmp_path, capsys):
    store = ParquetResponseStore(data)
    victim = store.read("cfl")["response_id"].iloc[0]
    store.close()
    # pasted from the respondent's receipt with spaces around it
    code, out, _ = run(
        capsys, "--actor", "dpo", "delete", f" {victim}\n", "--reason", "asked by phone"
    )
    assert code == 0 and out.startswith(f"deleted {victim}: 1 files removed")
    code, out, _ = run(capsys, "backup", str(tmp_path / "bk"))
    assert code == 0 and "5 rows" in out
    code, out, _ = run(capsys, "restore", str(tmp_path / "bk"), "--data-dir", str(tmp_path / "new"))
    assert code == 0 and out.startswith("restored 5 files, 5 rows")
    code, out, _ = run(capsys, "purge")
    assert code == 0 and out == "purged 0 expired drafts and 0 expired contact records\n"
    code, out, _ = run(capsys, "audit", "--action", "delete")
    assert "\tdpo\tdelete\t" in out and "reason=asked by phone" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "choose a command"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["tokens", "--questionnaire", "cfl", "--n", "many", "--out", "x.csv"], "invalid int"),
        (["tokens", "--questionnaire", "cfl"], "the following arguments are required"),
        (["delete", "abc"], "the following arguments are required: --reason"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_flags_give_one_line_and_exit_2(data, capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_store_errors_give_one_line_and_exit_1(data, capsys):
    code, _, err = run(capsys, "delete", "../../etc/passwd", "--reason", "x")
    assert code == 1
    assert err.count("\n") == 1 and "response_id '../../etc/passwd' is not valid" in err
    code, _, err = run(capsys, "restore", str(data.parent / "nowhere"))
    assert code == 1 and "not a complete backup" in err


def test_settings_and_the_module_entry_point(data):
    env = {**os.environ, "PYTHONPATH": str(REPO), "SURVEY_DATA_DIR": str(data)}
    done = subprocess.run(
        [sys.executable, "-m", "responses", "settings"],
        capture_output=True,
        text=True,
        env=env,
        cwd=data.parent,
        check=False,
    )
    assert done.returncode == 0
    assert f"data_dir = {data}  (environment)" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "responses", "list"],
        capture_output=True,
        text=True,
        env=env,
        cwd=data.parent,
        check=False,
    )
    assert done.stdout == "cfl\t2026.1\t6\n"
    done = subprocess.run(
        [sys.executable, "-m", "responses", "--n"],
        capture_output=True,
        text=True,
        env=env,
        cwd=data.parent,
        check=False,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1
