"""Concurrency limits and the leases on their slots, kept by the backend for every process
that reports here (``plait.backend.limits``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from plait.backend.limits import (
    MAX_SLOTS,
    NAME_PATTERN,
    ConcurrencyLimits,
    Holdup,
    Lease,
    LimitRecord,
)
from plait.server.auth import WRITERS
from plait.server.bodies import Body, Text

router = APIRouter(prefix="/concurrency_limits", tags=["concurrency limits"])
LimitName = Annotated[
    str, Path(pattern=NAME_PATTERN.pattern, description="The limit's name, e.g. a task tag")
]
_NAME = Annotated[str, Field(pattern=NAME_PATTERN.pattern)]
_LEASE_ID = Annotated[str, Field(pattern=r"^[0-9a-f-]{36}$")]
_TTL = Field(gt=0, le=86_400, description="Seconds the lease lasts unless renewed")


class NewLimit(Body):
    limit: int = Field(ge=0, le=MAX_SLOTS, description="Slots; 0 holds everything")


class LeaseRequest(Body):
    names: list[_NAME] = Field(min_length=1, max_length=100)
    occupy: int = Field(1, ge=1, le=MAX_SLOTS)
    holder: Text = Field(min_length=1, max_length=255, description="Who holds it, for listings")
    ttl_seconds: float = _TTL


class LeaseAnswer(BaseModel):
    """The lease granted, or (``lease`` null) the limit that holds it up."""

    lease: Lease | None
    holdup: Holdup | None


class Renewal(Body):
    lease_ids: list[_LEASE_ID] = Field(max_length=10_000)
    ttl_seconds: float = _TTL


class Release(Body):
    lease_ids: list[_LEASE_ID] = Field(max_length=10_000)


def _limits(request: Request) -> ConcurrencyLimits:
    return request.app.state.backend.concurrency_limits()


@router.get("")
def list_limits(request: Request) -> list[LimitRecord]:
    """Every limit, by name, with its slots in use."""
    return _limits(request).list()


@router.put("/{name}", dependencies=WRITERS)
def set_limit(request: Request, name: LimitName, body: NewLimit) -> LimitRecord:
    """Create the limit, or change its number of slots."""
    return _limits(request).set(name, body.limit)


@router.delete("/{name}", dependencies=WRITERS, status_code=204)
def delete_limit(request: Request, name: LimitName) -> Response:
    """Delete the limit: what waits on it goes ahead."""
    _limits(request).delete(name)
    return Response(status_code=204)


@router.post("/leases", dependencies=WRITERS)
def acquire(request: Request, body: LeaseRequest) -> LeaseAnswer:
    """Take ``occupy`` slots of each named limit at once (names without a limit are
    ignored), or nothing and the limit that holds it up."""
    granted = _limits(request).acquire(body.names, body.occupy, body.holder, body.ttl_seconds)
    if isinstance(granted, Holdup):
        return LeaseAnswer(lease=None, holdup=granted)
    return LeaseAnswer(lease=granted, holdup=None)


@router.post("/leases/renew", dependencies=WRITERS, status_code=204)
def renew(request: Request, body: Renewal) -> Response:
    """Extend these leases from now: their holder is alive."""
    _limits(request).renew(body.lease_ids, body.ttl_seconds)
    return Response(status_code=204)


@router.post("/leases/release", dependencies=WRITERS, status_code=204)
def release(request: Request, body: Release) -> Response:
    """Give these leases' slots back."""
    _limits(request).release(body.lease_ids)
    return Response(status_code=204)
