"""Reading recorded runs: the Python API behind the CLI.

    from plait.client import get_client

    client = get_client()
    for run in client.read_flow_runs(state="Failed", limit=10):
        print(run.name, run.state_message)

Run ids may be given in full or as a unique prefix. Every read first marks the flow runs of
dead processes as Crashed, so what you read is never a stale "Running".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict

from plait.exceptions import ParameterError, RunNotFoundError
from plait.states import FINAL_TYPES, UNSUCCESSFUL_TYPES, StateType
from plait.store import crashes, retention
from plait.store.database import Database, open_database
from plait.store.schema import FlowRunRow, LogRow, RunStateRow, TaskRunRow, TaskRunUpstreamRow

flow_runs = FlowRunRow.__table__
task_runs = TaskRunRow.__table__
run_states = RunStateRow.__table__
upstream_edges = TaskRunUpstreamRow.__table__
logs = LogRow.__table__


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class StateRecord(_Record):
    """A state a run entered; ``detail`` is the traceback of a failure."""

    type: StateType
    message: str | None
    detail: str | None
    timestamp: datetime


class _RunRecord(_Record):
    id: str
    name: str
    state: StateType | None
    state_message: str | None
    tags: list[str]
    parent_task_run_id: str | None
    created: datetime
    start_time: datetime | None
    end_time: datetime | None
    run_count: int
    result: dict[str, Any] | None = None  # where a persisted result is (see read_result)
    states: list[StateRecord] = []

    @property
    def duration(self) -> float | None:
        """Seconds from the first start to the final state, if both happened."""
        if self.start_time is None or self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()

    @property
    def failure(self) -> StateRecord | None:
        """The final state if it is unsuccessful (with its traceback), else None."""
        if self.states and self.states[-1].type in UNSUCCESSFUL_TYPES:
            return self.states[-1]
        return None


class FlowRunRecord(_RunRecord):
    """A recorded flow run."""

    flow_name: str
    parameters: dict[str, Any]
    parent_flow_run_id: str | None
    hostname: str | None
    pid: int | None
    heartbeat: datetime | None
    entrypoint: str | None = None  # "module:name" of a top-level flow, for retries
    parameters_ref: dict[str, Any] | None = None  # its stored parameters, for retries


class TaskRunRecord(_RunRecord):
    """A recorded task run; ``upstream`` lists the task runs it waited on."""

    task_name: str
    flow_run_id: str | None
    map_index: int | None
    upstream: list[str] = []


class LogRecord(_Record):
    """A log line written by a run."""

    id: int
    flow_run_id: str | None
    task_run_id: str | None
    level: int
    logger: str
    message: str
    timestamp: datetime


class TaskGraph(_Record):
    """A flow run's task runs and the edges between them (upstream → downstream)."""

    flow_run_id: str
    task_runs: list[TaskRunRecord]

    @property
    def edges(self) -> list[tuple[str, str]]:
        return [(up, run.id) for run in self.task_runs for up in run.upstream]

    def roots(self) -> list[TaskRunRecord]:
        """Task runs that waited on no other task run of this flow run."""
        ids = {run.id for run in self.task_runs}
        return [run for run in self.task_runs if not ids.intersection(run.upstream)]

    def downstream(self, task_run_id: str) -> list[TaskRunRecord]:
        return [run for run in self.task_runs if task_run_id in run.upstream]


class Client:
    """Reads (and deletes) recorded runs in one run store."""

    def __init__(self, database: Database, heartbeat_timeout_seconds: float) -> None:
        self.database = database
        self._heartbeat_timeout = heartbeat_timeout_seconds
        self._me = crashes.ProcessIdentity.current()

    def _connection(self) -> Any:
        crashes.sweep(self.database, self._me, self._heartbeat_timeout)
        return self.database.reading()

    def read_flow_runs(
        self,
        flow_name: str | None = None,
        state: StateType | str | None = None,
        limit: int = 50,
    ) -> list[FlowRunRecord]:
        """Flow runs, newest first, optionally of one flow and/or in one state."""
        if limit < 1:
            raise ParameterError(f"limit must be at least 1; got {limit}.")
        query = sa.select(flow_runs).order_by(flow_runs.c.created.desc()).limit(limit)
        if flow_name is not None:
            query = query.where(flow_runs.c.flow_name == flow_name)
        if state is not None:
            query = query.where(flow_runs.c.state_type == _state_type(state).value)
        with self._connection() as connection:
            rows = connection.execute(query).mappings().all()
        return [_flow_run(row) for row in rows]

    def read_flow_run(self, flow_run_id: str) -> FlowRunRecord:
        """One flow run (id or unique prefix) with its state history."""
        with self._connection() as connection:
            row = connection.execute(
                sa.select(flow_runs).where(flow_runs.c.id == self._resolve(connection, flow_run_id))
            ).mappings().one()  # fmt: skip
            states = _states(connection, [row["id"]])
        return _flow_run(row, states.get(row["id"], []))

    def read_task_runs(self, flow_run_id: str) -> list[TaskRunRecord]:
        """A flow run's task runs in creation order, with their states and upstream runs."""
        with self._connection() as connection:
            return self._task_runs(connection, self._resolve(connection, flow_run_id))

    def read_task_graph(self, flow_run_id: str) -> TaskGraph:
        """A flow run's task runs and the dependencies between them."""
        with self._connection() as connection:
            resolved = self._resolve(connection, flow_run_id)
            return TaskGraph(flow_run_id=resolved, task_runs=self._task_runs(connection, resolved))

    def read_logs(self, flow_run_id: str, after: int | None = None) -> list[LogRecord]:
        """A flow run's log lines (its task runs' included) in order; with ``after``, only
        lines recorded after the line with that id (to follow a run)."""
        with self._connection() as connection:
            query = (
                sa.select(logs)
                .where(logs.c.flow_run_id == self._resolve(connection, flow_run_id))
                .order_by(logs.c.id)
            )
            if after is not None:
                query = query.where(logs.c.id > after)
            rows = connection.execute(query).mappings().all()
        return [LogRecord.model_validate(dict(row)) for row in rows]

    def read_result(self, run: FlowRunRecord | TaskRunRecord) -> Any:
        """A run's persisted result, read from its result storage."""
        from plait.results import ResultRef

        if run.result is None:
            raise ParameterError(
                f"Run {run.id} ({run.name!r}) has no persisted result: it is "
                f"{run.state.value if run.state else 'unstarted'}, or did not persist its result "
                "(persist_result=True keeps it)."
            )
        return ResultRef.from_json(run.result).load()

    def delete_flow_run(self, flow_run_id: str) -> int:
        """Delete one finished flow run (id or unique prefix) and everything recorded
        about it, its subflow runs included. Returns how many flow runs were deleted."""
        run = self.read_flow_run(flow_run_id)
        if run.state is None or run.state not in FINAL_TYPES:
            state = run.state.value if run.state else "unstarted"
            raise ParameterError(
                f"Flow run {run.id} ({run.name!r}) is {state}; only finished runs can be "
                "deleted. Wait for it to finish."
            )
        return retention.delete_flow_runs(self.database, ids=[run.id])

    def delete_flow_runs(self, older_than: timedelta) -> int:
        """Delete finished flow runs created more than ``older_than`` ago, with everything
        recorded about them. Returns how many flow runs were deleted."""
        if older_than < timedelta(0):
            raise ParameterError(f"older_than must not be negative; got {older_than}.")
        return retention.delete_flow_runs(self.database, older_than=older_than)

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
            raise ParameterError(
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
            _task_run(row, states.get(row["id"], []), upstream.get(row["id"], [])) for row in rows
        ]


def _state_type(state: StateType | str) -> StateType:
    if isinstance(state, StateType):
        return state
    for member in StateType:
        if state.lower() in (member.value.lower(), member.name.lower()):
            return member
    known = ", ".join(member.value for member in StateType)
    raise ParameterError(f"Unknown state {state!r}; use one of: {known}.")


def _states(connection: Any, run_ids: Any) -> dict[str, list[StateRecord]]:
    """State histories of the runs in ``run_ids`` (a list or a subquery), oldest first."""
    found: dict[str, list[StateRecord]] = {}
    query = sa.select(run_states).where(run_states.c.run_id.in_(run_ids)).order_by(run_states.c.id)
    for row in connection.execute(query).mappings():
        found.setdefault(row["run_id"], []).append(
            StateRecord(
                type=StateType(row["type"]),
                message=row["message"],
                detail=row["detail"],
                timestamp=row["timestamp"],
            )
        )
    return found


def _run_fields(row: Any, states: list[StateRecord]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "state": StateType(row["state_type"]) if row["state_type"] else None,
        "state_message": row["state_message"],
        "tags": row["tags"],
        "parent_task_run_id": row["parent_task_run_id"],
        "created": row["created"],
        "start_time": row["start_time"],
        "end_time": row["end_time"],
        "run_count": row["run_count"],
        "result": row["result"],
        "states": states,
    }


def _flow_run(row: Any, states: list[StateRecord] | None = None) -> FlowRunRecord:
    return FlowRunRecord(
        **_run_fields(row, states or []),
        flow_name=row["flow_name"],
        parameters=row["parameters"],
        parent_flow_run_id=row["parent_flow_run_id"],
        hostname=row["hostname"],
        pid=row["pid"],
        heartbeat=row["heartbeat"],
        entrypoint=row["entrypoint"],
        parameters_ref=row["parameters_ref"],
    )


def _task_run(row: Any, states: list[StateRecord], upstream: list[str]) -> TaskRunRecord:
    return TaskRunRecord(
        **_run_fields(row, states),
        task_name=row["task_name"],
        flow_run_id=row["flow_run_id"],
        map_index=row["map_index"],
        upstream=upstream,
    )


def get_client(database_url: str | None = None) -> Client:
    """A client for the configured run store (or the database at ``database_url``)."""
    from plait.settings import load_settings

    settings = load_settings()
    database = open_database(database_url or settings.resolved_database_url())
    return Client(database, settings.heartbeat_timeout_seconds)
