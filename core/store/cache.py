"""Cache records and cache locks, in the run store: hits work across processes and machines
that share the store (and the result storage).

A run whose key has no record takes the key's lock before computing, so identical runs at
the same moment compute once: threads of one process wait on a ``threading.Lock``, other
processes on the ``cache_locks`` row, and then find the record the first one wrote. A lock
whose process died (same host) or that is older than ``stale_after`` (other hosts) is taken
over, so a crash never blocks a key for good.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from plait.backend.cache import CacheIndex
from plait.journal.process import ProcessIdentity
from plait.store.database import Database
from plait.store.schema import CacheLockRow, CacheRecordRow

Records = CacheRecordRow.__table__
Locks = CacheLockRow.__table__


class SqlCacheIndex(CacheIndex):
    """Cache records and locks of one database."""

    def __init__(self, database: Database, stale_after: timedelta) -> None:
        self.database = database
        self.stale_after = stale_after
        super().__init__()
        self.process = ProcessIdentity.current()

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
        self,
        key: str,
        result: dict[str, Any],
        task_run_id: str,
        expiration: timedelta | None,
        holder: ProcessIdentity | None = None,
    ) -> None:
        """Point ``key`` at ``result`` (replacing an older record) and, in the same
        transaction, release the key's lock if ``holder`` (default: this process) holds it."""
        holder = holder or self.process
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
                _release(connection, key, holder)
        except sa.exc.IntegrityError:  # inserted by another process at the same moment
            with self.database.writing() as connection:
                connection.execute(update)
                _release(connection, key, holder)
        if holder == self.process:
            self.held.discard(key)  # only once the release is committed

    def take_lock(self, key: str) -> bool:
        return self.try_lock(key, self.process)

    def give_back_lock(self, key: str) -> None:
        self.unlock(key, self.process)

    def unlock(self, key: str, holder: ProcessIdentity) -> None:
        """Release ``holder``'s lock on ``key``, if it holds it."""
        with self.database.writing() as connection:
            _release(connection, key, holder)

    def try_lock(self, key: str, holder: ProcessIdentity) -> bool:
        """Take ``key``'s lock for ``holder`` unless another live process holds it."""
        try:
            with self.database.writing() as connection:
                row = connection.execute(sa.select(Locks).where(Locks.c.key == key)).one_or_none()
                if row is not None and not self._stale(row, holder):
                    return False
                if row is not None:  # exactly the stale row, not a newer holder's
                    connection.execute(
                        Locks.delete().where(
                            Locks.c.key == key,
                            Locks.c.hostname == row.hostname,
                            Locks.c.pid == row.pid,
                            Locks.c.acquired == row.acquired,
                        )
                    )
                connection.execute(
                    Locks.insert().values(
                        key=key,
                        hostname=holder.hostname,
                        pid=holder.pid,
                        process_started=holder.started,
                        acquired=datetime.now(UTC),
                    )
                )
                return True
        except sa.exc.IntegrityError:  # PostgreSQL: another process inserted it first
            return False

    def _stale(self, row: Any, asking: ProcessIdentity) -> bool:
        """Whether a lock's holder is gone: a dead process on this host, the asking process
        itself (its threads take turns on the thread lock first, so the row is left over),
        or a lock on another host older than ``stale_after``."""
        if row.hostname == asking.hostname and row.pid == asking.pid:
            return True
        if row.hostname == self.process.hostname:
            owner = ProcessIdentity(row.hostname, row.pid, row.process_started)
            return not owner.is_alive()
        return datetime.now(UTC) - row.acquired > self.stale_after


def _release(connection: Any, key: str, holder: ProcessIdentity) -> None:
    """Delete ``holder``'s lock row for ``key`` (if it holds one) in ``connection``'s
    transaction."""
    connection.execute(
        Locks.delete().where(
            Locks.c.key == key, Locks.c.hostname == holder.hostname, Locks.c.pid == holder.pid
        )
    )
