"""The cache index for processes in client mode: which persisted result a cache key points
at, and the keys' computing locks, held in the name of the client's process."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from plait.server.auth import WRITERS
from plait.server.bodies import Body, Storable, Text
from plait.server.routes.events import Process

router = APIRouter(prefix="/cache", tags=["cache"])
_KEY = Field(min_length=1, max_length=64, description="A cache key")


class Cached(BaseModel):
    result: dict[str, Any] | None = Field(description="The result reference; null: no record")


class NewRecord(Body):
    key: Text = _KEY
    result: dict[Text, Storable]
    task_run_id: str = Field(pattern=r"^[0-9a-f-]{36}$")
    expiration_seconds: float | None = Field(None, gt=0, le=36_500 * 86_400)
    process: Process


class KeyLock(Body):
    key: Text = _KEY
    process: Process


class Granted(BaseModel):
    granted: bool = Field(description="False: another live process holds the key")


def _index(request: Request) -> Any:
    return request.app.state.backend.cache_index()


@router.get("")
def lookup(request: Request, key: Annotated[str, Query(min_length=1, max_length=64)]) -> Cached:
    """The result reference cached under ``key``, unless it expired."""
    return Cached(result=_index(request).lookup(key))


@router.put("", dependencies=WRITERS, status_code=204)
def record(request: Request, body: NewRecord) -> Response:
    """Point ``key`` at ``result``, and release the key's lock if the process holds it."""
    seconds = body.expiration_seconds
    expiration = None if seconds is None else timedelta(seconds=seconds)
    _index(request).record(
        body.key, body.result, body.task_run_id, expiration, body.process.identity()
    )
    return Response(status_code=204)


@router.post("/lock", dependencies=WRITERS)
def lock(request: Request, body: KeyLock) -> Granted:
    """Take the key's computing lock for the process, unless another live one holds it."""
    return Granted(granted=_index(request).try_lock(body.key, body.process.identity()))


@router.post("/unlock", dependencies=WRITERS, status_code=204)
def unlock(request: Request, body: KeyLock) -> Response:
    """Release the process's lock on the key (its run failed)."""
    _index(request).unlock(body.key, body.process.identity())
    return Response(status_code=204)
