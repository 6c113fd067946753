"""The cache index through the API server (client mode): records and the keys' computing
locks are kept by the server, the locks in the name of this process (its host, pid and
start), so the server can tell a lock left by a dead process from a live one."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from plait.backend.cache import CacheIndex
from plait.backend.http import HttpBackend
from plait.journal.process import ProcessIdentity


class HttpCacheIndex(CacheIndex):
    def __init__(self, backend: HttpBackend) -> None:
        super().__init__()
        self.backend = backend
        self.process = dataclasses.asdict(ProcessIdentity.current())

    def lookup(self, key: str) -> dict[str, Any] | None:
        return self.backend.request("GET", "/cache", params={"key": key})["result"]

    def record(
        self, key: str, result: dict[str, Any], task_run_id: str, expiration: timedelta | None
    ) -> None:
        seconds = None if expiration is None else expiration.total_seconds()
        body = {"key": key, "result": result, "task_run_id": task_run_id,
                "expiration_seconds": seconds, "process": self.process}  # fmt: skip
        self.backend.request("PUT", "/cache", json=body)
        self.held.discard(key)

    def take_lock(self, key: str) -> bool:
        return self._lock("lock", key)["granted"]

    def give_back_lock(self, key: str) -> None:
        self._lock("unlock", key)

    def _lock(self, action: str, key: str) -> Any:
        return self.backend.request(
            "POST", f"/cache/{action}", json={"key": key, "process": self.process}
        )
