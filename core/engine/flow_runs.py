"""Running flow runs: bind and validate parameters, give the run its own task runner, run
the body, wait for every future it submitted, and derive the final state from its return.

A flow ends Failed when its body raises, or when it returns a failed state, or a future
(or a collection of futures) of a task run that did not complete. Futures the body never
waited for are waited for before the flow ends. Their failures are logged with the task
runs but do not fail the flow, as in Prefect 3.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from plait import journal
from plait.context import FlowRunContext, flow_run_var, run_tags, task_run_var
from plait.engine.dependencies import collect_upstream, state_of, substitute
from plait.engine.lifecycle import attempt, attempt_async, conclude, drive, drive_async, lifecycle
from plait.engine.persistence import plan_flow
from plait.engine.runs import DeploymentInfo, FlowRun
from plait.exceptions import InvalidOptionError, ParameterError, TerminationSignal
from plait.futures import PlaitFuture, wait_all, wait_all_async
from plait.logs import capture_prints, run_logger, setup_logging
from plait.results import parameter_serializer, persist_by_default_setting
from plait.runs import generate_run_name, new_id
from plait.states import Failed, Pending, State, StateType

if TYPE_CHECKING:
    from plait.flows import Flow

logger = logging.getLogger("plait.flow_runs")


@dataclass(frozen=True, slots=True)
class Resumed:
    """A recorded flow run to run again, as a new attempt (``plait flow-run retry``), or a
    deployment's run to start."""

    id: str
    name: str
    run_count: int
    deployment: DeploymentInfo | None = None
    scheduled_time: datetime | None = None


def _prepare(
    flow: Flow, args: tuple, kwargs: dict, resume: Resumed | None = None
) -> tuple[FlowRun, tuple, dict, State | None]:
    """Create the flow run (or a new attempt of ``resume``); bad parameters give a run that
    is already Failed."""
    setup_logging()
    failure: State | None = None
    parameters: dict[str, Any] = {}
    try:
        bound = flow.bind(args, kwargs)
        bound.apply_defaults()
        parameters = flow.validate(dict(bound.arguments))
        bound.arguments.update(parameters)
        name = flow.run_name(bound) or generate_run_name()
        args, kwargs = bound.args, bound.kwargs
    except (ParameterError, InvalidOptionError) as exc:
        failure = Failed(exc, str(exc))
        name = generate_run_name()
    if resume is not None:
        flow_run = FlowRun.resume(
            run_id=resume.id,
            name=resume.name,
            flow_name=flow.name,
            parameters=parameters,
            tags=flow.tags,
            run_count=resume.run_count,
            state=Pending(),
            deployment=resume.deployment,
            scheduled_time=resume.scheduled_time,
        )
        return flow_run, args, kwargs, failure
    parent_flow = flow_run_var.get()
    parent_task = task_run_var.get()
    if parent_task is not None:
        parent_flow_run_id = parent_task.task_run.flow_run_id
    else:
        parent_flow_run_id = parent_flow.flow_run.id if parent_flow is not None else None
    entrypoint = parameters_ref = None
    if parent_flow_run_id is None and parent_task is None and failure is None:
        entrypoint, parameters_ref = _record_for_retry(flow, parameters)
    flow_run = FlowRun.create(
        flow_name=flow.name,
        name=name,
        parameters=parameters,
        state=Pending(),
        tags=run_tags(flow.tags),
        parent_flow_run_id=parent_flow_run_id,
        parent_task_run_id=parent_task.task_run.id if parent_task is not None else None,
        on_crashed=tuple(getattr(h, "__qualname__", repr(h)) for h in flow.on_crashed_hooks),
        entrypoint=entrypoint,
        parameters_ref=parameters_ref,
    )
    return flow_run, args, kwargs, failure


def _record_for_retry(
    flow: Flow, parameters: dict[str, Any]
) -> tuple[str | None, dict[str, Any] | None]:
    """What ``plait flow-run retry`` needs to run a top-level flow run again: where to import
    the flow from, and its parameters (stored encrypted beside its results). A flow
    defined inside a function cannot be imported again, so it gets neither; a flow called
    without parameters needs only the first."""
    entrypoint = entrypoint_of(flow)
    if entrypoint is None or not parameters:
        return entrypoint, None
    try:
        ref = flow.results.write(parameters, f"parameters/{new_id()}", parameter_serializer())
    except Exception as exc:  # unpicklable parameters, unreachable storage: no retry, no failure
        logger.debug("Parameters of flow %r not stored for retries: %s", flow.name, exc)
        return entrypoint, None
    return entrypoint, ref.to_json()


def entrypoint_of(flow: Flow) -> str | None:
    """``module:name`` of a module-level flow, or ``/path/to/script.py:name`` for one in
    the script being run."""
    fn = flow.fn
    if "<locals>" in fn.__qualname__:
        return None
    if fn.__module__ == "__main__":
        path = getattr(sys.modules["__main__"], "__file__", None)
        return f"{os.path.abspath(path)}:{fn.__qualname__}" if path else None
    return f"{fn.__module__}:{fn.__qualname__}"


class _RunnerDidNotStart(Exception):
    """The flow run's task runner raised in ``start()`` (a cluster that cannot be created or
    reached): the run ends Failed with that error, before its body runs."""

    def __init__(self, runner: Any, error: Exception) -> None:
        super().__init__(
            f"Could not start the task runner {runner!r}: {type(error).__name__}: {error}"
        )
        self.error = error


@contextmanager
def _flow_run_scope(flow: Flow, flow_run: FlowRun) -> Iterator[FlowRunContext]:
    """The flow run's context and task runner, for the duration of its lifecycle."""
    log_prints = flow.resolve_log_prints()
    if log_prints:
        capture_prints()
    runner = flow.task_runner.duplicate()
    context = FlowRunContext(flow, flow_run, runner, log_prints, persist_by_default_setting())
    restore_sigterm = _sigterm_crashes(flow_run)
    flow_token = flow_run_var.set(context)
    task_token = task_run_var.set(None)
    run_logger(flow_run).info("Beginning flow run %r for flow %r", flow_run.name, flow.name)
    try:
        try:
            runner.start()
        except Exception as exc:
            raise _RunnerDidNotStart(runner, exc) from exc
        yield context
    finally:
        # Only a timeout or a crash leaves futures unfinished: stop what has not started.
        abandoned = [future for future in context.futures if not future.done()]
        for future in abandoned:
            future.cancel()
        runner.shutdown(wait=not abandoned)
        task_run_var.reset(task_token)
        flow_run_var.reset(flow_token)
        restore_sigterm()


def _sigterm_crashes(flow_run: FlowRun) -> Callable[[], None]:
    """While a top-level flow runs in the main thread, SIGTERM (``kill``, a container
    stopping) raises ``TerminationSignal``: the run ends Crashed, its on_crashed hooks run and
    its records are saved, instead of the process vanishing. A handler the program installed
    itself is left alone. Returns the function that restores the previous handler."""
    if (
        not _is_top_level(flow_run)
        or threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        return lambda: None

    def terminate(signum: int, frame: Any) -> None:
        raise TerminationSignal("The process received SIGTERM.")

    signal.signal(signal.SIGTERM, terminate)
    return lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _final_value(context: FlowRunContext, value: Any) -> Any:
    """The flow's result, or a Failed state if it returned runs that did not complete. Every
    future has finished by now, so a returned unfinished state of a task run is replaced by
    that run's final state: the outcome never depends on timing."""
    if isinstance(value, State):
        handed_out = context.unfinished_states.get(id(value))
        if handed_out is not None and handed_out[0] is value:
            return handed_out[1].state
        return value
    found: list[Any] = []
    collect_upstream(value, found)
    if not found:
        return value
    required = [item for item in found if isinstance(item, PlaitFuture | State)]
    unfinished = [item for item in required if not state_of(item).is_completed()]
    if not unfinished:
        return substitute(value)
    names = ", ".join(
        repr(item.task_run.name) if isinstance(item, PlaitFuture) else f"a {item.name} state"
        for item in unfinished
    )
    first = state_of(unfinished[0])
    message = f"{len(unfinished)} of {len(required)} returned task runs did not complete: {names}"
    return Failed(first.data if isinstance(first.data, Exception) else None, message)


def _body(context: FlowRunContext, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    if _is_top_level(context.flow_run):  # Running is recorded before any side effect
        journal.flush()
    try:
        value = fn(*args, **kwargs)
    except Exception:
        wait_all(context.futures)
        raise
    wait_all(context.futures)
    return _final_value(context, value)


async def _body_async(
    context: FlowRunContext, fn: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any:
    if _is_top_level(context.flow_run):  # Running is recorded before any side effect
        await asyncio.to_thread(journal.flush)
    try:
        value = await fn(*args, **kwargs)
    except Exception:
        await wait_all_async(context.futures)
        raise
    await wait_all_async(context.futures)
    return _final_value(context, value)


def call_flow(
    flow: Flow, args: tuple, kwargs: dict, return_state: bool, resume: Resumed | None = None
) -> Any:
    """``flow(...)`` for a sync flow: the whole run, in this thread."""
    flow_run, args, kwargs, failure = _prepare(flow, args, kwargs, resume)
    if failure is not None:
        state = conclude(flow, flow_run, failure)
    else:
        try:
            with _flow_run_scope(flow, flow_run) as context:
                body = partial(
                    attempt, partial(_body, context, flow.body), args, kwargs, flow.timeout_seconds
                )
                state = drive(lifecycle(flow, flow_run, _persist(flow, flow_run)), body)
        except _RunnerDidNotStart as exc:
            state = conclude(flow, flow_run, Failed(exc.error, str(exc)))
    if _is_top_level(flow_run):
        journal.flush()
        state = _as_ruled(flow_run, state)
    return flow.deliver(state, return_state)


async def call_flow_async(
    flow: Flow, args: tuple, kwargs: dict, return_state: bool, resume: Resumed | None = None
) -> Any:
    """``await flow(...)`` for an async flow: the whole run, on this event loop."""
    flow_run, args, kwargs, failure = _prepare(flow, args, kwargs, resume)
    if failure is not None:
        state = conclude(flow, flow_run, failure)
    else:
        try:
            with _flow_run_scope(flow, flow_run) as context:
                fn = partial(_body_async, context, flow.body)
                body = partial(attempt_async, fn, args, kwargs, flow.timeout_seconds)
                state = await drive_async(lifecycle(flow, flow_run, _persist(flow, flow_run)), body)
        except _RunnerDidNotStart as exc:
            state = conclude(flow, flow_run, Failed(exc.error, str(exc)))
    if _is_top_level(flow_run):
        await asyncio.to_thread(journal.flush)
        state = _as_ruled(flow_run, state)
    return flow.deliver(state, return_state)


def _as_ruled(flow_run: FlowRun, state: State) -> State:
    """The state the store holds for the run, where its rules (``plait.state_rules``) did
    not take the final state the run reported: a run asked to cancel ends Cancelled, a run
    marked Crashed stays Crashed. The reported state stays in the run's history."""
    ruling = journal.ruling(flow_run.id)
    if ruling is None or ruling.proposed != state.type.value or ruling.state == ruling.proposed:
        return state
    held = State(StateType(ruling.state), ruling.describe(f"Flow run {flow_run.name!r}"))
    flow_run.state = held
    return held


def _persist(flow: Flow, flow_run: FlowRun) -> Callable[[State], State] | None:
    plan = plan_flow(flow, flow_run)
    return plan.persist if plan is not None else None


def _is_top_level(flow_run: FlowRun) -> bool:
    """Not a subflow: its start (Running, before the body) and its end are when its run's
    records must be durable, so a process killed at any moment leaves a run to mark
    Crashed."""
    return flow_run.flow_run_id is None and flow_run.parent_task_run_id is None
