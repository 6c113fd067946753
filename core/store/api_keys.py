"""The server's API keys in the run store (``plait.backend.api_keys``)."""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from plait.backend.api_keys import (
    ApiKeyRecord,
    ApiKeys,
    NewKey,
    Scope,
    checked_name,
    key_hash,
    split_token,
)
from plait.exceptions import ParameterError
from plait.runs import new_id
from plait.store.database import Database
from plait.store.schema import ApiKeyRow

keys = ApiKeyRow.__table__


class SqlApiKeys(ApiKeys):
    def __init__(self, database: Database) -> None:
        self.database = database
        self._verified: dict[bytes, str] = {}  # sent key's sha256 -> key id: scrypt once
        self._created = False  # once a key exists it stays (keys are revoked, not deleted)

    def create(self, name: str, scope: Scope) -> tuple[ApiKeyRecord, str]:
        checked_name(name)
        new, salt = NewKey.generate(), os.urandom(16)
        row = {"id": new_id(), "name": name, "scope": scope.value, "lookup": new.lookup,
               "salt": salt, "hash": key_hash(new.secret, salt), "created": datetime.now(UTC),
               "revoked": None}  # fmt: skip
        with self.database.writing() as connection:
            if connection.execute(sa.select(keys.c.id).where(keys.c.name == name)).first():
                raise ParameterError(
                    f"An API key named {name!r} exists already; pick another name, or revoke "
                    f"it first: plait server api-key revoke {name}"
                )
            connection.execute(keys.insert().values(row))
        return _record(row), new.token

    def list(self) -> list[ApiKeyRecord]:
        with self.database.reading() as connection:
            rows = connection.execute(sa.select(keys).order_by(keys.c.created)).mappings()
            return [_record(row) for row in rows]

    def revoke(self, name: str) -> ApiKeyRecord:
        with self.database.writing() as connection:
            row = connection.execute(sa.select(keys).where(keys.c.name == name)).mappings().first()
            if row is None:
                raise ParameterError(
                    f"No API key is named {name!r}; list them with: plait server api-key ls"
                )
            revoked = row["revoked"] or datetime.now(UTC)
            connection.execute(keys.update().where(keys.c.id == row["id"]).values(revoked=revoked))
        return _record({**row, "revoked": revoked})

    def any_created(self) -> bool:
        if not self._created:
            with self.database.reading() as connection:
                self._created = (
                    connection.execute(sa.select(keys.c.id).limit(1)).first() is not None
                )
        return self._created

    def authenticate(self, token: str) -> ApiKeyRecord | None:
        parts = split_token(token)
        if parts is None:
            return None
        lookup, secret = parts
        with self.database.reading() as connection:
            row = (
                connection.execute(sa.select(keys).where(keys.c.lookup == lookup))
                .mappings()
                .first()
            )
        if row is None or row["revoked"] is not None:
            return None
        sent = hashlib.sha256(token.encode()).digest()
        if self._verified.get(sent) != row["id"]:
            if not hmac.compare_digest(key_hash(secret, row["salt"]), row["hash"]):
                return None
            self._verified[sent] = row["id"]
        return _record(row)


def _record(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(row["id"], row["name"], Scope(row["scope"]), row["created"], row["revoked"])
