"""Serving deployments over the run store (SQLite and PostgreSQL): due runs are claimed by one
serving process only and run in a subprocess of their own; a deployment's concurrency limit
holds runs back or cancels them; runs not started in time become Late, and catch-up after an
outage runs all, the latest or none of the missed runs. The clock is injected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fixtures.deployed_flows import flaky, greet, hold, whoami

from plait.engine.retry import retry_flow_run
from plait.exceptions import InvalidOptionError
from plait.journal.process import ProcessIdentity
from plait.scheduler import requested_run
from plait.scheduler.service import SchedulerService
from plait.settings import load_settings
from plait.states import StateType
from plait.workers import execute
from plait.workers.serving import ServingProcess

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # on the hour: an hourly schedule fires at it
GRACE = timedelta(seconds=60)
TESTS = Path(__file__).parents[1]
OTHER = ProcessIdentity("another-host", 4242, None)  # a serving process elsewhere


@pytest.fixture(autouse=True)
def _flows_importable(monkeypatch):
    """Flow run subprocesses import the deployed flows from tests/fixtures."""
    monkeypatch.setenv("PYTHONPATH", str(TESTS))


def _ask(client, name: str, when: datetime, **parameters) -> str:
    run = requested_run(client.read_deployment(name), parameters, when)
    client.create_scheduled_runs([run], when)
    return run.id


def _wait(serving: ServingProcess) -> None:
    for _, process in list(serving.children.values()):
        process.wait(timeout=60)
    serving.reap()


def test_a_due_run_is_claimed_once_and_runs_in_its_own_process(store):
    client = store.client
    deployment = greet.to_deployment(
        "hourly", interval=timedelta(hours=1), parameters={"day": "2026-12-01"}
    )
    serving = ServingProcess([deployment], client=client)
    other = ServingProcess([deployment], client=client)
    other.identity = OTHER  # as another serving process is

    started = serving.tick(T0)
    assert [run.deployment_name for run in started] == ["hourly"]
    assert other.tick(T0) == [], "claimed by the first serving process only"
    assert serving.tick(T0) == [], "nor twice by the same one"
    _wait(serving)

    run = client.read_flow_run(started[0].id)
    assert (run.state, run.run_count, run.scheduled_time) == (StateType.COMPLETED, 1, T0)
    assert client.read_result(run) == "hello world on 2026-12-01"
    assert [state.type for state in run.states] == [
        StateType.SCHEDULED, StateType.PENDING, StateType.PENDING, StateType.RUNNING,
        StateType.COMPLETED,
    ]  # fmt: skip
    assert run.states[1].message.startswith("Claimed by the serving process")
    assert serving.children == {}


def test_a_run_whose_flow_cannot_be_imported_ends_failed_saying_why(store):
    client = store.client
    serving = ServingProcess([greet.to_deployment("greet")], client=client)
    client.save_deployment(greet.to_deployment("greet"))
    record = client.read_deployment("greet")
    run = requested_run(record, {"day": "2026-12-01"}, T0)
    from dataclasses import replace

    client.create_scheduled_runs([replace(run, entrypoint="fixtures.gone:greet")], T0)

    serving.tick(T0)
    _wait(serving)

    failed = client.read_flow_run(run.id)
    assert failed.state is StateType.FAILED
    assert "importing it from fixtures.gone:greet failed with ModuleNotFoundError" in (
        failed.state_message
    )


@pytest.mark.parametrize(
    ("collision", "second"), [("enqueue", StateType.SCHEDULED), ("cancel_new", StateType.CANCELLED)]
)
def test_a_deployment_at_its_concurrency_limit_holds_back_or_cancels_new_runs(
    store, collision, second
):
    client = store.client
    record = client.save_deployment(
        hold.to_deployment("held", concurrency_limit=1, collision=collision)
    )
    first, later = (_ask(client, "held", T0 + timedelta(seconds=i), gate="x") for i in (0, 1))
    me = ProcessIdentity.current()

    claimed = client.claim_deployment_runs([record.id], T0 + timedelta(seconds=5), GRACE, 10, me)

    assert [run.id for run in claimed] == [first]
    assert client.read_flow_run(later).state is second
    if collision == "cancel_new":
        assert "concurrency_limit, and its collision is 'cancel_new'" in (
            client.read_flow_run(later).state_message
        )
    else:  # it waits: once the first run has finished it is claimed
        assert client.claim_deployment_runs([record.id], T0 + timedelta(seconds=6), GRACE, 10,
                                            OTHER) == []  # fmt: skip
        client.set_flow_run_state(first, StateType.CANCELLED, "done with it")
        again = client.claim_deployment_runs([record.id], T0 + timedelta(seconds=9), GRACE, 10, me)
        assert [run.id for run in again] == [later]


@pytest.mark.parametrize(
    ("catchup", "late", "skipped"), [("all", 72, 0), ("latest", 1, 71), ("none", 0, 72)]
)
def test_catchup_after_a_three_day_outage(store, catchup, late, skipped):
    client = store.client
    record = client.save_deployment(
        greet.to_deployment("hourly", interval=timedelta(hours=1), catchup=catchup,
                            parameters={"day": "2026-12-01"})
    )  # fmt: skip
    scheduler = SchedulerService(client, load_settings())
    assert scheduler.tick(T0)[0] == 100, "100 hourly runs made ahead"

    back = T0 + timedelta(days=3)  # nothing ran for three days: 72 runs were missed
    created, marking = scheduler.tick(back)

    assert (marking.late, marking.skipped) == (late, skipped)
    assert created == 72, "the scheduler keeps 100 ahead again"
    runs = client.read_flow_runs(limit=1000)
    cancelled = [run for run in runs if run.state is StateType.CANCELLED]
    assert len(cancelled) == skipped
    assert all("catchup=" in run.state_message for run in cancelled)
    due = client.claim_deployment_runs([record.id], back, GRACE, 1000, ProcessIdentity.current())
    assert len(due) == late + 1, "the missed runs catch-up keeps, and the one due now"
    assert scheduler.tick(back)[1].late == 0, "nothing is marked twice"


def test_a_run_asked_for_by_hand_becomes_late_but_is_never_skipped(store):
    client = store.client
    client.save_deployment(greet.to_deployment("greet", catchup="none"))
    run_id = _ask(client, "greet", T0, day="2026-12-01")

    _, marking = SchedulerService(client, load_settings()).tick(T0 + timedelta(hours=1))

    assert (marking.late, marking.skipped) == (1, 0)
    late = client.read_flow_run(run_id)
    assert late.state is StateType.LATE
    assert late.state_message == (
        "Not started within 60 s of its scheduled time (late_after_seconds)."
    )


def test_pausing_deletes_late_and_scheduled_runs_of_the_schedules(store):
    client = store.client
    record = client.save_deployment(
        greet.to_deployment("hourly", interval=timedelta(hours=1), catchup="all",
                            parameters={"day": "2026-12-01"})
    )  # fmt: skip
    scheduler = SchedulerService(client, load_settings())
    scheduler.tick(T0)
    scheduler.tick(T0 + timedelta(hours=3))

    assert client.pause_deployment("hourly") == 3 + 100, "3 Late, 100 ahead"
    due = client.claim_deployment_runs(
        [record.id], T0 + timedelta(hours=3), GRACE, 10, ProcessIdentity.current()
    )
    assert due == []


def test_runs_claimed_before_are_delivered_again_only_to_their_claimer(store):
    client = store.client
    record = client.save_deployment(greet.to_deployment("greet"))
    run_id = _ask(client, "greet", T0, day="2026-12-01")
    me = ProcessIdentity.current()
    first = client.claim_deployment_runs([record.id], T0, GRACE, 10, me)  # its answer "lost"

    assert client.claim_deployment_runs([record.id], T0, GRACE, 10, OTHER) == []
    assert client.claim_deployment_runs([record.id], T0, GRACE, 10, me) == first
    assert [run.id for run in first] == [run_id]
    assert client.read_flow_run(run_id).state is StateType.PENDING


def test_a_run_handed_again_after_its_process_ended_is_not_started_twice(store, monkeypatch):
    client = store.client
    serving = ServingProcess([greet.to_deployment("greet")], client=client)
    _ask(client, "greet", T0, day="2026-12-01")
    [started] = serving.tick(T0)
    _wait(serving)
    # The store hands a claimed run again while it has it Pending, as when the run's own
    # records are still in its process's spool (the server was down): hand it again.
    monkeypatch.setattr(client, "claim_deployment_runs", lambda *args: [started])

    assert serving.tick(T0) == []
    assert serving.children == {}
    assert client.read_flow_run(started.id).run_count == 1


def test_a_claimed_run_cancelled_before_its_process_starts_it_is_not_run(store):
    client = store.client
    record = client.save_deployment(greet.to_deployment("greet"))
    run_id = _ask(client, "greet", T0, day="2026-12-01")
    client.claim_deployment_runs([record.id], T0, GRACE, 10, ProcessIdentity.current())
    client.set_flow_run_state(run_id, StateType.CANCELLED, "not wanted after all")

    assert execute.main([run_id]) == 2

    run = client.read_flow_run(run_id)
    assert (run.state, run.state_message) == (StateType.CANCELLED, "not wanted after all")
    assert StateType.RUNNING not in [state.type for state in run.states]


def test_a_failed_deployment_run_is_retried_with_its_parameters(store, tmp_path):
    client = store.client
    serving = ServingProcess([flaky.to_deployment("flaky")], client=client)
    run_id = _ask(client, "flaky", T0, marker=str(tmp_path / "marker"))
    serving.tick(T0)
    _wait(serving)
    assert client.read_flow_run(run_id).state is StateType.FAILED

    assert retry_flow_run(run_id).is_completed()

    run = client.read_flow_run(run_id)
    assert (run.state, run.run_count) == (StateType.COMPLETED, 2)
    assert run.parameters == {"marker": str(tmp_path / "marker")}


def test_a_deployment_run_knows_its_deployment_and_scheduled_time(store):
    client = store.client
    deployment = whoami.to_deployment("who", version="v7", parameters={"note": "from deployment"})
    serving = ServingProcess([deployment], client=client)
    run_id = _ask(client, "who", T0)
    serving.tick(T0)
    _wait(serving)

    run = client.read_flow_run(run_id)
    saved = client.read_deployment("who")
    assert client.read_result(run) == {
        "flow_run": [run_id, run.name],
        "scheduled_start_time": T0.isoformat(),
        "deployment": [saved.id, "who", "v7"],
        "deployment_parameters": {"note": "from deployment"},
        "flow_run_deployment_id": saved.id,
        "in_a_task": {"task_run": "in_a_task-0", "deployment": "who"},
    }


@pytest.mark.parametrize(
    ("deployments", "limit", "message"),
    [((), None, "needs at least one deployment"), (None, 0, "limit must be a whole number")],
)
def test_bad_serve_arguments_are_refused_by_name(store, deployments, limit, message):
    given = [greet.to_deployment("greet")] if deployments is None else deployments
    with pytest.raises(InvalidOptionError, match=message):
        ServingProcess(given, limit=limit, client=store.client)
