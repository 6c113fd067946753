"""Concurrency limits through the API server (client mode): the server keeps the limits and
the leases, and judges their expiry by its own clock."""

from __future__ import annotations

import builtins

from plait.backend.http import HttpBackend, parsed
from plait.backend.limits import (
    ConcurrencyLimits,
    Holdup,
    Lease,
    LimitRecord,
    checked_limit_name,
    checked_slots,
)
from plait.exceptions import ConcurrencyLimitNotFoundError, ParameterError, PlaitError, StoreError

_ERRORS: dict[int, type[PlaitError]] = {
    404: ConcurrencyLimitNotFoundError,
    422: ParameterError,
    503: StoreError,
}


class HttpConcurrencyLimits(ConcurrencyLimits):
    def __init__(self, backend: HttpBackend) -> None:
        self.backend = backend

    def _call(self, method: str, path: str, **arguments: object) -> object:
        return self.backend.request(
            method, f"/concurrency_limits{path}", errors=_ERRORS, **arguments
        )

    def set(self, name: str, limit: int) -> LimitRecord:
        checked_limit_name(name)
        checked_slots(limit)
        return parsed(LimitRecord, self._call("PUT", f"/{name}", json={"limit": limit}))

    def list(self) -> builtins.list[LimitRecord]:
        return parsed(builtins.list[LimitRecord], self._call("GET", ""))

    def delete(self, name: str) -> None:
        self._call("DELETE", f"/{name}")

    def acquire(
        self, names: builtins.list[str], occupy: int, holder: str, ttl_seconds: float
    ) -> Lease | Holdup:
        checked_slots(occupy, "occupy", least=1)
        body = {
            "names": names,
            "occupy": occupy,
            "holder": holder[:255],
            "ttl_seconds": ttl_seconds,
        }
        answer = self._call("POST", "/leases", json=body)
        assert isinstance(answer, dict), "the server answers an object"
        if answer["lease"] is None:
            return parsed(Holdup, answer["holdup"])
        return parsed(Lease, answer["lease"])

    def renew(self, lease_ids: builtins.list[str], ttl_seconds: float) -> None:
        if lease_ids:
            self._call(
                "POST", "/leases/renew", json={"lease_ids": lease_ids, "ttl_seconds": ttl_seconds}
            )

    def release(self, lease_ids: builtins.list[str]) -> None:
        if lease_ids:
            self._call("POST", "/leases/release", json={"lease_ids": lease_ids})
