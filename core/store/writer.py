"""Saving the journal's events in the run store, one transaction per batch: ``StoreWriter``
writes, ``StoreRecorder`` ships a process's journal to it in the background
(``plait.journal.shipping``), and the server's event ingestion writes through it too.

A batch that cannot be written is retried as it is; a batch whose content the database
rejects is split until the rejected event stands alone, which is stored reduced or set aside
in the spool, so it never blocks the events behind it (values are made storable first:
``plait.store.values``). The recorder's thread also renews the heartbeat of this process's
running flow runs and marks the flow runs of dead processes as Crashed.

Rows are written with plain SQL and values already in the driver's format, by
``executemany`` on a DB-API cursor (``Database.raw_writing``): a task run is four to five
rows, so SQLAlchemy's per-value processing would cost more than the database itself, and on
the embedded store a process that only records runs never imports SQLAlchemy.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from plait.journal import Event, RunCreated, RunResumed, StateChanged
from plait.journal.process import ProcessIdentity
from plait.journal.shipping import Batch, Failure, ShippingRecorder
from plait.journal.spool import Segment, Spool
from plait.runs import ArtifactRecord, LogRecord
from plait.settings import Settings
from plait.state_rules import Ruling, rule_on
from plait.states import FINAL_NAMES
from plait.store import crashes
from plait.store.database import Database, describe_error, open_database, store_identity
from plait.store.values import (
    ENTRYPOINT_LIMIT,
    NAME_LIMIT,
    TEXT_LIMIT,
    reduced,
    storable,
    storable_or_none,
)

logger = logging.getLogger("plait.store")


# Column order of the rows the writer builds (positional parameters bind fastest).
RUN_COLUMNS = ("id", "name", "state_type", "state_message", "tags", "parent_task_run_id",
               "created", "start_time", "end_time", "run_count", "result",
               "state_name")  # fmt: skip
STATE, MESSAGE, START, END, RUNS, RESULT, STATE_NAME = 2, 3, 7, 8, 9, 10, 11  # in a run row
COLUMNS = {
    "flows": ("name", "created"),
    "flow_runs": (*RUN_COLUMNS, "flow_name", "parameters", "parent_flow_run_id", "on_crashed",
                  "hostname", "pid", "process_started", "heartbeat", "entrypoint",
                  "parameters_ref"),
    "task_runs": (*RUN_COLUMNS, "task_name", "flow_run_id", "map_index", "map_id"),
    "run_states": ("run_id", "type", "message", "detail", "timestamp", "name"),
    "task_run_upstream": ("task_run_id", "upstream_id"),
    "logs": ("flow_run_id", "task_run_id", "level", "logger", "message", "timestamp"),
    "artifacts": ("id", "key", "type", "flow_run_id", "task_run_id", "data", "description",
                  "timestamp"),
}  # fmt: skip


def _statements(sqlite: bool) -> dict[str, str]:
    """The writer's INSERT and UPDATE statements, in the driver's parameter style."""
    mark = "?" if sqlite else "%s"
    statements = {
        table: f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join([mark] * len(columns))})"
        for table, columns in COLUMNS.items()
    }
    statements["flows"] += " ON CONFLICT DO NOTHING"
    statements["artifacts"] += (  # a progress artifact updated in place keeps its id
        " ON CONFLICT (id) DO UPDATE SET data = excluded.data, "
        "description = excluded.description, timestamp = excluded.timestamp"
    )
    for table in ("flow_runs", "task_runs"):  # parameters: the _Update fields, in order
        statements[f"update {table}"] = (
            f"UPDATE {table} SET state_type = {mark}, state_message = {mark}, "
            f"state_name = {mark}, start_time = COALESCE(start_time, {mark}), "
            f"end_time = COALESCE({mark}, end_time), "
            f"run_count = run_count + {mark}, result = COALESCE({mark}, result) WHERE id = {mark}"
        )
    statements["segment saved"] = f"SELECT 1 FROM spool_segments WHERE id = {mark}"
    statements["save segment"] = (
        f"INSERT INTO spool_segments (id, replayed) VALUES ({mark}, {mark})"
    )
    statements["resume flow_runs"] = (
        f"UPDATE flow_runs SET hostname = {mark}, pid = {mark}, process_started = {mark}, "
        f"heartbeat = {mark}, end_time = NULL WHERE id = {mark}"
    )
    statements["heartbeat"] = f"UPDATE flow_runs SET heartbeat = {mark} WHERE id = {mark}"
    return statements


_LOOKUP_CHUNK = 500  # run ids per query for their recorded states


def _sqlite_time(moment: datetime) -> float:
    """A timestamp as ``UTCDateTime`` stores it in SQLite: seconds since the epoch."""
    return moment.timestamp()


def _same(moment: datetime) -> datetime:
    return moment


def driver_time(sqlite: bool) -> Callable[[datetime], Any]:
    """How times go to the driver in the store's raw SQL: as ``UTCDateTime`` keeps them."""
    return _sqlite_time if sqlite else _same


class _Batch:
    """One batch of events, turned into rows ready for the driver: runs first seen here are
    inserted with their latest state; runs seen in earlier batches get one UPDATE each."""

    def __init__(self, process: ProcessIdentity, now: datetime, sqlite: bool) -> None:
        self.process = process
        self.time = driver_time(sqlite)
        self.now = self.time(now)
        self.flows: set[str] = set()
        self.new_runs: dict[str, dict[str, list[Any]]] = {"flow": {}, "task": {}}
        self.updates: dict[str, dict[str, list[Any]]] = {"flow": {}, "task": {}}
        self.states: list[tuple[Any, ...]] = []
        self.edges: list[tuple[str, str]] = []
        self.logs: list[tuple[Any, ...]] = []
        self.artifacts: list[tuple[Any, ...]] = []
        self.ended_flow_runs: list[str] = []
        self.resumed_flow_runs: list[str] = []
        self.stored: dict[str, str | None] = {}  # states of runs recorded by earlier batches
        self.resuming: set[str] = set()  # runs starting a new attempt: any state may follow
        self.rulings: list[tuple[str, Ruling]] = []  # (run id, ruling) of refused reports

    def add(self, event: Event) -> None:
        if type(event) is StateChanged:
            self._state(event)
        elif type(event) is LogRecord:
            self.logs.append(
                (event.flow_run_id, event.task_run_id, event.level,
                 storable(event.logger, NAME_LIMIT), storable(event.message, TEXT_LIMIT),
                 self.time(event.timestamp))
            )  # fmt: skip
        elif type(event) is RunCreated:
            self._created(event)
        elif type(event) is RunResumed:
            self.resumed_flow_runs.append(event.run_id)
            self.resuming.add(event.run_id)
        elif type(event) is ArtifactRecord:
            self.artifacts.append(
                (event.id, storable(event.key, NAME_LIMIT), event.type, event.flow_run_id,
                 event.task_run_id, json.dumps(event.data),
                 storable_or_none(event.description, TEXT_LIMIT), self.time(event.timestamp))
            )  # fmt: skip

    def _created(self, event: RunCreated) -> None:
        tags = json.dumps(event.tags) if event.tags else "[]"
        key = storable(event.key, NAME_LIMIT)
        row = [event.run_id, storable(event.name, NAME_LIMIT), None, None, tags,
               event.parent_task_run_id, self.time(event.timestamp),
               None, None, 0, None, None]  # fmt: skip
        if event.kind == "flow":
            self.flows.add(key)
            process = self.process
            parameters_ref = event.parameters_ref
            entrypoint = storable_or_none(event.entrypoint, ENTRYPOINT_LIMIT)
            row += (key, json.dumps(event.parameters or {}),
                    event.flow_run_id, json.dumps(event.on_crashed), process.hostname,
                    process.pid, process.started, self.now, entrypoint,
                    None if parameters_ref is None else json.dumps(parameters_ref))  # fmt: skip
        else:
            row += (key, event.flow_run_id, event.map_index, event.map_id)
            self.edges.extend(
                (event.run_id, upstream) for upstream in dict.fromkeys(event.upstream)
            )
        self.new_runs[event.kind][event.run_id] = row

    def _state(self, event: StateChanged) -> None:
        kind, run_id = event.kind, event.run_id
        row = self.new_runs[kind].get(run_id) or self.updates[kind].get(run_id)
        if run_id in self.resuming:
            current = None
        else:
            current = row[STATE] if row is not None else self.stored.get(run_id)
        timestamp = self.time(event.timestamp)
        message = storable_or_none(event.message, TEXT_LIMIT)
        detail = storable_or_none(event.detail, TEXT_LIMIT)
        name = storable_or_none(event.name, NAME_LIMIT)
        state, result = event.state, event.result
        ruling = rule_on(current, state)
        if ruling is not None:  # kept in the history, marked with the rule
            self.rulings.append((run_id, ruling))
            refused = f"Not applied: rule {ruling.rule.name}. {ruling.rule.reason}"
            detail = storable(refused if detail is None else f"{refused}\n\n{detail}", TEXT_LIMIT)
            self.states.append((run_id, state, message, detail, timestamp, name))
            if ruling.state == current:
                return
            state, message, detail, result = ruling.state, ruling.rule.reason, None, None
            name = None
        self.resuming.discard(run_id)
        self.states.append((run_id, state, message, detail, timestamp, name))
        final = state in FINAL_NAMES
        if final and kind == "flow":
            self.ended_flow_runs.append(run_id)
        if row is None:  # recorded in an earlier batch: an UPDATE of what changed
            row = self.updates[kind][run_id] = _update(run_id)
        row[STATE], row[MESSAGE], row[STATE_NAME] = state, message, name
        if result is not None:
            row[RESULT] = json.dumps(result)
        if state == "Running":
            row[RUNS] += 1
            row[START] = row[START] or timestamp
        elif final:
            row[END] = timestamp

    def write(self, cursor: Any, statements: dict[str, str], known: set[str]) -> set[str]:
        """Write the batch's rows; returns the flows it added (``known`` are already in)."""
        new_flows = self.flows - known
        tables: list[tuple[str, list[Any]]] = [
            ("flows", [(name, self.now) for name in new_flows]),
            ("flow_runs", [tuple(row) for row in self.new_runs["flow"].values()]),
            ("task_runs", [tuple(row) for row in self.new_runs["task"].values()]),
            ("run_states", self.states),
            ("task_run_upstream", self.edges),
            ("logs", self.logs),
            ("artifacts", self.artifacts),
        ]
        for table, rows in tables:
            if rows:
                cursor.executemany(statements[table], rows)
        if self.resumed_flow_runs:
            process = self.process
            cursor.executemany(
                statements["resume flow_runs"],
                [(process.hostname, process.pid, process.started, self.now, run_id)
                 for run_id in self.resumed_flow_runs],
            )  # fmt: skip
        for kind, table in (("flow", "flow_runs"), ("task", "task_runs")):
            if self.updates[kind]:
                parameters = [
                    (
                        u[STATE],
                        u[MESSAGE],
                        u[STATE_NAME],
                        u[START],
                        u[END],
                        u[RUNS],
                        u[RESULT],
                        u[0],
                    )
                    for u in self.updates[kind].values()
                ]
                cursor.executemany(statements[f"update {table}"], parameters)
        return new_flows


def _run_of(event: Event) -> str:
    """The run an event is about, for messages."""
    if isinstance(event, LogRecord | ArtifactRecord):
        if event.task_run_id:
            return f"task run {event.task_run_id!r}"
        return f"flow run {event.flow_run_id!r}"
    return f"{event.kind} run {event.run_id!r}"


def _update(run_id: str) -> list[Any]:
    """A run row's changing fields, laid out like a run row."""
    row: list[Any] = [None] * len(RUN_COLUMNS)
    row[0], row[RUNS] = run_id, 0
    return row


class StoreWriter:
    """Writes events into one store database, each call in its own transaction(s). Safe to
    call from several threads: writes take turns."""

    def __init__(self, database: Database, spool: Spool) -> None:
        self.database = database
        self.statements = _statements(database.is_sqlite)
        self.known_flows: set[str] = set()
        self._spool = spool
        self._lock = threading.Lock()

    def describe(self) -> str:
        return self.database.describe()

    def save_once(
        self,
        mark: str,
        parts: Callable[[], Iterable[list[Event]]],
        process: ProcessIdentity,
        saved: Callable[[list[Event]], None] = lambda events: None,
        rulings: list[tuple[str, Ruling]] | None = None,
    ) -> bool:
        """Save the events ``parts()`` yields (in parts; it is called again if the content
        must be isolated) in one transaction that also marks ``mark`` saved, so the same
        events under the same mark are never saved twice. Returns False if they already
        were; raises what the store raised. The state rules' rulings on the events are
        added to ``rulings``."""
        ruled: list[tuple[str, Ruling]] = []
        with self._lock:
            try:
                with self.database.raw_writing() as cursor:
                    if not self._mark(cursor, mark):
                        return False
                    new_flows: set[str] = set()
                    for events in parts():
                        batch = self._batch(cursor, events, process)
                        new_flows |= batch.write(cursor, self.statements, self.known_flows)
                        ruled += batch.rulings
                        saved(events)
                self.known_flows |= new_flows
            except Exception as exc:
                if not self.rejects_content(exc):
                    raise
                ruled.clear()
                for events in parts():  # find the event it rejects
                    failure = self._write_isolating(events, process, ruled)
                    if failure is not None:
                        raise failure[1] from exc
                    saved(events)
                with self.database.raw_writing() as cursor:
                    self._mark(cursor, mark)
        if rulings is not None:
            rulings += ruled
        return True

    def _mark(self, cursor: Any, mark: str) -> bool:
        """Note in the store that the events under ``mark`` are saved; False if they already
        were."""
        cursor.execute(self.statements["segment saved"], (mark,))
        if cursor.fetchone() is not None:
            return False
        now = datetime.now(UTC)
        replayed = driver_time(self.database.is_sqlite)(now)
        cursor.execute(self.statements["save segment"], (mark, replayed))
        return True

    def rejects_content(self, exc: BaseException) -> bool:
        """Whether the database refused what a batch holds (a value it cannot store or
        convert, a broken constraint) rather than failing to write at all (unreachable,
        locked, disk full, a missing table): only the first is isolated; the rest is
        retried as it is."""
        dbapi = self.database.dbapi
        return isinstance(exc, dbapi.DataError | dbapi.IntegrityError | ValueError | TypeError)

    def write_isolating(
        self,
        events: list[Event],
        process: ProcessIdentity,
        rulings: list[tuple[str, Ruling]] | None = None,
    ) -> tuple[list[Event], Exception] | None:
        """Write ``events`` in order. If the database rejects their content, write them in
        halves until each rejected event stands alone, then store that one reduced (or set
        it aside in the spool), so one bad value never blocks the events behind it. Any
        other failure (the database is unreachable, the disk is full) stops: returns the
        events not written, in order, and the failure. The state rules' rulings on what was
        written are added to ``rulings``."""
        with self._lock:
            return self._write_isolating(events, process, [] if rulings is None else rulings)

    def _write_isolating(
        self, events: list[Event], process: ProcessIdentity, rulings: list[tuple[str, Ruling]]
    ) -> tuple[list[Event], Exception] | None:
        parts = deque([events])
        while parts:
            part = parts.popleft()
            try:
                self._write(part, process, rulings)
            except Exception as exc:
                if not self.rejects_content(exc):
                    return [e for p in (part, *parts) for e in p], exc
                if len(part) > 1:
                    middle = len(part) // 2
                    parts.extendleft((part[middle:], part[:middle]))
                    continue
                failure = self._store_rejected(part[0], describe_error(exc), process, rulings)
                if failure is not None:
                    return [part[0], *(e for p in parts for e in p)], failure
        return None

    def _store_rejected(
        self,
        event: Event,
        reason: str,
        process: ProcessIdentity,
        rulings: list[tuple[str, Ruling]],
    ) -> Exception | None:
        """Store ``event``, which the database rejected, in its reduced form; if even that
        is rejected, set it aside in the spool. Either way, say so, naming the run. Returns
        a failure to write at all."""
        run = _run_of(event)
        try:
            self._write([reduced(event, reason)], process, rulings)
        except Exception as exc:
            if not self.rejects_content(exc):
                return exc
            path = self._spool.set_aside(event, reason)
            logger.warning(
                "The run store at %s rejected an event of %s (%s); it was set aside in %s.",
                self.describe(), run, reason, path,
            )  # fmt: skip
            return None
        logger.warning(
            "The run store at %s rejected an event of %s (%s); it was stored reduced.",
            self.describe(), run, reason,
        )  # fmt: skip
        return None

    def _batch(self, cursor: Any, events: list[Event], process: ProcessIdentity) -> _Batch:
        batch = _Batch(process, datetime.now(UTC), self.database.is_sqlite)
        batch.stored = self._stored_states(cursor, events)
        for event in events:
            batch.add(event)
        return batch

    def _stored_states(self, cursor: Any, events: list[Event]) -> dict[str, str | None]:
        """The recorded state of each run whose state ``events`` change and that earlier
        batches recorded (locked until the batch commits, on PostgreSQL), for the rules."""
        created = {event.run_id for event in events if type(event) is RunCreated}
        wanted: dict[str, set[str]] = {"flow": set(), "task": set()}
        for event in events:
            if type(event) is StateChanged and event.run_id not in created:
                wanted[event.kind].add(event.run_id)
        stored: dict[str, str | None] = {}
        for kind, ids in wanted.items():
            ordered = sorted(ids)  # locked in one order: concurrent writers never deadlock
            for start in range(0, len(ordered), _LOOKUP_CHUNK):
                chunk = ordered[start : start + _LOOKUP_CHUNK]
                cursor.execute(self._states_query(f"{kind}_runs", len(chunk)), chunk)
                stored.update(cursor.fetchall())
        return stored

    def _states_query(self, table: str, count: int) -> str:
        sqlite = self.database.is_sqlite
        marks = ", ".join(["?" if sqlite else "%s"] * count)
        lock = "" if sqlite else " FOR UPDATE"
        return f"SELECT id, state_type FROM {table} WHERE id IN ({marks}){lock}"

    def _write(
        self, events: list[Event], process: ProcessIdentity, rulings: list[tuple[str, Ruling]]
    ) -> None:
        with self.database.raw_writing() as cursor:
            batch = self._batch(cursor, events, process)
            new_flows = batch.write(cursor, self.statements, self.known_flows)
        self.known_flows |= new_flows  # only once committed
        rulings += batch.rulings

    def beat(self, flow_run_ids: list[str]) -> None:
        """Renew these flow runs' heartbeat."""
        now = datetime.now(UTC)
        beat = driver_time(self.database.is_sqlite)(now)
        with self.database.raw_writing() as cursor:
            cursor.executemany(self.statements["heartbeat"], [(beat, run) for run in flow_run_ids])


class StoreRecorder(ShippingRecorder):
    """A recorder that saves every event in the run store, in the background.

    Events wait in memory, at most ``writer_queue_limit`` of them; past that, or while the
    store cannot be opened at all, they go to the spool (``plait.journal.spool``) and are
    saved from there, oldest first, once the store takes writes again: by this process, by
    the next process that records runs in that store, or by ``plait db replay``.
    """

    logger = logger

    def __init__(self, database_url: str, settings: Settings) -> None:
        self.database_url = database_url
        self.writer: StoreWriter | None = None
        self._retention_done = settings.run_retention_days is None
        super().__init__(store_identity(database_url), settings, ProcessIdentity.current())

    @classmethod
    def open(cls, settings: Settings) -> StoreRecorder:
        """A writer for the configured store (migrated on first use)."""
        return cls(settings.resolved_database_url(), settings)

    @property
    def database(self) -> Database | None:
        return None if self.writer is None else self.writer.database

    def describe(self) -> str:
        return Database.describe_url(self.database_url)

    def where(self) -> str:
        return f"the run store at {self.describe()}"

    def moved_hint(self) -> str:
        return "Check database_url (PLAIT_DATABASE_URL) if it moved."

    def thread_name(self) -> str:
        return "plait-store-writer"

    def describe_failure(self, exc: BaseException) -> str:
        return str(exc) if not self._connected else describe_error(exc)

    def connect(self) -> None:
        self.writer = StoreWriter(open_database(self.database_url), self._spool)

    def deliver(self, batch: Batch, process: ProcessIdentity) -> Failure | None:
        assert self.writer is not None, "delivering once connected"
        rulings: list[tuple[str, Ruling]] = []
        failure = self.writer.write_isolating(batch.events, process, rulings)
        self.ruled(rulings)
        if failure is None:
            return None
        unwritten, exc = failure
        return [Batch(batch.id, unwritten)], exc

    def deliver_segment(
        self, segment: Segment, process: ProcessIdentity, delivered: Callable[[list[Event]], None]
    ) -> Exception | None:
        assert self.writer is not None, "delivering once connected"
        try:
            rulings: list[tuple[str, Ruling]] = []
            self.writer.save_once(
                segment.id, lambda: segment.events(self._batch_size), process, delivered, rulings
            )
            self.ruled(rulings)
        except Exception as exc:
            return exc
        return None

    def beat(self, active_flow_runs: list[str]) -> None:
        """Renew the heartbeat of this process's running flow runs, then mark the flow runs
        of dead processes as Crashed."""
        assert self.writer is not None, "the store is open when the writer beats"
        if active_flow_runs:
            self.writer.beat(active_flow_runs)
        crashes.sweep(self.writer.database, self.process, self.settings.heartbeat_timeout_seconds)

    def periodic(self) -> None:
        if not self._retention_done:
            self._retention_done = self._guarded(self.apply_retention)

    def apply_retention(self) -> int:
        """Delete finished flow runs older than ``run_retention_days`` (if set); the writer
        thread does this once, soon after it starts. Returns how many were deleted."""
        days = self.settings.run_retention_days
        if days is None:
            return 0
        assert self.writer is not None, "the store is open when retention is applied"
        from plait.store import retention

        return retention.delete_flow_runs(self.writer.database, older_than=timedelta(days=days))
