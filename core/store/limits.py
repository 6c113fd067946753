"""Concurrency limits and their leases in the run store (``plait.backend.limits``).

Granting a lease deletes the leases that ran out, counts the slots of each limit still
held and inserts the new ones in one transaction, with the limits' rows locked (``FOR
UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` takes turns already), so two processes
never both take the last slot.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from plait.backend.limits import (
    ConcurrencyLimits,
    Holdup,
    Lease,
    LimitRecord,
    checked_limit_name,
    checked_slots,
)
from plait.exceptions import ConcurrencyLimitNotFoundError, ParameterError
from plait.runs import new_id
from plait.store.database import Database
from plait.store.schema import ConcurrencyLeaseRow, ConcurrencyLimitRow

limits = ConcurrencyLimitRow.__table__
leases = ConcurrencyLeaseRow.__table__


def _in_use(connection: Any, names: builtins.list[str], now: datetime) -> dict[str, int]:
    """Slots of unexpired leases, by limit."""
    query = (
        sa.select(leases.c.limit_name, sa.func.sum(leases.c.occupy))
        .where(leases.c.limit_name.in_(names), leases.c.expires > now)
        .group_by(leases.c.limit_name)
    )
    return {name: int(used) for name, used in connection.execute(query)}


class SqlConcurrencyLimits(ConcurrencyLimits):
    def __init__(self, database: Database) -> None:
        self.database = database

    def set(self, name: str, limit: int) -> LimitRecord:
        checked_limit_name(name)
        checked_slots(limit)
        now = datetime.now(UTC)
        with self.database.writing() as connection:
            row = connection.execute(
                sa.select(limits).where(limits.c.name == name).with_for_update()
            ).first()
            if row is None:
                connection.execute(limits.insert().values(name=name, slots=limit, created=now))
                created = now
            else:
                connection.execute(limits.update().where(limits.c.name == name).values(slots=limit))
                created = row.created
            active = _in_use(connection, [name], now).get(name, 0)
        return LimitRecord(name, limit, active, created)

    def list(self) -> builtins.list[LimitRecord]:
        now = datetime.now(UTC)
        with self.database.reading() as connection:
            rows = connection.execute(sa.select(limits).order_by(limits.c.name)).all()
            used = _in_use(connection, [row.name for row in rows], now)
        return [
            LimitRecord(row.name, row.slots, used.get(row.name, 0), row.created) for row in rows
        ]

    def delete(self, name: str) -> None:
        with self.database.writing() as connection:
            deleted = connection.execute(limits.delete().where(limits.c.name == name))
            if deleted.rowcount == 0:
                raise ConcurrencyLimitNotFoundError(
                    f"No concurrency limit is named {name!r} (see: plait concurrency-limit ls)."
                )
            connection.execute(leases.delete().where(leases.c.limit_name == name))

    def acquire(
        self, names: builtins.list[str], occupy: int, holder: str, ttl_seconds: float
    ) -> Lease | Holdup:
        checked_slots(occupy, "occupy", least=1)
        wanted = sorted(set(names))
        now = datetime.now(UTC)
        with self.database.writing() as connection:
            found = connection.execute(
                sa.select(limits.c.name, limits.c.slots)
                .where(limits.c.name.in_(wanted))
                .order_by(limits.c.name)
                .with_for_update()
            ).all()
            connection.execute(leases.delete().where(leases.c.expires <= now))  # ran out
            used = _in_use(connection, [name for name, _ in found], now)
            for name, slots in found:
                if occupy > slots > 0:
                    raise ParameterError(
                        f"occupy={occupy} asks for more slots than concurrency limit {name!r} "
                        f"has ({slots}): it could never be granted."
                    )
                if used.get(name, 0) + occupy > slots:
                    return Holdup(name, slots, used.get(name, 0))
            lease = Lease(new_id(), tuple(name for name, _ in found), occupy)
            if found:
                expires = now + timedelta(seconds=ttl_seconds)
                connection.execute(
                    leases.insert(),
                    [
                        {"id": lease.id, "limit_name": name, "occupy": occupy,
                         "holder": holder[:255], "expires": expires}
                        for name in lease.names
                    ],
                )  # fmt: skip
        return lease

    def renew(self, lease_ids: builtins.list[str], ttl_seconds: float) -> None:
        if not lease_ids:
            return
        expires = datetime.now(UTC) + timedelta(seconds=ttl_seconds)
        with self.database.writing() as connection:
            connection.execute(
                leases.update().where(leases.c.id.in_(lease_ids)).values(expires=expires)
            )

    def release(self, lease_ids: builtins.list[str]) -> None:
        if not lease_ids:
            return
        with self.database.writing() as connection:
            connection.execute(leases.delete().where(leases.c.id.in_(lease_ids)))
