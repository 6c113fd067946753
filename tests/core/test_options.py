"""Bad options fail when the flow or task is defined, naming the option and the fix."""

from __future__ import annotations

import pytest

from plait import (
    InvalidOptionError,
    ProcessPoolTaskRunner,
    Task,
    ThreadPoolTaskRunner,
    flow,
    task,
)


def noop(x=None):
    return x


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retries": -1}, r"@task 'noop': retries must be a whole number >= 0 .*got -1"),
        ({"retries": 1.5}, "retries must be a whole number"),
        ({"retries": True}, "retries must be a whole number"),
        ({"retry_delay_seconds": -2}, "retry_delay_seconds must be a number of seconds >= 0"),
        ({"retry_delay_seconds": [1, -5, 30]}, r"retry_delay_seconds .*got \[1, -5, 30\]"),
        ({"retry_delay_seconds": []}, "retry_delay_seconds"),
        ({"retry_delay_seconds": "5s"}, "retry_delay_seconds"),
        ({"retry_jitter_factor": -0.1}, "retry_jitter_factor must be a number >= 0"),
        ({"timeout_seconds": 0}, r"timeout_seconds must be a number of seconds > 0"),
        ({"timeout_seconds": "10"}, "timeout_seconds"),
        ({"timeout_seconds": float("nan")}, r"timeout_seconds must be .*; got nan"),
        ({"timeout_seconds": float("inf")}, r"timeout_seconds must be .*; got inf"),
        ({"retry_delay_seconds": float("nan")}, r"retry_delay_seconds .*got nan"),
        ({"retry_delay_seconds": [1, float("nan")]}, r"retry_delay_seconds .*got \[1, nan\]"),
        ({"retry_jitter_factor": float("nan")}, "retry_jitter_factor must be a number >= 0"),
        (
            {"on_failure": ["not callable"]},
            r"on_failure must be a list of callables.*'not callable'",
        ),
        ({"on_completion": 42}, "on_completion must be a list of callables"),
        ({"retry_condition_fn": "yes"}, "retry_condition_fn must be a callable or None"),
        ({"tags": "etl"}, "tags must be a list of strings"),
        ({"tags": ["ok", 3]}, "tags must be a list of non-empty strings"),
        ({"name": ""}, "name must be a non-empty string"),
        ({"log_prints": "yes"}, "log_prints must be True, False or None"),
        ({"task_run_name": "load-{dya}"}, r"refers to \{dya\}, which is not a parameter .*x"),
        ({"retires": 3}, "unknown option 'retires'. Did you mean 'retries'"),
    ],
)
def test_bad_task_options_are_rejected_at_definition(options, message):
    with pytest.raises(InvalidOptionError, match=message):
        task(**options)(noop)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"task_runner": "kubernetes"},
            r"task_runner must be .*'threads', 'processes'.*; got 'kub",
        ),
        ({"task_runner": object}, "task_runner must be a TaskRunner"),
        ({"validate_parameters": "no"}, "validate_parameters must be True or False"),
        ({"flow_run_name": "run-{day}"}, r"refers to \{day\}"),
        ({"retry_condition_fn": lambda *a: True}, "unknown option 'retry_condition_fn'"),
        ({"on_crashed": [print, None]}, "on_crashed must be a list of callables"),
    ],
)
def test_bad_flow_options_are_rejected_at_definition(options, message):
    with pytest.raises(InvalidOptionError, match=message):
        flow(**options)(noop)


def test_task_runners_validate_max_workers():
    with pytest.raises(InvalidOptionError, match="ThreadPoolTaskRunner: max_workers must be"):
        ThreadPoolTaskRunner(max_workers=0)
    with pytest.raises(InvalidOptionError, match="ProcessPoolTaskRunner: max_workers must be"):
        ProcessPoolTaskRunner(max_workers="4")


def test_decorating_something_that_is_not_a_function_fails_clearly():
    with pytest.raises(InvalidOptionError, match="must decorate a function"):
        Task(42)


def test_reserved_parameter_names_are_rejected():
    def uses_reserved(wait_for):
        return wait_for

    with pytest.raises(InvalidOptionError, match="parameter name 'wait_for' is reserved"):
        task(uses_reserved)


def test_good_options_are_normalised():
    t = task(retries=2, retry_delay_seconds=[1, 2], tags=("a",), on_failure=print)(noop)
    assert t.retries == 2
    assert t.retry_delay_seconds == (1.0, 2.0)
    assert t.tags == ("a",)
    assert t.on_failure_hooks == (print,)
    assert flow(task_runner="processes")(noop).task_runner.__class__ is ProcessPoolTaskRunner
    assert (
        flow(task_runner=ThreadPoolTaskRunner)(noop).task_runner.__class__ is ThreadPoolTaskRunner
    )
