"""Saved block documents in the store: versions, references, and encrypted secrets.

This module knows documents, not block classes: ``plait.blocks`` turns a block into plain
``data``, ``secrets`` and ``references`` and back. Secrets are encrypted here, with the
keyring from ``plait.encryption``, and decrypted only when a document is read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from plait.backend.documents import (
    BlockDocuments,
    BlockSchemaRecord,
    BlockTypeRecord,
    DocumentSummary,
    NewVersion,
    SecretRead,
    StoredVersion,
)
from plait.encryption import (
    ENV_VAR,
    GENERATE_HINT,
    RESTORE_HINT,
    Keyring,
    new_key,
    with_key_file,
    write_key_file,
)
from plait.exceptions import BlockError, BlockNotFoundError, EncryptionKeyError
from plait.runs import new_id
from plait.store.database import Database
from plait.store.schema import (
    BlockDocumentRow,
    BlockDocumentVersionRow,
    BlockReferenceRow,
    BlockSchemaRow,
    BlockSecretReadRow,
    BlockTypeRow,
)

Documents = BlockDocumentRow.__table__
Versions = BlockDocumentVersionRow.__table__
References = BlockReferenceRow.__table__
SecretReads = BlockSecretReadRow.__table__


class SqlBlockDocuments(BlockDocuments):
    """Block documents in one database, with one keyring."""

    def __init__(self, database: Database, keyring: Keyring) -> None:
        self.database = database
        self.keyring = keyring

    def save(self, versions: Sequence[NewVersion], overwrite: bool) -> list[StoredVersion]:
        """Save ``versions`` (nested documents first, the named one last) in one transaction.
        A named document that exists is an error unless ``overwrite``."""
        now = datetime.now(UTC)
        try:
            with self.database.writing() as connection:
                return [self._save_one(connection, new, overwrite, now) for new in versions]
        except sa.exc.IntegrityError:
            last = versions[-1]
            raise BlockError(
                f"Block {last.block_type.slug}/{last.name} was saved by another process at the "
                "same moment; nothing was saved by this call. Load it to see theirs, or save again."
            ) from None

    def _save_one(
        self, connection: Connection, new: NewVersion, overwrite: bool, now: datetime
    ) -> StoredVersion:
        slug = new.block_type.slug
        _upsert_type(connection, new.block_type, now)
        _insert_schema(connection, slug, new.schema, now)
        if new.document_id is not None:
            condition = Documents.c.id == new.document_id
        else:
            condition = _named(slug, new.name)
        # FOR UPDATE (PostgreSQL): concurrent saves of one document take turns numbering
        # versions; SQLite's BEGIN IMMEDIATE already serialises writers.
        row = connection.execute(
            sa.select(Documents).where(condition).with_for_update()
        ).one_or_none()
        if row is not None and not (overwrite or row.is_anonymous):
            raise BlockError(
                f"A block named {slug}/{new.name} already exists; pass overwrite=True to save "
                "a new version of it (the current one stays in its history)."
            )
        if row is None:
            document_id = new.document_id or new_id()
            name = new.name or f"anonymous-{document_id}"
            version = 1
            connection.execute(
                Documents.insert().values(
                    id=document_id,
                    block_type_slug=slug,
                    name=name,
                    is_anonymous=new.name is None,
                    version=version,
                    created=now,
                    updated=now,
                )
            )
        else:
            document_id, name, version = row.id, row.name, row.version + 1
            connection.execute(
                Documents.update()
                .where(Documents.c.id == document_id)
                .values(version=version, updated=now)
            )
        token = None
        if new.secrets:
            self.keyring = self.keyring_for_writing()
            token = self.keyring.encrypt(json.dumps(new.secrets).encode())
        connection.execute(
            Versions.insert().values(
                document_id=document_id,
                version=version,
                schema_checksum=new.schema.checksum,
                schema_version=new.schema.version,
                data=new.data,
                secrets=token,
                key_fingerprint=self.keyring.current_fingerprint if token else None,
                created=now,
            )
        )
        if new.references:
            connection.execute(
                References.insert(),
                [
                    {"document_id": document_id, "version": version, "path": p, "referenced_id": r}
                    for p, r in new.references.items()
                ],
            )
        return StoredVersion(
            document_id=document_id,
            slug=slug,
            name=name,
            is_anonymous=new.name is None,
            version=version,
            latest_version=version,
            schema_checksum=new.schema.checksum,
            schema_version=new.schema.version,
            data=new.data,
            secrets=new.secrets,
            references=new.references,
            created=now,
        )

    def read(self, slug: str, name: str, version: int | None = None) -> StoredVersion:
        """A saved document by type and name: its latest version, or ``version``."""
        return self._read(_named(slug, name), version, f"{slug}/{name}")

    def read_id(self, document_id: str, version: int | None = None) -> StoredVersion:
        """A saved document by id (how nested blocks refer to each other)."""
        return self._read(Documents.c.id == document_id, version, f"id {document_id}")

    def _read(self, condition: Any, version: int | None, what: str) -> StoredVersion:
        with self.database.reading() as connection:
            document = connection.execute(sa.select(Documents).where(condition)).one_or_none()
            if document is None:
                raise BlockNotFoundError(f"No saved block {what}.")
            wanted = document.version if version is None else version
            row = connection.execute(
                sa.select(Versions).where(
                    Versions.c.document_id == document.id, Versions.c.version == wanted
                )
            ).one_or_none()
            if row is None:
                raise BlockNotFoundError(
                    f"Block {document.block_type_slug}/{document.name} has no version {wanted}; "
                    f"it has versions 1 to {document.version} "
                    f"(see: plait block history {document.block_type_slug}/{document.name})."
                )
            references = _references(connection, document.id, wanted)
        return self._stored(document, row, references)

    def _stored(self, document: Any, row: Any, references: dict[str, str]) -> StoredVersion:
        stored = StoredVersion(
            document_id=document.id,
            slug=document.block_type_slug,
            name=document.name,
            is_anonymous=document.is_anonymous,
            version=row.version,
            latest_version=document.version,
            schema_checksum=row.schema_checksum,
            schema_version=row.schema_version,
            data=row.data,
            secrets={},
            references=references,
            created=row.created,
        )
        if row.secrets is None:
            return stored
        plain = self.keyring.decrypt(row.secrets, row.key_fingerprint, stored.describe())
        return StoredVersion(**{**stored.__dict__, "secrets": json.loads(plain)})

    def history(self, slug: str, name: str) -> list[StoredVersion]:
        """Every version of a saved document, oldest first, secrets decrypted."""
        with self.database.reading() as connection:
            document = connection.execute(
                sa.select(Documents).where(_named(slug, name))
            ).one_or_none()
            if document is None:
                raise BlockNotFoundError(f"No saved block {slug}/{name}.")
            rows = connection.execute(
                sa.select(Versions)
                .where(Versions.c.document_id == document.id)
                .order_by(Versions.c.version)
            ).all()
            references = [_references(connection, document.id, row.version) for row in rows]
        return [
            self._stored(document, row, refs) for row, refs in zip(rows, references, strict=True)
        ]

    def list(
        self, slug: str | None = None, include_anonymous: bool = False
    ) -> list[DocumentSummary]:
        """Saved documents, by type then name."""
        query = sa.select(Documents).order_by(Documents.c.block_type_slug, Documents.c.name)
        if slug is not None:
            query = query.where(Documents.c.block_type_slug == slug)
        if not include_anonymous:
            query = query.where(Documents.c.is_anonymous == sa.false())
        with self.database.reading() as connection:
            return [
                DocumentSummary(
                    document_id=row.id,
                    slug=row.block_type_slug,
                    name=row.name,
                    is_anonymous=row.is_anonymous,
                    version=row.version,
                    created=row.created,
                    updated=row.updated,
                )
                for row in connection.execute(query)
            ]

    def document_id(self, slug: str, name: str) -> str | None:
        """The id of the saved document ``slug/name``, if there is one."""
        with self.database.reading() as connection:
            return connection.execute(
                sa.select(Documents.c.id).where(_named(slug, name))
            ).scalar_one_or_none()

    def anonymous_children(self, document_id: str) -> dict[str, str]:
        """The anonymous documents the latest version of a document holds, by field path
        (re-saving the parent adds versions to them instead of making new ones)."""
        child = Documents.alias("child")
        query = (
            sa.select(References.c.path, References.c.referenced_id)
            .join(
                Documents,
                (References.c.document_id == Documents.c.id)
                & (References.c.version == Documents.c.version),
            )
            .join(child, (child.c.id == References.c.referenced_id) & child.c.is_anonymous)
            .where(Documents.c.id == document_id)
        )
        with self.database.reading() as connection:
            return {row.path: row.referenced_id for row in connection.execute(query)}

    def block_type(self, slug: str) -> BlockTypeRecord | None:
        """What the store knows of a block type (from its last save), if anything."""
        with self.database.reading() as connection:
            row = connection.execute(
                sa.select(BlockTypeRow.__table__).where(BlockTypeRow.slug == slug)
            ).one_or_none()
        if row is None:
            return None
        return BlockTypeRecord(
            slug=row.slug,
            class_path=row.class_path,
            package=row.package,
            description=row.description,
            documentation_url=row.documentation_url,
            code_example=row.code_example,
        )

    def delete(self, slug: str, name: str) -> None:
        """Delete a saved document with all its versions, and the anonymous documents it
        holds. Refused while another saved block uses it."""
        with self.database.writing() as connection:
            document = connection.execute(
                sa.select(Documents).where(_named(slug, name))
            ).one_or_none()
            if document is None:
                raise BlockNotFoundError(f"No saved block {slug}/{name}.")
            users = _users(connection, document.id)
            if users:
                raise BlockError(
                    f"Block {slug}/{name} is used by {', '.join(users)}; delete those first, or "
                    "save them without it."
                )
            _delete_documents(connection, [document.id])

    def record_secret_read(self, stored: StoredVersion, reader: str) -> None:
        """Note in the audit trail that ``reader`` was handed ``stored``'s secret values."""
        with self.database.writing() as connection:
            connection.execute(
                SecretReads.insert().values(
                    id=new_id(), document_id=stored.document_id, block=stored.full_name,
                    version=stored.version, reader=reader, fields=stored.secret_fields,
                    read=datetime.now(UTC),
                )
            )  # fmt: skip

    def audit(self, document_id: str) -> list[SecretRead]:
        """Every recorded read of a document's secret values, oldest first."""
        query = (
            sa.select(SecretReads)
            .where(SecretReads.c.document_id == document_id)
            .order_by(SecretReads.c.read, SecretReads.c.id)
        )
        with self.database.reading() as connection:
            return [
                SecretRead(
                    document_id=row.document_id, block=row.block, version=row.version,
                    reader=row.reader, fields=row.fields, read=row.read,
                )
                for row in connection.execute(query)
            ]  # fmt: skip

    def rotate(self, new: Keyring) -> int:
        """Re-encrypt every version's secrets under ``new``'s current key, in one
        transaction: if any version cannot be decrypted, nothing changes. Returns how many
        versions were re-encrypted."""
        with self.database.writing() as connection:
            rows = connection.execute(
                sa.select(
                    Versions.c.document_id,
                    Versions.c.version,
                    Versions.c.secrets,
                    Versions.c.key_fingerprint,
                    Documents.c.block_type_slug,
                    Documents.c.name,
                )
                .join(Documents, Documents.c.id == Versions.c.document_id)
                .where(Versions.c.secrets.is_not(None))
            ).all()
            for row in rows:
                what = f"block '{row.block_type_slug}/{row.name}' (version {row.version})"
                plain = self.keyring.decrypt(row.secrets, row.key_fingerprint, what)
                connection.execute(
                    Versions.update()
                    .where(
                        Versions.c.document_id == row.document_id,
                        Versions.c.version == row.version,
                    )
                    .values(secrets=new.encrypt(plain), key_fingerprint=new.current_fingerprint)
                )
        return len(rows)

    def keyring_for_writing(self) -> Keyring:
        if self.keyring.keys:
            return self.keyring
        with self.database.reading() as connection:
            needed = connection.execute(
                sa.select(Versions.c.key_fingerprint)
                .where(Versions.c.key_fingerprint.is_not(None))
                .distinct()
                .limit(5)
            ).scalars().all()  # fmt: skip
        if needed:
            raise EncryptionKeyError(
                f"Saved blocks are encrypted with key {', '.join(needed)}, but "
                f"{self.keyring.source}. {RESTORE_HINT}"
            )
        return with_key_file(self.keyring)

    def rotate_key(self) -> tuple[int, Keyring]:
        """Re-encrypt every saved secret under a new key; returns the count and the new keyring.

        With a key file: a new key is made and written first *beside* the old one, then every
        document is re-encrypted in one transaction, then the old key is dropped, so no moment
        exists when a document cannot be decrypted. With ``PLAIT_ENCRYPTION_KEY``: it must
        already list the new key first and the old one(s) after; documents move to the first.
        """
        keyring = self.keyring
        if not keyring.keys:
            raise EncryptionKeyError(f"Cannot rotate the key: {keyring.source}. {RESTORE_HINT}")
        if keyring.path is None:
            if len(keyring.keys) < 2:
                raise EncryptionKeyError(
                    f"{ENV_VAR} holds one key. To rotate, set it to 'NEW_KEY,OLD_KEY' and run this "
                    f"again; afterwards keep only NEW_KEY. Make a key with: {GENERATE_HINT}"
                )
        else:
            keyring = Keyring((new_key(), *keyring.keys), keyring.source, keyring.path)
            write_key_file(keyring.path, keyring.keys)
        current = Keyring(keyring.keys[:1], keyring.source, keyring.path)
        count = SqlBlockDocuments(self.database, keyring).rotate(current)
        if current.path is not None:
            write_key_file(current.path, current.keys)
        return count, current


def _named(slug: str, name: str) -> Any:
    """The condition that picks the document ``slug/name``."""
    return (Documents.c.block_type_slug == slug) & (Documents.c.name == name)


def _upsert_type(connection: Connection, record: BlockTypeRecord, now: datetime) -> None:
    table = BlockTypeRow.__table__
    values = {**record.__dict__, "updated": now}
    updated = connection.execute(
        table.update().where(table.c.slug == record.slug).values(**values)
    ).rowcount
    if not updated:
        connection.execute(table.insert().values(**values))


def _insert_schema(
    connection: Connection, slug: str, schema: BlockSchemaRecord, now: datetime
) -> None:
    table = BlockSchemaRow.__table__
    exists = connection.execute(
        sa.select(table.c.checksum).where(table.c.checksum == schema.checksum)
    ).first()
    if exists is None:
        connection.execute(
            table.insert().values(
                checksum=schema.checksum,
                block_type_slug=slug,
                version=schema.version,
                fields=schema.fields,
                capabilities=schema.capabilities,
                created=now,
            )
        )


def _references(connection: Connection, document_id: str, version: int) -> dict[str, str]:
    rows = connection.execute(
        sa.select(References.c.path, References.c.referenced_id).where(
            References.c.document_id == document_id, References.c.version == version
        )
    )
    return {row.path: row.referenced_id for row in rows}


def _users(connection: Connection, document_id: str) -> list[str]:
    """The named documents whose latest version holds ``document_id`` (directly, or through
    anonymous documents they own)."""
    users: list[str] = []
    pending, seen = [document_id], {document_id}
    while pending:
        rows = connection.execute(
            sa.select(
                Documents.c.id,
                Documents.c.block_type_slug,
                Documents.c.name,
                Documents.c.is_anonymous,
            )
            .join(
                References,
                (References.c.document_id == Documents.c.id)
                & (References.c.version == Documents.c.version),
            )
            .where(References.c.referenced_id == pending.pop())
        ).all()
        for row in rows:
            if row.id in seen:
                continue
            seen.add(row.id)
            if row.is_anonymous:
                pending.append(row.id)
            else:
                users.append(f"{row.block_type_slug}/{row.name}")
    return sorted(users)


def _delete_documents(connection: Connection, document_ids: Iterable[str]) -> None:
    """Delete documents, and then the anonymous documents only they held."""
    ids = list(document_ids)
    held = connection.execute(
        sa.select(References.c.referenced_id)
        .join(Documents, Documents.c.id == References.c.referenced_id)
        .where(References.c.document_id.in_(ids), Documents.c.is_anonymous)
        .distinct()
    ).scalars()
    held = set(held)
    connection.execute(References.delete().where(References.c.document_id.in_(ids)))
    connection.execute(Versions.delete().where(Versions.c.document_id.in_(ids)))
    connection.execute(Documents.delete().where(Documents.c.id.in_(ids)))
    still_used = set(
        connection.execute(
            sa.select(References.c.referenced_id).where(References.c.referenced_id.in_(held))
        ).scalars()
    )
    orphans = held - still_used
    if orphans:
        _delete_documents(connection, orphans)
