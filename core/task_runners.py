"""Task runners decide where submitted task runs execute: threads, processes, or (through
plugins) a cluster.

The interface is deliberately small. A runner takes zero-argument calls and returns a
``concurrent.futures.Future`` for each. The engine does everything else: states, retries,
upstream futures, hooks and logging.

- An *in-process* runner (``in_process = True``) gets plain callables that share memory
  with the flow.
- Any other runner gets picklable call objects. It must run ``call()`` somewhere and
  return what it returns. The call carries the task run's journal events and result back
  as bytes, so the remote side needs no database and no Plait state of its own.

Each flow run works on its own ``duplicate()`` of the configured runner, started when
the run begins and shut down when it ends.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Self, TypeVar

from plait.exceptions import InvalidOptionError

T = TypeVar("T")


class TaskRunner(ABC):
    """Where submitted task runs execute. Subclass it to run tasks somewhere new."""

    in_process: ClassVar[bool] = False

    def start(self) -> None:  # noqa: B027 - optional for runners with nothing to acquire
        """Acquire resources (pools, cluster connections). Called when a flow run begins."""

    @abstractmethod
    def submit(self, call: Callable[[], T]) -> cf.Future[T]:
        """Arrange for ``call()`` to run and return a future of its return value."""

    def shutdown(self, wait: bool = True) -> None:  # noqa: B027 - optional, see start()
        """Release resources. With ``wait=False``, calls not yet started are cancelled."""

    @abstractmethod
    def duplicate(self) -> Self:
        """A new, unstarted runner with the same settings, for one flow run."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


class _PoolTaskRunner(TaskRunner):
    """A runner backed by a ``concurrent.futures`` executor, created when the run starts."""

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None and (
            not isinstance(max_workers, int) or isinstance(max_workers, bool) or max_workers < 1
        ):
            raise InvalidOptionError(
                f"{type(self).__name__}: max_workers must be a whole number >= 1, or None for "
                f"the default; got {max_workers!r}."
            )
        self.max_workers = max_workers or self._default_max_workers()
        self._executor: cf.Executor | None = None

    @staticmethod
    @abstractmethod
    def _default_max_workers() -> int: ...

    @abstractmethod
    def _new_executor(self) -> cf.Executor: ...

    def start(self) -> None:
        if self._executor is None:
            self._executor = self._new_executor()

    def _executor_started(self) -> cf.Executor:
        self.start()
        assert self._executor is not None
        return self._executor

    def shutdown(self, wait: bool = True) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=wait, cancel_futures=not wait)
            self._executor = None

    def duplicate(self) -> Self:
        return type(self)(self.max_workers)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_workers={self.max_workers})"


class ThreadPoolTaskRunner(_PoolTaskRunner):
    """Runs tasks in a pool of threads in the flow's process (the default).

    ``max_workers`` defaults to ``min(32, CPUs + 4)``, like ``ThreadPoolExecutor``.
    """

    in_process = True

    @staticmethod
    def _default_max_workers() -> int:
        return min(32, (os.cpu_count() or 1) + 4)

    def _new_executor(self) -> cf.Executor:
        return cf.ThreadPoolExecutor(self.max_workers, thread_name_prefix="plait-task")

    def submit(self, call: Callable[[], T]) -> cf.Future[T]:
        return self._executor_started().submit(call)


def _run_pickled(payload: bytes) -> Any:
    """Runs in the worker process: unpickle a call and run it."""
    import cloudpickle

    return cloudpickle.loads(payload)()


class ProcessPoolTaskRunner(_PoolTaskRunner):
    """Runs tasks in a pool of worker processes, for CPU-bound work the GIL would serialise.

    Calls and their arguments cross the process boundary with cloudpickle, so tasks and
    closures defined in scripts and notebooks work. Workers are started with ``spawn``.
    Scripts that use this runner need the usual ``if __name__ == "__main__":`` guard.
    A worker that dies fails only the task runs it held (they end ``Crashed``). The pool is
    then replaced for the runs that follow. ``max_workers`` defaults to the CPU count.
    """

    in_process = False

    @staticmethod
    def _default_max_workers() -> int:
        return os.cpu_count() or 1

    def _new_executor(self) -> cf.Executor:
        import multiprocessing

        return cf.ProcessPoolExecutor(
            self.max_workers, mp_context=multiprocessing.get_context("spawn")
        )

    def submit(self, call: Callable[[], T]) -> cf.Future[T]:
        import cloudpickle

        payload = cloudpickle.dumps(call)
        try:
            return self._executor_started().submit(_run_pickled, payload)
        except cf.BrokenExecutor:
            self.shutdown(wait=False)
            return self._executor_started().submit(_run_pickled, payload)


TASK_RUNNERS: dict[str, type[TaskRunner]] = {
    "threads": ThreadPoolTaskRunner,
    "processes": ProcessPoolTaskRunner,
}


def resolve_task_runner(value: Any, owner: str) -> TaskRunner:
    """A runner from a ``task_runner=`` option: an instance, a class, or a registered name."""
    if value is None:
        return ThreadPoolTaskRunner()
    if isinstance(value, TaskRunner):
        return value
    if isinstance(value, type) and issubclass(value, TaskRunner):
        return value()
    known = TASK_RUNNERS
    if isinstance(value, str):
        if value in TASK_RUNNERS:  # without loading the plugins
            return TASK_RUNNERS[value]()
        known = {**TASK_RUNNERS, **_plugin_task_runners()}
        if value in known:
            return known[value]()
    names = ", ".join(repr(name) for name in known)
    raise InvalidOptionError(
        f"{owner}: task_runner must be a TaskRunner instance or class, or one of {names}; "
        f"got {value!r}. Example: task_runner=ThreadPoolTaskRunner(max_workers=8)."
    )


def _plugin_task_runners() -> dict[str, type[TaskRunner]]:
    """Runners plugins register by name (``plait_task_runners``), such as plait-dask's."""
    from plait.plugins import get_plugins

    return {
        name: runner
        for _, runners in get_plugins().call("plait_task_runners")
        for name, runner in runners.items()
    }
