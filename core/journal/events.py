"""The journal's events: a run came into being, resumed, or entered a state; a log line; an
artifact.

Events are small frozen snapshots that never hold a run's result, so recording them keeps no
user data alive (an artifact's event says where its file is, not what it holds). State names
are ``StateType`` values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from plait.runs import ArtifactRecord, LogRecord

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
    map_index: int | None = None  # mapped task runs: the position in their .map call
    map_id: str | None = None  # mapped task runs: the id of their .map call
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
    name: str | None = None  # the state's own name, if not its type's: Completed(name="...")


Event = RunCreated | StateChanged | LogRecord | RunResumed | ArtifactRecord
"""Everything the engine journals. A log line's event is its ``plait.runs.LogRecord``, an
artifact's its ``plait.runs.ArtifactRecord``."""

EVENT_TYPES: dict[str, type] = {
    kind.__name__: kind
    for kind in (RunCreated, StateChanged, LogRecord, RunResumed, ArtifactRecord)
}
"""Every kind of event by name: how the spool and the server's ingestion name them."""
