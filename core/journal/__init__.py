"""The run journal: every run creation, state transition and log line, as an event.

The engine hands each event to the current ``Recorder`` (``events`` and ``recorders`` say
what they are). Until the first event that is a stand-in, which then opens the default
recorder: ``plait.backend`` names how (the run store's background writer, or a
``MemoryRecorder`` when ``PLAIT_PERSIST_RUNS=false``), so settings and the database load on
the first run rather than at ``import plait``. Tests and embedders plug in their own with
``set_recorder``.

May import: ``plait.runs``, ``plait.states``, ``plait.state_rules``. Imported by the engine,
``plait.logs``, the store's writer and ``plait.backend``; it imports none of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from plait.journal.events import Event, RunCreated, RunKind, RunResumed, StateChanged
from plait.journal.recorders import MemoryRecorder, Recorder
from plait.state_rules import Ruling


class _DefaultRecorder(Recorder):
    """Stands in for the default recorder until the first event, then opens it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def _resolve(self) -> Recorder:
        with self._lock:
            if _recorder is self:
                set_recorder(_open_default())
        return _recorder

    def record(self, event: Event) -> None:
        self._resolve().record(event)

    def record_many(self, events: list[Event]) -> None:
        self._resolve().record_many(events)


_open_default: Callable[[], Recorder] = MemoryRecorder
_recorder: Recorder = _DefaultRecorder()
_capture: ContextVar[MemoryRecorder | None] = ContextVar("plait_journal_capture", default=None)


def open_default_with(opener: Callable[[], Recorder]) -> None:
    """Make ``opener`` what opens the default recorder on the first event (``plait.backend``
    calls this when it is imported, which ``import plait`` does)."""
    global _open_default
    _open_default = opener


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


def ruling(run_id: str) -> Ruling | None:
    """The state rules' ruling on run ``run_id``'s last refused report, once delivered (see
    ``plait.state_rules``): after ``flush``, whether the run is in the state it reported."""
    return (_capture.get() or _recorder).ruling(run_id)


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


__all__ = [
    "Event",
    "MemoryRecorder",
    "Recorder",
    "RunCreated",
    "RunKind",
    "RunResumed",
    "StateChanged",
    "capturing",
    "flush",
    "get_recorder",
    "open_default_with",
    "record",
    "record_many",
    "set_recorder",
]
