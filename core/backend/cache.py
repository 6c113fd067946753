"""The cache index: which persisted result a cache key points at, and the key's lock, so
identical task runs at the same moment compute once (see ``plait.engine.persistence``)."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any


class CacheIndex(ABC):
    """Cache records and locks, shared by every process using the same backend. Threads of
    one process take turns on a thread lock per key before one of them asks the backend
    for the key's lock (``take_lock``), so each process holds a key's lock once."""

    poll_seconds = (0.002, 0.1)  # first and longest wait between asks for another's lock

    def __init__(self) -> None:
        self.local_locks = LocalLocks()
        self.held: set[str] = set()  # keys whose lock this process holds

    @abstractmethod
    def lookup(self, key: str) -> dict[str, Any] | None:
        """The result reference cached under ``key``, unless it expired."""

    @abstractmethod
    def record(
        self, key: str, result: dict[str, Any], task_run_id: str, expiration: timedelta | None
    ) -> None:
        """Point ``key`` at ``result`` (replacing an older record), release the key's lock
        if this process holds it, and forget it in ``held``."""

    @abstractmethod
    def take_lock(self, key: str) -> bool:
        """Take ``key``'s lock for this process, unless another live process holds it."""

    @abstractmethod
    def give_back_lock(self, key: str) -> None:
        """Release this process's lock on ``key``."""

    @contextmanager
    def computing(self, key: str) -> Iterator[None]:
        """Hold ``key``'s lock while computing it, waiting while another thread or process
        holds it (look for its record again once inside). ``record`` releases the lock;
        otherwise (the run failed) leaving the context does."""
        with self.local_locks.holding(key):
            pause, longest = self.poll_seconds
            while not self.take_lock(key):
                time.sleep(pause)
                pause = min(pause * 2, longest)
            self.held.add(key)
            try:
                yield
            finally:
                if key in self.held:
                    self.give_back_lock(key)
                    self.held.discard(key)


class LocalLocks:
    """One thread lock per cache key, while any thread of this process wants it: threads
    take turns here before one asks the backend for the key's lock."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[threading.Lock, int]] = {}
        self._guard = threading.Lock()

    @contextmanager
    def holding(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        lock.acquire()
        try:
            yield
        finally:
            lock.release()
            with self._guard:
                _, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)
