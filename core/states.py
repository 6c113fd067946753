"""Run states: where a flow run or task run is in its life, when it got there, and its result."""

from __future__ import annotations

import enum
import inspect
import sys
from datetime import UTC, datetime
from typing import Any, Generic, Literal, Protocol, TypeVar, overload

from plait.exceptions import CancelledRunError, CrashedRunError, InvalidOptionError, PlaitError


class StateType(enum.StrEnum):
    SCHEDULED = "Scheduled"
    LATE = "Late"  # a Scheduled run not started within late_after_seconds of its time
    PENDING = "Pending"
    RUNNING = "Running"
    RETRYING = "Retrying"
    CANCELLING = "Cancelling"  # asked to cancel; ends Cancelled (plait.state_rules)
    COMPLETED = "Completed"
    CACHED = "Cached"
    FAILED = "Failed"
    TIMED_OUT = "TimedOut"
    CRASHED = "Crashed"
    CANCELLED = "Cancelled"
    SKIPPED = "Skipped"


FINAL_TYPES = frozenset(
    {
        StateType.COMPLETED,
        StateType.CACHED,
        StateType.FAILED,
        StateType.TIMED_OUT,
        StateType.CRASHED,
        StateType.CANCELLED,
        StateType.SKIPPED,
    }
)
FINAL_NAMES = frozenset(t.value for t in FINAL_TYPES)  # as journaled and stored
_SUCCESS_TYPES = frozenset({StateType.COMPLETED, StateType.CACHED})
_FAILURE_TYPES = frozenset({StateType.FAILED, StateType.TIMED_OUT})
UNSUCCESSFUL_TYPES = FINAL_TYPES - _SUCCESS_TYPES


class StoredResult(Protocol):
    """Where a persisted result lives (``plait.results.ResultRef``)."""

    def load(self) -> Any: ...

    def to_json(self) -> dict[str, Any]: ...


class _Unloaded(enum.Enum):
    TOKEN = enum.auto()


R = TypeVar("R")
_ASYNC_CODE = inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


class State(Generic[R]):
    """A point in a run's life: its type, when it was entered, why, and (once final) its result.
    ``State[int]`` is a state whose result is an ``int``, for type hints.

    ``data`` holds the return value of a completed run, or the exception of an unsuccessful
    one; ``result()`` hands back the first and raises the second. A persisted result also
    has ``result_ref``, where it is stored; a state made from that reference alone (a cache
    hit) reads the value from storage the first time ``data`` is asked for.

    ``name`` is the type's name unless the state is given its own, as in
    ``Completed(name="NoNewRows")``: the run store and the CLI show it, while the type
    decides what the state means.
    """

    __slots__ = ("_data", "_name", "message", "result_ref", "timestamp", "type")

    def __init__(
        self,
        type: StateType,
        message: str | None = None,
        data: Any = None,
        result_ref: StoredResult | None = None,
        name: str | None = None,
    ) -> None:
        self.type = type
        self._name = None if name is None else _checked_name(name)
        self.message = message
        self._data = data
        self.result_ref = result_ref
        self.timestamp = datetime.now(UTC)

    @classmethod
    def from_stored(
        cls, type: StateType, ref: StoredResult, message: str | None = None, name: str | None = None
    ) -> State:
        """A successful state whose value stays in storage until it is needed."""
        return cls(type, message, _Unloaded.TOKEN, ref, name)

    @property
    def data(self) -> Any:
        if self._data is _Unloaded.TOKEN:
            assert self.result_ref is not None
            self._data = self.result_ref.load()
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        self._data = value

    @property
    def name(self) -> str:
        return self.type.value if self._name is None else self._name

    @property
    def custom_name(self) -> str | None:
        """The state's own name, or None if it goes by its type's."""
        return self._name

    def result(self, raise_on_failure: bool = True, _sync: bool | None = None) -> Any:
        """Return the run's value, or raise the exception that ended it.

        Called from the body of an ``async def``, it returns an awaitable instead, so that
        ``await state.result()`` works there as in Prefect; ``_sync=True`` asks for the
        value anyway, ``_sync=False`` for the awaitable. With ``raise_on_failure=False``
        the exception of an unsuccessful run is returned instead of raised.
        """
        if _sync is None:
            _sync = not sys._getframe(1).f_code.co_flags & _ASYNC_CODE
        if _sync:
            return self.outcome(raise_on_failure)
        return self.aresult(raise_on_failure)

    async def aresult(self, raise_on_failure: bool = True) -> R | BaseException:
        """``result()`` as a coroutine, for async code."""
        return self.outcome(raise_on_failure)

    @overload
    def outcome(self, raise_on_failure: Literal[True] = True) -> R: ...

    @overload
    def outcome(self, raise_on_failure: bool) -> R | BaseException: ...

    def outcome(self, raise_on_failure: bool = True) -> R | BaseException:
        """``result()`` in sync code: the value, or the exception raised (or returned with
        ``raise_on_failure=False``), wherever it is called from."""
        if self.type in _SUCCESS_TYPES:
            return self.data
        if self.type not in FINAL_TYPES:
            raise PlaitError(
                f"A {self.name} run has no result yet; wait for it to finish "
                "(future.result() or future.wait()) before asking for its result."
            )
        error = self.data if isinstance(self.data, BaseException) else self._default_error()
        if raise_on_failure:
            raise error
        return error

    def _default_error(self) -> BaseException:
        message = self.message or f"The run ended in state {self.name}."
        if self.type is StateType.CRASHED:
            return CrashedRunError(message)
        if self.type is StateType.CANCELLED:
            return CancelledRunError(message)
        return PlaitError(message)

    def is_scheduled(self) -> bool:
        return self.type is StateType.SCHEDULED

    def is_pending(self) -> bool:
        return self.type is StateType.PENDING

    def is_running(self) -> bool:
        return self.type is StateType.RUNNING

    def is_retrying(self) -> bool:
        return self.type is StateType.RETRYING

    def is_cancelling(self) -> bool:
        return self.type is StateType.CANCELLING

    def is_completed(self) -> bool:
        """True for Completed and Cached: the run produced a usable result."""
        return self.type in _SUCCESS_TYPES

    def is_cached(self) -> bool:
        return self.type is StateType.CACHED

    def is_failed(self) -> bool:
        """True for Failed and TimedOut: the run's own code did not succeed."""
        return self.type in _FAILURE_TYPES

    def is_timed_out(self) -> bool:
        return self.type is StateType.TIMED_OUT

    def is_crashed(self) -> bool:
        return self.type is StateType.CRASHED

    def is_cancelled(self) -> bool:
        return self.type is StateType.CANCELLED

    def is_skipped(self) -> bool:
        return self.type is StateType.SKIPPED

    def is_final(self) -> bool:
        return self.type in FINAL_TYPES

    def is_unsuccessful(self) -> bool:
        """True for final states without a result: failed, timed out, crashed, cancelled,
        skipped."""
        return self.type in UNSUCCESSFUL_TYPES

    def __repr__(self) -> str:
        shown = [repr(self.message)] if self.message else []
        if self.custom_name is not None:
            shown.append(f"type={self.type.value}")
        return f"{self.name}({', '.join(shown)})"


_NAME_LIMIT = 255  # a String(255) column in the run store


def _checked_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > _NAME_LIMIT:
        raise InvalidOptionError(
            f"A state's name must be a non-empty string of at most {_NAME_LIMIT} characters, "
            f'such as Completed(name="NoNewRows"); got {name!r}.'
        )
    return name


def Scheduled(message: str | None = None, name: str | None = None) -> State:
    return State(StateType.SCHEDULED, message, name=name)


def Late(message: str | None = None, name: str | None = None) -> State:
    return State(StateType.LATE, message, name=name)


def Pending(message: str | None = None, name: str | None = None) -> State:
    return State(StateType.PENDING, message, name=name)


def Running(message: str | None = None, name: str | None = None) -> State:
    return State(StateType.RUNNING, message, name=name)


def Retrying(message: str | None = None, name: str | None = None) -> State:
    return State(StateType.RETRYING, message, name=name)


def Cancelling(message: str | None = None, name: str | None = None) -> State:
    return State(StateType.CANCELLING, message, name=name)


def Completed(data: Any = None, message: str | None = None, name: str | None = None) -> State:
    return State(StateType.COMPLETED, message, data, name=name)


def Cached(data: Any = None, message: str | None = None, name: str | None = None) -> State:
    return State(StateType.CACHED, message, data, name=name)


def Failed(
    data: BaseException | None = None, message: str | None = None, name: str | None = None
) -> State:
    return State(StateType.FAILED, message, data, name=name)


def TimedOut(
    data: BaseException | None = None, message: str | None = None, name: str | None = None
) -> State:
    return State(StateType.TIMED_OUT, message, data, name=name)


def Crashed(
    data: BaseException | None = None, message: str | None = None, name: str | None = None
) -> State:
    return State(StateType.CRASHED, message, data, name=name)


def Cancelled(
    data: BaseException | None = None, message: str | None = None, name: str | None = None
) -> State:
    return State(StateType.CANCELLED, message, data, name=name)


def Skipped(message: str | None = None, name: str | None = None) -> State:
    """Never ran because something it depends on did not succeed (a dbt node downstream of
    a failure, say). Final, and without a result."""
    return State(StateType.SKIPPED, message, name=name)
