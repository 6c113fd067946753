"""Reading recorded runs from the run store, as ``plait.runs`` records: the store's side of
``plait.backend.runs.RunQueries``."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from plait.backend.runs import RunQueries
from plait.exceptions import AmbiguousRunIdError, ParameterError, RunNotFoundError
from plait.runs import FlowRunRecord, LogRecord, StateRecord, TaskRunRecord
from plait.states import StateType
from plait.store import crashes, retention
from plait.store.database import Database, describe_error
from plait.store.schema import FlowRunRow, LogRow, RunStateRow, TaskRunRow, TaskRunUpstreamRow

logger = logging.getLogger("plait.store")

flow_runs = FlowRunRow.__table__
task_runs = TaskRunRow.__table__
run_states = RunStateRow.__table__
upstream_edges = TaskRunUpstreamRow.__table__
logs = LogRow.__table__


class SqlRunQueries(RunQueries):
    """Recorded runs in one database. Every read first sweeps for crashed flow runs."""

    def __init__(self, database: Database, heartbeat_timeout_seconds: float) -> None:
        self.database = database
        self._heartbeat_timeout = heartbeat_timeout_seconds
        self._me = crashes.ProcessIdentity.current()
        self._read_only = False  # set once marking crashed runs failed to write

    def describe(self) -> str:
        return self.database.describe()

    def _connection(self) -> Any:
        if not self._read_only:
            try:
                crashes.sweep(self.database, self._me, self._heartbeat_timeout)
            except (sa.exc.OperationalError, sa.exc.InternalError) as exc:
                # The database cannot be written (a full disk, a read-only file or replica):
                # read what is there, and say once that dead runs may still show Running.
                self._read_only = True
                logger.warning(
                    "Could not mark the flow runs of dead processes as Crashed in %s (%s); "
                    "they may still show as Running.",
                    self.database.describe(),
                    describe_error(exc),
                )
        return self.database.reading()

    def read_flow_runs(
        self, flow_name: str | None, state: StateType | None, limit: int
    ) -> list[FlowRunRecord]:
        query = sa.select(flow_runs).order_by(flow_runs.c.created.desc()).limit(limit)
        if flow_name is not None:
            query = query.where(flow_runs.c.flow_name == flow_name)
        if state is not None:
            query = query.where(flow_runs.c.state_type == state.value)
        with self._connection() as connection:
            rows = connection.execute(query).mappings().all()
        return [_flow_run(row) for row in rows]

    def read_flow_run(self, flow_run_id: str) -> FlowRunRecord:
        with self._connection() as connection:
            row = connection.execute(
                sa.select(flow_runs).where(flow_runs.c.id == self._resolve(connection, flow_run_id))
            ).mappings().one()  # fmt: skip
            states = _states(connection, [row["id"]])
        return _flow_run(row, states.get(row["id"], ()))

    def read_task_runs(self, flow_run_id: str) -> list[TaskRunRecord]:
        with self._connection() as connection:
            return self._task_runs(connection, self._resolve(connection, flow_run_id))

    def read_logs(self, flow_run_id: str, after: int | None) -> list[LogRecord]:
        with self._connection() as connection:
            query = (
                sa.select(logs)
                .where(logs.c.flow_run_id == self._resolve(connection, flow_run_id))
                .order_by(logs.c.id)
            )
            if after is not None:
                query = query.where(logs.c.id > after)
            rows = connection.execute(query).mappings().all()
        return [LogRecord(**row) for row in rows]

    def delete_flow_runs(
        self, ids: list[str] | None = None, older_than: timedelta | None = None
    ) -> int:
        return retention.delete_flow_runs(self.database, ids=ids or (), older_than=older_than)

    def _resolve(self, connection: Any, flow_run_id: str) -> str:
        """The full id of the one flow run whose id starts with ``flow_run_id``."""
        prefix = flow_run_id.strip().lower()
        if not prefix:
            raise ParameterError("A flow run id (or the start of one) is required.")
        matches = connection.execute(
            sa.select(flow_runs.c.id).where(flow_runs.c.id.startswith(prefix, autoescape=True))
            .limit(3)
        ).scalars().all()  # fmt: skip
        if not matches:
            raise RunNotFoundError(
                f"No flow run has an id starting with {prefix!r} in {self.database.describe()}; "
                "list runs with: plait flow-run ls"
            )
        if len(matches) > 1:
            shown = ", ".join(matches[:2]) + (", ..." if len(matches) > 2 else "")
            raise AmbiguousRunIdError(
                f"{prefix!r} is the start of several flow run ids ({shown}); give more characters."
            )
        return matches[0]

    def _task_runs(self, connection: Any, flow_run_id: str) -> list[TaskRunRecord]:
        their_ids = sa.select(task_runs.c.id).where(task_runs.c.flow_run_id == flow_run_id)
        rows = connection.execute(
            sa.select(task_runs)
            .where(task_runs.c.flow_run_id == flow_run_id)
            .order_by(task_runs.c.created, task_runs.c.id)
        ).mappings().all()  # fmt: skip
        states = _states(connection, their_ids)
        upstream: dict[str, list[str]] = {}
        for down, up in connection.execute(
            sa.select(upstream_edges.c.task_run_id, upstream_edges.c.upstream_id).where(
                upstream_edges.c.task_run_id.in_(their_ids)
            )
        ):
            upstream.setdefault(down, []).append(up)
        return [
            _task_run(row, states.get(row["id"], ()), tuple(upstream.get(row["id"], ())))
            for row in rows
        ]


def _states(connection: Any, run_ids: Any) -> dict[str, tuple[StateRecord, ...]]:
    """State histories of the runs in ``run_ids`` (a list or a subquery), oldest first."""
    found: dict[str, list[StateRecord]] = {}
    query = sa.select(run_states).where(run_states.c.run_id.in_(run_ids)).order_by(run_states.c.id)
    for row in connection.execute(query).mappings():
        found.setdefault(row["run_id"], []).append(
            StateRecord(StateType(row["type"]), row["message"], row["detail"], row["timestamp"])
        )
    return {run_id: tuple(states) for run_id, states in found.items()}


def _run_fields(row: Any, states: tuple[StateRecord, ...]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "state": StateType(row["state_type"]) if row["state_type"] else None,
        "state_message": row["state_message"],
        "tags": tuple(row["tags"]),
        "parent_task_run_id": row["parent_task_run_id"],
        "created": row["created"],
        "start_time": row["start_time"],
        "end_time": row["end_time"],
        "run_count": row["run_count"],
        "result": row["result"],
        "states": states,
    }


def _flow_run(row: Any, states: tuple[StateRecord, ...] = ()) -> FlowRunRecord:
    return FlowRunRecord(
        **_run_fields(row, states),
        flow_name=row["flow_name"],
        parameters=row["parameters"],
        parent_flow_run_id=row["parent_flow_run_id"],
        hostname=row["hostname"],
        pid=row["pid"],
        heartbeat=row["heartbeat"],
        entrypoint=row["entrypoint"],
        parameters_ref=row["parameters_ref"],
    )


def _task_run(
    row: Any, states: tuple[StateRecord, ...], upstream: tuple[str, ...]
) -> TaskRunRecord:
    return TaskRunRecord(
        **_run_fields(row, states),
        task_name=row["task_name"],
        flow_run_id=row["flow_run_id"],
        map_index=row["map_index"],
        upstream=upstream,
    )
