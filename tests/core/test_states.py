"""States: types, helpers, and result() returning the value or raising the original error."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from plait import (
    Cached,
    Cancelled,
    CancelledRunError,
    Cancelling,
    Completed,
    Crashed,
    CrashedRunError,
    Failed,
    InvalidOptionError,
    Late,
    Pending,
    PlaitError,
    Retrying,
    Running,
    Scheduled,
    Skipped,
    State,
    StateType,
    TimedOut,
    flow,
    task,
)
from plait.cli import app

COMPLETED = StateType.COMPLETED


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


def test_a_state_given_its_own_name_keeps_its_type_and_is_checked():
    state = Completed(7, message="nothing new", name="NoNewRows")

    assert (state.name, state.custom_name, state.type) == ("NoNewRows", "NoNewRows", COMPLETED)
    assert state.result() == 7
    assert repr(state) == "NoNewRows('nothing new', type=Completed)"
    assert (Completed().name, Completed().custom_name) == ("Completed", None)
    for bad in ("", "  ", 3, "x" * 256):
        with pytest.raises(InvalidOptionError, match=r"state's name must be a non-empty string"):
            Failed(name=bad)


@task(persist_result=True)  # the persisted result's state keeps its name and message
def load(rows: int) -> State:
    if rows:
        return Completed(rows, message=f"{rows} rows")
    return Completed(0, message="No new rows today.", name="NoNewRows")


def test_custom_state_names_are_recorded_and_shown_by_the_cli(reporting):
    @flow
    def nightly(rows: int) -> State:
        load(rows)
        return Failed(message="Upstream feed is late.", name="FeedLate")

    for rows in (0, 5):
        assert nightly(rows, return_state=True).name == "FeedLate"

    quiet, busy = reporting.client.read_flow_runs()[:2][::-1]
    assert (quiet.state, quiet.state_name) == (StateType.FAILED, "FeedLate")
    assert [s.name for s in reporting.client.read_flow_run(quiet.id).states] == [
        None,
        None,
        "FeedLate",
    ]
    [skipped] = reporting.client.read_task_runs(quiet.id)
    assert (skipped.state, skipped.state_name) == (StateType.COMPLETED, "NoNewRows")
    assert skipped.state_message == "No new rows today."
    assert skipped.result is not None
    [loaded] = reporting.client.read_task_runs(busy.id)
    assert (loaded.state, loaded.state_name) == (StateType.COMPLETED, None)

    shown = CliRunner().invoke(app, ["flow-run", "inspect", quiet.id], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "FeedLate (Failed)" in shown.output
    assert "NoNewRows (Completed)" in shown.output
    listed = CliRunner().invoke(
        app, ["task-run", "ls", "--flow-run", quiet.id], env={"COLUMNS": "200"}
    )
    assert "NoNewRows (Completed)" in listed.output
