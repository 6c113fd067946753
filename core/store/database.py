"""Connecting to the run store's database, and migrating its schema.

SQLite (the default) runs in WAL mode, so readers never wait for the writer. Every write
transaction starts with ``BEGIN IMMEDIATE``: several processes writing the same file then
queue for the write lock (up to ``busy_timeout``) instead of failing with "database is
locked" when a read lock cannot be upgraded. Migrations are applied on first use, under the
write lock on SQLite and an advisory lock on PostgreSQL, so concurrent first uses are safe.

A flow run's process only records runs: the writer and the crash sweep speak the driver's
SQL on a DB-API cursor (``raw_writing``/``raw_reading``). On the embedded store that is the
standard library's ``sqlite3``, so such a process never imports SQLAlchemy, whose import
alone costs more than the rest of its first flow run. Everything else (reads, blocks, the
cache index, migrations) goes through SQLAlchemy, created on first use.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from plait.exceptions import StoreError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_SECONDS = 60
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
_FULL_DISK_BYTES = 1 << 20  # less room than this left: "the disk is full"
_MIGRATION_LOCK_ID = 0x706C_6169  # "plai": the PostgreSQL advisory lock held while migrating
_NOT_A_URL = (
    "database_url (PLAIT_DATABASE_URL) is not a database URL; use e.g. "
    "postgresql+psycopg://user@127.0.0.1:5432/plait, or unset it for SQLite in PLAIT_HOME."
)


class Database:
    """One run-store database: its connections, transactions, and schema migrations."""

    def __init__(self, url: str) -> None:
        self._text = url
        self._path = plain_sqlite_path(url)
        self._sqlite: sqlite3.Connection | None = None  # the DB-API connection of a plain file
        self._sqlite_lock = threading.Lock()
        if self._path is not None:
            self.is_sqlite = True
            _create_private(Path(self._path).expanduser())
            return
        backend = self.url.get_backend_name()
        if backend not in SUPPORTED_BACKENDS:
            raise StoreError(
                f"database_url (PLAIT_DATABASE_URL) uses {backend!r}; the run store supports "
                "sqlite and postgresql (e.g. postgresql+psycopg://user@127.0.0.1:5432/plait)."
            )
        self.is_sqlite = backend == "sqlite"
        import sqlalchemy as sa

        try:
            self.engine  # noqa: B018 (created now, so a missing driver is said at once)
        except (ImportError, sa.exc.ArgumentError) as exc:
            raise StoreError(
                f"Cannot use the database {self.describe()}: {describe_error(exc)}. For "
                "PostgreSQL, install the driver with: pip install 'plait[postgres]'."
            ) from None

    @cached_property
    def url(self) -> URL:
        """The parsed URL (SQLAlchemy's)."""
        import sqlalchemy as sa

        try:
            return sa.engine.make_url(self._text)
        except (sa.exc.ArgumentError, ValueError):
            raise StoreError(_NOT_A_URL) from None  # the URL is not echoed: it may hold a password

    def describe(self) -> str:
        """The URL with any password hidden, for messages."""
        return self.describe_url(self._text)

    @staticmethod
    def describe_url(url: str) -> str:
        """``url`` with any password hidden, without connecting (an unparsable URL is
        shown as a placeholder: it may hold a password)."""
        if plain_sqlite_path(url) is not None:
            return url
        import sqlalchemy as sa

        try:
            return sa.engine.make_url(url).render_as_string(hide_password=True)
        except (sa.exc.ArgumentError, ValueError):
            return "<not a database URL>"

    @cached_property
    def engine(self) -> Engine:
        """SQLAlchemy's engine for this database, created on first use."""
        import sqlalchemy as sa

        if not self.is_sqlite:
            return sa.create_engine(self.url, pool_pre_ping=True)
        database = self.url.database
        if database and database != ":memory:" and "uri" not in self.url.query:  # a file path
            _create_private(Path(database).expanduser())
        engine = sa.create_engine(
            self.url,
            connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        sa.event.listen(engine, "connect", _configure_sqlite_connection)
        sa.event.listen(engine, "begin", _begin_sqlite_transaction)
        return engine

    @property
    def dbapi(self) -> ModuleType:
        """The DB-API module of the driver (its ``Error`` classes are what ``raw_*`` raise)."""
        return sqlite3 if self._path is not None else self.engine.dialect.loaded_dbapi

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction, committed at the end of the block (rolled back on error)."""
        with self.engine.connect() as connection:
            connection.execution_options(plait_write=True)
            with connection.begin():
                yield connection

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only transaction: one consistent snapshot for the block."""
        with self.engine.connect() as connection, connection.begin():
            yield connection

    @contextmanager
    def raw_writing(self) -> Iterator[Any]:
        """A write transaction on a DB-API cursor (the driver's SQL and parameter style),
        committed at the end of the block (rolled back on error)."""
        with self._raw_transaction("BEGIN IMMEDIATE") as cursor:
            yield cursor

    @contextmanager
    def raw_reading(self) -> Iterator[Any]:
        """A read-only transaction on a DB-API cursor."""
        with self._raw_transaction("BEGIN") as cursor:
            yield cursor

    @contextmanager
    def _raw_transaction(self, begin: str) -> Iterator[Any]:
        with self._raw_connection() as connection:
            cursor = connection.cursor()
            try:
                if self.is_sqlite:  # in autocommit mode: the transaction is begun here
                    cursor.execute(begin)
                yield cursor
                connection.commit()
            except BaseException:
                with suppress(Exception):  # a failed commit can leave it open
                    connection.rollback()
                raise
            finally:
                cursor.close()

    @contextmanager
    def _raw_connection(self) -> Iterator[Any]:
        """A DB-API connection: this file's own ``sqlite3`` connection (one per process,
        used by one transaction at a time), or one from SQLAlchemy's pool."""
        if self._path is None:
            connection = self.engine.raw_connection()
            try:
                yield connection
            finally:
                connection.close()
            return
        with self._sqlite_lock:
            if self._sqlite is None:
                self._sqlite = sqlite3.connect(
                    self._path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False
                )
                _configure_sqlite_connection(self._sqlite, None)
            yield self._sqlite

    def current_revision(self) -> str | None:
        """The schema revision Alembic recorded, read with one small query (importing
        Alembic to ask would cost a process more than the rest of its first flow run)."""
        catalog = (
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            if self.is_sqlite
            else "SELECT to_regclass('alembic_version')"
        )
        with self.raw_reading() as cursor:
            cursor.execute(catalog)
            table = cursor.fetchone()
            if table is None or table[0] is None:
                return None
            cursor.execute("SELECT version_num FROM alembic_version")
            row = cursor.fetchone()
        return row[0] if row else None

    def upgrade(self) -> None:
        """Apply every migration the database does not have yet."""
        import sqlalchemy as sa
        from alembic import command

        with self.writing() as connection:
            if not self.is_sqlite:
                connection.execute(sa.text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})"))
            command.upgrade(_alembic_config(connection), "head")

    def ensure_schema(self) -> None:
        """Migrate to the latest schema if needed (cheap when it is already current)."""
        try:
            current = self.current_revision()
        except self.dbapi.Error as exc:
            raise self._cannot_open(exc) from exc
        if current == head_revision():
            return
        import sqlalchemy as sa

        try:
            self.upgrade()
        except sa.exc.SQLAlchemyError as exc:
            raise self._cannot_open(exc) from exc

    def _cannot_open(self, exc: BaseException) -> StoreError:
        return StoreError(
            f"Cannot open the run store at {self.describe()}: "
            f"{describe_error(exc)}{self._full_disk()}"
        )

    def _file(self) -> Path | None:
        """The SQLite file, if this is one."""
        if self._path is not None:
            return Path(self._path).expanduser()
        database = self.url.database
        if not self.is_sqlite or not database or database == ":memory:":
            return None
        return Path(database.removeprefix("file:")).expanduser()

    def _full_disk(self) -> str:
        """Why SQLite failed, when its disk is full: it then often says only "disk I/O
        error" (it could not create its write-ahead log)."""
        path = self._file()
        if path is None or not path.parent.is_dir():
            return ""
        if shutil.disk_usage(path.parent).free >= _FULL_DISK_BYTES:
            return ""
        return f" (the disk holding {path} is full: database or disk is full)"

    def snapshot(self) -> Database | None:
        """This SQLite store opened to read what its file holds without writing anything
        (``immutable``), for reading when its disk is full; None for other databases."""
        path = self._file()
        if path is None or not path.exists():
            return None
        if self._path is None and self.url.query.get("uri"):
            return None
        return Database(f"sqlite:///file:{path}?immutable=1&uri=true")

    def reset(self) -> None:
        """Drop every Plait table (all recorded runs), then recreate the latest schema."""
        import sqlalchemy as sa

        from plait.store.schema import Base

        with self.writing() as connection:
            Base.metadata.drop_all(connection)
            connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        self.upgrade()

    def dispose(self) -> None:
        """Close this database's connections."""
        if "engine" in self.__dict__:
            self.engine.dispose()
        with self._sqlite_lock:
            if self._sqlite is not None:
                self._sqlite.close()
                self._sqlite = None


def plain_sqlite_path(url: str) -> str | None:
    """The file of a plain ``sqlite:///PATH`` URL (the embedded store's: no options, no
    escapes), read without SQLAlchemy; None for any other URL."""
    path = url.removeprefix("sqlite:///")
    if path == url or not path or path == ":memory:" or any(c in path for c in "?%#"):
        return None
    return path


def store_identity(url: str) -> str:
    """Which database ``url`` points at, whatever its options or credentials, as a digest:
    spooled events are kept under it, so they are only ever saved into the store they were
    recorded for."""
    path = plain_sqlite_path(url)
    place = f"sqlite:{Path(path).expanduser().resolve()}" if path else _place(url)
    return hashlib.sha256(place.encode()).hexdigest()[:32]


def _place(url: str) -> str:
    """Where a URL other than a plain SQLite file points: backend, host, port, database."""
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        return url
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite":
        return f"{parsed.get_backend_name()}://{parsed.host}:{parsed.port}/{database}"
    if database in ("", ":memory:"):
        return f"sqlite:{database}"
    return f"sqlite:{Path(database.removeprefix('file:')).expanduser().resolve()}"


def _create_private(path: Path) -> None:
    """Create the SQLite file readable by its owner only, like the key file and results:
    it holds parameters, log lines and encrypted secrets. SQLite gives its ``-wal`` and
    ``-shm`` files the database file's permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def describe_error(exc: BaseException) -> str:
    """A database error in one line: the driver's own message, never the statement's
    parameters (they hold the user's log lines and run parameters)."""
    original = getattr(exc, "orig", None) or exc
    return f"{type(original).__name__}: {str(original).splitlines()[0] if str(original) else ''}"


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # each transaction is begun explicitly
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across crashes of the process
    cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    write = connection.get_execution_options().get("plait_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration's revision id. Migrations are files named ``NNNN_what.py`` whose
    revision is ``NNNN`` (a test checks this against Alembic's own view of the scripts)."""
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


_databases: dict[str, Database] = {}
_databases_lock = threading.Lock()


def open_database(url: str | None = None) -> Database:
    """The database at ``url`` (default: the configured store), migrated to the latest
    schema. One ``Database`` per URL per process."""
    if url is None:
        from plait.settings import load_settings

        url = load_settings().resolved_database_url()
    with _databases_lock:
        database = _databases.get(url)
        if database is None:
            database = Database(url)
            database.ensure_schema()
            _databases[url] = database
        return database


def close_databases() -> None:
    """Dispose of every open database's connections (tests, and before forking)."""
    with _databases_lock:
        for database in _databases.values():
            database.dispose()
        _databases.clear()
