"""What Plait records about runs: their ids, and one record type per thing recorded.

The same records come back from every reader: ``plait.client.get_client()`` over the run
store, a ``MemoryRecorder`` in tests, and (later) the API server's responses::

    run = get_client().read_flow_run("0193")
    print(run.name, run.state, run.duration)
    for state in run.states:
        print(state.type, state.timestamp, state.message)

A ``LogRecord`` is also the journal's event for a log line: it gets its ``id`` when stored;
an ``ArtifactRecord`` is likewise the event for an artifact a run kept.
Records are frozen dataclasses, cheap to build and free of pydantic, so that reading the
in-memory journal costs nothing at ``import plait``.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from plait.states import UNSUCCESSFUL_TYPES, StateType

T = TypeVar("T")


def new_id() -> str:
    """A UUIDv7 string: random, but ordered by creation time (good for indexes and listings).
    Runs and saved block documents are identified by these."""
    return _uuid7(time.time_ns() // 1_000_000, int.from_bytes(os.urandom(10), "big"))


def new_ids(count: int) -> list[str]:
    """``count`` new ids, with one read of the clock and of randomness (a scheduler pass
    makes a hundred thousand)."""
    ms, pool = time.time_ns() // 1_000_000, os.urandom(10 * count)
    return [_uuid7(ms, int.from_bytes(pool[i : i + 10], "big")) for i in range(0, len(pool), 10)]


def _uuid7(ms: int, random_bits: int) -> str:
    value = ms << 80 | random_bits
    value = (value & ~(0xF << 76) | 0x7 << 76) & ~(0x3 << 62) | 0x2 << 62
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_ADJECTIVES = (
    "amber azure bold brave brisk calm clever cobalt coral crimson daring eager fearless "
    "gentle golden hardy jolly keen lively lucid mellow nimble noble olive pale plucky "
    "quiet rapid ruby russet sage scarlet serene silver steady sunny swift tidy vivid witty"
).split()
_NOUNS = (
    "badger beaver bison crane dingo dolphin eagle falcon ferret finch fox gecko heron "
    "ibis jaguar kestrel koala lemur lynx marten mole newt ocelot orca otter owl panda "
    "puffin quail raven robin salmon seal stoat swan tapir toad walrus weasel wren yak"
).split()


def generate_run_name() -> str:
    """A memorable default flow run name such as ``brisk-otter``."""
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}"


def generate_run_names(count: int) -> list[str]:
    """``count`` names as ``generate_run_name`` makes them, drawn at once."""
    pairs = zip(random.choices(_ADJECTIVES, k=count), random.choices(_NOUNS, k=count), strict=True)
    return [f"{adjective}-{noun}" for adjective, noun in pairs]


@dataclass(slots=True, frozen=True)
class StateRecord:
    """A state a run entered; ``detail`` is the traceback of a failure, ``name`` the name it
    was given if not its type's (``Completed(name="NoNewRows")``)."""

    type: StateType
    message: str | None
    detail: str | None
    timestamp: datetime
    name: str | None = None


@dataclass(slots=True, frozen=True, kw_only=True)
class RunRecord:
    """What flow runs and task runs share, as recorded."""

    id: str
    name: str
    state: StateType | None
    state_message: str | None
    tags: tuple[str, ...]
    parent_task_run_id: str | None
    created: datetime
    start_time: datetime | None
    end_time: datetime | None
    run_count: int
    result: dict[str, Any] | None = None  # where a persisted result is (see Client.read_result)
    states: tuple[StateRecord, ...] = ()
    state_name: str | None = None  # the current state's own name, if not its type's

    @property
    def duration(self) -> float | None:
        """Seconds from the first start to the final state, if both happened."""
        return _seconds_between(self.start_time, self.end_time)

    @property
    def failure(self) -> StateRecord | None:
        """The final state if it is unsuccessful (with its traceback), else None."""
        if self.states and self.states[-1].type in UNSUCCESSFUL_TYPES:
            return self.states[-1]
        return None


@dataclass(slots=True, frozen=True, kw_only=True)
class FlowRunRecord(RunRecord):
    """A recorded flow run. ``hostname``, ``pid`` and ``heartbeat`` say which process runs
    it, so a run whose process died can be marked Crashed."""

    flow_name: str
    parameters: dict[str, Any]
    parent_flow_run_id: str | None
    hostname: str | None = None
    pid: int | None = None
    heartbeat: datetime | None = None
    entrypoint: str | None = None  # "module:name" of a top-level flow, for retries
    parameters_ref: dict[str, Any] | None = None  # its stored parameters, for retries
    deployment_id: str | None = None  # the deployment it is a run of
    scheduled_time: datetime | None = None  # when a deployment's run is due


@dataclass(slots=True, frozen=True, kw_only=True)
class TaskRunRecord(RunRecord):
    """A recorded task run; ``upstream`` lists the task runs it waited on."""

    task_name: str
    flow_run_id: str | None
    map_index: int | None
    upstream: tuple[str, ...] = ()
    map_id: str | None = None  # the .map call it is part of (None if recorded before 0005)


@dataclass(slots=True, frozen=True)
class LogRecord:
    """A log line written by a run (or a captured ``print``). ``id`` orders the stored lines
    and is None until the line is stored."""

    flow_run_id: str | None
    task_run_id: str | None
    level: int
    logger: str
    message: str
    timestamp: datetime
    id: int | None = None


ARTIFACT_TYPES = frozenset({"file", "markdown", "table", "link", "progress"})
"""What an artifact's ``data`` may hold: a ``"file"`` kept with the run's results (where it
is), or (``plait.artifacts``) ``{"markdown": text}``, ``{"table": rows or columns}``,
``{"link": url, "link_text": text}`` or ``{"progress": 0 to 100}``."""


@dataclass(slots=True, frozen=True)
class ArtifactRecord:
    """Something a run kept for people to look at, under a ``key`` (``""``: none); each
    write under a key is a version of it. ``type`` says what ``data`` holds
    (``ARTIFACT_TYPES``): for a ``"file"`` (``write_artifact``), where the file is, as a
    ``ResultRef``'s JSON (``Client.read_artifact`` reads it back)."""

    id: str
    key: str
    type: str
    flow_run_id: str
    task_run_id: str | None
    data: dict[str, Any]
    timestamp: datetime
    description: str | None = None


@dataclass(slots=True, frozen=True)
class TaskGraph:
    """A flow run's task runs and the edges between them (upstream → downstream)."""

    flow_run_id: str
    task_runs: list[TaskRunRecord] = field(default_factory=list)

    @property
    def edges(self) -> list[tuple[str, str]]:
        return [(up, run.id) for run in self.task_runs for up in run.upstream]

    def roots(self) -> list[TaskRunRecord]:
        """Task runs that waited on no other task run of this flow run."""
        ids = {run.id for run in self.task_runs}
        return [run for run in self.task_runs if not ids.intersection(run.upstream)]

    def downstream(self, task_run_id: str) -> list[TaskRunRecord]:
        return [run for run in self.task_runs if task_run_id in run.upstream]


@dataclass(slots=True, frozen=True)
class Page(Generic[T]):
    """One page of a listing. ``next_cursor`` is None on the last page; otherwise pass it
    back unchanged (``after=``) for the next page. Cursors are opaque strings."""

    items: list[T]
    next_cursor: str | None = None


@dataclass(slots=True, frozen=True)
class TaskRunSummary:
    """A flow run's task runs in brief: how many are in each state (``None``: no state
    yet), and a bounded list of them, the unsuccessful ones first."""

    counts: dict[StateType | None, int]
    listed: list[TaskRunRecord]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(slots=True, frozen=True)
class TaskGraphNode:
    """A node of a flow run's collapsed task graph: one task run, or every run of one
    ``.map`` call (``mapped``; its id is ``map:`` and the call's id). ``upstream`` holds
    node ids."""

    id: str
    name: str
    task_name: str
    mapped: bool
    counts: dict[StateType | None, int]
    upstream: tuple[str, ...]
    start_time: datetime | None
    end_time: datetime | None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def duration(self) -> float | None:
        """Seconds from the first start to the last end among its runs."""
        return _seconds_between(self.start_time, self.end_time)


def _seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds()
