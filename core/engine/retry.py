"""Running a recorded flow run: a failed one again, as a new attempt of the same run (``plait
flow-run retry``), or a deployment's Scheduled run that a serving process claimed.

The flow is imported from where it was defined and called with its stored parameters. Its
tasks run as usual, so those that completed with persisted results in an earlier attempt
are cache hits (the default cache policy includes the flow run's id) and do not run again:
only the failed part and what depends on it does.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from plait.backend import get_backend
from plait.caching import SCRIPT_MODULE_PREFIX
from plait.engine.flow_runs import Resumed, call_flow, call_flow_async
from plait.engine.runs import DeploymentInfo
from plait.exceptions import ParameterError
from plait.flows import Flow
from plait.results import ResultRef
from plait.runs import FlowRunRecord
from plait.states import UNSUCCESSFUL_TYPES, State, StateType


def retry_flow_run(flow_run_id: str) -> State:
    """Run a failed, crashed, timed-out or cancelled top-level flow run again; returns the
    new attempt's final state."""
    record = get_backend().run_queries().read_flow_run(flow_run_id)
    what = f"Flow run {record.id} ({record.name!r})"
    if record.parent_flow_run_id or record.parent_task_run_id:
        raise ParameterError(f"{what} is a subflow run; retry its top-level flow run instead.")
    if record.state not in UNSUCCESSFUL_TYPES:
        state = record.state.value if record.state else "not started"
        raise ParameterError(
            f"{what} is {state}; only failed, crashed, timed-out or cancelled runs can be retried."
        )
    if record.entrypoint is None:
        raise ParameterError(
            f"{what} cannot be retried: flow {record.flow_name!r} was defined inside a function "
            "(or interactively), so it cannot be imported again. Define flows at module level."
        )
    if record.parameters_ref is None and record.parameters and record.deployment_id is None:
        raise ParameterError(
            f"{what} cannot be retried: its parameters could not be stored when it ran (they "
            "could not be pickled, or its result storage was unavailable)."
        )
    parameters: dict[str, Any] = record.parameters  # a deployment's run: JSON, as checked
    if record.parameters_ref is not None:
        parameters = ResultRef.from_json(record.parameters_ref).load()
    return _run_recorded(record, record.entrypoint, parameters, record.run_count)


def start_flow_run(flow_run_id: str) -> State:
    """Run a deployment's flow run that this process was given to start (claimed, not yet
    run): its flow imported from the deployment's entrypoint and called with the run's
    parameters (JSON, as the deployment checked them); returns its final state."""
    record = get_backend().run_queries().read_flow_run(flow_run_id)
    if record.entrypoint is None or record.deployment_id is None:
        raise ParameterError(f"Flow run {record.id} ({record.name!r}) is not a deployment's run.")
    if record.state is not StateType.PENDING:  # claimed, then cancelled or deleted meanwhile
        state = record.state.value if record.state else "not started"
        raise ParameterError(
            f"Flow run {record.id} ({record.name!r}) is {state}, not Pending as a claimed run "
            "is; it is not started."
        )
    return _run_recorded(record, record.entrypoint, record.parameters, 0)


def _run_recorded(
    record: FlowRunRecord, entrypoint: str, parameters: dict[str, Any], run_count: int
) -> State:
    flow = import_flow(entrypoint)
    deployment = None if record.deployment_id is None else _deployment(record.deployment_id)
    resume = Resumed(record.id, record.name, run_count, deployment, record.scheduled_time)
    if flow.isasync:
        return asyncio.run(call_flow_async(flow, (), parameters, True, resume))
    return call_flow(flow, (), parameters, True, resume)


def _deployment(deployment_id: str) -> DeploymentInfo | None:
    """The deployment of that id, as its runs see it (None if it was deleted since)."""
    for saved in get_backend().deployments().list():
        if saved.id == deployment_id:
            return DeploymentInfo(saved.id, saved.name, saved.version, saved.parameters)
    return None


def import_flow(entrypoint: str) -> Flow:
    """The flow at ``module:name`` or ``/path/to/script.py:name`` (a script is imported
    under its own module name, so its ``if __name__ == "__main__":`` block does not run)."""
    location, _, name = entrypoint.rpartition(":")
    try:
        module = _import(location)
    except ParameterError:
        raise
    except Exception as exc:
        raise ParameterError(
            f"Cannot run the flow: importing it from {entrypoint} failed with "
            f"{type(exc).__name__}: {exc}. Run it from the environment it was defined in (the "
            "same packages, working directory and PYTHONPATH)."
        ) from exc
    flow = getattr(module, name, None)
    if not isinstance(flow, Flow):
        raise ParameterError(f"Cannot run the flow: {entrypoint} is no longer a @flow.")
    return flow


def _import(location: str) -> ModuleType:
    """A module by name, or a script by path under a module name of its own."""
    if not location.endswith(".py"):
        return importlib.import_module(location)
    path = Path(location)
    if not path.is_file():
        raise ParameterError(f"Cannot run the flow: its script {path} no longer exists.")
    module_name = SCRIPT_MODULE_PREFIX + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    if str(path.parent) not in sys.path:  # as when the script is run: its folder first
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
