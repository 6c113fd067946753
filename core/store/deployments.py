"""Deployments and their Scheduled runs in the run store (``plait.backend.deployments``).

A Scheduled run's idempotency key is unique in the store, so of two schedulers inserting
the same run at once only one inserts it: on SQLite by ``ON CONFLICT DO NOTHING`` (writers
take turns anyway), on PostgreSQL by an ``INSERT`` of the keys not there yet while passes
take turns on an advisory lock. Only the runs actually inserted get their Scheduled state in
the history. They are written with the driver's SQL (``executemany``, ``COPY``): a pass may
create a hundred thousand.

Runs change state here by a conditional ``UPDATE`` (``_move``): claimed (to Pending), Late,
or skipped by catch-up, each only from a state it may leave, so two processes at once never
move a run twice.
"""

from __future__ import annotations

import builtins
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from plait.backend.deployments import (
    UNSTARTED,
    ClaimedRun,
    DeploymentRecord,
    Deployments,
    LateMarking,
    ScheduledRun,
    skip_message,
    skipped_by_catchup,
)
from plait.exceptions import DeploymentNotFoundError
from plait.journal.process import ProcessIdentity
from plait.store import retention
from plait.store.crashes import ACTIVE_STATES
from plait.store.database import Database
from plait.store.schema import DeploymentRow, FlowRunRow, RunStateRow
from plait.store.writer import driver_time

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

deployments = DeploymentRow.__table__
flow_runs = FlowRunRow.__table__
run_states = RunStateRow.__table__


class SqlDeployments(Deployments):
    def __init__(self, database: Database) -> None:
        self.database = database

    def save(self, record: DeploymentRecord) -> DeploymentRecord:
        values = _row(record)
        with self.database.writing() as connection:
            found = connection.execute(
                sa.select(deployments.c.id, deployments.c.created, deployments.c.paused,
                          deployments.c.schedules)
                .where(deployments.c.name == record.name).with_for_update()
            ).first()  # fmt: skip
            if found is None:
                connection.execute(deployments.insert().values(values))
            else:
                values |= {"id": found.id, "created": found.created, "paused": found.paused}
                connection.execute(
                    deployments.update().where(deployments.c.id == found.id).values(values)
                )
        if found is not None and found.schedules != values["schedules"]:
            self._delete_unstarted(found.id, scheduled_only=True)  # the next pass remakes them
        return _record(values)

    def read(self, name: str) -> DeploymentRecord:
        with self.database.reading() as connection:
            row = connection.execute(
                sa.select(deployments).where(deployments.c.name == name)
            ).mappings().first()  # fmt: skip
        if row is None:
            raise DeploymentNotFoundError(
                f"No deployment is named {name!r} in {self.database.describe()}; list them "
                "with: plait deployment ls"
            )
        return _record(row)

    def list(self) -> builtins.list[DeploymentRecord]:
        with self.database.reading() as connection:
            rows = connection.execute(sa.select(deployments).order_by(deployments.c.name))
            return [_record(row) for row in rows.mappings()]

    def delete(self, name: str) -> int:
        deployment = self.read(name)
        with self.database.writing() as connection:
            connection.execute(deployments.delete().where(deployments.c.id == deployment.id))
        return self._delete_unstarted(deployment.id)

    def set_paused(self, name: str, paused: bool) -> int:
        deployment = self.read(name)
        with self.database.writing() as connection:
            connection.execute(
                deployments.update().where(deployments.c.id == deployment.id)
                .values(paused=paused, updated=datetime.now(UTC))
            )  # fmt: skip
        return self._delete_unstarted(deployment.id, scheduled_only=True) if paused else 0

    def _delete_unstarted(self, deployment_id: str, scheduled_only: bool = False) -> int:
        """Delete a deployment's runs that have not started, or only those its schedules
        made (they have a key). They are first moved out of the states a claim takes, in
        one statement, so a run claimed meanwhile is never deleted."""
        query = sa.select(flow_runs.c.id).where(
            flow_runs.c.deployment_id == deployment_id, flow_runs.c.state_type.in_(UNSTARTED)
        )
        if scheduled_only:
            query = query.where(flow_runs.c.idempotency_key.is_not(None))
        with self.database.writing() as connection:
            unstarted = connection.execute(query).scalars().all()
            withdrawn = _move(connection, unstarted, UNSTARTED, "Cancelled",
                              "Withdrawn: its deployment was paused, edited or deleted.",
                              datetime.now(UTC))  # fmt: skip
        return retention.delete_flow_runs(self.database, ids=withdrawn)

    def scheduled_ahead(self, now: datetime) -> dict[str, tuple[int, datetime]]:
        with self.database.reading() as connection:
            rows = connection.execute(
                sa.select(flow_runs.c.deployment_id, sa.func.count(),
                          sa.func.max(flow_runs.c.scheduled_time))
                .where(flow_runs.c.deployment_id.is_not(None),
                       flow_runs.c.idempotency_key.is_not(None),  # made by a schedule
                       flow_runs.c.state_type == "Scheduled",
                       flow_runs.c.scheduled_time >= now)
                .group_by(flow_runs.c.deployment_id)
            ).all()  # fmt: skip
        return {deployment_id: (count, latest) for deployment_id, count, latest in rows}

    def mark_late(self, now: datetime, grace: timedelta) -> LateMarking:
        with self.database.writing() as connection:
            overdue = connection.execute(
                sa.select(flow_runs.c.id, flow_runs.c.state_type, flow_runs.c.scheduled_time,
                          flow_runs.c.idempotency_key, flow_runs.c.deployment_id,
                          deployments.c.catchup)
                .join(deployments, deployments.c.id == flow_runs.c.deployment_id)
                .where(flow_runs.c.state_type.in_(UNSTARTED),
                       flow_runs.c.scheduled_time < now - grace)
            ).all()  # fmt: skip
            busy = set(connection.execute(
                sa.select(flow_runs.c.deployment_id).distinct()
                .where(flow_runs.c.deployment_id.is_not(None),
                       flow_runs.c.state_type.in_(ACTIVE_STATES))
            ).scalars())  # fmt: skip
            missed: dict[tuple[str, str], builtins.list[tuple[datetime, str]]] = defaultdict(list)
            for run in overdue:  # made by a schedule, and not waiting for a running one
                if run.idempotency_key is not None and run.deployment_id not in busy:
                    missed[run.deployment_id, run.catchup].append((run.scheduled_time, run.id))
            skipped: dict[str, builtins.list[str]] = defaultdict(list)
            for (_, catchup), runs in missed.items():
                skipped[catchup] += skipped_by_catchup(catchup, runs)
            skipping = {run_id for ids in skipped.values() for run_id in ids}
            late = [run.id for run in overdue
                    if run.state_type == "Scheduled" and run.id not in skipping]  # fmt: skip
            message = (
                f"Not started within {grace.total_seconds():g} s of its scheduled time "
                "(late_after_seconds)."
            )
            marked = _move(connection, late, ("Scheduled",), "Late", message, now)
            cancelled = sum(
                len(_move(connection, ids, UNSTARTED, "Cancelled", skip_message(catchup), now,
                          end_time=now))
                for catchup, ids in skipped.items() if ids
            )  # fmt: skip
        return LateMarking(len(marked), cancelled)

    def claim_runs(
        self, deployment_ids: builtins.list[str], now: datetime, grace: timedelta, limit: int,
        claimer: ProcessIdentity,
    ) -> builtins.list[ClaimedRun]:  # fmt: skip
        if not deployment_ids or limit <= 0:
            return []
        ours = flow_runs.c.deployment_id.in_(deployment_ids)
        with self.database.writing() as connection:
            served = {
                row.id: row
                for row in connection.execute(
                    sa.select(deployments.c.id, deployments.c.name, deployments.c.paused,
                              deployments.c.concurrency_limit, deployments.c.collision)
                    .where(deployments.c.id.in_(deployment_ids))
                    .with_for_update()  # claimers of one deployment take turns
                )
            }  # fmt: skip
            active: dict[str, int] = defaultdict(int)
            active |= connection.execute(
                sa.select(flow_runs.c.deployment_id, sa.func.count())
                .where(ours, flow_runs.c.state_type.in_(ACTIVE_STATES))
                .group_by(flow_runs.c.deployment_id)
            ).all()  # fmt: skip
            due = connection.execute(
                sa.select(flow_runs.c.id, flow_runs.c.name, flow_runs.c.deployment_id,
                          flow_runs.c.idempotency_key)
                .where(ours, flow_runs.c.scheduled_time <= now, sa.or_(
                    flow_runs.c.state_type == "Late",
                    sa.and_(flow_runs.c.state_type == "Scheduled",
                            flow_runs.c.scheduled_time >= now - grace)))
                .order_by(flow_runs.c.scheduled_time, flow_runs.c.id)
            ).all()  # fmt: skip
            mine = flow_runs.c.hostname == claimer.hostname, flow_runs.c.pid == claimer.pid
            claimed_before = [
                ClaimedRun(run.id, run.name, served[run.deployment_id].name)
                for run in connection.execute(
                    sa.select(flow_runs.c.id, flow_runs.c.name, flow_runs.c.deployment_id)
                    .where(ours, flow_runs.c.state_type == "Pending", *mine)
                    .order_by(flow_runs.c.scheduled_time, flow_runs.c.id)
                ) if run.deployment_id in served
            ]  # fmt: skip
            claimed: builtins.list[ClaimedRun] = []
            for run in due:
                if len(claimed) == limit:
                    break
                deployment = served.get(run.deployment_id)
                if deployment is None or (deployment.paused and run.idempotency_key):
                    continue  # deleted, or paused: its schedules' runs are being withdrawn
                cap = deployment.concurrency_limit
                if cap is not None and active[run.deployment_id] >= cap:
                    if deployment.collision == "cancel_new":
                        message = (
                            f"Cancelled: deployment {deployment.name!r} was already running "
                            f"{cap} run(s), its concurrency_limit, and its collision is "
                            "'cancel_new'. Use collision='enqueue' to have such runs wait."
                        )
                        _move(connection, [run.id], UNSTARTED, "Cancelled", message, now,
                              end_time=now)  # fmt: skip
                    continue
                active[run.deployment_id] += 1
                claimed.append(ClaimedRun(run.id, run.name, deployment.name))
            moved = set(_move(
                connection, [run.id for run in claimed], UNSTARTED, "Pending",
                f"Claimed by the serving process {claimer.pid} on {claimer.hostname}.", now,
                hostname=claimer.hostname, pid=claimer.pid, process_started=claimer.started,
                heartbeat=now,
            ))  # fmt: skip
        return claimed_before + [run for run in claimed if run.id in moved]  # not moved by another

    def create_runs(self, runs: builtins.list[ScheduledRun], now: datetime) -> int:
        if not runs:
            return 0
        sqlite = self.database.is_sqlite
        mark, time = "?" if sqlite else "%s", driver_time(sqlite)
        at = time(now)
        runs = list({run.key or run.id: run for run in runs}.values())  # each key once
        with self.database.raw_writing() as cursor:
            runs = _of_scheduled_deployments(cursor, runs, mark, sqlite)
            if not runs:
                return 0
            cursor.executemany(
                f"INSERT INTO flows (name, created) VALUES ({mark}, {mark}) ON CONFLICT DO NOTHING",
                [(name, at) for name in sorted({run.flow_name for run in runs})],
            )
            return (_insert_sqlite if sqlite else _insert_postgres)(cursor, runs, at)


def _of_scheduled_deployments(
    cursor: Any, runs: builtins.list[ScheduledRun], mark: str, sqlite: bool
) -> builtins.list[ScheduledRun]:
    """The runs to create: of those a schedule made, only those whose deployment exists and
    is not paused (it may have been paused or deleted since the pass read it). The rows are
    read FOR SHARE, so a pause waits for these runs to be in (and then deletes them)."""
    ids = sorted({run.deployment_id for run in runs if run.key is not None})
    if not ids:
        return runs
    cursor.execute(
        f"SELECT id FROM deployments WHERE NOT paused AND id IN ({', '.join([mark] * len(ids))})"
        + ("" if sqlite else " FOR SHARE"),
        ids,
    )
    scheduled = {row[0] for row in cursor.fetchall()}
    return [run for run in runs if run.key is None or run.deployment_id in scheduled]


def _insert_sqlite(cursor: Any, runs: builtins.list[ScheduledRun], at: Any) -> int:
    """Insert the runs not known (by key or id), then the Scheduled states of those
    inserted."""
    as_json, time = _JsonOnce(), driver_time(sqlite=True)
    rows = [
        (run.id, run.name, run.flow_name, "Scheduled", _due(run.scheduled_time),
         as_json(run.parameters), as_json(run.tags), at, 0, "[]", run.entrypoint,
         run.deployment_id, time(run.scheduled_time), run.key)
        for run in runs
    ]  # fmt: skip
    marks = ", ".join("?" * len(_RUN_COLUMNS))
    created = 0
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        cursor.executemany(
            f"INSERT INTO flow_runs ({', '.join(_RUN_COLUMNS)}) VALUES ({marks}) "
            "ON CONFLICT DO NOTHING",
            chunk,
        )
        cursor.execute(  # a run just inserted has no state yet; one known before has
            f"{_STATES} SELECT id, 'Scheduled', state_message, NULL, ? FROM flow_runs "
            f"WHERE id IN ({', '.join('?' * len(chunk))}) AND NOT EXISTS "
            "(SELECT 1 FROM run_states WHERE run_states.run_id = flow_runs.id)",
            [at, *(row[0] for row in chunk)],
        )
        created += cursor.rowcount
    return created


def _insert_postgres(cursor: Any, runs: builtins.list[ScheduledRun], at: datetime) -> int:
    """COPY the runs into a temporary table, then insert those whose id and key are not known, and
    their Scheduled states, in one statement. COPY is PostgreSQL's fast path for many rows;
    a plain INSERT filtered by key is faster than ON CONFLICT's insertion row by row, and is
    safe because passes take turns here (a transaction-scoped advisory lock)."""
    columns = ", ".join(_COPY_COLUMNS)
    cursor.execute(
        "CREATE TEMPORARY TABLE scheduled_runs (LIKE flow_runs INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    with cursor.copy(f"COPY scheduled_runs ({columns}) FROM STDIN") as copy:
        copy.write(_copy_text(runs, at))
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CREATING_RUNS])
    cursor.execute(
        f"WITH new AS (INSERT INTO flow_runs ({columns}) SELECT {columns} FROM scheduled_runs s "
        "WHERE NOT EXISTS (SELECT 1 FROM flow_runs f WHERE f.id = s.id) AND "
        "(s.idempotency_key IS NULL OR NOT EXISTS "
        "(SELECT 1 FROM flow_runs f WHERE f.idempotency_key = s.idempotency_key)) "
        f"RETURNING id, state_message) {_STATES} SELECT id, 'Scheduled', state_message, NULL, %s "
        "FROM new",
        [at],
    )
    return cursor.rowcount


_CREATING_RUNS = 0x706C6169745F7363  # the advisory lock of passes creating runs ("plait_sc")
_COPY_COLUMNS = ("flow_name", "parameters", "tags", "entrypoint", "deployment_id", "state_type",
                 "created", "run_count", "on_crashed",  # shared by a deployment's runs
                 "id", "name", "state_message", "scheduled_time", "idempotency_key")  # fmt: skip
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _escaped(text: str) -> str:
    """``text`` as a field of COPY's text format (searching is much faster than translating,
    and few fields need it)."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


def _copy_text(runs: builtins.list[ScheduledRun], at: datetime) -> str:
    """The runs in COPY's text format, in ``_COPY_COLUMNS`` order: tab-separated, with
    backslash escapes and ``\\N`` for null. What a deployment's runs share (they come one
    deployment after another) is escaped once."""
    created, lines = at.isoformat(), []
    shared: tuple[Any, ...] = ()
    prefix = ""
    for run in runs:
        mine = (run.deployment_id, run.parameters, run.tags, run.flow_name, run.entrypoint)
        if len(shared) != len(mine) or any(a is not b for a, b in zip(shared, mine, strict=True)):
            shared = mine
            fields = (run.flow_name, json.dumps(run.parameters), json.dumps(run.tags),
                      run.entrypoint, run.deployment_id)  # fmt: skip
            escaped = [_escaped(field) for field in fields]
            prefix = "\t".join([*escaped, "Scheduled", created, "0", "[]", ""])
        moment = run.scheduled_time.isoformat()
        due = moment if not run.scheduled_time.microsecond else _due(run.scheduled_time)[14:]
        key = "\\N" if run.key is None else _escaped(run.key)
        lines.append(
            f"{prefix}{run.id}\t{_escaped(run.name)}\tScheduled for {due}\t{moment}\t{key}\n"
        )
    return "".join(lines)


_STATES = "INSERT INTO run_states (run_id, type, message, detail, timestamp)"
_RUN_COLUMNS = ("id", "name", "flow_name", "state_type", "state_message", "parameters", "tags",
                "created", "run_count", "on_crashed", "entrypoint", "deployment_id",
                "scheduled_time", "idempotency_key")  # fmt: skip
_CHUNK = 1000  # runs whose states are inserted by one statement (SQLite: 1,000 parameters)


def _move(
    connection: Connection, ids: builtins.list[str], states: tuple[str, ...], to: str,
    message: str, now: datetime, **values: Any,
) -> builtins.list[str]:  # fmt: skip
    """Move the runs ``ids`` that are in one of ``states`` to state ``to`` (other columns set
    to ``values``), with the state in their history; returns the ids moved. The state check
    is in the UPDATE, so of two processes moving a run at once only one moves it."""
    moved: builtins.list[str] = []
    for start in range(0, len(ids), _CHUNK):
        moved += connection.execute(
            flow_runs.update()
            .where(flow_runs.c.id.in_(ids[start : start + _CHUNK]),
                   flow_runs.c.state_type.in_(states))
            .values(state_type=to, state_message=message, state_name=None, **values)
            .returning(flow_runs.c.id)
        ).scalars().all()  # fmt: skip
    if moved:
        connection.execute(
            run_states.insert(),
            [{"run_id": run_id, "type": to, "message": message, "detail": None, "timestamp": now}
             for run_id in moved],
        )  # fmt: skip
    return moved


def _due(moment: datetime) -> str:
    return f"Scheduled for {moment.isoformat(timespec='seconds')}"


class _JsonOnce:
    """JSON text of values shared by many runs (a schedule's parameters, a deployment's
    tags), encoded once each."""

    def __init__(self) -> None:
        self._texts: dict[int, tuple[Any, str]] = {}

    def __call__(self, value: Any) -> str:
        known = self._texts.get(id(value))
        if known is None or known[0] is not value:
            known = self._texts[id(value)] = (value, json.dumps(value))
        return known[1]


def _row(record: DeploymentRecord) -> dict[str, Any]:
    return {
        "id": record.id, "name": record.name, "flow_name": record.flow_name,
        "entrypoint": record.entrypoint, "parameters": record.parameters,
        "parameter_schema": record.parameter_schema, "schedules": list(record.schedules),
        "tags": list(record.tags), "description": record.description,
        "version": record.version, "concurrency_limit": record.concurrency_limit,
        "collision": record.collision, "catchup": record.catchup, "paused": record.paused,
        "created": record.created, "updated": record.updated,
    }  # fmt: skip


def _record(row: Any) -> DeploymentRecord:
    fields = dict(row)
    fields["schedules"] = tuple(fields["schedules"])
    fields["tags"] = tuple(fields["tags"])
    return DeploymentRecord(**fields)
