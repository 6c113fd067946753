"""The one seam between Plait and where recorded state lives.

Everything that records or reads state gets it from one ``Backend``: the journal's default
recorder, block documents (``plait.blocks``), the cache index (``plait.engine.persistence``)
and the run queries behind ``plait.client``. ``get_backend()`` opens the one the settings
choose: the run store (SQLite in ``PLAIT_HOME``, or PostgreSQL by ``PLAIT_DATABASE_URL``, in
``plait.store.backend``), or in client mode (``PLAIT_API_URL``) the API server
(``plait.backend.http``); nothing else knows which.

May import: ``plait.journal``, ``plait.runs``, ``plait.settings``, ``plait.encryption``, and
``plait.store`` (only to open the store backend). Imported by the engine, ``plait.blocks``,
``plait.client`` and ``plait.cli``; nothing outside ``plait.store`` imports the store.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from plait import journal
from plait.journal import MemoryRecorder, Recorder

if TYPE_CHECKING:
    from plait.backend.api_keys import ApiKeys
    from plait.backend.cache import CacheIndex
    from plait.backend.deployments import Deployments
    from plait.backend.documents import BlockDocuments
    from plait.backend.limits import ConcurrencyLimits
    from plait.backend.runs import RunQueries
    from plait.backend.variables import Variables
    from plait.journal.process import ProcessIdentity
    from plait.journal.shipping import Batch, ShippingRecorder
    from plait.journal.spool import Replayed
    from plait.settings import Settings
    from plait.state_rules import Ruling


class Backend(ABC):
    """Where one configuration's runs, block documents and cache index live."""

    @abstractmethod
    def describe(self) -> str:
        """Where the state lives, for messages (no password)."""

    settings: Settings

    @abstractmethod
    def open_recorder(self) -> ShippingRecorder:
        """A recorder that saves the journal's events here, in the background."""

    @abstractmethod
    def block_documents(self) -> BlockDocuments:
        """Saved block documents, with the configured encryption keyring."""

    @abstractmethod
    def cache_index(self) -> CacheIndex:
        """The cache index (one per backend per process: its thread locks are shared)."""

    @abstractmethod
    def run_queries(self) -> RunQueries:
        """Reading and deleting recorded runs."""

    @abstractmethod
    def api_keys(self) -> ApiKeys:
        """The server's API keys."""

    @abstractmethod
    def deployments(self) -> Deployments:
        """The saved deployments and their Scheduled runs."""

    @abstractmethod
    def variables(self) -> Variables:
        """The saved variables (``plait.variables``)."""

    @abstractmethod
    def concurrency_limits(self) -> ConcurrencyLimits:
        """The concurrency limits shared by every process, and their leases."""

    @abstractmethod
    def ingest(
        self, batch: Batch, process: ProcessIdentity, rulings: list[tuple[str, Ruling]]
    ) -> bool:
        """Save a batch of events another process recorded (the server's ``POST
        /api/events``), once: False if the batch, by its id, was saved before. The state
        rules' rulings on its reports are added to ``rulings``."""

    @abstractmethod
    def heartbeat(self, flow_run_ids: list[str]) -> None:
        """Renew these flow runs' heartbeat (their process is alive and reporting)."""

    @abstractmethod
    def sweep_crashed(self) -> list[str]:
        """Mark Crashed the flow runs whose process is gone (the server does this every
        ``heartbeat_interval_seconds``, so no run stays Running for want of a reader);
        returns their ids."""

    def replay_spool(self) -> Replayed:
        """Save here the events processes kept in the spool (``$PLAIT_HOME/spool``) because
        they could not save them here when they ran."""
        from plait.journal.spool import Spool

        recorder = self.open_recorder()
        try:
            replayed = recorder.replay_spool()
        finally:
            recorder.close()
        replayed.left = Spool(self.settings.home / "spool").segment_count()
        return replayed

    @abstractmethod
    def upgrade(self) -> tuple[str | None, str]:
        """Bring the schema up to date; returns the revisions before and after."""

    @abstractmethod
    def reset(self) -> str:
        """Delete every recorded run and saved block and recreate the schema; returns the
        schema revision."""

    @abstractmethod
    def close(self) -> None:
        """Let go of connections (tests, and before forking); the backend reopens them."""


def open_backend(settings: Settings, database_url: str | None = None) -> Backend:
    """The backend ``settings`` choose: the API server at ``api_url`` if set, else the run
    store (or the run store at ``database_url``)."""
    if database_url is None and settings.api_url is not None:
        from plait.backend.http import HttpBackend

        key = settings.api_key.get_secret_value() if settings.api_key else None
        return HttpBackend(settings.api_url, key, settings)
    return open_store_backend(settings, database_url)


def open_store_backend(settings: Settings, database_url: str | None = None) -> Backend:
    """The run store ``settings`` name, even in client mode: what the server serves, and what
    ``plait db`` and the API keys manage on the server's host."""
    from plait.store.backend import StoreBackend

    return StoreBackend(database_url or settings.resolved_database_url(), settings)


_backends: dict[tuple[str | None, ...], Backend] = {}
_lock = threading.Lock()
_CONFIGURATION = ("PLAIT_HOME", "PLAIT_DATABASE_URL", "PLAIT_API_URL", "PLAIT_API_KEY")


def get_backend() -> Backend:
    """The configured backend, opened once per configuration per process: this is asked
    for on every cached task run, and reading the settings is not free."""
    configuration = tuple(map(os.environ.get, _CONFIGURATION))
    backend = _backends.get(configuration)
    if backend is None:
        from plait.settings import load_settings

        with _lock:
            backend = _backends.get(configuration)
            if backend is None:
                backend = _backends[configuration] = open_backend(load_settings())
    return backend


def close_backends() -> None:
    """Close every backend this process opened (tests, and before forking)."""
    with _lock:
        for backend in _backends.values():
            backend.close()
        _backends.clear()


def _open_default_recorder() -> Recorder:
    from plait.settings import load_settings

    if not load_settings().persist_runs:
        return MemoryRecorder()
    return get_backend().open_recorder()


journal.open_default_with(_open_default_recorder)
