"""Flow runs and task runs in progress: identity, lineage, the current state (holding the
result), and how each change is journaled. What was recorded reads back as ``plait.runs``'
records."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar

from plait import journal
from plait.journal import RunCreated, RunKind, RunResumed, StateChanged
from plait.runs import new_id
from plait.states import State, StateType

MapSlot = tuple[str, int]  # a mapped task run's place: the id of its .map call, its index


def recordable(value: Any, depth: int = 0) -> Any:
    """A JSON-safe summary of a parameter value for the journal: plain data as is (lists cut
    at 100 items), anything else as its repr (cut at 200 characters). The journal never holds
    the user's objects, and a secret type's masked repr is all it sees."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if depth < 3 and isinstance(value, list | tuple):
        return [recordable(item, depth + 1) for item in value[:100]]
    if depth < 3 and isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: recordable(item, depth + 1) for key, item in list(value.items())[:100]}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


@dataclass(slots=True, eq=False)
class Run:
    """What flow runs and task runs share: identity, lineage and the current state."""

    kind: ClassVar[RunKind]

    id: str
    name: str
    flow_run_id: str | None
    parent_task_run_id: str | None
    tags: tuple[str, ...]
    state: State
    run_count: int
    started: datetime | None = field(default=None, kw_only=True)  # first Running, this attempt

    def set_state(self, state: State) -> State:
        """Enter ``state`` and journal the transition."""
        self.state = state
        if self.started is None and state.type is StateType.RUNNING:
            self.started = state.timestamp
        detail = None
        if state.is_unsuccessful() and isinstance(state.data, BaseException):
            detail = "".join(traceback.format_exception(state.data)).rstrip()
        ref = state.result_ref
        journal.record(
            StateChanged(
                self.kind,
                self.id,
                state.type.value,
                state.timestamp,
                state.message,
                detail,
                None if ref is None else ref.to_json(),
                state.custom_name,
            )
        )
        return state

    def _journal_creation(self, key: str, **extra: Any) -> None:
        journal.record(
            RunCreated(
                kind=self.kind,
                run_id=self.id,
                name=self.name,
                key=key,
                timestamp=self.state.timestamp,
                flow_run_id=self.flow_run_id,
                parent_task_run_id=self.parent_task_run_id,
                tags=self.tags,
                **extra,
            )
        )
        self.set_state(self.state)


@dataclass(frozen=True, slots=True)
class DeploymentInfo:
    """The deployment a flow run is a run of, as ``plait.runtime.deployment`` tells it."""

    id: str
    name: str
    version: str | None
    parameters: dict[str, Any]


@dataclass(slots=True, eq=False)
class FlowRun(Run):
    """One execution of a flow. For a subflow, ``flow_run_id`` is the parent flow run.
    A deployment's run knows its deployment and when it was due."""

    kind: ClassVar[RunKind] = "flow"

    flow_name: str
    parameters: dict[str, Any]
    deployment: DeploymentInfo | None = field(default=None, kw_only=True)
    scheduled_time: datetime | None = field(default=None, kw_only=True)

    def for_worker(self) -> FlowRun:
        """A copy to send with a task run to a worker process, for ``plait.runtime``: its
        parameters as recorded (JSON-safe), since the user's objects may not travel."""
        parameters = {key: recordable(value) for key, value in self.parameters.items()}
        return replace(self, parameters=parameters)

    @classmethod
    def create(
        cls,
        *,
        flow_name: str,
        name: str,
        parameters: dict[str, Any],
        state: State,
        tags: tuple[str, ...] = (),
        parent_flow_run_id: str | None = None,
        parent_task_run_id: str | None = None,
        on_crashed: tuple[str, ...] = (),
        entrypoint: str | None = None,
        parameters_ref: dict[str, Any] | None = None,
    ) -> FlowRun:
        run = cls(
            new_id(), name, parent_flow_run_id, parent_task_run_id, tags, state, 0,
            flow_name, parameters,
        )  # fmt: skip
        run._journal_creation(
            flow_name,
            parameters={key: recordable(value) for key, value in parameters.items()},
            on_crashed=on_crashed,
            entrypoint=entrypoint,
            parameters_ref=parameters_ref,
        )
        return run

    @classmethod
    def resume(
        cls, *, run_id: str, name: str, flow_name: str, parameters: dict[str, Any],
        tags: tuple[str, ...], run_count: int, state: State,
        deployment: DeploymentInfo | None = None, scheduled_time: datetime | None = None,
    ) -> FlowRun:  # fmt: skip
        """A new attempt of a recorded top-level flow run, keeping its id and name."""
        run = cls(
            run_id, name, None, None, tags, state, run_count, flow_name, parameters,
            deployment=deployment, scheduled_time=scheduled_time,
        )  # fmt: skip
        journal.record(RunResumed(run_id, state.timestamp))
        run.set_state(state)
        return run


@dataclass(slots=True, eq=False)
class TaskRun(Run):
    """One execution of a task, with the task runs it waited on (the task graph's edges)."""

    kind: ClassVar[RunKind] = "task"

    task_name: str
    upstream: tuple[str, ...]
    map_index: int | None

    @classmethod
    def create(
        cls,
        *,
        task_name: str,
        name: str,
        state: State,
        flow_run_id: str | None,
        parent_task_run_id: str | None = None,
        upstream: tuple[str, ...] = (),
        tags: tuple[str, ...] = (),
        mapped: MapSlot | None = None,
    ) -> TaskRun:
        map_id, map_index = mapped or (None, None)
        run = cls(
            new_id(), name, flow_run_id, parent_task_run_id, tags, state, 0,
            task_name, upstream, map_index,
        )  # fmt: skip
        run._journal_creation(task_name, upstream=upstream, map_index=map_index, map_id=map_id)
        return run
