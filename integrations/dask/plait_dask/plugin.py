"""Registers plait-dask with Plait: ``DaskTaskRunner``, also as ``task_runner="dask"``.
Dask is imported only when a flow runs on it."""

from __future__ import annotations

from collections.abc import Mapping

from plait import TaskRunner, hookimpl


@hookimpl
def plait_task_runners() -> Mapping[str, type[TaskRunner]]:
    from plait_dask import DaskTaskRunner

    return {"dask": DaskTaskRunner}
