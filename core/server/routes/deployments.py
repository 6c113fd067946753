"""Deployments, their runs asked for or backfilled, and the claims of serving processes
(``plait.backend.deployments``). The server checks what it is sent as ``flow.to_deployment``
checks it (a bad schedule, option or parameter is a 422 naming it), and judges which runs
are due by its own clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from plait.backend.deployments import ClaimedRun, DeploymentRecord, Deployments, ScheduledRun
from plait.deployments import Deployment
from plait.exceptions import DeploymentNotFoundError
from plait.journal.process import ProcessIdentity
from plait.server.auth import WRITERS
from plait.server.bodies import Body, Storable, Text

router = APIRouter(prefix="/deployments", tags=["deployments"])
Name = Annotated[str, Path(min_length=1, max_length=255, description="The deployment's name")]
_ID = Annotated[str, Field(pattern=r"^[0-9a-f-]{36}$")]
MAX_RUNS = 10_001  # runs one request may create: a backfill's most, and one more


class NewDeployment(Body):
    """A deployment as ``flow.to_deployment`` builds it (its name is in the path)."""

    flow_name: Text = Field(min_length=1, max_length=255)
    entrypoint: Text = Field(min_length=1, max_length=1000)
    parameter_schema: dict[str, Storable]
    parameters: dict[str, Storable] = {}
    schedules: list[dict[str, Storable]] = Field([], max_length=100)
    tags: list[Text] = Field([], max_length=100)
    description: Text | None = None
    version: Text | None = None
    concurrency_limit: int | None = Field(None, ge=1, le=1_000_000)
    collision: str = "enqueue"
    catchup: str = "latest"


class NewRun(Body):
    """A run to create Scheduled: asked for by hand (``key`` null) or made by a schedule
    (a backfill). Its flow, entrypoint and tags are its deployment's."""

    id: _ID
    key: Text | None = Field(None, max_length=128)
    deployment_id: _ID
    name: Text = Field(min_length=1, max_length=255)
    scheduled_time: Annotated[AwareDatetime, Field(strict=False)]  # ISO 8601, with offset
    parameters: dict[str, Storable] = {}


class NewRuns(Body):
    runs: list[NewRun] = Field(max_length=MAX_RUNS)


class Claimer(Body):
    hostname: Text = Field(min_length=1, max_length=255)
    pid: int = Field(ge=0, lt=2**31)
    started: int | None = Field(None, ge=0, lt=2**63)


class Claim(Body):
    deployment_ids: list[_ID] = Field(min_length=1, max_length=1000)
    limit: int = Field(ge=1, le=1000)
    claimer: Claimer


class Count(BaseModel):
    count: int


def _deployments(request: Request) -> Deployments:
    return request.app.state.backend.deployments()


@router.get("")
def list_deployments(request: Request) -> list[DeploymentRecord]:
    """Every deployment, by name."""
    return _deployments(request).list()


@router.get("/{name}")
def read_deployment(request: Request, name: Name) -> DeploymentRecord:
    """The deployment named ``name``."""
    return _deployments(request).read(name)


@router.put("/{name}", dependencies=WRITERS)
def save_deployment(request: Request, name: Name, body: NewDeployment) -> DeploymentRecord:
    """Save the deployment, replacing one of that name (if its schedules changed, its runs
    not started are made again by the scheduler)."""
    deployment = Deployment.from_json({"name": name, **body.model_dump()})
    return _deployments(request).save(deployment.to_record())


@router.delete("/{name}", dependencies=WRITERS)
def delete_deployment(request: Request, name: Name) -> Count:
    """Delete the deployment and its runs not started; ``count``: how many runs."""
    return Count(count=_deployments(request).delete(name))


@router.post("/{name}/pause", dependencies=WRITERS)
def pause_deployment(request: Request, name: Name) -> Count:
    """Stop scheduling the deployment; ``count``: its schedules' runs deleted."""
    return Count(count=_deployments(request).set_paused(name, True))


@router.post("/{name}/resume", dependencies=WRITERS, status_code=204)
def resume_deployment(request: Request, name: Name) -> Response:
    """Schedule the deployment again."""
    _deployments(request).set_paused(name, False)
    return Response(status_code=204)


@router.post("/runs", dependencies=WRITERS)
def create_runs(request: Request, body: NewRuns) -> Count:
    """Create these runs Scheduled, each with its parameters checked against its
    deployment, except those whose key exists; ``count``: how many were created."""
    deployments = _deployments(request)
    records = {record.id: record for record in deployments.list()}
    runs = [_scheduled(run, records) for run in body.runs]
    return Count(count=deployments.create_runs(runs, datetime.now(UTC)))


@router.post("/claim", dependencies=WRITERS)
def claim_runs(request: Request, body: Claim) -> list[ClaimedRun]:
    """Claim up to ``limit`` runs of these deployments that are due now (by the server's
    clock and its ``late_after_seconds``), for the claimer to start."""
    claimer = ProcessIdentity(body.claimer.hostname, body.claimer.pid, body.claimer.started)
    grace = timedelta(seconds=request.app.state.backend.settings.late_after_seconds)
    return _deployments(request).claim_runs(
        body.deployment_ids, datetime.now(UTC), grace, body.limit, claimer
    )


def _scheduled(run: NewRun, records: dict[str, DeploymentRecord]) -> ScheduledRun:
    record = records.get(run.deployment_id)
    if record is None:
        raise DeploymentNotFoundError(
            f"runs: no deployment has the id {run.deployment_id!r}; list them with "
            "GET /api/deployments."
        )
    parameters: dict[str, Any] = Deployment.from_record(record).run_parameters(run.parameters)
    return ScheduledRun(
        key=run.key, deployment_id=record.id, flow_name=record.flow_name,
        entrypoint=record.entrypoint, name=run.name, scheduled_time=run.scheduled_time,
        parameters=parameters, tags=record.tags, id=run.id,
    )  # fmt: skip
