"""Plait: plain Python functions become orchestrated flows and tasks.

from plait import flow, task

@task(retries=3)
def double(x: int) -> int:
    return 2 * x

@flow
def pipeline(n: int) -> int:
    return sum(f.result() for f in double.map(range(n)))
"""

from plait.annotations import allow_failure, opaque, quote
from plait.context import get_run_context, tags
from plait.engine.limits import concurrency
from plait.engine.mapping import unmapped
from plait.engine.observed import ObservedTaskRun
from plait.exceptions import (
    CancelledRunError,
    CrashedRunError,
    InvalidOptionError,
    MappingLengthError,
    MissingContextError,
    ParameterError,
    PlaitError,
    RunTimeoutError,
    TerminationSignal,
    UpstreamFailedError,
)
from plait.flows import Flow, flow
from plait.futures import PlaitFuture, PlaitFutureList, as_completed, wait
from plait.logs import get_run_logger
from plait.results import write_artifact
from plait.states import (
    Cached,
    Cancelled,
    Cancelling,
    Completed,
    Crashed,
    Failed,
    Late,
    Pending,
    Retrying,
    Running,
    Scheduled,
    Skipped,
    State,
    StateType,
    TimedOut,
)
from plait.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner
from plait.tasks import Task, exponential_backoff, retry_when, task

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``plait.hookimpl`` (the marker for plugin hooks) loads pluggy, and ``plait.serve``
    the deployments' modules, only when asked for."""
    if name == "hookimpl":
        from plait.hookspecs import hookimpl

        return hookimpl
    if name == "serve":
        from plait.deployments import serve

        return serve
    raise AttributeError(f"module 'plait' has no attribute {name!r}")


__all__ = [
    "Cached",
    "Cancelled",
    "CancelledRunError",
    "Cancelling",
    "Completed",
    "Crashed",
    "CrashedRunError",
    "Failed",
    "Flow",
    "InvalidOptionError",
    "Late",
    "MappingLengthError",
    "MissingContextError",
    "ObservedTaskRun",
    "ParameterError",
    "Pending",
    "PlaitError",
    "PlaitFuture",
    "PlaitFutureList",
    "ProcessPoolTaskRunner",
    "Retrying",
    "RunTimeoutError",
    "Running",
    "Scheduled",
    "Skipped",
    "State",
    "StateType",
    "Task",
    "TaskRunner",
    "TerminationSignal",
    "ThreadPoolTaskRunner",
    "TimedOut",
    "UpstreamFailedError",
    "__version__",
    "allow_failure",
    "as_completed",
    "concurrency",
    "exponential_backoff",
    "flow",
    "get_run_context",
    "get_run_logger",
    "hookimpl",
    "opaque",
    "quote",
    "retry_when",
    "serve",
    "tags",
    "task",
    "unmapped",
    "wait",
    "write_artifact",
]
