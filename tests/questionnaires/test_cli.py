"""``python -m questionnaires``: check and convert, with one-line errors and exit statuses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from questionnaires import load_questionnaire
from questionnaires.cli import main

DEFINITIONS = Path(__file__).resolve().parents[2] / "questionnaires" / "definitions"
ROOT = DEFINITIONS.parents[1]


def test_check_lists_every_problem_and_exits_1(tmp_path, capsys):
    text = (DEFINITIONS / "edu_quiz.yaml").read_text(encoding="utf-8")
    broken = text.replace("label:", "lable:", 1).replace('version: "2026.1"', "version: 2026.1", 1)
    assert broken != text
    bad = tmp_path / "bad.yaml"
    bad.write_text(broken, encoding="utf-8")
    code = main(["check", str(DEFINITIONS / "cfl.yaml"), str(bad)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "cfl.yaml: ok, cfl 2026.1:" in out
    assert "unknown key 'lable' (did you mean 'label'?)" in out
    assert err.count("\n") == 1 and "1 of 2 file(s) have problems (bad.yaml)" in err


def test_check_passes_the_shipped_questionnaires(capsys):
    files = sorted(DEFINITIONS.glob("*.yaml"))
    assert main(["check", *map(str, files)]) == 0
    out, err = capsys.readouterr()
    assert out.count(": ok, ") == len(files) >= 3 and err == ""


@pytest.mark.parametrize("name", ["cfl", "oecd_infe", "edu_quiz"])
def test_convert_round_trip_gives_an_equal_questionnaire(tmp_path, name, capsys):
    source = DEFINITIONS / f"{name}.yaml"
    xlsx, back = tmp_path / f"{name}.xlsx", tmp_path / f"{name}.yaml"
    assert main(["convert", str(source), str(xlsx)]) == 0
    assert main(["convert", str(xlsx), str(back)]) == 0
    assert load_questionnaire(back) == load_questionnaire(source)
    assert "(xlsform)" in capsys.readouterr().out


def test_convert_never_overwrites_without_force(tmp_path, capsys):
    dest = tmp_path / "q.yaml"
    dest.write_text("keep me", encoding="utf-8")
    assert main(["convert", str(DEFINITIONS / "edu_quiz.yaml"), str(dest)]) == 1
    assert "exists; choose another name or add --force" in capsys.readouterr().err
    assert dest.read_text(encoding="utf-8") == "keep me"
    assert main(["convert", str(DEFINITIONS / "edu_quiz.yaml"), str(dest), "--force"]) == 0
    assert load_questionnaire(dest).id == "edu_quiz"


def test_convert_of_a_broken_file_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\n", encoding="utf-8")
    dest = tmp_path / "out.xlsx"
    assert main(["convert", str(bad), str(dest)]) == 1
    out, err = capsys.readouterr()
    assert "nothing was written" in err and "bad.yaml" in out
    assert not dest.exists() and list(tmp_path.iterdir()) == [bad]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["convert", "a.yaml", "b.csv"], "must end in .yaml, .yml or .xlsx"),
        (["check", "a.txt"], "1 of 1 file(s) have problems"),
        (["check", "a\x00.yaml"], "holds a NUL character"),
    ],
)
def test_bad_arguments_get_one_line(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["check"])
    assert exc.value.code == 2
    assert "required: FILE (see --help)" in capsys.readouterr().err


def test_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "questionnaires", "check", str(DEFINITIONS / "cfl.yaml")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("cfl.yaml: ok, cfl 2026.1")
