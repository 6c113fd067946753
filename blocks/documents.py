"""Turning a block into stored documents and back.

A block is split into plain ``data`` (JSON), ``secrets`` (encrypted by the store) and
nested blocks. A nested block that was saved under a name is stored as a reference to that
document, so re-saving it (rotating a credential) changes every block that holds it; an
unnamed nested block is saved as an anonymous document owned by its parent. Positions are
field paths, kept as JSON lists (``["credentials"]``, ``["targets", 0]``).
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from plait.blocks import registry
from plait.blocks.fields import SECRET_TYPES, conceal, reveal
from plait.exceptions import BlockError, BlockNotFoundError, BlockValidationError

if TYPE_CHECKING:
    from plait.backend.documents import BlockDocuments, NewVersion, StoredVersion
    from plait.blocks.block import Block

Path = list[str | int]


@dataclass(frozen=True)
class SavedAs:
    """Where a block instance was loaded from or saved to, and a digest of its values then
    (to notice a nested block changed since)."""

    document_id: str
    slug: str
    name: str
    is_anonymous: bool
    version: int
    digest: str


@dataclass
class Parts:
    data: dict[str, Any]
    secrets: dict[str, Any] = field(default_factory=dict)
    nested: dict[str, Block] = field(default_factory=dict)

    def digest(self) -> str:
        text = json.dumps([self.data, self.secrets], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def split(block: Block) -> Parts:
    """``block``'s values: plain data with markers where secrets and nested blocks were."""
    parts = Parts(data={})
    parts.data = {
        name: _split_value(getattr(block, name), [name], parts) for name in type(block).model_fields
    }
    return parts


def _split_value(value: Any, path: Path, parts: Parts) -> Any:
    from plait.blocks.block import Block

    if isinstance(value, Block):
        parts.nested[json.dumps(path)] = value
        return {"$block": dotted(path)}
    if isinstance(value, SECRET_TYPES):
        parts.secrets[json.dumps(path)] = reveal(value)
        return {"$secret": dotted(path)}
    if isinstance(value, BaseModel):
        return {
            name: _split_value(getattr(value, name), [*path, name], parts)
            for name in type(value).model_fields
        }
    if isinstance(value, dict):
        return {key: _split_value(item, [*path, key], parts) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_split_value(item, [*path, index], parts) for index, item in enumerate(value)]
    return to_jsonable_python(value)


def dotted(path: Path) -> str:
    return ".".join(str(step) for step in path)


def plan(block: Block, name: str, documents: BlockDocuments) -> list[tuple[Block, NewVersion]]:
    """The versions that saving ``block`` as ``name`` writes: anonymous nested documents
    first, ``block`` last."""
    slug = type(block).get_block_type_slug()
    parent_id = documents.document_id(slug, name)
    children = documents.anonymous_children(parent_id) if parent_id else {}
    planned: list[tuple[Block, NewVersion]] = []
    _plan(block, name, None, children, documents, planned)
    return planned


def _plan(
    block: Block,
    name: str | None,
    document_id: str | None,
    children: dict[str, str],
    documents: BlockDocuments,
    planned: list[tuple[Block, NewVersion]],
) -> NewVersion:
    from plait.backend.documents import NewVersion
    from plait.runs import new_id

    parts = split(block)
    references = {}
    for key, nested in parts.nested.items():
        saved = nested._saved
        if saved is not None and not saved.is_anonymous:
            if split(nested).digest() != saved.digest:
                raise BlockError(
                    f"Field {dotted(json.loads(key))!r} holds the saved block "
                    f"{saved.slug}/{saved.name}, changed since it was loaded. Save it first "
                    f"(.save({saved.name!r}, overwrite=True)), or pass a new, unsaved block."
                )
            references[key] = saved.document_id
            continue
        child_id = children.get(key) or (saved.document_id if saved else None)
        grandchildren = documents.anonymous_children(child_id) if child_id else {}
        child = _plan(nested, None, child_id or new_id(), grandchildren, documents, planned)
        references[key] = child.document_id
    cls = type(block)
    version = NewVersion(
        block_type=cls.block_type_record(),
        schema=cls.block_schema_record(),
        name=name,
        document_id=document_id,
        data=parts.data,
        secrets=parts.secrets,
        references=references,
    )
    planned.append((block, version))
    return version


def mark_saved(block: Block, stored: StoredVersion) -> None:
    block._saved = SavedAs(
        document_id=stored.document_id,
        slug=stored.slug,
        name=stored.name,
        is_anonymous=stored.is_anonymous,
        version=stored.version,
        digest=split(block).digest(),
    )


def build(
    cls: type[Block], stored: StoredVersion, documents: BlockDocuments, chain: tuple[str, ...] = ()
) -> Block:
    """The block a stored version describes, nested blocks included, migrated to ``cls``'s
    schema version and validated. Never returns a half-built block."""
    if stored.document_id in chain:
        raise BlockError(f"{stored.describe()} holds itself through its nested blocks.")
    data = copy.deepcopy(stored.data)
    for key, tagged in stored.secrets.items():
        _put(data, json.loads(key), conceal(tagged))
    for key, referenced_id in stored.references.items():
        try:
            child = documents.read_id(referenced_id)
        except BlockNotFoundError:
            raise BlockNotFoundError(
                f"{stored.describe()} holds, in field {dotted(json.loads(key))!r}, a block that "
                "was deleted. Save it again with a block in that field."
            ) from None
        child_cls = registry.lookup(child.slug, documents)
        nested = build(child_cls, child, documents, (*chain, stored.document_id))
        _put(data, json.loads(key), nested)
    current = cls.get_block_schema_version()
    if stored.schema_version > current:
        raise BlockError(
            f"{stored.describe()} was saved with schema version {stored.schema_version} of "
            f"{cls.__name__}, newer than the installed one ({current}). Upgrade the package "
            f"that provides it{_package_hint(cls)}."
        )
    if stored.schema_version < current:
        data = cls.migrate(data, stored.schema_version)
    try:
        block = cls.model_validate(data)
    except ValidationError as exc:
        problems = "\n  ".join(_describe(error, cls) for error in exc.errors())
        raise BlockValidationError(
            f"{stored.describe()}, saved with schema version {stored.schema_version}, does not "
            f"fit {cls.__name__} (schema version {current}):\n  {problems}\nSave it again with "
            f"valid values, or give {cls.__name__} a migrate() for old versions."
        ) from None
    mark_saved(block, stored)
    return block


def _put(data: dict[str, Any], path: Path, value: Any) -> None:
    target: Any = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


def _describe(error: Any, cls: type[Block]) -> str:
    where = dotted(list(error["loc"])) or "(the document)"
    if error["type"] == "missing":
        return f"{where}: required, but the saved document has no value for it"
    if error["type"] == "extra_forbidden":
        return f"{where}: in the saved document, but {cls.__name__} has no such field"
    return f"{where}: {error['msg']} (the saved value is a {type(error['input']).__name__})"


def _package_hint(cls: type[Block]) -> str:
    package = registry.package_of(cls)
    return f": pip install --upgrade {package}" if package else ""
