"""Saved block documents through the API server (client mode): the server keeps them and
encrypts their secrets with its own key; this process sends secrets in the clear (over the
connection to the server) and reads them back only with a key of admin scope, each read
recorded in the server's audit trail."""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Sequence
from typing import Any

from plait.backend.documents import (
    BlockDocuments,
    BlockTypeRecord,
    DocumentSummary,
    NewVersion,
    SecretRead,
    StoredVersion,
)
from plait.backend.http import HttpBackend, parsed
from plait.encryption import Keyring
from plait.exceptions import (
    BlockError,
    BlockNotFoundError,
    BlockValidationError,
    ConfigError,
    PlaitError,
    StoreError,
)

_ERRORS: dict[int, type[PlaitError]] = {
    404: BlockNotFoundError,
    409: BlockError,
    422: BlockValidationError,
    503: StoreError,
}


def _stored(answer: dict[str, Any], secrets: dict[str, Any] | None = None) -> StoredVersion:
    """A version as the server answers it; ``secrets`` stands in for values not sent."""
    values = answer.get("secrets") or answer.get("secret_tokens") or secrets or {}
    fields = {f.name for f in dataclasses.fields(StoredVersion)} - {"document_id", "secrets"}
    record = {name: answer[name] for name in fields}
    return parsed(StoredVersion, {**record, "document_id": answer["id"], "secrets": values})


class HttpBlockDocuments(BlockDocuments):
    """Block documents kept by the server at ``backend.api_url``."""

    def __init__(self, backend: HttpBackend) -> None:
        self.backend = backend

    def _call(self, method: str, path: str, **arguments: Any) -> Any:
        return self.backend.request(method, path, errors=_ERRORS, **arguments)

    def save(self, versions: Sequence[NewVersion], overwrite: bool) -> list[StoredVersion]:
        body = {"versions": [dataclasses.asdict(v) for v in versions], "overwrite": overwrite}
        saved = self._call("POST", "/blocks", json=body)
        return [_stored(answer, v.secrets) for answer, v in zip(saved, versions, strict=True)]

    def _with_secrets(self, path: str, version: int | None) -> StoredVersion:
        """A version, asking for its secret values only if it has secret fields (so a key
        without admin scope still loads blocks that have none)."""
        params = {} if version is None else {"version": version}
        answer = self._call("GET", path, params=params)
        if answer["secret_fields"]:
            answer = self._call("GET", path, params={**params, "include_secrets": True})
        return _stored(answer)

    def read(self, slug: str, name: str, version: int | None = None) -> StoredVersion:
        return self._with_secrets(f"/blocks/{slug}/{name}", version)

    def read_id(self, document_id: str, version: int | None = None) -> StoredVersion:
        return self._with_secrets(f"/block_documents/{document_id}", version)

    def history(self, slug: str, name: str) -> builtins.list[StoredVersion]:
        """Every version; secret values stand for themselves only by comparison tokens."""
        return [_stored(answer) for answer in self._call("GET", f"/blocks/{slug}/{name}/history")]

    def list(
        self, slug: str | None = None, include_anonymous: bool = False
    ) -> builtins.list[DocumentSummary]:
        params: dict[str, Any] = {"include_anonymous": include_anonymous}
        if slug is not None:
            params["type"] = slug
        return parsed(builtins.list[DocumentSummary], self._call("GET", "/blocks", params=params))

    def document_id(self, slug: str, name: str) -> str | None:
        try:
            return self._call("GET", f"/blocks/{slug}/{name}")["id"]
        except BlockNotFoundError:
            return None

    def anonymous_children(self, document_id: str) -> dict[str, str]:
        return self._call("GET", f"/block_documents/{document_id}/children")

    def block_type(self, slug: str) -> BlockTypeRecord | None:
        try:
            return parsed(BlockTypeRecord, self._call("GET", f"/block_types/{slug}"))
        except BlockNotFoundError:
            return None

    def delete(self, slug: str, name: str) -> None:
        self._call("DELETE", f"/blocks/{slug}/{name}")

    def record_secret_read(self, stored: StoredVersion, reader: str) -> None:
        raise ConfigError("The server records reads of secret values itself.")

    def audit(self, document_id: str) -> builtins.list[SecretRead]:
        answer = self._call("GET", f"/blocks/{document_id}/audit")
        return parsed(builtins.list[SecretRead], answer)

    def keyring_for_writing(self) -> Keyring:
        """This machine's key (for encrypted results, which stay in this machine's result
        storage); the server encrypts saved blocks with its own."""
        from plait.encryption import load_keyring, with_key_file

        keyring = load_keyring(self.backend.settings)
        return keyring if keyring.keys else with_key_file(keyring)

    def rotate_key(self) -> tuple[int, Keyring]:
        self.backend.on_the_server("Rotating the key of saved blocks")
