"""API keys: who may use the server, and for what. A key is shown once, when it is created,
and kept only as a slow hash (scrypt), so a copy of the store gives no one access."""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from plait.exceptions import ParameterError

KEY_PREFIX = "plait_"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # ~16 MiB and tens of ms per check


class Scope(enum.StrEnum):
    """What a key may do; each scope includes the ones before it."""

    READ = "read"  # runs, logs, blocks without their secrets
    WRITE = "write"  # report runs, save blocks, trigger work
    ADMIN = "admin"  # read secrets, manage keys

    def allows(self, needed: Scope) -> bool:
        order = list(Scope)
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A key as the store knows it: never the key itself."""

    id: str
    name: str
    scope: Scope
    created: datetime
    revoked: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just made: its lookup id (stored), its secret (never stored) and the key a
    client sends, ``plait_<lookup>_<secret>``."""

    lookup: str
    secret: str

    @classmethod
    def generate(cls) -> NewKey:
        return cls(secrets.token_hex(6), secrets.token_urlsafe(32))

    @property
    def token(self) -> str:
        return f"{KEY_PREFIX}{self.lookup}_{self.secret}"


def split_token(token: str) -> tuple[str, str] | None:
    """A sent key's lookup id and secret; None if it is not shaped like a Plait key."""
    lookup, _, secret = token.removeprefix(KEY_PREFIX).partition("_")
    if not token.startswith(KEY_PREFIX) or len(lookup) != 12 or not secret:
        return None
    return lookup, secret


def key_hash(secret: str, salt: bytes) -> bytes:
    """The slow hash a key is kept as."""
    return hashlib.scrypt(secret.encode(), salt=salt, dklen=32, **_SCRYPT)


def checked_name(name: str) -> str:
    """``name`` if it can name a key."""
    if not NAME_PATTERN.match(name):
        raise ParameterError(
            f"API key name {name!r} is not valid: use 1 to 64 letters, digits, '_', '.' or "
            "'-', starting with a letter or digit (e.g. ci-reporter)."
        )
    return name


class ApiKeys(ABC):
    """The server's API keys, kept in the backend."""

    @abstractmethod
    def create(self, name: str, scope: Scope) -> tuple[ApiKeyRecord, str]:
        """A new key named ``name``; returns its record and the key (shown once)."""

    @abstractmethod
    def list(self) -> list[ApiKeyRecord]:
        """Every key, revoked ones included, oldest first."""

    @abstractmethod
    def revoke(self, name: str) -> ApiKeyRecord:
        """Revoke the key named ``name``: it is refused from now on."""

    @abstractmethod
    def any_created(self) -> bool:
        """Whether a key was ever created: from then on the server requires one (revoking
        the last key does not open it again)."""

    @abstractmethod
    def authenticate(self, token: str) -> ApiKeyRecord | None:
        """The active key ``token`` is, or None."""
