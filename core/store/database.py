"""Connecting to the run store's database, and migrating its schema.

SQLite (the default) runs in WAL mode, so readers never wait for the writer. Every write
transaction starts with ``BEGIN IMMEDIATE``: several processes writing the same file then
queue for the write lock (up to ``busy_timeout``) instead of failing with "database is
locked" when a read lock cannot be upgraded. Migrations are applied on first use, under the
write lock on SQLite and an advisory lock on PostgreSQL, so concurrent first uses are safe.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

from plait.exceptions import StoreError

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_SECONDS = 60
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
_FULL_DISK_BYTES = 1 << 20  # less room than this left: "the disk is full"
_MIGRATION_LOCK_ID = 0x706C_6169  # "plai": the PostgreSQL advisory lock held while migrating


class Database:
    """One run-store database: its engine, transactions, and schema migrations."""

    def __init__(self, url: str | URL) -> None:
        try:
            self.url = make_url(url)
        except (sa.exc.ArgumentError, ValueError):
            raise StoreError(  # the URL is not echoed: it may hold a password
                "database_url (PLAIT_DATABASE_URL) is not a database URL; use e.g. "
                "postgresql+psycopg://user@127.0.0.1:5432/plait, or unset it for SQLite in "
                "PLAIT_HOME."
            ) from None
        backend = self.url.get_backend_name()
        if backend not in SUPPORTED_BACKENDS:
            raise StoreError(
                f"database_url (PLAIT_DATABASE_URL) uses {backend!r}; the run store supports "
                "sqlite and postgresql (e.g. postgresql+psycopg://user@127.0.0.1:5432/plait)."
            )
        self.is_sqlite = backend == "sqlite"
        try:
            self.engine = self._create_engine()
        except (ImportError, sa.exc.ArgumentError) as exc:
            raise StoreError(
                f"Cannot use the database {self.describe()}: {describe_error(exc)}. For "
                "PostgreSQL, install the driver with: pip install 'plait[postgres]'."
            ) from None

    def describe(self) -> str:
        """The URL with any password hidden, for messages."""
        return self.url.render_as_string(hide_password=True)

    @staticmethod
    def describe_url(url: str) -> str:
        """``url`` with any password hidden, without connecting (an unparsable URL is
        shown as a placeholder: it may hold a password)."""
        try:
            return make_url(url).render_as_string(hide_password=True)
        except (sa.exc.ArgumentError, ValueError):
            return "<not a database URL>"

    def _create_engine(self) -> Engine:
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

    def current_revision(self) -> str | None:
        """The schema's revision, from one query of Alembic's version table (None when the
        store has none yet): importing Alembic costs more than the rest of a first run."""
        with self.reading() as connection:
            if not sa.inspect(connection).has_table("alembic_version"):
                return None
            return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()

    def upgrade(self) -> None:
        """Apply every migration the database does not have yet."""
        from alembic import command

        with self.writing() as connection:
            if not self.is_sqlite:
                connection.execute(sa.text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})"))
            command.upgrade(_alembic_config(connection), "head")

    def ensure_schema(self) -> None:
        """Migrate to the latest schema if needed (cheap when it is already current)."""
        try:
            if self.current_revision() != head_revision():
                self.upgrade()
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(
                f"Cannot open the run store at {self.describe()}: "
                f"{describe_error(exc)}{self._full_disk()}"
            ) from exc

    def _file(self) -> Path | None:
        """The SQLite file, if this is one."""
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
        if path is None or self.url.query.get("uri") or not path.exists():
            return None
        return Database(f"sqlite:///file:{path}?immutable=1&uri=true")

    def reset(self) -> None:
        """Drop every Plait table (all recorded runs), then recreate the latest schema."""
        from plait.store.schema import Base

        with self.writing() as connection:
            Base.metadata.drop_all(connection)
            connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        self.upgrade()

    def dispose(self) -> None:
        self.engine.dispose()


def store_identity(url: str) -> str:
    """Which database ``url`` points at, whatever its options or credentials, as a digest:
    spooled events are kept under it, so they are only ever saved into the store they were
    recorded for."""
    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        place = url
    else:
        database = parsed.database or ""
        if parsed.get_backend_name() != "sqlite":
            place = f"{parsed.get_backend_name()}://{parsed.host}:{parsed.port}/{database}"
        elif database in ("", ":memory:"):
            place = f"sqlite:{database}"
        else:
            place = f"sqlite:{Path(database.removeprefix('file:')).expanduser().resolve()}"
    return hashlib.sha256(place.encode()).hexdigest()[:32]


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
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event emits BEGIN itself
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


HEAD_REVISION = "0004"  # the newest migration's revision id (a test checks it against Alembic)


def head_revision() -> str:
    """The newest migration's revision id, known without importing Alembic."""
    return HEAD_REVISION


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
