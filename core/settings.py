"""Plait's settings: ``PLAIT_*`` environment variables, then ``$PLAIT_HOME/config.toml``,
then defaults.

Settings are read when they are needed (the first run, opening the store, the CLI), never at
``import plait``. ``PLAIT_HOME`` itself comes only from the environment, because it says
where the config file is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveFloat, PositiveInt, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from plait.exceptions import ConfigError

ENV_PREFIX = "PLAIT_"
DEFAULT_HOME = "~/.plait"


def home_dir() -> Path:
    """``$PLAIT_HOME``, or ``~/.plait``."""
    return Path(os.environ.get(f"{ENV_PREFIX}HOME") or DEFAULT_HOME).expanduser()


def config_file() -> Path:
    return home_dir() / "config.toml"


class Settings(BaseSettings):
    """Every setting, with its default. Each is ``PLAIT_<NAME>`` in the environment and
    ``<name> = ...`` in ``config.toml``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    home: Path = Field(
        default=Path(DEFAULT_HOME), description="Where Plait keeps its database and files."
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL of the run store; unset means SQLite at $PLAIT_HOME/plait.db.",
    )
    persist_runs: bool = Field(
        default=True, description="Record runs in the store (false: keep them in memory only)."
    )
    logging_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="Level of run loggers, on the console and in the store."
    )
    writer_interval_seconds: PositiveFloat = Field(
        default=0.5, description="How often the background writer saves recorded events."
    )
    writer_batch_size: PositiveInt = Field(
        default=5000, description="Most events saved in one transaction."
    )
    writer_queue_limit: PositiveInt = Field(
        default=200_000,
        description="Most events waiting in memory for the store; past it they wait in the "
        "spool ($PLAIT_HOME/spool).",
    )
    heartbeat_interval_seconds: PositiveFloat = Field(
        default=10, description="How often a process marks its running flow runs as alive."
    )
    heartbeat_timeout_seconds: PositiveFloat = Field(
        default=90,
        description="A running flow run on another host with no heartbeat for this long is "
        "marked Crashed.",
    )
    run_retention_days: PositiveInt | None = Field(
        default=None,
        description="Delete finished flow runs older than this many days (unset: keep all).",
    )

    results_persist_by_default: bool = Field(
        default=False,
        description="Persist every flow's and task's result unless it sets persist_result.",
    )
    encryption_key: SecretStr | None = Field(
        default=None,
        description="Key(s) that encrypt saved block secrets, comma-separated, current first; "
        "unset means the key file $PLAIT_HOME/encryption.key.",
    )

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("logging_level"), str):
            data = {**data, "logging_level": data["logging_level"].upper()}
        return data

    @model_validator(mode="after")
    def _check(self) -> Settings:
        home = self.home.expanduser()
        if not home.is_absolute():
            raise ValueError(
                f"home (PLAIT_HOME) must be an absolute path or start with ~; got '{self.home}', "
                f"which would depend on the working directory. Use e.g. {Path.cwd() / self.home}"
            )
        if home.exists() and not home.is_dir():
            raise ValueError(
                f"home (PLAIT_HOME) is {home}, which is a file; point it at a folder (it is "
                "created if missing)"
            )
        object.__setattr__(self, "home", home)
        if self.heartbeat_timeout_seconds <= self.heartbeat_interval_seconds:
            raise ValueError(
                "heartbeat_timeout_seconds must be longer than heartbeat_interval_seconds "
                f"(got {self.heartbeat_timeout_seconds:g} <= {self.heartbeat_interval_seconds:g})"
            )
        return self

    @property
    def database_path(self) -> Path:
        """The default SQLite database file."""
        return self.home / "plait.db"

    def resolved_database_url(self) -> str:
        """The store's URL: ``database_url`` if set, else SQLite in ``home``."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.database_path}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _ConfigFile(settings_cls, config_file())


class _ConfigFile(TomlConfigSettingsSource):
    """``config.toml``, which may set anything but ``home`` (it lives in home)."""

    def __call__(self) -> dict[str, Any]:
        values = super().__call__()
        if "home" in values:
            raise ConfigError(
                f"{config_file()}: 'home' cannot be set in the config file, which lives in it; "
                "set the PLAIT_HOME environment variable instead."
            )
        return values


def load_settings() -> Settings:
    """The effective settings; a bad value raises ``ConfigError`` naming the setting, where
    it came from, and what is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    except ConfigError:
        raise
    except ValueError as exc:  # an unreadable config.toml
        raise ConfigError(f"{config_file()} could not be read: {exc}") from None


def setting_sources() -> dict[str, str]:
    """Where each setting's effective value comes from: an environment variable, the config
    file, or the default."""
    from_env = EnvSettingsSource(Settings, env_prefix=ENV_PREFIX)()
    from_file = _ConfigFile(Settings, config_file())()
    sources = {}
    for name in Settings.model_fields:
        if name in from_env:
            sources[name] = f"env {ENV_PREFIX}{name.upper()}"
        elif name in from_file:
            sources[name] = str(config_file())
        else:
            sources[name] = "default"
    return sources


def _describe(exc: ValidationError) -> str:
    sources = setting_sources()
    problems = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "settings"
        if error["type"] == "extra_forbidden":
            known = ", ".join(Settings.model_fields)
            problems.append(f"{name} (in {config_file()}): not a Plait setting; known: {known}")
            continue
        if name not in Settings.model_fields:  # a check across settings
            problems.append(error["msg"].removeprefix("Value error, "))
            continue
        where = sources[name]
        origin = "" if where == "default" else f" (from {where})"
        secret = "Secret" in str(Settings.model_fields[name].annotation)
        given = "" if secret else f", got {error['input']!r}"
        problems.append(f"{name}{origin}: {error['msg']}{given}")
    return "Invalid Plait settings:\n  " + "\n  ".join(problems)
