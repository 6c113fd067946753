"""States: types, helpers, and result() returning the value or raising the original error."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from plait import (
    Cached,
    Cancelled,
    CancelledRunError,
    Cancelling,
    Completed,
    Crashed,
    CrashedRunError,
    Failed,
    Late,
    Pending,
    PlaitError,
    Retrying,
    Running,
    Scheduled,
    Skipped,
    StateType,
    TimedOut,
    flow,
    task,
)


def test_every_state_type_has_a_constructor_with_timestamp_and_message():
    before = datetime.now(UTC)
    states = [
        Scheduled("s"), Late("l"), Pending("p"), Running("r"), Retrying("re"), Cancelling("cg"),
        Completed(1, "c"),
        Cached(1, "ca"), Failed(ValueError(), "f"), TimedOut(None, "t"), Crashed(None, "cr"),
        Cancelled(None, "x"), Skipped("sk"),
    ]  # fmt: skip
    assert [s.type for s in states] == list(StateType)
    assert all(s.timestamp >= before and s.message for s in states)
    assert [s.name for s in states] == [t.value for t in StateType]


def test_helpers_group_states_as_users_expect():
    assert Completed().is_completed()
    assert Cached().is_completed()
    assert Cached().is_cached()
    assert Failed().is_failed()
    assert TimedOut().is_failed()
    assert TimedOut().is_timed_out()
    assert not Crashed().is_failed()
    assert Crashed().is_crashed()
    assert Cancelled().is_cancelled()
    assert not Cancelled().is_failed()
    assert all(s.is_final() for s in (Completed(), Failed(), Crashed(), Cancelled(), TimedOut()))
    assert not any(s.is_final() for s in (Scheduled(), Pending(), Running(), Retrying()))
    assert Scheduled().is_scheduled()
    assert Pending().is_pending()
    assert Running().is_running()
    assert Retrying().is_retrying()


def test_result_returns_value_or_raises_the_original_exception():
    assert Completed({"rows": 3}).result() == {"rows": 3}
    error = KeyError("missing")
    with pytest.raises(KeyError) as raised:
        Failed(error, "KeyError").result()
    assert raised.value is error
    assert Failed(error).result(raise_on_failure=False) is error


def test_result_of_unsuccessful_state_without_exception_raises_a_meaningful_error():
    with pytest.raises(CrashedRunError, match="worker died"):
        Crashed(message="worker died").result()
    with pytest.raises(CancelledRunError):
        Cancelled().result()


def test_result_of_a_state_that_is_not_final_explains_itself():
    with pytest.raises(PlaitError, match="no result yet"):
        Running().result()


def test_repr_shows_name_and_message_but_never_the_data():
    assert repr(Completed("secret-value")) == "Completed()"
    assert repr(Failed(ValueError("x"), "ValueError: x")) == "Failed('ValueError: x')"


def test_states_tasks_and_flows_take_type_parameters_for_hints():
    from plait import Flow, State, Task, task

    @task
    def count() -> int:
        return 3

    def checked(state: State[int]) -> int:
        return state.result()

    assert checked(count(return_state=True)) == 3
    assert (State[int].__origin__, Task[..., int].__origin__) == (State, Task)
    assert Flow[[str], int].__args__[-1] is int


def test_state_result_is_awaited_in_async_code_and_called_in_sync_code(recorder):
    @task
    def double(x: int) -> int:
        return 2 * x

    @task
    def boom() -> None:
        raise ValueError("bad row")

    def read(state):  # a sync helper, called from async code, gets the value
        return state.result()

    @flow
    async def pipeline() -> tuple:
        state = double(2, return_state=True)
        failed = boom(return_state=True)
        error = await failed.result(raise_on_failure=False)
        return (
            await state.result(), read(state), state.result(_sync=True),
            await state.aresult(), type(error),
        )  # fmt: skip

    assert asyncio.run(pipeline()) == (4, 4, 4, 4, ValueError)

    @flow
    def sync_pipeline() -> int:
        return double(3, return_state=True).result()

    assert sync_pipeline() == 6
    with pytest.raises(ValueError, match="bad row"):
        asyncio.run(Failed(ValueError("bad row")).aresult())
