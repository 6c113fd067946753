"""Validation of flow and task options, done once when a flow or task is defined.

Every check raises ``InvalidOptionError`` naming the flow or task, the option, what was
given and what is expected, so a typo fails at import time rather than at 3 a.m.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import string
from collections.abc import Callable, Iterable
from typing import Any, TypedDict

from plait.exceptions import InvalidOptionError

RetryDelay = float | tuple[float, ...] | Callable[[int], float]
RunName = str | Callable[..., str]


def _fail(owner: str, option: str, expected: str, value: Any) -> InvalidOptionError:
    return InvalidOptionError(f"{owner}: {option} must be {expected}; got {value!r}.")


NAME_LIMIT = 255  # what the run store's name columns hold


def is_number(value: Any) -> bool:
    """A real, finite number (NaN and infinity compare false with every bound)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def check_name(value: Any, owner: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(owner, "name", "a non-empty string", value)
    if len(value) > NAME_LIMIT or "\x00" in value:
        raise InvalidOptionError(
            f"{owner}: name must be at most {NAME_LIMIT} characters, with no NUL byte; got "
            f"{len(value)} characters starting {value[:40]!r}. Give a shorter name=..."
        )
    return value


def check_optional_str(value: Any, option: str, owner: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _fail(owner, option, "a string or None", value)
    return value


def check_tags(value: Any, owner: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise _fail(owner, "tags", 'a list of strings, such as tags=["etl", "nightly"]', value)
    tags = tuple(value)
    if not all(isinstance(tag, str) and tag for tag in tags):
        raise _fail(owner, "tags", "a list of non-empty strings", value)
    return tags


def check_retries(value: Any, owner: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _fail(owner, "retries", "a whole number >= 0 (0 disables retries)", value)
    return value


def check_retry_delay(value: Any, owner: str) -> RetryDelay:
    """A number of seconds, a list of them (one per retry, the last repeating), or a
    callable that takes the retry number (1 for the first retry) and returns seconds."""
    expected = (
        "a number of seconds >= 0, a non-empty list of them (one per retry), "
        "or a callable taking the retry number"
    )
    if callable(value):
        return value
    if is_number(value):
        if value < 0:
            raise _fail(owner, "retry_delay_seconds", expected, value)
        return float(value)
    if isinstance(value, list | tuple):
        if not value or not all(is_number(v) and v >= 0 for v in value):
            raise _fail(owner, "retry_delay_seconds", expected, value)
        return tuple(float(v) for v in value)
    raise _fail(owner, "retry_delay_seconds", expected, value)


def check_jitter(value: Any, owner: str) -> float | None:
    if value is None:
        return None
    if not is_number(value) or value < 0:
        raise _fail(owner, "retry_jitter_factor", "a number >= 0 or None", value)
    return float(value)


def check_timeout(value: Any, owner: str) -> float | None:
    if value is None:
        return None
    if not is_number(value) or value <= 0:
        raise _fail(
            owner, "timeout_seconds", "a number of seconds > 0, or None for no limit", value
        )
    return float(value)


def check_optional_bool(value: Any, option: str, owner: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise _fail(owner, option, "True, False or None", value)
    return value


def check_bool(value: Any, option: str, owner: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(owner, option, "True or False", value)
    return value


def check_optional_callable(value: Any, option: str, owner: str) -> Callable[..., Any] | None:
    if value is not None and not callable(value):
        raise _fail(owner, option, "a callable or None", value)
    return value


_TRANSACTION_HOOKS = frozenset({"on_commit", "on_rollback"})


def check_hooks(value: Any, option: str, owner: str) -> tuple[Callable[..., Any], ...]:
    """A list of callables ``hook(flow_or_task, run, state)`` (``hook(transaction)`` for
    ``on_commit`` and ``on_rollback``); a single callable is accepted too."""
    if value is None:
        return ()
    if callable(value):
        return (value,)
    if not isinstance(value, list | tuple):
        signature = "transaction" if option in _TRANSACTION_HOOKS else "flow_or_task, run, state"
        raise _fail(owner, option, f"a list of callables hook({signature})", value)
    for hook in value:
        if not callable(hook):
            raise _fail(owner, option, "a list of callables, but one item is not callable", hook)
    return tuple(value)


def check_run_name(
    value: Any, option: str, owner: str, parameters: Iterable[str]
) -> RunName | None:
    """A ``str.format`` template over the parameters (``"load-{day}"``) or a callable.

    A template may only name parameters that exist, so a typo fails here, not per run.
    """
    if value is None or callable(value):
        return value
    if not isinstance(value, str) or not value:
        raise _fail(owner, option, 'a template string such as "load-{day}", or a callable', value)
    known = set(parameters)
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(value) if field is not None]
    except ValueError as exc:
        raise _fail(owner, option, f"a valid template ({exc})", value) from None
    for field in fields:
        root = field.split(".", 1)[0].split("[", 1)[0]
        if root not in known:
            names = ", ".join(sorted(known)) or "none"
            raise InvalidOptionError(
                f"{owner}: {option} {value!r} refers to {{{field}}}, which is not a parameter "
                f"(parameters: {names})."
            )
    return value


_STORAGE_KEY_FIELDS = {
    "flow_run": ("id", "name", "flow_name"),
    "task_run": ("id", "name", "task_name"),
}


def check_storage_key(value: Any, owner: str, parameters: Iterable[str]) -> str | None:
    """A ``result_storage_key`` template: a relative path over ``{parameters[name]}``,
    ``{flow_run.name}`` (``id``, ``flow_name``) and ``{task_run.name}`` (``id``,
    ``task_name``), checked here so a typo fails at import, not per run."""
    if value is None:
        return None
    example = 'a relative path template such as "reports/{parameters[day]}.json"'
    if not isinstance(value, str) or not value.strip("/") or value.startswith("/"):
        raise _fail(owner, "result_storage_key", example, value)
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(value) if f is not None]
    except ValueError as exc:
        raise _fail(owner, "result_storage_key", f"a valid template ({exc})", value) from None
    known = set(parameters)
    for field in fields:
        root, _, rest = field.partition(".")
        if field.startswith("parameters[") and field.endswith("]") and field[11:-1] in known:
            continue
        if rest in _STORAGE_KEY_FIELDS.get(root, ()):
            continue
        raise InvalidOptionError(
            f"{owner}: result_storage_key {value!r} refers to {{{field}}}; use "
            f"{{parameters[name]}} with a parameter ({', '.join(sorted(known)) or 'none'}), "
            "{flow_run.id}, {flow_run.name}, {flow_run.flow_name}, {task_run.id}, "
            "{task_run.name} or {task_run.task_name}."
        )
    return value


class RunOptions(TypedDict, total=False):
    """Options flows and tasks share (the reference list for ``@flow(...)`` and ``@task(...)``)."""

    name: str
    description: str
    tags: list[str]
    retries: int
    retry_delay_seconds: float | list[float] | Callable[[int], float]
    retry_jitter_factor: float | None
    timeout_seconds: float | None
    log_prints: bool | None
    on_running: list[Callable[..., Any]]
    on_completion: list[Callable[..., Any]]
    on_failure: list[Callable[..., Any]]
    on_crashed: list[Callable[..., Any]]
    on_cancellation: list[Callable[..., Any]]
    persist_result: bool | None
    result_storage: Any  # a WritableFileSystem block, "slug/name", or a URL
    result_serializer: Any  # "pickle", "cloudpickle", "json" (+compression), or a Serializer
    cache_result_in_memory: bool  # False: keep only the persisted result, read when needed


class TaskOptions(RunOptions, total=False):
    retry_condition_fn: Callable[..., bool] | None
    task_run_name: str | Callable[..., str] | None
    cache_policy: Any  # a plait.caching policy, or its name ("inputs+task_source")
    cache_key_fn: Callable[..., str | None] | None
    cache_expiration: Any  # a datetime.timedelta, or None for no expiry
    refresh_cache: bool
    on_commit: list[Callable[..., Any]]  # hook(transaction): its transaction committed
    on_rollback: list[Callable[..., Any]]  # hook(transaction): its transaction rolled back
    result_storage_key: str | None  # "{parameters[day]}.json": where the result goes (and its key)


class FlowOptions(RunOptions, total=False):
    flow_run_name: str | Callable[..., str] | None
    validate_parameters: bool
    task_runner: Any


def retry_when(
    is_transient: Callable[[BaseException], bool],
    retries: int = 3,
    retry_delay_seconds: RetryDelay = (1, 4, 16),
    retry_jitter_factor: float = 0.5,
) -> dict[str, Any]:
    """Task options that retry only failures ``is_transient`` accepts (throttling, 5xx
    answers, lost connections), after 1, 4 and 16 seconds stretched by up to 50% of jitter by
    default: ``@task(**retry_when(is_transient))``. Integrations define their tasks with it."""

    def retry_condition_fn(definition: Any, run: Any, state: Any) -> bool:
        error = state.data if state is not None else None
        return isinstance(error, BaseException) and is_transient(error)

    return {
        "retries": retries,
        "retry_delay_seconds": retry_delay_seconds,
        "retry_jitter_factor": retry_jitter_factor,
        "retry_condition_fn": retry_condition_fn,
    }


@dataclasses.dataclass(frozen=True, slots=True)
class exponential_backoff:  # lower case: it stands for Prefect's function of this name
    """A ``retry_delay_seconds`` that doubles at each retry: ``backoff_factor`` seconds
    before the first, twice that before the second, and so on, as Prefect's
    ``exponential_backoff``: ``@task(retries=3, retry_delay_seconds=exponential_backoff(10))``
    waits 10, 20 and 40 seconds (``retry_jitter_factor`` spreads them out)."""

    backoff_factor: float

    def __post_init__(self) -> None:
        if not is_number(self.backoff_factor) or self.backoff_factor < 0:
            raise _fail(
                "exponential_backoff()", "backoff_factor", "a number of seconds >= 0",
                self.backoff_factor,
            )  # fmt: skip

    def __call__(self, retry_number: int) -> float:
        return self.backoff_factor * 2.0 ** (retry_number - 1)


def check_option_names(options: dict[str, Any], allowed: type, owner: str) -> None:
    """Reject unknown option names, suggesting the closest known one."""
    import difflib

    for key in options:
        if key not in allowed.__annotations__:
            close = difflib.get_close_matches(key, allowed.__annotations__, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise InvalidOptionError(f"{owner}: unknown option {key!r}.{hint}")
