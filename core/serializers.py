"""How task and flow results become bytes for result storage, and back.

Stored bytes start with a header naming the serializer and compression, such as
``b"plait:json\\n"`` or ``b"plait:pickle:gzip\\n"``, so ``loads_any`` can read any stored
result without knowing how it was written. The header is ASCII and ends at the first newline.

Choose a serializer per flow or task with ``result_serializer=``: ``"pickle"`` (most Python
objects, fast), ``"cloudpickle"`` (also lambdas and functions or classes defined inside
functions), ``"json"`` (readable; loading it only imports the pydantic model classes it
names), each optionally compressed: ``"json+gzip"``, ``"pickle+lzma"``. A value holding
secrets (pydantic's secret types) is written encrypted by the pickling serializers, as
``cloudpickle-encrypted``, and refused by ``json``. The serializers
import pydantic, cloudpickle and the compression modules only when used, so importing this
module stays cheap.
"""

from __future__ import annotations

import abc
import base64
import copyreg
import importlib
import io
import json
import operator
import pickle
import reprlib
import sys
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

from plait.exceptions import EncryptionKeyError, InvalidOptionError, SerializationError

COMPRESSIONS = ("gzip", "zlib", "bz2", "lzma")
"""Compression methods, each the stdlib module of that name (``compress``/``decompress``)."""

_MAGIC = b"plait:"
_MAX_HEADER = 64
_USE_CLOUDPICKLE = "use result_serializer='cloudpickle' for arbitrary Python objects"


class Serializer(abc.ABC):
    """Turns a result into bytes and back. ``dumps`` writes the header and compresses;
    subclasses only implement ``encode`` and ``decode`` for the uncompressed body."""

    name: ClassVar[str]
    """Short name written in the header (no ``:`` or newline), such as ``"json"``."""

    def __init__(self, compression: str | None = None) -> None:
        if compression is not None and compression not in COMPRESSIONS:
            choices = ", ".join(repr(c) for c in COMPRESSIONS)
            raise InvalidOptionError(
                f"{type(self).__name__}: compression must be one of {choices} or None; "
                f"got {compression!r}."
            )
        self.compression = compression
        suffix = f":{compression}" if compression else ""
        self._header = f"plait:{self.name}{suffix}\n".encode("ascii")

    def __repr__(self) -> str:
        args = f"compression={self.compression!r}" if self.compression else ""
        return f"{type(self).__name__}({args})"

    @abc.abstractmethod
    def encode(self, value: Any) -> bytes:
        """The body for ``value``; raises ``SerializationError`` naming what cannot be stored."""

    @abc.abstractmethod
    def decode(self, body: bytes) -> Any:
        """The value ``encode`` turned into ``body``."""

    def dumps(self, value: Any) -> bytes:
        """``value`` as header + (compressed) body."""
        return self.frame(self.encode(value))

    def frame(self, body: bytes) -> bytes:
        """Stored bytes for an encoded ``body``: the header, then the (compressed) body."""
        if self.compression:
            body = _compress(self.compression, body)
        return self._header + body

    def loads(self, data: bytes) -> Any:
        """The value in ``data`` written by this serializer, whatever its compression (the
        header says); data written by another serializer is refused, not guessed at."""
        name, compression, body = _read_header(data)
        if name != self.name:
            raise SerializationError(
                f"the data was written by the {name!r} serializer, not {self.name!r}; "
                "read it with plait.serializers.loads_any()."
            )
        return self._load(compression, body)

    def _load(self, compression: str | None, body: bytes) -> Any:
        if compression:
            body = _decompress(compression, body)
        try:
            return self.decode(body)
        except (SerializationError, EncryptionKeyError):
            raise
        except Exception as exc:
            raise SerializationError(
                f"{self.name} could not load the stored data ({type(exc).__name__}: {exc})."
            ) from exc


class _PicklingSerializer(Serializer):
    """A pickle-based serializer. A value holding secrets (pydantic ``SecretStr``,
    ``SecretBytes``, ``Secret``, and so Plait's ``SecretDict``) is written encrypted, as
    ``cloudpickle-encrypted`` data, whichever of these was chosen: secrets never reach result
    storage in the clear. Secrets are noticed while pickling (see ``_SecretWatch``), so a value
    without them is pickled once, as before, and cryptography is not imported."""

    hint: ClassVar[str]
    """What to do instead, for the error when the value cannot be pickled."""

    @abc.abstractmethod
    def pickler(self) -> type[pickle.Pickler]:
        """The ``Pickler`` class to pickle with."""

    def encode(self, value: Any) -> bytes:
        return self._pickle(value)[0]

    def dumps(self, value: Any) -> bytes:
        body, holds_secrets = self._pickle(value)
        if holds_secrets:
            return EncryptedCloudpickleSerializer(self.compression).frame(encrypt(body))
        return self.frame(body)

    def _pickle(self, value: Any) -> tuple[bytes, bool]:
        """The pickled ``value``, and whether it holds secrets."""
        buffer = io.BytesIO()
        pickler, watch = _SecretWatch.pickler(self.pickler(), buffer)
        try:
            pickler.dump(value)
        except Exception as exc:
            raise SerializationError(
                f"{self.name} cannot serialize the result ({exc}); {self.hint}."
            ) from exc
        body = buffer.getvalue()
        if watch is None:
            return body, False
        # A backstop for the watch: a secret type's name is in the pickle of any value that
        # holds one (pickled by reference, or its class by value). A value that merely holds
        # the text "Secret" is encrypted too, which costs a little and loses nothing.
        return body, watch.found or _SECRET_MARK in body


class PickleSerializer(_PicklingSerializer):
    """Standard-library pickle at its highest protocol: most Python objects, fast."""

    name = "pickle"
    hint = (
        "use result_serializer='cloudpickle', which also stores lambdas and functions or "
        "classes defined inside functions"
    )

    def pickler(self) -> type[pickle.Pickler]:
        return pickle.Pickler

    def decode(self, body: bytes) -> Any:
        return pickle.loads(body)


class CloudpickleSerializer(_PicklingSerializer):
    """cloudpickle: like pickle, and also lambdas and functions or classes defined inside
    functions (by value). Loading needs cloudpickle installed."""

    name = "cloudpickle"
    hint = "return a value without open connections, locks, files or other live resources"

    def pickler(self) -> type[pickle.Pickler]:
        import cloudpickle

        return cloudpickle.Pickler

    def decode(self, body: bytes) -> Any:
        import cloudpickle

        return cloudpickle.loads(body)


class JsonSerializer(Serializer):
    """UTF-8 JSON that keeps types plain JSON lacks; unlike pickle, loading it runs no code
    stored in the data (it imports only the pydantic model classes named in it).

    dict (string keys), list, str, int, float, bool and None are written as they are.
    tuple, set, frozenset, datetime, date, UUID, Decimal, Path and bytes are written as
    ``{"$type": "<tag>", "value": ...}``, and pydantic models as
    ``{"$type": "pydantic", "class": "module:QualName", "value": model_dump(mode="json",
    by_alias=True)}``, loaded back with ``model_validate``. Subclasses of these types come
    back as the type they were written as (an OrderedDict as a dict, a namedtuple as a
    tuple); a dict that has a ``"$type"`` key of its own is written as
    ``{"$type": "dict", "items": [[key, value], ...]}``.
    """

    name = "json"

    def encode(self, value: Any) -> bytes:
        try:
            tree = _to_json(value)
        except _Unencodable as exc:
            raise SerializationError(exc.message()) from None
        except RecursionError:
            raise SerializationError(
                f"json cannot serialize the result: it is nested too deeply or contains "
                f"itself; {_USE_CLOUDPICKLE}."
            ) from None
        text = json.dumps(tree, ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8", "surrogatepass")

    def decode(self, body: bytes) -> Any:
        return json.loads(body.decode("utf-8", "surrogatepass"), object_hook=_from_json)


class _SecretWatch(dict):
    """A pickler's dispatch table that notes when an instance of a secret type is pickled,
    and otherwise answers as the pickler's own table (``base``) would. The pickler looks a
    type up here only for objects it has no built-in path for (not str, int, list, dict, ...),
    and each type reaches ``__missing__`` once per dump, so values without secrets cost next
    to nothing."""

    def __init__(self, base: Mapping[type, Any], secret_types: tuple[type, ...]) -> None:
        super().__init__()
        self.base = base
        self.secret_types = secret_types
        self.found = False

    @classmethod
    def pickler(
        cls, pickler_class: type[pickle.Pickler], file: io.BytesIO
    ) -> tuple[pickle.Pickler, _SecretWatch | None]:
        """A pickler writing to ``file``, and the watch on it (None when no secret type is
        even imported). The table is set before ``__init__``, which is when a pickler reads
        it."""
        pickler = pickler_class.__new__(pickler_class)
        secret_types = _secret_types()
        watch = None
        if secret_types:
            base = getattr(pickler_class, "dispatch_table", None)
            if not isinstance(base, Mapping):  # the C pickler's slot: none set, copyreg's
                base = copyreg.dispatch_table
            watch = pickler.dispatch_table = cls(base, secret_types)
        pickler.__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        return pickler, watch

    def __missing__(self, cls: type) -> Callable[[Any], Any]:
        if issubclass(cls, self.secret_types):
            reduce: Callable[[Any], Any] = self._noted
        elif cls in self.base:
            reduce = self.base[cls]
        elif issubclass(cls, type):  # a class of a metaclass: the pickler saves it by name
            raise KeyError(cls)
        else:  # what the pickler does for a type without an entry, kept for this dump
            reduce = _REDUCE_EX
        self[cls] = reduce
        return reduce

    def _noted(self, obj: Any) -> Any:
        self.found = True
        return _REDUCE_EX(obj)


_SECRET_MARK = b"Secret"  # in SecretStr, SecretBytes, Secret[...] and their subclasses' names
_REDUCE_EX = operator.methodcaller("__reduce_ex__", pickle.HIGHEST_PROTOCOL)


_SECRET_TYPES: tuple[type, ...] = ()


def _secret_types() -> tuple[type, ...]:
    """pydantic's secret types, once pydantic is imported (before, no value can hold one)."""
    global _SECRET_TYPES
    if not _SECRET_TYPES and "pydantic" in sys.modules:
        from pydantic import Secret, SecretBytes, SecretStr

        _SECRET_TYPES = (SecretStr, SecretBytes, Secret)
    return _SECRET_TYPES


class EncryptedCloudpickleSerializer(CloudpickleSerializer):
    """cloudpickle, encrypted with the key that protects saved blocks (``PLAIT_ENCRYPTION_KEY``
    or ``$PLAIT_HOME/encryption.key``), whether or not the value holds secrets. The other
    pickling serializers switch to it by themselves for values holding secret types; choose it
    for values whose secrets are plain strings. Reading needs the same key; the data names the
    key's fingerprint, so a missing or wrong key is reported by name."""

    name = "cloudpickle-encrypted"

    def encode(self, value: Any) -> bytes:
        return encrypt(super().encode(value))

    def dumps(self, value: Any) -> bytes:
        return self.frame(self.encode(value))

    def decode(self, body: bytes) -> Any:
        return super().decode(decrypt(body))


def encrypt(body: bytes) -> bytes:
    """``body`` encrypted with the block documents' writing key (made on first use, as saving a
    block would), as ``<key fingerprint>:<Fernet token>``."""
    from plait.backend import get_backend

    keyring = get_backend().block_documents().keyring_for_writing()
    return f"{keyring.current_fingerprint}:{keyring.encrypt(body)}".encode("ascii")


def decrypt(body: bytes) -> bytes:
    """What ``encrypt`` made ``body`` from; a missing or wrong key raises
    ``EncryptionKeyError`` naming the key it needs and how to restore it."""
    from plait.encryption import load_keyring
    from plait.settings import load_settings

    saved_with, _, token = body.decode("ascii").rpartition(":")  # older data: no fingerprint
    return load_keyring(load_settings()).decrypt(token, saved_with or None, "a stored result")


SERIALIZERS: dict[str, type[Serializer]] = {
    "pickle": PickleSerializer,
    "cloudpickle": CloudpickleSerializer,
    "cloudpickle-encrypted": EncryptedCloudpickleSerializer,
    "json": JsonSerializer,
}
"""The serializers ``resolve_serializer`` and ``loads_any`` know by name."""


def resolve_serializer(value: Any, owner: str) -> Serializer:
    """The serializer for a ``result_serializer=`` option: an instance, or a name such as
    ``"json"`` optionally with compression (``"json+gzip"``). ``owner`` names the flow or task
    in the error, such as ``"Task 'transform'"``."""
    if isinstance(value, Serializer):
        return value
    if isinstance(value, str):
        name, plus, compression = value.partition("+")
        if name in SERIALIZERS and (not plus or compression in COMPRESSIONS):
            return SERIALIZERS[name](compression or None)
    names = ", ".join(repr(name) for name in SERIALIZERS)
    compressions = ", ".join(repr(c) for c in COMPRESSIONS)
    raise InvalidOptionError(
        f"{owner}: result_serializer must be a Serializer instance or one of {names}, "
        f"optionally with compression {compressions} as in 'json+gzip'; got {value!r}."
    )


def loads_any(data: bytes) -> Any:
    """The value in ``data`` written by any serializer in ``SERIALIZERS``, read from its header."""
    name, compression, body = _read_header(data)
    if name not in SERIALIZERS:
        names = ", ".join(repr(name) for name in SERIALIZERS)
        raise SerializationError(
            f"the data was written by an unknown serializer {name!r} (known: {names})."
        )
    return SERIALIZERS[name]()._load(compression, body)


def written_by(data: bytes) -> str:
    """The serializer label in stored bytes' header, such as ``"json+gzip"``: what wrote them,
    which for a value holding secrets is ``cloudpickle-encrypted`` whatever was chosen."""
    end = data.find(b"\n", 0, _MAX_HEADER)
    return data[len(_MAGIC) : end].decode("ascii").replace(":", "+")


def _read_header(data: bytes) -> tuple[str, str | None, bytes]:
    """``(serializer name, compression or None, body)`` from stored bytes."""
    if not isinstance(data, bytes | bytearray):
        raise SerializationError(f"stored data must be bytes, not {type(data).__name__!r}.")
    end = data.find(b"\n", 0, _MAX_HEADER)
    fields = data[len(_MAGIC) : end].split(b":") if data.startswith(_MAGIC) and end > 0 else []
    if not 1 <= len(fields) <= 2 or not all(field.isascii() for field in fields):
        raise SerializationError(
            "the data is not a stored Plait result: it should start with a header such as "
            f"b'plait:json\\n' but starts with {bytes(data[:24])!r}."
        )
    name = fields[0].decode("ascii")
    compression = fields[1].decode("ascii") if len(fields) == 2 else None
    if compression is not None and compression not in COMPRESSIONS:
        choices = ", ".join(repr(c) for c in COMPRESSIONS)
        raise SerializationError(
            f"the data header names an unknown compression {compression!r} (known: {choices})."
        )
    return name, compression, bytes(data[end + 1 :])


def _compress(method: str, body: bytes) -> bytes:
    module = importlib.import_module(method)
    if method == "gzip":  # zlib's default level (gzip's own, 9, is much slower for little gain);
        return module.compress(body, compresslevel=6, mtime=0)  # mtime=0: same value, same bytes
    return module.compress(body)


def _decompress(method: str, body: bytes) -> bytes:
    try:
        return importlib.import_module(method).decompress(body)
    except Exception as exc:
        raise SerializationError(
            f"the data could not be decompressed with {method}; it is truncated or corrupted "
            f"({type(exc).__name__}: {exc})."
        ) from exc


def _type_name(value: Any) -> str:
    cls = type(value)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


class _Unencodable(Exception):
    """Raised inside ``_to_json``; each container appends its key or index while unwinding."""

    def __init__(self, what: str, why: str = "") -> None:
        self.what = what
        self.why = why
        self.path: list[str | int] = []

    def message(self) -> str:
        where = "".join(f"[{step!r}]" for step in reversed(self.path))
        at = f" (at result{where})" if where else ""
        return f"json cannot serialize {self.what}{at}{self.why}; {_USE_CLOUDPICKLE}."


_TAGGED: tuple[tuple[type, str, Callable[[Any], Any]], ...] = (
    (datetime, "datetime", datetime.isoformat),  # before date: a datetime is a date
    (date, "date", date.isoformat),
    (UUID, "uuid", str),
    (Decimal, "decimal", str),
    (Path, "path", str),
    (bytes, "bytes", lambda data: base64.b64encode(data).decode("ascii")),
)

_UNTAG: dict[str, Callable[[Any], Any]] = {
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "uuid": UUID,
    "decimal": Decimal,
    "path": Path,
    "bytes": base64.b64decode,
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
}


def _to_json(value: Any) -> Any:
    """``value`` as plain JSON data, with the tagged encoding described on ``JsonSerializer``."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, dict):
        return _dict_to_json(value)
    if isinstance(value, list):
        return _items_to_json(value)
    if isinstance(value, tuple):
        return {"$type": "tuple", "value": _items_to_json(value)}
    if isinstance(value, set | frozenset):
        tag = "frozenset" if isinstance(value, frozenset) else "set"
        return {"$type": tag, "value": [_to_json(item) for item in value]}
    for cls, tag, to_json in _TAGGED:
        if isinstance(value, cls):
            return {"$type": tag, "value": to_json(value)}
    # A pydantic model exists only if pydantic is imported already: no import needed to check.
    pydantic_main = sys.modules.get("pydantic.main")
    if pydantic_main is not None and isinstance(value, pydantic_main.BaseModel):
        return _model_to_json(value)
    if isinstance(value, _secret_types()):
        raise _Unencodable(f"the secret value of type {_type_name(value)!r}", _NO_JSON_SECRETS)
    raise _Unencodable(f"a value of type {_type_name(value)!r}")


_NO_JSON_SECRETS = (
    ": json would write secrets in the clear (or masked, losing them); the default serializer "
    "('cloudpickle') encrypts results holding secrets with the block encryption key"
)


def holds_secret(value: Any) -> bool:
    """Whether ``value`` holds a pydantic secret (``SecretStr``, ...), itself or in its items
    or in a pydantic model's fields (which ``model_dump`` would mask)."""
    if isinstance(value, _secret_types()):
        return True
    if isinstance(value, dict):
        return any(holds_secret(item) for item in value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return any(holds_secret(item) for item in value)
    fields = getattr(type(value), "__pydantic_fields__", None)
    return fields is not None and any(holds_secret(getattr(value, name)) for name in fields)


def _dict_to_json(value: dict[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise _Unencodable(
                f"the dict key {reprlib.repr(key)} of type {_type_name(key)!r}",
                ", as json keys must be strings",
            )
        try:
            out[key] = _to_json(item)
        except _Unencodable as exc:
            exc.path.append(key)
            raise
    if "$type" in out:
        return {"$type": "dict", "items": list(out.items())}
    return out


def _items_to_json(items: list[Any] | tuple[Any, ...]) -> list[Any]:
    out: list[Any] = []
    try:
        for item in items:
            out.append(_to_json(item))
    except _Unencodable as exc:
        exc.path.append(len(out))
        raise
    return out


def _model_to_json(model: Any) -> dict[str, Any]:
    cls = type(model)
    if _find(sys.modules.get(cls.__module__), cls.__qualname__) is not cls:
        raise _Unencodable(
            f"the pydantic model {cls.__qualname__!r}",
            f": {cls.__module__}:{cls.__qualname__} cannot be imported to load it back "
            "(define the class at module level)",
        )
    if holds_secret(model):
        raise _Unencodable(f"the pydantic model {cls.__qualname__!r}", _NO_JSON_SECRETS)
    try:
        data = model.model_dump(mode="json", by_alias=True)
    except Exception as exc:
        raise _Unencodable(f"the pydantic model {cls.__qualname__!r}", f": {exc}") from None
    return {
        "$type": "pydantic",
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "value": _to_json(data),
    }


def _find(module: Any, qualname: str) -> Any:
    """The object at ``qualname`` inside ``module``, or None."""
    found = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found


def _from_json(obj: dict[str, Any]) -> Any:
    """``json.loads`` object hook: undoes ``_to_json``'s tags (inner values come first)."""
    tag = obj.get("$type")
    if tag is None:
        return obj
    if tag == "dict":
        return dict(obj["items"])
    if tag == "pydantic":
        return _model_from_json(obj["class"], obj["value"])
    untag = _UNTAG.get(tag)
    if untag is None:
        raise SerializationError(f"json data has an unknown '$type' tag {tag!r}.")
    return untag(obj["value"])


def _model_from_json(path: str, data: Any) -> Any:
    from pydantic import BaseModel

    module, _, qualname = path.partition(":")
    cls = _find(importlib.import_module(module), qualname)
    if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
        raise SerializationError(
            f"json data names {path!r} as a pydantic model, but it is not one."
        )
    return cls.model_validate(data)
