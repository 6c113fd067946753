"""Futures and states passed as arguments: finding them, and replacing them by their values.

Futures are found at any depth inside lists, tuples (named tuples too), sets, dicts
(values) and dataclass instances. Containers are copied where a future is replaced; the
caller's objects are never modified.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from plait.exceptions import UpstreamFailedError
from plait.futures import PlaitFuture
from plait.states import Failed, State

_ATOMS = frozenset({str, int, float, bool, bytes, complex, type(None)})
_SEQUENCES = (list, tuple, set, frozenset)


def collect_upstream(value: Any, found: list[PlaitFuture | State]) -> None:
    """Append every future and state inside ``value`` to ``found``."""
    if type(value) in _ATOMS:
        return
    if isinstance(value, PlaitFuture | State):
        found.append(value)
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


def state_of(upstream: PlaitFuture | State) -> State:
    """The final state of an upstream (waiting for a future if needed)."""
    if isinstance(upstream, State):
        return upstream
    upstream.wait()
    return upstream.state


def upstream_failure(upstream: list[PlaitFuture | State]) -> State | None:
    """A Failed state naming the first upstream that did not complete, or None if all did."""
    for item in upstream:
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
    if isinstance(value, PlaitFuture):
        return value.state.data
    if isinstance(value, State):
        return value.data
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
