"""Reading recorded runs from the run store, as ``plait.runs`` records: the store's side of
``plait.backend.runs.RunQueries``."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from plait.backend.runs import (
    MAX_PAGE,
    FlowRunFilter,
    RunQueries,
    decode_cursor,
    encode_cursor,
)
from plait.exceptions import AmbiguousRunIdError, ParameterError, RunNotFoundError
from plait.journal.events import StateChanged
from plait.journal.process import ProcessIdentity
from plait.runs import (
    ArtifactRecord,
    FlowRunRecord,
    LogRecord,
    Page,
    StateRecord,
    TaskGraphNode,
    TaskRunRecord,
    TaskRunSummary,
)
from plait.state_rules import Ruling
from plait.states import UNSUCCESSFUL_TYPES, StateType
from plait.store import crashes, retention
from plait.store.database import Database, describe_error
from plait.store.schema import (
    ArtifactRow,
    FlowRunRow,
    LogRow,
    RunStateRow,
    TaskRunRow,
    TaskRunUpstreamRow,
)

logger = logging.getLogger("plait.store")

flow_runs = FlowRunRow.__table__
task_runs = TaskRunRow.__table__
run_states = RunStateRow.__table__
upstream_edges = TaskRunUpstreamRow.__table__
logs = LogRow.__table__
artifacts = ArtifactRow.__table__


class SqlRunQueries(RunQueries):
    """Recorded runs in one database. Every read first sweeps for crashed flow runs."""

    def __init__(self, database: Database, heartbeat_timeout_seconds: float) -> None:
        self.database = database
        self._heartbeat_timeout = heartbeat_timeout_seconds
        self._me = ProcessIdentity.current()
        self._read_only = False  # set once marking crashed runs failed to write

    def describe(self) -> str:
        return self.database.describe()

    def _connection(self) -> Any:
        if not self._read_only:
            try:
                crashes.sweep(self.database, self._me, self._heartbeat_timeout)
            except (
                sa.exc.OperationalError, sa.exc.InternalError,  # marking: SQLAlchemy's errors
                self.database.dbapi.OperationalError, self.database.dbapi.InternalError,  # reading
            ) as exc:  # fmt: skip
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
        self, which: FlowRunFilter, limit: int, after: str | None
    ) -> Page[FlowRunRecord]:
        query = sa.select(flow_runs)
        if which.flow_name is not None:
            query = query.where(flow_runs.c.flow_name == which.flow_name)
        if which.state is not None:
            query = query.where(flow_runs.c.state_type == which.state.value)
        for tag in which.tags:  # tags are kept as a JSON list: the tag's JSON string is in it
            tags = sa.cast(flow_runs.c.tags, sa.Text)
            query = query.where(tags.contains(json.dumps(tag), autoescape=True))
        if which.since is not None:
            query = query.where(flow_runs.c.created >= which.since)
        if which.until is not None:
            query = query.where(flow_runs.c.created < which.until)
        listing = which.listing()
        with self._connection() as connection:
            rows = _page(connection, query, flow_runs, listing, limit, after, newest_first=True)
        return Page([_flow_run(row) for row in rows.items], rows.next_cursor)

    def read_flow_run(self, flow_run_id: str) -> FlowRunRecord:
        with self._connection() as connection:
            row = connection.execute(
                sa.select(flow_runs).where(flow_runs.c.id == self._resolve(connection, flow_run_id))
            ).mappings().one()  # fmt: skip
            states = _states(connection, [row["id"]])
        return _flow_run(row, states.get(row["id"], ()))

    def read_task_runs(
        self, flow_run_id: str, state: StateType | None, limit: int, after: str | None
    ) -> Page[TaskRunRecord]:
        with self._connection() as connection:
            resolved = self._resolve(connection, flow_run_id)
            query = sa.select(task_runs).where(task_runs.c.flow_run_id == resolved)
            if state is not None:
                query = query.where(task_runs.c.state_type == state.value)
            listing = json.dumps(["task_runs", resolved, state and state.value])
            rows = _page(connection, query, task_runs, listing, limit, after, newest_first=False)
            return Page(_task_runs(connection, rows.items), rows.next_cursor)

    def read_task_run_names(self, task_run_ids: list[str]) -> dict[str, str]:
        names: dict[str, str] = {}
        with self._connection() as connection:
            for start in range(0, len(task_run_ids), MAX_PAGE):  # within SQL's bound parameters
                chunk = task_run_ids[start : start + MAX_PAGE]
                query = sa.select(task_runs.c.id, task_runs.c.name).where(task_runs.c.id.in_(chunk))
                names.update(connection.execute(query).all())
        return names

    def summarize_task_runs(self, flow_run_id: str, limit: int) -> TaskRunSummary:
        unsuccessful = [state.value for state in UNSUCCESSFUL_TYPES]
        with self._connection() as connection:
            resolved = self._resolve(connection, flow_run_id)
            counts = connection.execute(
                sa.select(task_runs.c.state_type, sa.func.count())
                .where(task_runs.c.flow_run_id == resolved)
                .group_by(task_runs.c.state_type)
            ).all()  # fmt: skip
            rows = connection.execute(
                sa.select(task_runs)
                .where(task_runs.c.flow_run_id == resolved)
                .order_by(
                    sa.case((task_runs.c.state_type.in_(unsuccessful), 0), else_=1),
                    task_runs.c.created,
                    task_runs.c.id,
                )
                .limit(limit)
            ).mappings().all()  # fmt: skip
            return TaskRunSummary(_counts(counts), _task_runs(connection, rows))

    def read_task_graph(self, flow_run_id: str) -> list[TaskGraphNode]:
        with self._connection() as connection:
            resolved = self._resolve(connection, flow_run_id)
            node = _graph_node(task_runs)
            groups = connection.execute(
                sa.select(
                    node.label("node"),
                    sa.func.min(task_runs.c.name),
                    task_runs.c.task_name,
                    task_runs.c.state_type,
                    sa.func.count(),
                    sa.func.min(task_runs.c.created),
                    sa.func.min(task_runs.c.start_time),
                    sa.func.max(task_runs.c.end_time),
                )
                .where(task_runs.c.flow_run_id == resolved)
                .group_by(node, task_runs.c.task_name, task_runs.c.state_type)
            ).all()  # fmt: skip
            down, up = task_runs.alias("down"), task_runs.alias("up")
            edges = connection.execute(
                sa.select(_graph_node(down), _graph_node(up))
                .distinct()
                .select_from(
                    upstream_edges.join(down, down.c.id == upstream_edges.c.task_run_id).join(
                        up, up.c.id == upstream_edges.c.upstream_id
                    )
                )
                .where(down.c.flow_run_id == resolved, up.c.flow_run_id == resolved)
            ).all()  # fmt: skip
        return _graph_nodes(groups, edges)

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

    def read_artifacts(self, flow_run_id: str) -> list[ArtifactRecord]:
        with self._connection() as connection:
            query = (
                sa.select(artifacts)
                .where(artifacts.c.flow_run_id == self._resolve(connection, flow_run_id))
                .order_by(artifacts.c.timestamp, artifacts.c.id)
            )
            rows = connection.execute(query).mappings().all()
        return [ArtifactRecord(**row) for row in rows]

    def read_keyed_artifacts(self, key: str | None, limit: int) -> list[ArtifactRecord]:
        if key is not None:
            query = (
                sa.select(artifacts)
                .where(artifacts.c.key == key)
                .order_by(artifacts.c.timestamp.desc(), artifacts.c.id.desc())
            )
        else:
            latest = (
                sa.select(artifacts.c.key, sa.func.max(artifacts.c.timestamp).label("latest"))
                .where(artifacts.c.key != "")
                .group_by(artifacts.c.key)
                .subquery()
            )
            query = (
                sa.select(artifacts)
                .join(
                    latest,
                    (artifacts.c.key == latest.c.key) & (artifacts.c.timestamp == latest.c.latest),
                )
                .order_by(artifacts.c.key, artifacts.c.id)
            )
        with self._connection() as connection:
            rows = connection.execute(query.limit(limit)).mappings().all()
        found = [ArtifactRecord(**row) for row in rows]
        if key is None:  # of two versions written at the same instant, one
            found = list({artifact.key: artifact for artifact in found}.values())
        return found

    def delete_flow_runs(
        self, ids: list[str] | None = None, older_than: timedelta | None = None
    ) -> int:
        return retention.delete_flow_runs(self.database, ids=ids or (), older_than=older_than)

    def set_flow_run_state(
        self, flow_run_id: str, state: StateType, message: str | None
    ) -> Ruling | None:
        from plait.journal.spool import Spool
        from plait.settings import load_settings
        from plait.store.writer import StoreWriter

        event = StateChanged("flow", flow_run_id, state.value, datetime.now(UTC), message)
        writer = StoreWriter(self.database, Spool(load_settings().home / "spool"))
        rulings: list[tuple[str, Ruling]] = []
        writer.save_once(str(uuid.uuid4()), lambda: [[event]], self._me, rulings=rulings)
        return rulings[0][1] if rulings else None

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


def _page(
    connection: Any,
    query: Any,
    table: Any,
    listing: str,
    limit: int,
    after: str | None,
    newest_first: bool,
) -> Page[Any]:
    """One page of ``query``'s rows of ``table``, by keyset on (created, id): rows after
    the cursor ``after``, and the next page's cursor when more rows follow."""
    created, run_id = table.c.created, table.c.id
    if after is not None:
        at, at_id = decode_cursor(after, listing)
        beyond = (lambda c, v: c < v) if newest_first else (lambda c, v: c > v)
        query = query.where(
            sa.or_(beyond(created, at), sa.and_(created == at, beyond(run_id, at_id)))
        )
    order = (created.desc(), run_id.desc()) if newest_first else (created, run_id)
    rows = connection.execute(query.order_by(*order).limit(limit + 1)).mappings().all()
    if len(rows) <= limit:
        return Page(list(rows))
    last = rows[limit - 1]
    return Page(list(rows[:limit]), encode_cursor(listing, last["created"], last["id"]))


def _task_runs(connection: Any, rows: Any) -> list[TaskRunRecord]:
    """Task run records for ``rows``, with their states and upstream runs."""
    ids = [row["id"] for row in rows]
    states = _states(connection, ids)
    upstream: dict[str, list[str]] = {}
    for down, up in connection.execute(
        sa.select(upstream_edges.c.task_run_id, upstream_edges.c.upstream_id).where(
            upstream_edges.c.task_run_id.in_(ids)
        )
    ):
        upstream.setdefault(down, []).append(up)
    return [
        _task_run(row, states.get(row["id"], ()), tuple(upstream.get(row["id"], ())))
        for row in rows
    ]


def _counts(rows: Any) -> dict[StateType | None, int]:
    """(state_type, count) rows as counts by state type."""
    return {StateType(state) if state else None: count for state, count in rows}


def _graph_node(table: Any) -> Any:
    """The graph node a task run belongs to: itself, or ``map:ID`` for the runs of one
    ``.map`` call (``map:TASK`` for mapped runs recorded before calls had ids)."""
    mapped = sa.literal_column("'map:'", sa.String)
    return sa.case(
        (table.c.map_index.is_(None), table.c.id),
        (table.c.map_id.is_not(None), mapped + table.c.map_id),
        else_=mapped + table.c.task_name,
    )


def _graph_nodes(groups: Any, edges: Any) -> list[TaskGraphNode]:
    """Graph nodes from (node, name, task, state, count, created, start, end) groups and
    (downstream, upstream) node edges, in creation order."""
    upstream: dict[str, list[str]] = {}
    for down, up in edges:
        if down != up:
            upstream.setdefault(down, []).append(up)
    merged: dict[str, dict[str, Any]] = {}
    for node, name, task_name, state, count, created, start, end in groups:
        entry = merged.setdefault(
            node, {"name": name, "task": task_name, "counts": {}, "created": created,
                   "start": start, "end": end},
        )  # fmt: skip
        entry["counts"][StateType(state) if state else None] = count
        entry["created"] = min(entry["created"], created)
        entry["start"] = min(filter(None, (entry["start"], start)), default=None)
        entry["end"] = max(filter(None, (entry["end"], end)), default=None)
    ordered = sorted(merged.items(), key=lambda item: (item[1]["created"], item[0]))
    return [
        TaskGraphNode(
            id=node,
            name=entry["task"] if node.startswith("map:") else entry["name"],
            task_name=entry["task"],
            mapped=node.startswith("map:"),
            counts=entry["counts"],
            upstream=tuple(sorted(upstream.get(node, ()))),
            start_time=entry["start"],
            end_time=entry["end"],
        )
        for node, entry in ordered
    ]


def _states(connection: Any, run_ids: Any) -> dict[str, tuple[StateRecord, ...]]:
    """State histories of the runs in ``run_ids`` (a list or a subquery), oldest first."""
    found: dict[str, list[StateRecord]] = {}
    query = sa.select(run_states).where(run_states.c.run_id.in_(run_ids)).order_by(run_states.c.id)
    for row in connection.execute(query).mappings():
        found.setdefault(row["run_id"], []).append(
            StateRecord(
                StateType(row["type"]), row["message"], row["detail"], row["timestamp"], row["name"]
            )
        )
    return {run_id: tuple(states) for run_id, states in found.items()}


def _run_fields(row: Any, states: tuple[StateRecord, ...]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "state": StateType(row["state_type"]) if row["state_type"] else None,
        "state_message": row["state_message"],
        "state_name": row["state_name"],
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
        deployment_id=row["deployment_id"],
        scheduled_time=row["scheduled_time"],
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
        map_id=row["map_id"],
    )
