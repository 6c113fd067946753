"""``GET /api/health``: whether the server answers, and what it serves."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

import plait

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    version: str
    store: str


@router.get("/health")
def health(request: Request) -> Health:
    """The server is up; the store it serves (no password)."""
    return Health(
        status="ok", version=plait.__version__, store=request.app.state.backend.describe()
    )
