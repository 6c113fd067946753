"""What is running, readable anywhere in a run, as Prefect's ``prefect.runtime``:
``from plait.runtime import flow_run, task_run, deployment``, then ``flow_run.name``,
``task_run.run_count``, ``deployment.id`` and so on.

Outside a run (or, for ``deployment``, in a run that is not a deployment's) ids and names
are None, ``parameters`` is ``{}``, ``tags`` is ``[]``, ``run_count`` is 0 and
``flow_run.scheduled_start_time`` is now. A task run in a worker process (a process pool, a
cluster) reads its flow run's attributes too, with the parameters as recorded.

For tests, any attribute can be set through an environment variable named
``PLAIT__RUNTIME__<SECTION>__<ATTRIBUTE>``, as Prefect's ``PREFECT__RUNTIME__…``:
``PLAIT__RUNTIME__FLOW_RUN__NAME=nightly``, ``PLAIT__RUNTIME__TASK_RUN__RUN_COUNT=2``,
``PLAIT__RUNTIME__DEPLOYMENT__PARAMETERS='{"day": "2024-01-31"}'``. It wins over the run's
own value, and is read as the attribute's type (an integer, a JSON object, an ISO 8601 time,
tags as JSON or comma-separated).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from plait.context import TaskRunContext, flow_run_var, task_run_var, worker_flow_run_var
from plait.exceptions import ConfigError

if TYPE_CHECKING:
    from plait.engine.runs import DeploymentInfo, FlowRun


def _current_flow_run() -> FlowRun | None:
    context = flow_run_var.get()
    return context.flow_run if context is not None else worker_flow_run_var.get()


def _current_task_run() -> TaskRunContext | None:
    return task_run_var.get()


def _current_deployment() -> DeploymentInfo | None:
    run = _current_flow_run()
    return None if run is None else run.deployment


def _now() -> datetime:
    return datetime.now(UTC)


def _json_object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"it is a JSON {type(value).__name__}")
    return value


def _tag_list(text: str) -> list[str]:
    if text.lstrip().startswith("["):
        return [str(tag) for tag in json.loads(text)]
    return [tag.strip() for tag in text.split(",") if tag.strip()]


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_PARSERS: dict[Callable[[str], Any], str] = {
    str: "a string",
    int: "an integer, such as 2",
    _json_object: 'a JSON object, such as {"day": "2024-01-31"}',
    _tag_list: 'tags, such as etl,nightly or ["etl", "nightly"]',
    _time: "an ISO 8601 time, such as 2024-01-31T06:00:00+00:00",
}


class _Attribute:
    """One attribute of ``plait.runtime``: read from what ``source`` returns (``empty()`` if
    it returns None), unless its environment variable is set."""

    def __init__(
        self,
        source: Callable[[], Any],
        read: Callable[[Any], Any],
        parse: Callable[[str], Any] = str,
        empty: Callable[[], Any] = lambda: None,
    ) -> None:
        self.source, self.read, self.parse, self.empty = source, read, parse, empty

    def __set_name__(self, owner: type[_Section], name: str) -> None:
        self.variable = f"PLAIT__RUNTIME__{owner.section}__{name.upper()}"

    def __get__(self, instance: _Section | None, owner: type) -> Any:
        if instance is None:
            return self
        override = os.environ.get(self.variable)
        if override is not None:
            try:
                return self.parse(override)
            except ValueError as exc:
                raise ConfigError(
                    f"{self.variable}={override!r} cannot be read: it must be "
                    f"{_PARSERS[self.parse]} ({exc}). Fix or unset the variable."
                ) from None
        current = self.source()
        return self.empty() if current is None else self.read(current)


class _Section:
    section = ""

    def __repr__(self) -> str:
        names = [name for name, value in vars(type(self)).items() if isinstance(value, _Attribute)]
        return f"plait.runtime.{self.section.lower()}({', '.join(names)})"


_of_flow_run = functools.partial(_Attribute, _current_flow_run)
_of_task_run = functools.partial(_Attribute, _current_task_run)
_of_deployment = functools.partial(_Attribute, _current_deployment)


class _FlowRun(_Section):
    """The flow run in progress (the one around a task run, in a task)."""

    section = "FLOW_RUN"
    id: str | None = _of_flow_run(lambda run: run.id)
    name: str | None = _of_flow_run(lambda run: run.name)
    flow_name: str | None = _of_flow_run(lambda run: run.flow_name)
    parameters: dict[str, Any] = _of_flow_run(lambda run: dict(run.parameters), _json_object, dict)
    tags: list[str] = _of_flow_run(lambda run: list(run.tags), _tag_list, list)
    run_count: int = _of_flow_run(lambda run: run.run_count, int, int)
    scheduled_start_time: datetime = _of_flow_run(
        lambda run: run.scheduled_time or run.started or _now(), _time, _now
    )
    parent_flow_run_id: str | None = _of_flow_run(lambda run: run.flow_run_id)
    deployment_id: str | None = _of_flow_run(
        lambda run: None if run.deployment is None else run.deployment.id
    )


class _TaskRun(_Section):
    """The task run in progress."""

    section = "TASK_RUN"
    id: str | None = _of_task_run(lambda context: context.task_run.id)
    name: str | None = _of_task_run(lambda context: context.task_run.name)
    task_name: str | None = _of_task_run(lambda context: context.task_run.task_name)
    parameters: dict[str, Any] = _of_task_run(
        lambda context: context.parameters, _json_object, dict
    )
    tags: list[str] = _of_task_run(lambda context: list(context.task_run.tags), _tag_list, list)
    run_count: int = _of_task_run(lambda context: context.task_run.run_count, int, int)
    flow_run_id: str | None = _of_task_run(lambda context: context.task_run.flow_run_id)


class _Deployment(_Section):
    """The deployment whose run is in progress."""

    section = "DEPLOYMENT"
    id: str | None = _of_deployment(lambda deployment: deployment.id)
    name: str | None = _of_deployment(lambda deployment: deployment.name)
    version: str | None = _of_deployment(lambda deployment: deployment.version)
    parameters: dict[str, Any] = _of_deployment(
        lambda deployment: dict(deployment.parameters), _json_object, dict
    )
    flow_run_id: str | None = _of_flow_run(lambda run: None if run.deployment is None else run.id)


flow_run = _FlowRun()
task_run = _TaskRun()
deployment = _Deployment()

__all__ = ["deployment", "flow_run", "task_run"]
