"""Task runs for work that Plait does not run itself (a dbt node, a warehouse job, a Spark
stage), recorded by the code that watches it. They show in the run graph, the logs and the
history like any task run, with their own edges.

    context = get_run_context()          # where the flow runs
    ...
    run = ObservedTaskRun("model.shop.orders", parent=context, upstream=[seed_run])
    run.start()
    run.logger.info("3 rows inserted")
    run.finish(Completed(message="success"))

Every method may be called from any thread (callbacks of the tool being watched): pass the
``parent`` captured where the flow runs, since context variables do not follow into threads
the tool started.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

from plait.context import FlowRunContext, TaskRunContext, current_context, run_tags
from plait.engine.runs import TaskRun
from plait.exceptions import MissingContextError, PlaitError
from plait.futures import PlaitFuture
from plait.logs import run_logger, setup_logging
from plait.states import Pending, Running, State


class ObservedTaskRun:
    """One task run of outside work: created Pending, then ``start()`` and ``finish(state)``.

    ``upstream`` lists the observed runs or futures this work depended on: the run graph's
    edges. ``task_name`` groups runs of the same kind (defaults to ``name``).
    """

    __slots__ = ("_lock", "logger", "task_run")

    def __init__(
        self,
        name: str,
        *,
        task_name: str | None = None,
        upstream: Iterable[ObservedTaskRun | PlaitFuture] = (),
        tags: Iterable[str] = (),
        parent: FlowRunContext | TaskRunContext | None = None,
    ) -> None:
        parent = parent or current_context()
        if parent is None:
            raise MissingContextError(
                f"ObservedTaskRun {name!r} has no flow run to belong to: create it inside a "
                "flow or task, or pass parent=get_run_context() captured there."
            )
        if isinstance(parent, FlowRunContext):
            flow_run, parent_task_run_id = parent.flow_run, None
            flow_run_id, flow_run_name = flow_run.id, flow_run.name
        else:
            parent_task_run_id = parent.task_run.id
            flow_run_id, flow_run_name = parent.task_run.flow_run_id, None
        setup_logging()
        self._lock = threading.Lock()
        self.task_run = TaskRun.create(
            task_name=task_name or name,
            name=name,
            state=Pending(),
            flow_run_id=flow_run_id,
            parent_task_run_id=parent_task_run_id,
            upstream=tuple(item.task_run.id for item in upstream),
            tags=run_tags(tuple(tags)),
        )
        self.logger: logging.LoggerAdapter[Any] = run_logger(self.task_run, flow_run_name)

    @property
    def id(self) -> str:
        return self.task_run.id

    @property
    def name(self) -> str:
        return self.task_run.name

    @property
    def state(self) -> State:
        return self.task_run.state

    def start(self, message: str | None = None) -> None:
        """The work began (again, for a second attempt)."""
        with self._lock:
            self._check_open("start")
            self.task_run.run_count += 1
            self.task_run.set_state(Running(message))

    def finish(self, state: State) -> State:
        """The work ended in ``state`` (``Completed``, ``Failed``, ``Skipped``, …)."""
        if not state.is_final():
            raise PlaitError(
                f"ObservedTaskRun {self.name!r} can only finish in a final state "
                f"(Completed, Failed, Skipped, ...); got {state.name}."
            )
        with self._lock:
            self._check_open("finish")
            return self.task_run.set_state(state)

    def _check_open(self, action: str) -> None:
        if self.task_run.state.is_final():
            raise PlaitError(
                f"ObservedTaskRun {self.name!r} already ended {self.task_run.state.name}; "
                f"it cannot {action} again."
            )

    def __repr__(self) -> str:
        return f"ObservedTaskRun({self.name!r}, state={self.task_run.state!r})"
