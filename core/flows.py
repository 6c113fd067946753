"""Flows: functions whose every call is a tracked flow run that orchestrates tasks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from plait.engine import flow_runs
from plait.engine import options as opt
from plait.engine.definition import Definition
from plait.engine.parameters import Validator, build_validator
from plait.task_runners import resolve_task_runner

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from plait.deployments import Deployment

P = ParamSpec("P")
R = TypeVar("R")

_NOT_BUILT: Any = object()


class Flow(Definition, Generic[P, R]):
    """A function made into a Plait flow. See ``plait.engine.options.FlowOptions`` for its options.

    Calling it runs a flow run and returns the function's return value. Called from
    another flow, it runs as a subflow linked to its parent. Its tasks' ``.submit()`` and
    ``.map()`` go to its ``task_runner`` (a ``ThreadPoolTaskRunner`` unless set).
    """

    kind = "flow"
    kind_label = "Flow"
    completion_log_level = logging.INFO
    run_name_option = "flow_run_name"
    options_type = opt.FlowOptions

    def __init__(self, fn: Callable[P, R], **options: Unpack[opt.FlowOptions]) -> None:
        super().__init__(fn, **options)
        owner = f"@flow {self.name!r}"
        self.validate_parameters = opt.check_bool(
            options.get("validate_parameters", True), "validate_parameters", owner
        )
        self.task_runner = resolve_task_runner(options.get("task_runner"), owner)
        self._validator: Validator | None = _NOT_BUILT

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return super().__call__(*args, **kwargs)

    def validate(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """Coerce parameters to the function's type hints (if ``validate_parameters``)."""
        if not self.validate_parameters:
            return parameters
        if self._validator is _NOT_BUILT:
            self._validator = build_validator(self.fn, self.name)
        return parameters if self._validator is None else self._validator(parameters)

    def to_deployment(self, name: str, **options: Any) -> Deployment:
        """A deployment of this flow, to serve or register: ``cron=``, ``interval=`` or
        ``rrule=`` (with ``timezone=``, ``anchor_date=``) or ``schedules=[...]``,
        ``parameters=``, ``tags=``, ``description=``, ``version=``, ``concurrency_limit=``,
        ``collision=`` and ``catchup=`` (see ``plait.deployments``). Each option and
        parameter is checked now, and a bad one refused by name."""
        from plait.deployments import build_deployment

        return build_deployment(self, name, **options)

    def serve(self, name: str, *, limit: int | None = None, **options: Any) -> None:
        """Register a deployment of this flow (``to_deployment``'s options) and run its
        flow runs until Ctrl-C or SIGTERM (``plait.serve``)."""
        from plait.deployments import serve

        serve(self.to_deployment(name, **options), limit=limit)

    def _run_sync(self, args: tuple, kwargs: dict, return_state: bool) -> Any:
        return flow_runs.call_flow(self, args, kwargs, return_state)

    async def _run_async(self, args: tuple, kwargs: dict, return_state: bool) -> Any:
        return await flow_runs.call_flow_async(self, args, kwargs, return_state)


@overload
def flow(fn: Callable[P, R], /) -> Flow[P, R]: ...
@overload
def flow(**options: Unpack[opt.FlowOptions]) -> Callable[[Callable[P, R]], Flow[P, R]]: ...
def flow(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make a function a flow: ``@flow`` or ``@flow(retries=1, task_runner=..., ...)``."""
    if fn is None:
        return lambda fn: Flow(fn, **options)
    return Flow(fn, **options)
