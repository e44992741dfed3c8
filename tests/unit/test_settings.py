from __future__ import annotations

import pytest

from engine.app.settings import DEFAULT_DB, Settings
from engine.errors import InvalidValue


def test_defaults():
    settings = Settings.load(cli={}, env={})
    assert settings.db == DEFAULT_DB
    assert settings.sqlite_synchronous == "FULL"
    assert settings.workflows == ()


def test_command_line_beats_environment_beats_file(tmp_path):
    config = tmp_path / "wk.toml"
    config.write_text('db = "sqlite:///file.db"\nactor = "file"\nsqlite_synchronous = "normal"\n')
    env = {"WIJKKOMPAS_DB": "sqlite:///env.db", "WIJKKOMPAS_ACTOR": "env"}
    settings = Settings.load(cli={"db": "sqlite:///cli.db"}, env=env, config_file=str(config))
    assert settings.db == "sqlite:///cli.db"
    assert settings.actor == "env"
    assert settings.sqlite_synchronous == "NORMAL"
    assert settings.source == {
        "db": "command line",
        "actor": "WIJKKOMPAS_ACTOR",
        "sqlite_synchronous": str(config),
    }


def test_the_config_file_can_come_from_the_environment(tmp_path):
    config = tmp_path / "wk.toml"
    config.write_text('workflows = ["/a", "/b"]\n')
    settings = Settings.load(cli={}, env={"WIJKKOMPAS_CONFIG": str(config)})
    assert settings.workflows == ("/a", "/b")


def test_workflow_directories_from_the_environment_split_on_pathsep():
    settings = Settings.load(cli={}, env={"WIJKKOMPAS_WORKFLOWS": "/a:/b"})
    assert settings.workflows == ("/a", "/b")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('databse = "x"\n', r"known settings: db, sqlite_synchronous"),
        ('sqlite_synchronous = "SOMETIMES"\n', r"one of OFF, NORMAL, FULL, EXTRA"),
        ("db = 5\n", r"'db' \(from .*wk.toml\)"),
        ("db = [\n", r"not valid TOML"),
    ],
    ids=["unknown key", "bad choice", "wrong type", "broken toml"],
)
def test_bad_configuration_fails_loudly(tmp_path, content, message):
    config = tmp_path / "wk.toml"
    config.write_text(content)
    with pytest.raises(InvalidValue, match=message):
        Settings.load(cli={}, env={}, config_file=str(config))


def test_a_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(InvalidValue, match="no such file"):
        Settings.load(cli={}, env={}, config_file=str(tmp_path / "none.toml"))


def test_bad_environment_value_names_the_variable():
    with pytest.raises(InvalidValue, match="WIJKKOMPAS_SQLITE_SYNCHRONOUS"):
        Settings.load(cli={}, env={"WIJKKOMPAS_SQLITE_SYNCHRONOUS": "maybe"})
