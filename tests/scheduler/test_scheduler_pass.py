"""The scheduler's pass over the run store (SQLite and PostgreSQL): deployments saved and
replaced by name, Scheduled runs created ahead (at most ``max_runs`` or ``horizon`` ahead),
each once however many passes run, and at once; the clock is injected, never read."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from plait import flow
from plait.cli import app
from plait.client import get_client
from plait.exceptions import DeploymentNotFoundError
from plait.scheduler import requested_run, schedule_deployments
from plait.scheduler.service import SchedulerService
from plait.schedules import Cron, Interval
from plait.settings import load_settings
from plait.states import StateType
from plait.store.database import open_database
from plait.store.schema import FlowRunRow, RunStateRow

NOW = datetime(2026, 12, 3, 9, 5, tzinfo=UTC)
WEEK = timedelta(days=7)


@flow
def nightly(day: str = "today", region: str = "eu") -> str:
    return f"{day} {region}"


def _runs(client) -> list:
    return client.read_flow_runs(state="Scheduled", limit=10_000)


def test_a_deployment_is_saved_read_and_replaced_by_name(store):
    client = store.client
    first = client.save_deployment(nightly.to_deployment("nightly", cron="0 2 * * *"))
    again = client.save_deployment(
        nightly.to_deployment("nightly", cron="30 3 * * *", description="later")
    )

    assert (again.id, again.created) == (first.id, first.created), "replaced, not added"
    saved = client.read_deployment("nightly")
    assert saved.schedules == (Cron("30 3 * * *").to_json(),)
    assert (saved.description, saved.flow_name, saved.paused) == ("later", "nightly", False)
    assert [d.name for d in client.read_deployments()] == ["nightly"]
    with pytest.raises(DeploymentNotFoundError, match="No deployment is named 'nightyl'"):
        client.read_deployment("nightyl")


def test_a_pass_creates_the_runs_due_within_the_horizon_and_the_run_cap(store):
    client = store.client
    client.save_deployment(
        nightly.to_deployment("daily", cron="0 2 * * *", parameters={"region": "us"})
    )
    client.save_deployment(nightly.to_deployment("hourly", interval=timedelta(hours=1)))

    created = schedule_deployments(client, NOW, max_runs=100, horizon=WEEK)

    assert created == 7 + 100, "7 days of a daily schedule; 100 of 168 hourly runs"
    daily_id = client.read_deployment("daily").id
    daily = sorted((r for r in _runs(client) if r.deployment_id == daily_id),
                   key=lambda r: r.scheduled_time)  # fmt: skip
    assert [r.scheduled_time for r in daily] == [
        datetime(2026, 12, 4 + d, 2, tzinfo=UTC) for d in range(7)
    ]
    run = client.read_flow_run(daily[0].id)
    assert run.parameters == {"region": "us"}
    assert (run.flow_name, run.state, run.run_count) == ("nightly", StateType.SCHEDULED, 0)
    assert [(s.type, s.message) for s in run.states] == [
        (StateType.SCHEDULED, "Scheduled for 2026-12-04T02:00:00+00:00")
    ]


def test_parameters_holding_tabs_newlines_and_backslashes_are_kept_as_given(store):
    client = store.client
    odd = {"day": "a\tb\nc\\d\re \\N", "region": "\\"}
    client.save_deployment(
        nightly.to_deployment("odd", interval=timedelta(hours=1), parameters=odd)
    )

    assert schedule_deployments(client, NOW, 3, WEEK) == 3

    assert [run.parameters for run in _runs(client)] == [odd] * 3


def test_passes_create_each_run_once(store):
    client = store.client
    client.save_deployment(nightly.to_deployment("daily", cron="0 2 * * *"))

    assert schedule_deployments(client, NOW, 100, WEEK) == 7
    assert schedule_deployments(client, NOW, 100, WEEK) == 0
    assert schedule_deployments(client, NOW + timedelta(days=1), 100, WEEK) == 1
    client.save_deployment(nightly.to_deployment("daily", cron="0 2 * * *", tags=["etl"]))
    assert schedule_deployments(client, NOW, 100, WEEK) == 0, "saved again, same schedule"
    assert len(_runs(client)) == 8


def test_a_run_asked_for_by_hand_takes_no_scheduled_runs_place(store):
    client = store.client
    record = client.save_deployment(nightly.to_deployment("daily", cron="0 2 * * *"))
    client.create_scheduled_runs([requested_run(record, {}, NOW + timedelta(days=3))], NOW)

    assert schedule_deployments(client, NOW, 100, WEEK) == 7, "the days before it too"
    assert schedule_deployments(client, NOW, 100, WEEK) == 0
    assert len(_runs(client)) == 8


def test_an_inactive_schedule_makes_no_runs(store):
    client = store.client
    client.save_deployment(
        nightly.to_deployment("two", schedules=[Cron("0 2 * * *"), Cron("0 3 * * *", active=False)])
    )
    assert schedule_deployments(client, NOW, 100, WEEK) == 7
    assert {r.scheduled_time.hour for r in _runs(client)} == {2}


def test_deleting_a_deployment_deletes_its_runs_that_have_not_started(store):
    client = store.client
    client.save_deployment(nightly.to_deployment("daily", cron="0 2 * * *"))
    client.save_deployment(nightly.to_deployment("kept", cron="0 5 * * *"))
    schedule_deployments(client, NOW, 100, WEEK)

    assert client.delete_deployment("daily") == 7

    assert {r.scheduled_time.hour for r in _runs(client)} == {5}
    with pytest.raises(DeploymentNotFoundError):
        client.read_deployment("daily")


def test_two_schedulers_at_once_never_create_or_mark_a_run_twice(store):
    client = store.client
    client.save_deployment(nightly.to_deployment("quarter-hourly", interval=timedelta(minutes=15)))
    client.save_deployment(nightly.to_deployment("daily", cron="0 2 * * *"))
    ticks = [NOW + timedelta(minutes=tick) for tick in range(1000)]
    settings = dataclasses.replace(
        load_settings(), scheduler_max_runs=10, scheduler_horizon_days=2 / 24
    )
    created: list[int] = []
    late: list[int] = []

    def scheduler() -> None:
        own = SchedulerService(get_client(), settings)  # own connections, as in two processes
        passes = [own.tick(now) for now in ticks]
        created.append(sum(made for made, _ in passes))
        late.append(sum(marking.late for _, marking in passes))

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    end = ticks[-1] + timedelta(hours=2)
    expected = len(Interval(timedelta(minutes=15)).occurrences(NOW, end))
    expected += len(Cron("0 2 * * *").occurrences(NOW, end))
    assert sum(created) == expected, "every run was created by exactly one of them"
    with open_database().reading() as connection:
        states = dict(
            connection.execute(
                sa.select(RunStateRow.__table__.c.type, sa.func.count())
                .group_by(RunStateRow.__table__.c.type)
            ).all()
        )  # fmt: skip
        keys = connection.execute(
            sa.select(sa.func.count(sa.distinct(FlowRunRow.__table__.c.idempotency_key)))
        ).scalar()  # fmt: skip
    assert states["Scheduled"] == keys == expected, "one Scheduled state per run, one run per key"
    overdue = ticks[-1] - timedelta(seconds=settings.late_after_seconds)
    assert (
        states["Late"]
        == sum(late)
        == len([run for run in client.read_flow_runs(limit=10_000) if run.scheduled_time < overdue])
    ), "each run that was not started in time was marked Late once"


def test_scheduled_runs_are_listed_by_the_cli(store):
    store.client.save_deployment(nightly.to_deployment("daily", cron="0 2 * * *"))
    schedule_deployments(store.client, NOW, 100, WEEK)

    listed = CliRunner().invoke(app, ["flow-run", "ls", "--state", "Scheduled", "--output", "json"])

    assert listed.exit_code == 0, listed.output
    runs = json.loads(listed.stdout)["flow_runs"]
    assert len(runs) == 7
    assert {run["scheduled_time"][11:16] for run in runs} == {"02:00"}
    table = CliRunner().invoke(app, ["flow-run", "ls", "--state", "Scheduled"])
    header, *rows = table.stdout.splitlines()
    assert header.split()[:5] == ["ID", "Name", "Flow", "Deployment", "Scheduled"]
    first = runs[-1]["scheduled_time"]  # newest first: the last listed is the earliest due
    due = datetime.fromisoformat(first).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert all(" daily " in row for row in rows)
    assert any(due in row for row in rows)


def test_editing_a_schedule_replaces_the_runs_that_have_not_started(store):
    client = store.client
    client.save_deployment(nightly.to_deployment("daily", cron="0 2 * * *"))
    schedule_deployments(client, NOW, 100, WEEK)

    client.save_deployment(nightly.to_deployment("daily", cron="30 4 * * *"))

    assert _runs(client) == [], "the old schedule's runs are gone"
    assert schedule_deployments(client, NOW, 100, WEEK) == 7
    assert {(r.scheduled_time.hour, r.scheduled_time.minute) for r in _runs(client)} == {(4, 30)}


def test_a_pass_tops_up_to_the_run_cap(store):
    client = store.client
    client.save_deployment(nightly.to_deployment("hourly", interval=timedelta(hours=1)))
    assert schedule_deployments(client, NOW, 10, WEEK) == 10
    assert schedule_deployments(client, NOW, 10, WEEK) == 0, "ten are ahead already"
    assert schedule_deployments(client, NOW + timedelta(hours=3), 10, WEEK) == 3
    times = sorted(r.scheduled_time for r in _runs(client))
    assert times == [datetime(2026, 12, 3, 10 + h, tzinfo=UTC) for h in range(13)]


def test_a_deployment_that_cannot_be_scheduled_does_not_stop_the_others(store, caplog):
    client = store.client
    client.save_deployment(nightly.to_deployment("good", cron="0 2 * * *"))
    broken = nightly.to_deployment("broken", cron="0 3 * * *").to_record()
    schedules = ({**Cron("0 3 * * *").to_json(), "cron": "not cron"},)  # edited by hand
    client.backend.deployments().save(dataclasses.replace(broken, schedules=schedules))

    assert schedule_deployments(client, NOW, 100, WEEK) == 7
    assert "Deployment 'broken' was not scheduled: cron: 'not cron'" in caplog.text
