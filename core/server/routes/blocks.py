"""Saved blocks, read through the backend's block documents: their non-secret fields, and
only the names of their secret fields (the values never leave the server here)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from plait.backend.documents import BlockDocuments, DocumentSummary
from plait.blocks.block import NAME_PATTERN

router = APIRouter(prefix="/blocks", tags=["blocks"])

_NAME = f"^{NAME_PATTERN.pattern}$"  # block type slugs and block names, as blocks check them
Slug = Annotated[str, Path(pattern=_NAME, description="A block type's slug, e.g. secret")]
Name = Annotated[str, Path(pattern=_NAME, description="The block's saved name")]


@dataclass(frozen=True)
class BlockDocument:
    """One saved version of a block as the API shows it: its secret fields only named
    (dotted paths, e.g. ``value`` or ``headers.Authorization``)."""

    id: str
    slug: str
    name: str
    version: int
    latest_version: int
    data: dict[str, Any]
    secret_fields: list[str]
    references: dict[str, str]
    created: datetime


def _dotted(path: str) -> str:
    """A stored field path (JSON, e.g. ``["headers", "Authorization"]``) as
    ``headers.Authorization``."""
    return ".".join(map(str, json.loads(path)))


def _documents(request: Request) -> BlockDocuments:
    return request.app.state.backend.block_documents()


@router.get("")
def list_blocks(
    request: Request,
    block_type: Annotated[
        str | None, Query(alias="type", pattern=_NAME, description="Only blocks of this type")
    ] = None,
) -> list[DocumentSummary]:
    """Saved blocks (not the nested ones saved with them), by type then name."""
    return _documents(request).list(block_type)


@router.get("/{slug}/{name}")
def read_block(
    request: Request,
    slug: Slug,
    name: Name,
    version: Annotated[
        int | None, Query(ge=1, description="This version (default: latest)")
    ] = None,
) -> BlockDocument:
    """One saved block's fields; its secrets only by field name."""
    stored = _documents(request).read(slug, name, version)
    return BlockDocument(
        id=stored.document_id, slug=stored.slug, name=stored.name, version=stored.version,
        latest_version=stored.latest_version, data=stored.data,
        secret_fields=sorted(map(_dotted, stored.secrets)), references=stored.references,
        created=stored.created,
    )  # fmt: skip
