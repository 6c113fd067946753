"""The Block model: typed configuration that can be saved by name and loaded anywhere.

A block type is a pydantic model. It describes itself with class variables
(``_block_type_slug``, ``_description``, ``_documentation_url``, ``_code_example``,
``_block_schema_version``), and its fields give its JSON schema. Secret fields (``SecretStr``,
``SecretBytes``, ``SecretDict``) are masked everywhere and encrypted when saved.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import inspect
import json
import os
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from pydantic import BaseModel, ConfigDict, PrivateAttr

from plait.blocks import registry
from plait.blocks.documents import SavedAs, build, mark_saved, plan, split
from plait.blocks.fields import SECRET_TYPES
from plait.exceptions import BlockError

if TYPE_CHECKING:
    from plait.backend.documents import BlockSchemaRecord, BlockTypeRecord

T = TypeVar("T")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
CAPABILITIES = {  # method -> capability
    "read_path": "read-path",
    "write_path": "write-path",
    "notify": "notify",
    "check": "check",
}


@dataclass(frozen=True)
class CheckResult:
    """What ``check()`` found: whether the block works, why not, and the round trip's
    latency in seconds."""

    ok: bool
    message: str
    latency: float

    @classmethod
    def measure(cls, round_trip: Callable[[], str]) -> CheckResult:
        """Time ``round_trip`` (which returns a success message); an exception it raises
        becomes a failed result naming the exception."""
        started = time.perf_counter()
        try:
            message = round_trip()
        except Exception as exc:
            return cls(False, f"{type(exc).__name__}: {exc}", time.perf_counter() - started)
        return cls(True, message, time.perf_counter() - started)


class hybridmethod:
    """A method with one meaning on the class and another on instances: ``S3Bucket.list()``
    lists saved blocks, while ``bucket.list("prefix/")`` lists files. Subclasses give the
    instance meaning with ``@instance_list``."""

    def __init__(self, on_class: Callable[..., Any], on_instance: Callable[..., Any] | None = None):
        self.on_class = on_class
        self.on_instance = on_instance
        self.__doc__ = on_class.__doc__

    @property
    def __isabstractmethod__(self) -> bool:
        return getattr(self.on_instance, "__isabstractmethod__", False)

    def __get__(self, instance: Any, owner: type) -> Callable[..., Any]:
        if instance is None or self.on_instance is None:
            return self.on_class.__get__(owner, owner)
        return self.on_instance.__get__(instance, owner)


class Block(BaseModel):
    """Typed, saved configuration: credentials, storage, notifications.

    Subclass it, declare fields, and set the class variables that describe the type. Save
    an instance once (``AwsCredentials(...).save("prod")``) and load it by name in any flow
    (``AwsCredentials.load("prod")``, or ``Block.load("aws-credentials/prod")``).
    """

    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        hide_input_in_errors=True,  # a bad secret value must never appear in an error
        ignored_types=(hybridmethod,),
    )

    _block_type_slug: ClassVar[str | None] = None
    _description: ClassVar[str | None] = None
    _documentation_url: ClassVar[str | None] = None
    _code_example: ClassVar[str | None] = None
    _block_schema_version: ClassVar[int] = 1

    _saved: SavedAs | None = PrivateAttr(default=None)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if registry.is_concrete(cls):
            registry.register(cls)

    def __eq__(self, other: object) -> bool:
        """Blocks are equal when their types and field values are (where they were saved
        does not matter)."""
        if not isinstance(other, BaseModel):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__

    # -- describing the type --------------------------------------------------------------

    @classmethod
    def get_block_type_slug(cls) -> str:
        """The type's slug: ``_block_type_slug``, or the class name in kebab case."""
        return (
            cls.__dict__.get("_block_type_slug")
            or re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", cls.__name__).lower()
        )

    @classmethod
    def get_description(cls) -> str:
        """``_description``, or the class docstring's first paragraph."""
        text = cls._description or inspect.cleandoc(cls.__dict__.get("__doc__") or "")
        return text.split("\n\n")[0].replace("\n", " ").strip()

    @classmethod
    def get_documentation_url(cls) -> str | None:
        return cls._documentation_url

    @classmethod
    def get_code_example(cls) -> str:
        """``_code_example``, or how to load a saved block of this type."""
        if cls._code_example:
            return inspect.cleandoc(cls._code_example)
        variable = cls.get_block_type_slug().replace("-", "_")
        return (
            f"from {cls.__module__} import {cls.__name__}\n\n"
            f'{variable} = {cls.__name__}.load("BLOCK_NAME")'
        )

    @classmethod
    def get_block_schema_version(cls) -> int:
        return cls._block_schema_version

    @classmethod
    def get_block_schema(cls) -> dict[str, Any]:
        """The fields' JSON schema, with the slug, schema version and secret fields."""
        schema = cls.model_json_schema()
        schema["block_type_slug"] = cls.get_block_type_slug()
        schema["block_schema_version"] = cls.get_block_schema_version()
        schema["secret_fields"] = sorted(
            name for name, info in cls.model_fields.items() if _mentions_secret(info.annotation)
        )
        return schema

    @classmethod
    def get_schema_checksum(cls) -> str:
        """A digest of the JSON schema that does not depend on the order of the fields."""
        canonical = json.dumps(_canonical(cls.get_block_schema()), sort_keys=True)
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()

    @classmethod
    def get_capabilities(cls) -> list[str]:
        """What the type can do (``read-path``, ``write-path``, ``notify``, ``check``):
        the capability methods it implements."""
        return sorted(
            capability
            for method, capability in CAPABILITIES.items()
            if callable(getattr(cls, method, None))
            and not getattr(getattr(cls, method), "__isabstractmethod__", False)
        )

    @classmethod
    def migrate(cls, data: dict[str, Any], from_version: int) -> dict[str, Any]:
        """Upgrade a saved document's field values from an older schema version to
        ``_block_schema_version``; called on load. Override it when a new version renames,
        splits or retypes fields. The default returns ``data`` unchanged."""
        return data

    @classmethod
    def block_type_record(cls) -> BlockTypeRecord:
        """What the store records of this type (and which package provides it)."""
        from plait.backend.documents import BlockTypeRecord

        return BlockTypeRecord(
            slug=cls.get_block_type_slug(),
            class_path=f"{cls.__module__}:{cls.__qualname__}",
            package=registry.package_of(cls),
            description=cls.get_description(),
            documentation_url=cls.get_documentation_url(),
            code_example=cls.get_code_example(),
        )

    @classmethod
    def block_schema_record(cls) -> BlockSchemaRecord:
        """What the store records of this type's current schema."""
        from plait.backend.documents import BlockSchemaRecord

        return BlockSchemaRecord(
            checksum=cls.get_schema_checksum(),
            version=cls.get_block_schema_version(),
            fields=cls.get_block_schema(),
            capabilities=cls.get_capabilities(),
        )

    # -- saving and loading ---------------------------------------------------------------

    def save(self, name: str, overwrite: bool = False) -> int:
        """Save this block as ``name`` and return the saved version number. An existing
        block of that name is an error unless ``overwrite``; its older versions are kept."""
        from plait.backend import get_backend

        cls = type(self)
        if not registry.is_concrete(cls):
            raise BlockError(f"{cls.__name__} is an interface; save a block type built on it.")
        check_name(name)
        documents = get_backend().block_documents()
        planned = plan(self, name, documents)
        saved = documents.save([version for _, version in planned], overwrite)
        for (block, _), stored in zip(planned, saved, strict=True):
            mark_saved(block, stored)
        return saved[-1].version

    async def asave(self, name: str, overwrite: bool = False) -> int:
        """``save`` for async code (runs in a worker thread)."""
        return await asyncio.to_thread(self.save, name, overwrite)

    @classmethod
    def load(cls, name: str, version: int | None = None) -> Self:
        """A saved block: ``AwsCredentials.load("prod")``, or through any base class with
        its slug, ``Block.load("aws-credentials/prod")``. ``version`` picks an older one."""
        from plait.backend import get_backend

        slug, name = cls._parse_name(name)
        documents = get_backend().block_documents()
        target = cls if slug == cls._own_slug() else registry.lookup(slug, documents)
        if not issubclass(target, cls):
            raise BlockError(
                f"{slug}/{name} is a {target.__name__}, which is not a {cls.__name__}."
            )
        return build(target, documents.read(slug, name, version), documents)  # type: ignore[return-value]

    @classmethod
    async def aload(cls, name: str, version: int | None = None) -> Self:
        """``load`` for async code (runs in a worker thread)."""
        return await asyncio.to_thread(cls.load, name, version)

    @classmethod
    def delete(cls, name: str) -> None:
        """Delete a saved block and all its versions (refused while another block uses it)."""
        from plait.backend import get_backend

        get_backend().block_documents().delete(*cls._parse_name(name))

    @classmethod
    def _list_saved(cls) -> builtins.list[str]:
        """The names of the saved blocks of this type (``slug/name`` on ``Block``)."""
        from plait.backend import get_backend

        slug = cls._own_slug()
        documents = get_backend().block_documents().list(slug)
        if slug is None:
            return [f"{d.slug}/{d.name}" for d in documents]
        return [d.name for d in documents]

    list = hybridmethod(_list_saved)

    @classmethod
    def _own_slug(cls) -> str | None:
        return cls.get_block_type_slug() if registry.is_concrete(cls) and cls is not Block else None

    @classmethod
    def _parse_name(cls, name: str) -> tuple[str, str]:
        """``slug/name`` or, on a concrete block type, ``name`` alone."""
        if not isinstance(name, str):
            raise BlockError(f"A block name must be a string, got {type(name).__name__}.")
        slug, _, short = name.rpartition("/")
        if slug and not NAME_PATTERN.fullmatch(slug):
            raise BlockError(
                f"Block name {name!r} is not valid: give 'slug/name' (e.g. 'secret/api-token'), "
                "each part 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or "
                "digit."
            )
        own = cls._own_slug()
        if not slug:
            if own is None:
                raise BlockError(
                    f"{cls.__name__}.load needs 'slug/name' (e.g. 'secret/{name}'): "
                    f"{cls.__name__} is not one block type."
                )
            slug = own
        check_name(short)
        return slug, short


class CredentialsBlock(Block, ABC):
    """Credentials for a service. Every credentials block implements ``check()``: a real
    round trip that says whether the credentials work, and if not, why."""

    @abstractmethod
    def check(self) -> CheckResult:
        """Make one cheap authenticated call to the service and report the outcome."""

    def cached_client(self, name: str, build: Callable[[], T]) -> T:
        """The client ``build`` makes, built once per credentials (secrets included),
        ``name`` and process: SDK clients are thread-safe and costly to build, but must not
        cross a fork. Integrations use it for their ``get_client`` methods."""
        key = (type(self).__qualname__, split(self).digest(), os.getpid(), name)
        client = _clients.get(key)
        if client is None:
            with _clients_lock:
                client = _clients.get(key)
                if client is None:
                    client = _clients[key] = build()
        return client


_clients: dict[tuple[str, str, int, str], Any] = {}
_clients_lock = threading.Lock()


def instance_list(method: Callable[..., Any]) -> hybridmethod:
    """Decorator: make ``method`` what ``list`` means on instances of a block type, while
    ``BlockType.list()`` on the class still lists its saved blocks."""
    return hybridmethod(Block.__dict__["_list_saved"], method)


def check_name(name: str) -> None:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise BlockError(
            f"Block name {name!r} is not valid: use 1 to 128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. 'prod' or 'data-team')."
        )


def _mentions_secret(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, SECRET_TYPES):
        return True
    return any(_mentions_secret(arg) for arg in getattr(annotation, "__args__", ()))


def _canonical(value: Any) -> Any:
    """``value`` with every ``required`` list sorted, so field order does not matter."""
    if isinstance(value, dict):
        return {
            key: sorted(item) if key == "required" else _canonical(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value
