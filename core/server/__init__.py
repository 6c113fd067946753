"""The API server (``plait server start``): a FastAPI app with one router per resource, API
keys, and the long-lived services it hosts (scheduler, late-run marker, heartbeat reaper,
automations). Filled by the server issue.

May import: ``plait.backend`` (the store it serves), ``plait.runs``, the public modules, and
``plait.scheduler``, ``plait.automations``, ``plait.ui``. Imported by ``plait.cli`` only.
"""
