"""The run store as Plait's backend: runs, block documents and the cache index in one
SQLite or PostgreSQL database. The only place that assembles the store's parts.

Each part's module is imported when that part is first asked for, so a flow that only
records runs never loads the block documents' encryption or the cache's code.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

from plait.backend import Backend
from plait.exceptions import StoreError
from plait.journal.process import ProcessIdentity
from plait.journal.shipping import Batch
from plait.journal.spool import Replayed, Spool
from plait.settings import Settings, load_settings
from plait.state_rules import Ruling
from plait.store.database import Database, close_databases, head_revision, open_database

logger = logging.getLogger("plait.store")

if TYPE_CHECKING:
    from plait.store.api_keys import SqlApiKeys
    from plait.store.blocks import SqlBlockDocuments
    from plait.store.cache import SqlCacheIndex
    from plait.store.deployments import SqlDeployments
    from plait.store.limits import SqlConcurrencyLimits
    from plait.store.reads import SqlRunQueries
    from plait.store.variables import SqlVariables
    from plait.store.writer import StoreRecorder, StoreWriter


class StoreBackend(Backend):
    """One run-store database, opened (and migrated) on first use."""

    def __init__(self, database_url: str, settings: Settings) -> None:
        self.database_url = database_url
        self.settings = settings
        self._cache: SqlCacheIndex | None = None
        self._writer: StoreWriter | None = None
        self._lock = threading.Lock()

    @property
    def database(self) -> Database:
        return open_database(self.database_url)

    def describe(self) -> str:
        return Database.describe_url(self.database_url)

    def open_recorder(self) -> StoreRecorder:
        from plait.store.writer import StoreRecorder

        return StoreRecorder(self.database_url, load_settings())

    def api_keys(self) -> SqlApiKeys:
        from plait.store.api_keys import SqlApiKeys

        return SqlApiKeys(self.database)

    def deployments(self) -> SqlDeployments:
        from plait.store.deployments import SqlDeployments

        return SqlDeployments(self.database)

    def concurrency_limits(self) -> SqlConcurrencyLimits:
        from plait.store.limits import SqlConcurrencyLimits

        return SqlConcurrencyLimits(self.database)

    def variables(self) -> SqlVariables:
        from plait.store.variables import SqlVariables

        return SqlVariables(self.database)

    def block_documents(self) -> SqlBlockDocuments:
        from plait.encryption import load_keyring
        from plait.store.blocks import SqlBlockDocuments

        return SqlBlockDocuments(self.database, load_keyring(load_settings()))

    def cache_index(self) -> SqlCacheIndex:
        if self._cache is None:
            with self._lock:
                if self._cache is None:
                    from plait.store.cache import SqlCacheIndex

                    stale = timedelta(seconds=self.settings.heartbeat_timeout_seconds)
                    self._cache = SqlCacheIndex(self.database, stale)
        return self._cache

    def run_queries(self) -> SqlRunQueries:
        from plait.store.reads import SqlRunQueries

        return SqlRunQueries(self._readable(), load_settings().heartbeat_timeout_seconds)

    def ingest(
        self, batch: Batch, process: ProcessIdentity, rulings: list[tuple[str, Ruling]]
    ) -> bool:
        writer = self._event_writer()
        return writer.save_once(batch.id, lambda: [batch.events], process, rulings=rulings)

    def heartbeat(self, flow_run_ids: list[str]) -> None:
        if flow_run_ids:
            self._event_writer().beat(flow_run_ids)

    def sweep_crashed(self) -> list[str]:
        from plait.store import crashes

        timeout = self.settings.heartbeat_timeout_seconds
        return crashes.sweep(self.database, ProcessIdentity.current(), timeout)

    def _event_writer(self) -> StoreWriter:
        """One writer for the events other processes send here (its lock orders them)."""
        if self._writer is None:
            with self._lock:
                if self._writer is None:
                    from plait.store.writer import StoreWriter

                    self._writer = StoreWriter(self.database, Spool(self.settings.home / "spool"))
        return self._writer

    def _readable(self) -> Database:
        """The database, or, if it cannot be opened because its disk is full, a snapshot of
        its file: reading never needs room to write."""
        try:
            return self.database
        except StoreError as exc:
            snapshot = (
                Database(self.database_url).snapshot() if "disk is full" in str(exc) else None
            )
            if snapshot is None:
                raise
            logger.warning("%s; reading it without writing anything.", exc)
            return snapshot

    def replay_spool(self) -> Replayed:
        open_database(self.database_url)  # or a StoreError saying why it cannot be opened
        return super().replay_spool()

    def upgrade(self) -> tuple[str | None, str]:
        database = Database(self.database_url)
        before = database.current_revision()
        database.upgrade()
        return before, head_revision()

    def reset(self) -> str:
        Database(self.database_url).reset()
        return head_revision()

    def close(self) -> None:
        self._writer = None
        close_databases()
