"""dbt's events as Plait task runs: one ``ObservedTaskRun`` per dbt node, with the manifest's
dependencies as edges, and dbt's log lines on the run they concern.

dbt calls back from its worker threads, so everything here is thread-safe, and a bug here is
logged rather than raised into dbt mid-run.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from plait import Completed, Failed, ObservedTaskRun, Skipped
from plait_dbt.errors import DbtError, DbtNodeError
from plait_dbt.results import DbtNodeResult

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
STARTED = frozenset({"NodeCompiling", "NodeExecuting"})  # not fired for skipped nodes


class NodeRuns:
    """The callback given to ``dbtRunner``. ``parent`` is the run context of the flow run the
    task runs belong to; ``logger`` that flow run's logger (for events about no node)."""

    def __init__(self, manifest: Any, parent: Any, logger: logging.LoggerAdapter[Any]) -> None:
        self._parents: dict[str, list[str]] = manifest.parent_map
        self._tags = {uid: tuple(node.tags) for uid, node in manifest.nodes.items()}
        self._parent = parent
        self._logger = logger
        self._runs: dict[str, ObservedTaskRun] = {}
        self._results: list[DbtNodeResult] = []
        self._failed: set[str] = set()
        self._lock = threading.Lock()
        self.invocation_id: str | None = None  # dbt's id for the invocation, from its events

    def __call__(self, event: Any) -> None:
        try:
            self._handle(event)
        except Exception:
            self._logger.exception("plait-dbt could not record dbt's %s event", event.info.name)

    def close(self) -> tuple[DbtNodeResult, ...]:
        """End the task runs of nodes dbt never finished (it stopped early); the outcomes."""
        for unique_id, run in self._runs.items():
            if not run.state.is_final():
                message = f"dbt stopped before {unique_id} finished"
                run.finish(Failed(DbtError(message), message))
        return tuple(self._results)

    def _handle(self, event: Any) -> None:
        self.invocation_id = event.info.invocation_id
        kind = event.info.name
        node_info = getattr(event.data, "node_info", None)
        unique_id = node_info.unique_id if node_info is not None else ""
        if kind == "NodeStart":
            self._open(unique_id, node_info.resource_type)
        run = self._runs.get(unique_id)
        if run is not None and run.state.is_pending() and kind in STARTED:
            run.start()
        log_event(run.logger if run is not None else self._logger, event)
        if kind == "NodeFinished" and run is not None:
            self._finish(unique_id, run, event.data.run_result)

    def _open(self, unique_id: str, resource_type: str) -> None:
        with self._lock:
            upstream = self._upstream(unique_id)
            self._runs[unique_id] = ObservedTaskRun(
                unique_id,
                task_name=f"dbt-{resource_type}",
                upstream=upstream,
                tags=("dbt", *self._tags.get(unique_id, ())),
                parent=self._parent,
            )

    def _upstream(self, unique_id: str) -> list[ObservedTaskRun]:
        """The task runs of the node's nearest ancestors that ran, looking through the
        ones that did not (sources, ephemeral models, nodes not selected)."""
        found, seen = [], set()
        stack = list(self._parents.get(unique_id, ()))
        while stack:
            parent = stack.pop()
            if parent in seen:
                continue
            seen.add(parent)
            run = self._runs.get(parent)
            if run is not None:
                found.append(run)
            else:
                stack.extend(self._parents.get(parent, ()))
        return found

    def _finish(self, unique_id: str, run: ObservedTaskRun, outcome: Any) -> None:
        result = _node_result(unique_id, run, outcome)
        if result.skipped:
            run.finish(Skipped(self._why_skipped(unique_id)))
        elif result.failed:
            with self._lock:
                self._failed.add(unique_id)
            message = f"{unique_id} {result.describe()}"
            run.finish(Failed(DbtNodeError(message, unique_id, result.status), result.describe()))
        else:
            if run.state.is_pending():
                run.start()
            run.finish(Completed(result, result.describe()))
        with self._lock:
            self._results.append(result)

    def _why_skipped(self, unique_id: str) -> str:
        """Names the failed nodes upstream: ancestors, or tests of ancestors (``dbt build``
        skips what depends on a model whose test failed)."""
        ancestors, stack = set(), [unique_id]
        while stack:
            for parent in self._parents.get(stack.pop(), ()):
                if parent not in ancestors:
                    ancestors.add(parent)
                    stack.append(parent)
        with self._lock:
            failed = sorted(self._failed)
        blamed = [
            node
            for node in failed
            if node in ancestors or ancestors.intersection(self._parents.get(node, ()))
        ]
        if not blamed:
            return "skipped by dbt"
        return f"skipped: upstream {', '.join(blamed)} did not succeed"


DEPRECATIONS_SUMMARY = "DeprecationsSummary"
_summarised = threading.Event()  # dbt's deprecations summary was logged in this process


def log_event(logger: logging.LoggerAdapter[Any], event: Any, minimum: int = logging.DEBUG) -> None:
    """Log dbt's line for ``event`` on ``logger``, at the event's level (if ``minimum`` or
    above). dbt's summary of deprecations, a warning it repeats on every invocation, is
    logged once per process at INFO, then at DEBUG."""
    level = LEVELS.get(event.info.level, logging.INFO)
    if event.info.name == DEPRECATIONS_SUMMARY:
        first = not _summarised.is_set()
        _summarised.set()
        level = logging.INFO if first else logging.DEBUG
        minimum = min(minimum, level)  # it comes while parsing, where only warnings are logged
    if level >= minimum and event.info.msg and logger.isEnabledFor(level):
        logger.log(level, event.info.msg)


def _node_result(unique_id: str, run: ObservedTaskRun, outcome: Any) -> DbtNodeResult:
    timing = {step.name: step for step in outcome.timing_info}
    execute = timing.get("execute")
    adapter = dict(outcome.adapter_response)
    rows = adapter.get("rows_affected")
    return DbtNodeResult(
        unique_id=unique_id,
        resource_type=unique_id.split(".", 1)[0],
        status=outcome.status,
        message=outcome.message or None,
        failures=outcome.num_failures or None,
        rows_affected=None if rows is None or rows < 0 else int(rows),
        execution_time=outcome.execution_time,
        started_at=_time(execute.started_at) if execute is not None else None,
        completed_at=_time(execute.completed_at) if execute is not None else None,
        task_run_id=run.id,
    )


def _time(stamp: Any) -> datetime | None:
    if not stamp.seconds and not stamp.nanos:
        return None
    return datetime.fromtimestamp(stamp.seconds + stamp.nanos / 1e9, UTC)
