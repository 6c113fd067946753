"""Submitted task runs: ``task.submit(...)`` hands a run to the flow's task runner once its
upstream futures have finished, and settles its future from what the runner reports.

Upstream futures are awaited by the engine, not by worker threads. A submitted task is
handed to the runner only once every future it depends on has finished, so no worker
ever blocks waiting for another. If an upstream did not complete, the task ends Failed
without running. Because of that, the same code serves thread pools, process pools and
clusters: a remote runner gets a ``RemoteTaskCall``, and its journal events travel back
with the result.
"""

from __future__ import annotations

import contextvars
import pickle
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from plait import journal
from plait.context import flow_run_var, worker_flow_run_var
from plait.engine.dependencies import substitute, upstream_failure, upstream_futures
from plait.engine.lifecycle import (
    conclude,
    retry_after_crash,
)
from plait.engine.persistence import Plan, plan_task
from plait.engine.runs import FlowRun, MapSlot, TaskRun
from plait.exceptions import (
    CancelledRunError,
    CrashedRunError,
    MissingContextError,
    RemoteError,
    SerializationError,
)
from plait.futures import PlaitFuture
from plait.states import Cancelled, Crashed, Failed, State, StateType
from plait.task_runners import TaskRunner

if TYPE_CHECKING:
    from plait.tasks import Task


from plait.engine.task_runs import (
    Upstream,
    check_wait_for,
    create_task_run,
    run_anywhere,
    upstream_of,
)


def submit_task(
    task: Task, args: tuple, kwargs: dict, wait_for: Any = None, mapped: MapSlot | None = None
) -> PlaitFuture:
    """``task.submit(...)``: create the run now, run it once its upstream has finished
    (``mapped``: its place in a ``.map`` call)."""
    flow_context = flow_run_var.get()
    if flow_context is None:
        raise MissingContextError(
            f"Task {task.name!r} was submitted outside of a flow. .submit() and .map() need "
            "a flow's task runner: call them inside a @flow, or call the task directly."
        )
    bound = task.bind(args, kwargs)
    upstream = upstream_of(args, kwargs) + check_wait_for(wait_for, task)
    future = PlaitFuture(create_task_run(task, bound, upstream, mapped))
    flow_context.futures.append(future)
    start = partial(
        _start,
        task,
        future,
        args,
        kwargs,
        upstream,
        flow_context.task_runner,
        task.resolve_log_prints(),
        contextvars.copy_context(),
    )
    pending = [future for future in upstream_futures(upstream) if not future.done()]
    if pending:
        _when_all_done(pending, start)
    else:
        start()
    return future


def _when_all_done(futures: list[PlaitFuture], callback: Callable[[], None]) -> None:
    remaining = len(futures)
    lock = threading.Lock()

    def one_done(_: PlaitFuture) -> None:
        nonlocal remaining
        with lock:
            remaining -= 1
            last = remaining == 0
        if last:
            callback()

    for future in futures:
        future.add_done_callback(one_done)


def _start(
    task: Task,
    future: PlaitFuture,
    args: tuple,
    kwargs: dict,
    upstream: Upstream,
    runner: TaskRunner,
    log_prints: bool,
    context: contextvars.Context,
) -> None:
    """Hand a task run whose upstream has finished to the runner (or end it right here)."""
    task_run = future.task_run
    try:
        state = upstream_failure(upstream) if upstream else None
        if future._cancel_requested:
            state = _cancelled(task_run)
        if state is None:
            args, kwargs = substitute(args), substitute(kwargs)
            _submit(task, future, args, kwargs, runner, log_prints, context)
            return
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        state = Failed(exc, f"Could not submit task run {task_run.name!r} to {runner!r}: {reason}")
    future._set_final(conclude(task, task_run, state))


def _submit(
    task: Task,
    future: PlaitFuture,
    args: tuple,
    kwargs: dict,
    runner: TaskRunner,
    log_prints: bool,
    context: contextvars.Context,
) -> None:
    """Hand a task run to the runner, and settle its future when the runner reports. A
    remote runner's ``submit`` is called in the context the task was submitted from, so
    options set around ``.submit()`` (such as Dask resources) reach it."""
    task_run = future.task_run
    if runner.in_process:
        call = partial(context.run, run_anywhere, task, task_run, args, kwargs, log_prints)
        _attach(
            future, runner.submit(call), partial(_settle, task, future, _local_state, None, None)
        )
        return
    # A remote worker holds no run store: this process decides the plan and keeps the cache.
    plan = context.run(plan_task, task, task_run, args, kwargs)
    submit = partial(_submit_remote, task, future, args, kwargs, runner, log_prints, context)
    if plan is None or plan.key is None:
        submit(plan, None)
    else:  # looking the key up may wait for an identical run: not in the submitting thread
        name = f"plait-cache-{task_run.name}"
        threading.Thread(target=_submit_keyed, args=(task, future, plan, submit), name=name).start()


def _submit_remote(
    task: Task,
    future: PlaitFuture,
    args: tuple,
    kwargs: dict,
    runner: TaskRunner,
    log_prints: bool,
    context: contextvars.Context,
    plan: Plan | None,
    keyed: Callable[[State], None] | None,
) -> None:
    flow_context = context.run(flow_run_var.get)
    flow_run = None if flow_context is None else flow_context.flow_run_for_workers()
    remote = RemoteTaskCall(task, future.task_run, args, kwargs, log_prints, plan, flow_run)
    try:
        runner_future = context.run(runner.submit, remote)
    except Exception as exc:
        unsendable = _unsendable_argument(task, args, kwargs, runner)
        if unsendable is None:
            raise
        raise unsendable from exc
    again = partial(_submit, task, future, args, kwargs, runner, log_prints, context)
    _attach(future, runner_future, partial(_settle, task, future, _remote_state, again, keyed))


def _unsendable_argument(
    task: Task, args: tuple, kwargs: dict, runner: TaskRunner
) -> SerializationError | None:
    """The error naming the first argument that cannot be pickled for ``runner``'s workers,
    if that is why the call could not be sent."""
    import cloudpickle

    bound = task.bind(args, kwargs)
    for name, value in bound.arguments.items():
        try:
            cloudpickle.dumps(value)
        except Exception as exc:
            return SerializationError(
                f"Task {task.name!r}: argument {name!r} ({type(value).__name__}) cannot be sent "
                f"to the workers of {type(runner).__name__}: {type(exc).__name__}: {exc}. Pass "
                "a value that can be pickled (settings or a block rather than an open "
                "connection or lock), or run the task on threads."
            )
    return None


def _submit_keyed(task: Task, future: PlaitFuture, plan: Plan, submit: Callable[..., None]) -> None:
    """A cached task for a remote worker: reuse a hit, or hold the key's lock while the
    worker computes (the worker persists the result; ``_settle`` records it and releases the
    key), so identical runs compute once, as in process."""
    assert plan.cache is not None
    assert plan.key is not None
    task_run = future.task_run
    try:
        if not task.refresh_cache and (hit := plan.cached()) is not None:
            future._set_final(conclude(task, task_run, hit))
            return
        computing = plan.cache.computing(plan.key)
        computing.__enter__()
        try:
            if not task.refresh_cache and (hit := plan.cached()) is not None:
                computing.__exit__(None, None, None)
                future._set_final(conclude(task, task_run, hit))
                return
            submit(plan.for_worker(), partial(_remember, plan, computing))
        except BaseException:
            computing.__exit__(None, None, None)
            raise
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        message = f"Could not submit task run {task_run.name!r}: {reason}"
        future._set_final(conclude(task, task_run, Failed(exc, message)))


def _remember(plan: Plan, computing: Any, state: State) -> None:
    """Record a worker's persisted result under the plan's key, and release the key."""
    try:
        if state.type is StateType.COMPLETED and state.result_ref is not None:
            plan.remember(state.result_ref)  # type: ignore[arg-type]
    finally:
        computing.__exit__(None, None, None)


def _attach(future: PlaitFuture, runner_future: Any, on_done: Callable[[Any], None]) -> None:
    runner_future.add_done_callback(on_done)
    if not future._attach(runner_future):
        runner_future.cancel()


def _cancelled(task_run: TaskRun) -> State:
    message = f"Task run {task_run.name!r} was cancelled before it started."
    return Cancelled(CancelledRunError(message), message)


def _settle(
    task: Task,
    future: PlaitFuture,
    decode: Callable[[TaskRun, Any], State],
    resubmit: Callable[[], None] | None,
    keyed: Callable[[State], None] | None,
    runner_future: Any,
) -> None:
    """Turn what the runner reported into the future's final state. A worker that died
    (a remote runner's call failed) crashes the run, which is submitted again if its retry
    options allow. ``keyed`` records a cached task's result and releases its key."""
    task_run = future.task_run
    if runner_future.cancelled():
        if keyed is not None:
            keyed(_cancelled(task_run))
        state = conclude(task, task_run, _cancelled(task_run))
    else:
        try:
            state = decode(task_run, runner_future.result())
            if keyed is not None:
                keyed(state)
        except Exception as exc:
            message = (
                f"Task run {task_run.name!r} crashed: its worker failed with "
                f"{type(exc).__name__}: {exc}"
            )
            error = CrashedRunError(message)
            error.__cause__ = exc
            crash = Crashed(error, message)
            if keyed is not None:
                keyed(crash)
            delay = None if resubmit is None else retry_after_crash(task, task_run, crash)
            if delay is not None:
                _resubmit_later(delay, resubmit, task, future, crash)
                return
            state = conclude(task, task_run, crash)
    if future.transaction is not None:
        future.transaction.stage(task, task_run, state)
    future._set_final(state)


def _resubmit_later(
    delay: float, resubmit: Callable[[], None], task: Task, future: PlaitFuture, crash: State
) -> None:
    """Submit a crashed run again after ``delay``, from a thread of its own: the runner's
    callback thread may belong to the broken pool being replaced."""

    def again() -> None:
        try:
            resubmit()
        except Exception as exc:
            message = f"{crash.message}; submitting it again failed: {type(exc).__name__}: {exc}"
            future._set_final(conclude(task, future.task_run, Crashed(crash.data, message)))

    timer = threading.Timer(delay, again)
    timer.daemon = True
    timer.start()


def _local_state(task_run: TaskRun, state: State) -> State:
    return state


def _remote_state(task_run: TaskRun, payload: bytes) -> State:
    import cloudpickle

    state, run_count, events = cloudpickle.loads(payload)
    journal.record_many(events)
    task_run.run_count = run_count
    return state


@dataclass(slots=True)
class RemoteTaskCall:
    """A task run packed for a worker process or cluster: calling it runs the task there and
    returns the final state, attempt count and journal events, pickled."""

    task: Task
    task_run: TaskRun
    args: tuple
    kwargs: dict
    log_prints: bool
    plan: Plan | None = None  # decided by the flow's process: persist here, never cache
    flow_run: FlowRun | None = None  # a copy of the flow run's, for plait.runtime

    def __call__(self) -> bytes:
        token = worker_flow_run_var.set(self.flow_run)
        try:
            return self._run()
        finally:
            worker_flow_run_var.reset(token)

    def _run(self) -> bytes:
        with journal.capturing() as capture:
            run = self.task_run
            state = run_anywhere(self.task, run, self.args, self.kwargs, self.log_prints, self.plan)
            try:
                return _pack((state, run.run_count, capture.events))
            except Exception as exc:
                what = "result" if state.is_completed() else "exception"
                message = (
                    f"Task run {run.name!r} ended {state.name}, but its {what} could not be "
                    f"sent back from the worker: {type(exc).__name__}: {exc}"
                )
                if isinstance(state.data, BaseException):
                    message += "\n" + "".join(traceback.format_exception(state.data))
                state = run.set_state(Failed(RemoteError(message), message.split("\n", 1)[0]))
                return _pack((state, run.run_count, capture.events))


def _pack(report: tuple) -> bytes:
    """A worker's report as bytes: with pickle, which is fast for the plain data most reports
    hold, else with cloudpickle (a result of a class or function defined in a script)."""
    try:
        return pickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        import cloudpickle

        return cloudpickle.dumps(report)
