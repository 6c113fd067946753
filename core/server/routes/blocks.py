"""Saved blocks, read and written through the backend's block documents.

Secret values leave the server only for a key of admin scope that asks for them
(``include_secrets=true``), and every such read is recorded in the audit trail; any other
answer names the secret fields without their values. Saving takes secrets in the clear (the
server encrypts them with its own key), so a client never needs the server's key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AfterValidator, Field
from starlette.exceptions import HTTPException

from plait.backend.api_keys import ApiKeyRecord, Scope
from plait.backend.documents import (
    BlockDocuments,
    BlockSchemaRecord,
    BlockTypeRecord,
    DocumentSummary,
    NewVersion,
    SecretRead,
    StoredVersion,
)
from plait.blocks.block import NAME_PATTERN
from plait.server.auth import WRITERS, require
from plait.server.bodies import Body, Storable, Text

router = APIRouter(tags=["blocks"])

_NAME = f"^{NAME_PATTERN.pattern}$"  # block type slugs and block names, as blocks check them
_ID = r"^[0-9a-f-]{36}$"
Slug = Annotated[str, Path(pattern=_NAME, description="A block type's slug, e.g. secret")]
Name = Annotated[str, Path(pattern=_NAME, description="The block's saved name")]
DocumentId = Annotated[str, Path(pattern=_ID, description="A saved block document's id")]
Version = Annotated[int | None, Query(ge=1, description="This version (default: latest)")]
IncludeSecrets = Annotated[
    bool,
    Query(description="Include the secret values (needs an admin key; the read is audited)"),
]
Caller = Annotated[ApiKeyRecord | None, Depends(require(Scope.READ))]
NO_KEY = "(no key: the server has none)"  # the reader's name while the server has no keys


@dataclass(frozen=True)
class BlockVersion:
    """One saved version of a block as the API shows it. ``secret_fields`` names the secret
    fields (dotted paths, e.g. ``headers.Authorization``); ``secrets`` holds their values
    (by stored path) only when asked for with an admin key. In a history without values,
    ``secret_tokens`` stands for each value with a token that is equal for equal values
    within that one answer (so a change shows), and means nothing outside it."""

    id: str
    slug: str
    name: str
    is_anonymous: bool
    version: int
    latest_version: int
    schema_checksum: str
    schema_version: int
    data: dict[str, Any]
    secret_fields: list[str]
    references: dict[str, str]
    created: datetime
    secrets: dict[str, Any] | None = None
    secret_tokens: dict[str, str] | None = None


def _field_path(key: str) -> str:
    """A stored field path: a JSON list of names and positions, e.g. ``["headers", "A"]``."""
    try:
        path = json.loads(key)
    except ValueError:
        path = None
    if not (isinstance(path, list) and path and all(isinstance(p, str | int) for p in path)):
        raise ValueError(f'{key!r} is not a field path: give a JSON list, e.g. ["password"]')
    return key


FieldPath = Annotated[str, AfterValidator(_field_path)]


class BlockTypeIn(Body):
    slug: str = Field(pattern=_NAME)
    class_path: Text = Field(min_length=1, max_length=500)
    package: Text | None = Field(None, max_length=255)
    description: Text = Field("", max_length=100_000)
    documentation_url: Text | None = Field(None, max_length=500)
    code_example: Text | None = Field(None, max_length=100_000)


class BlockSchemaIn(Body):
    checksum: Text = Field(min_length=1, max_length=80)
    version: int = Field(ge=1, le=2**31 - 1)
    fields: dict[str, Storable]
    capabilities: list[Annotated[Text, Field(max_length=100)]] = Field(max_length=100)


class VersionIn(Body):
    """One version to save: ``name`` null for a nested block saved with its parent (then
    ``document_id`` says which document it adds a version to). ``secrets`` and
    ``references`` are keyed by field path (a JSON list, e.g. ``["headers", "A"]``)."""

    block_type: BlockTypeIn
    block_schema: BlockSchemaIn = Field(alias="schema")
    name: str | None = Field(None, pattern=_NAME)
    document_id: str | None = Field(None, pattern=_ID)
    data: dict[str, Storable]
    secrets: dict[FieldPath, Storable] = {}
    references: dict[FieldPath, Annotated[str, Field(pattern=_ID)]] = {}

    def record(self) -> NewVersion:
        return NewVersion(
            block_type=BlockTypeRecord(**self.block_type.model_dump()),
            schema=BlockSchemaRecord(**self.block_schema.model_dump()),
            name=self.name, document_id=self.document_id, data=self.data,
            secrets=self.secrets, references=self.references,
        )  # fmt: skip


class SaveBlocks(Body):
    """Versions saved at once: nested documents first, the named block last."""

    versions: list[VersionIn] = Field(min_length=1, max_length=1000)
    overwrite: bool = False


def _documents(request: Request) -> BlockDocuments:
    return request.app.state.backend.block_documents()


def _shown(stored: StoredVersion, **secret_values: dict[str, Any]) -> BlockVersion:
    return BlockVersion(
        id=stored.document_id, slug=stored.slug, name=stored.name,
        is_anonymous=stored.is_anonymous, version=stored.version,
        latest_version=stored.latest_version, schema_checksum=stored.schema_checksum,
        schema_version=stored.schema_version, data=stored.data,
        secret_fields=stored.secret_fields, references=stored.references,
        created=stored.created, **secret_values,
    )  # fmt: skip


def _reader(caller: ApiKeyRecord | None, include_secrets: bool) -> str | None:
    """Who is handed secret values (None: nobody asked); refuses a key below admin."""
    if not include_secrets:
        return None
    if caller is None:
        return NO_KEY
    if not caller.scope.allows(Scope.ADMIN):
        raise HTTPException(
            403,
            f"The API key {caller.name!r} has scope {caller.scope}; secret values need "
            "admin. Leave out include_secrets to read the block without them.",
        )
    return caller.name


def _answer(
    request: Request,
    caller: ApiKeyRecord | None,
    include_secrets: bool,
    read: Callable[[BlockDocuments], StoredVersion],
) -> BlockVersion:
    """The version ``read`` finds, with its secret values if asked for (and audited)."""
    reader = _reader(caller, include_secrets)
    documents = _documents(request)
    return _revealed(documents, read(documents), reader)


def _revealed(documents: BlockDocuments, stored: StoredVersion, reader: str | None) -> BlockVersion:
    """``stored`` as shown to ``reader``: with its secret values, recorded in the audit
    trail, if there is a reader and there are secrets."""
    if reader is None or not stored.secrets:
        return _shown(stored)
    documents.record_secret_read(stored, reader)
    return _shown(stored, secrets=stored.secrets)


@router.get("/blocks")
def list_blocks(
    request: Request,
    block_type: Annotated[
        str | None, Query(alias="type", pattern=_NAME, description="Only blocks of this type")
    ] = None,
    include_anonymous: Annotated[
        bool, Query(description="Also the nested blocks saved with their parent")
    ] = False,
) -> list[DocumentSummary]:
    """Saved blocks, by type then name."""
    return _documents(request).list(block_type, include_anonymous)


@router.post("/blocks", dependencies=WRITERS)
def save_blocks(request: Request, body: SaveBlocks) -> list[BlockVersion]:
    """Save a block with its nested blocks, at once; answers the saved versions, secrets by
    name only. An existing block of that name is refused (409) unless ``overwrite``."""
    documents = _documents(request)
    saved = documents.save([version.record() for version in body.versions], body.overwrite)
    return [_shown(stored) for stored in saved]


@router.get("/blocks/{document_id:uuid}/audit", dependencies=[Depends(require(Scope.ADMIN))])
def read_audit(request: Request, document_id: uuid.UUID) -> list[SecretRead]:
    """Every read of the block's secret values through the server, oldest first."""
    return _documents(request).audit(str(document_id))


@router.get("/blocks/{slug}/{name}")
def read_block(
    request: Request,
    slug: Slug,
    name: Name,
    caller: Caller,
    version: Version = None,
    include_secrets: IncludeSecrets = False,
) -> BlockVersion:
    """One saved block's fields; its secret values only for an admin key that asks."""
    return _answer(request, caller, include_secrets, lambda d: d.read(slug, name, version))


@router.get("/blocks/{slug}/{name}/history")
def read_history(
    request: Request,
    slug: Slug,
    name: Name,
    caller: Caller,
    include_secrets: IncludeSecrets = False,
) -> list[BlockVersion]:
    """Every saved version of a block, oldest first."""
    reader = _reader(caller, include_secrets)
    documents = _documents(request)
    versions = documents.history(slug, name)
    if reader is not None:
        return [_revealed(documents, stored, reader) for stored in versions]
    salt = secrets.token_bytes(16)  # tokens compare within this answer only
    return [_shown(stored, secret_tokens=_tokens(stored, salt)) for stored in versions]


def _tokens(stored: StoredVersion, salt: bytes) -> dict[str, str]:
    return {
        path: hmac.new(salt, repr(value).encode(), hashlib.sha256).hexdigest()[:16]
        for path, value in stored.secrets.items()
    }


@router.delete("/blocks/{slug}/{name}", status_code=204, dependencies=WRITERS)
def delete_block(request: Request, slug: Slug, name: Name) -> Response:
    """Delete a saved block with all its versions (refused, 409, while another block uses
    it). Its audit trail is kept."""
    _documents(request).delete(slug, name)
    return Response(status_code=204)


@router.get("/block_documents/{document_id}")
def read_document(
    request: Request,
    document_id: DocumentId,
    caller: Caller,
    version: Version = None,
    include_secrets: IncludeSecrets = False,
) -> BlockVersion:
    """A saved block document by id (how nested blocks refer to each other)."""
    return _answer(request, caller, include_secrets, lambda d: d.read_id(document_id, version))


@router.get("/block_documents/{document_id}/children")
def read_children(request: Request, document_id: DocumentId) -> dict[str, str]:
    """The nested blocks saved with a document's latest version, by field path."""
    return _documents(request).anonymous_children(document_id)


@router.get("/block_types/{slug}")
def read_block_type(request: Request, slug: Slug) -> BlockTypeRecord:
    """A block type as last saved: its class, the package that provides it, its docs."""
    record = _documents(request).block_type(slug)
    if record is None:
        raise HTTPException(404, f"No block of type {slug!r} was ever saved here.")
    return record
