"""``POST /api/events``: the journal of a process in client mode, a batch at a time.

A batch is saved once: its id is recorded with its events in one transaction, so a batch
sent again (a retry after a lost answer, a replay from the sender's spool) is acknowledged
without being saved twice. Each event is checked here, field by field, before anything is
saved; a batch with one bad event saves nothing and answers 422 naming it.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    Field,
    GetPydanticSchema,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import CoreSchema, ErrorDetails
from pydantic_core import core_schema as cs
from starlette.concurrency import run_in_threadpool

from plait.backend import Backend
from plait.journal.events import EVENT_TYPES, Event
from plait.journal.http import MAX_BATCH_EVENTS
from plait.journal.process import ProcessIdentity
from plait.journal.shipping import Batch
from plait.runs import ARTIFACT_TYPES
from plait.server.bodies import Body, Text, request_body
from plait.server.errors import NOT_JSON
from plait.state_rules import Ruling
from plait.states import StateType

router = APIRouter(prefix="/events", tags=["events"])

_ID_FIELDS = ("id", "run_id", "flow_run_id", "task_run_id", "parent_task_run_id", "map_id")
ID_LIMIT = 36  # run ids (and artifact ids) are UUID strings


_WORDS = {  # pydantic's words where the API says more; {kind} is the event's kind
    "unexpected_keyword_argument": "is not a field of {kind}",
    "string_too_long": "must be at most {limit} characters (an id)",  # only ids have a limit
    "timezone_aware": "needs a UTC offset, e.g. 2026-01-01T00:00:00Z",
}


def _worded(schema: CoreSchema, words: str) -> CoreSchema:
    """``schema``, refusing what it refuses in these words."""
    return cs.custom_error_schema(schema, "refused", custom_error_message=words)


def _one_of(choices: list[str]) -> CoreSchema:
    return _worded(cs.literal_schema(choices), f"must be one of {', '.join(choices)}")


_STATE_NAME = cs.nullable_schema(  # a state's own name, if it has one
    _worded(cs.str_schema(min_length=1, max_length=255), "must be 1 to 255 characters, or left out")
)
_TIGHTER: dict[tuple[str, str], CoreSchema] = {  # fields checked beyond their type hints
    ("StateChanged", "state"): _one_of(sorted(state.value for state in StateType)),
    ("StateChanged", "name"): cs.with_default_schema(_STATE_NAME, default=None),
    ("ArtifactRecord", "type"): _one_of(sorted(ARTIFACT_TYPES)),
    ("LogRecord", "id"): cs.with_default_schema(
        _worded(cs.none_schema(), "is given by the server; leave it out"), default=None
    ),
}


def _event_schema(name: str, kind: type) -> CoreSchema:
    """``kind``'s own pydantic schema, with what its type hints do not say: ids are UUIDs,
    times say their offset, no other fields, and the ``event`` field naming the kind."""
    schema = copy.deepcopy(TypeAdapter(kind).core_schema)
    arguments = schema["schema"]
    arguments["extra_behavior"] = "forbid"
    for field in arguments["fields"]:
        inner = field["schema"]
        while inner["type"] in ("default", "nullable"):
            inner = inner["schema"]
        if (name, field["name"]) in _TIGHTER:
            field["schema"] = _TIGHTER[name, field["name"]]
        elif field["name"] in _ID_FIELDS and inner["type"] == "str":
            inner["max_length"] = ID_LIMIT
        elif inner["type"] == "datetime":
            inner["tz_constraint"] = "aware"
    tag = cs.dataclass_field("event", cs.literal_schema([name]), init_only=True)
    arguments["fields"].append(tag)  # checked, then dropped: not a field of the event
    return schema


_EVENT = cs.tagged_union_schema(
    {name: _event_schema(name, kind) for name, kind in EVENT_TYPES.items()},
    discriminator="event",
)


JournalEvent = Annotated[
    Event,
    GetPydanticSchema(lambda _type, _handler: _EVENT),
    WithJsonSchema({"type": "object"}),
]
"""An event of the journal, as ``plait.journal.spool.event_fields`` writes it."""


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
        list[JournalEvent],
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


@router.post("", openapi_extra={"requestBody": request_body(EventBatch)})
async def ingest(request: Request) -> Ingested:
    """Save a batch of journal events, once (checked and saved in a worker thread, so a
    big batch never holds up the server's other requests)."""
    return await run_in_threadpool(_ingest, request.app.state.backend, await request.body())


def _ingest(backend: Backend, content: bytes) -> Ingested:
    body = _batch(content)
    batch = Batch(str(body.batch), body.events)
    rulings: list[tuple[str, Ruling]] = []
    saved = backend.ingest(batch, body.process.identity(), rulings)
    return Ingested(
        batch=body.batch, events=len(body.events), duplicate=not saved,
        rulings=[RulingAnswer(**ruling.to_json(run_id)) for run_id, ruling in rulings],
    )  # fmt: skip


def _batch(content: bytes) -> EventBatch:
    """The batch ``content`` holds, or a 422 naming every bad field. The JSON is parsed
    and checked in one pydantic call (a batch holds thousands of events), not first parsed
    by ``json`` as FastAPI parses a body."""
    try:
        return EventBatch.model_validate_json(content)
    except ValidationError as exc:
        errors = exc.errors()
        if any(error["type"] == "json_invalid" for error in errors):
            raise HTTPException(400, NOT_JSON) from None
        raise RequestValidationError([_problem(error) for error in errors]) from None


def _problem(error: ErrorDetails) -> dict[str, Any]:
    """A pydantic error, located and worded as the API words it."""
    if error["loc"][:1] != ("events",) or len(error["loc"]) < 2:
        return {**error, "loc": ("body", *error["loc"])}
    _, position, *where = error["loc"]
    if where:  # (kind, field, ...): a field of an event of that kind
        kind, *field = where
        worded = _WORDS.get(error["type"])
        words = worded.format(kind=kind, limit=ID_LIMIT) if worded else error["msg"]
    elif error["type"].startswith("union_tag"):  # no kind, or not one we know
        got = error.get("ctx", {}).get("tag")
        field, words = ["event"], f"must be one of {', '.join(EVENT_TYPES)}; got {got!r}"
    else:
        field, words = [], "must be an object with an 'event' field"
    return {"loc": ("body", "events", position, *field), "msg": words, "type": "value_error"}
