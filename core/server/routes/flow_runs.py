"""Flow runs, their task runs, task graph and log lines, read through ``plait.client``: the
same records and the same rules as the CLI and the SDK."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from plait.backend.runs import MAX_PAGE
from plait.client import DEFAULT_PAGE, MAX_AGE, Client
from plait.runs import (
    ArtifactRecord,
    FlowRunRecord,
    LogRecord,
    Page,
    TaskGraph,
    TaskGraphNode,
    TaskRunRecord,
    TaskRunSummary,
)
from plait.server import errors
from plait.server.auth import WRITERS
from plait.server.bodies import Body, Text
from plait.states import FINAL_TYPES, StateType

router = APIRouter(prefix="/flow_runs", tags=["flow runs"])


def client(request: Request) -> Client:
    """A client over the backend the app serves."""
    return Client(request.app.state.backend.run_queries())


Reader = Annotated[Client, Depends(client)]
RUN_ID_PATTERN = r"^[0-9A-Fa-f-]+$"
RunId = Annotated[
    str,
    Path(
        pattern=RUN_ID_PATTERN,
        max_length=36,
        description="A flow run's id, or a unique start of it",
    ),
]


Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many")]
After = Annotated[
    str | None, Query(max_length=1000, description="The next_cursor of the page before")
]
LogsAfter = Annotated[int | None, Query(ge=0, description="Only lines after this id")]


@router.get("")
def read_flow_runs(
    reader: Reader,
    flow: Annotated[str | None, Query(max_length=255, description="Only this flow's runs")] = None,
    state: Annotated[StateType | None, Query(description="Only runs in this state")] = None,
    tags: Annotated[
        list[Annotated[Text, Query(min_length=1, max_length=255)]],
        Query(alias="tag", max_length=20, description="Only runs with every one of these tags"),
    ] = [],  # noqa: B006 - FastAPI copies query defaults
    since: Annotated[
        AwareDatetime | None, Query(description="Only runs created at or after this time")
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(description="Only runs created before this time")
    ] = None,
    limit: Limit = DEFAULT_PAGE,
    after: After = None,
) -> Page[FlowRunRecord]:
    """A page of flow runs, newest first."""
    return reader.list_flow_runs(flow, state, limit, after, tags=tags, since=since, until=until)


class Heartbeat(Body):
    flow_run_ids: list[Annotated[str, Field(pattern=RUN_ID_PATTERN, max_length=36)]] = Field(
        max_length=MAX_PAGE
    )


@router.post("/heartbeat", dependencies=WRITERS, status_code=204)
def heartbeat(request: Request, body: Heartbeat) -> None:
    """These flow runs' process is alive: renew their heartbeat (a flow run on another host
    with no heartbeat for ``heartbeat_timeout_seconds`` is marked Crashed)."""
    request.app.state.backend.heartbeat(body.flow_run_ids)


class NewState(Body):
    state: StateType = Field(strict=False)  # a state's name
    message: Text | None = Field(None, max_length=10_000)


@router.post(
    "/{flow_run_id}/state",
    dependencies=WRITERS,
    responses={409: {"model": errors.Problem, "description": "A state rule refuses it"}},
)
def set_flow_run_state(reader: Reader, flow_run_id: RunId, body: NewState) -> FlowRunRecord:
    """Put a flow run in a state, as the state rules allow (``Cancelling`` asks a running
    flow run to end Cancelled). A refused change answers 409 naming the rule (``ruling``)."""
    return reader.set_flow_run_state(flow_run_id, body.state, body.message)


class Deleted(BaseModel):
    deleted: int = Field(description="How many flow runs were deleted, subflow runs included")


@router.delete("", dependencies=WRITERS)
def delete_flow_runs(
    reader: Reader,
    older_than_seconds: Annotated[
        float, Query(ge=0, le=MAX_AGE.total_seconds(), description="Created this long ago")
    ],
) -> Deleted:
    """Delete finished flow runs created more than ``older_than_seconds`` ago."""
    return Deleted(deleted=reader.delete_flow_runs(timedelta(seconds=older_than_seconds)))


@router.get("/{flow_run_id}")
def read_flow_run(reader: Reader, flow_run_id: RunId) -> FlowRunRecord:
    """One flow run with its state history."""
    return reader.read_flow_run(flow_run_id)


@router.get("/{flow_run_id}/task_runs")
def read_task_runs(
    reader: Reader,
    flow_run_id: RunId,
    state: Annotated[StateType | None, Query(description="Only runs in this state")] = None,
    limit: Limit = DEFAULT_PAGE,
    after: After = None,
) -> Page[TaskRunRecord]:
    """A page of a flow run's task runs in creation order, with their states and upstreams."""
    return reader.list_task_runs(flow_run_id, state=state, limit=limit, after=after)


@router.delete("/{flow_run_id}", dependencies=WRITERS)
def delete_flow_run(reader: Reader, flow_run_id: RunId) -> Deleted:
    """Delete one finished flow run and everything recorded about it."""
    return Deleted(deleted=reader.delete_flow_run(flow_run_id))


@router.get("/{flow_run_id}/task_runs/summary")
def summarize_task_runs(reader: Reader, flow_run_id: RunId, limit: Limit = 10) -> TaskRunSummary:
    """A flow run's task runs counted by state (``none``: no state yet), and at most
    ``limit`` of them, the unsuccessful ones first."""
    return reader.summarize_task_runs(flow_run_id, limit)


@router.get("/{flow_run_id}/graph")
def read_task_graph(reader: Reader, flow_run_id: RunId) -> TaskGraph:
    """A flow run's task graph: its task runs, each with the ids of its upstream runs."""
    return reader.read_task_graph(flow_run_id)


@router.get("/{flow_run_id}/graph/nodes")
def read_collapsed_task_graph(reader: Reader, flow_run_id: RunId) -> list[TaskGraphNode]:
    """A flow run's task graph with each ``.map`` call's runs as one node, counted by state
    (``null``: no state yet), in creation order: its size is the flow's shape."""
    return reader.read_collapsed_task_graph(flow_run_id)


@router.get("/{flow_run_id}/logs")
def read_logs(
    reader: Reader,
    flow_run_id: RunId,
    after: LogsAfter = None,
) -> list[LogRecord]:
    """A flow run's log lines (its task runs' included), in order."""
    return reader.read_logs(flow_run_id, after)


@router.get("/{flow_run_id}/artifacts")
def read_artifacts(reader: Reader, flow_run_id: RunId) -> list[ArtifactRecord]:
    """The artifacts a flow run (its task runs included) kept, in order; a ``file``'s
    ``data`` says where it is in the run's result storage."""
    return reader.read_artifacts(flow_run_id)


FOLLOW_POLL_SECONDS = 0.5  # how often a followed run's new lines are looked for


@router.get(
    "/{flow_run_id}/logs/follow",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def follow_logs(
    reader: Reader, flow_run_id: RunId, after: LogsAfter = None
) -> StreamingResponse:
    """A flow run's log lines as Server-Sent Events, as they are recorded: a ``log`` event
    per line (its ``id`` is the line's, to resume with ``after``), then one ``end`` event
    with the run's final state once it has one and every line has been sent."""
    run = await run_in_threadpool(reader.read_flow_run, flow_run_id)  # 404 before streaming
    return StreamingResponse(_log_events(reader, run.id, after), media_type="text/event-stream")


async def _log_events(reader: Client, flow_run_id: str, after: int | None) -> AsyncIterator[str]:
    while True:
        state = (await run_in_threadpool(reader.read_flow_run, flow_run_id)).state
        for line in await run_in_threadpool(reader.read_logs, flow_run_id, after):
            after = line.id
            yield f"id: {line.id}\nevent: log\ndata: {json.dumps(jsonable_encoder(line))}\n\n"
        if state in FINAL_TYPES:  # read before the lines: none can come after them
            yield f"event: end\ndata: {json.dumps({'state': state.value})}\n\n"
            return
        await asyncio.sleep(FOLLOW_POLL_SECONDS)
