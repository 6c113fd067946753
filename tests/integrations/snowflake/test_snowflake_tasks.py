"""The prebuilt Snowflake tasks in a real flow against a real fakesnow server (the real
connector): each task, an all-or-nothing transaction, SQL errors that fail the task at once,
and which failures the tasks retry (lost connections, never SQL errors)."""

from __future__ import annotations

from typing import Any

import pytest
from fixtures.runs import failed, in_flow

from plait import flow
from plait.states import Completed
from plait_snowflake import (
    SnowflakeConnector,
    SnowflakeError,
    snowflake_multiquery,
    snowflake_query,
    snowflake_query_pandas,
)
from plait_snowflake.errors import is_transient
from plait_snowflake.tasks import retry_if_transient

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")


@pytest.fixture
def connector(snowflake_connector: SnowflakeConnector) -> SnowflakeConnector:
    snowflake_connector.execute("create table accounts (id int, balance int)")
    snowflake_connector.execute_many("insert into accounts values (%s, %s)", [(1, 100), (2, 50)])
    return snowflake_connector


def test_every_task_in_a_flow(connector: SnowflakeConnector, recorder):
    connector.close()

    @flow
    def pipeline() -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["moved"] = snowflake_multiquery(
            [
                "update accounts set balance = balance - 30 where id = 1",
                "update accounts set balance = balance + 30 where id = 2",
                "select sum(balance) from accounts",
            ],
            connector,
            as_transaction=True,
        )
        out["rows"] = snowflake_query(
            "select id, balance from accounts where balance > %s order by id", (0,), connector
        )
        out["named"] = snowflake_query(
            "select balance from accounts where id = %(id)s", {"id": 2}, connector=connector
        )
        out["plain"] = snowflake_multiquery(["select 1", "select 2"], connector)
        out["frame"] = snowflake_query_pandas(
            "select id, balance from accounts order by id", connector=connector
        )
        return out

    out = pipeline()

    assert out["moved"][2] == [(150,)]
    assert out["rows"] == [(1, 70), (2, 80)]
    assert out["named"] == [(80,)]
    assert out["plain"] == [[(1,)], [(2,)]]
    assert out["frame"].to_dict("list") == {"ID": [1, 2], "BALANCE": [70, 80]}
    assert connector._session.connection is None  # each task used a connection of its own
    names = [run.name.rsplit("-", 1)[0] for run in recorder.task_runs()]
    assert names == [
        "snowflake_multiquery",
        "snowflake_query",
        "snowflake_query",
        "snowflake_multiquery",
        "snowflake_query_pandas",
    ]


def test_a_failing_statement_rolls_the_transaction_back(connector: SnowflakeConnector):
    states: list[Any] = []

    @flow
    def pipeline() -> None:
        states.append(
            snowflake_multiquery(
                [
                    "update accounts set balance = 0 where id = 1",
                    "insert into accounts values (3, 10)",
                    "insert into missing_table values (1)",
                ],
                connector,
                as_transaction=True,
                return_state=True,
            )
        )

    pipeline()

    (state,) = states
    assert state.is_failed()
    error = state.data
    assert isinstance(error, SnowflakeError)
    assert error.errno == 2003
    assert str(error).startswith(
        f"Running query 3 of 3 in a transaction (rolled back) in database {connector.database!r} "
        "failed with Snowflake error 002003 (42S02): "
    )
    assert error.query == "insert into missing_table values (1)"
    assert connector.fetch_all("select id, balance from accounts order by id") == [
        (1, 100),
        (2, 50),
    ]


def test_sql_errors_fail_the_task_at_once(connector: SnowflakeConnector, recorder):
    states: list[Any] = []

    @flow
    def pipeline() -> None:
        states.append(snowflake_query("select * from nope", connector=connector, return_state=True))
        states.append(
            snowflake_query_pandas(
                "select nope from accounts", connector=connector, return_state=True
            )
        )

    pipeline()

    missing, bad_column = states
    assert missing.is_failed()
    assert bad_column.is_failed()
    assert (missing.data.errno, missing.data.sqlstate) == (2003, "42S02")
    assert isinstance(bad_column.data, SnowflakeError)
    assert len(recorder.task_runs()) == 2  # no retries


def test_a_task_without_a_connector():
    state = in_flow(lambda: snowflake_query("select 1", return_state=True))

    assert state.is_failed()
    assert "snowflake_query needs connector=SnowflakeConnector(...)" in str(state.data)


def test_the_retry_condition_on_real_errors(connector: SnowflakeConnector, closed_port: int):
    with pytest.raises(SnowflakeError) as sql_error:
        connector.fetch_all("select * from nope")
    unreachable = connector.model_copy(
        update={"credentials": connector.credentials.model_copy(update={"port": closed_port})}
    )
    with pytest.raises(SnowflakeError) as lost:
        unreachable.fetch_all("select 1")

    assert lost.value.errno == 250001
    assert retry_if_transient(snowflake_query, None, failed(lost.value)) is True
    assert retry_if_transient(snowflake_query, None, failed(sql_error.value)) is False
    assert retry_if_transient(snowflake_query, None, failed(ValueError("bad input"))) is False
    assert retry_if_transient(snowflake_query, None, Completed(1)) is False


def test_which_connector_errors_are_transient():
    from snowflake.connector import errors

    assert is_transient(errors.OperationalError(msg="lost", errno=250003))
    assert is_transient(errors.ServiceUnavailableError())
    assert is_transient(ConnectionResetError())
    assert not is_transient(
        errors.DatabaseError(msg="Incorrect username or password", errno=250001)
    )
    assert not is_transient(errors.ProgrammingError(msg="syntax error", errno=1003))
    assert not is_transient(SnowflakeError("refused", errno=390100))


def test_tasks_on_every_task_runner(connector: SnowflakeConnector, task_runner):
    """The connector and a SnowflakeError cross to worker processes and back (pickled)."""
    states: list[Any] = []

    @flow(task_runner=task_runner)
    def pipeline() -> None:
        futures = [
            snowflake_query.submit("select balance from accounts where id = %s", (1,), connector),
            snowflake_query.submit("select * from nope where id = %s", ("x-v4lue",), connector),
        ]
        for future in futures:
            future.wait()
            states.append(future.state)

    pipeline()

    ok, missing = states
    assert ok.result() == [(100,)]
    assert missing.is_failed()
    assert isinstance(missing.data, SnowflakeError)
    assert (missing.data.errno, missing.data.query) == (2003, "select * from nope where id = %s")
