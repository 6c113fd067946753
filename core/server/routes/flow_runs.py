"""Flow runs, their task runs, task graph and log lines, read through ``plait.client``: the
same records and the same rules as the CLI and the SDK."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from plait.backend.runs import MAX_PAGE
from plait.client import DEFAULT_PAGE, Client
from plait.runs import FlowRunRecord, LogRecord, Page, TaskGraph, TaskRunRecord
from plait.states import FINAL_TYPES, StateType

router = APIRouter(prefix="/flow_runs", tags=["flow runs"])


def client(request: Request) -> Client:
    """A client over the backend the app serves."""
    return Client(request.app.state.backend.run_queries())


Reader = Annotated[Client, Depends(client)]
RunId = Annotated[
    str,
    Path(
        pattern=r"^[0-9A-Fa-f-]+$",
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
    limit: Limit = DEFAULT_PAGE,
    after: After = None,
) -> Page[FlowRunRecord]:
    """A page of flow runs, newest first."""
    return reader.list_flow_runs(flow_name=flow, state=state, limit=limit, after=after)


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


@router.get("/{flow_run_id}/graph")
def read_task_graph(reader: Reader, flow_run_id: RunId) -> TaskGraph:
    """A flow run's task graph: its task runs, each with the ids of its upstream runs."""
    return reader.read_task_graph(flow_run_id)


@router.get("/{flow_run_id}/logs")
def read_logs(
    reader: Reader,
    flow_run_id: RunId,
    after: LogsAfter = None,
) -> list[LogRecord]:
    """A flow run's log lines (its task runs' included), in order."""
    return reader.read_logs(flow_run_id, after)


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
