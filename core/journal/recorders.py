"""Recorders: where the journal's events go. ``Recorder`` is the interface every destination
implements (the run store's background writer in ``plait.store.writer``, later the server's
HTTP shipper); ``MemoryRecorder`` keeps events in a list and reads them back as the same
records the client returns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from plait.journal.events import Event, RunCreated, RunKind, StateChanged
from plait.runs import FlowRunRecord, LogRecord, StateRecord, TaskRunRecord
from plait.state_rules import Ruling
from plait.states import FINAL_TYPES, StateType


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

    def ruling(self, run_id: str) -> Ruling | None:
        """The state rules' last ruling on a report of run ``run_id`` (``plait.state_rules``)
        that the destination answered so far; None where nothing was refused (in-memory
        recorders keep every report as it is)."""
        return None


class MemoryRecorder(Recorder):
    """Keeps every event in a list, and reads them back as ``plait.runs`` records."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def record(self, event: Event) -> None:
        self.events.append(event)  # list.append and list.extend are atomic under the GIL

    def record_many(self, events: list[Event]) -> None:
        self.events.extend(events)

    def clear(self) -> None:
        self.events.clear()

    def runs(self, kind: RunKind | None = None) -> list[FlowRunRecord | TaskRunRecord]:
        """Every run (of one kind, if given) in creation order, with its states."""
        created: dict[str, RunCreated] = {}
        states: dict[str, list[StateChanged]] = {}
        for event in list(self.events):
            if type(event) is RunCreated:
                created[event.run_id] = event
                states[event.run_id] = []
            elif type(event) is StateChanged and event.run_id in states:
                states[event.run_id].append(event)
        return [
            _record(event, states[run_id])
            for run_id, event in created.items()
            if kind is None or event.kind == kind
        ]

    def flow_runs(self) -> list[FlowRunRecord]:
        return self.runs("flow")  # type: ignore[return-value]

    def task_runs(self, flow_run_id: str | None = None) -> list[TaskRunRecord]:
        """Task runs of one flow run, or all of them."""
        return [
            run
            for run in self.runs("task")
            if flow_run_id is None or run.flow_run_id == flow_run_id  # type: ignore[union-attr]
        ]  # type: ignore[misc]

    def run(self, run_id: str) -> FlowRunRecord | TaskRunRecord:
        for run in self.runs():
            if run.id == run_id:
                return run
        raise KeyError(f"No run with id {run_id!r} in the journal.")

    def logs(self, flow_run_id: str | None = None) -> list[LogRecord]:
        return [
            e
            for e in list(self.events)
            if type(e) is LogRecord and (flow_run_id is None or e.flow_run_id == flow_run_id)
        ]


def _record(created: RunCreated, changes: list[StateChanged]) -> FlowRunRecord | TaskRunRecord:
    """A run's record from its events, with the fields the run store derives the same way."""
    states = tuple(
        StateRecord(StateType(c.state), c.message, c.detail, c.timestamp, c.name) for c in changes
    )
    last = states[-1] if states else None
    fields = {
        "id": created.run_id,
        "name": created.name,
        "state": last.type if last else None,
        "state_message": last.message if last else None,
        "state_name": last.name if last else None,
        "tags": created.tags,
        "parent_task_run_id": created.parent_task_run_id,
        "created": created.timestamp,
        "start_time": next((s.timestamp for s in states if s.type is StateType.RUNNING), None),
        "end_time": last.timestamp if last and last.type in FINAL_TYPES else None,
        "run_count": sum(1 for s in states if s.type is StateType.RUNNING),
        "result": next((c.result for c in reversed(changes) if c.result is not None), None),
        "states": states,
    }
    if created.kind == "flow":
        return FlowRunRecord(
            **fields,
            flow_name=created.key,
            parameters=created.parameters or {},
            parent_flow_run_id=created.flow_run_id,
            entrypoint=created.entrypoint,
            parameters_ref=created.parameters_ref,
        )
    return TaskRunRecord(
        **fields,
        task_name=created.key,
        flow_run_id=created.flow_run_id,
        map_index=created.map_index,
        upstream=created.upstream,
        map_id=created.map_id,
    )
