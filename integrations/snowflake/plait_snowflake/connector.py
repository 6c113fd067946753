"""A Snowflake database (and schema and warehouse) to run queries in, as a block.

The connection opens on first use and is reused until ``close()`` (or the end of a ``with``
block). It lives outside the block's fields: saving, copying or pickling a connector (to
send it to another process) never carries the connection, and the copy opens its own.

Parameters are always passed to the connector, which binds them (``%s`` for a sequence,
``%(name)s`` for a mapping); they are never formatted into the SQL here, and never shown in
an error.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self, TypeVar

from pydantic import ConfigDict, Field, PrivateAttr

from plait.blocks import Block
from plait_snowflake.credentials import SnowflakeCredentials
from plait_snowflake.errors import SnowflakeError, snowflake_error

if TYPE_CHECKING:
    import pandas

Params = Sequence[Any] | Mapping[str, Any] | None
"""Query parameters: a sequence for ``%s`` placeholders, a mapping for ``%(name)s`` ones."""
Row = tuple[Any, ...]
T = TypeVar("T")


class _Session:
    """The open connection and the cursors ``fetch_many`` continues from. Never copied nor
    pickled: a copy starts without a connection."""

    def __init__(self) -> None:
        self.connection: Any = None
        self.opened_with: Any = None  # the settings the connection was opened with
        self.cursors: dict[tuple[str, str], Any] = {}
        self.lock = threading.RLock()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Session, ())

    def __copy__(self) -> _Session:
        return _Session()

    def __deepcopy__(self, memo: dict[int, Any]) -> _Session:
        return _Session()

    def reset_cursors(self) -> None:
        with self.lock:
            cursors, self.cursors = self.cursors, {}
        for cursor in cursors.values():
            _quietly(cursor.close)

    def close(self) -> None:
        with self.lock:
            self.reset_cursors()
            connection, self.connection, self.opened_with = self.connection, None, None
        if connection is not None:
            _quietly(connection.close)


class SnowflakeConnector(Block):
    """A Snowflake ``database`` (with a ``schema`` and a ``warehouse``) to run queries in,
    with saved ``credentials``: ``execute``, ``execute_many``, ``fetch_one``, ``fetch_many``
    (page by page, across calls), ``fetch_all`` and ``fetch_pandas``. The connection opens on
    first use, is reused, and is closed by ``close()`` or at the end of a ``with`` block.

    The schema is given as ``schema`` (``SnowflakeConnector(schema="PUBLIC", ...)``) and read
    as ``connector.schema_name`` (pydantic models keep ``schema`` for themselves)."""

    model_config = ConfigDict(populate_by_name=True)

    _documentation_url = "https://plait.dev/docs/integrations/snowflake#snowflakeconnector"
    _code_example = """
        from plait_snowflake import SnowflakeConnector, SnowflakeCredentials

        SnowflakeConnector(
            credentials=SnowflakeCredentials.load("prod"),
            database="ANALYTICS",
            schema="PUBLIC",
            warehouse="TRANSFORMING",
        ).save("analytics")

        with SnowflakeConnector.load("analytics") as connector:
            connector.execute("insert into events (day, n) values (%s, %s)", ("2026-11-24", 3))
            rows = connector.fetch_all(
                "select * from events where day = %(day)s", {"day": "2026-11-24"}
            )
    """

    credentials: SnowflakeCredentials = Field(description="How to log in to Snowflake.")
    database: str = Field(description="The database the session uses.")
    schema_name: str | None = Field(
        default=None,
        alias="schema",
        description="The schema the session uses (given as 'schema'); by default Snowflake's "
        "(PUBLIC).",
    )
    warehouse: str | None = Field(
        default=None, description="The warehouse that runs the queries; by default the user's."
    )
    fetch_size: int = Field(
        default=1000, ge=1, description="How many rows fetch_many returns when no size is given."
    )
    query_timeout: int | None = Field(
        default=None,
        ge=1,
        description="Cancel a query that runs longer than this many seconds; by default "
        "Snowflake's limit.",
    )

    _session: _Session = PrivateAttr(default_factory=_Session)

    def __copy__(self) -> Self:  # model_copy(): the copy opens its own connection
        copied = super().__copy__()
        copied._session = _Session()
        return copied

    # -- the connection -------------------------------------------------------------------

    def get_connection(self) -> Any:
        """The open ``snowflake.connector.SnowflakeConnection``, opened on first use (and
        again after ``close()``, or when the fields changed since it was opened)."""
        settings = self._settings()
        session = self._session
        with session.lock:
            connection = session.connection
            if connection is not None and (
                session.opened_with != settings or connection.is_closed()
            ):
                session.close()
                connection = None
            if connection is None:
                connection = self._new_connection()
                session.connection, session.opened_with = connection, settings
            return connection

    def _new_connection(self) -> Any:
        return self.credentials.get_connection(
            database=self.database, schema=self.schema_name, warehouse=self.warehouse
        )

    def _settings(self) -> tuple[Any, ...]:
        # SecretStr compares by value, so a changed password counts as a change
        return (self.credentials.model_dump(), self.database, self.schema_name, self.warehouse)

    def reset_cursors(self) -> None:
        """Forget where every ``fetch_many`` query was: the next call starts it again."""
        self._session.reset_cursors()

    def close(self) -> None:
        """Close the connection (and the cursors of ``fetch_many``). Using the connector
        again opens a new one."""
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- queries --------------------------------------------------------------------------

    def execute(self, sql: str, params: Params = None) -> int | None:
        """Run one statement (DDL or DML); returns the number of rows it inserted, updated
        or deleted (None when Snowflake counts none)."""

        def run() -> int | None:
            with self.get_connection().cursor() as cursor:
                cursor.execute(sql, params, timeout=self.query_timeout)
                return cursor.rowcount

        return self._call("Running a statement", sql, params, run)

    def execute_many(self, sql: str, seq_of_params: Iterable[Params]) -> int | None:
        """Run one statement once for each set of parameters (an ``insert`` becomes one
        multi-row insert); returns the number of rows affected."""
        batch = list(seq_of_params)
        if not batch:
            return 0

        def run() -> int | None:
            with self.get_connection().cursor() as cursor:
                cursor.executemany(sql, batch, timeout=self.query_timeout)
                return cursor.rowcount

        return self._call(
            f"Running a statement for {len(batch)} sets of parameters", sql, batch, run
        )

    def fetch_one(self, sql: str, params: Params = None) -> Row | None:
        """The first row of the query's result, or None if it has none."""
        return self._fetch(sql, params, lambda cursor: cursor.fetchone())

    def fetch_all(self, sql: str, params: Params = None) -> list[Row]:
        """Every row of the query's result."""
        return self._fetch(sql, params, lambda cursor: cursor.fetchall())

    def fetch_many(self, sql: str, params: Params = None, size: int | None = None) -> list[Row]:
        """The next ``size`` rows (``fetch_size`` by default) of the query's result.

        Calling it again with the same ``sql`` and ``params`` continues where the last call
        stopped; an empty list means the result is exhausted (and stays empty until
        ``reset_cursors()``). Another query starts its own cursor, so several queries can be
        paged through side by side."""
        size = self.fetch_size if size is None else size
        if size < 1:
            raise ValueError(f"fetch_many: size must be 1 or more, got {size}")
        key = (sql, json.dumps(params, sort_keys=True, default=repr))
        session = self._session

        def run() -> list[Row]:
            connection = self.get_connection()  # first: reopening it forgets the cursors
            with session.lock:
                cursor = session.cursors.get(key)
            if cursor is None:
                cursor = connection.cursor()
                try:
                    cursor.execute(sql, params, timeout=self.query_timeout)
                except BaseException:
                    _quietly(cursor.close)
                    raise
                with session.lock:
                    session.cursors[key] = cursor
            return cursor.fetchmany(size)

        return self._call("Fetching rows", sql, params, run)

    def fetch_pandas(self, sql: str, params: Params = None) -> pandas.DataFrame:
        """The query's result as a pandas ``DataFrame`` (fetched as Arrow). Needs the
        ``pandas`` extra: ``pip install 'plait-snowflake[pandas]'``."""
        require_pandas("SnowflakeConnector.fetch_pandas")
        return self._fetch(sql, params, lambda cursor: cursor.fetch_pandas_all())

    def execute_queries(
        self, queries: Sequence[str], as_transaction: bool = False
    ) -> list[list[Row]]:
        """Run ``queries`` one after the other; returns the rows each returned.

        With ``as_transaction``, all or nothing: on a connection of their own, between
        ``begin`` and ``commit``, and rolled back if one fails (Snowflake commits on its own
        at DDL statements such as ``create table``: keep those out of a transaction)."""
        if isinstance(queries, str):
            raise TypeError("execute_queries takes a list of queries, not one string")
        queries = list(queries)
        if not as_transaction:
            return [self.fetch_all(sql) for sql in queries]
        connection = self._new_connection()
        try:
            return self._call(
                "Running a transaction",
                "begin",
                None,
                lambda: self._transaction(connection, queries),
            )
        finally:
            _quietly(connection.close)

    def _transaction(self, connection: Any, queries: list[str]) -> list[list[Row]]:
        results: list[list[Row]] = []
        with connection.cursor() as cursor:
            cursor.execute("begin")
            for index, sql in enumerate(queries):
                action = f"Running query {index + 1} of {len(queries)} in a transaction"
                try:
                    cursor.execute(sql, timeout=self.query_timeout)
                    results.append(cursor.fetchall())
                except Exception as exc:
                    rolled_back = _quietly(cursor.execute, "rollback")
                    undone = (
                        "rolled back" if rolled_back else "NOT rolled back: the rollback failed"
                    )
                    error = self._error(exc, f"{action} ({undone})", sql, None)
                else:
                    continue
                raise error  # outside the except block: the connector's error is not chained
            self._call("Committing a transaction", "commit", None, lambda: cursor.execute("commit"))
        return results

    # -- helpers --------------------------------------------------------------------------

    def _fetch(self, sql: str, params: Params, take: Callable[[Any], T]) -> T:
        def run() -> T:
            with self.get_connection().cursor() as cursor:
                cursor.execute(sql, params, timeout=self.query_timeout)
                return take(cursor)

        return self._call("Running a query", sql, params, run)

    def _call(self, action: str, sql: str, params: Any, run: Callable[[], T]) -> T:
        """``run()``, with every failure (but a ``SnowflakeError``, from connecting) turned
        into a ``SnowflakeError`` that names ``action`` and ``sql``."""
        try:
            return run()
        except SnowflakeError:
            raise
        except Exception as exc:
            error = self._error(exc, action, sql, params)
        raise error  # outside the except block: the connector's error is not chained

    def _error(self, exc: Exception, action: str, sql: str, params: Any) -> SnowflakeError:
        where = f"{action} in database {self.database!r}"
        return snowflake_error(
            exc, where, query=sql, params=params, secrets=self.credentials._secret_values()
        )


def require_pandas(what: str) -> None:
    """Raise a clear ``ImportError`` if pandas or pyarrow is missing."""
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as exc:
        missing = exc.name or "pandas"
        raise ImportError(
            f"{what} needs pandas and pyarrow, and {missing} is not installed: "
            "pip install 'plait-snowflake[pandas]'",
            name=missing,
        ) from None


def _quietly(function: Callable[..., Any], *args: Any) -> bool:
    """``function(*args)``; False if it failed (closing what is already broken)."""
    try:
        function(*args)
    except Exception:
        return False
    return True
