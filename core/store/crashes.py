"""Crash detection: flow runs whose process died without reporting a final state.

Each flow run row names the process that runs it (host, pid, and the process's start time,
which tells a reused pid apart) and carries a heartbeat that the process's writer renews.
A run left Pending, Running or Retrying is Crashed when its process is gone (same host) or
its heartbeat is older than ``heartbeat_timeout_seconds`` (any host); one left Cancelling
ends Cancelled (``plait.state_rules``). The check runs whenever the store is read through
the client and on every heartbeat of a writer.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from plait.journal.process import ProcessIdentity
from plait.state_rules import rule_on
from plait.store.database import Database

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

ACTIVE_STATES = ("Pending", "Running", "Retrying", "Cancelling")
logger = logging.getLogger("plait.store")

_CANDIDATES = (  # read on every heartbeat, with the driver's SQL (no SQLAlchemy to import)
    "SELECT id, name, state_type, on_crashed, hostname, pid, process_started, heartbeat "
    f"FROM flow_runs WHERE state_type IN ({', '.join(map(repr, ACTIVE_STATES))}) "
    "AND pid IS NOT NULL"
)


@dataclass(frozen=True, slots=True)
class _Candidate:
    """An unfinished flow run whose process may be gone."""

    id: str
    name: str
    state_type: str
    on_crashed: list[str] | None
    hostname: str
    pid: int
    process_started: int | None
    heartbeat: datetime | None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> _Candidate:
        """A row as the driver returns it: on SQLite, JSON is text and a time is seconds
        since the epoch (see ``plait.store.types.UTCDateTime``)."""
        run_id, name, state_type, on_crashed, hostname, pid, started, beat = row
        if isinstance(on_crashed, str):
            on_crashed = json.loads(on_crashed)
        if isinstance(beat, int | float):
            beat = datetime.fromtimestamp(beat, UTC)
        elif beat is not None:
            beat = beat.astimezone(UTC)
        return cls(run_id, name, state_type, on_crashed, hostname, pid, started, beat)


def sweep(database: Database, me: ProcessIdentity, heartbeat_timeout: float) -> list[str]:
    """Mark every flow run whose process is gone as Crashed; returns their ids."""
    with database.raw_reading() as cursor:
        cursor.execute(_CANDIDATES)
        candidates = [_Candidate.from_row(row) for row in cursor.fetchall()]
    now = datetime.now(UTC)
    dead = []
    for row in candidates:
        reason = _why_gone(row, me, now, heartbeat_timeout)
        if reason is not None:
            dead.append((row, reason))
    if not dead:
        return []
    with database.writing() as connection:
        return [row.id for row, reason in dead if _mark_crashed(connection, row, reason, now)]


def _why_gone(row: _Candidate, me: ProcessIdentity, now: datetime, timeout: float) -> str | None:
    owner = ProcessIdentity(row.hostname, row.pid, row.process_started)
    where = f"pid {row.pid} on {row.hostname}"
    if owner.hostname == me.hostname:
        if owner == me or owner.is_alive():
            return None
        return f"its process ({where}) exited without reporting a final state"
    if row.heartbeat is not None and now - row.heartbeat <= timedelta(seconds=timeout):
        return None
    last = "never" if row.heartbeat is None else f"{row.heartbeat:%Y-%m-%d %H:%M:%S} UTC"
    return f"its process ({where}) sent no heartbeat for over {timeout:g}s (last: {last})"


def _mark_crashed(connection: Connection, row: _Candidate, reason: str, now: datetime) -> bool:
    import sqlalchemy as sa

    from plait.store.schema import FlowRunRow, LogRow, RunStateRow, TaskRunRow

    flow_runs, task_runs = FlowRunRow.__table__, TaskRunRow.__table__
    ruling = rule_on(row.state_type, "Crashed")  # a run asked to cancel ends Cancelled
    ended = "Crashed" if ruling is None else ruling.state
    outcome = "crashed" if ruling is None else f"ended {ended}"
    message = f"Flow run {row.name!r} {outcome}: {reason}."
    marked = connection.execute(
        flow_runs.update()
        .where(flow_runs.c.id == row.id, flow_runs.c.state_type == row.state_type)
        .values(state_type=ended, state_message=message, state_name=None, end_time=now)
    )
    if marked.rowcount != 1:  # another reader marked it first, or it just finished
        return False
    orphans = connection.execute(
        sa.select(task_runs.c.id).where(
            task_runs.c.flow_run_id == row.id, task_runs.c.state_type.in_(ACTIVE_STATES)
        )
    ).scalars().all()  # fmt: skip
    task_message = f"Its flow run {outcome}: {reason}."
    if orphans:
        connection.execute(
            task_runs.update()
            .where(task_runs.c.id.in_(orphans))
            .values(state_type=ended, state_message=task_message, state_name=None, end_time=now)
        )
    states = [_ended_state(row.id, message, now, ended)]
    states += [_ended_state(task_run_id, task_message, now, ended) for task_run_id in orphans]
    connection.execute(sa.insert(RunStateRow), states)
    report = message
    if row.on_crashed:
        hooks = ", ".join(row.on_crashed)
        report += f" Its on_crashed hooks ({hooks}) did not run: they lived in that process."
    connection.execute(
        sa.insert(LogRow),
        {
            "flow_run_id": row.id,
            "task_run_id": None,
            "level": logging.ERROR,
            "logger": logger.name,
            "message": report,
            "timestamp": now,
        },
    )
    logger.warning(report)
    return True


def _ended_state(run_id: str, message: str, now: datetime, state: str) -> dict[str, Any]:
    return {"run_id": run_id, "type": state, "message": message, "detail": None,
            "timestamp": now}  # fmt: skip
