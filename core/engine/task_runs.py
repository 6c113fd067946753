"""Task runs in the caller's thread: creating the run, and driving its lifecycle to a final
state (``task(...)``, and what a runner's worker calls for a submitted run).

A run is planned first (``persistence``): most have no plan and go straight to the
lifecycle; a cached task may end Cached without running its body.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import itertools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

from plait.annotations import allow_failure, quote
from plait.context import TaskRunContext, flow_run_var, run_tags, task_run_var
from plait.engine.dependencies import (
    collect_upstream,
    substitute,
    unwrapped,
    upstream_failure,
    upstream_futures,
)
from plait.engine.lifecycle import (
    attempt,
    attempt_async,
    conclude,
    drive,
    drive_async,
    lifecycle,
)
from plait.engine.limits import task_slots
from plait.engine.persistence import Persist, Plan, plan_task, run_planned, run_planned_async
from plait.engine.runs import MapSlot, TaskRun
from plait.exceptions import ParameterError
from plait.futures import PlaitFuture, wait_all_async
from plait.logs import capture_prints, setup_logging
from plait.states import Pending, State
from plait.transactions import transaction_var

if TYPE_CHECKING:
    from plait.tasks import Task


# What a run waits on: futures and states passed in, and ``allow_failure`` / ``quote``
# wrappers found around them (plait.engine.dependencies).
Upstream = list[PlaitFuture | State | allow_failure | quote]

_standalone_counters: dict[str, itertools.count] = {}


def create_task_run(
    task: Task, bound: inspect.BoundArguments, upstream: Upstream, mapped: MapSlot | None = None
) -> TaskRun:
    flow_context = flow_run_var.get()
    task_context = task_run_var.get()
    name = task.run_name(bound)
    if name is None:
        if flow_context is not None:
            name = flow_context.next_task_run_name(task.name)
        else:
            counter = _standalone_counters.setdefault(task.name, itertools.count())
            name = f"{task.name}-{next(counter)}"
    if flow_context is not None:
        flow_run_id = flow_context.flow_run.id
    else:
        flow_run_id = task_context.task_run.flow_run_id if task_context is not None else None
    return TaskRun.create(
        task_name=task.name,
        name=name,
        state=Pending(),
        flow_run_id=flow_run_id,
        parent_task_run_id=task_context.task_run.id if task_context is not None else None,
        upstream=tuple(future.task_run.id for future in upstream_futures(upstream))
        if upstream
        else (),
        tags=run_tags(task.tags),
        mapped=mapped,
    )


def check_wait_for(wait_for: Any, task: Task) -> Upstream:
    """The futures and states of a ``wait_for=`` argument, checked."""
    if wait_for is None:
        return []
    if isinstance(unwrapped(wait_for), PlaitFuture | State):
        return [wait_for]
    items = list(wait_for) if isinstance(wait_for, Iterable) else None
    if items is None or not all(isinstance(unwrapped(i), PlaitFuture | State) for i in items):
        raise ParameterError(
            f"Task {task.name!r}: wait_for must be a list of futures (from .submit() or "
            f".map()) or states; got {wait_for!r}."
        )
    return items


def upstream_of(args: tuple, kwargs: dict) -> Upstream:
    found: Upstream = []
    if args:
        collect_upstream(args, found)
    if kwargs:
        collect_upstream(kwargs, found)
    return found


@contextmanager
def _task_run_scope(
    task: Task, task_run: TaskRun, args: tuple, kwargs: dict, log_prints: bool
) -> Iterator[None]:
    setup_logging()
    if log_prints:
        capture_prints()
    token = task_run_var.set(TaskRunContext(task, task_run, args, kwargs, log_prints))
    try:
        yield
    finally:
        task_run_var.reset(token)


class _Undecided(enum.Enum):
    PLAN = enum.auto()


UNDECIDED = _Undecided.PLAN
"""Run the task with the plan it decides itself (in process); a remote worker gets the plan
its flow's process decided."""


def run_task(
    task: Task,
    task_run: TaskRun,
    args: tuple,
    kwargs: dict,
    log_prints: bool,
    plan: Plan | _Undecided | None = UNDECIDED,
) -> State:
    """Run a sync task's lifecycle in this thread and return its final state (or reuse a
    cached result without running the body)."""
    with _task_run_scope(task, task_run, args, kwargs, log_prints):
        slots = task_slots(task_run)
        if slots is None:
            return _run_task(task, task_run, args, kwargs, plan)
        with slots:
            return _run_task(task, task_run, args, kwargs, plan)


def _run_task(
    task: Task, task_run: TaskRun, args: tuple, kwargs: dict, plan: Plan | _Undecided | None
) -> State:
    body = partial(attempt, task.body, args, kwargs, task.timeout_seconds)
    if plan is UNDECIDED:
        plan = plan_task(task, task_run, args, kwargs)
    if plan is None:  # the common case: nothing persisted, nothing cached
        return drive(lifecycle(task, task_run), body)
    return run_planned(
        task, task_run, plan, lambda persist: drive(lifecycle(task, task_run, persist), body)
    )


async def run_task_async(
    task: Task,
    task_run: TaskRun,
    args: tuple,
    kwargs: dict,
    log_prints: bool,
    plan: Plan | _Undecided | None = UNDECIDED,
) -> State:
    """Run an async task's lifecycle on the running event loop and return its final state
    (or reuse a cached result without running the body)."""
    with _task_run_scope(task, task_run, args, kwargs, log_prints):
        slots = task_slots(task_run)
        if slots is None:
            return await _run_task_async(task, task_run, args, kwargs, plan)
        async with slots:
            return await _run_task_async(task, task_run, args, kwargs, plan)


async def _run_task_async(
    task: Task, task_run: TaskRun, args: tuple, kwargs: dict, plan: Plan | _Undecided | None
) -> State:
    body = partial(attempt_async, task.body, args, kwargs, task.timeout_seconds)
    if plan is UNDECIDED:
        plan = plan_task(task, task_run, args, kwargs)

    async def run(persist: Persist | None) -> State:
        return await drive_async(lifecycle(task, task_run, persist), body)

    return await run_planned_async(task, task_run, plan, run)


def run_anywhere(
    task: Task,
    task_run: TaskRun,
    args: tuple,
    kwargs: dict,
    log_prints: bool,
    plan: Plan | _Undecided | None = UNDECIDED,
) -> State:
    """Run a task run to its final state in a thread with no event loop (a worker)."""
    if task.isasync:
        return asyncio.run(run_task_async(task, task_run, args, kwargs, log_prints, plan))
    return run_task(task, task_run, args, kwargs, log_prints, plan)


def _upstream_of_call(task: Task, args: tuple, kwargs: dict) -> Upstream:
    """What a plain call waits on: the futures and states in its arguments and in
    ``wait_for=`` (taken out of ``kwargs``)."""
    wait_for = kwargs.pop("wait_for", None) if kwargs else None
    upstream = upstream_of(args, kwargs)
    if wait_for is not None:
        upstream += check_wait_for(wait_for, task)
    return upstream


def call_task(task: Task, args: tuple, kwargs: dict, return_state: bool) -> Any:
    """``task(...)`` for a sync task: a tracked run in the caller's thread (after the
    futures it is given, and those of ``wait_for=``, have finished)."""
    upstream = _upstream_of_call(task, args, kwargs)
    task_run = create_task_run(task, task.bind(args, kwargs), upstream)
    if upstream:
        failure = upstream_failure(upstream)
        if failure is not None:
            return task.deliver(conclude(task, task_run, failure), return_state)
        args, kwargs = substitute(args), substitute(kwargs)
    state = run_task(task, task_run, args, kwargs, task.resolve_log_prints())
    staged(task, task_run, state)
    return task.deliver(state, return_state)


async def call_task_async(task: Task, args: tuple, kwargs: dict, return_state: bool) -> Any:
    """``await task(...)`` for an async task: a tracked run on the caller's event loop."""
    upstream = _upstream_of_call(task, args, kwargs)
    task_run = create_task_run(task, task.bind(args, kwargs), upstream)
    if upstream:
        await wait_all_async(upstream_futures(upstream))
        failure = upstream_failure(upstream)
        if failure is not None:
            return task.deliver(conclude(task, task_run, failure), return_state)
        args, kwargs = substitute(args), substitute(kwargs)
    state = await run_task_async(task, task_run, args, kwargs, task.resolve_log_prints())
    staged(task, task_run, state)
    return task.deliver(state, return_state)


def staged(task: Task, task_run: TaskRun, state: State) -> None:
    """Hand a run that ended inside a transaction to it (``plait.transactions``)."""
    transaction = transaction_var.get()
    if transaction is not None:
        transaction.stage(task, task_run, state)
