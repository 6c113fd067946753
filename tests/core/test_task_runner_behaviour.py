"""Behaviour every task runner must share, run once per runner (see the ``task_runner`` fixture).

Tasks here live at module level and use only picklable data, so they run anywhere.
"""

from __future__ import annotations

import asyncio
import os
from collections import namedtuple
from dataclasses import dataclass
from pathlib import Path

import pytest

from plait import UpstreamFailedError, flow, get_run_context, get_run_logger, task, unmapped


@task
def add(a, b=0):
    return a + b


@task
def total(values):
    return sum(values)


@task
def explode(message):
    raise ValueError(message)


@task
def write(path: str, text: str) -> str:
    Path(path).write_text(text)
    return path


@task
def read(path: str) -> str:
    return Path(path).read_text()


@task(retries=2)
def flaky():
    if get_run_context().task_run.run_count < 3:
        raise ConnectionError("transient")
    return "third time lucky"


@task(timeout_seconds=0.2)
async def never_ends():
    await asyncio.Event().wait()


@task
def chatty(x):
    get_run_logger().info("processing %s", x)
    print(f"printed {x}")
    return x


@task
async def async_add(a, b):
    await asyncio.sleep(0)
    return a + b


@dataclass
class Batch:
    items: list
    label: str


Pair = namedtuple("Pair", "left right")


def run(task_runner, body, **flow_options):
    return flow(task_runner=task_runner, **flow_options)(body)()


def test_submit_and_map_return_futures_of_results(task_runner):
    def body():
        single = add.submit(1, 2)
        mapped = add.map([1, 2, 3], unmapped(10))
        return single.result(), mapped.result()

    assert run(task_runner, body) == (3, [11, 12, 13])


def test_futures_nested_in_arguments_are_resolved(task_runner):
    def body():
        a, b = add.submit(1), add.submit(2)
        return (
            total.submit([a, b, 3]).result(),
            add.submit(**{"a": {"k": a}["k"], "b": b}).result(),
            total.submit(Batch([a, b], "x").items).result(),
            total.submit(Pair(a, b)).result(),
            add.submit(a, b=Batch([b], "x").items[0]).result(),
        )

    assert run(task_runner, body) == (6, 3, 3, 3, 3)


def test_dataclass_and_dict_arguments_with_futures_are_rebuilt_not_mutated(task_runner):
    @task
    def describe(batch: Batch, meta: dict) -> str:
        return f"{batch.label}:{sum(batch.items)}:{meta['n']}"

    original = {}

    def body():
        a = add.submit(5)
        batch = Batch([a, 1], "b")
        meta = {"n": a}
        original.update(batch=batch, meta=meta)
        return describe.submit(batch, meta).result()

    assert run(task_runner, body) == "b:6:5"
    assert original["meta"]["n"].__class__.__name__ == "PlaitFuture"  # caller's dict untouched


def test_a_failed_upstream_fails_downstream_without_running_it(task_runner, recorder):
    def body():
        bad = explode.submit("no data")
        return add.submit(bad, 1)

    with pytest.raises(UpstreamFailedError, match="'explode-0' did not complete") as raised:
        run(task_runner, body)
    assert isinstance(raised.value.__cause__, ValueError)
    explode_run, add_run = recorder.task_runs()
    assert add_run.state == "Failed"
    assert add_run.run_count == 0
    assert (
        add_run.state_message == "Upstream task run 'explode-0' did not complete (it ended Failed)."
    )
    assert add_run.upstream == (explode_run.id,)


def test_wait_for_orders_tasks_without_passing_data(task_runner, tmp_path, recorder):
    path = str(tmp_path / "handoff.txt")

    def body():
        written = write.submit(path, "hello")
        return read.submit(path, wait_for=[written]).result()

    assert run(task_runner, body) == "hello"
    write_run, read_run = recorder.task_runs()
    assert read_run.upstream == (write_run.id,)


def test_retries_and_timeouts_behave_the_same_on_every_runner(task_runner, recorder):
    def body():
        timed = never_ends.submit()
        timed.wait()
        return flaky.submit().result(), timed.state.name

    assert run(task_runner, body) == ("third time lucky", "TimedOut")
    runs = {r.task_name: r for r in recorder.task_runs()}
    assert runs["flaky"].run_count == 3
    assert runs["never_ends"].state == "TimedOut"


def test_logs_and_prints_from_tasks_reach_the_journal(task_runner, recorder):
    def body():
        return chatty.map([1, 2]).result()

    assert run(task_runner, body, log_prints=True) == [1, 2]
    runs = {r.id: r.name for r in recorder.task_runs()}
    messages = {(runs[e.task_run_id], e.message) for e in recorder.logs() if e.task_run_id in runs}
    assert {("chatty-0", "processing 1"), ("chatty-1", "printed 2")} <= messages
    flow_id = recorder.flow_runs()[0].id
    assert all(e.flow_run_id == flow_id for e in recorder.logs())


def test_async_tasks_can_be_submitted(task_runner):
    def body():
        return async_add.map([1, 2], [10, 20]).result()

    assert run(task_runner, body) == [11, 22]


def test_tasks_defined_inside_functions_work_on_every_runner(task_runner):
    offset = 100

    @task
    def closure(x):
        return x + offset

    def body():
        return closure.map(range(3)).result()

    assert run(task_runner, body) == [100, 101, 102]


def test_pid_shows_where_tasks_run(task_runner):
    @task
    def pid(_):
        return os.getpid()

    def body():
        return set(pid.map(range(4)).result())

    pids = run(task_runner, body)
    assert (pids == {os.getpid()}) is task_runner.in_process
