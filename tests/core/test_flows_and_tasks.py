"""Decorators, calling conventions, parameters, run names, subflows and dynamic workflows."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from plait import (
    Failed,
    Flow,
    InvalidOptionError,
    ParameterError,
    ProcessPoolTaskRunner,
    State,
    Task,
    flow,
    get_run_context,
    task,
)


@task
def double(x: int) -> int:
    return 2 * x


@task
def identity_task(x):
    return x


@task(name="triple-it", description="Multiplies by three.", tags=["math"])
def triple(x):
    return 3 * x


def test_decorators_work_with_and_without_arguments(recorder):
    assert isinstance(double, Task)
    assert isinstance(triple, Task)
    assert (double.name, triple.name) == ("double", "triple-it")
    assert triple.description == "Multiplies by three."
    assert triple.tags == ("math",)

    @flow
    def bare(x):
        return double(x) + triple(x)

    @flow(name="configured", description="d")
    def configured(x):
        return bare(x)

    assert isinstance(bare, Flow)
    assert configured.name == "configured"
    assert configured(2) == 10
    assert bare.__name__ == "bare"
    assert bare.__wrapped__ is not None


def test_a_task_called_in_a_flow_is_a_tracked_task_run(recorder):
    @flow
    def pipeline():
        return double(21)

    assert pipeline() == 42
    [flow_run] = recorder.flow_runs()
    [task_run] = recorder.task_runs(flow_run.id)
    assert (flow_run.state, task_run.state, task_run.name) == ("Completed", "Completed", "double-0")
    assert [s.type for s in task_run.states] == ["Pending", "Running", "Completed"]


def test_a_task_called_outside_a_flow_is_a_standalone_tracked_run(recorder):
    assert double(4) == 8
    [run] = recorder.task_runs()
    assert run.flow_run_id is None
    assert run.state == "Completed"


def test_return_state_gives_the_final_state_instead_of_the_value():
    @task
    def fails():
        raise ValueError("nope")

    @flow
    def pipeline():
        state = fails(return_state=True)
        assert isinstance(state, State)
        assert state.is_failed()
        return double(1, return_state=True)

    state = pipeline(return_state=True)
    assert state.is_completed()
    assert state.result() == 2


def test_a_failing_task_raises_its_original_exception_in_the_flow_and_fails_the_flow(recorder):
    @task
    def fails():
        raise ValueError("bad row 17")

    @flow
    def pipeline():
        fails()

    with pytest.raises(ValueError, match="bad row 17"):
        pipeline()
    [flow_run] = recorder.flow_runs()
    assert flow_run.state == "Failed"
    assert "bad row 17" in flow_run.state_message
    assert "ValueError: bad row 17" in flow_run.states[-1].detail


def test_a_direct_call_with_a_failed_upstream_does_not_run(recorder):
    @task
    def fails():
        raise ValueError("upstream broke")

    @task
    async def async_consumer(x):
        return x

    @flow
    def pipeline():
        broken = fails.submit()
        return identity_task(broken, return_state=True)

    @flow
    async def async_pipeline():
        return await async_consumer(fails.submit(), return_state=True)

    for state in (pipeline(return_state=True), asyncio.run(async_pipeline(return_state=True))):
        assert state.is_failed()
        assert state.message == "Upstream task run 'fails-0' did not complete (it ended Failed)."
    consumers = [run for run in recorder.task_runs() if run.task_name != "fails"]
    assert [run.run_count for run in consumers] == [0, 0]


def test_a_flow_that_returns_a_failed_state_fails():
    @flow
    def pipeline():
        return Failed(RuntimeError("upstream system down"), "upstream system down")

    state = pipeline(return_state=True)
    assert state.is_failed()
    assert state.message == "upstream system down"


def test_with_options_returns_a_changed_copy():
    stricter = double.with_options(retries=5, name="double-strict")
    assert (stricter.retries, stricter.name, double.retries) == (5, "double-strict", 0)
    assert stricter.fn is double.fn
    assert stricter(2) == 4


# Parameters


@flow
def typed(day: date, n: int = 1, label: str = "x") -> tuple:
    return day, n, label


def test_flow_parameters_are_coerced_from_type_hints(recorder):
    assert typed("2024-01-31", n="3") == (date(2024, 1, 31), 3, "x")
    [run] = recorder.flow_runs()
    assert run.parameters == {"day": "2024-01-31", "n": 3, "label": "x"}


def test_invalid_parameters_fail_the_run_before_the_body_runs(recorder):
    calls = []

    @flow
    def guarded(n: int):
        calls.append(n)

    with pytest.raises(ParameterError) as raised:
        guarded("many")
    assert "guarded" in str(raised.value)
    assert "n: Input should be a valid integer" in str(raised.value)
    assert "(got 'many')" in str(raised.value)
    state = guarded(n=[1], return_state=True)
    assert state.is_failed()
    assert "n:" in state.message
    assert calls == []
    assert [r.state for r in recorder.flow_runs()] == ["Failed", "Failed"]


def test_missing_or_unexpected_arguments_are_a_clear_parameter_error():
    with pytest.raises(ParameterError, match=r"missing a required argument: 'day'.*typed\(day: "):
        typed()
    with pytest.raises(ParameterError, match="unexpected keyword argument 'colour'"):
        double(1, colour="red")


def test_validation_can_be_turned_off():
    @flow(validate_parameters=False)
    def raw(n: int):
        return n

    assert raw("3") == "3"


def test_flows_without_type_hints_are_not_validated():
    @flow
    def untyped(n):
        return n

    assert untyped("3") == "3"


def test_run_names_from_templates_and_callables(recorder):
    @task(task_run_name="double-{x}")
    def named(x):
        return x

    @flow(flow_run_name="load-{day}")
    def by_template(day: str):
        named(7)

    @flow(flow_run_name=lambda params: f"custom-{params['day']}")
    def by_callable(day: str):
        pass

    @flow(flow_run_name=lambda: "no-args")
    def by_plain_callable():
        pass

    by_template("mon")
    by_callable("tue")
    by_plain_callable()
    names = [r.name for r in recorder.runs()]
    assert names == ["load-mon", "double-7", "custom-tue", "no-args"]


def test_a_run_name_callable_must_produce_a_string():
    @flow(flow_run_name=lambda: None)
    def unnamed():
        pass

    state = unnamed(return_state=True)
    assert state.is_failed()
    assert "flow_run_name must produce a non-empty string" in state.message


def test_unresolvable_type_hints_fail_the_run_with_the_fix(recorder):
    @flow
    def broken(x: NoSuchType):  # noqa: F821 - the point of the test
        return x

    with pytest.raises(InvalidOptionError, match=r"cannot be resolved.*validate_parameters=False"):
        broken(1)
    assert recorder.flow_runs()[0].state == "Failed"
    assert broken.with_options(validate_parameters=False)(1) == 1


def test_default_flow_run_names_are_generated():
    @flow
    def anonymous():
        return 1

    state = anonymous(return_state=True)
    assert state.is_completed()


# Subflows and dynamic workflows


def test_a_flow_called_from_a_flow_is_a_linked_child_run(recorder):
    @flow
    def child(x):
        return double(x)

    @flow
    def parent():
        return child(1) + child(2)

    assert parent() == 6
    parent_run, *children = recorder.flow_runs()
    assert [c.parent_flow_run_id for c in children] == [parent_run.id, parent_run.id]
    for child_run in children:
        [task_run] = recorder.task_runs(child_run.id)
        assert task_run.task_name == "double"


def test_dynamic_workflows_are_plain_python(recorder):
    @task
    def count_rows(source: str) -> int:
        return {"big": 5, "small": 1, "empty": 0}[source]

    @task
    def process(i: int) -> int:
        return i * i

    @flow
    def countdown(n: int) -> int:
        """Recursion into subflows: n, n-1, ... 0, each its own linked flow run."""
        return 0 if n == 0 else n + countdown(n - 1)

    @flow
    def pipeline(sources: list[str]) -> dict:
        out = {}
        for source in sources:  # loops
            rows = count_rows(source)
            if rows == 0:  # conditionals on task results
                out[source] = "skipped"
                continue
            futures = process.map(range(rows))  # data-dependent map width
            out[source] = sum(f.result() for f in futures)
        out["countdown"] = countdown(3)
        return out

    assert pipeline(["big", "small", "empty"]) == {
        "big": 30,
        "small": 0,
        "empty": "skipped",
        "countdown": 6,
    }
    flows = recorder.flow_runs()
    assert [f.flow_name for f in flows] == [
        "pipeline",
        "countdown",
        "countdown",
        "countdown",
        "countdown",
    ]
    assert [f.parent_flow_run_id for f in flows[1:]] == [f.id for f in flows[:-1]]
    assert len([t for t in recorder.task_runs() if t.task_name == "process"]) == 6


# Async


@task
async def async_double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


def test_async_flows_and_tasks_return_awaitables():
    @flow
    async def pipeline(n: int):
        return await asyncio.gather(*[async_double(i) for i in range(n)])

    coroutine = pipeline(3)
    assert asyncio.iscoroutine(coroutine)
    assert asyncio.run(coroutine) == [0, 2, 4]


def test_async_tasks_in_gather_run_concurrently():
    """Each task waits for the other's signal: only concurrent runs can both finish."""
    events: dict[str, asyncio.Event] = {}

    @task
    async def handshake(me: str, other: str) -> str:
        events[me].set()
        await asyncio.wait_for(events[other].wait(), timeout=10)
        return me

    @flow
    async def pipeline():
        events.update(a=asyncio.Event(), b=asyncio.Event())
        return await asyncio.gather(handshake("a", "b"), handshake("b", "a"))

    assert asyncio.run(pipeline()) == ["a", "b"]


def test_async_task_called_in_a_sync_flow_runs_to_completion():
    @flow
    def pipeline():
        return async_double(5)

    assert pipeline() == 10


def test_an_async_flow_that_raises_still_waits_for_its_futures(recorder):
    @flow
    async def pipeline():
        identity_task.submit(1)
        raise RuntimeError("flow body broke")

    with pytest.raises(RuntimeError, match="flow body broke"):
        asyncio.run(pipeline())
    assert recorder.task_runs()[0].state == "Completed"


def test_map_passes_varargs_whole():
    @task
    def joined(prefix, *parts):
        return prefix + "".join(parts)

    @flow
    def pipeline():
        return joined.map(["a", "b"], "x", "y").result()

    assert pipeline() == ["axy", "bxy"]


def test_sync_tasks_in_async_flows_run_in_worker_threads():
    import threading

    @task
    def where() -> int:
        return threading.get_ident()

    @flow
    async def pipeline():
        return threading.get_ident(), where()

    loop_thread, task_thread = asyncio.run(pipeline())
    assert loop_thread != task_thread


def test_async_subflow_in_async_flow_and_sync_subflow_in_async_flow(recorder):
    @flow
    async def async_child(x):
        return await async_double(x)

    @flow
    def sync_child(x):
        return double(x)

    @flow
    async def parent():
        return await async_child(1) + sync_child(2)

    assert asyncio.run(parent()) == 6
    parent_run, *children = recorder.flow_runs()
    assert {c.parent_flow_run_id for c in children} == {parent_run.id}


def test_generator_bodies_are_consumed_inside_their_runs(recorder):
    attempts = []

    @task(retries=1)
    def rows(n):
        attempts.append(get_run_context().task_run.run_count)
        for i in range(n):
            if i == 1 and len(attempts) == 1:
                raise ConnectionError("lost the connection mid-stream")
            yield i

    @task
    async def pages():
        yield "first"
        yield "second"

    @flow
    def pipeline():
        yield rows(3)
        yield pages()

    assert pipeline() == [[0, 1, 2], ["first", "second"]]
    assert attempts == [1, 2], "a failure while yielding is the run's, and retried"
    assert [run.state for run in recorder.task_runs()] == ["Completed", "Completed"]


class Shop:
    """Flows and tasks as instance, class and static methods."""

    vat = 2

    def __init__(self, discount: int) -> None:
        self.discount = discount

    @task
    def price(self, amount: int) -> int:
        return amount - self.discount

    @classmethod
    @task
    def with_vat(cls, amount: int) -> int:
        return amount * cls.vat

    @staticmethod
    @task
    def rounded(amount: int) -> int:
        return amount // 10 * 10

    @task
    async def price_async(self, amount: int) -> int:
        return amount - self.discount

    @flow
    def checkout(self, amount: int) -> list[int]:
        return [
            self.price(amount),
            self.with_vat(amount),
            self.rounded(amount),
            self.price_async(amount),
            self.price.submit(amount).result(),
            *self.price.map([amount, 2 * amount]).result(),
        ]

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def checkout_in_a_worker(self, amount: int) -> int:
        return self.price.submit(amount).result()


def test_flows_and_tasks_work_as_instance_class_and_static_methods(recorder):
    shop = Shop(discount=5)
    assert shop.checkout(47) == [42, 94, 40, 42, 42, 42, 89]
    assert Shop.with_vat(3) == 6
    assert Shop.rounded(47) == 40
    assert Shop.price(shop, 7) == 2, "through the class, the instance is the first argument"
    assert shop.checkout_in_a_worker(10) == 5
    checkout = next(run for run in recorder.flow_runs() if run.flow_name == "checkout")
    assert checkout.parameters["amount"] == 47
    assert isinstance(Shop.__dict__["price"], Task), "the class keeps the task itself"


def test_a_returned_generator_is_consumed_inside_the_run():
    @task(timeout_seconds=30)
    def numbers():
        return (n * n for n in range(3))

    assert numbers() == [0, 1, 4]
