"""What is particular to running tasks in other processes, and the public TaskRunner interface."""

from __future__ import annotations

import concurrent.futures as cf
import os
import threading

import cloudpickle
import pytest
from fixtures.runs import dies_once

from plait import ProcessPoolTaskRunner, TaskRunner, flow, task
from plait.exceptions import SerializationError


@task
def die(code: int):
    os._exit(code)


@task
def square(x):
    return x * x


@task
def returns_a_lock():
    return threading.Lock()


def test_a_worker_that_dies_crashes_only_its_task_run_and_the_flow_goes_on(recorder):
    crashed = []

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def pipeline():
        dead = die.with_options(on_crashed=[lambda t, r, s: crashed.append(r.name)]).submit(3)
        dead.wait()
        after = square.submit(4)  # the broken pool is replaced for later runs
        return dead.state.name, dead.state.message, after.result()

    state, message, after = pipeline()
    assert state == "Crashed"
    assert "worker failed with BrokenProcessPool" in message
    assert after == 16
    assert crashed == ["die-0"]
    assert [r.state for r in recorder.task_runs()] == ["Crashed", "Completed"]


def test_a_run_whose_worker_died_is_retried_when_its_retries_allow(recorder, tmp_path):
    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def pipeline():
        return dies_once.submit(str(tmp_path / "died")).result()

    assert pipeline() == "second attempt"
    [run] = recorder.task_runs()
    assert [state.type for state in run.states] == ["Pending", "Retrying", "Running", "Completed"]
    assert "crashed: its worker failed with BrokenProcessPool" in run.states[1].message
    assert "(retry 1/1 in 0s)" in run.states[1].message


def test_a_result_that_cannot_cross_the_process_boundary_fails_clearly():
    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def pipeline():
        return returns_a_lock.submit()

    state = pipeline(return_state=True)
    assert state.is_failed()
    with pytest.raises(Exception, match=r"ended Completed, but its result could not be sent back"):
        state.result()


@task
def raises_unpicklable():
    raise ValueError("bad state", threading.Lock())


def test_an_exception_that_cannot_cross_the_process_boundary_keeps_its_traceback():
    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def pipeline():
        return raises_unpicklable.submit()

    state = pipeline(return_state=True)
    with pytest.raises(
        Exception, match="ended Failed, but its exception could not be sent back"
    ) as raised:
        state.result()
    assert "ValueError: ('bad state'" in str(raised.value)
    assert type(raised.value).__name__ == "RemoteError"


def test_an_argument_that_cannot_be_pickled_fails_the_task_clearly():
    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def pipeline():
        future = square.submit(threading.Lock())
        future.wait()
        return future.state.message, type(future.state.data).__name__

    message, error = pipeline()
    assert "Could not submit task run 'square-0' to ProcessPoolTaskRunner" in message
    assert "Task 'square': argument 'x' (lock) cannot be sent to the workers of " in message
    assert "cannot pickle" in message
    assert error == "SerializationError"  # a PlaitError naming the task and the parameter

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def raising():
        return square.submit(threading.Lock()).result()

    with pytest.raises(SerializationError, match="argument 'x' \\(lock\\)") as raised:
        raising()
    assert isinstance(raised.value.__cause__, TypeError)  # pickle's own error, kept as cause


class InlineTaskRunner(TaskRunner):
    """A third-party runner written against the public interface only: it runs each call
    at once, after a pickle round trip, as a remote runner would."""

    in_process = False

    def __init__(self):
        self.calls = 0

    def submit(self, call):
        self.calls += 1
        future = cf.Future()
        future.set_result(cloudpickle.loads(cloudpickle.dumps(call))())
        return future

    def duplicate(self):
        return self


def test_a_task_runner_can_be_implemented_from_the_public_interface(recorder):
    runner = InlineTaskRunner()

    @task(retries=1)
    def flaky_square(x):
        from plait import get_run_context

        if get_run_context().task_run.run_count == 1:
            raise ConnectionError("once")
        return x * x

    @flow(task_runner=runner)
    def pipeline():
        return flaky_square.map([2, 3]).result()

    assert pipeline() == [4, 9]
    assert runner.calls == 2
    assert [r.run_count for r in recorder.task_runs()] == [2, 2]
