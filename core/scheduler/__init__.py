"""The scheduler: turning deployments' schedules (cron, interval, rrule) into Scheduled flow
runs ahead of time, idempotently, so two schedulers at once never create a run twice
(``planning``), and marking runs not started in time Late (``service``, which runs both
passes every few seconds).

May import: ``plait.client``, the public modules (``plait.deployments``,
``plait.schedules``) and the record types of ``plait.backend``. Imported by
``plait.server`` and by ``flow.serve()`` when there is no server.
"""

from plait.scheduler.planning import (
    backfill_runs,
    planned_runs,
    requested_run,
    schedule_deployments,
    schedule_key,
)

__all__ = ["backfill_runs", "planned_runs", "requested_run", "schedule_deployments", "schedule_key"]
