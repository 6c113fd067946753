"""Retries (delays, jitter, conditions), timeouts (sync and async), and state hooks."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time

import pytest

from plait import (
    InvalidOptionError,
    ProcessPoolTaskRunner,
    RunTimeoutError,
    exponential_backoff,
    flow,
    get_run_context,
    get_run_logger,
    task,
)

# Retries


def flaky_until(succeed_on: int):
    """A task body that fails until its ``succeed_on``-th attempt."""

    def body():
        attempt = get_run_context().task_run.run_count
        if attempt < succeed_on:
            raise ConnectionError(f"attempt {attempt} failed")
        return attempt

    return body


def test_a_task_is_retried_until_it_succeeds(recorder):
    assert task(retries=3)(flaky_until(3))() == 3
    [run] = recorder.task_runs()
    assert [s.type for s in run.states] == [
        "Pending", "Running", "Retrying", "Running", "Retrying", "Running", "Completed",
    ]  # fmt: skip
    assert run.run_count == 3
    assert run.states[2].message == "ConnectionError: attempt 1 failed (retry 1/3 in 0s)"


def test_retries_exhausted_ends_failed_with_the_last_error(recorder):
    with pytest.raises(ConnectionError, match="attempt 3 failed"):
        task(retries=2)(flaky_until(10))()
    [run] = recorder.task_runs()
    assert run.state == "Failed"
    assert run.run_count == 3


def test_retry_delay_list_is_used_per_attempt_and_really_waited():
    t = task(retries=3, retry_delay_seconds=[0.05, 0.1])(flaky_until(4))
    assert [t.retry_delay(n) for n in (1, 2, 3, 4)] == [0.05, 0.1, 0.1, 0.1]
    started = time.monotonic()
    assert t() == 4
    assert time.monotonic() - started >= 0.25  # 0.05 + 0.1 + 0.1: sleeps never end early


def test_retry_delay_callable_receives_the_retry_number(recorder):
    t = task(retries=2, retry_delay_seconds=lambda n: n / 100)(flaky_until(3))
    t()
    messages = [s.message for s in recorder.task_runs()[0].states if s.type == "Retrying"]
    assert [m.rsplit("(", 1)[1] for m in messages] == ["retry 1/2 in 0.01s)", "retry 2/2 in 0.02s)"]


def test_exponential_backoff_doubles_the_delay_at_each_retry(recorder):
    t = task(retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=0.01))(
        flaky_until(4)
    )
    assert t() == 4
    messages = [s.message for s in recorder.task_runs()[0].states if s.type == "Retrying"]
    assert [m.rsplit(" in ", 1)[1] for m in messages] == ["0.01s)", "0.02s)", "0.04s)"]
    with pytest.raises(InvalidOptionError, match="backoff_factor must be a number of seconds"):
        exponential_backoff(backoff_factor=-1)


def test_a_retry_delay_callable_returning_nonsense_fails_the_run_clearly():
    t = task(retries=2, retry_delay_seconds=lambda n: -1)(flaky_until(3))
    with pytest.raises(ValueError, match="retry_delay_seconds returned -1 for retry 1"):
        t()


def test_jitter_stretches_delays_within_bounds():
    t = task(retries=1, retry_delay_seconds=10, retry_jitter_factor=0.5)(flaky_until(1))
    delays = [t.retry_delay(1) for _ in range(500)]
    assert all(10 <= d <= 15 for d in delays)
    assert max(delays) - min(delays) > 2  # actually random, not a constant


def test_retry_condition_decides_which_errors_are_retried(recorder):
    seen = []

    def only_connection_errors(task_, task_run, state):
        seen.append((task_.name, task_run.name, state.name))
        return isinstance(state.data, ConnectionError)

    @task(retries=5, retry_condition_fn=only_connection_errors)
    def picky():
        if get_run_context().task_run.run_count == 1:
            raise ConnectionError("transient")
        raise PermissionError("fatal")

    with pytest.raises(PermissionError):
        picky()
    assert recorder.task_runs()[0].run_count == 2
    assert seen == [("picky", "picky-0", "Failed"), ("picky", "picky-0", "Failed")]


def test_a_retry_condition_that_raises_stops_retrying_and_is_logged(recorder):
    def broken_condition(task_, task_run, state):
        raise RuntimeError("condition bug")

    with pytest.raises(ConnectionError):
        task(retries=3, retry_condition_fn=broken_condition)(flaky_until(10))()
    assert recorder.task_runs()[0].run_count == 1
    assert any("retry_condition_fn raised" in log.message for log in recorder.logs())


def test_flows_retry_too(recorder):
    calls = []

    @flow(retries=1)
    def sometimes():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first try fails")
        return "ok"

    assert sometimes() == "ok"
    assert recorder.flow_runs()[0].run_count == 2


# Timeouts


@pytest.mark.skipif(
    sys.gettrace() is not None or threading.gettrace() is not None,
    reason="under a trace function (coverage, debuggers) the thread is not interrupted",
)
def test_a_sync_task_over_its_timeout_ends_timed_out_and_its_thread_is_interrupted(recorder):
    interrupted = threading.Event()

    @task(timeout_seconds=0.2)
    def spins():
        try:
            while True:
                pass
        except RunTimeoutError:
            interrupted.set()
            raise

    state = spins(return_state=True)
    assert state.is_timed_out()
    assert state.is_failed()
    assert "exceeded its timeout of 0.2 seconds" in state.message
    assert interrupted.wait(timeout=10), "the runaway loop should receive RunTimeoutError"
    with pytest.raises(RunTimeoutError):
        state.result()


def test_a_timeout_is_reported_on_time_even_while_sync_code_blocks_in_c():
    release = threading.Event()

    @task(timeout_seconds=0.2)
    def blocks():
        release.wait(30)  # a blocking call: the exception can only arrive after it returns

    started = time.monotonic()
    state = blocks(return_state=True)
    elapsed = time.monotonic() - started
    release.set()
    assert state.is_timed_out()
    assert elapsed < 10  # reported at the deadline, not after the 30 s block


def test_a_timeout_under_a_debugger_or_coverage_does_not_stall_the_caller():
    """Regression: an interruption pending on a thread blocked in C stalled every traced
    thread (CPython 3.11), so a timed-out task froze coverage and debugger runs."""
    release = threading.Event()

    @task(timeout_seconds=0.2)
    def blocks():
        release.wait(30)

    previous = sys.gettrace()
    sys.settrace(lambda *args: None)
    try:
        started = time.monotonic()
        state = blocks(return_state=True)
        for i in range(2000):  # ordinary work on the traced thread, which used to stall
            str(i)
        elapsed = time.monotonic() - started
    finally:
        sys.settrace(previous)
        release.set()
    assert state.is_timed_out()
    assert elapsed < 10


def test_an_async_task_over_its_timeout_is_cancelled():
    cancelled = threading.Event()

    @task(timeout_seconds=0.1)
    async def waits_forever():
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    @flow
    async def pipeline():
        state = await waits_forever(return_state=True)
        return state.is_timed_out()

    assert asyncio.run(pipeline()) is True
    assert cancelled.is_set()


def test_timeouts_are_retried_like_failures(recorder):
    @task(timeout_seconds=0.1, retries=1)
    async def slow_then_fast():
        if get_run_context().task_run.run_count == 1:
            await asyncio.sleep(30)
        return "fast"

    assert asyncio.run(slow_then_fast()) == "fast"
    assert [s.type for s in recorder.task_runs()[0].states].count("Retrying") == 1


def test_a_flow_over_its_timeout_ends_timed_out_and_unstarted_tasks_are_cancelled(recorder):
    release = threading.Event()

    @task
    def hold():
        release.wait(30)

    @flow(timeout_seconds=0.3, task_runner="threads")
    def too_slow():
        futures = [hold.submit() for _ in range(40)]  # more than the pool's workers
        futures[0].result()

    state = too_slow(return_state=True)
    release.set()
    assert state.is_timed_out()
    states = {run.state for run in recorder.task_runs()}
    assert "Cancelled" in states


# Hooks


def test_hooks_fire_on_their_states_with_the_task_run_and_state():
    calls = []

    def record(name):
        return lambda t, run, state: calls.append((name, t.name, run.name, state.name))

    @task(on_completion=[record("done")], on_failure=[record("failed")])
    def ok():
        return 1

    @task(on_completion=[record("done")], on_failure=[record("failed"), record("page")])
    def bad():
        raise ValueError

    @flow(on_completion=[record("flow-done")])
    def pipeline():
        ok()
        bad(return_state=True)

    pipeline()
    assert [c[0] for c in calls] == ["done", "failed", "page", "flow-done"]
    assert calls[1][1:] == ("bad", "bad-0", "Failed")


def test_on_failure_fires_for_timeouts_and_after_retries_only_once():
    failures = []

    @task(retries=2, timeout_seconds=0.05, on_failure=[lambda t, r, s: failures.append(s.name)])
    async def too_slow():
        await asyncio.sleep(10)

    asyncio.run(too_slow(return_state=True))
    assert failures == ["TimedOut"]


def test_a_failing_hook_is_logged_and_does_not_change_the_state(recorder):
    def broken_hook(t, run, state):
        raise RuntimeError("hook bug")

    assert task(on_completion=[broken_hook])(lambda: 5)() == 5
    [run] = recorder.task_runs()
    assert run.state == "Completed"
    [log] = [entry for entry in recorder.logs() if "Hook" in entry.message]
    assert "'broken_hook' failed on state Completed" in log.message
    assert "hook bug" in log.message


def test_async_hooks_are_awaited():
    calls = []

    async def async_hook(t, run, state):
        await asyncio.sleep(0)
        calls.append(state.name)

    task(on_completion=[async_hook])(lambda: 1)()

    @task(on_completion=[async_hook])
    async def in_async():
        return 1

    asyncio.run(in_async())
    assert calls == ["Completed", "Completed"]


def test_a_failing_async_hook_is_logged_and_does_not_change_the_state(recorder):
    async def broken_async_hook(t, run, state):
        raise RuntimeError("async hook bug")

    @task(on_completion=[broken_async_hook])
    async def fine():
        return 1

    assert asyncio.run(fine()) == 1
    assert recorder.task_runs()[0].state == "Completed"
    assert any("'broken_async_hook' failed" in log.message for log in recorder.logs())


def test_callable_objects_work_as_hooks():
    class Notifier:
        def __init__(self):
            self.sent = []

        def __call__(self, flow_, flow_run, state):
            self.sent.append(f"{flow_.name} {state.name}")

    notifier = Notifier()

    @flow(on_failure=[notifier])
    def broken():
        raise ValueError

    broken(return_state=True)
    assert notifier.sent == ["broken Failed"]


def test_keyboard_interrupt_crashes_the_run_fires_on_crashed_and_propagates(recorder):
    crashed = []

    @task(on_crashed=[lambda t, r, s: crashed.append(("task", s.name))])
    def interrupted():
        raise KeyboardInterrupt

    @flow(on_crashed=[lambda f, r, s: crashed.append(("flow", s.name))])
    def pipeline():
        interrupted()

    with pytest.raises(KeyboardInterrupt):
        pipeline()
    assert crashed == [("task", "Crashed"), ("flow", "Crashed")]
    assert [r.state for r in recorder.runs()] == ["Crashed", "Crashed"]


def test_cancelling_an_unstarted_future_fires_on_cancellation(recorder):
    cancelled = []
    gate = threading.Event()

    @task
    def blocker():
        gate.wait(30)

    @task(on_cancellation=[lambda t, r, s: cancelled.append(r.name)])
    def later(x):
        return x

    @flow
    def pipeline():
        first = blocker.submit()
        downstream = later.submit(first)  # waits for `first`, so it has not started
        assert downstream.cancel()
        gate.set()

    pipeline()  # the flow waits for every future before it ends
    assert cancelled == ["later-0"]
    assert [run.state for run in recorder.task_runs()] == ["Completed", "Cancelled"]


def test_async_cancellation_ends_the_task_cancelled_and_propagates():
    cancelled = []

    @task(on_cancellation=[lambda t, r, s: cancelled.append(s.name)])
    async def long_wait():
        await asyncio.Event().wait()

    async def main():
        running = asyncio.ensure_future(long_wait())
        await asyncio.sleep(0.01)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    asyncio.run(main())
    assert cancelled == ["Cancelled"]


def test_on_running_fires_each_time_the_run_starts_running():
    calls = []

    @task(retries=1, on_running=[lambda t, run, s: calls.append((t.name, run.run_count, s.name))])
    def flaky():
        if get_run_context().task_run.run_count == 1:
            raise ConnectionError("first attempt")

    @flow(on_running=[lambda f, run, s: calls.append((f.name, run.run_count, s.name))])
    def pipeline():
        flaky()

    pipeline()
    assert calls == [("pipeline", 1, "Running"), ("flaky", 1, "Running"), ("flaky", 2, "Running")]


def test_hooks_registered_by_decorator_fire_and_copies_keep_them(recorder):
    calls = []

    @task
    def fails():
        raise ValueError("boom")

    @fails.on_failure
    def page(t, run, state):
        get_run_logger().warning("paging about %s", run.name)
        calls.append(("page", state.name))

    @fails.on_failure
    async def page_async(t, run, state):
        await asyncio.sleep(0)
        calls.append(("page_async", state.name))

    @flow
    def pipeline():
        fails(return_state=True)
        fails.with_options(name="copy")(return_state=True)

    @pipeline.on_completion
    def done(f, run, state):
        calls.append(("done", state.name))

    assert page.__name__ == "page", "the decorator returns the hook unchanged"
    pipeline()
    assert calls == [("page", "Failed"), ("page_async", "Failed")] * 2 + [("done", "Completed")]
    task_run_ids = {run.id: run.name for run in recorder.task_runs()}
    warnings = [log for log in recorder.logs() if log.message.startswith("paging")]
    assert [task_run_ids[log.task_run_id] for log in warnings] == ["fails-0", "copy-0"]
    assert [log.message for log in warnings] == ["paging about fails-0", "paging about copy-0"]


def _touch_on_completion(t, run, state):
    with open(os.environ["HOOK_MARKER"], "a") as marker:
        marker.write(f"{run.name} {state.name}\n")


def test_decorator_registered_hooks_travel_to_worker_processes(tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    monkeypatch.setenv("HOOK_MARKER", str(marker))

    @task
    def double(x):
        return 2 * x

    double.on_completion(_touch_on_completion)

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def pipeline():
        return double.submit(21).result()

    assert pipeline() == 42
    assert marker.read_text() == "double-0 Completed\n"
