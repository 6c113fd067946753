"""plait.runtime: the flow run, task run and deployment in progress, readable anywhere in a
run (threads, worker processes, subflows), with environment overrides for tests; and the
FlowRunContext.get() / TaskRunContext.get() accessors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from plait import ProcessPoolTaskRunner, flow, runtime, task
from plait.context import FlowRunContext, TaskRunContext
from plait.exceptions import ConfigError


def _task_view() -> dict:
    return {
        "flow_run": (runtime.flow_run.name, runtime.flow_run.flow_name, runtime.flow_run.id),
        "flow_parameters": runtime.flow_run.parameters,
        "task_run": (runtime.task_run.name, runtime.task_run.task_name),
        "task_parameters": runtime.task_run.parameters,
        "ids_agree": runtime.task_run.flow_run_id == runtime.flow_run.id,
        "run_count": runtime.task_run.run_count,
        "tags": runtime.task_run.tags,
        "deployment": runtime.deployment.id,
    }


@task(tags=["etl"], retries=1)
def flaky_view(x: int, scale: int = 10) -> dict:
    if runtime.task_run.run_count == 1:
        raise ConnectionError("first attempt fails")
    return _task_view()


class Unpicklable:
    def __reduce__(self):
        raise TypeError("cannot be pickled")

    def __repr__(self) -> str:
        return "Unpicklable()"


def test_runtime_describes_the_runs_in_progress_in_threads_and_worker_processes(recorder):
    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def pipeline(day: str, handle: object = None) -> tuple:
        flow_side = (runtime.flow_run.name, runtime.flow_run.run_count, runtime.task_run.id)
        return flow_side, flaky_view(1), flaky_view.submit(2, scale=3).result()

    flow_side, called, in_worker = pipeline("2024-01-31", handle=Unpicklable())
    [flow_run] = recorder.flow_runs()
    assert flow_side == (flow_run.name, 1, None)
    assert called["flow_parameters"]["handle"].__class__ is Unpicklable, "the objects themselves"
    assert in_worker["flow_parameters"] == {"day": "2024-01-31", "handle": "Unpicklable()"}
    for view, name, parameters in [
        (called, "flaky_view-0", {"x": 1, "scale": 10}),
        (in_worker, "flaky_view-1", {"x": 2, "scale": 3}),
    ]:
        assert view["flow_run"] == (flow_run.name, "pipeline", flow_run.id)
        assert view["task_run"] == (name, "flaky_view")
        assert view["task_parameters"] == parameters
        assert (view["ids_agree"], view["run_count"], view["tags"]) == (True, 2, ["etl"])
        assert view["deployment"] is None


def test_a_subflow_knows_its_parent_and_scheduled_start_is_when_it_started(recorder):
    @flow
    def child() -> tuple:
        return runtime.flow_run.parent_flow_run_id, runtime.flow_run.scheduled_start_time

    @flow
    def parent() -> tuple:
        return runtime.flow_run.id, runtime.flow_run.parent_flow_run_id, child()

    parent_id, no_parent, (childs_parent, started) = parent()
    assert (no_parent, childs_parent) == (None, parent_id)
    child_run = next(run for run in recorder.flow_runs() if run.flow_name == "child")
    assert started == child_run.start_time


def test_outside_a_run_runtime_gives_empty_values():
    before = datetime.now(UTC)
    assert (runtime.flow_run.id, runtime.flow_run.name, runtime.task_run.id) == (None,) * 3
    assert (runtime.flow_run.parameters, runtime.flow_run.tags, runtime.task_run.run_count) == (
        {}, [], 0,
    )  # fmt: skip
    assert (runtime.deployment.id, runtime.deployment.parameters) == (None, {})
    assert runtime.flow_run.scheduled_start_time >= before
    assert FlowRunContext.get() is None
    assert TaskRunContext.get() is None


def test_context_accessors_return_the_runs_in_progress():
    @task
    def inner() -> tuple:
        return FlowRunContext.get().flow_run.name, TaskRunContext.get().task_run.name

    @flow
    def outer() -> tuple:
        return FlowRunContext.get().flow_run.name, TaskRunContext.get(), inner()

    flow_name, no_task, (flow_name_in_task, task_name) = outer()
    assert (no_task, flow_name_in_task, task_name) == (None, flow_name, "inner-0")


def test_environment_variables_override_runtime_values_with_their_types(monkeypatch):
    monkeypatch.setenv("PLAIT__RUNTIME__FLOW_RUN__NAME", "nightly")
    monkeypatch.setenv("PLAIT__RUNTIME__TASK_RUN__RUN_COUNT", "3")
    monkeypatch.setenv("PLAIT__RUNTIME__DEPLOYMENT__PARAMETERS", '{"day": "2024-01-31"}')
    monkeypatch.setenv("PLAIT__RUNTIME__FLOW_RUN__SCHEDULED_START_TIME", "2024-01-31T06:00:00")
    monkeypatch.setenv("PLAIT__RUNTIME__FLOW_RUN__TAGS", "etl, nightly")

    @flow
    def named() -> str:
        return runtime.flow_run.name

    assert named() == "nightly", "the override wins inside a run too"
    assert runtime.task_run.run_count == 3
    assert runtime.deployment.parameters == {"day": "2024-01-31"}
    assert runtime.flow_run.scheduled_start_time == datetime(2024, 1, 31, 6, tzinfo=UTC)
    assert runtime.flow_run.tags == ["etl", "nightly"]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PLAIT__RUNTIME__TASK_RUN__RUN_COUNT", "two", "must be an integer, such as 2"),
        ("PLAIT__RUNTIME__FLOW_RUN__PARAMETERS", "[1]", "must be a JSON object"),
        ("PLAIT__RUNTIME__FLOW_RUN__SCHEDULED_START_TIME", "soon", "must be an ISO 8601 time"),
    ],
)
def test_a_bad_override_is_refused_naming_the_variable(monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    section, attribute = variable.removeprefix("PLAIT__RUNTIME__").lower().split("__")
    with pytest.raises(ConfigError) as refused:
        getattr(getattr(runtime, section), attribute)
    assert str(refused.value).startswith(f"{variable}={value!r} cannot be read: it {expected}")
    assert str(refused.value).endswith("Fix or unset the variable.")
