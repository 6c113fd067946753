"""Artifacts by key, across runs: the latest version of each key, or the versions of one
(the artifacts of one flow run are under ``/flow_runs/{id}/artifacts``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from plait.artifacts import KEY_LIMIT
from plait.backend.runs import MAX_PAGE
from plait.client import DEFAULT_PAGE
from plait.runs import ArtifactRecord
from plait.server.routes.flow_runs import Reader

router = APIRouter(prefix="/artifacts", tags=["artifacts"])


@router.get("")
def read_keyed_artifacts(
    reader: Reader,
    key: Annotated[
        str | None,
        Query(min_length=1, max_length=KEY_LIMIT, description="Every version of this key"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
) -> list[ArtifactRecord]:
    """The latest version of each key's artifact, by key; with ``key``, that key's versions,
    newest first."""
    return reader.read_keyed_artifacts(key, limit)
