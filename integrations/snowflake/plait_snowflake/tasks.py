"""Prebuilt Plait tasks for Snowflake: thin wrappers over the ``SnowflakeConnector`` methods.

Each task run opens a connection of its own (on a copy of the connector) and closes it at
the end, so tasks running side by side never share a session or a transaction. To run many
small queries on one connection, call the connector's methods inside one task.

Every task retries up to 3 times, after about 1, 4 and 16 seconds (stretched by up to 50% of
random jitter), and only when the failure is transient: a connection to Snowflake that could
not be made or was lost, or a 429/502/503/504 answer. A SQL error (a missing table, a syntax
error) or a refused login fails at once, with the ``SnowflakeError``. Change any option with
``with_options``::

    snowflake_query.with_options(retries=5, retry_delay_seconds=[2, 10, 60])(
        "select 1", connector=connector
    )
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from plait import retry_when, task
from plait_snowflake.connector import Params, Row, SnowflakeConnector
from plait_snowflake.errors import is_transient

if TYPE_CHECKING:
    import pandas


RETRY_OPTIONS: dict[str, Any] = retry_when(is_transient)
"""The retry options every task here is defined with."""
retry_if_transient = RETRY_OPTIONS["retry_condition_fn"]


def _own(connector: SnowflakeConnector | None, task_name: str) -> SnowflakeConnector:
    """A copy of ``connector`` without its connection (the task opens and closes its own)."""
    if not isinstance(connector, SnowflakeConnector):
        raise TypeError(
            f"{task_name} needs connector=SnowflakeConnector(...) (or a saved one, "
            f"SnowflakeConnector.load(NAME)), got {type(connector).__name__}"
        )
    return connector.model_copy()


@task(name="snowflake_query", **RETRY_OPTIONS)
def snowflake_query(
    query: str, params: Params = None, connector: SnowflakeConnector | None = None
) -> list[Row]:
    """Run ``query`` with ``params`` bound (a sequence for ``%s``, a mapping for
    ``%(name)s``); returns every row of its result."""
    with _own(connector, "snowflake_query") as own:
        return own.fetch_all(query, params)


@task(name="snowflake_multiquery", **RETRY_OPTIONS)
def snowflake_multiquery(
    queries: Sequence[str], connector: SnowflakeConnector, as_transaction: bool = False
) -> list[list[Row]]:
    """Run ``queries`` one after the other; returns the rows each returned. With
    ``as_transaction``, all or nothing: ``begin``, the queries, ``commit``, and a rollback
    if one fails. See ``SnowflakeConnector.execute_queries``."""
    with _own(connector, "snowflake_multiquery") as own:
        return own.execute_queries(queries, as_transaction=as_transaction)


@task(name="snowflake_query_pandas", **RETRY_OPTIONS)
def snowflake_query_pandas(
    query: str, params: Params = None, connector: SnowflakeConnector | None = None
) -> pandas.DataFrame:
    """Run ``query`` with ``params`` bound; returns its result as a pandas ``DataFrame``.
    Needs the ``pandas`` extra: ``pip install 'plait-snowflake[pandas]'``."""
    with _own(connector, "snowflake_query_pandas") as own:
        return own.fetch_pandas(query, params)
