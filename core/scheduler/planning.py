"""One scheduler pass: the Scheduled runs each deployment should have ahead of ``now``, up
to ``max_runs`` or ``horizon`` ahead (whichever is fewer), handed to the backend, which
creates those not created before (``plait.backend.deployments``). A pass is safe to run at
any time and in several processes at once: a run's key is its deployment, its schedule and
its scheduled time.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from plait.backend.deployments import DeploymentRecord, ScheduledRun
from plait.client import Client
from plait.deployments import Deployment
from plait.runs import generate_run_name
from plait.schedules import Schedule

_INSTANT = timedelta(microseconds=1)  # the next instant after a run's scheduled time


def schedule_deployments(client: Client, now: datetime, max_runs: int, horizon: timedelta) -> int:
    """Create the Scheduled runs due in [now, now + horizon) of every active deployment (at
    most ``max_runs`` each, the earliest); returns how many were new."""
    ahead = client.scheduled_ahead(now)
    runs: list[ScheduledRun] = []
    for record in client.read_deployments():
        if not record.paused:
            runs += planned_runs(record, now, max_runs, horizon, ahead.get(record.id))
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
    runs = []
    for moment, key, parameters in due[:room]:
        run = ScheduledRun(
            key=f"{record.id}:{key}:{moment.isoformat()}", deployment_id=record.id,
            flow_name=record.flow_name, name=generate_run_name(), scheduled_time=moment,
            parameters=parameters, tags=record.tags,
        )  # fmt: skip
        runs.append(run)
    return runs


def schedule_key(schedule: Schedule) -> str:
    """A schedule's identity in its runs' keys: the same schedule, saved again, makes the
    same keys; an edited one makes new ones."""
    canonical = json.dumps(schedule.to_json(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
