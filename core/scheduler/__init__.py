"""The scheduler: turning deployments' schedules (cron, interval, rrule) into Scheduled flow
runs, idempotently, so two schedulers at once never create a run twice. Filled by the
deployments issue.

May import: ``plait.client``, the public modules. Imported by ``plait.server`` and by
``flow.serve()`` when there is no server.
"""
