"""``DaskTaskRunner``: a flow's submitted task runs on a Dask cluster.

Dask gets the engine's picklable call objects: each runs the task run's whole lifecycle on a
worker (retries and timeouts included) and returns its final state, result and journal
events, which the flow's process records. Workers need Plait and the task's code, but no
run store.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Self, TypeVar

from plait import TaskRunner
from plait.exceptions import InvalidOptionError
from plait_dask.resources import check_resources, requested_resources

T = TypeVar("T")

LOCAL_CLUSTER = "distributed.LocalCluster"


class DaskTaskRunner(TaskRunner):
    """Runs submitted task runs on Dask.

    - No ``address``: a temporary cluster for each flow run, closed when the run ends;
      ``cluster_class`` (a class, or its import path such as ``"dask_kubernetes.KubeCluster"``;
      ``distributed.LocalCluster`` by default) is built with ``cluster_kwargs``, and scales
      with ``cluster.adapt(**adapt_kwargs)`` if given. A scheduler the cluster starts in this
      process (``LocalCluster``'s) never re-runs a task whose worker died (``allowed-failures``
      0): the task run ends Crashed, and its retries apply.
    - ``address``: an existing scheduler (``"tcp://10.0.0.5:8786"``), left running.

    ``client_kwargs`` go to ``distributed.Client``. ``task_resources`` gives Dask worker
    resources by task name (``{"train": {"GPU": 1}}``); ``dask_resources(...)`` blocks add
    to them for the runs submitted inside.
    """

    in_process = False

    def __init__(
        self,
        address: str | None = None,
        cluster_class: type | str | None = None,
        cluster_kwargs: Mapping[str, Any] | None = None,
        client_kwargs: Mapping[str, Any] | None = None,
        adapt_kwargs: Mapping[str, Any] | None = None,
        task_resources: Mapping[str, Mapping[str, float]] | None = None,
    ) -> None:
        if address is not None and not isinstance(address, str):
            raise _invalid("address", "a scheduler address such as 'tcp://10.0.0.5:8786'", address)
        if address is not None and (cluster_class is not None or cluster_kwargs or adapt_kwargs):
            raise InvalidOptionError(
                "DaskTaskRunner: give address (an existing scheduler) or cluster_class, "
                "cluster_kwargs and adapt_kwargs (a temporary cluster), not both."
            )
        if cluster_class is not None and not isinstance(cluster_class, type | str):
            raise _invalid("cluster_class", "a cluster class or its import path", cluster_class)
        self.address = address
        self.cluster_class = cluster_class
        self.cluster_kwargs = _mapping("cluster_kwargs", cluster_kwargs)
        self.client_kwargs = _mapping("client_kwargs", client_kwargs)
        self.adapt_kwargs = _mapping("adapt_kwargs", adapt_kwargs)
        self.task_resources = {
            name: check_resources(
                f"DaskTaskRunner: task_resources[{name!r}]",
                _mapping(f"task_resources[{name!r}]", amounts),
            )
            for name, amounts in _mapping("task_resources", task_resources).items()
        }
        self._cluster: Any = None
        self._client: Any = None
        self._results: _Results | None = None

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` of the flow run in progress (None before it starts)."""
        return self._client

    @property
    def cluster(self) -> Any:
        """The temporary cluster of the flow run in progress (None with ``address``)."""
        return self._cluster

    def start(self) -> None:
        if self._client is not None:
            return
        from distributed import Client

        if self.address is not None:
            self._client = Client(self.address, **self.client_kwargs)
        else:
            import dask

            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                cluster_type = _import(self.cluster_class or LOCAL_CLUSTER)
                self._cluster = cluster_type(**self.cluster_kwargs)
            if self.adapt_kwargs:
                self._cluster.adapt(**self.adapt_kwargs)
            self._client = Client(self._cluster, **self.client_kwargs)
        self._results = _Results(self._client)

    def submit(self, call: Callable[[], T]) -> cf.Future[T]:
        self.start()
        task_run = getattr(call, "task_run", None)
        name = task_run.name if task_run is not None else "plait-call"
        resources = {
            **self.task_resources.get(getattr(getattr(call, "task", None), "name", ""), {}),
            **requested_resources(),
        }
        import cloudpickle

        dask_future = self._client.submit(
            _run_call,
            cloudpickle.dumps(call),  # once, here: Dask would try pickle, then cloudpickle
            key=f"{name}-{uuid.uuid4().hex[:12]}",
            pure=False,
            resources=resources or None,
        )
        assert self._results is not None
        return self._results.follow(dask_future)

    def shutdown(self, wait: bool = True) -> None:
        client, cluster, results = self._client, self._cluster, self._results
        self._client = self._cluster = self._results = None
        if results is not None:
            results.close()
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    def duplicate(self) -> Self:
        return type(self)(
            self.address, self.cluster_class, self.cluster_kwargs, self.client_kwargs,
            self.adapt_kwargs, self.task_resources,
        )  # fmt: skip

    def __repr__(self) -> str:
        if self.address is not None:
            return f"DaskTaskRunner(address={self.address!r})"
        cluster = self.cluster_class or LOCAL_CLUSTER
        return f"DaskTaskRunner(cluster_class={getattr(cluster, '__name__', cluster)!r})"


def _run_call(payload: bytes) -> Any:
    """On a worker: unpickle the engine's call and run it."""
    import cloudpickle

    return cloudpickle.loads(payload)()


class LostByDask(RuntimeError):
    """Dask dropped a task the flow still waits for (its scheduler was lost or restarted):
    the task run ends Crashed, and its retries apply."""


class _Future(cf.Future):
    """A ``concurrent.futures.Future`` for a Dask future (cancelling it cancels that)."""

    def __init__(self, dask_future: Any) -> None:
        super().__init__()
        self.dask_future = dask_future

    def cancel(self) -> bool:
        self.dask_future.cancel()
        return super().cancel()

    def settle(self, result: Any) -> None:
        """Take the Dask future's outcome (``result`` is its value once it finished)."""
        if self.done():  # cancelled here first
            return
        status = self.dask_future.status
        if status == "finished":
            self.set_result(result)
        elif status == "cancelled":  # not by us (that is handled above): the cluster lost it
            self.set_exception(LostByDask(f"Dask cancelled {self.dask_future.key!r}"))
        else:  # the worker died (KilledWorker), or the call could not run there
            self.set_exception(self.dask_future.exception())


class _Results:
    """Settles the futures of submitted calls as Dask finishes them, from one thread that
    takes results in batches (``distributed.as_completed``): one ``result()`` round trip
    per future would cost more than a small task itself."""

    def __init__(self, client: Any) -> None:
        from distributed import as_completed

        self._completed = as_completed(loop=client.loop, with_results=True, raise_errors=False)
        self._followers: dict[str, _Future] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._settle, name="plait-dask", daemon=True)
        self._thread.start()

    def follow(self, dask_future: Any) -> _Future:
        future = _Future(dask_future)
        with self._lock:
            self._followers[dask_future.key] = future
        self._completed.add(dask_future)
        self._wake.set()
        return future

    def _settle(self) -> None:
        while not self._closing:
            self._wake.wait()
            self._wake.clear()
            for dask_future, result in self._completed:  # until none is pending
                with self._lock:
                    future = self._followers.pop(dask_future.key, None)
                if future is not None:
                    future.settle(result)

    def close(self) -> None:
        """Stop; futures still pending are cancelled."""
        self._closing = True
        self._wake.set()
        self._completed.clear()
        self._thread.join(timeout=10)
        with self._lock:
            pending, self._followers = list(self._followers.values()), {}
        for future in pending:
            future.cancel()


def _import(path: type | str) -> Any:
    if not isinstance(path, str):
        return path
    from importlib import import_module

    module, _, name = path.rpartition(".")
    try:
        return getattr(import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        raise InvalidOptionError(
            f"DaskTaskRunner: cluster_class {path!r} cannot be imported; give a class or an "
            "import path such as 'distributed.LocalCluster' (is its package installed?)."
        ) from None


def _mapping(field: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _invalid(field, "a dict", value)
    return dict(value)


def _invalid(field: str, expected: str, value: Any) -> InvalidOptionError:
    return InvalidOptionError(f"DaskTaskRunner: {field} must be {expected}; got {value!r}.")
