"""The API server (``plait server start``): a FastAPI app over the configured backend, one
router per resource (``routes``), the error answers every route shares (``errors``), and
later the API keys and the long-lived services it hosts (scheduler, automations).

``create_app`` builds the app; ``plait.cli.server`` runs it under uvicorn. Loaded only by
that command (and by tests): ``import plait`` never imports FastAPI.

May import: ``plait.backend`` (the store it serves), ``plait.client``, ``plait.runs``, the
public modules, and ``plait.scheduler``, ``plait.automations``, ``plait.ui``. Imported by
``plait.cli`` only.
"""

from plait.server.app import create_app

__all__ = ["create_app"]
