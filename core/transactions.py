"""Transactions: task runs grouped so that they take effect together, or not at all.

Inside ``with transaction():`` each task run that completes is *staged*. When the block
ends without an error the transaction commits: the cache records of its task runs are
written (other runs see them only from then on) and their tasks' ``on_commit`` hooks run.
When an error leaves the block it rolls back instead: their tasks' ``on_rollback`` hooks
run, newest first, their persisted results are deleted and their cache records are never
written; the error then goes on as usual. The block waits for the runs submitted in it, and
one that did not complete rolls the transaction back and is raised, as ``.result()`` would.

A transaction inside another commits into it: its runs take effect when the outermost one
commits, and roll back if it does. A ``key`` makes a transaction idempotent: committing it
records the key in the cache index, and ``is_committed()`` is true for every later
transaction with that key. ``SERIALIZABLE`` isolation holds the key's lock (the cache
index's, so across processes and machines) from the start of the block to its end: two
transactions with one key run one after the other, the second seeing the first committed.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from plait.engine.concurrency import event_loop_running
from plait.exceptions import InvalidOptionError, PlaitError
from plait.logs import log_for_run
from plait.runs import new_id
from plait.states import StateType

if TYPE_CHECKING:
    from plait.engine.runs import TaskRun
    from plait.futures import PlaitFuture
    from plait.states import State
    from plait.tasks import Task


class IsolationLevel(enum.StrEnum):
    READ_COMMITTED = "READ_COMMITTED"  # see what others committed; run alongside them
    SERIALIZABLE = "SERIALIZABLE"  # hold the key's lock: one transaction per key at a time


class TransactionState(enum.StrEnum):
    ACTIVE = "ACTIVE"
    COMMITTED = "COMMITTED"
    ROLLED_BACK = "ROLLED_BACK"


@dataclass(slots=True, eq=False)
class _StagedRun:
    task: Task
    task_run: TaskRun
    state: State
    transaction: Transaction  # the one it ran in, handed to its hooks


_MISSING = object()


@dataclass(eq=False)
class Transaction:
    """A transaction in progress (``with transaction() as txn``); hooks get it too.

    ``txn.set(name, value)`` and ``txn.get(name)`` share values with the hooks (a nested
    transaction also sees its parents' values)."""

    key: str | None = None
    isolation_level: IsolationLevel = IsolationLevel.READ_COMMITTED
    parent: Transaction | None = None
    state: TransactionState = TransactionState.ACTIVE
    _committed_before: bool = False
    _values: dict[str, Any] = field(default_factory=dict)
    _runs: list[_StagedRun] = field(default_factory=list)
    _records: dict[str, tuple[dict[str, Any], Callable[[], None]]] = field(default_factory=dict)
    _futures: list[PlaitFuture] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, name: str, default: Any = _MISSING) -> Any:
        """The value set under ``name`` here or in a parent transaction, else ``default``."""
        transaction: Transaction | None = self
        while transaction is not None:
            if name in transaction._values:
                return transaction._values[name]
            transaction = transaction.parent
        if default is _MISSING:
            raise KeyError(
                f"No value {name!r} was set in this transaction; set it with "
                f"txn.set({name!r}, value), or pass a default: txn.get({name!r}, default)."
            )
        return default

    def set(self, name: str, value: Any) -> None:
        self._values[name] = value

    def is_committed(self) -> bool:
        """True once committed, or from the start if a transaction with this key was."""
        return self.state is TransactionState.COMMITTED or self._committed_before

    def is_rolled_back(self) -> bool:
        return self.state is TransactionState.ROLLED_BACK

    def is_active(self) -> bool:
        return self.state is TransactionState.ACTIVE

    # The engine's side.

    def submitted(self, future: PlaitFuture) -> None:
        """A run submitted inside the block: it is waited for before the block ends."""
        with self._lock:
            self._futures.append(future)

    def stage(self, task: Task, task_run: TaskRun, state: State) -> None:
        """A task run that ended inside the block: kept if it completed (a cache hit did
        nothing to undo). One that completes after the block rolled back (on an event loop,
        which the block does not wait on) rolls back now."""
        if state.type is not StateType.COMPLETED:
            return
        staged = _StagedRun(task, task_run, state, self)
        with self._lock:
            if self.state is TransactionState.ACTIVE:
                self._runs.append(staged)
                return
        _roll_back_run(staged, "its transaction had already rolled back")

    def defer_record(self, key: str, result: dict[str, Any], write: Callable[[], None]) -> None:
        """A cache record to write when the transaction commits; until then only runs in
        this transaction see it (``staged_record``)."""
        with self._lock:
            self._records[key] = (result, write)

    def staged_record(self, key: str) -> dict[str, Any] | None:
        transaction: Transaction | None = self
        while transaction is not None:
            staged = transaction._records.get(key)
            if staged is not None:
                return staged[0]
            transaction = transaction.parent
        return None

    def _unfinished(self) -> list[PlaitFuture]:
        with self._lock:
            return [future for future in self._futures if not future.done()]

    def _first_failure(self) -> BaseException | None:
        """Wait for the runs submitted in the block; the error of the first that did not
        complete, if one did not."""
        unfinished = self._unfinished()
        if unfinished and event_loop_running():
            raise PlaitError(
                f"The transaction's block ended with {len(unfinished)} submitted task runs "
                "still running, on an event loop it must not block; await them inside "
                "the block."
            )
        for future in unfinished:
            future.wait()
        for future in self._futures:
            if not future.state.is_completed():
                return future.state.outcome(raise_on_failure=False)
        return None

    def _commit(self) -> None:
        if self.parent is not None:  # takes effect with the outermost transaction
            with self.parent._lock:
                self.parent._runs += self._runs
                self.parent._records.update(self._records)
            self.state = TransactionState.COMMITTED
            return
        for _, write in self._records.values():
            write()
        self.state = TransactionState.COMMITTED
        for staged in self._runs:
            _run_hooks(staged, staged.task.on_commit_hooks, "on_commit")

    def _rollback(self, reason: BaseException) -> None:
        with self._lock:
            self.state = TransactionState.ROLLED_BACK
        why = f"{type(reason).__name__}: {reason}"
        for staged in reversed(self._runs):
            _roll_back_run(staged, why)


def _roll_back_run(staged: _StagedRun, why: str) -> None:
    """Undo a completed task run: its rollback hooks, then its persisted result."""
    _run_hooks(staged, staged.task.on_rollback_hooks, "on_rollback")
    ref = staged.state.result_ref
    if ref is not None:
        try:
            ref.delete()
        except Exception as exc:  # the rollback goes on; the result stays where it is
            log_for_run(
                staged.task_run,
                logging.WARNING,
                "Its persisted result at %r could not be deleted: %s: %s",
                ref.path,
                type(exc).__name__,
                exc,
            )
    log_for_run(staged.task_run, logging.WARNING, "Rolled back with its transaction (%s)", why)


def _run_hooks(staged: _StagedRun, hooks: tuple[Callable[..., Any], ...], option: str) -> None:
    """Run a task's commit or rollback hooks; one that raises is logged on the task run, and
    the others still run."""
    for hook in hooks:
        try:
            hook(staged.transaction)
        except Exception as exc:
            log_for_run(
                staged.task_run,
                logging.ERROR,
                "%s hook %r of task %r raised %s: %s",
                option,
                getattr(hook, "__name__", hook),
                staged.task.name,
                type(exc).__name__,
                exc,
            )


transaction_var: ContextVar[Transaction | None] = ContextVar("plait_transaction", default=None)


def get_transaction() -> Transaction | None:
    """The innermost transaction in progress here, or None."""
    return transaction_var.get()


def _checked(key: Any, isolation_level: Any) -> tuple[str | None, IsolationLevel]:
    if key is not None and (not isinstance(key, str) or not key.strip()):
        raise InvalidOptionError(
            f'transaction(): key must be a non-empty string, such as key="load-2026-12-04"; '
            f"got {key!r}."
        )
    try:
        level = IsolationLevel(isolation_level)
    except ValueError:
        raise InvalidOptionError(
            f"transaction(): isolation_level must be one of "
            f"{', '.join(level.value for level in IsolationLevel)}; got {isolation_level!r}."
        ) from None
    if level is IsolationLevel.SERIALIZABLE and key is None:
        raise InvalidOptionError(
            "transaction(): SERIALIZABLE isolation locks the transaction's key; give a key, "
            'such as transaction(key="load-2026-12-04", isolation_level="SERIALIZABLE").'
        )
    return key, level


@contextmanager
def transaction(
    key: str | None = None,
    *,
    isolation_level: IsolationLevel | str = IsolationLevel.READ_COMMITTED,
) -> Iterator[Transaction]:
    """Group the task runs of the block: they commit together when it ends, or roll back
    together if an error leaves it (see this module's docstring)."""
    key, level = _checked(key, isolation_level)
    txn = Transaction(key, level, transaction_var.get())
    with ExitStack() as held:
        if key is not None:
            _begin_keyed(txn, key, held)
        token = transaction_var.set(txn)
        try:
            yield txn
            failure = txn._first_failure()
        except BaseException as exc:
            if not event_loop_running():
                txn._first_failure()  # so that runs still going are rolled back too
            txn._rollback(exc)
            raise
        finally:
            transaction_var.reset(token)
        if failure is not None:
            txn._rollback(failure)
            raise failure
        txn._commit()


def _begin_keyed(txn: Transaction, key: str, held: ExitStack) -> None:
    """Look the key up (under its lock, for SERIALIZABLE), and stage its record."""
    from plait.backend import get_backend
    from plait.context import flow_run_var

    cache = get_backend().cache_index()
    recorded = hashlib.sha256(f"transaction\0{key}".encode()).hexdigest()  # not a task's key
    if txn.isolation_level is IsolationLevel.SERIALIZABLE:
        held.enter_context(cache.computing(recorded))
    txn._committed_before = cache.lookup(recorded) is not None
    flow_context = flow_run_var.get()
    run_id = flow_context.flow_run.id if flow_context is not None else new_id()
    record = {"transaction": key}
    txn.defer_record(recorded, record, partial(cache.record, recorded, record, run_id, None))
