"""The run journal: every run creation, state transition and log line, as an event.

The engine hands each event to the current ``Recorder``. Until the first event, that is a
stand-in which then opens the configured one: the run store's background writer
(``plait.store.writer``), or a ``MemoryRecorder`` when ``PLAIT_PERSIST_RUNS=false``. Tests
and embedders plug in their own with ``set_recorder``. Events are small snapshots that never
hold a run's result, so recording them keeps no user data alive.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from plait.states import FINAL_NAMES

RunKind = Literal["flow", "task"]


@dataclass(slots=True, frozen=True)
class RunCreated:
    """A flow run or task run came into being."""

    kind: RunKind
    run_id: str
    name: str
    key: str  # the flow's or task's name
    timestamp: datetime
    flow_run_id: str | None = None  # for task runs (None when standalone); the parent for subflows
    parent_task_run_id: str | None = None
    upstream: tuple[str, ...] = ()  # task run ids this run waited on (arguments and wait_for)
    parameters: dict[str, Any] | None = None  # flow runs only
    tags: tuple[str, ...] = ()
    map_index: int | None = None
    on_crashed: tuple[str, ...] = ()  # flow runs: names of the hooks to report if it crashes
    entrypoint: str | None = None  # top-level flow runs: "module:name" to import the flow again
    parameters_ref: dict[str, Any] | None = None  # top-level flow runs: its stored parameters


@dataclass(slots=True, frozen=True)
class RunResumed:
    """A finished flow run started a new attempt in this process (``plait flow-run retry``)."""

    run_id: str
    timestamp: datetime


@dataclass(slots=True, frozen=True)
class StateChanged:
    """A run entered a new state. ``detail`` carries the traceback of a failure."""

    kind: RunKind
    run_id: str
    state: str
    timestamp: datetime
    message: str | None = None
    detail: str | None = None
    result: dict[str, Any] | None = None  # where a persisted result is (a ResultRef's JSON)


@dataclass(slots=True, frozen=True)
class LogEmitted:
    """A log line written through a run logger (or a captured ``print``)."""

    flow_run_id: str | None
    task_run_id: str | None
    level: int
    logger: str
    message: str
    timestamp: datetime


Event = RunCreated | StateChanged | LogEmitted | RunResumed


class Recorder(ABC):
    """Where the engine sends events. Implementations must be thread-safe and fast:
    ``record`` is called on the hot path of every task run."""

    @abstractmethod
    def record(self, event: Event) -> None: ...

    def record_many(self, events: list[Event]) -> None:
        """Record events captured elsewhere (a worker process), keeping their order."""
        for event in events:
            self.record(event)

    def flush(self) -> None:  # noqa: B027 - optional: in-memory recorders have nothing to flush
        """Make everything recorded so far durable (no-op for in-memory recorders)."""


@dataclass(slots=True)
class RunRecord:
    """A run as reconstructed from the journal."""

    kind: RunKind
    id: str
    name: str
    key: str
    flow_run_id: str | None
    parent_task_run_id: str | None
    upstream: tuple[str, ...]
    parameters: dict[str, Any] | None
    tags: tuple[str, ...]
    map_index: int | None
    created: datetime
    states: list[StateChanged] = field(default_factory=list)

    @property
    def state(self) -> str | None:
        return self.states[-1].state if self.states else None

    @property
    def message(self) -> str | None:
        return self.states[-1].message if self.states else None

    @property
    def run_count(self) -> int:
        """How many times the run's body was started (1 + retries taken)."""
        return sum(1 for s in self.states if s.state == "Running")

    @property
    def started(self) -> datetime | None:
        return next((s.timestamp for s in self.states if s.state == "Running"), None)

    @property
    def ended(self) -> datetime | None:
        return self.states[-1].timestamp if self.state in FINAL_NAMES else None

    @property
    def duration(self) -> float | None:
        """Seconds from first start to the final state, if both happened."""
        if self.started is None or self.ended is None:
            return None
        return (self.ended - self.started).total_seconds()


class MemoryRecorder(Recorder):
    """Keeps every event in a list, and answers simple questions about them."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def record(self, event: Event) -> None:
        self.events.append(event)  # list.append and list.extend are atomic under the GIL

    def record_many(self, events: list[Event]) -> None:
        self.events.extend(events)

    def clear(self) -> None:
        self.events.clear()

    def runs(self, kind: RunKind | None = None) -> list[RunRecord]:
        """Every run (of one kind, if given) in creation order, with its states."""
        by_id: dict[str, RunRecord] = {}
        for event in list(self.events):
            if isinstance(event, RunCreated):
                by_id[event.run_id] = RunRecord(
                    kind=event.kind,
                    id=event.run_id,
                    name=event.name,
                    key=event.key,
                    flow_run_id=event.flow_run_id,
                    parent_task_run_id=event.parent_task_run_id,
                    upstream=event.upstream,
                    parameters=event.parameters,
                    tags=event.tags,
                    map_index=event.map_index,
                    created=event.timestamp,
                )
            elif isinstance(event, StateChanged) and event.run_id in by_id:
                by_id[event.run_id].states.append(event)
        return [run for run in by_id.values() if kind is None or run.kind == kind]

    def flow_runs(self) -> list[RunRecord]:
        return self.runs("flow")

    def task_runs(self, flow_run_id: str | None = None) -> list[RunRecord]:
        """Task runs of one flow run, or all of them."""
        return [
            run
            for run in self.runs("task")
            if flow_run_id is None or run.flow_run_id == flow_run_id
        ]

    def run(self, run_id: str) -> RunRecord:
        for run in self.runs():
            if run.id == run_id:
                return run
        raise KeyError(f"No run with id {run_id!r} in the journal.")

    def logs(self, flow_run_id: str | None = None) -> list[LogEmitted]:
        return [
            e
            for e in list(self.events)
            if isinstance(e, LogEmitted) and (flow_run_id is None or e.flow_run_id == flow_run_id)
        ]


class _ConfiguredRecorder(Recorder):
    """Stands in for the configured recorder until the first event, so that settings, the
    database and SQLAlchemy load on the first run rather than at ``import plait``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def _resolve(self) -> Recorder:
        with self._lock:
            if _recorder is self:
                set_recorder(_open_configured_recorder())
        return _recorder

    def record(self, event: Event) -> None:
        self._resolve().record(event)

    def record_many(self, events: list[Event]) -> None:
        self._resolve().record_many(events)


def _open_configured_recorder() -> Recorder:
    from plait.settings import load_settings

    settings = load_settings()
    if not settings.persist_runs:
        return MemoryRecorder()
    from plait.store.writer import StoreRecorder

    return StoreRecorder.open(settings)


_recorder: Recorder = _ConfiguredRecorder()
_capture: ContextVar[MemoryRecorder | None] = ContextVar("plait_journal_capture", default=None)


def get_recorder() -> Recorder:
    """The recorder the engine currently sends events to."""
    return _recorder


def set_recorder(recorder: Recorder) -> Recorder:
    """Send events to ``recorder`` from now on; returns the previous one."""
    global _recorder
    previous, _recorder = _recorder, recorder
    return previous


def record(event: Event) -> None:
    (_capture.get() or _recorder).record(event)


def record_many(events: list[Event]) -> None:
    (_capture.get() or _recorder).record_many(events)


def flush() -> None:
    """Make everything recorded so far durable."""
    (_capture.get() or _recorder).flush()


@contextmanager
def capturing() -> Iterator[MemoryRecorder]:
    """Divert the events of the work done in this context into a fresh ``MemoryRecorder``.

    Used in worker processes, so a task run's events travel back to the flow's process with
    its result; being a context variable, concurrent tasks in one worker never mix events.
    """
    capture = MemoryRecorder()
    token = _capture.set(capture)
    try:
        yield capture
    finally:
        _capture.reset(token)
