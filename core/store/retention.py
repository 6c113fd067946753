"""Deleting finished flow runs with everything recorded about them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from plait.states import FINAL_NAMES
from plait.store.database import Database
from plait.store.schema import (
    ArtifactRow,
    FlowRunRow,
    LogRow,
    RunStateRow,
    TaskRunRow,
    TaskRunUpstreamRow,
)

_CHUNK = 500  # ids per statement: well under every database's bound-parameter limit

flow_runs = FlowRunRow.__table__
task_runs = TaskRunRow.__table__


def delete_flow_runs(
    database: Database, *, ids: Iterable[str] = (), older_than: timedelta | None = None
) -> int:
    """Delete the given flow runs and/or the finished ones created more than ``older_than``
    ago, with their subflow runs, task runs, states, task graph, logs and artifact records
    (the artifacts' files stay in the result storage). Returns how many
    flow runs were deleted (subflow runs included)."""
    with database.writing() as connection:
        chosen = set(ids)
        if older_than is not None:
            cutoff = datetime.now(UTC) - older_than
            chosen.update(
                connection.execute(
                    sa.select(flow_runs.c.id).where(
                        flow_runs.c.created < cutoff,
                        flow_runs.c.state_type.in_(sorted(FINAL_NAMES)),
                    )
                ).scalars()
            )
        doomed = _with_subflows(connection, chosen)
        for start in range(0, len(doomed), _CHUNK):
            _delete(connection, doomed[start : start + _CHUNK])
    return len(doomed)


def _with_subflows(connection: Connection, ids: set[str]) -> list[str]:
    found, frontier = set(ids), list(ids)
    while frontier:
        children = set()
        for start in range(0, len(frontier), _CHUNK):
            chunk = frontier[start : start + _CHUNK]
            children.update(
                connection.execute(
                    sa.select(flow_runs.c.id).where(flow_runs.c.parent_flow_run_id.in_(chunk))
                ).scalars()
            )
        frontier = list(children - found)
        found |= children
    return sorted(found)


def _delete(connection: Connection, flow_run_ids: list[str]) -> None:
    their_task_runs = sa.select(task_runs.c.id).where(task_runs.c.flow_run_id.in_(flow_run_ids))
    states = RunStateRow.__table__
    edges = TaskRunUpstreamRow.__table__
    logs = LogRow.__table__
    artifacts = ArtifactRow.__table__
    connection.execute(states.delete().where(states.c.run_id.in_(their_task_runs)))
    connection.execute(edges.delete().where(edges.c.task_run_id.in_(their_task_runs)))
    connection.execute(task_runs.delete().where(task_runs.c.flow_run_id.in_(flow_run_ids)))
    connection.execute(logs.delete().where(logs.c.flow_run_id.in_(flow_run_ids)))
    connection.execute(artifacts.delete().where(artifacts.c.flow_run_id.in_(flow_run_ids)))
    connection.execute(states.delete().where(states.c.run_id.in_(flow_run_ids)))
    connection.execute(flow_runs.delete().where(flow_runs.c.id.in_(flow_run_ids)))
