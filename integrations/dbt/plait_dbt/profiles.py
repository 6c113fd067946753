"""dbt profiles from blocks: ``DbtCliProfile`` writes a ``profiles.yml`` for one run, from a
target config block that holds (or refers to) saved, encrypted credentials.

The file lives in a fresh temporary directory (mode 0700, the file 0600) and is deleted when
the run ends, so a password is on disk only while dbt needs it, and never in the project.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, JsonValue, model_validator

from plait.blocks import Block, DatabaseCredentials
from plait_dbt.errors import DbtError

DOCS = "https://plait.dev/docs/integrations/dbt"


class TargetConfigs(Block, ABC):
    """One dbt target's settings: the adapter, its connection and ``threads``. Subclasses say
    how to connect; ``extras`` adds any other adapter setting as written in ``profiles.yml``."""

    model_config = ConfigDict(populate_by_name=True)

    threads: int = Field(default=4, ge=1, le=256, description="How many nodes dbt runs at once.")
    extras: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="More adapter settings, written into the target as given "
        "(e.g. {'keepalives_idle': 30}). Do not put secrets here: they are not encrypted.",
    )

    @abstractmethod
    def connection(self) -> dict[str, Any]:
        """The adapter's ``type`` and connection settings, secret values included."""

    def output(self) -> dict[str, Any]:
        """The target as ``profiles.yml`` holds it."""
        return {**self.connection(), "threads": self.threads, **self.extras}


class DuckDBTargetConfigs(TargetConfigs):
    """A DuckDB database file (or ``:memory:``) as a dbt target, for dbt-duckdb."""

    _block_type_slug = "duckdb-target-configs"
    _documentation_url = DOCS
    _code_example = """
        from plait_dbt import DbtCliProfile, DuckDBTargetConfigs

        DbtCliProfile(
            name="shop", target="dev",
            target_configs=DuckDBTargetConfigs(path="/data/shop.duckdb"),
        ).save("shop-dev")
    """

    path: str = Field(description="The database file, or ':memory:'.")
    schema_name: str = Field(default="main", alias="schema", description="The default schema.")
    extensions: list[str] = Field(default_factory=list, description="DuckDB extensions to load.")

    def connection(self) -> dict[str, Any]:
        settings: dict[str, Any] = {"type": "duckdb", "path": self.path, "schema": self.schema_name}
        if self.extensions:
            settings["extensions"] = self.extensions
        return settings


class PostgresTargetConfigs(TargetConfigs):
    """A PostgreSQL schema as a dbt target, for dbt-postgres, with the connection taken from a
    ``DatabaseCredentials`` block."""

    _documentation_url = DOCS
    _code_example = """
        from plait.blocks import DatabaseCredentials
        from plait_dbt import DbtCliProfile, PostgresTargetConfigs

        DbtCliProfile(
            name="shop", target="prod",
            target_configs=PostgresTargetConfigs(
                credentials=DatabaseCredentials.load("warehouse"), schema="analytics"
            ),
        ).save("shop-prod")
    """

    credentials: DatabaseCredentials = Field(description="Host, port, user, password, database.")
    schema_name: str = Field(alias="schema", description="The schema dbt builds into.")

    @model_validator(mode="after")
    def _check_credentials(self) -> PostgresTargetConfigs:
        credentials = self.credentials
        if credentials.driver.split("+")[0] not in ("postgresql", "postgres"):
            raise ValueError(
                f"credentials.driver is {credentials.driver!r}, but dbt-postgres needs a "
                "PostgreSQL database: use driver='postgresql+psycopg' (or 'postgresql')"
            )
        missing = [name for name in ("host", "user", "database") if not getattr(credentials, name)]
        if missing:
            raise ValueError(
                f"credentials.{missing[0]} is not set, and dbt-postgres needs "
                f"{', '.join(missing)}: set it on the DatabaseCredentials block"
            )
        return self

    def connection(self) -> dict[str, Any]:
        credentials = self.credentials
        password = credentials.password
        return {
            "type": "postgres",
            "host": credentials.host,
            "port": credentials.port or 5432,
            "user": credentials.user,
            "password": "" if password is None else password.get_secret_value(),
            "dbname": credentials.database,
            "schema": self.schema_name,
            **credentials.query,
        }


class DbtCliProfile(Block):
    """A dbt profile: its ``name`` (the ``profile:`` in ``dbt_project.yml``), the ``target``
    to run against and that target's settings. ``run_dbt`` writes it as a temporary
    ``profiles.yml`` for each run."""

    _documentation_url = DOCS
    _code_example = """
        from plait_dbt import DbtCliProfile, DbtProject, DuckDBTargetConfigs, run_dbt

        profile = DbtCliProfile(
            name="shop", target="dev",
            target_configs=DuckDBTargetConfigs(path="/data/shop.duckdb"),
        )
        run_dbt(DbtProject(project_dir="/code/shop", profiles=profile))
    """

    name: str = Field(min_length=1, description="The profile's name, as dbt_project.yml names it.")
    target: str = Field(min_length=1, description="The target's name (dbt's --target).")
    target_configs: TargetConfigs = Field(description="The target's adapter and connection.")

    def profiles(self) -> dict[str, Any]:
        """The content of ``profiles.yml``, secret values included."""
        output = {key: _literal(value) for key, value in self.target_configs.output().items()}
        return {self.name: {"target": self.target, "outputs": {self.target: output}}}

    @contextmanager
    def written(self) -> Iterator[Path]:
        """A temporary directory holding this profile as ``profiles.yml``, deleted on exit."""
        import yaml

        directory = Path(tempfile.mkdtemp(prefix="plait-dbt-profiles-"))
        try:
            descriptor = os.open(directory / "profiles.yml", os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(descriptor, "w") as file:
                yaml.safe_dump(self.profiles(), file, sort_keys=False)
            yield directory
        finally:
            shutil.rmtree(directory, ignore_errors=True)


def _literal(value: Any) -> Any:
    """``value`` kept from dbt's Jinja rendering of ``profiles.yml`` (a password may hold
    ``{{``), in nested lists and mappings too."""
    if isinstance(value, dict):
        return {key: _literal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_literal(item) for item in value]
    if isinstance(value, str) and any(mark in value for mark in ("{{", "{%", "{#")):
        if "endraw" in value:
            raise DbtError(
                "A setting of the dbt target holds both Jinja markers and 'endraw', which "
                "cannot be passed through dbt's rendering of profiles.yml unchanged; change "
                "that value."
            )
        return "{% raw %}" + value + "{% endraw %}"
    return value
