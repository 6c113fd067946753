"""Deployments through the API server (client mode). The server runs the scheduler and the
late-run marker itself, and judges which runs are due by its own clock, so a serving
process against a server only saves its deployments and claims their runs."""

from __future__ import annotations

import builtins
from dataclasses import asdict
from datetime import datetime, timedelta
from urllib.parse import quote

from plait.backend.deployments import (
    ClaimedRun,
    DeploymentRecord,
    Deployments,
    LateMarking,
    ScheduledRun,
)
from plait.backend.http import HttpBackend, parsed
from plait.exceptions import DeploymentNotFoundError, ParameterError, PlaitError, StoreError
from plait.journal.process import ProcessIdentity

_ERRORS: dict[int, type[PlaitError]] = {
    404: DeploymentNotFoundError,
    422: ParameterError,
    503: StoreError,
}
_SENT = ("flow_name", "entrypoint", "parameter_schema", "parameters", "schedules", "tags",
         "description", "version", "concurrency_limit", "collision", "catchup")  # fmt: skip
_BATCH = 10_000  # runs sent in one request


class HttpDeployments(Deployments):
    def __init__(self, backend: HttpBackend) -> None:
        self.backend = backend

    def _call(self, method: str, path: str, **arguments: object) -> object:
        return self.backend.request(method, f"/deployments{path}", errors=_ERRORS, **arguments)

    def _named(self, method: str, name: str, path: str = "", **arguments: object) -> object:
        """A call about the deployment ``name`` (one path segment, whatever it holds)."""
        return self._call(method, f"/{quote(name, safe='')}{path}", **arguments)

    def save(self, record: DeploymentRecord) -> DeploymentRecord:
        body = {name: getattr(record, name) for name in _SENT}
        body["schedules"], body["tags"] = list(record.schedules), list(record.tags)
        return parsed(DeploymentRecord, self._named("PUT", record.name, json=body))

    def read(self, name: str) -> DeploymentRecord:
        return parsed(DeploymentRecord, self._named("GET", name))

    def list(self) -> builtins.list[DeploymentRecord]:
        return parsed(builtins.list[DeploymentRecord], self._call("GET", ""))

    def delete(self, name: str) -> int:
        return _count(self._named("DELETE", name))

    def set_paused(self, name: str, paused: bool) -> int:
        if paused:
            return _count(self._named("POST", name, "/pause"))
        self._named("POST", name, "/resume")
        return 0

    def scheduled_ahead(self, now: datetime) -> dict[str, tuple[int, datetime]]:
        self.backend.on_the_server("The scheduler", "(plait server start runs it)")

    def mark_late(self, now: datetime, grace: timedelta) -> LateMarking:
        self.backend.on_the_server("Marking late runs", "(plait server start does it)")

    def create_runs(self, runs: builtins.list[ScheduledRun], now: datetime) -> int:
        created = 0
        for start in range(0, len(runs), _BATCH):
            body = [
                {"id": run.id, "key": run.key, "deployment_id": run.deployment_id,
                 "name": run.name, "scheduled_time": run.scheduled_time.isoformat(),
                 "parameters": run.parameters}
                for run in runs[start : start + _BATCH]
            ]  # fmt: skip
            created += _count(self._call("POST", "/runs", json={"runs": body}))
        return created

    def claim_runs(
        self, deployment_ids: builtins.list[str], now: datetime, grace: timedelta, limit: int,
        claimer: ProcessIdentity,
    ) -> builtins.list[ClaimedRun]:  # fmt: skip
        if not deployment_ids or limit <= 0:
            return []
        body = {"deployment_ids": deployment_ids, "limit": min(limit, 1000),
                "claimer": asdict(claimer)}  # fmt: skip
        return parsed(builtins.list[ClaimedRun], self._call("POST", "/claim", json=body))


def _count(answer: object) -> int:
    assert isinstance(answer, dict), "the server answers an object"
    return int(answer["count"])
