"""The scheduler as a long-lived service: every few seconds, a scheduler pass (the Scheduled
runs every deployment should have ahead) and a late-run pass (runs not started in time
become Late, or are skipped as their deployment's catchup says). It runs inside ``plait
server start``, or inside a serving process when there is no server; both passes are safe
to run in several processes at once.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from plait.backend.deployments import LateMarking
from plait.client import Client
from plait.scheduler.planning import schedule_deployments
from plait.settings import Settings

logger = logging.getLogger("plait.scheduler")
INTERVAL_SECONDS = 5.0  # between two ticks of the service's thread


class SchedulerService:
    """Scheduler and late-run passes over ``client``'s deployments, with the limits of
    ``settings``."""

    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.max_runs = settings.scheduler_max_runs
        self.horizon = timedelta(days=settings.scheduler_horizon_days)
        self.grace = timedelta(seconds=settings.late_after_seconds)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, now: datetime | None = None) -> tuple[int, LateMarking]:
        """One scheduler pass, then one late-run pass, at ``now`` (default: the current
        time); returns how many runs were created, and what the late-run pass did."""
        now = datetime.now(UTC) if now is None else now
        created = schedule_deployments(self.client, now, self.max_runs, self.horizon)
        marking = self.client.mark_late_runs(now, self.grace)
        if created or marking.late or marking.skipped:
            logger.info(
                "Scheduler: %d run(s) scheduled, %d late, %d skipped by catchup",
                created, marking.late, marking.skipped,
            )  # fmt: skip
        return created, marking

    def start(self, interval: float = INTERVAL_SECONDS) -> None:
        """Tick every ``interval`` seconds in a background thread until ``stop()``."""
        self._thread = threading.Thread(
            target=self._loop, args=(interval,), name="plait-scheduler", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after its current tick."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self, interval: float) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the store was unreachable, say: the next tick tries again
                logger.exception("Scheduler tick failed; trying again in %g s", interval)
            self._stop.wait(interval)
