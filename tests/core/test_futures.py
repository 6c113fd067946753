"""Futures, waiting, mapping and the flow's handling of what it submitted (thread runner)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from plait import (
    MappingLengthError,
    MissingContextError,
    ParameterError,
    PlaitFuture,
    StateType,
    ThreadPoolTaskRunner,
    UpstreamFailedError,
    allow_failure,
    as_completed,
    flow,
    opaque,
    quote,
    task,
    unmapped,
    wait,
)


@task
def identity(x):
    return x


@task
def gated(gate: threading.Event, value):
    assert gate.wait(30), "test gate never opened"
    return value


@task
def explode():
    raise ValueError("boom")


def test_future_exposes_state_result_wait_and_timeout():
    gate = threading.Event()

    @flow
    def pipeline():
        future = gated.submit(gate, "v")
        assert isinstance(future, PlaitFuture)
        assert not future.done()
        assert future.state.name in ("Pending", "Running")
        with pytest.raises(TimeoutError):
            future.result(timeout=0.05)
        gate.set()
        future.wait()
        return future.done(), future.state.name, future.result()

    assert pipeline() == (True, "Completed", "v")


def test_result_raises_the_task_exception_or_returns_it_when_asked():
    @flow
    def pipeline():
        future = explode.submit()
        with pytest.raises(ValueError, match="boom"):
            future.result()
        return type(future.result(raise_on_failure=False)).__name__

    assert pipeline() == "ValueError"


def test_wait_and_as_completed_report_runs_as_they_finish():
    gate = threading.Event()

    @flow
    def pipeline():
        slow, fast = gated.submit(gate, "slow"), identity.submit("fast")
        fast.wait()
        done, not_done = wait([slow, fast], timeout=0.05)
        assert done == {fast}
        assert not_done == {slow}
        order = []
        for future in as_completed([slow, fast]):
            order.append(future.result())
            gate.set()
        return order

    assert pipeline() == ["fast", "slow"]


def test_map_zips_iterables_and_passes_strings_dicts_and_unmapped_whole():
    @task
    def combine(number, letter, prefix, config, items):
        return f"{prefix}{number}{letter}{config['sep']}{len(items)}"

    @flow
    def pipeline():
        futures = combine.map([1, 2], ["a", "b"], "p-", {"sep": "/"}, unmapped([0, 0, 0]))
        return futures.result()

    assert pipeline() == ["p-1a/3", "p-2b/3"]


def test_map_takes_generators_tuples_and_iterable_keyword_arguments():
    @task
    def scale(x, factor=1):
        return x * factor

    @flow
    def pipeline():
        from_generator = scale.map(n for n in range(3)).result()
        from_tuples = scale.map((1, 2), factor=(10, 100)).result()
        by_keyword = scale.map(x=range(2), factor=unmapped(5)).result()
        return from_generator, from_tuples, by_keyword

    assert pipeline() == ([0, 1, 2], [10, 200], [0, 5])


def test_map_rejects_iterables_of_different_lengths_naming_them():
    @task
    def pair(left, right):
        return left, right

    @flow
    def pipeline():
        pair.map([1, 2, 3], right=[1, 2])

    with pytest.raises(MappingLengthError, match=r"left has 3, right has 2.*unmapped"):
        pipeline()


def test_map_needs_something_to_map_over():
    @flow
    def pipeline():
        identity.map("a string is passed whole")

    with pytest.raises(ParameterError, match="needs at least one iterable argument"):
        pipeline()


def test_map_over_a_future_uses_its_result_for_the_width(recorder):
    @task
    def discover() -> list[str]:
        return ["a.csv", "b.csv", "c.csv"]

    @flow
    def pipeline():
        return identity.map(discover.submit()).result()

    assert pipeline() == ["a.csv", "b.csv", "c.csv"]
    assert len(recorder.task_runs()) == 4


def test_map_over_a_failed_future_names_it():
    @flow
    def pipeline():
        identity.map(explode.submit())

    with pytest.raises(UpstreamFailedError, match="'explode-0' to know how many runs"):
        pipeline()


def test_map_of_an_empty_iterable_gives_no_runs():
    @flow
    def pipeline():
        return identity.map([]).result()

    assert pipeline() == []


def test_ten_thousand_mapped_tasks_complete():
    @flow
    def pipeline():
        return sum(identity.map(range(10_000)).result())

    assert pipeline() == sum(range(10_000))


def test_futures_the_flow_never_waited_for_are_waited_for_before_it_ends(recorder):
    gate = threading.Event()

    @flow
    def fire_and_forget():
        gated.submit(gate, 1)
        gated.submit(gate, 2)
        gate.set()

    fire_and_forget()
    assert [r.state for r in recorder.task_runs()] == ["Completed", "Completed"]
    assert recorder.flow_runs()[0].state == "Completed"


def test_a_flow_fails_when_it_returns_a_failed_future_but_not_for_one_it_ignores(recorder):
    @flow
    def returns_failure():
        return [identity.submit(1), explode.submit()]

    @flow
    def ignores_failure():
        explode.submit()
        return "fine"

    state = returns_failure(return_state=True)
    assert state.is_failed()
    assert state.message == "1 of 2 returned task runs did not complete: 'explode-0'"
    with pytest.raises(ValueError, match="boom"):
        state.result()
    assert ignores_failure() == "fine"


def test_a_flow_returning_futures_returns_their_values():
    @flow
    def pipeline():
        return {"a": identity.submit(1), "b": [identity.submit(2)]}

    assert pipeline() == {"a": 1, "b": [2]}


def test_submit_outside_a_flow_explains_what_to_do():
    with pytest.raises(
        MissingContextError, match=r"submitted outside of a flow.*call the task directly"
    ):
        identity.submit(1)


def test_wait_for_must_hold_futures():
    @flow
    def pipeline():
        identity.submit(1, wait_for=["not a future"])

    with pytest.raises(ParameterError, match="wait_for must be a list of futures"):
        pipeline()


def test_a_plain_call_waits_for_its_wait_for_futures_and_fails_if_they_did(recorder):
    gate = threading.Event()
    order = []

    @task
    def first():
        assert gate.wait(30)
        order.append("first")

    @task
    def second(tag):
        order.append(tag)
        return tag

    @flow
    def pipeline():
        upstream = first.submit()
        gate.set()
        ran = second("after", wait_for=[upstream])
        failed = explode.submit()
        skipped = second("never", wait_for=failed, return_state=True)
        return ran, skipped.name, skipped.message

    ran, skipped, why = pipeline()
    assert (ran, order) == ("after", ["first", "after"])
    assert (skipped, why) == (
        "Failed",
        "Upstream task run 'explode-0' did not complete (it ended Failed).",
    )
    runs = {run.name: run for run in recorder.task_runs()}
    assert runs["second-0"].upstream == (runs["first-0"].id,)
    with pytest.raises(ParameterError, match="wait_for must be a list of futures"):
        second("x", wait_for=[1])


def test_an_async_plain_call_waits_for_its_wait_for_futures(recorder):
    order = []

    @task
    def slow():
        order.append("slow")

    @task
    async def after():
        order.append("after")

    @flow
    async def pipeline():
        await after(wait_for=[slow.submit()])

    asyncio.run(pipeline())
    assert order == ["slow", "after"]
    runs = {run.name: run for run in recorder.task_runs()}
    assert runs["after-0"].upstream == (runs["slow-0"].id,)


def test_allow_failure_runs_the_downstream_with_the_upstreams_exception(recorder):
    @task
    def report(outcome, done=None):
        return f"report on {type(outcome).__name__}: {outcome}"

    @flow
    def pipeline():
        failed = explode.submit()
        called = report(allow_failure(failed))
        submitted = report.submit({"fine": allow_failure(identity.submit(1))}).result()
        ordered = report.submit("after", wait_for=[allow_failure(failed)]).result()
        return called, submitted, ordered

    assert pipeline() == (
        "report on ValueError: boom", "report on dict: {'fine': 1}", "report on str: after",
    )  # fmt: skip
    runs = {run.name: run for run in recorder.task_runs()}
    assert runs["report-0"].upstream == (runs["explode-0"].id,)
    assert runs["report-2"].upstream == (runs["explode-0"].id,)
    assert runs["report-0"].state == "Completed"


def test_quote_and_opaque_pass_a_value_without_looking_inside_for_futures(recorder):
    @task
    def inspect_value(value):
        return type(value).__name__, [type(item).__name__ for item in value]

    @flow
    def pipeline():
        future = identity.submit(1)
        future.wait()
        return inspect_value(quote([future])), inspect_value(opaque((future, 2)))

    assert pipeline() == (("list", ["PlaitFuture"]), ("tuple", ["PlaitFuture", "int"]))
    inspected = [run for run in recorder.task_runs() if run.task_name == "inspect_value"]
    assert [run.upstream for run in inspected] == [(), ()], "quoted futures are not upstream"


def test_thread_runner_runs_up_to_max_workers_at_once():
    """Three tasks meet at a barrier: only a runner that runs them concurrently gets through."""
    barrier = threading.Barrier(3, timeout=10)

    @task
    def meet(i):
        barrier.wait()
        return i

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=3))
    def pipeline():
        return meet.map(range(3)).result()

    assert pipeline() == [0, 1, 2]


def test_thread_runner_never_exceeds_max_workers():
    lock = threading.Lock()
    running = [0]
    peak = [0]

    @task
    def count(i):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        with lock:
            running[0] -= 1
        return i

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=1))
    def pipeline():
        return count.map(range(50)).result()

    assert pipeline() == list(range(50))
    assert peak[0] == 1


def test_downstream_of_many_upstreams_never_blocks_a_worker():
    """With one worker, a downstream submitted before its upstream finished must not hold
    the only worker while it waits (it is only handed to the runner once upstream is done)."""
    gate = threading.Event()

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=1))
    def pipeline():
        upstream = gated.submit(gate, 2)
        downstream = identity.submit([upstream])
        gate.set()
        return downstream.result(timeout=10)

    assert pipeline() == [2]


# Futures in async flows


def test_async_flows_can_submit_await_and_block_on_futures_without_deadlock():
    @task
    async def async_double(x):
        await asyncio.sleep(0)
        return 2 * x

    @flow
    async def pipeline():
        first = async_double.submit(1)
        mapped = identity.map([1, 2])
        awaited = await first
        blocked = mapped[0].result(timeout=10)  # blocks the loop briefly; tasks run elsewhere
        return awaited, blocked, [await f for f in mapped]

    assert asyncio.run(pipeline()) == (2, 1, [1, 2])


def test_async_flows_wait_for_unawaited_futures(recorder):
    @flow
    async def pipeline():
        identity.submit(1)

    asyncio.run(pipeline())
    assert recorder.task_runs()[0].state == "Completed"


def test_an_async_task_called_with_a_future_waits_for_it():
    @task
    async def async_identity(x):
        return x

    @flow
    async def pipeline():
        return await async_identity(identity.submit("upstream value"))

    assert asyncio.run(pipeline()) == "upstream value"


@pytest.mark.parametrize(("fails", "expected"), [(True, "Failed"), (False, "Completed")])
def test_a_returned_unfinished_state_ends_the_flow_in_the_runs_final_state(fails, expected):
    started, release = threading.Event(), threading.Event()

    @task
    def gated() -> int:
        started.set()
        assert release.wait(10), "the test never released the task"
        if fails:
            raise ValueError("late failure")
        return 7

    @flow
    def returns_a_state():
        future = gated.submit()
        assert started.wait(10)
        state = future.state  # read while the task run is still Running
        assert state.type is StateType.RUNNING
        release.set()
        return state

    final = returns_a_state(return_state=True)
    assert final.type == expected  # the task's final state, whatever the timing
    if fails:
        assert "late failure" in final.message
    else:
        assert final.result() == 7
