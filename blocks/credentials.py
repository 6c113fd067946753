"""Credentials blocks that Plait itself provides."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, JsonValue, SecretStr, field_validator
from pydantic import Secret as SecretValue

from plait.blocks.block import CheckResult, CredentialsBlock


class Secret(CredentialsBlock):
    """A secret string or JSON value (an API token, a connection string, a dict of
    passwords), encrypted at rest and masked everywhere. Read it with ``.get()``."""

    _documentation_url = "https://plait.dev/docs/blocks#standard-blocks"
    _code_example = """
        from plait.blocks import Secret

        Secret(value="s3cr3t-t0ken").save("api-token")
        token = Secret.load("api-token").get()
    """

    value: SecretStr | SecretValue[JsonValue]

    def get(self) -> Any:
        """The secret's value: a string, or the JSON value it was saved with."""
        return self.value.get_secret_value()

    def check(self) -> CheckResult:
        """Read this secret back from the store and confirm it decrypts to the same value
        with the current encryption key."""
        return CheckResult.measure(self._read_back)

    def _read_back(self) -> str:
        if self._saved is None:
            raise ValueError("this secret is not saved; save it first")
        stored = type(self).load(self._saved.name)
        if stored.get() != self.get():
            raise ValueError(
                f"the saved value differs from this one (saved version {stored._saved.version})"
            )
        return f"decrypted secret/{self._saved.name} with the current key"


class DatabaseCredentials(CredentialsBlock):
    """Where and how to reach a SQL database: a SQLAlchemy driver, host, port, user, password
    and database.

    Tasks get a SQLAlchemy URL or engine from it, and integrations build their own
    connection settings from it (dbt profiles, say), so every tool uses the same saved,
    encrypted password."""

    _documentation_url = "https://plait.dev/docs/blocks#standard-blocks"
    _code_example = """
        from plait.blocks import DatabaseCredentials

        DatabaseCredentials(
            driver="postgresql+psycopg", host="db.internal", port=5432,
            user="analytics", password="...", database="warehouse",
        ).save("warehouse")
        engine = DatabaseCredentials.load("warehouse").get_engine()
    """

    driver: str = Field(
        description="SQLAlchemy dialect and driver, e.g. postgresql+psycopg, mysql+pymysql, sqlite"
    )
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    user: str | None = None
    password: SecretStr | None = None
    database: str | None = None
    query: dict[str, str] = Field(
        default_factory=dict, description="Driver options added to the URL, e.g. sslmode"
    )

    @field_validator("driver")
    @classmethod
    def _check_driver(cls, value: str) -> str:
        if not _DRIVER.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a SQLAlchemy driver name: use 'dialect' or 'dialect+driver' "
                "in lower case, e.g. 'postgresql+psycopg' or 'sqlite'"
            )
        return value

    def get_url(self) -> Any:
        """The ``sqlalchemy.URL``; it masks the password when printed."""
        from sqlalchemy import URL

        password = None if self.password is None else self.password.get_secret_value()
        return URL.create(
            self.driver,
            username=self.user,
            password=password,
            host=self.host,
            port=self.port,
            database=self.database,
            query=self.query,
        )

    def get_engine(self) -> Any:
        """A SQLAlchemy engine for these credentials, built once per process."""
        from sqlalchemy import create_engine

        return self.cached_client("engine", lambda: create_engine(self.get_url()))

    def check(self) -> CheckResult:
        """Connect, run ``SELECT 1`` and report the server and user."""
        result = CheckResult.measure(self._select_one)
        secret = self.password.get_secret_value() if self.password is not None else ""
        if secret and secret in result.message:  # a driver may echo the connection string
            masked = result.message.replace(secret, "**********")
            return CheckResult(result.ok, masked, result.latency)
        return result

    def _select_one(self) -> str:
        from sqlalchemy import NullPool, create_engine, text

        engine = create_engine(self.get_url(), poolclass=NullPool)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                version = ".".join(map(str, engine.dialect.server_version_info or ()))
        finally:
            engine.dispose()
        where = self.get_url().render_as_string(hide_password=True)
        return f"connected to {engine.dialect.name} {version} at {where}".replace("  ", " ")


_DRIVER = re.compile(r"[a-z][a-z0-9_]*(\+[a-z][a-z0-9_]*)?")
