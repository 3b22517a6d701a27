"""Settings: declared as data, read from the environment, survey.toml, or defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from responses.config import SETTINGS, load_config
from responses.errors import ConfigError

DOC = Path(__file__).resolve().parents[2] / "responses" / "STORE.md"


def test_every_setting_has_help_and_a_documented_row():
    text = DOC.read_text(encoding="utf-8")
    rows = {
        m.group(1): m.group(2).strip()
        for m in re.finditer(r"^\| `([a-z_]+)` \| `([^`]*)` \|", text, flags=re.MULTILINE)
    }
    for s in SETTINGS:
        assert len(s.help) > 20, f"setting {s.name} needs a help text"
        assert s.name in rows, f"setting {s.name} is not in the table in {DOC.name}"
        assert rows[s.name] == str(s.default), f"{DOC.name} gives the wrong default for {s.name}"
    assert set(rows) == {s.name for s in SETTINGS}, "the table lists settings that do not exist"


def test_defaults(tmp_path):
    cfg = load_config(environ={}, cwd=tmp_path)
    assert cfg.data_dir == tmp_path / "data"
    assert cfg.draft_retention_days == 30
    assert cfg.sources["data_dir"] == "default"


def test_environment_beats_file_beats_default(tmp_path):
    (tmp_path / "survey.toml").write_text(
        'data_dir = "stored"\n[responses]\ndraft_retention_days = 7\ncontact_retention_days = 9\n',
        encoding="utf-8",
    )
    cfg = load_config(environ={"SURVEY_DRAFT_RETENTION_DAYS": "3"}, cwd=tmp_path)
    assert cfg.draft_retention_days == 3
    assert cfg.sources["draft_retention_days"] == "environment"
    assert cfg.contact_retention_days == 9
    assert cfg.data_dir == tmp_path / "stored"
    cfg = load_config(environ={"SURVEY_DATA_DIR": "/srv/survey"}, cwd=tmp_path)
    assert cfg.data_dir == Path("/srv/survey")


def test_config_file_named_by_environment_resolves_relative_to_itself(tmp_path):
    conf = tmp_path / "etc" / "my.toml"
    conf.parent.mkdir()
    conf.write_text('data_dir = "../var/data"\n', encoding="utf-8")
    cfg = load_config(environ={"SURVEY_CONFIG": str(conf)}, cwd=tmp_path / "elsewhere")
    assert cfg.data_dir == tmp_path / "etc" / ".." / "var" / "data"


def test_unknown_setting_suggests_the_right_name(tmp_path):
    (tmp_path / "survey.toml").write_text("[responses]\ndraft_retention = 7\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"unknown setting 'draft_retention'.*'draft_retention_days'"
    ):
        load_config(environ={}, cwd=tmp_path)


def test_other_parts_tables_are_left_alone(tmp_path):
    (tmp_path / "survey.toml").write_text("[analysis]\nalpha = 0.05\n", encoding="utf-8")
    assert load_config(environ={}, cwd=tmp_path).draft_retention_days == 30


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SURVEY_STATE_BUSY_TIMEOUT_SECONDS": "soon"}, "must be a number"),
        ({"SURVEY_DRAFT_RETENTION_DAYS": "a month"}, "must be a whole number"),
        ({"SURVEY_COMPACT_ROW_GROUP_SIZE": "10.5"}, "must be a whole number"),
        ({"SURVEY_COMPACT_ROW_GROUP_SIZE": "10"}, "must be at least 1024"),
        ({"SURVEY_CONFIG": "missing.toml"}, "does not exist"),
    ],
)
def test_bad_values_name_the_setting(tmp_path, environ, message):
    with pytest.raises(ConfigError, match=message):
        load_config(environ=environ, cwd=tmp_path)


def test_bad_toml(tmp_path):
    (tmp_path / "survey.toml").write_text("data_dir = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(environ={}, cwd=tmp_path)
