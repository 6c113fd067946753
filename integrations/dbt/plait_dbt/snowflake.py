"""Snowflake as a dbt target, from plait-snowflake's ``SnowflakeConnector``. Importing this
module needs plait-snowflake (``pip install 'plait-dbt[snowflake]'``)."""

from __future__ import annotations

import base64
from typing import Any

from pydantic import Field, model_validator

from plait_dbt.profiles import DOCS, TargetConfigs
from plait_snowflake import SnowflakeConnector

_PLAIN = ("role", "host", "port", "protocol", "authenticator")


class SnowflakeTargetConfigs(TargetConfigs):
    """A Snowflake database and schema as a dbt target, for dbt-snowflake, logging in with the
    connector's ``SnowflakeCredentials``.

    A key pair reaches dbt as the decrypted key (base64 DER), read the way plait-snowflake
    reads it, so every key form it accepts works here too."""

    _documentation_url = DOCS
    _code_example = """
        from plait_dbt import DbtCliProfile, SnowflakeTargetConfigs
        from plait_snowflake import SnowflakeConnector

        DbtCliProfile(
            name="shop", target="prod",
            target_configs=SnowflakeTargetConfigs(connector=SnowflakeConnector.load("prod")),
        ).save("shop-snowflake")
    """

    connector: SnowflakeConnector = Field(description="Credentials, database and warehouse.")
    schema_name: str | None = Field(
        default=None,
        alias="schema",
        description="The schema dbt builds into; by default the connector's.",
    )

    @model_validator(mode="after")
    def _needs_schema(self) -> SnowflakeTargetConfigs:
        if self.schema_name is None and self.connector.schema_name is None:
            raise ValueError(
                "schema is not set here nor on the connector, and dbt needs one: give "
                "schema='ANALYTICS' (or set the connector's schema)"
            )
        return self

    def connection(self) -> dict[str, Any]:
        connector = self.connector
        credentials = connector.credentials
        settings: dict[str, Any] = {
            "type": "snowflake",
            "account": credentials.account,
            "user": credentials.user,
            "database": connector.database,
            "schema": self.schema_name or connector.schema_name,
        }
        if connector.warehouse is not None:
            settings["warehouse"] = connector.warehouse
        settings.update(
            (name, getattr(credentials, name))
            for name in _PLAIN
            if getattr(credentials, name) is not None
        )
        if credentials.password is not None:
            settings["password"] = credentials.password.get_secret_value()
        private_key = credentials.get_private_key()  # decrypted, as plait-snowflake reads it
        if private_key is not None:
            settings["private_key"] = base64.b64encode(private_key).decode("ascii")
        if credentials.token is not None:
            settings.update(authenticator="oauth", token=credentials.token.get_secret_value())
        return settings
