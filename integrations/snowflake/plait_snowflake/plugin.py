"""Registers plait-snowflake with Plait: its block types and prebuilt tasks. Imports stay
inside the hooks, so loading the plugin does not import the Snowflake connector."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plait import hookimpl


@hookimpl
def plait_block_types() -> Sequence[type]:
    from plait_snowflake import SnowflakeConnector, SnowflakeCredentials

    return [SnowflakeCredentials, SnowflakeConnector]


@hookimpl
def plait_tasks() -> Sequence[Any]:
    from plait_snowflake import tasks

    return [tasks.snowflake_query, tasks.snowflake_multiquery, tasks.snowflake_query_pandas]
