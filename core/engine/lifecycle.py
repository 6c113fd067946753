"""The life of one run, shared by flows and tasks, sync and async.

``lifecycle`` is a generator that decides everything: state transitions, which errors
are retried and after how long, and which hooks fire. It does no waiting of its own.
Instead it yields *effects* (call the body, sleep, run a hook), and a driver carries them
out: ``drive`` for sync code, ``drive_async`` for coroutines. So the policy is written
once and behaves the same on both sides.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from functools import partial
from types import GeneratorType
from typing import TYPE_CHECKING, Any

from plait.engine.concurrency import run_coroutine_sync
from plait.engine.runs import Run
from plait.engine.timeouts import DeadlineExceeded, call_with_deadline
from plait.exceptions import RunTimeoutError
from plait.logs import log_for_run
from plait.states import (
    Cancelled,
    Completed,
    Crashed,
    Failed,
    Retrying,
    Running,
    State,
    StateType,
    TimedOut,
)

if TYPE_CHECKING:
    from plait.engine.definition import Definition


@dataclass(slots=True)
class Outcome:
    """What one attempt at the body produced."""

    value: Any = None
    error: BaseException | None = None
    timed_out: bool = False


class _Call:
    """Effect: run the body once and send back its ``Outcome``."""


CALL = _Call()


@dataclass(slots=True, frozen=True)
class Sleep:
    """Effect: wait before the next attempt. An interruption is sent back as an ``Outcome``."""

    seconds: float


@dataclass(slots=True, frozen=True)
class Hook:
    """Effect: call a state hook; its errors are logged and never change the state."""

    fn: Callable[..., Any]
    definition: Definition
    run: Run
    state: State


Steps = Generator[_Call | Sleep | Hook, Outcome | None, State]


def lifecycle(
    definition: Definition, run: Run, persist: Callable[[State], State] | None = None
) -> Steps:
    """Running → (Retrying → Running)* → a final state, then that state's hooks. With
    ``persist``, a completed run's value is persisted before its Completed state is entered
    (``persist`` returns that state, or a Failed one if the value cannot be persisted)."""
    while True:
        run.run_count += 1
        running = Running()
        run.set_state(running)
        for hook in definition.hooks_for(running):
            yield Hook(hook, definition, run, running)
        outcome = yield CALL
        assert outcome is not None
        state = _state_from(outcome, definition, run)
        if not (state.is_failed() and _should_retry(definition, run, state)):
            break
        try:
            delay = definition.retry_delay(run.run_count)
        except Exception as exc:
            state = Failed(exc, f"{type(exc).__name__}: {exc}")
            break
        retry = f"retry {run.run_count}/{definition.retries} in {delay:g}s"
        run.set_state(Retrying(f"{state.message} ({retry})"))
        log_for_run(run, logging.WARNING, "Failed with %s - %s", state.message, retry)
        if delay > 0:
            interruption = yield Sleep(delay)
            if interruption is not None:
                state = _state_from(interruption, definition, run)
                break
    if persist is not None and state.type is StateType.COMPLETED and state.result_ref is None:
        state = persist(state)
    return (yield from finish(definition, run, state))


def finish(definition: Definition, run: Run, state: State) -> Steps:
    """Enter the final ``state``, log it, and fire its hooks."""
    run.set_state(state)
    if state.is_completed():
        log_for_run(run, definition.completion_log_level, "Finished in state %r", state)
    else:
        error = state.data if isinstance(state.data, Exception) else None
        exc_info = None if error is None else (type(error), error, error.__traceback__)
        log_for_run(run, logging.ERROR, "Finished in state %r", state, exc_info=exc_info)
    for hook in definition.hooks_for(state):
        yield Hook(hook, definition, run, state)
    return state


def conclude(definition: Definition, run: Run, state: State) -> State:
    """End a run that never reached its body (upstream failed, cancelled, bad parameters)."""
    return drive(finish(definition, run, state), _no_call)


def _no_call() -> Outcome:
    raise AssertionError("finish() never calls the body")


def _should_retry(definition: Definition, run: Run, state: State) -> bool:
    if run.run_count > definition.retries:
        return False
    condition = definition.retry_condition_fn
    if condition is None:
        return True
    try:
        return bool(condition(definition, run, state))
    except Exception:
        log_for_run(run, logging.ERROR, "retry_condition_fn raised; not retrying", exc_info=True)
        return False


def retry_after_crash(definition: Definition, run: Run, crash: State) -> float | None:
    """After the worker running an attempt of ``run`` died (its events died with it): count
    the attempt, and if the retry options allow another, enter Retrying and return the delay
    before it; None when the run ends ``crash``."""
    run.run_count += 1
    if not _should_retry(definition, run, crash):
        return None
    try:
        delay = definition.retry_delay(run.run_count)
    except Exception:
        log_for_run(run, logging.ERROR, "retry_delay_seconds raised; not retrying", exc_info=True)
        return None
    retry = f"retry {run.run_count}/{definition.retries} in {delay:g}s"
    run.set_state(Retrying(f"{crash.message} ({retry})"))
    log_for_run(run, logging.WARNING, "Crashed: %s - %s", crash.message, retry)
    return delay


def _state_from(outcome: Outcome, definition: Definition, run: Run) -> State:
    label = f"{definition.kind_label} run {run.name!r}"
    if outcome.timed_out:
        message = f"{label} exceeded its timeout of {definition.timeout_seconds:g} seconds."
        return TimedOut(RunTimeoutError(message), message)
    error = outcome.error
    if error is None:
        value = outcome.value
        if isinstance(value, State) and value.is_final():
            return value
        return Completed(value)
    if isinstance(error, Exception):
        return Failed(error, f"{type(error).__name__}: {error}")
    if isinstance(error, asyncio.CancelledError):
        return Cancelled(error, f"{label} was cancelled.")
    return Crashed(error, f"{label} crashed: {type(error).__name__}{_suffix(error)}")


def _suffix(error: BaseException) -> str:
    return f": {error}" if str(error) else ""


def attempt(fn: Callable[..., Any], args: tuple, kwargs: dict, timeout: float | None) -> Outcome:
    """Call a sync body once, within its deadline. A generator it returns (a generator
    function's) is consumed here, into a list: its work is part of the attempt."""
    try:
        if timeout is None:
            return Outcome(_gathered(fn, args, kwargs))
        return Outcome(call_with_deadline(partial(_gathered, fn, args, kwargs), timeout))
    except DeadlineExceeded:
        return Outcome(timed_out=True)
    except BaseException as exc:
        return Outcome(error=exc)


def _gathered(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    value = fn(*args, **kwargs)
    return list(value) if type(value) is GeneratorType else value


async def attempt_async(
    fn: Callable[..., Awaitable[Any]], args: tuple, kwargs: dict, timeout: float | None
) -> Outcome:
    """Await an async body once, cancelling it at its deadline."""
    scope = None
    try:
        if timeout is None:
            return Outcome(await fn(*args, **kwargs))
        async with asyncio.timeout(timeout) as scope:
            return Outcome(await fn(*args, **kwargs))
    except TimeoutError as exc:
        if scope is not None and scope.expired():
            return Outcome(timed_out=True)
        return Outcome(error=exc)
    except BaseException as exc:
        return Outcome(error=exc)


def drive(steps: Steps, call: Callable[[], Outcome]) -> State:
    """Carry out a lifecycle's effects in this thread."""
    reply: Outcome | None = None
    while True:
        try:
            effect = steps.send(reply)
        except StopIteration as stop:
            return stop.value
        reply = None
        if effect is CALL:
            reply = call()
        elif isinstance(effect, Sleep):
            try:
                time.sleep(effect.seconds)
            except BaseException as exc:
                reply = Outcome(error=exc)
        else:
            _call_hook(effect, run_coroutine_sync)


async def drive_async(steps: Steps, call: Callable[[], Awaitable[Outcome]]) -> State:
    """Carry out a lifecycle's effects on the running event loop."""
    reply: Outcome | None = None
    while True:
        try:
            effect = steps.send(reply)
        except StopIteration as stop:
            return stop.value
        reply = None
        if effect is CALL:
            reply = await call()
        elif isinstance(effect, Sleep):
            try:
                await asyncio.sleep(effect.seconds)
            except BaseException as exc:
                reply = Outcome(error=exc)
        else:
            awaitable = _call_hook(effect, None)
            if awaitable is not None:
                try:
                    await awaitable
                except Exception:
                    _log_hook_failure(effect)


def _call_hook(effect: Hook, run_awaitable: Callable[[Any], Any] | None) -> Awaitable[Any] | None:
    """Call a hook. An awaitable it returns is run here if ``run_awaitable`` is given,
    else handed back for the async driver to await."""
    try:
        result = effect.fn(effect.definition, effect.run, effect.state)
        if not inspect.isawaitable(result):
            return None
        if run_awaitable is None:
            return result
        run_awaitable(result)
    except Exception:
        _log_hook_failure(effect)
    return None


def _log_hook_failure(effect: Hook) -> None:
    name = getattr(effect.fn, "__name__", repr(effect.fn))
    message = "Hook %r failed on state %s; the run's state is unchanged."
    log_for_run(effect.run, logging.ERROR, message, name, effect.state.name, exc_info=True)
