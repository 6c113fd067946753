"""Futures and states passed as arguments: finding them, and replacing them by their values.

Futures are found at any depth inside lists, tuples (named tuples too), sets, dicts
(values) and dataclass instances. Containers are copied where a future is replaced; the
caller's objects are never modified. Inside ``quote(...)`` nothing is looked for (the quote
itself is listed, to be unwrapped); futures inside ``allow_failure(...)`` are upstream that
may fail (listed wrapped in it).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from plait.annotations import allow_failure, quote
from plait.exceptions import UpstreamFailedError
from plait.futures import PlaitFuture
from plait.states import Failed, State

_ATOMS = frozenset({str, int, float, bool, bytes, complex, type(None)})
_SEQUENCES = (list, tuple, set, frozenset)


def collect_upstream(value: Any, found: list[Any]) -> None:
    """Append every future and state inside ``value`` to ``found`` (and every annotation:
    see the module's docstring)."""
    if type(value) in _ATOMS:
        return
    if isinstance(value, PlaitFuture | State | quote):
        found.append(value)
    elif type(value) is allow_failure:
        inner: list[Any] = []
        collect_upstream(value.value, inner)
        found.extend(item if type(item) is allow_failure else allow_failure(item) for item in inner)
    elif isinstance(value, _SEQUENCES):
        for item in value:
            if type(item) not in _ATOMS:
                collect_upstream(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            if type(item) not in _ATOMS:
                collect_upstream(item, found)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            collect_upstream(getattr(value, field.name), found)


def unwrapped(upstream: Any) -> Any:
    """An upstream future or state, without the ``allow_failure`` around it."""
    return upstream.value if type(upstream) is allow_failure else upstream


def upstream_futures(upstream: list[Any]) -> list[PlaitFuture]:
    """The futures of an upstream list, those allowed to fail included."""
    return [item for item in map(unwrapped, upstream) if isinstance(item, PlaitFuture)]


def state_of(upstream: PlaitFuture | State | allow_failure) -> State:
    """The final state of an upstream (waiting for a future if needed)."""
    upstream = unwrapped(upstream)
    if isinstance(upstream, State):
        return upstream
    upstream.wait()
    return upstream.state


def upstream_failure(upstream: list[Any]) -> State | None:
    """A Failed state naming the first upstream that did not complete, or None if all did."""
    for item in upstream:
        if type(item) is allow_failure or type(item) is quote:
            continue
        state = state_of(item)
        if not state.is_completed():
            name = item.task_run.name if isinstance(item, PlaitFuture) else "an upstream state"
            message = f"Upstream task run {name!r} did not complete (it ended {state.name})."
            error = UpstreamFailedError(message)
            if isinstance(state.data, BaseException):
                error.__cause__ = state.data
            return Failed(error, message)
    return None


def substitute(value: Any) -> Any:
    """``value`` with every completed future or state replaced by its result."""
    if type(value) in _ATOMS:
        return value
    if isinstance(value, PlaitFuture | State):  # an unsuccessful one: under allow_failure
        state = value.state if isinstance(value, PlaitFuture) else value
        return state.data if state.is_completed() else state.outcome(raise_on_failure=False)
    if type(value) is quote:
        return value.value
    if type(value) is allow_failure:
        return substitute(value.value)
    if isinstance(value, _SEQUENCES):
        items = [substitute(item) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            return type(value)(*items)
        return type(value)(items)
    if isinstance(value, dict):
        changed = {k: new for k, v in value.items() if (new := substitute(v)) is not v}
        if not changed:
            return value
        result = copy.copy(value)
        result.update(changed)
        return result
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            field.name: new
            for field in dataclasses.fields(value)
            if (new := substitute(old := getattr(value, field.name))) is not old
        }
        if not changes:
            return value
        result = copy.copy(value)
        for name, new in changes.items():
            object.__setattr__(result, name, new)
        return result
    return value
