"""Settings: environment, then ``$PLAIT_HOME/config.toml``, then defaults; ``plait config show``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plait.cli import app
from plait.exceptions import ConfigError
from plait.settings import load_settings, setting_sources


@pytest.fixture
def config_file() -> Path:
    home = Path(os.environ["PLAIT_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    return home / "config.toml"


def test_defaults_put_the_database_in_plait_home():
    settings = load_settings()
    assert settings.home == Path(os.environ["PLAIT_HOME"])
    assert settings.resolved_database_url() == f"sqlite:///{settings.home / 'plait.db'}"
    assert settings.persist_runs is True
    assert setting_sources()["database_url"] == "default"


def test_the_config_file_is_read_and_the_environment_wins(config_file, monkeypatch):
    config_file.write_text('logging_level = "debug"\nrun_retention_days = 30\n')
    monkeypatch.setenv("PLAIT_RUN_RETENTION_DAYS", "7")
    settings = load_settings()
    assert settings.logging_level == "DEBUG"
    assert settings.run_retention_days == 7
    sources = setting_sources()
    assert sources["logging_level"] == str(config_file)
    assert sources["run_retention_days"] == "env PLAIT_RUN_RETENTION_DAYS"


def test_a_bad_value_names_the_setting_and_where_it_came_from(config_file, monkeypatch):
    monkeypatch.setenv("PLAIT_WRITER_BATCH_SIZE", "-3")
    origin = r"writer_batch_size \(from env PLAIT_WRITER_BATCH_SIZE\)"
    with pytest.raises(ConfigError, match=origin):
        load_settings()
    monkeypatch.delenv("PLAIT_WRITER_BATCH_SIZE")
    config_file.write_text("databse_url = 'sqlite://'\n")
    with pytest.raises(ConfigError, match=r"databse_url .*not a Plait setting; known: home"):
        load_settings()
    config_file.write_text("home = '/elsewhere'\n")
    with pytest.raises(ConfigError, match="set the PLAIT_HOME environment variable"):
        load_settings()
    config_file.write_text("this is not toml")
    with pytest.raises(ConfigError, match="could not be read"):
        load_settings()


def test_heartbeat_timeout_must_exceed_the_interval(monkeypatch):
    monkeypatch.setenv("PLAIT_HEARTBEAT_INTERVAL_SECONDS", "30")
    monkeypatch.setenv("PLAIT_HEARTBEAT_TIMEOUT_SECONDS", "20")
    with pytest.raises(ConfigError, match="heartbeat_timeout_seconds must be longer"):
        load_settings()


def test_config_show_prints_values_and_sources_and_hides_the_password(config_file, monkeypatch):
    monkeypatch.setenv("PLAIT_DATABASE_URL", "postgresql+psycopg://ana:s3cret-pw@db:5432/plait")
    config_file.write_text("writer_interval_seconds = 0.25\n")
    result = CliRunner().invoke(app, ["config", "show"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "s3cret-pw" not in result.output
    assert "postgresql+psycopg://ana:***@db:5432/plait" in result.output
    line = next(line for line in result.output.splitlines() if "writer_interval" in line)
    assert "0.25" in line
    assert str(config_file) in line
    assert "s3cret-pw" not in repr(load_settings())


def test_a_bad_setting_is_a_clear_cli_error(monkeypatch):
    monkeypatch.setenv("PLAIT_PERSIST_RUNS", "perhaps")
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 1
    assert "persist_runs (from env PLAIT_PERSIST_RUNS)" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("home", "message"),
    [
        ("relative/home", r"home \(PLAIT_HOME\) must be an absolute path or start with ~"),
        ("FILE", r"home \(PLAIT_HOME\) is .*which is a file; point it at a folder"),
    ],
)
def test_plait_home_must_be_an_absolute_folder(monkeypatch, tmp_path, home, message):
    if home == "FILE":
        home = str(tmp_path / "not-a-folder")
        Path(home).write_text("")
    monkeypatch.setenv("PLAIT_HOME", home)
    with pytest.raises(ConfigError, match=message):
        load_settings()
    result = CliRunner().invoke(app, ["flow-run", "ls"])
    assert result.exit_code == 1
    assert "PLAIT_HOME" in result.output
    assert "Traceback" not in result.output
