"""The answers to bad requests, the same on every route: a 4xx with a JSON body that names
the field and the problem (``{"detail": ..., "errors": [{"field": ..., "problem": ...}]}``),
never a 500 with a traceback. Plait's own errors map to their status: an unknown run 404, a
bad argument 422, a store that cannot be reached 503.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plait.exceptions import (
    AmbiguousRunIdError,
    BlockError,
    BlockNotFoundError,
    BlockValidationError,
    ConcurrencyLimitNotFoundError,
    ConfigError,
    DeploymentNotFoundError,
    EncryptionKeyError,
    InvalidOptionError,
    ParameterError,
    PlaitError,
    RunNotFoundError,
    StateRefusedError,
    StoreError,
    VariableExistsError,
    VariableNotFoundError,
)
from plait.schedules import ScheduleError

logger = logging.getLogger("plait.server")
NOT_JSON = "There was an error parsing the body"  # what FastAPI says of a body not JSON

_STATUS: tuple[tuple[type[PlaitError], int], ...] = (
    (RunNotFoundError, 404),
    (AmbiguousRunIdError, 409),
    (StateRefusedError, 409),
    (BlockNotFoundError, 404),
    (ConcurrencyLimitNotFoundError, 404),
    (DeploymentNotFoundError, 404),
    (VariableNotFoundError, 404),
    (VariableExistsError, 409),
    (BlockValidationError, 422),
    (EncryptionKeyError, 503),  # the server's own key is missing or wrong
    (BlockError, 409),  # exists already, in use, saved by another at the same moment
    (ParameterError, 422),
    (InvalidOptionError, 422),
    (ScheduleError, 422),
    (ConfigError, 422),
    (StoreError, 503),
)


class FieldProblem(BaseModel):
    field: str
    problem: str


class Problem(BaseModel):
    """What every error answer holds (``ruling``: only when a state rule refused a change)."""

    detail: str
    errors: list[FieldProblem] = []
    ruling: dict[str, str] | None = None


RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The request body could not be read as JSON."},
    401: {"model": Problem, "description": "An API key is needed, or the one sent is not valid."},
    403: {"model": Problem, "description": "The API key's scope does not cover this."},
    404: {"model": Problem, "description": "No such run (or block, limit or deployment)."},
    409: {
        "model": Problem,
        "description": "A run id prefix names more than one run, or a block exists or is in use.",
    },
    413: {"model": Problem, "description": "The request body is too large."},
    422: {"model": Problem, "description": "A field of the request is not valid."},
    503: {"model": Problem, "description": "The store, or the server's key, is unavailable."},
}
"""The error answers every route documents (the OpenAPI schema says what they hold)."""


def problem(status: int, detail: str, errors: list[dict[str, str]] | None = None) -> JSONResponse:
    """A JSON error answer."""
    return JSONResponse({"detail": detail, "errors": errors or []}, status_code=status)


def _field(location: tuple[Any, ...]) -> str:
    """``("query", "limit")`` as ``limit``; ``("body", "events", 3, "state")`` as
    ``events[3].state``."""
    parts = [part for part in location if part not in ("body", "query", "path", "header")]
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or str(location[0]) if location else "request"


async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
    found = [
        {"field": _field(tuple(error["loc"])), "problem": error["msg"]} for error in exc.errors()
    ]
    summary = "; ".join(f"{e['field']}: {e['problem']}" for e in found)
    return problem(422, f"The request is not valid: {summary}.", found)


async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
    if exc.status_code == 400 and exc.detail == NOT_JSON:
        return problem(400, "The request body is not JSON (or not UTF-8): send a JSON object.",
                       [{"field": "body", "problem": "not JSON"}])  # fmt: skip
    answer = problem(exc.status_code, str(exc.detail))
    answer.headers.update(exc.headers or {})
    return answer


async def _plait(_request: Request, exc: PlaitError) -> JSONResponse:
    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
    if isinstance(exc, StateRefusedError):
        ruled = {"detail": str(exc), "errors": [], "ruling": exc.ruling.to_json(exc.run_id)}
        return JSONResponse(ruled, status_code=status)
    return problem(status, str(exc))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.error(
        "Unexpected %s answering %s %s", type(exc).__name__, request.method, request.url.path
    )
    return problem(500, "The server failed to answer this request; its log says why.")


class BodyLimit:
    """Refuses a request body larger than ``limit`` bytes with 413, before reading it all."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = problem(
            413, f"The request body is larger than the server's limit of {self.limit} bytes."
        )
        await answer(scope, receive, send)


class _TooLarge(Exception):
    pass


def install(app: FastAPI, max_body_bytes: int) -> None:
    """Answer every error of ``app`` the same way, and bound request bodies."""
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(PlaitError, _plait)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(BodyLimit, limit=max_body_bytes)
