"""Saved block documents, as the backend keeps them: the records that cross the seam, and
the interface ``plait.blocks`` saves and loads through.

The backend knows documents, not block classes: ``plait.blocks`` turns a block into plain
``data``, ``secrets`` and ``references`` and back. Secrets arrive here in the clear and are
encrypted by the backend; a read returns them decrypted.
"""

from __future__ import annotations

import builtins
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from plait.encryption import Keyring


@dataclass(frozen=True)
class BlockTypeRecord:
    """What the store keeps of a block type: enough to describe it, and to say which
    package to install when its class is missing."""

    slug: str
    class_path: str
    package: str | None
    description: str
    documentation_url: str | None
    code_example: str | None


@dataclass(frozen=True)
class BlockSchemaRecord:
    checksum: str
    version: int
    fields: dict[str, Any]
    capabilities: list[str]


@dataclass(frozen=True)
class NewVersion:
    """A version to save. ``name`` None means an anonymous document (a nested block saved
    with its parent); ``document_id`` adds the version to that existing document."""

    block_type: BlockTypeRecord
    schema: BlockSchemaRecord
    name: str | None
    document_id: str | None
    data: dict[str, Any]
    secrets: dict[str, Any]
    references: dict[str, str]  # field path -> referenced document id


@dataclass(frozen=True)
class StoredVersion:
    """One version of a saved document, with its secrets decrypted."""

    document_id: str
    slug: str
    name: str
    is_anonymous: bool
    version: int
    latest_version: int
    schema_checksum: str
    schema_version: int
    data: dict[str, Any]
    secrets: dict[str, Any]
    references: dict[str, str]
    created: datetime

    @property
    def full_name(self) -> str:
        return f"{self.slug}/{self.name}"

    def describe(self) -> str:
        return f"block {self.full_name!r} (version {self.version})"

    @property
    def secret_fields(self) -> list[str]:
        """The secret fields' dotted paths (stored as JSON lists, e.g. ``["headers", "A"]``)."""
        return sorted(".".join(map(str, json.loads(path))) for path in self.secrets)


@dataclass(frozen=True)
class DocumentSummary:
    document_id: str
    slug: str
    name: str
    is_anonymous: bool
    version: int
    created: datetime
    updated: datetime


@dataclass(frozen=True)
class SecretRead:
    """One read of a saved block's secret values (the audit trail): who read which fields
    of which version, and when."""

    document_id: str
    block: str  # slug/name when it was read
    version: int
    reader: str  # the API key's name
    fields: list[str]  # dotted paths, e.g. ``value`` or ``headers.Authorization``
    read: datetime


class BlockDocuments(ABC):
    """Reading and writing block documents, with one keyring."""

    keyring: Keyring

    @abstractmethod
    def save(self, versions: Sequence[NewVersion], overwrite: bool) -> list[StoredVersion]:
        """Save ``versions`` (nested documents first, the named one last) at once. A named
        document that exists is an error unless ``overwrite``."""

    @abstractmethod
    def read(self, slug: str, name: str, version: int | None = None) -> StoredVersion:
        """A saved document by type and name: its latest version, or ``version``."""

    @abstractmethod
    def read_id(self, document_id: str, version: int | None = None) -> StoredVersion:
        """A saved document by id (how nested blocks refer to each other)."""

    @abstractmethod
    def history(self, slug: str, name: str) -> builtins.list[StoredVersion]:
        """Every version of a saved document, oldest first, secrets decrypted."""

    @abstractmethod
    def list(
        self, slug: str | None = None, include_anonymous: bool = False
    ) -> builtins.list[DocumentSummary]:
        """Saved documents, by type then name."""

    @abstractmethod
    def document_id(self, slug: str, name: str) -> str | None:
        """The id of the saved document ``slug/name``, if there is one."""

    @abstractmethod
    def anonymous_children(self, document_id: str) -> dict[str, str]:
        """The anonymous documents the latest version of a document holds, by field path
        (re-saving the parent adds versions to them instead of making new ones)."""

    @abstractmethod
    def block_type(self, slug: str) -> BlockTypeRecord | None:
        """What the backend knows of a block type (from its last save), if anything."""

    @abstractmethod
    def delete(self, slug: str, name: str) -> None:
        """Delete a saved document with all its versions, and the anonymous documents it
        holds. Refused while another saved block uses it."""

    @abstractmethod
    def record_secret_read(self, stored: StoredVersion, reader: str) -> None:
        """Note in the audit trail that ``reader`` was handed ``stored``'s secret values."""

    @abstractmethod
    def audit(self, document_id: str) -> builtins.list[SecretRead]:
        """Every recorded read of a document's secret values, oldest first."""

    @abstractmethod
    def keyring_for_writing(self) -> Keyring:
        """The keyring to encrypt with. The first save makes the key file; a save while the
        key file is missing but saved secrets need it is refused, naming the key."""

    @abstractmethod
    def rotate_key(self) -> tuple[int, Keyring]:
        """Re-encrypt every saved secret under a new key; returns how many versions were
        re-encrypted and the keyring now in use."""
