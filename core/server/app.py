"""The FastAPI app: the routers, the shared error answers, and the backend they serve."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

import plait
from plait.backend import Backend, get_backend
from plait.backend.api_keys import Scope
from plait.server import errors
from plait.server.auth import require
from plait.server.routes import (
    artifacts,
    blocks,
    cache,
    concurrency_limits,
    deployments,
    events,
    flow_runs,
    health,
    task_runs,
    variables,
)

logger = logging.getLogger("plait.server")
API = "/api"
MAX_BODY_BYTES = 10 * 1024 * 1024  # an event batch of writer_batch_size events fits


@asynccontextmanager
async def _services(app: FastAPI) -> AsyncIterator[None]:
    """While the app runs: mark Crashed every ``heartbeat_interval_seconds`` the flow runs
    whose process is gone, so none stays Running when no one reads it; and, unless the app
    was made without it, run the scheduler (``plait.scheduler.service``)."""
    backend: Backend = app.state.backend

    async def sweep() -> None:
        while True:
            await asyncio.sleep(backend.settings.heartbeat_interval_seconds)
            try:
                await run_in_threadpool(backend.sweep_crashed)
            except Exception as exc:  # the store is away: the next round tries again
                logger.warning("Could not look for crashed flow runs: %s", exc)

    sweeper = asyncio.create_task(sweep())
    scheduler = None
    if app.state.scheduler:
        from plait.client import Client
        from plait.scheduler.service import SchedulerService

        scheduler = SchedulerService(Client(backend.run_queries(), backend), backend.settings)
        scheduler.start(backend.settings.scheduler_interval_seconds)
    gc.freeze()  # what the app holds leaves the collector's rounds: none walks it mid-request
    try:
        yield
    finally:
        sweeper.cancel()
        if scheduler is not None:
            await run_in_threadpool(scheduler.stop)


def create_app(
    backend: Backend | None = None, max_body_bytes: int = MAX_BODY_BYTES, scheduler: bool = True
) -> FastAPI:
    """The API over ``backend`` (default: the configured one), at ``/api``; OpenAPI at
    ``/api/openapi.json`` and interactive docs at ``/docs``. With ``scheduler``, it runs the
    scheduler over its deployments (tests that drive the scheduler's clock turn it off)."""
    app = FastAPI(
        lifespan=_services,
        title="Plait",
        version=plait.__version__,
        summary="Flow runs, task runs and logs recorded by every process that reports here.",
        openapi_url=f"{API}/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.backend = backend or get_backend()
    app.state.scheduler = scheduler
    app.state.api_keys = app.state.backend.api_keys()  # one, so each key is hashed once
    errors.install(app, max_body_bytes)
    app.include_router(health.router, prefix=API, responses=errors.RESPONSES)
    for router, scope in (
        (flow_runs.router, Scope.READ),
        (artifacts.router, Scope.READ),
        (task_runs.router, Scope.READ),
        (blocks.router, Scope.READ),
        (concurrency_limits.router, Scope.READ),
        (cache.router, Scope.READ),
        (deployments.router, Scope.READ),
        (variables.router, Scope.READ),
        (events.router, Scope.WRITE),
    ):
        app.include_router(
            router, prefix=API, responses=errors.RESPONSES,
            dependencies=[Depends(require(scope))],
        )  # fmt: skip
    return app
