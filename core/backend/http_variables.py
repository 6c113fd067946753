"""Variables through the API server (client mode)."""

from __future__ import annotations

import builtins
from typing import Any

from plait.backend.http import HttpBackend, parsed
from plait.backend.variables import (
    VariableRecord,
    Variables,
    checked_variable_name,
    checked_variable_value,
)
from plait.exceptions import (
    ParameterError,
    PlaitError,
    StoreError,
    VariableExistsError,
    VariableNotFoundError,
)

_ERRORS: dict[int, type[PlaitError]] = {
    404: VariableNotFoundError,
    409: VariableExistsError,
    422: ParameterError,
    503: StoreError,
}


class HttpVariables(Variables):
    def __init__(self, backend: HttpBackend) -> None:
        self.backend = backend

    def _call(self, method: str, path: str, **arguments: object) -> object:
        return self.backend.request(method, f"/variables{path}", errors=_ERRORS, **arguments)

    def set(
        self, name: str, value: Any, tags: tuple[str, ...] = (), overwrite: bool = False
    ) -> VariableRecord:
        checked_variable_value(checked_variable_name(name), value)
        body = {"value": value, "tags": list(tags), "overwrite": overwrite}
        return parsed(VariableRecord, self._call("PUT", f"/{name}", json=body))

    def get(self, name: str) -> VariableRecord | None:
        checked_variable_name(name)
        try:
            return parsed(VariableRecord, self._call("GET", f"/{name}"))
        except VariableNotFoundError:
            return None

    def list(self) -> builtins.list[VariableRecord]:
        return parsed(builtins.list[VariableRecord], self._call("GET", ""))

    def delete(self, name: str) -> None:
        checked_variable_name(name)
        self._call("DELETE", f"/{name}")
