"""Which process recorded a run: told apart from a later process that reuses its pid, so
that a run whose process is gone can be marked Crashed (``plait.store.crashes``)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    """A process, told apart from a later one that reuses its pid."""

    hostname: str
    pid: int
    started: int | None  # start time in clock ticks since boot (Linux), else None

    @classmethod
    def current(cls) -> ProcessIdentity:
        fields = _proc_stat(os.getpid()) if _HAS_PROC else None
        return cls(socket.gethostname(), os.getpid(), int(fields[19]) if fields else None)

    def is_alive(self) -> bool:
        """Whether this process (on this host) is still running."""
        if not _HAS_PROC:
            return _pid_exists(self.pid)
        fields = _proc_stat(self.pid)
        if fields is None:
            return False
        zombie = fields[0] == "Z"
        reused = self.started is not None and int(fields[19]) != self.started
        return not (zombie or reused)


_HAS_PROC = os.path.exists("/proc/self/stat")  # Linux; elsewhere only the pid is checked


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name; None if there is no such
    process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
