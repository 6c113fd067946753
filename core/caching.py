"""Cache policies: what makes two task runs "the same work", as a cache key.

A policy computes a key from the task run's context; runs with the same key share one
persisted result. Policies combine with ``+`` (``INPUTS + TASK_SOURCE``): the key then
changes when any part changes. Subtracting a parameter's name leaves it out of the inputs
hashed (``INPUTS - "debug"``, ``DEFAULT - "verbose"``), as in Prefect. A policy that returns
None (``NO_CACHE``, or a ``cache_key_fn`` returning None) turns caching off for that run.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from plait.exceptions import InvalidOptionError

if TYPE_CHECKING:
    from plait.engine.runs import FlowRun, TaskRun
    from plait.tasks import Task


class UnhashableInputsError(ValueError):
    """A task's inputs cannot be hashed into a cache key; the run goes uncached."""


@dataclass(frozen=True, slots=True)
class CacheContext:
    """What a policy may look at: the task, its run, its inputs, and its flow run."""

    task: Task
    task_run: TaskRun
    inputs: dict[str, Any]
    flow_run: FlowRun | None


class CachePolicy:
    """Base of cache policies. ``compute_key`` returns a key, or None for "do not cache"."""

    name = "custom"

    def compute_key(self, context: CacheContext) -> str | None:
        raise NotImplementedError

    def __add__(self, other: CachePolicy) -> CachePolicy:
        if not isinstance(other, CachePolicy):
            return NotImplemented
        return CompoundPolicy((*_parts(self), *_parts(other)))

    def __sub__(self, parameter: str) -> CachePolicy:
        """This policy with ``parameter`` left out of the inputs it hashes."""
        if not isinstance(parameter, str):
            return NotImplemented
        parts = _parts(self)
        if not any(isinstance(part, Inputs) for part in parts):
            raise InvalidOptionError(
                f"cache_policy: {self!r} - {parameter!r} leaves nothing out, since {self!r} "
                f"does not hash the inputs. Subtract from a policy with INPUTS in it, such as "
                f"INPUTS - {parameter!r} or DEFAULT - {parameter!r}."
            )
        changed = tuple(part - parameter if isinstance(part, Inputs) else part for part in parts)
        return changed[0] if len(changed) == 1 else CompoundPolicy(changed)

    def __repr__(self) -> str:
        return self.name.upper()


@dataclass(frozen=True, slots=True)
class Inputs(CachePolicy):
    """The task's arguments (after defaults), but those named in ``exclude``: the same
    inputs hit the same cache entry."""

    exclude: tuple[str, ...] = ()
    name = "inputs"

    def compute_key(self, context: CacheContext) -> str:
        inputs = context.inputs
        if self.exclude:
            inputs = {key: value for key, value in inputs.items() if key not in self.exclude}
        return hash_value(inputs)

    def __sub__(self, parameter: str) -> CachePolicy:
        if not isinstance(parameter, str):
            return NotImplemented
        return Inputs((*self.exclude, parameter))

    def __repr__(self) -> str:
        return " - ".join(["INPUTS", *map(repr, self.exclude)])


class _TaskSource(CachePolicy):
    """The task function's source code: editing the task invalidates its cache."""

    name = "task_source"

    def compute_key(self, context: CacheContext) -> str:
        return source_hash(context.task.fn)


class _FlowParameters(CachePolicy):
    """The parameters of the flow run the task runs in."""

    name = "flow_parameters"

    def compute_key(self, context: CacheContext) -> str:
        return hash_value(context.flow_run.parameters if context.flow_run else {})


class _RunId(CachePolicy):
    """The flow run's id: results are reused only within one flow run (and its retries)."""

    name = "run_id"

    def compute_key(self, context: CacheContext) -> str:
        return context.task_run.flow_run_id or context.task_run.id


class _NoCache(CachePolicy):
    """Never cache."""

    name = "no_cache"

    def compute_key(self, context: CacheContext) -> None:
        return None


@dataclass(frozen=True, slots=True)
class CompoundPolicy(CachePolicy):
    """Several policies at once: the key changes when any of theirs does."""

    policies: tuple[CachePolicy, ...]

    @property
    def name(self) -> str:  # type: ignore[override]
        return "+".join(policy.name for policy in self.policies)

    def compute_key(self, context: CacheContext) -> str | None:
        keys = []
        for policy in self.policies:
            key = policy.compute_key(context)
            if key is None:
                return None
            keys.append(key)
        return hashlib.sha256("\0".join(keys).encode()).hexdigest()

    def __repr__(self) -> str:
        return " + ".join(repr(policy) for policy in self.policies)


@dataclass(frozen=True, slots=True)
class CacheKeyFn(CachePolicy):
    """``cache_key_fn(context, parameters)``: the user's own key (None: do not cache). Keys
    from a ``cache_key_fn`` are not namespaced by task, so tasks can share them."""

    fn: Callable[[CacheContext, dict[str, Any]], str | None]
    name = "cache_key_fn"

    def compute_key(self, context: CacheContext) -> str | None:
        key = self.fn(context, context.inputs)
        if key is not None and not isinstance(key, str):
            raise TypeError(f"cache_key_fn must return a string or None; it returned {key!r}")
        return key


def _parts(policy: CachePolicy) -> tuple[CachePolicy, ...]:
    return policy.policies if isinstance(policy, CompoundPolicy) else (policy,)


INPUTS = Inputs()
TASK_SOURCE = _TaskSource()
FLOW_PARAMETERS = _FlowParameters()
RUN_ID = _RunId()
NO_CACHE = _NoCache()
DEFAULT = INPUTS + TASK_SOURCE + RUN_ID
"""The policy of a task that persists its results and names no policy: the same inputs to
the same code within one flow run. That makes ``plait flow-run retry`` skip the tasks that
already completed, without sharing results between separate flow runs."""

_BY_NAME: dict[str, CachePolicy] = {
    policy.name: policy for policy in (INPUTS, TASK_SOURCE, FLOW_PARAMETERS, RUN_ID, NO_CACHE)
}
_BY_NAME["default"] = DEFAULT


def check_cache_policy(value: Any, owner: str) -> CachePolicy | None:
    """A policy, or its name (``"inputs"``, ``"inputs+task_source"``, ``"default"``)."""
    if value is None or isinstance(value, CachePolicy):
        return value
    if isinstance(value, str) and value.strip():
        policies = []
        for part in value.replace(" ", "").lower().split("+"):
            if part not in _BY_NAME:
                known = ", ".join(repr(name) for name in _BY_NAME)
                raise InvalidOptionError(
                    f"{owner}: cache_policy {value!r} names {part!r}, which is not a policy; "
                    f"use {known}, joined with '+', or a plait.caching policy object."
                )
            policies.append(_BY_NAME[part])
        return policies[0] if len(policies) == 1 else CompoundPolicy(tuple(policies))
    raise InvalidOptionError(
        f"{owner}: cache_policy must be a policy (e.g. INPUTS + TASK_SOURCE from plait.caching) "
        f"or its name (e.g. 'inputs+task_source'); got {value!r}."
    )


def check_cache_expiration(value: Any, owner: str) -> timedelta | None:
    if value is None or (isinstance(value, timedelta) and value > timedelta(0)):
        return value
    raise InvalidOptionError(
        f"{owner}: cache_expiration must be a positive datetime.timedelta (e.g. "
        f"timedelta(hours=1)) or None for no expiry; got {value!r}."
    )


def hash_value(value: Any) -> str:
    """A stable digest of ``value``: of a canonical, type-tagged JSON form when it is plain
    data (so ``(1, 2)`` and ``[1, 2]``, or ``{1: "a"}`` and ``{"1": "a"}``, differ, and a set
    hashes the same in every process), else of its cloudpickle bytes. Raises
    ``UnhashableInputsError`` naming what could not be hashed."""
    try:
        data = json.dumps(_canonical(value), separators=(",", ":")).encode()
    except _NotPlain:
        import cloudpickle

        try:
            data = cloudpickle.dumps(value)
        except Exception as exc:
            raise UnhashableInputsError(
                f"{type(exc).__name__}: {exc}".replace("\n", " ")[:300]
            ) from None
    return hashlib.sha256(data).hexdigest()


class _NotPlain(Exception):
    """A value that is not plain data (hashed through cloudpickle instead)."""


def _canonical(value: Any) -> Any:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int | float):
        return [type(value).__name__, value]
    if isinstance(value, list):
        return ["list", [_canonical(item) for item in value]]
    if isinstance(value, tuple):
        return ["tuple", [_canonical(item) for item in value]]
    if isinstance(value, dict):
        items = [[_canonical(key), _canonical(item)] for key, item in value.items()]
        return ["dict", sorted(items, key=json.dumps)]
    if isinstance(value, set | frozenset):
        return [type(value).__name__, sorted((_canonical(item) for item in value), key=json.dumps)]
    raise _NotPlain


SCRIPT_MODULE_PREFIX = "plait_script_"  # a script imported by plait flow-run retry


def task_identity(fn: Callable[..., Any]) -> str:
    """Which task a cache key belongs to: ``module.qualname``; for a function in a script,
    the script's path instead of its module name, which differs between running the script
    (``__main__``) and re-importing it to retry a flow run."""
    module = fn.__module__
    if module == "__main__" or module.startswith(SCRIPT_MODULE_PREFIX):
        path = getattr(sys.modules.get(module), "__file__", None)
        module = os.path.abspath(path) if path else module
    return f"{module}:{fn.__qualname__}"


_sources: dict[Callable[..., Any], str] = {}


def source_hash(fn: Callable[..., Any]) -> str:
    """A digest of a function's source (its bytecode when the source is not available)."""
    digest = _sources.get(fn)
    if digest is None:
        try:
            text = inspect.getsource(fn).encode()
        except (OSError, TypeError):
            code = getattr(fn, "__code__", None)
            text = code.co_code + repr(code.co_consts).encode() if code else repr(fn).encode()
        digest = _sources[fn] = hashlib.sha256(text).hexdigest()
    return digest
