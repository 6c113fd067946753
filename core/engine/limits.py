"""Concurrency limits in the engine (``plait.backend.limits`` keeps them).

A task run tagged like a limit waits, Pending with a message that names the limit, until a
slot is free, and holds the slot until it ends. ``concurrency("warehouse", occupy=2)``
does the same for any block of code. Slots are leases the process renews in one background
thread while it holds them, so a killed process frees its slots once their time to live
(``concurrency_lease_seconds``) runs out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from plait.backend import get_backend
from plait.backend.limits import Holdup, Lease, checked_limit_name, checked_slots
from plait.exceptions import ConfigError, ParameterError, RunTimeoutError
from plait.states import Pending

if TYPE_CHECKING:
    from plait.backend import Backend
    from plait.engine.runs import TaskRun

logger = logging.getLogger("plait.engine")

_NAMES_REUSED_FOR = 2.0  # seconds the list of limit names is reused before it is read again
_FIRST_WAIT, _LONGEST_WAIT = 0.05, 1.0  # seconds between attempts at a held-up limit


def _holder(what: str) -> str:
    return f"{what} (pid {os.getpid()} on {socket.gethostname()})"


class _Renewer:
    """Renews every lease this process holds, every third of their time to live, one call
    per backend they were taken from."""

    def __init__(self) -> None:
        self._held: dict[str, Backend] = {}  # lease id -> where it was granted
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, lease: Lease, backend: Backend) -> None:
        with self._lock:
            self._held[lease.id] = backend
            if self._thread is None or not self._thread.is_alive():
                ttl = backend.settings.concurrency_lease_seconds
                self._thread = threading.Thread(
                    target=self._run, args=(ttl,), name="plait-lease-renewer", daemon=True
                )
                self._thread.start()

    def let_go(self, lease: Lease) -> None:
        with self._lock:
            backend = self._held.pop(lease.id, None)
        if backend is not None:
            backend.concurrency_limits().release([lease.id])

    def _run(self, ttl: float) -> None:
        while True:
            time.sleep(ttl / 3)
            with self._lock:
                if not self._held:
                    self._thread = None
                    return
                by_backend: dict[int, tuple[Backend, list[str]]] = {}
                for lease_id, backend in self._held.items():
                    by_backend.setdefault(id(backend), (backend, []))[1].append(lease_id)
            for backend, lease_ids in by_backend.values():
                try:
                    backend.concurrency_limits().renew(lease_ids, ttl)
                except Exception as exc:  # the next round tries again
                    logger.warning("Could not renew %d concurrency slots: %s", len(lease_ids), exc)


_renewer = _Renewer()
_known: tuple[Backend | None, float, frozenset[str]] = (None, 0.0, frozenset())


def _limit_names() -> frozenset[str]:
    """The names of the configured backend's limits, read at most every couple of seconds."""
    global _known
    backend = get_backend()
    read_from, read_at, names = _known
    if read_from is not backend or time.monotonic() - read_at > _NAMES_REUSED_FOR:
        names = frozenset(limit.name for limit in backend.concurrency_limits().list())
        _known = (backend, time.monotonic(), names)
    return names


def _attempts(
    names: list[str],
    occupy: int,
    holder: str,
    timeout_seconds: float | None,
    waiting: Callable[[Holdup], None],
) -> Generator[float, None, Lease]:
    """Ask for the slots until they are granted: yields how long to wait before the next
    attempt (the caller sleeps, in a thread or on an event loop), returns the lease."""
    backend = get_backend()
    limits, ttl = backend.concurrency_limits(), backend.settings.concurrency_lease_seconds
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    delay, told = _FIRST_WAIT, None
    while True:
        granted = limits.acquire(names, occupy, holder, ttl)
        if isinstance(granted, Lease):
            _renewer.hold(granted, backend)
            return granted
        if told != granted.name:
            waiting(granted)
            told = granted.name
        if deadline is not None and time.monotonic() >= deadline:
            raise RunTimeoutError(
                f"No slot was free within {timeout_seconds:g}s: {granted.describe()}."
            )
        yield delay
        delay = min(delay * 1.5, _LONGEST_WAIT)


def _advance(attempts: Generator[float, None, Lease]) -> float | Lease:
    """The next wait, or the lease once ``attempts`` is granted one."""
    try:
        return next(attempts)
    except StopIteration as done:
        return done.value


class Slots:
    """Slots of concurrency limits, held inside ``with`` (or ``async with``)."""

    def __init__(
        self,
        names: list[str],
        occupy: int,
        holder: str,
        timeout_seconds: float | None = None,
        waiting: Callable[[Holdup], None] = lambda holdup: None,
        strict: bool = True,
    ) -> None:
        self._request = (names, occupy, holder, timeout_seconds, waiting)
        self._strict = strict
        self.lease: Lease | None = None

    def __enter__(self) -> Slots:
        attempts = _attempts(*self._request)
        while not isinstance(step := _advance(attempts), Lease):
            time.sleep(step)
        return self._granted(step)

    async def __aenter__(self) -> Slots:
        """As ``with``, asking in a worker thread, so the event loop never waits on I/O."""
        attempts = _attempts(*self._request)
        while not isinstance(step := await asyncio.to_thread(_advance, attempts), Lease):
            await asyncio.sleep(step)
        return self._granted(step)

    def _granted(self, lease: Lease) -> Slots:
        self.lease = lease
        missing = sorted(set(self._request[0]) - set(lease.names))
        if self._strict and missing:
            _renewer.let_go(lease)
            raise ConfigError(
                f"No concurrency limit is named {', '.join(map(repr, missing))}; create it "
                f"with: plait concurrency-limit create {missing[0]} <slots>"
            )
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.lease is not None:
            _renewer.let_go(self.lease)
            self.lease = None

    async def __aexit__(self, *exc_info: Any) -> None:
        await asyncio.to_thread(self.__exit__)


def concurrency(
    names: str | list[str], occupy: int = 1, timeout_seconds: float | None = None
) -> Slots:
    """Hold ``occupy`` slots of each named concurrency limit for a block of code, across
    every process and host: ``with concurrency("warehouse", occupy=2): ...`` (or ``async
    with``). Waits for free slots; ``timeout_seconds`` bounds the wait (then
    ``RunTimeoutError``). The limits must exist: ``plait concurrency-limit create NAME N``."""
    listed = [names] if isinstance(names, str) else list(names)
    if not listed:
        raise ParameterError("concurrency() needs at least one limit name.")
    for name in listed:
        checked_limit_name(name)
    checked_slots(occupy, "occupy", least=1)
    if timeout_seconds is not None and timeout_seconds < 0:
        raise ParameterError(f"timeout_seconds must not be negative; got {timeout_seconds!r}.")
    return Slots(listed, occupy, _holder("concurrency()"), timeout_seconds)


def task_slots(task_run: TaskRun) -> Slots | None:
    """The slots a task run must hold while it runs (one of each limit named like one of
    its tags), or None when no limit names a tag: the common case costs one set lookup."""
    if not task_run.tags:
        return None
    limited = sorted(_limit_names().intersection(task_run.tags))
    if not limited:
        return None

    def waiting(holdup: Holdup) -> None:
        task_run.set_state(Pending(f"Waiting for a free slot of {holdup.describe()}."))

    return Slots(limited, 1, _holder(f"task run {task_run.id}"), waiting=waiting, strict=False)
