"""``POST /api/events``: the journal of a process in client mode, a batch at a time.

A batch is saved once: its id is recorded with its events in one transaction, so a batch
sent again (a retry after a lost answer, a replay from the sender's spool) is acknowledged
without being saved twice. Each event is checked here, field by field, before anything is
saved; a batch with one bad event saves nothing and answers 422 naming it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, WithJsonSchema

from plait.journal.events import EVENT_TYPES, Event, StateChanged
from plait.journal.http import MAX_BATCH_EVENTS
from plait.journal.process import ProcessIdentity
from plait.journal.shipping import Batch
from plait.runs import ARTIFACT_TYPES, ArtifactRecord
from plait.server.bodies import Body, Text
from plait.state_rules import Ruling
from plait.states import StateType

router = APIRouter(prefix="/events", tags=["events"])

_ADAPTERS = {name: TypeAdapter(list[kind]) for name, kind in EVENT_TYPES.items()}  # a kind at once
_FIELDS = {name: set(kind.__dataclass_fields__) for name, kind in EVENT_TYPES.items()}
_STATES = {state.value for state in StateType}
_ID_FIELDS = ("id", "run_id", "flow_run_id", "task_run_id", "parent_task_run_id", "map_id")
ID_LIMIT = 36  # run ids (and artifact ids) are UUID strings


class Process(Body):
    """The process that recorded the events (for crash detection)."""

    hostname: Text = Field(min_length=1, max_length=255)
    pid: int = Field(ge=0, le=2**31 - 1)
    started: int | None = Field(default=None, ge=0, le=2**63 - 1)

    def identity(self) -> ProcessIdentity:
        return ProcessIdentity(**self.model_dump())


class EventBatch(Body):
    """Events one process recorded, in order, under one batch id."""

    batch: UUID = Field(
        strict=False, description="Sending the same batch id again saves nothing twice"
    )
    process: Process
    events: Annotated[
        list[Annotated[Any, WithJsonSchema({"type": "object"})]],  # each checked in _events
        Field(
            max_length=MAX_BATCH_EVENTS,
            description=(
                "Journal events: objects with an 'event' field (RunCreated, StateChanged, "
                "LogRecord, RunResumed or ArtifactRecord) and that event's fields"
            ),
        ),
    ]


class RulingAnswer(BaseModel):
    """A reported state the state rules did not take as it is (``plait.state_rules``)."""

    run_id: str
    rule: str = Field(description="The rule's name, e.g. final-is-final")
    proposed: str = Field(description="The state the run reported")
    state: str = Field(description="The state the run is in")


class Ingested(BaseModel):
    batch: UUID
    events: int = Field(description="How many events the batch holds")
    duplicate: bool = Field(description="The batch had been saved before: nothing was saved")
    rulings: list[RulingAnswer] = Field(
        default=[], description="Reports kept in the runs' history but not applied as they are"
    )


@router.post("")
def ingest(request: Request, body: EventBatch) -> Ingested:
    """Save a batch of journal events, once (checked and saved in a worker thread, so a
    big batch never holds up the server's other requests)."""
    events = _events(body.events)
    process = body.process.identity()
    batch = Batch(str(body.batch), events)
    rulings: list[tuple[str, Ruling]] = []
    saved = request.app.state.backend.ingest(batch, process, rulings)
    return Ingested(
        batch=body.batch, events=len(events), duplicate=not saved,
        rulings=[RulingAnswer(**ruling.to_json(run_id)) for run_id, ruling in rulings],
    )  # fmt: skip


def _events(batch: list[Any]) -> list[Event]:
    """The events ``batch`` describes, in order, or a 422 naming the first bad one and its
    field. Events of one kind are validated together (one pydantic call per kind, not per
    event): a batch holds thousands."""
    by_kind: dict[str, tuple[list[int], list[dict[str, Any]]]] = {}
    for position, fields in enumerate(batch):
        name, values = _fields(position, fields)
        positions, kind_values = by_kind.setdefault(name, ([], []))
        positions.append(position)
        kind_values.append(values)
    events: list[Any] = [None] * len(batch)
    for name, (positions, kind_values) in by_kind.items():
        try:
            validated = _ADAPTERS[name].validate_python(kind_values)
        except ValidationError as exc:
            errors = [
                {**error, "loc": _location(positions[error["loc"][0]], *error["loc"][1:])}
                for error in exc.errors()
            ]
            raise RequestValidationError(sorted(errors, key=lambda e: e["loc"][2])) from None
        for position, event in zip(positions, validated, strict=True):
            _check(position, event)
            events[position] = event
    return events


def _fields(position: int, fields: Any) -> tuple[str, dict[str, Any]]:
    """An event's kind and its fields, if it names a kind and only that kind's fields."""
    if not isinstance(fields, dict):
        raise _invalid(position, None, "must be an object with an 'event' field")
    name = fields.get("event")
    if name not in EVENT_TYPES:
        known = ", ".join(EVENT_TYPES)
        raise _invalid(position, "event", f"must be one of {known}; got {name!r}")
    values = dict(fields)
    del values["event"]
    if not _FIELDS[name].issuperset(values):
        unknown = sorted(values.keys() - _FIELDS[name])
        raise _invalid(position, unknown[0], f"is not a field of {name}")
    if name == "LogRecord" and values.get("id") is not None:
        raise _invalid(position, "id", "is given by the server; leave it out")
    return name, values


def _check(position: int, event: Event) -> None:
    """What the event types do not say: ids are UUIDs, states are states, artifact types
    are known, times say their offset."""
    for field in _ID_FIELDS:
        value = getattr(event, field, None)
        if value is not None and len(value) > ID_LIMIT:
            raise _invalid(position, field, f"must be at most {ID_LIMIT} characters (an id)")
    if type(event) is StateChanged and event.state not in _STATES:
        raise _invalid(position, "state", f"must be one of {', '.join(sorted(_STATES))}")
    if type(event) is ArtifactRecord and event.type not in ARTIFACT_TYPES:
        raise _invalid(position, "type", f"must be one of {', '.join(sorted(ARTIFACT_TYPES))}")
    timestamp: datetime = event.timestamp
    if timestamp.utcoffset() is None:
        raise _invalid(position, "timestamp", "needs a UTC offset, e.g. 2026-01-01T00:00:00Z")


def _location(position: int, *field: Any) -> tuple[Any, ...]:
    return ("body", "events", position, *field)


def _invalid(position: int, field: str | None, problem: str) -> RequestValidationError:
    where = _location(position) if field is None else _location(position, field)
    error = {"loc": where, "msg": problem, "type": "value_error"}
    return RequestValidationError([error])
