"""The API server as Plait's backend (client mode, ``PLAIT_API_URL``): the journal is shipped
to it (``plait.journal.http``) and recorded runs are read from it, through the same
``RunQueries`` interface as the run store, so the client, the CLI and the SDK work the same
either way.

The server's error answers become the errors the store raises for the same cause (an
unknown run, a bad argument), so callers handle one set of errors.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

import httpx

from plait.backend import Backend
from plait.backend.runs import FlowRunFilter, RunQueries
from plait.exceptions import (
    AmbiguousRunIdError,
    ConfigError,
    ParameterError,
    PlaitError,
    RunNotFoundError,
    StateRefusedError,
    StoreError,
)
from plait.journal.http import HttpRecorder, open_http, post_batch
from plait.journal.spool import Spool
from plait.runs import (
    ArtifactRecord,
    FlowRunRecord,
    LogRecord,
    Page,
    TaskGraphNode,
    TaskRunRecord,
    TaskRunSummary,
)
from plait.state_rules import Ruling
from plait.states import StateType

if TYPE_CHECKING:
    from pydantic import TypeAdapter

    from plait.backend.api_keys import ApiKeys
    from plait.backend.http_blocks import HttpBlockDocuments
    from plait.backend.http_cache import HttpCacheIndex
    from plait.backend.http_deployments import HttpDeployments
    from plait.backend.http_limits import HttpConcurrencyLimits
    from plait.backend.http_variables import HttpVariables
    from plait.journal.process import ProcessIdentity
    from plait.journal.shipping import Batch
    from plait.settings import Settings

_NAMES_PER_REQUEST = 200  # the server's MAX_NAMES: task run ids per request for their names
_ERRORS: dict[int, type[PlaitError]] = {
    404: RunNotFoundError,
    409: AmbiguousRunIdError,
    422: ParameterError,
    503: StoreError,
}


class HttpBackend(Backend):
    """The API server at ``api_url``, reached with ``api_key``."""

    def __init__(self, api_url: str, api_key: str | None, settings: Settings) -> None:
        self.api_url = api_url.rstrip("/")
        self.api_key = api_key
        self.settings = settings
        self._http: httpx.Client | None = None
        self._cache: HttpCacheIndex | None = None  # one per process: its locks are shared
        self._lock = threading.Lock()

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            with self._lock:
                if self._http is None:
                    self._http = open_http(self.api_url, self.api_key)
        return self._http

    def describe(self) -> str:
        return f"the server at {self.api_url}"

    def open_recorder(self) -> HttpRecorder:
        return HttpRecorder(self.api_url, self.api_key, self.settings)

    def run_queries(self) -> HttpRunQueries:
        return HttpRunQueries(self)

    def block_documents(self) -> HttpBlockDocuments:
        from plait.backend.http_blocks import HttpBlockDocuments

        return HttpBlockDocuments(self)

    def concurrency_limits(self) -> HttpConcurrencyLimits:
        from plait.backend.http_limits import HttpConcurrencyLimits

        return HttpConcurrencyLimits(self)

    def cache_index(self) -> HttpCacheIndex:
        if self._cache is None:
            with self._lock:
                if self._cache is None:
                    from plait.backend.http_cache import HttpCacheIndex

                    self._cache = HttpCacheIndex(self)
        return self._cache

    def api_keys(self) -> ApiKeys:
        self.on_the_server("API keys")

    def deployments(self) -> HttpDeployments:
        from plait.backend.http_deployments import HttpDeployments

        return HttpDeployments(self)

    def variables(self) -> HttpVariables:
        from plait.backend.http_variables import HttpVariables

        return HttpVariables(self)

    def ingest(
        self, batch: Batch, process: ProcessIdentity, rulings: list[tuple[str, Ruling]]
    ) -> bool:
        spool = Spool(self.settings.home / "spool")
        failure = post_batch(self.http, spool, batch, process, rulings)
        if failure is not None:
            raise StoreError(f"Could not send events to {self.describe()}: {failure[1]}")
        return True

    def heartbeat(self, flow_run_ids: list[str]) -> None:
        self.request("POST", "/flow_runs/heartbeat", json={"flow_run_ids": flow_run_ids})

    def sweep_crashed(self) -> list[str]:
        self.on_the_server("Marking crashed runs", "(the server does it every heartbeat)")

    def upgrade(self) -> tuple[str | None, str]:
        self.on_the_server("Migrating the store", "(the server does it when it starts)")

    def reset(self) -> str:
        self.on_the_server("Resetting the store")

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    def on_the_server(self, what: str, why: str = "") -> NoReturn:
        raise ConfigError(
            f"{what} is not available through {self.describe()} {why}: run this on the "
            "server's host with PLAIT_API_URL unset, so that it uses the server's store."
        )

    def request(
        self,
        method: str,
        path: str,
        errors: dict[int, type[PlaitError]] = _ERRORS,
        **arguments: Any,
    ) -> Any:
        """The server's JSON answer to a request, or the error it stands for (``errors``:
        which error each status means here)."""
        try:
            answer = self.http.request(method, path, **arguments)
        except httpx.HTTPError as exc:
            raise StoreError(
                f"Cannot reach {self.describe()} ({exc}); check api_url (PLAIT_API_URL) and "
                "that `plait server start` runs there."
            ) from None
        if answer.is_success:
            return answer.json() if answer.content else None
        try:
            body = answer.json()
            detail = str(body["detail"])
        except (ValueError, KeyError, TypeError):
            body, detail = {}, answer.text[:500] or answer.reason_phrase
        if body.get("ruling"):  # a state rule refused it
            run_id, ruling = Ruling.from_json(body["ruling"])
            raise StateRefusedError(detail, run_id, ruling)
        if answer.status_code in (401, 403):
            raise ConfigError(f"{self.describe()} refused the request: {detail} Set api_key "
                              "(PLAIT_API_KEY) to a key whose scope allows it.")  # fmt: skip
        raise errors.get(answer.status_code, StoreError)(detail)


@functools.cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    from pydantic import TypeAdapter

    return TypeAdapter(kind)


def parsed(kind: Any, data: Any) -> Any:
    """``data`` (JSON from the server) as the record type ``kind``."""
    return _adapter(kind).validate_python(data)


def _with_states(counts: dict[str, int]) -> dict[StateType | None, int]:
    """Counts by state as the server sends them (no state: ``null``) as the records hold them."""
    return {None if state == "null" else StateType(state): count for state, count in counts.items()}


class HttpRunQueries(RunQueries):
    """Recorded runs, read from the server's API."""

    def __init__(self, backend: HttpBackend) -> None:
        self.backend = backend

    def describe(self) -> str:
        return self.backend.describe()

    def _get(self, path: str, **params: Any) -> Any:
        present = {name: value for name, value in params.items() if value is not None}
        return self.backend.request("GET", path, params=present)

    def read_flow_runs(
        self, which: FlowRunFilter, limit: int, after: str | None
    ) -> Page[FlowRunRecord]:
        since, until = (None if m is None else m.isoformat() for m in (which.since, which.until))
        page = self._get(
            "/flow_runs", flow=which.flow_name, state=which.state, tag=list(which.tags) or None,
            since=since, until=until, limit=limit, after=after,
        )  # fmt: skip
        return parsed(Page[FlowRunRecord], page)

    def read_flow_run(self, flow_run_id: str) -> FlowRunRecord:
        return parsed(FlowRunRecord, self._get(f"/flow_runs/{_segment(flow_run_id)}"))

    def read_task_runs(
        self, flow_run_id: str, state: StateType | None, limit: int, after: str | None
    ) -> Page[TaskRunRecord]:
        path = f"/flow_runs/{_segment(flow_run_id)}/task_runs"
        return parsed(Page[TaskRunRecord], self._get(path, state=state, limit=limit, after=after))

    def read_task_run_names(self, task_run_ids: list[str]) -> dict[str, str]:
        names: dict[str, str] = {}
        for start in range(0, len(task_run_ids), _NAMES_PER_REQUEST):
            names |= self._get(
                "/task_runs/names", id=task_run_ids[start : start + _NAMES_PER_REQUEST]
            )
        return names

    def summarize_task_runs(self, flow_run_id: str, limit: int) -> TaskRunSummary:
        path = f"/flow_runs/{_segment(flow_run_id)}/task_runs/summary"
        summary = self._get(path, limit=limit)
        listed = parsed(list[TaskRunRecord], summary["listed"])
        return TaskRunSummary(counts=_with_states(summary["counts"]), listed=listed)

    def read_task_graph(self, flow_run_id: str) -> list[TaskGraphNode]:
        nodes = self._get(f"/flow_runs/{_segment(flow_run_id)}/graph/nodes")
        return [
            dataclasses.replace(
                parsed(TaskGraphNode, {**node, "counts": {}}),
                counts=_with_states(node["counts"]),
            )
            for node in nodes
        ]

    def read_logs(self, flow_run_id: str, after: int | None) -> list[LogRecord]:
        lines = self._get(f"/flow_runs/{_segment(flow_run_id)}/logs", after=after)
        return parsed(list[LogRecord], lines)

    def read_artifacts(self, flow_run_id: str) -> list[ArtifactRecord]:
        artifacts = self._get(f"/flow_runs/{_segment(flow_run_id)}/artifacts")
        return parsed(list[ArtifactRecord], artifacts)

    def read_keyed_artifacts(self, key: str | None, limit: int) -> list[ArtifactRecord]:
        return parsed(list[ArtifactRecord], self._get("/artifacts", key=key, limit=limit))

    def delete_flow_runs(
        self, ids: list[str] | None = None, older_than: timedelta | None = None
    ) -> int:
        if ids is not None:
            return sum(
                self.backend.request("DELETE", f"/flow_runs/{_segment(i)}")["deleted"] for i in ids
            )
        assert older_than is not None, "ids or older_than"
        answer = self.backend.request(
            "DELETE", "/flow_runs", params={"older_than_seconds": older_than.total_seconds()}
        )
        return answer["deleted"]

    def set_flow_run_state(
        self, flow_run_id: str, state: StateType, message: str | None
    ) -> Ruling | None:
        try:
            self.backend.request(
                "POST", f"/flow_runs/{_segment(flow_run_id)}/state",
                json={"state": state.value, "message": message},
            )  # fmt: skip
        except StateRefusedError as refused:
            return refused.ruling
        return None


def _segment(run_id: str) -> str:
    """A run id (or prefix) as a path segment: refused here if it could not be one."""
    if not run_id or any(c not in "0123456789abcdefABCDEF-" for c in run_id):
        raise RunNotFoundError(f"No recorded run has the id {run_id!r} (ids are hexadecimal).")
    return run_id
