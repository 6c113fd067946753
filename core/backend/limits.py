"""Concurrency limits, as the backend keeps them: a named number of slots shared by every
process on every host, taken as leases.

A limit named like a tag holds task runs with that tag (at most ``limit`` of them run at
once); any limit can be taken from code with ``plait.concurrency``. A lease holds slots of
one or more limits, all or none, until it is released or its time to live runs out without
being renewed: so a killed process frees its slots by itself. Expiry is judged by the clock
of whoever writes the leases (the server, in client mode, so clients' clocks do not matter).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from plait.exceptions import ParameterError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
MAX_SLOTS = 1_000_000


@dataclass(frozen=True)
class LimitRecord:
    name: str
    limit: int
    active: int  # slots held by unexpired leases
    created: datetime


@dataclass(frozen=True)
class Holdup:
    """Why a lease was not granted: the limit whose slots are taken."""

    name: str
    limit: int
    active: int

    def describe(self) -> str:
        return f"concurrency limit {self.name!r} ({self.active} of {self.limit} slots in use)"


@dataclass(frozen=True)
class Lease:
    id: str
    names: tuple[str, ...]
    occupy: int


def checked_limit_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise ParameterError(
            f"Concurrency limit name {name!r} is not valid: use 1-128 letters, digits and "
            "_ . : -, starting with a letter or digit (a task tag, e.g. db)."
        )
    return name


def checked_slots(value: int, what: str = "limit", least: int = 0) -> int:
    """``value`` if it is a whole number of slots from ``least`` to ``MAX_SLOTS``."""
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= MAX_SLOTS:
        raise ParameterError(
            f"{what} must be a whole number from {least} to {MAX_SLOTS:,}; got {value!r}."
        )
    return value


class ConcurrencyLimits(ABC):
    """The concurrency limits and their leases."""

    @abstractmethod
    def set(self, name: str, limit: int) -> LimitRecord:
        """Create the limit ``name`` with ``limit`` slots, or change its number of slots (a
        lower number lets the leases already held run out; 0 holds everything)."""

    @abstractmethod
    def list(self) -> list[LimitRecord]:
        """Every limit, by name, with its slots in use."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Delete a limit (what waits on it goes ahead); an unknown name raises
        ``ConcurrencyLimitNotFoundError``."""

    @abstractmethod
    def acquire(
        self, names: list[str], occupy: int, holder: str, ttl_seconds: float
    ) -> Lease | Holdup:
        """Take ``occupy`` slots of each limit in ``names`` (existing limits only: the others
        are ignored) at once, leased to ``holder`` for ``ttl_seconds``; or, if one has too
        few free, take nothing and say which. A lease on no existing limit has no names."""

    @abstractmethod
    def renew(self, lease_ids: list[str], ttl_seconds: float) -> None:
        """Extend these leases by ``ttl_seconds`` from now (their holder is alive)."""

    @abstractmethod
    def release(self, lease_ids: list[str]) -> None:
        """Give these leases' slots back."""
