"""Tasks: functions whose every call inside a flow is a tracked, retried task run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from plait import caching
from plait.engine import mapping, submission, task_runs
from plait.engine import options as opt
from plait.engine.definition import UNBOUND, Definition, HookDecorator
from plait.engine.options import exponential_backoff, retry_when
from plait.exceptions import InvalidOptionError
from plait.futures import PlaitFuture, PlaitFutureList

if TYPE_CHECKING:
    from typing_extensions import Unpack

P = ParamSpec("P")
R = TypeVar("R")


class Task(Definition, Generic[P, R]):
    """A function made into a Plait task. See ``plait.engine.options.TaskOptions`` for its options.

    - ``task(...)`` runs it now, as a tracked task run, and returns its value.
    - ``task.submit(...)`` hands it to the flow's task runner and returns a ``PlaitFuture``.
    - ``task.map(...)`` submits one run per element of the iterable arguments.

    Futures may be passed as arguments, also nested in lists, dicts and dataclasses. The
    task then runs after they finish, with their values, and ends Failed without running
    if any of them did not complete.
    """

    kind = "task"
    kind_label = "Task"
    completion_log_level = logging.DEBUG
    reserved_parameters = frozenset({"return_state", "wait_for"})
    run_name_option = "task_run_name"
    options_type = opt.TaskOptions

    def __init__(self, fn: Callable[P, R], **options: Unpack[opt.TaskOptions]) -> None:
        super().__init__(fn, **options)
        owner = f"@task {self.name!r}"
        self.retry_condition_fn = opt.check_optional_callable(
            options.get("retry_condition_fn"), "retry_condition_fn", owner
        )
        policy = caching.check_cache_policy(options.get("cache_policy"), owner)
        key_fn = opt.check_optional_callable(options.get("cache_key_fn"), "cache_key_fn", owner)
        if policy is not None and key_fn is not None:
            raise InvalidOptionError(
                f"{owner}: give cache_policy or cache_key_fn, not both (a cache_key_fn is a "
                "policy of its own)."
            )
        if key_fn is not None:
            policy = caching.CacheKeyFn(key_fn)
        self.result_storage_key = opt.check_storage_key(
            options.get("result_storage_key"), owner, self.signature.parameters
        )
        self.caching_requested = (policy is not None and policy is not caching.NO_CACHE) or (
            self.result_storage_key is not None
        )
        if self.caching_requested and self.results.persist is False:
            raise InvalidOptionError(
                f"{owner}: a cache_policy, cache_key_fn or result_storage_key needs persisted "
                "results, but persist_result=False; drop one of them."
            )
        self.cache_policy: caching.CachePolicy = policy or caching.DEFAULT
        self.cache_expiration = caching.check_cache_expiration(
            options.get("cache_expiration"), owner
        )
        self.refresh_cache = opt.check_bool(
            options.get("refresh_cache", False), "refresh_cache", owner
        )
        for option in ("on_commit", "on_rollback"):  # hook(transaction): plait.transactions
            self._set_hooks(option, opt.check_hooks(options.get(option), option, owner))

    on_commit = HookDecorator()
    on_rollback = HookDecorator()

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return super().__call__(*args, **kwargs)

    def _run_sync(self, args: tuple, kwargs: dict, return_state: bool) -> Any:
        return task_runs.call_task(self, args, kwargs, return_state)

    async def _run_async(self, args: tuple, kwargs: dict, return_state: bool) -> Any:
        return await task_runs.call_task_async(self, args, kwargs, return_state)

    def submit(self, *args: Any, wait_for: Any = None, **kwargs: Any) -> PlaitFuture:
        """Run the task on the flow's task runner; ``wait_for`` lists futures to wait for
        first (ordering without passing data)."""
        return submission.submit_task(self, self.with_bound(args), kwargs, wait_for)

    def map(self, *args: Any, wait_for: Any = None, **kwargs: Any) -> PlaitFutureList:
        """Submit one run per element of the iterable arguments (zipped, so they must have
        equal lengths). Strings, bytes, mappings and ``unmapped(x)`` are passed whole to
        every run. A future whose result is iterable is mapped over once it finishes."""
        if self.bound_to is not UNBOUND:  # a method: its instance goes whole to every run
            args = (mapping.unmapped(self.bound_to), *args)
        return mapping.map_task(self, args, kwargs, wait_for)


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...
@overload
def task(**options: Unpack[opt.TaskOptions]) -> Callable[[Callable[P, R]], Task[P, R]]: ...
def task(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make a function a task: ``@task`` or ``@task(retries=3, ...)``."""
    if fn is None:
        return lambda fn: Task(fn, **options)
    return Task(fn, **options)


__all__ = ["Task", "exponential_backoff", "retry_when", "task"]
