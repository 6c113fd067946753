"""The background writer: drains the journal into the run store, one transaction per batch.

``record`` only appends to a queue, so a task run's hot path never waits for the database.
A daemon thread writes what has queued up every ``writer_interval_seconds`` (sooner when a
batch is full); ``flush`` writes everything right away and is called when a top-level flow
run ends and at interpreter exit. A batch that cannot be written stays queued, in order,
and is retried; a batch whose content the database rejects is split until the rejected
event stands alone, which is stored reduced or set aside in the spool, so it never blocks
the events behind it (values are made storable first: ``plait.store.values``). The same
thread renews the heartbeat of this process's running flow runs and marks the flow runs of
dead processes as Crashed.

Rows are written with plain SQL and values already in the driver's format, by
``executemany`` on a DB-API cursor (``Database.raw_writing``): a task run is four to five
rows, so SQLAlchemy's per-value processing would cost more than the database itself, and on
the embedded store a process that only records runs never imports SQLAlchemy.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import logging
import sys
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from plait.exceptions import StoreError
from plait.journal import Event, Recorder, RunCreated, RunResumed, StateChanged
from plait.journal.spool import Replayed, Segment, Spool, new_episode
from plait.runs import LogRecord
from plait.settings import Settings
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
_CATCH_UP_ROUNDS = 4  # spool segments saved per drain, at most, while a flow keeps spooling


# Column order of the rows the writer builds (positional parameters bind fastest).
RUN_COLUMNS = ("id", "name", "state_type", "state_message", "tags", "parent_task_run_id",
               "created", "start_time", "end_time", "run_count", "result")  # fmt: skip
STATE, MESSAGE, START, END, RUNS, RESULT = 2, 3, 7, 8, 9, 10  # positions in a run row
COLUMNS = {
    "flows": ("name", "created"),
    "flow_runs": (*RUN_COLUMNS, "flow_name", "parameters", "parent_flow_run_id", "on_crashed",
                  "hostname", "pid", "process_started", "heartbeat", "entrypoint",
                  "parameters_ref"),
    "task_runs": (*RUN_COLUMNS, "task_name", "flow_run_id", "map_index", "map_id"),
    "run_states": ("run_id", "type", "message", "detail", "timestamp"),
    "task_run_upstream": ("task_run_id", "upstream_id"),
    "logs": ("flow_run_id", "task_run_id", "level", "logger", "message", "timestamp"),
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
    for table in ("flow_runs", "task_runs"):  # parameters: the _Update fields, in order
        statements[f"update {table}"] = (
            f"UPDATE {table} SET state_type = {mark}, state_message = {mark}, "
            f"start_time = COALESCE(start_time, {mark}), end_time = COALESCE({mark}, end_time), "
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


def _sqlite_time(moment: datetime) -> float:
    """A timestamp as ``UTCDateTime`` stores it in SQLite: seconds since the epoch."""
    return moment.timestamp()


def _same(moment: datetime) -> datetime:
    return moment


class _Batch:
    """One batch of events, turned into rows ready for the driver: runs first seen here are
    inserted with their latest state; runs seen in earlier batches get one UPDATE each."""

    def __init__(self, process: crashes.ProcessIdentity, now: datetime, sqlite: bool) -> None:
        self.process = process
        self.time = _sqlite_time if sqlite else _same
        self.now = self.time(now)
        self.flows: set[str] = set()
        self.new_runs: dict[str, dict[str, list[Any]]] = {"flow": {}, "task": {}}
        self.updates: dict[str, dict[str, list[Any]]] = {"flow": {}, "task": {}}
        self.states: list[tuple[Any, ...]] = []
        self.edges: list[tuple[str, str]] = []
        self.logs: list[tuple[Any, ...]] = []
        self.ended_flow_runs: list[str] = []
        self.resumed_flow_runs: list[str] = []

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

    def _created(self, event: RunCreated) -> None:
        tags = json.dumps(event.tags) if event.tags else "[]"
        key = storable(event.key, NAME_LIMIT)
        row = [event.run_id, storable(event.name, NAME_LIMIT), None, None, tags,
               event.parent_task_run_id, self.time(event.timestamp),
               None, None, 0, None]  # fmt: skip
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
        timestamp = self.time(event.timestamp)
        message = storable_or_none(event.message, TEXT_LIMIT)
        detail = storable_or_none(event.detail, TEXT_LIMIT)
        self.states.append((event.run_id, event.state, message, detail, timestamp))
        final = event.state in FINAL_NAMES
        if final and event.kind == "flow":
            self.ended_flow_runs.append(event.run_id)
        row = self.new_runs[event.kind].get(event.run_id)
        if row is None:  # recorded in an earlier batch: an UPDATE of what changed
            row = self.updates[event.kind].get(event.run_id)
            if row is None:
                row = self.updates[event.kind][event.run_id] = _update(event.run_id)
        row[STATE], row[MESSAGE] = event.state, message
        if event.result is not None:
            row[RESULT] = json.dumps(event.result)
        if event.state == "Running":
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
                    (u[STATE], u[MESSAGE], u[START], u[END], u[RUNS], u[RESULT], u[0])
                    for u in self.updates[kind].values()
                ]
                cursor.executemany(statements[f"update {table}"], parameters)
        return new_flows


def _run_of(event: Event) -> str:
    """The run an event is about, for messages."""
    if isinstance(event, LogRecord):
        if event.task_run_id:
            return f"task run {event.task_run_id!r}"
        return f"flow run {event.flow_run_id!r}"
    return f"{event.kind} run {event.run_id!r}"


def _update(run_id: str) -> list[Any]:
    """A run row's changing fields, laid out like a run row."""
    row: list[Any] = [None] * len(RUN_COLUMNS)
    row[0], row[RUNS] = run_id, 0
    return row


class StoreRecorder(Recorder):
    """A recorder that saves every event in the run store, in the background.

    Events wait in memory, at most ``writer_queue_limit`` of them; past that, or while the
    store cannot be opened at all, they go to the spool (``plait.journal.spool``) and are
    saved from there, oldest first, once the store takes writes again: by this process, by
    the next process that records runs in that store, or by ``plait db replay``.
    """

    def __init__(self, database_url: str, settings: Settings) -> None:
        self.database_url = database_url
        self.settings = settings
        self.process = crashes.ProcessIdentity.current()
        self.database: Database | None = None
        self._statements: dict[str, str] = {}
        self._batch_size = settings.writer_batch_size
        self._queue_limit = settings.writer_queue_limit
        self._queue: deque[Event] = deque()
        self._drain_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._failing = False
        self._last_failure = "no failure was reported"
        self._known_flows: set[str] = set()
        self._active_flow_runs: set[str] = set()
        self._spool = Spool(settings.home / "spool")
        self._store = store_identity(database_url)
        self._spill_lock = threading.Lock()
        self._spilling = False
        self._segments: list[Segment] = []  # this process's, oldest first; the last is open
        self._episode = self._part = 0  # the current run of segments, and its last part
        self.replayed = Replayed()
        self._replay_done = False
        if not self._open():
            logger.warning(
                "%s. This process's runs are kept in the spool at %s and saved when the store "
                "can be reached: by this process, by the next one that records runs there, or "
                "by `plait db replay`. Check database_url (PLAIT_DATABASE_URL) if it moved.",
                self._last_failure, self._spool.directory,
            )  # fmt: skip
            self._start_spilling()
        self._thread = threading.Thread(target=self._run, name="plait-store-writer", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    @classmethod
    def open(cls, settings: Settings) -> StoreRecorder:
        """A writer for the configured store (migrated on first use)."""
        return cls(settings.resolved_database_url(), settings)

    def describe(self) -> str:
        return Database.describe_url(self.database_url)

    def _open(self) -> bool:
        """Open (and migrate) the store; False, with the failure noted, if it cannot be."""
        try:
            database = open_database(self.database_url)
        except StoreError as exc:
            self._failing, self._last_failure = True, str(exc)
            return False
        self._statements = _statements(database.is_sqlite)
        self.database = database
        return True

    # The hot path: the engine calls these for every event.

    def record(self, event: Event) -> None:
        if self._spilling:
            self._spill([event])
            return
        queue = self._queue
        queue.append(event)
        queued = len(queue)
        if queued == self._batch_size:  # a full batch: wake the writer, once
            self._wake.set()
        if queued >= self._queue_limit:
            self._start_spilling()

    def record_many(self, events: list[Event]) -> None:
        if self._spilling:
            self._spill(events)
            return
        self._queue.extend(events)
        queued = len(self._queue)
        if queued >= self._batch_size:
            self._wake.set()
        if queued >= self._queue_limit:
            self._start_spilling()

    # The spool.

    def _start_spilling(self) -> None:
        """Send events to a new spool segment from now on, if one can be created (if not,
        they stay in memory: nothing is dropped)."""
        with self._spill_lock:
            if self._spilling:
                return
            self._episode, self._part = new_episode(), 0
            try:
                self._segments.append(self._new_segment())
            except OSError as exc:
                logger.error(
                    "Cannot keep events in the spool at %s (%s); they are kept in memory.",
                    self._spool.directory, exc,
                )  # fmt: skip
                self._queue_limit = sys.maxsize
                return
            self._spilling = True
        if self.database is not None:
            logger.warning(
                "The run store at %s is %d events behind; further events are kept in the spool "
                "at %s until it catches up (writer_queue_limit).",
                self.describe(), len(self._queue), self._spool.directory,
            )  # fmt: skip

    def _new_segment(self, part: int | None = None) -> Segment:
        """A segment of the current episode: the next part, or ``part``."""
        if part is None:
            self._part += 1
            part = self._part
        identity = dataclasses.asdict(self.process)
        return self._spool.open_segment(self._store, identity, self._episode, part)

    def _spill(self, events: list[Event]) -> None:
        with self._spill_lock:
            if self._spilling:
                try:
                    self._segments[-1].append(events)
                    return
                except OSError as exc:  # a full disk: keep them in memory instead
                    self._report_failure(exc)
            self._queue.extend(events)

    def _catch_up(self) -> Exception | None:
        """Save this process's spooled events, oldest segment first; once all are saved and
        nothing new was spooled, go back to queueing in memory. Returns the failure, if any."""
        for _ in range(_CATCH_UP_ROUNDS):  # a busy flow keeps spooling: the next drain goes on
            with self._spill_lock:
                current = self._segments[-1]
                if current.count == 0 and len(self._segments) == 1:
                    current.discard()
                    self._segments.clear()
                    self._spilling = False
                    return None
                if current.count:
                    self._segments.append(self._new_segment())
                closed = self._segments[:-1]
            for segment in closed:
                failure = self._replay(segment)
                if failure is not None:
                    return failure
                with self._spill_lock:
                    self._segments.remove(segment)
        return None

    def replay_spool(self) -> Replayed:
        """Save the spooled events that processes no longer running left for this store
        (they could not reach it, or it was behind when they stopped). Done once when the
        writer starts; returns what this writer has replayed so far."""
        with self._drain_lock, self._spool.replaying() as held:
            if not held or self.database is None:
                return self.replayed
            for segment in self._spool.claim_segments(self._store):
                failure = self._replay(segment)
                if failure is not None:
                    segment.close()
                    raise failure
        return self.replayed

    def _replay_left_behind(self) -> None:
        """Replay the spool once, when the store is first open (at the latest, at exit)."""
        if not self._replay_done:
            self._replay_done = self._guarded(self.replay_spool)

    def _replay(self, segment: Segment) -> Exception | None:
        """Save a segment's events, in one transaction that also marks it saved, so a
        replay cut short (a kill between commit and deleting the file) is never repeated.
        Returns the failure, if any (the segment is then kept)."""
        assert self.database is not None
        process = crashes.ProcessIdentity(**segment.header["process"])
        try:
            with self.database.raw_writing() as cursor:
                if not self._mark_replayed(cursor, segment.id):
                    segment.discard()
                    return None
                new_flows: set[str] = set()
                for events in segment.events(self._batch_size):
                    batch = self._batch(events, process)
                    new_flows |= batch.write(cursor, self._statements, self._known_flows)
                    self.replayed.add(len(events))
                    self._note_written(batch, process)
            self._known_flows |= new_flows
        except Exception as exc:
            if not self._rejects_content(exc):
                return exc
            for events in segment.events(self._batch_size):  # find the event it rejects
                failure = self._write_isolating(events, process)
                if failure is not None:
                    return failure[1]
                self.replayed.add(len(events))
            with self.database.raw_writing() as cursor:
                self._mark_replayed(cursor, segment.id)
        self.replayed.segments += 1
        segment.discard()
        return None

    def _mark_replayed(self, cursor: Any, segment_id: str) -> bool:
        """Note in the store that a spool segment is saved; False if it already was."""
        cursor.execute(self._statements["segment saved"], (segment_id,))
        if cursor.fetchone() is not None:
            return False
        now = datetime.now(UTC)
        assert self.database is not None
        replayed = _sqlite_time(now) if self.database.is_sqlite else now
        cursor.execute(self._statements["save segment"], (segment_id, replayed))
        return True

    def _rejects_content(self, exc: BaseException) -> bool:
        """Whether the database refused what a batch holds (a value it cannot store or
        convert, a broken constraint) rather than failing to write at all (unreachable,
        locked, disk full, a missing table): only the first is isolated; the rest is
        retried as it is."""
        assert self.database is not None
        dbapi = self.database.dbapi
        return isinstance(exc, dbapi.DataError | dbapi.IntegrityError | ValueError | TypeError)

    # Writing.

    def flush(self) -> None:
        """Write everything recorded so far, in this thread (or, while the store cannot be
        reached, hand the spool's events to the operating system). Never raises: a failure
        is logged and the events are kept for the next attempt."""
        self._drain()
        with self._spill_lock:
            if self._spilling:
                self._segments[-1].flush()

    def close(self) -> None:
        """Flush, then stop the writer thread (called at interpreter exit). What could not
        be saved is left in the spool for a later process."""
        atexit.unregister(self.close)
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=max(5.0, self.settings.writer_interval_seconds * 4))
        if self.database is not None:
            self._replay_left_behind()
        self._drain()
        with self._spill_lock:
            if self._queue:
                self._spool_queue()
            kept = sum(segment.count for segment in self._segments)
            for segment in self._segments:
                segment.close()
            self._segments.clear()
            self._spilling = False
        if unsaved := len(self._queue) + kept:
            where = (
                f" They are kept in the spool at {self._spool.directory} and will be saved by "
                "the next process that records runs in this store, or by `plait db replay`."
                if kept
                else ""
            )
            to = f" to the run store at {self.describe()}" if self.database is not None else ""
            logger.error(
                "%d recorded events could not be saved%s: %s.%s",
                unsaved, to, self._last_failure, where,
            )  # fmt: skip

    def _spool_queue(self) -> None:
        """Move what is queued in memory to the spool, ahead of this episode's segments."""
        if not self._spilling:
            self._episode, self._part = new_episode(), 0
        try:
            segment = self._new_segment(part=0)
            segment.append(list(self._queue))
        except OSError as exc:
            self._last_failure += f"; nor could they be kept in the spool ({exc})"
            return
        self._queue.clear()
        self._segments.insert(0, segment)

    def _run(self) -> None:
        next_beat = 0.0
        retention_done = self.settings.run_retention_days is None
        while not self._closed:
            self._wake.wait(self.settings.writer_interval_seconds)
            self._wake.clear()
            if self.database is None and not self._open():
                continue
            self._replay_left_behind()
            self._drain()
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + self.settings.heartbeat_interval_seconds
                self._guarded(self.heartbeat)
            if not retention_done:
                retention_done = self._guarded(self.apply_retention)

    def _drain(self) -> None:
        with self._drain_lock:
            if self.database is None:
                return
            failure = self._write_queue()
            if failure is None and self._segments:
                failure = self._catch_up()
            if failure is not None:
                self._report_failure(failure)
                return
            if self._failing:
                logger.warning("The run store at %s works again.", self.describe())
                self._failing = False

    def _write_queue(self) -> Exception | None:
        """Write the queue in batches; on a failure, what is not written goes back to the
        head of the queue, in order, and the failure is returned."""
        while self._queue:
            batch: list[Event] = []
            try:
                while len(batch) < self._batch_size:
                    batch.append(self._queue.popleft())
            except IndexError:
                pass
            failure = self._write_isolating(batch, self.process)
            if failure is not None:
                unwritten, exc = failure
                self._queue.extendleft(reversed(unwritten))
                return exc
        return None

    def _write_isolating(
        self, batch: list[Event], process: crashes.ProcessIdentity
    ) -> tuple[list[Event], Exception] | None:
        """Write ``batch`` in order. If the database rejects its content, write it in halves
        until each rejected event stands alone, then store that one reduced (or set it
        aside in the spool), so one bad value never blocks the events behind it. Any other
        failure (the database is unreachable, the disk is full) stops: returns the events
        not written, in order, and the failure."""
        parts = deque([batch])
        while parts:
            part = parts.popleft()
            try:
                self._write(part, process)
            except Exception as exc:
                if not self._rejects_content(exc):
                    return [e for p in (part, *parts) for e in p], exc
                if len(part) > 1:
                    middle = len(part) // 2
                    parts.extendleft((part[middle:], part[:middle]))
                    continue
                failure = self._store_rejected(part[0], describe_error(exc), process)
                if failure is not None:
                    return [part[0], *(e for p in parts for e in p)], failure
        return None

    def _store_rejected(
        self, event: Event, reason: str, process: crashes.ProcessIdentity
    ) -> Exception | None:
        """Store ``event``, which the database rejected, in its reduced form; if even that
        is rejected, set it aside in the spool. Either way, say so, naming the run. Returns
        a failure to write at all."""
        run = _run_of(event)
        try:
            self._write([reduced(event, reason)], process)
        except Exception as exc:
            if not self._rejects_content(exc):
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

    def _batch(self, events: list[Event], process: crashes.ProcessIdentity) -> _Batch:
        assert self.database is not None
        batch = _Batch(process, datetime.now(UTC), self.database.is_sqlite)
        for event in events:
            batch.add(event)
        return batch

    def _write(self, events: list[Event], process: crashes.ProcessIdentity) -> None:
        batch = self._batch(events, process)
        assert self.database is not None
        with self.database.raw_writing() as cursor:
            new_flows = batch.write(cursor, self._statements, self._known_flows)
        self._known_flows |= new_flows  # only once committed
        self._note_written(batch, process)

    def _note_written(self, batch: _Batch, process: crashes.ProcessIdentity) -> None:
        """Track this process's running flow runs, whose heartbeat it renews."""
        if process == self.process:
            self._active_flow_runs.update(batch.new_runs["flow"])
            self._active_flow_runs.update(batch.resumed_flow_runs)
            self._active_flow_runs.difference_update(batch.ended_flow_runs)

    def _report_failure(self, exc: Exception) -> None:
        self._last_failure = describe_error(exc)
        if not self._failing:
            logger.warning(
                "Could not save runs to the store at %s (%s); %d events are kept and will be "
                "retried.",
                self.describe(),
                describe_error(exc),
                len(self._queue) + sum(segment.count for segment in self._segments),
            )
        self._failing = True

    def _guarded(self, step: Any) -> bool:
        try:
            step()
        except Exception as exc:
            self._report_failure(exc)
            return False
        return True

    def heartbeat(self) -> None:
        """Renew the heartbeat of this process's running flow runs, then mark the flow runs
        of dead processes as Crashed. The writer thread does this every
        ``heartbeat_interval_seconds``."""
        assert self.database is not None, "the store is open when the writer beats"
        with self._drain_lock:
            active = list(self._active_flow_runs)
        if active:
            now = datetime.now(UTC)
            beat = _sqlite_time(now) if self.database.is_sqlite else now
            with self.database.raw_writing() as cursor:
                cursor.executemany(self._statements["heartbeat"], [(beat, run) for run in active])
        crashes.sweep(self.database, self.process, self.settings.heartbeat_timeout_seconds)

    def apply_retention(self) -> int:
        """Delete finished flow runs older than ``run_retention_days`` (if set); the writer
        thread does this once, soon after it starts. Returns how many were deleted."""
        days = self.settings.run_retention_days
        if days is None:
            return 0
        assert self.database is not None, "the store is open when retention is applied"
        from plait.store import retention

        return retention.delete_flow_runs(self.database, older_than=timedelta(days=days))
