"""The cache index: which persisted result a cache key points at, and the key's lock, so
identical task runs at the same moment compute once (see ``plait.engine.persistence``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any


class CacheIndex(ABC):
    """Cache records and locks, shared by every process using the same backend."""

    @abstractmethod
    def lookup(self, key: str) -> dict[str, Any] | None:
        """The result reference cached under ``key``, unless it expired."""

    @abstractmethod
    def record(
        self, key: str, result: dict[str, Any], task_run_id: str, expiration: timedelta | None
    ) -> None:
        """Point ``key`` at ``result`` (replacing an older record), and release the key's
        lock if this process holds it."""

    @abstractmethod
    def computing(self, key: str) -> AbstractContextManager[None]:
        """Hold ``key``'s lock while computing it, waiting while another thread or process
        holds it (look for its record again once inside). ``record`` releases the lock;
        otherwise (the run failed) leaving the context does."""
