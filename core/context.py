"""The runs in progress on this thread of execution, held in context variables.

Context variables follow the work: into worker threads (the engine copies the context),
into ``asyncio`` tasks, and not into unrelated threads.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from plait.exceptions import InvalidOptionError, MissingContextError

if TYPE_CHECKING:
    from plait.engine.runs import FlowRun, TaskRun
    from plait.flows import Flow
    from plait.futures import PlaitFuture
    from plait.states import State
    from plait.task_runners import TaskRunner
    from plait.tasks import Task


@dataclass(slots=True, eq=False)
class FlowRunContext:
    """A flow run in progress: its runner, and every future submitted in it."""

    flow: Flow
    flow_run: FlowRun
    task_runner: TaskRunner
    log_prints: bool
    persist_by_default: bool = False  # the results_persist_by_default setting, read at start
    futures: list[PlaitFuture] = field(default_factory=list)
    # Unfinished states read from futures (``future.state``), by id, with the state itself so
    # the id stays its own: a flow that returns one ends in that task run's final state.
    unfinished_states: dict[int, tuple[State, PlaitFuture]] = field(default_factory=dict)
    _task_counters: dict[str, itertools.count] = field(default_factory=dict)
    _worker_copy: FlowRun | None = None

    @property
    def run(self) -> FlowRun:
        return self.flow_run

    def flow_run_for_workers(self) -> FlowRun:
        """The copy of the flow run sent with each remote task run (``FlowRun.for_worker``),
        made once per attempt rather than once per task run."""
        copy = self._worker_copy
        if copy is None or copy.run_count != self.flow_run.run_count:
            copy = self._worker_copy = self.flow_run.for_worker()
        return copy

    @classmethod
    def get(cls) -> FlowRunContext | None:
        """The flow run in progress (also inside its tasks), or None, as Prefect's
        ``FlowRunContext.get()``."""
        return flow_run_var.get()

    def next_task_run_name(self, task_name: str) -> str:
        """``transform-0``, ``transform-1``, … numbered per task within this flow run."""
        counter = self._task_counters.get(task_name)
        if counter is None:
            counter = self._task_counters.setdefault(task_name, itertools.count())
        return f"{task_name}-{next(counter)}"


@dataclass(slots=True, eq=False)
class TaskRunContext:
    """A task run in progress, with the arguments it was called with."""

    task: Task
    task_run: TaskRun
    args: tuple
    kwargs: dict
    log_prints: bool

    @property
    def run(self) -> TaskRun:
        return self.task_run

    @property
    def parameters(self) -> dict[str, Any]:
        """The arguments by parameter name, defaults included."""
        bound = self.task.bind(self.args, self.kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)

    @classmethod
    def get(cls) -> TaskRunContext | None:
        """The task run in progress, or None, as Prefect's ``TaskRunContext.get()``."""
        return task_run_var.get()


flow_run_var: ContextVar[FlowRunContext | None] = ContextVar("plait_flow_run", default=None)
task_run_var: ContextVar[TaskRunContext | None] = ContextVar("plait_task_run", default=None)
# In a worker process (a process pool, a cluster), the flow run of the task run it runs: a
# copy sent with it (``FlowRun.for_worker``), for ``plait.runtime``.
worker_flow_run_var: ContextVar[FlowRun | None] = ContextVar("plait_worker_flow_run", default=None)


tags_var: ContextVar[tuple[str, ...]] = ContextVar("plait_tags", default=())


@contextmanager
def tags(*names: str) -> Iterator[set[str]]:
    """Add ``names`` to the tags of every flow run and task run created inside the block,
    called or submitted, on top of their decorators' tags; blocks nest, adding up. Yields
    the tags now in effect, as Prefect's ``tags`` does."""
    for name in names:
        if not isinstance(name, str) or not name:
            raise InvalidOptionError(
                f'tags(): each tag must be a non-empty string, such as tags("etl", '
                f'"nightly"); got {name!r}.'
            )
    current = tags_var.get()
    token = tags_var.set(current + tuple(n for n in dict.fromkeys(names) if n not in current))
    try:
        yield set(tags_var.get())
    finally:
        tags_var.reset(token)


def run_tags(own: tuple[str, ...]) -> tuple[str, ...]:
    """A new run's tags: its decorator's (``own``), then those of the ``tags`` blocks around
    its creation."""
    added = tags_var.get()
    if not added:
        return own
    return own + tuple(name for name in added if name not in own)


def current_context() -> TaskRunContext | FlowRunContext | None:
    """The innermost run in progress, or None outside flows and tasks."""
    return task_run_var.get() or flow_run_var.get()


def get_run_context() -> TaskRunContext | FlowRunContext:
    """The innermost run in progress: the task run if inside a task, else the flow run.

    Useful for ``get_run_context().task_run.run_count`` (which attempt this is) and
    similar; raises ``MissingContextError`` outside any flow or task.
    """
    context = current_context()
    if context is None:
        raise MissingContextError(
            "There is no flow run or task run in progress here; call this from inside a "
            "function decorated with @flow or @task."
        )
    return context
