"""Cache records and cache locks, in the run store: hits work across processes and machines
that share the store (and the result storage).

A run whose key has no record takes the key's lock before computing, so identical runs at
the same moment compute once: threads of one process wait on a ``threading.Lock``, other
processes on the ``cache_locks`` row, and then find the record the first one wrote. A lock
whose process died (same host) or that is older than ``stale_after`` (other hosts) is taken
over, so a crash never blocks a key for good.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from plait.backend.cache import CacheIndex
from plait.journal.process import ProcessIdentity
from plait.store.database import Database
from plait.store.schema import CacheLockRow, CacheRecordRow

Records = CacheRecordRow.__table__
Locks = CacheLockRow.__table__
POLL_SECONDS = (0.002, 0.1)  # first and longest wait between looks at another's lock


class SqlCacheIndex(CacheIndex):
    """Cache records and locks of one database."""

    def __init__(self, database: Database, stale_after: timedelta) -> None:
        self.database = database
        self.stale_after = stale_after
        self.process = ProcessIdentity.current()
        self._local_locks: dict[str, tuple[threading.Lock, int]] = {}
        self._local_guard = threading.Lock()
        self._held: set[str] = set()  # keys whose lock row this process holds

    def lookup(self, key: str) -> dict[str, Any] | None:
        """The result reference cached under ``key``, unless it expired."""
        with self.database.reading() as connection:
            row = connection.execute(
                sa.select(Records.c.result, Records.c.expires).where(Records.c.key == key)
            ).one_or_none()
        if row is None or (row.expires is not None and row.expires <= datetime.now(UTC)):
            return None
        return row.result

    def record(
        self, key: str, result: dict[str, Any], task_run_id: str, expiration: timedelta | None
    ) -> None:
        """Point ``key`` at ``result`` (replacing an older record) and, in the same
        transaction, release the key's lock if this process holds it."""
        now = datetime.now(UTC)
        values = {
            "result": result,
            "task_run_id": task_run_id,
            "created": now,
            "expires": None if expiration is None else now + expiration,
        }
        update = Records.update().where(Records.c.key == key).values(**values)
        try:
            with self.database.writing() as connection:
                if not connection.execute(update).rowcount:
                    connection.execute(Records.insert().values(key=key, **values))
                self._release(connection, key)
        except sa.exc.IntegrityError:  # inserted by another process at the same moment
            with self.database.writing() as connection:
                connection.execute(update)
                self._release(connection, key)
        self._held.discard(key)  # only once the release is committed

    @contextmanager
    def computing(self, key: str) -> Iterator[None]:
        """Hold ``key``'s lock while computing it, waiting while another thread or process
        holds it (look for its record again once inside). ``record`` releases the lock;
        otherwise (the run failed) it is released here."""
        local = self._local_lock(key)
        try:
            self._acquire(key)
            try:
                yield
            finally:
                if key in self._held:
                    with self.database.writing() as connection:
                        self._release(connection, key)
                    self._held.discard(key)
        finally:
            self._release_local(key, local)

    def _release(self, connection: Any, key: str) -> None:
        """Delete this process's lock row for ``key`` (if it holds one) in ``connection``'s
        transaction; the caller forgets the key once that commits."""
        if key not in self._held:
            return
        process = self.process
        connection.execute(
            Locks.delete().where(
                Locks.c.key == key,
                Locks.c.hostname == process.hostname,
                Locks.c.pid == process.pid,
            )
        )

    def _local_lock(self, key: str) -> threading.Lock:
        with self._local_guard:
            lock, users = self._local_locks.get(key, (threading.Lock(), 0))
            self._local_locks[key] = (lock, users + 1)
        lock.acquire()
        return lock

    def _release_local(self, key: str, lock: threading.Lock) -> None:
        lock.release()
        with self._local_guard:
            _, users = self._local_locks[key]
            if users == 1:
                del self._local_locks[key]
            else:
                self._local_locks[key] = (lock, users - 1)

    def _acquire(self, key: str) -> None:
        """Insert the lock row, waiting while another live process holds it."""
        pause = POLL_SECONDS[0]
        process = self.process
        while True:
            try:
                with self.database.writing() as connection:
                    holder = connection.execute(
                        sa.select(Locks).where(Locks.c.key == key)
                    ).one_or_none()
                    if holder is None or self._stale(holder):
                        if holder is not None:  # exactly the stale row, not a newer holder's
                            connection.execute(
                                Locks.delete().where(
                                    Locks.c.key == key,
                                    Locks.c.hostname == holder.hostname,
                                    Locks.c.pid == holder.pid,
                                    Locks.c.acquired == holder.acquired,
                                )
                            )
                        connection.execute(
                            Locks.insert().values(
                                key=key,
                                hostname=process.hostname,
                                pid=process.pid,
                                process_started=process.started,
                                acquired=datetime.now(UTC),
                            )
                        )
                        self._held.add(key)
                        return
            except sa.exc.IntegrityError:  # PostgreSQL: another process inserted it first
                pass
            time.sleep(pause)
            pause = min(pause * 2, POLL_SECONDS[1])

    def _stale(self, holder: Any) -> bool:
        """Whether a lock's holder is gone: a dead process on this host, this very process
        (its threads take turns on the thread lock first, so the row is left over), or a
        lock on another host older than ``stale_after``."""
        if holder.hostname == self.process.hostname:
            if holder.pid == self.process.pid:
                return True
            owner = ProcessIdentity(holder.hostname, holder.pid, holder.process_started)
            return not owner.is_alive()
        return datetime.now(UTC) - holder.acquired > self.stale_after
