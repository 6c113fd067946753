"""SnowflakeConnector against a real fakesnow server with the real connector: DDL and DML,
bound parameters in both styles, paging across calls, pandas, Snowflake's error codes with
parameter values kept out, the lazy connection, and save/load with saved credentials."""

from __future__ import annotations

import copy
import pickle
import sys

import pytest

from plait.blocks import Block
from plait_snowflake import SnowflakeConnector, SnowflakeCredentials, SnowflakeError

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")

SECRET_VALUE = "bound-v4lue-never-shown"


@pytest.fixture
def connector(snowflake_connector: SnowflakeConnector) -> SnowflakeConnector:
    """The test's connector, with a ``people`` table of five rows."""
    snowflake_connector.execute("create table people (id int, name varchar, score float)")
    snowflake_connector.execute_many(
        "insert into people (id, name, score) values (%s, %s, %s)",
        [(i, f"p{i}", i / 2) for i in range(1, 6)],
    )
    return snowflake_connector


def test_ddl_and_dml(connector: SnowflakeConnector):
    updated = connector.execute("update people set score = 0 where id > 3")
    deleted = connector.execute("delete from people where id = 1")
    connector.execute("alter table people add column team varchar")

    assert (updated, deleted) == (2, 1)
    assert connector.fetch_all("select id, score, team from people order by id") == [
        (2, 1.0, None),
        (3, 1.5, None),
        (4, 0.0, None),
        (5, 0.0, None),
    ]
    assert connector.fetch_one("select current_database(), current_schema()") == (
        connector.database,
        "PUBLIC",
    )


def test_parameters_are_bound_in_both_styles(connector: SnowflakeConnector):
    tricky = "O'Brien; drop table people; --"
    connector.execute("insert into people (id, name) values (%s, %s)", (10, tricky))
    connector.execute(
        "insert into people (id, name) values (%(id)s, %(name)s)", {"id": 11, "name": "50%"}
    )

    assert connector.fetch_one("select name from people where id = %s", [10]) == (tricky,)
    assert connector.fetch_all(
        "select id, name from people where name like %(pattern)s order by id", {"pattern": "%0%"}
    ) == [(11, "50%")]
    assert connector.fetch_one("select count(*) from people") == (7,)
    assert connector.fetch_one("select id from people where id = %s", (99,)) is None


def test_execute_many_with_named_parameters(connector: SnowflakeConnector):
    count = connector.execute_many(
        "insert into people (id, name) values (%(id)s, %(name)s)",
        ({"id": i, "name": f"n{i}"} for i in range(20, 23)),
    )

    assert count == 3
    assert connector.execute_many("insert into people (id) values (%s)", []) == 0
    assert connector.fetch_all("select name from people where id >= 20 order by id") == [
        ("n20",),
        ("n21",),
        ("n22",),
    ]


def test_fetch_many_pages_across_calls(connector: SnowflakeConnector):
    sql = "select id from people where id > %s order by id"
    connector.fetch_size = 2

    pages = [connector.fetch_many(sql, (1,)) for _ in range(4)]
    other = connector.fetch_many(sql, (3,), size=10)  # another query: its own cursor
    resumed = connector.fetch_many(sql, (1,))
    connector.reset_cursors()
    restarted = connector.fetch_many(sql, (1,), size=1)

    assert pages == [[(2,), (3,)], [(4,), (5,)], [], []]
    assert other == [(4,), (5,)]
    assert resumed == []
    assert restarted == [(2,)]
    with pytest.raises(ValueError, match="size must be 1 or more"):
        connector.fetch_many(sql, (1,), size=0)


def test_fetch_pandas(connector: SnowflakeConnector):
    frame = connector.fetch_pandas(
        "select id, name, score from people where id <= %s order by id", (3,)
    )

    assert list(frame.columns) == ["ID", "NAME", "SCORE"]
    assert frame["NAME"].tolist() == ["p1", "p2", "p3"]
    assert frame["SCORE"].tolist() == [0.5, 1.0, 1.5]


def test_fetch_pandas_without_pandas(connector: SnowflakeConnector, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)

    with pytest.raises(ImportError) as raised:
        connector.fetch_pandas("select 1")

    assert str(raised.value) == (
        "SnowflakeConnector.fetch_pandas needs pandas and pyarrow, and pandas is not "
        "installed: pip install 'plait-snowflake[pandas]'"
    )


def test_sql_errors_carry_snowflake_codes_without_values(connector: SnowflakeConnector):
    with pytest.raises(SnowflakeError) as missing:
        connector.fetch_all("select * from nope where name = %s", (SECRET_VALUE,))
    with pytest.raises(SnowflakeError) as conversion:
        connector.execute("insert into people (id) values (%(id)s)", {"id": SECRET_VALUE})

    error = missing.value
    assert (error.errno, error.sqlstate) == (2003, "42S02")
    assert error.query == "select * from nope where name = %s"
    assert str(error) == (
        f"Running a query in database {connector.database!r} failed with Snowflake error "
        "002003 (42S02): Catalog Error: Table with name NOPE does not exist!\n"
        "  query: select * from nope where name = %s"
    )
    assert not error.transient
    assert conversion.value.query == "insert into people (id) values (%(id)s)"
    assert "<redacted>" in str(conversion.value)
    for raised in (missing, conversion):
        assert SECRET_VALUE not in str(raised.value) + repr(raised.value)
        assert raised.value.__cause__ is None
        assert raised.value.__context__ is None
        copied = pickle.loads(pickle.dumps(raised.value))
        assert (copied.errno, copied.sqlstate, copied.query, str(copied)) == (
            raised.value.errno,
            raised.value.sqlstate,
            raised.value.query,
            str(raised.value),
        )


def test_parameters_that_do_not_fit_the_placeholders(connector: SnowflakeConnector):
    with pytest.raises(SnowflakeError, match=r"Running a statement .* failed: "):
        connector.execute("insert into people (id, name) values (%s, %s)", (SECRET_VALUE,))


def watch_close(connection) -> list[bool]:
    """Records each close() of ``connection`` (fakesnow never marks a connection closed:
    is_closed() stays False there)."""
    calls: list[bool] = []
    close = connection.close
    connection.close = lambda *args, **kwargs: calls.append(True) or close(*args, **kwargs)
    return calls


def test_the_connection_opens_lazily_is_reused_and_closed(
    snowflake_credentials, snowflake_database
):
    connector = SnowflakeConnector(
        credentials=snowflake_credentials, database=snowflake_database, schema="PUBLIC"
    )
    assert connector._session.connection is None

    with connector:
        connector.execute("create table t (x int)")
        first = connector.get_connection()
        first_closed = watch_close(first)
        connector.fetch_all("select * from t")
        assert connector.get_connection() is first
        assert not first_closed
    assert first_closed == [True]
    assert connector._session.connection is None

    assert connector.fetch_one("select count(*) from t") == (0,)  # opens a new one
    second = connector.get_connection()
    second_closed = watch_close(second)
    assert second is not first
    connector.warehouse = "OTHER_WH"  # a changed field: a new connection
    assert connector.get_connection() is not second
    assert second_closed == [True]
    connector.close()


def test_copies_and_pickles_never_carry_the_connection(connector: SnowflakeConnector):
    connector.fetch_many("select id from people order by id", size=1)
    connection = connector.get_connection()

    copies = [
        pickle.loads(pickle.dumps(connector)),
        copy.deepcopy(connector),
        copy.copy(connector),
        connector.model_copy(),
    ]

    for copied in copies:
        assert copied == connector
        assert copied._session.connection is None
        assert copied._session.cursors == {}
        assert copied.fetch_many("select id from people order by id", size=1) == [(1,)]
        assert copied.get_connection() is not connection
        copied.close()
    assert connector.get_connection() is connection
    assert connector.fetch_many("select id from people order by id", size=1) == [(2,)]


def test_schema_is_given_as_schema(snowflake_credentials):
    by_alias = SnowflakeConnector(credentials=snowflake_credentials, database="D", schema="RAW")
    by_name = SnowflakeConnector(credentials=snowflake_credentials, database="D", schema_name="RAW")

    assert by_alias.schema_name == by_name.schema_name == "RAW"
    assert by_alias.model_dump(by_alias=True)["schema"] == "RAW"
    assert "schema" in SnowflakeConnector.get_block_schema()["properties"]


def test_save_and_load_with_saved_credentials(connector: SnowflakeConnector):
    connector.credentials.save("fakesnow")
    SnowflakeConnector(
        credentials=SnowflakeCredentials.load("fakesnow"),
        database=connector.database,
        schema="PUBLIC",
        fetch_size=2,
        query_timeout=30,
    ).save("people")

    loaded = SnowflakeConnector.load("people")
    by_slug = Block.load("snowflake-connector/people")

    assert loaded == by_slug
    assert loaded.credentials == connector.credentials
    assert loaded.credentials._saved.name == "fakesnow"
    assert (loaded.schema_name, loaded.fetch_size, loaded.query_timeout) == ("PUBLIC", 2, 30)
    with loaded:
        assert loaded.fetch_many("select id from people order by id") == [(1,), (2,)]
    assert "snow" not in repr(loaded).replace("fakesnow", "")
