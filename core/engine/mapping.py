"""``task.map(...)``: one submitted task run per element of the iterable arguments."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from plait.exceptions import (
    MappingLengthError,
    ParameterError,
    UpstreamFailedError,
)
from plait.futures import PlaitFuture, PlaitFutureList
from plait.runs import new_id

if TYPE_CHECKING:
    from plait.tasks import Task


from plait.engine.submission import submit_task


class unmapped:
    """Pass an argument whole to every run of ``Task.map`` instead of mapping over it."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _is_mappable(value: Any) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, str | bytes | bytearray | Mapping)


def map_task(task: Task, args: tuple, kwargs: dict, wait_for: Any = None) -> PlaitFutureList:
    """``task.map(...)``: one submitted run per element of the iterable arguments."""
    bound = task.bind(args, kwargs)
    arguments: dict[str, Any] = {}
    mapped: dict[str, list[Any]] = {}
    for name, value in bound.arguments.items():
        if isinstance(value, PlaitFuture):
            value = _mapped_future_value(task, value)
        kind = task.signature.parameters[name].kind
        if isinstance(value, unmapped):
            arguments[name] = value.value
        elif kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            arguments[name] = value
        elif _is_mappable(value):
            mapped[name] = list(value)
            arguments[name] = None
        else:
            arguments[name] = value
    if not mapped:
        raise ParameterError(
            f"Task {task.name!r}.map() needs at least one iterable argument to map over; to run "
            "the task once, call it or use .submit()."
        )
    lengths = {name: len(values) for name, values in mapped.items()}
    if len(set(lengths.values())) > 1:
        given = ", ".join(f"{name} has {length}" for name, length in lengths.items())
        raise MappingLengthError(
            f"Task {task.name!r}.map() got iterables of different lengths ({given}). Give them "
            "the same length, or wrap arguments to pass whole in plait.unmapped(...)."
        )
    futures = PlaitFutureList()
    map_id = new_id()  # the runs of this call are one node of the task graph
    for index in range(next(iter(lengths.values()))):
        for name, values in mapped.items():
            arguments[name] = values[index]
        call = inspect.BoundArguments(task.signature, dict(arguments))
        futures.append(submit_task(task, call.args, call.kwargs, wait_for, (map_id, index)))
    return futures


def _mapped_future_value(task: Task, future: PlaitFuture) -> Any:
    """The result of a future passed to ``map``, needed to know how many runs to create."""
    state = future._future.result()
    if not state.is_completed():
        message = (
            f"Task {task.name!r}.map() needs the result of upstream task run "
            f"{future.task_run.name!r} to know how many runs to create, but it ended {state.name}."
        )
        raise UpstreamFailedError(message) from (
            state.data if isinstance(state.data, BaseException) else None
        )
    return state.data
