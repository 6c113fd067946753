"""Deployments as the backend keeps them, and the Scheduled flow runs made from them.

A deployment is saved under its name (saving it again replaces it). The scheduler hands
the runs it wants to exist to ``create_runs``; each has an idempotency key (deployment,
schedule, scheduled time), and a run whose key exists already is not created again, so two
schedulers at once, or one started again, never make a run twice.

A run not started in time becomes Late (``mark_late``), and the deployment's ``catchup``
decides which missed runs still run. A serving process (or worker) claims due runs
(``claim_runs``): each is moved from Scheduled or Late to Pending by one process only, as
the deployment's ``concurrency_limit`` and ``collision`` allow.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from plait.journal.process import ProcessIdentity
from plait.runs import new_id


@dataclass(frozen=True)
class DeploymentRecord:
    """A saved deployment (``plait.deployments.Deployment``, with its schedules as JSON)."""

    id: str
    name: str
    flow_name: str
    entrypoint: str
    parameters: dict[str, Any]
    parameter_schema: dict[str, Any]
    schedules: tuple[dict[str, Any], ...]
    tags: tuple[str, ...]
    description: str | None
    version: str | None
    concurrency_limit: int | None
    collision: str
    catchup: str
    paused: bool
    created: datetime
    updated: datetime


@dataclass(frozen=True)
class ScheduledRun:
    """A flow run of a deployment, due at ``scheduled_time``, that should exist. ``key`` is
    unique per deployment, schedule and scheduled time (None for a run asked for by hand:
    each request is a run of its own)."""

    key: str | None
    deployment_id: str
    flow_name: str
    entrypoint: str  # where the flow is imported from, to run it (and to retry it)
    name: str
    scheduled_time: datetime
    parameters: dict[str, Any]
    tags: tuple[str, ...]
    id: str = field(default_factory=new_id)


UNSTARTED = ("Scheduled", "Late")  # states of a deployment's runs that have not started


@dataclass(frozen=True)
class ClaimedRun:
    """A due run a serving process claimed (now Pending, in its name) and is to start."""

    id: str
    name: str
    deployment_name: str


@dataclass(frozen=True)
class LateMarking:
    """What one late-run pass did: runs that became Late, and missed runs that catch-up
    skipped (Cancelled, saying why)."""

    late: int
    skipped: int


def skipped_by_catchup(catchup: str, missed: list[tuple[datetime, str]]) -> list[str]:
    """Of a deployment's missed runs, ``(scheduled time, id)``, the ids that catch-up
    skips: none with ``"all"``, all but the latest with ``"latest"``, all with ``"none"``."""
    if catchup == "all" or not missed:
        return []
    ordered = [run_id for _, run_id in sorted(missed)]
    return ordered if catchup == "none" else ordered[:-1]


def skip_message(catchup: str) -> str:
    kept = {"latest": "only the most recent missed run runs", "none": "no missed run runs"}
    return (
        f"Skipped: missed while no scheduler or serving process ran, and catchup={catchup!r} "
        f"({kept[catchup]}). Use catchup='all' to run every missed run."
    )


class Deployments(ABC):
    """The saved deployments, and their Scheduled runs."""

    @abstractmethod
    def save(self, record: DeploymentRecord) -> DeploymentRecord:
        """Save ``record`` under its name, replacing a deployment of that name (keeping its
        id, creation time and whether it is paused; if its schedules changed, the runs its
        schedules made that have not started are deleted, for the next pass to make again;
        runs asked for by hand stay); returns what was saved."""

    @abstractmethod
    def read(self, name: str) -> DeploymentRecord:
        """The deployment named ``name``; DeploymentNotFoundError if there is none."""

    @abstractmethod
    def list(self) -> list[DeploymentRecord]:
        """Every deployment, by name."""

    @abstractmethod
    def delete(self, name: str) -> int:
        """Delete the deployment named ``name`` and its Scheduled runs that have not
        started; returns how many runs went with it."""

    @abstractmethod
    def set_paused(self, name: str, paused: bool) -> int:
        """Pause or resume the deployment named ``name``; pausing deletes the runs its
        schedules made that have not started (runs asked for by hand stay). Returns how
        many were deleted."""

    @abstractmethod
    def scheduled_ahead(self, now: datetime) -> dict[str, tuple[int, datetime]]:
        """For each deployment with Scheduled runs its schedules made due at or after
        ``now``: how many, and when the last is due (what a scheduler pass need not create
        again). Runs asked for by hand are not counted: they take no schedule's place."""

    @abstractmethod
    def mark_late(self, now: datetime, grace: timedelta) -> LateMarking:
        """Move the runs due more than ``grace`` before ``now`` and not started to Late,
        except those their deployment's ``catchup`` skips, which end Cancelled. Only runs a
        schedule made are skipped, and only of deployments with no run in progress (runs
        waiting for a running one are queued, not missed)."""

    @abstractmethod
    def claim_runs(
        self, deployment_ids: list[str], now: datetime, grace: timedelta, limit: int,
        claimer: ProcessIdentity,
    ) -> list[ClaimedRun]:  # fmt: skip
        """Claim up to ``limit`` runs of these deployments that are due (Scheduled at most
        ``grace`` ago, or Late), earliest first, moving each to Pending in ``claimer``'s
        name (if it dies before starting the run, the run is marked Crashed). A deployment
        at its ``concurrency_limit`` keeps its due runs waiting (``collision="enqueue"``) or
        cancels them (``"cancel_new"``). Two claimers never claim the same run. Runs this
        claimer claimed before and that are still Pending come first, again: a claim whose
        answer was lost (the server restarted, say) is not lost with it."""

    @abstractmethod
    def create_runs(self, runs: list[ScheduledRun], now: datetime) -> int:
        """Create these runs, Scheduled, except those whose key exists; returns how many
        were created."""
