"""Per run: whether its result is persisted, under which cache key, and whether the work is
already done.

``plan`` is decided once per run, before its body: no plan (nothing persisted), a plan
without a key (persist only), or a keyed plan (persist and cache). ``run_planned`` then
returns a cache hit as a ``Cached`` state without running the body, or runs the body under
the key's lock, so identical runs at the same moment compute once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from types import SimpleNamespace
from typing import TYPE_CHECKING

from plait.backend import get_backend
from plait.caching import (
    NO_CACHE,
    CacheContext,
    CacheKeyFn,
    UnhashableInputsError,
    task_identity,
)
from plait.context import flow_run_var
from plait.engine.lifecycle import conclude
from plait.exceptions import SerializationError
from plait.logs import log_for_run
from plait.results import ResultRef
from plait.states import Failed, State, StateType
from plait.transactions import Transaction, transaction_var

if TYPE_CHECKING:
    from plait.backend.cache import CacheIndex
    from plait.engine.definition import Definition
    from plait.engine.runs import Run, TaskRun
    from plait.tasks import Task

Persist = Callable[[State], State]

_warned_unhashable: set[str] = set()


@dataclass(slots=True)
class Plan:
    """How one run's result is persisted (at ``path``) and cached (under ``key``)."""

    definition: Definition
    run: Run
    path: str
    key: str | None = None
    cache: CacheIndex | None = None
    transaction: Transaction | None = None  # a cache record waits for it to commit

    def persist(self, completed: State) -> State:
        """Write the result of ``completed``, then its cache record; the Completed state that
        points at it (with ``completed``'s message and name) is entered after. A value the
        serializer cannot handle fails the run, clearly."""
        value = completed.data
        what = f"{self.definition.kind_label} {self.definition.name!r} result"
        try:
            ref = self.definition.results.write(value, self.path)
        except SerializationError as exc:  # a value the serializer cannot handle
            message = f"{what} could not be persisted: {exc}"
            return Failed(SerializationError(message), message)
        except Exception as exc:  # storage that cannot be opened or written
            return Failed(exc, f"{what} could not be persisted: {type(exc).__name__}: {exc}")
        self.remember(ref)
        message, name = completed.message, completed.custom_name
        if not self.definition.results.in_memory:  # cache_result_in_memory=False
            return State.from_stored(StateType.COMPLETED, ref, message, name)
        return State(StateType.COMPLETED, message, value, ref, name)

    def remember(self, ref: ResultRef) -> None:
        """Record ``ref`` under this plan's cache key (and release the key's lock); a
        failure only loses later hits, so it is logged, not raised."""
        if self.key is None or self.cache is None:
            return
        if self.transaction is not None:
            record = partial(self._record, ref)
            self.transaction.defer_record(self.key, ref.to_json(), record)
            return
        self._record(ref)

    def _record(self, ref: ResultRef) -> None:
        assert self.key is not None
        assert self.cache is not None
        task: Task = self.definition  # type: ignore[assignment]
        try:
            self.cache.record(self.key, ref.to_json(), self.run.id, task.cache_expiration)
        except Exception as exc:  # the work is done and saved; only later hits are lost
            log_for_run(
                self.run,
                logging.WARNING,
                "%s result was persisted but could not be recorded in the cache: %s: %s",
                f"{self.definition.kind_label} {self.definition.name!r}",
                type(exc).__name__,
                exc,
            )

    def for_worker(self) -> Plan:
        """This plan without its key: what a worker in another process gets, to persist the
        result where this plan says while the flow's process keeps the cache."""
        return Plan(self.definition, self.run, self.path)

    def cached(self) -> State | None:
        """The Cached state for this key, if a live record points at a result that exists."""
        assert self.key is not None
        assert self.cache is not None
        staged = None if self.transaction is None else self.transaction.staged_record(self.key)
        data = staged or self.cache.lookup(self.key)
        if data is None:
            return None
        storage, spec = self.definition.results.open()
        ref = ResultRef.from_json(data)
        if ref.storage is None or ref.storage == spec:  # the storage object this task holds
            serializer = self.definition.results.serializer
            ref = ResultRef(ref.storage, ref.path, ref.serializer, storage, serializer)
        if not ref.exists():
            return None
        return State.from_stored(StateType.CACHED, ref, "Result reused from the cache.")


def plan_flow(definition: Definition, run: Run) -> Plan | None:
    """A flow run's plan: persisted under its id, never cached."""
    if not definition.results.enabled():
        return None
    return Plan(definition, run, f"flow-runs/{run.id}")


def plan_task(task: Task, task_run: TaskRun, args: tuple, kwargs: dict) -> Plan | None:
    """A task run's plan, with its cache key when caching applies."""
    if not task.results.enabled(implied=task.caching_requested):
        return None
    if task.result_storage_key is not None:
        return _storage_key_plan(task, task_run, args, kwargs)
    key = _cache_key(task, task_run, args, kwargs)
    if key is None:
        return Plan(task, task_run, f"task-runs/{task_run.id}")
    cache = get_backend().cache_index()
    return Plan(task, task_run, f"cache/{key}", key, cache, transaction_var.get())


_NO_FLOW_RUN = SimpleNamespace(id=None, name=None, flow_name=None)  # a task called outside flows


def _storage_key_plan(task: Task, task_run: TaskRun, args: tuple, kwargs: dict) -> Plan:
    """The plan of a task with a ``result_storage_key``: its result goes where the rendered
    template says, and (unless its policy is ``NO_CACHE``) a result already there, recorded
    under that key, is reused, as in Prefect."""
    bound = task.bind(args, kwargs)
    bound.apply_defaults()
    flow_context = flow_run_var.get()
    assert task.result_storage_key is not None
    path = task.result_storage_key.format(
        parameters=bound.arguments,
        flow_run=flow_context.flow_run if flow_context is not None else _NO_FLOW_RUN,
        task_run=task_run,
    )
    if task.cache_policy is NO_CACHE:
        return Plan(task, task_run, path)
    key = hashlib.sha256(f"result_storage_key\0{path}".encode()).hexdigest()
    return Plan(task, task_run, path, key, get_backend().cache_index(), transaction_var.get())


def _cache_key(task: Task, task_run: TaskRun, args: tuple, kwargs: dict) -> str | None:
    bound = task.bind(args, kwargs)
    bound.apply_defaults()
    flow_context = flow_run_var.get()
    context = CacheContext(
        task, task_run, dict(bound.arguments), flow_context.flow_run if flow_context else None
    )
    try:
        key = task.cache_policy.compute_key(context)
    except UnhashableInputsError as exc:
        if task.name not in _warned_unhashable:
            _warned_unhashable.add(task.name)
            log_for_run(
                task_run,
                logging.WARNING,
                "Task %r runs uncached: its inputs cannot be hashed into a cache key (%s). "
                "Give it a cache_key_fn, or a cache_policy without INPUTS. (Warned once per "
                "task.)",
                task.name,
                exc,
            )
        return None
    if key is None:
        return None
    namespace = "" if isinstance(task.cache_policy, CacheKeyFn) else task_identity(task.fn)
    return hashlib.sha256(f"{namespace}\0{key}".encode()).hexdigest()


def run_planned(
    task: Task, task_run: TaskRun, plan: Plan, run: Callable[[Persist], State]
) -> State:
    """Run ``run`` (the lifecycle, given how to persist) as the plan says, in this thread."""
    if plan.key is None or plan.cache is None:
        return run(plan.persist)
    if not task.refresh_cache and (hit := plan.cached()) is not None:
        return conclude(task, task_run, hit)
    with plan.cache.computing(plan.key):
        # Look again: another run may have stored it between the first look and the lock.
        if not task.refresh_cache and (hit := plan.cached()) is not None:
            return conclude(task, task_run, hit)
        return run(plan.persist)


async def run_planned_async(
    task: Task,
    task_run: TaskRun,
    plan: Plan | None,
    run: Callable[[Persist | None], Awaitable[State]],
) -> State:
    """``run_planned`` for async tasks: the store is used from worker threads."""
    if plan is None or plan.key is None or plan.cache is None:
        return await run(plan.persist if plan else None)
    if not task.refresh_cache and (hit := await asyncio.to_thread(plan.cached)) is not None:
        return conclude(task, task_run, hit)
    computing = plan.cache.computing(plan.key)
    await asyncio.to_thread(computing.__enter__)
    try:
        if not task.refresh_cache and (hit := await asyncio.to_thread(plan.cached)) is not None:
            return conclude(task, task_run, hit)
        return await run(plan.persist)
    finally:
        await asyncio.to_thread(computing.__exit__, None, None, None)
