"""Plait's settings: ``PLAIT_*`` environment variables, then ``$PLAIT_HOME/config.toml``,
then defaults.

Settings are read when they are needed (the first run, opening the store, the CLI), never at
``import plait``. ``PLAIT_HOME`` itself comes only from the environment, because it says
where the config file is. Both sources are read here (a variable's name matches whatever
its case) and pydantic checks and converts what they give. The defaults need no checking,
so a process that sets nothing but ``PLAIT_HOME`` does not import pydantic: that import
alone costs a one-task flow's process more than its run.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from plait.exceptions import ConfigError

if TYPE_CHECKING:  # the field types that pydantic provides (resolved in _adapter)
    from pydantic import PositiveFloat, PositiveInt, SecretStr, TypeAdapter, ValidationError

ENV_PREFIX = "PLAIT_"
DEFAULT_HOME = "~/.plait"


def home_dir() -> Path:
    """``$PLAIT_HOME``, or ``~/.plait``."""
    return Path(os.environ.get(f"{ENV_PREFIX}HOME") or DEFAULT_HOME).expanduser()


def config_file() -> Path:
    return home_dir() / "config.toml"


def about(description: str) -> dict[str, str]:
    """A setting's field metadata: what it is for."""
    return {"description": description}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    """Every setting, with its default. Each is ``PLAIT_<NAME>`` in the environment and
    ``<name> = ...`` in ``config.toml``."""

    home: Path = dataclasses.field(
        default=Path(DEFAULT_HOME), metadata=about("Where Plait keeps its database and files.")
    )
    database_url: SecretStr | None = dataclasses.field(
        default=None,
        metadata=about(
            "SQLAlchemy URL of the run store; unset means SQLite at $PLAIT_HOME/plait.db."
        ),
    )
    api_url: str | None = dataclasses.field(
        default=None,
        metadata=about(
            "The API server every run reports to and every read goes through, e.g. "
            "http://127.0.0.1:4300/api; unset means the run store directly (embedded)."
        ),
    )
    api_key: SecretStr | None = dataclasses.field(
        default=None, metadata=about("The API key sent to api_url (plait server api-key create).")
    )
    persist_runs: bool = dataclasses.field(
        default=True, metadata=about("Record runs in the store (false: keep them in memory only).")
    )
    logging_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = dataclasses.field(
        default="INFO", metadata=about("Level of run loggers, on the console and in the store.")
    )
    writer_interval_seconds: PositiveFloat = dataclasses.field(
        default=0.5, metadata=about("How often the background writer saves recorded events.")
    )
    writer_batch_size: PositiveInt = dataclasses.field(
        default=5000, metadata=about("Most events saved in one transaction.")
    )
    writer_queue_limit: PositiveInt = dataclasses.field(
        default=200_000,
        metadata=about(
            "Most events waiting in memory for the store; past it they wait in the "
            "spool ($PLAIT_HOME/spool)."
        ),
    )
    heartbeat_interval_seconds: PositiveFloat = dataclasses.field(
        default=10, metadata=about("How often a process marks its running flow runs as alive.")
    )
    heartbeat_timeout_seconds: PositiveFloat = dataclasses.field(
        default=90,
        metadata=about(
            "A running flow run on another host with no heartbeat for this long is marked Crashed."
        ),
    )
    scheduler_max_runs: PositiveInt = dataclasses.field(
        default=100,
        metadata=about("Most Scheduled runs the scheduler keeps ahead per deployment."),
    )
    scheduler_horizon_days: PositiveFloat = dataclasses.field(
        default=7, metadata=about("How far ahead the scheduler creates Scheduled runs.")
    )
    scheduler_interval_seconds: PositiveFloat = dataclasses.field(
        default=5,
        metadata=about("How often the server's scheduler makes runs and marks late ones."),
    )
    late_after_seconds: PositiveFloat = dataclasses.field(
        default=60,
        metadata=about(
            "A Scheduled run not started this long after its time becomes Late (and the "
            "deployment's catchup decides whether it still runs)."
        ),
    )
    serve_poll_seconds: PositiveFloat = dataclasses.field(
        default=5, metadata=about("How often a serving process looks for runs that are due.")
    )
    serve_grace_seconds: PositiveFloat = dataclasses.field(
        default=30,
        metadata=about(
            "On Ctrl-C or SIGTERM, how long a serving process lets its flow runs finish before "
            "it cancels them."
        ),
    )
    concurrency_lease_seconds: PositiveFloat = dataclasses.field(
        default=60,
        metadata=about(
            "How long a concurrency slot stays taken by a process that stopped renewing it "
            "(it renews every third of this while it runs)."
        ),
    )
    run_retention_days: PositiveInt | None = dataclasses.field(
        default=None,
        metadata=about("Delete finished flow runs older than this many days (unset: keep all)."),
    )

    results_persist_by_default: bool = dataclasses.field(
        default=False,
        metadata=about("Persist every flow's and task's result unless it sets persist_result."),
    )
    encryption_key: SecretStr | None = dataclasses.field(
        default=None,
        metadata=about(
            "Key(s) that encrypt saved block secrets, comma-separated, current first; "
            "unset means the key file $PLAIT_HOME/encryption.key."
        ),
    )

    def __post_init__(self) -> None:
        home = Path(self.home).expanduser()
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
        if self.api_url is not None and not self.api_url.startswith(("http://", "https://")):
            raise ValueError(
                f"api_url (PLAIT_API_URL) must be an http:// or https:// URL; got "
                f"{self.api_url!r}. Use e.g. http://127.0.0.1:4300/api"
            )
        if self.heartbeat_timeout_seconds <= self.heartbeat_interval_seconds:
            raise ValueError(
                "heartbeat_timeout_seconds must be longer than heartbeat_interval_seconds "
                f"(got {self.heartbeat_timeout_seconds:g} <= {self.heartbeat_interval_seconds:g})"
            )

    @property
    def database_path(self) -> Path:
        """The default SQLite database file."""
        return self.home / "plait.db"

    def resolved_database_url(self) -> str:
        """The store's URL: ``database_url`` if set, else SQLite in ``home``."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.database_path}"


SETTINGS = tuple(field.name for field in dataclasses.fields(Settings))
SECRET_SETTINGS = frozenset(
    field.name for field in dataclasses.fields(Settings) if "SecretStr" in str(field.type)
)


def load_settings() -> Settings:
    """The effective settings; a bad value raises ``ConfigError`` naming the setting, where
    it came from, and what is wrong."""
    given = {**_from_config_file(), **_from_environment()}
    try:
        if given.keys() <= {"home"}:  # the defaults are valid: nothing to convert
            return Settings(**given)
        return _validated(given)
    except ValueError as exc:  # a check across settings, made by Settings itself
        raise ConfigError(f"Invalid Plait settings:\n  {exc}") from None


def _validated(given: dict[str, Any]) -> Settings:
    """Settings from values given as text (the environment) or TOML, checked and converted
    by pydantic."""
    from pydantic import ValidationError

    if isinstance(given.get("logging_level"), str):
        given = {**given, "logging_level": given["logging_level"].upper()}
    try:
        return _adapter().validate_python(given)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


@functools.cache
def _adapter() -> TypeAdapter[Settings]:
    """Pydantic's validator of ``Settings``. It resolves the field types that pydantic
    provides from this function's names."""
    from pydantic import PositiveFloat, PositiveInt, SecretStr, TypeAdapter  # noqa: F401

    return TypeAdapter(Settings)


def _from_environment() -> dict[str, str]:
    """The settings given as ``PLAIT_<NAME>`` environment variables."""
    values = {}
    for key, value in os.environ.items():
        upper = key.upper()
        if upper.startswith(ENV_PREFIX) and (name := upper[len(ENV_PREFIX) :].lower()) in SETTINGS:
            values[name] = value
    return values


def _from_config_file() -> dict[str, Any]:
    """The settings in ``config.toml``, which may set anything but ``home`` (it lives in
    home)."""
    path = config_file()
    try:
        with path.open("rb") as file:
            import tomllib

            values = tomllib.load(file)
    except (FileNotFoundError, NotADirectoryError):  # none, or home is not a folder (checked)
        return {}
    except (OSError, ValueError) as exc:  # unreadable, or not TOML
        raise ConfigError(f"{path} could not be read: {exc}") from None
    if "home" in values:
        raise ConfigError(
            f"{path}: 'home' cannot be set in the config file, which lives in it; set the "
            "PLAIT_HOME environment variable instead."
        )
    if unknown := [name for name in values if name not in SETTINGS]:
        raise ConfigError(
            f"Invalid Plait settings:\n  {', '.join(unknown)} (in {path}): not a Plait "
            f"setting; known: {', '.join(SETTINGS)}"
        )
    return values


def setting_sources() -> dict[str, str]:
    """Where each setting's effective value comes from: an environment variable, the config
    file, or the default."""
    from_env, from_file = _from_environment(), _from_config_file()
    sources = {}
    for name in SETTINGS:
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
        if name not in SETTINGS:  # a check across settings
            problems.append(error["msg"].removeprefix("Value error, "))
            continue
        where = sources[name]
        origin = "" if where == "default" else f" (from {where})"
        given = "" if name in SECRET_SETTINGS else f", got {error['input']!r}"
        problems.append(f"{name}{origin}: {error['msg']}{given}")
    return "Invalid Plait settings:\n  " + "\n  ".join(problems)
