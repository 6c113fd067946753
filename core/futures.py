"""Futures: handles on submitted task runs, and helpers to wait on many of them."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any, NamedTuple

from plait.context import flow_run_var
from plait.engine.runs import TaskRun
from plait.states import State
from plait.transactions import transaction_var

# Serialises the rare hand-over between "waiting for upstream", "submitted" and "cancelled".
_transition_lock = threading.Lock()


class PlaitFuture:
    """The eventual outcome of a submitted task run.

    ``result()`` waits and returns the task's value (or raises its exception); ``state``
    is the run's current state; ``await future`` works in async code.
    """

    __slots__ = ("_cancel_requested", "_future", "_runner_future", "task_run", "transaction")

    def __init__(self, task_run: TaskRun) -> None:
        self.task_run = task_run
        self._future: cf.Future[State] = cf.Future()
        self._runner_future: cf.Future[Any] | None = None
        self._cancel_requested = False
        self.transaction = transaction_var.get()  # the one the run takes part in, if any
        if self.transaction is not None:
            self.transaction.submitted(self)

    @property
    def task_run_id(self) -> str:
        return self.task_run.id

    @property
    def state(self) -> State:
        """The final state once done, else the run's latest state (Pending, Running, …).
        A flow that returns such an unfinished state ends in the run's final state."""
        if self._future.done():
            return self._future.result()
        state = self.task_run.state
        context = flow_run_var.get()
        if context is not None:
            context.unfinished_states[id(state)] = (state, self)
        return state

    def done(self) -> bool:
        return self._future.done()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the run is final, or until ``timeout`` seconds have passed."""
        cf.wait([self._future], timeout=timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> Any:
        """Wait for the run and return its value, or raise the exception that ended it.

        Raises ``TimeoutError`` if the run is not final within ``timeout`` seconds.
        """
        return self._future.result(timeout).outcome(raise_on_failure)

    def add_done_callback(self, fn: Callable[[PlaitFuture], Any]) -> None:
        """Call ``fn(future)`` once the run is final (at once if it already is)."""
        self._future.add_done_callback(lambda _: fn(self))

    def cancel(self) -> bool:
        """Stop the run if it has not started yet; True if it will not run."""
        with _transition_lock:
            if self._future.done():
                return False
            if self._runner_future is None:
                self._cancel_requested = True
                return True
            runner_future = self._runner_future
        return runner_future.cancel()

    def __await__(self) -> Generator[Any, None, Any]:
        state = yield from asyncio.wrap_future(self._future).__await__()
        return state.outcome()

    def __repr__(self) -> str:
        return f"PlaitFuture({self.task_run.name!r}, state={self.state!r})"

    # The engine's side.

    def _attach(self, runner_future: cf.Future[Any]) -> bool:
        """Record where the run was submitted; False if it was cancelled meanwhile."""
        with _transition_lock:
            if self._cancel_requested:
                return False
            self._runner_future = runner_future
            return True

    def _set_final(self, state: State) -> None:
        self.task_run.state = state
        self._runner_future = None  # breaks the future <-> runner-future cycle early
        self._future.set_result(state)


class PlaitFutureList(list[PlaitFuture]):
    """The futures of a ``Task.map``: a list, with ``result()`` and ``wait()`` for all of them."""

    def wait(self, timeout: float | None = None) -> None:
        cf.wait([future._future for future in self], timeout=timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> list[Any]:
        self.wait(timeout)
        return [future.result(0, raise_on_failure) for future in self]


class DoneAndNotDone(NamedTuple):
    done: set[PlaitFuture]
    not_done: set[PlaitFuture]


def wait(futures: Iterable[PlaitFuture], timeout: float | None = None) -> DoneAndNotDone:
    """Wait until all ``futures`` are final or ``timeout`` passes; returns (done, not_done)."""
    by_inner = {future._future: future for future in futures}
    done, not_done = cf.wait(by_inner, timeout=timeout)
    return DoneAndNotDone({by_inner[f] for f in done}, {by_inner[f] for f in not_done})


def as_completed(
    futures: Iterable[PlaitFuture], timeout: float | None = None
) -> Iterator[PlaitFuture]:
    """Yield ``futures`` as their runs finish; ``TimeoutError`` if ``timeout`` passes first."""
    by_inner = {future._future: future for future in futures}
    for inner in cf.as_completed(by_inner, timeout=timeout):
        yield by_inner[inner]


def wait_all(futures: list[PlaitFuture]) -> None:
    """Wait for every future in a list that may grow while we wait."""
    seen = 0
    while seen < len(futures):
        batch = futures[seen:]
        seen += len(batch)
        cf.wait([future._future for future in batch])


async def wait_all_async(futures: list[PlaitFuture]) -> None:
    """``wait_all`` for event loops: awaits without blocking the loop."""
    seen = 0
    while seen < len(futures):
        end = len(futures)
        batch = [future._future for future in futures[seen:end] if not future.done()]
        seen = end
        if batch:
            await asyncio.wait([asyncio.wrap_future(inner) for inner in batch])
