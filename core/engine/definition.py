"""What flows and tasks share: the wrapped function, its validated options, and how a call
becomes a run.

Calling convention, the same for flows and tasks:

- A sync flow or task runs in the calling thread. Called from a thread that runs an
  event loop (an async flow, say), it runs in a worker thread instead, so sync code never
  runs on the loop's thread.
- An async flow or task returns a coroutine to await. Inside a *sync* flow or task, which
  cannot await, it is run to completion and its value returned.
- ``return_state=True`` as a call keyword returns the final ``State`` instead of the value.
- Failures raise the original exception. ``KeyboardInterrupt``, ``SystemExit`` and
  ``asyncio.CancelledError`` always propagate, after the run is recorded as Crashed or
  Cancelled.
"""

from __future__ import annotations

import functools
import inspect
import random
from collections.abc import Callable
from typing import Any, ClassVar

from plait.context import current_context
from plait.engine import options as opt
from plait.engine.concurrency import event_loop_running, run_coroutine_sync, run_in_worker_thread
from plait.exceptions import InvalidOptionError, ParameterError
from plait.results import ResultOptions
from plait.states import State, StateType

_HOOK_OPTIONS = {
    "on_running": (StateType.RUNNING,),
    "on_completion": (StateType.COMPLETED, StateType.CACHED),
    "on_failure": (StateType.FAILED, StateType.TIMED_OUT),
    "on_crashed": (StateType.CRASHED,),
    "on_cancellation": (StateType.CANCELLED,),
}


class HookDecorator:
    """``@my_task.on_failure`` (and the other hook options): registers the decorated
    function as that option does, and returns it unchanged."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.option = name

    def __get__(
        self, definition: Definition | None, owner: type
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        if definition is None:
            return self  # type: ignore[return-value]
        return functools.partial(definition.add_hook, self.option)


def _consuming(fn: Callable[..., Any]) -> Callable[..., Any]:
    """What a run calls: ``fn``, or for an async generator function, ``fn`` with everything
    it yields gathered in a list (a returned generator is gathered by ``lifecycle.attempt``),
    so the work happens inside the run, under its timeout, retries and state, and the result
    can be persisted or sent back from a worker."""
    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def gathered_async(*args: Any, **kwargs: Any) -> list[Any]:
            return [item async for item in fn(*args, **kwargs)]

        return gathered_async
    return fn


UNBOUND = object()


def _rebuild(cls: type[Definition], fn: Callable[..., Any], options: dict[str, Any]) -> Definition:
    return cls(fn, **options)


class Definition:
    """Base of ``Flow`` and ``Task``. Subclasses set the class attributes and implement
    ``_run_sync`` / ``_run_async``."""

    kind: ClassVar[str]
    kind_label: ClassVar[str]
    completion_log_level: ClassVar[int]
    reserved_parameters: ClassVar[frozenset[str]] = frozenset({"return_state"})
    run_name_option: ClassVar[str]
    options_type: ClassVar[type]

    retry_condition_fn: Callable[..., bool] | None = None
    bound_to: Any = UNBOUND  # the instance (or class) a method's copy is bound to

    def __init__(self, fn: Callable[..., Any], **options: Any) -> None:
        if not callable(fn):
            raise InvalidOptionError(f"@{self.kind} must decorate a function; got {fn!r}.")
        self.fn = fn
        self._options = options
        self.name = opt.check_name(
            options.get("name", getattr(fn, "__name__", None)), f"@{self.kind}"
        )
        owner = f"@{self.kind} {self.name!r}"
        opt.check_option_names(options, self.options_type, owner)
        self.isasync = inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)
        self.body = _consuming(fn)
        self.signature = inspect.signature(fn)
        clash = self.reserved_parameters & self.signature.parameters.keys()
        if clash:
            raise InvalidOptionError(
                f"{owner}: parameter name {sorted(clash)[0]!r} is reserved by Plait for call "
                "options; rename the function's parameter."
            )
        self.description = opt.check_optional_str(
            options.get("description"), "description", owner
        ) or inspect.getdoc(fn)
        self.tags = opt.check_tags(options.get("tags"), owner)
        self.retries = opt.check_retries(options.get("retries", 0), owner)
        self.retry_delay_seconds = opt.check_retry_delay(
            options.get("retry_delay_seconds", 0), owner
        )
        self.retry_jitter_factor = opt.check_jitter(options.get("retry_jitter_factor"), owner)
        self.timeout_seconds = opt.check_timeout(options.get("timeout_seconds"), owner)
        self.log_prints = opt.check_optional_bool(options.get("log_prints"), "log_prints", owner)
        self.run_name_template = opt.check_run_name(
            options.get(self.run_name_option),
            self.run_name_option,
            owner,
            self.signature.parameters,
        )
        self._run_name_takes_parameters = callable(self.run_name_template) and bool(
            inspect.signature(self.run_name_template).parameters
        )
        self.results = ResultOptions(
            options.get("persist_result"),
            options.get("result_storage"),
            options.get("result_serializer"),
            owner,
            options.get("cache_result_in_memory", True),
        )
        self._hooks: dict[StateType, tuple[Callable[..., Any], ...]] = {}
        for option in _HOOK_OPTIONS:
            self._set_hooks(option, opt.check_hooks(options.get(option), option, owner))
        functools.update_wrapper(self, fn)

    on_running = HookDecorator()
    on_completion = HookDecorator()
    on_failure = HookDecorator()
    on_crashed = HookDecorator()
    on_cancellation = HookDecorator()

    def add_hook(self, option: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Add ``fn`` to the hooks of ``option`` (``"on_failure"``, …); what the decorators
        ``@my_task.on_failure`` do. Copies (``with_options``) and pickled copies keep it."""
        owner = f"@{self.kind} {self.name!r}"
        hooks = getattr(self, f"{option}_hooks") + opt.check_hooks(fn, option, owner)
        self._options[option] = list(hooks)
        self._set_hooks(option, hooks)
        return fn

    def _set_hooks(self, option: str, hooks: tuple[Callable[..., Any], ...]) -> None:
        setattr(self, f"{option}_hooks", hooks)
        for state_type in _HOOK_OPTIONS.get(option, ()):  # on_commit/on_rollback: no state
            self._hooks[state_type] = hooks

    def with_options(self, **changes: Any) -> Any:
        """A copy with some options changed, e.g. ``my_task.with_options(retries=5)``."""
        return type(self)(self.fn, **{**self._options, **changes})

    def hooks_for(self, state: State) -> tuple[Callable[..., Any], ...]:
        return self._hooks.get(state.type, ())

    def retry_delay(self, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number`` (1 for the first), jitter included.

        Jitter stretches the delay by a random factor in [1, 1 + retry_jitter_factor], so
        retries never come sooner than asked but many runs do not retry in lockstep.
        """
        delay: Any = self.retry_delay_seconds
        if isinstance(delay, tuple):
            delay = delay[min(retry_number, len(delay)) - 1]
        elif callable(delay):
            delay = delay(retry_number)
            if not opt.is_number(delay) or delay < 0:
                raise InvalidOptionError(
                    f"@{self.kind} {self.name!r}: retry_delay_seconds returned {delay!r} for "
                    f"retry {retry_number}; it must return a number of seconds >= 0."
                )
        if self.retry_jitter_factor:
            delay *= random.uniform(1, 1 + self.retry_jitter_factor)
        return float(delay)

    def bind(self, args: tuple, kwargs: dict) -> inspect.BoundArguments:
        """Match call arguments to parameters, failing with the function's signature shown."""
        try:
            return self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ParameterError(
                f"{self.kind_label} {self.name!r} cannot be called with these arguments: {exc}. "
                f"Its signature is {self.name}{self.signature}."
            ) from None

    def run_name(self, bound: inspect.BoundArguments) -> str | None:
        """The run name from the ``flow_run_name`` / ``task_run_name`` option, if set.

        A template is filled from the parameters; a callable is called with the
        parameters as a dict if it accepts an argument, else with none.
        """
        template = self.run_name_template
        if template is None:
            return None
        bound.apply_defaults()
        if callable(template):
            takes_parameters = self._run_name_takes_parameters
            name = template(dict(bound.arguments)) if takes_parameters else template()
        else:
            name = template.format(**bound.arguments)
        if not isinstance(name, str) or not name:
            raise InvalidOptionError(
                f"@{self.kind} {self.name!r}: {self.run_name_option} must produce a non-empty "
                f"string; it produced {name!r}."
            )
        return name

    def resolve_log_prints(self) -> bool:
        """This run's ``log_prints``: its own setting, else the enclosing run's, else False."""
        if self.log_prints is not None:
            return self.log_prints
        context = current_context()
        return context.log_prints if context is not None else False

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        """A flow or task defined in a class, read from an instance (or, under
        ``@classmethod``, the class): a copy that passes it as the first argument, as
        Python does for methods."""
        if instance is None:
            return self
        bound = object.__new__(type(self))
        bound.__dict__.update(self.__dict__, bound_to=instance)
        return bound

    def with_bound(self, args: tuple) -> tuple:
        """``args`` with the instance a method's copy is bound to in front."""
        return args if self.bound_to is UNBOUND else (self.bound_to, *args)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        args = self.with_bound(args)
        return_state = kwargs.pop("return_state", False)
        if self.isasync:
            coroutine = self._run_async(args, kwargs, return_state)
            if current_context() is not None and not event_loop_running():
                return run_coroutine_sync(coroutine)
            return coroutine
        if event_loop_running():
            return run_in_worker_thread(self._run_sync, args, kwargs, return_state)
        return self._run_sync(args, kwargs, return_state)

    def _run_sync(self, args: tuple, kwargs: dict, return_state: bool) -> Any:
        raise NotImplementedError

    async def _run_async(self, args: tuple, kwargs: dict, return_state: bool) -> Any:
        raise NotImplementedError

    @staticmethod
    def deliver(state: State, return_state: bool) -> Any:
        """What a call hands back: the state, the value, or the exception raised."""
        # An interruption (KeyboardInterrupt, SystemExit) propagates even with return_state.
        # A completed state's value may stay in storage until it is asked for.
        error = None if state.is_completed() else state.data
        if isinstance(error, BaseException) and not isinstance(error, Exception):
            raise error
        return state if return_state else state.outcome()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.fn, self._options))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
