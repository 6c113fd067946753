"""One scheduler pass: the Scheduled runs each deployment should have ahead of ``now``, up
to ``max_runs`` or ``horizon`` ahead (whichever is fewer), handed to the backend, which
creates those not created before (``plait.backend.deployments``). A pass is safe to run at
any time and in several processes at once: a run's key is its deployment, its schedule and
its scheduled time.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import Any

from plait.backend.deployments import DeploymentRecord, ScheduledRun
from plait.client import Client
from plait.deployments import Deployment
from plait.exceptions import ParameterError, PlaitError
from plait.runs import generate_run_name, generate_run_names, new_ids
from plait.schedules import Schedule

logger = logging.getLogger("plait.scheduler")
_INSTANT = timedelta(microseconds=1)  # the next instant after a run's scheduled time


def schedule_deployments(client: Client, now: datetime, max_runs: int, horizon: timedelta) -> int:
    """Create the Scheduled runs due in [now, now + horizon) of every active deployment (at
    most ``max_runs`` each, the earliest); returns how many were new."""
    ahead = client.scheduled_ahead(now)
    runs: list[ScheduledRun] = []
    for record in client.read_deployments():
        if record.paused:
            continue
        try:
            runs += planned_runs(record, now, max_runs, horizon, ahead.get(record.id))
        except Exception as exc:  # saved by another version of Plait, or edited by hand
            why = str(exc) if isinstance(exc, PlaitError) else f"{type(exc).__name__}: {exc}"
            logger.warning("Deployment %r was not scheduled: %s", record.name, why)
    return client.create_scheduled_runs(runs, now)


def planned_runs(
    record: DeploymentRecord,
    now: datetime,
    max_runs: int,
    horizon: timedelta,
    ahead: tuple[int, datetime] | None = None,
) -> list[ScheduledRun]:
    """The runs a deployment's active schedules make in [now, now + horizon), the earliest
    ``max_runs`` of them; with ``ahead`` (how many it has Scheduled from ``now`` on, and the
    last one's time), only those after the last, up to ``max_runs`` in all. A deployment
    whose schedules change loses its Scheduled runs, so the last one is always of these
    schedules."""
    start, room = now, max_runs
    if ahead is not None:
        count, latest = ahead
        start, room = latest + _INSTANT, max_runs - count
    if room <= 0:
        return []
    deployment = Deployment.from_record(record)
    due: list[tuple[datetime, str, dict[str, Any]]] = []
    for schedule in deployment.schedules:
        if schedule.active:
            key = schedule_key(schedule)
            parameters = deployment.run_parameters(schedule=schedule)
            occurrences = schedule.occurrences(start, now + horizon, room)
            due += [(moment, key, parameters) for moment in occurrences]
    due.sort(key=lambda entry: (entry[0], entry[1]))
    due = due[:room]
    return [
        ScheduledRun(
            key=f"{record.id}:{key}:{moment.isoformat()}", deployment_id=record.id,
            flow_name=record.flow_name, entrypoint=record.entrypoint, name=name,
            scheduled_time=moment, parameters=parameters, tags=record.tags, id=run_id,
        )
        for (moment, key, parameters), name, run_id in zip(
            due, generate_run_names(len(due)), new_ids(len(due)), strict=True
        )
    ]  # fmt: skip


MAX_BACKFILL = 10_000  # runs one backfill may create


def requested_run(
    record: DeploymentRecord, parameters: dict[str, Any], when: datetime
) -> ScheduledRun:
    """A run of the deployment asked for by hand, due at ``when``, with ``parameters`` over
    the deployment's (checked: a ParameterError names a bad or missing one)."""
    checked = Deployment.from_record(record).run_parameters(parameters)
    return ScheduledRun(
        key=None, deployment_id=record.id, flow_name=record.flow_name,
        entrypoint=record.entrypoint, name=generate_run_name(), scheduled_time=when,
        parameters=checked, tags=record.tags,
    )  # fmt: skip


def backfill_runs(record: DeploymentRecord, start: datetime, end: datetime) -> list[ScheduledRun]:
    """The runs the deployment's active schedules make in [start, end) (times past, as a
    rule), with the keys the scheduler gives them: a backfill over runs that exist, or
    repeated, makes none twice."""
    if end <= start:
        raise ParameterError(
            f"--to ({end.isoformat()}) must be after --from ({start.isoformat()}); give the "
            "earlier time as --from."
        )
    runs = planned_runs(record, start, MAX_BACKFILL + 1, end - start)
    if len(runs) > MAX_BACKFILL:
        raise ParameterError(
            f"Deployment {record.name!r} has more than {MAX_BACKFILL:,} runs from "
            f"{start.isoformat()} to {end.isoformat()}; backfill a shorter range at a time."
        )
    return runs


def schedule_key(schedule: Schedule) -> str:
    """A schedule's identity in its runs' keys: the same schedule, saved again, makes the
    same keys; an edited one makes new ones."""
    canonical = json.dumps(schedule.to_json(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
