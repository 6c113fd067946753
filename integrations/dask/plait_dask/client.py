"""``get_dask_client()``: the cluster, from inside a task, for Dask collections."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from plait.exceptions import MissingContextError


@contextmanager
def get_dask_client(timeout: float | None = None) -> Iterator[Any]:
    """A ``distributed.Client`` of the cluster running this task, to compute Dask
    collections (``dask.array``, ``dask.dataframe``) there::

        @task
        def total(path: str) -> float:
            with get_dask_client() as client:
                return client.compute(dd.read_parquet(path).amount.sum()).result()

    Only inside a task running on ``DaskTaskRunner``. While the block runs, the task's
    thread leaves the worker's pool (``distributed.worker_client``), so the work it submits
    can use that slot."""
    from distributed import get_worker, worker_client

    try:
        get_worker()
    except ValueError:
        raise MissingContextError(
            "get_dask_client() works only inside a task running on a Dask worker: run the "
            "flow with task_runner=DaskTaskRunner(...) and submit the task (.submit or .map)."
        ) from None
    with worker_client(timeout=timeout) as client:
        yield client
