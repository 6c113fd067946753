"""The run store as Plait's backend: runs, block documents and the cache index in one
SQLite or PostgreSQL database. The only place that assembles the store's parts."""

from __future__ import annotations

import threading
from datetime import timedelta

from plait.backend import Backend
from plait.encryption import load_keyring
from plait.settings import Settings, load_settings
from plait.store.blocks import SqlBlockDocuments
from plait.store.cache import SqlCacheIndex
from plait.store.database import Database, close_databases, head_revision, open_database
from plait.store.reads import SqlRunQueries
from plait.store.writer import StoreRecorder


class StoreBackend(Backend):
    """One run-store database, opened (and migrated) on first use."""

    def __init__(self, database_url: str, settings: Settings) -> None:
        self.database_url = database_url
        self.settings = settings
        self._cache: SqlCacheIndex | None = None
        self._cache_lock = threading.Lock()

    @property
    def database(self) -> Database:
        return open_database(self.database_url)

    def describe(self) -> str:
        return Database.describe_url(self.database_url)

    def open_recorder(self) -> StoreRecorder:
        return StoreRecorder(self.database, load_settings())

    def block_documents(self) -> SqlBlockDocuments:
        return SqlBlockDocuments(self.database, load_keyring(load_settings()))

    def cache_index(self) -> SqlCacheIndex:
        if self._cache is None:
            with self._cache_lock:
                if self._cache is None:
                    stale = timedelta(seconds=self.settings.heartbeat_timeout_seconds)
                    self._cache = SqlCacheIndex(self.database, stale)
        return self._cache

    def run_queries(self) -> SqlRunQueries:
        return SqlRunQueries(self.database, load_settings().heartbeat_timeout_seconds)

    def upgrade(self) -> tuple[str | None, str]:
        database = Database(self.database_url)
        before = database.current_revision()
        database.upgrade()
        return before, head_revision()

    def reset(self) -> str:
        Database(self.database_url).reset()
        return head_revision()

    def close(self) -> None:
        close_databases()
