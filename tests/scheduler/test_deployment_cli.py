"""``plait deployment`` as a user runs it, over the run store (SQLite and PostgreSQL): list
and inspect, ask for a run with parameters checked before anything is created, pause and
resume, delete, backfill; bad arguments answered by name."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from typer.testing import CliRunner

from plait import flow
from plait.cli import app
from plait.scheduler import schedule_deployments
from plait.schedules import Cron

NOW = datetime(2026, 12, 3, 9, 5, tzinfo=UTC)


@flow
def load(day: date, region: str = "eu", limit: int = 100) -> str:
    return f"{day} {region} {limit}"


def plait(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def saved(store):
    """A deployment of ``load``: nightly at 02:00 Berlin time, day given."""
    store.client.save_deployment(
        load.to_deployment(
            "nightly", cron="0 2 * * *", timezone="Europe/Berlin",
            parameters={"day": "2026-12-01"}, description="The nightly load", tags=["etl"],
        )
    )  # fmt: skip
    return store.client


def _scheduled(client) -> list:
    return client.read_flow_runs(state="Scheduled", limit=10_000)


def test_ls_and_inspect_show_a_deployment(saved):
    listed = plait("deployment", "ls")
    assert listed.exit_code == 0, listed.output
    assert "nightly" in listed.output
    assert "cron 0 2 * * * (Europe/Berlin)" in listed.output

    shown = plait("deployment", "inspect", "nightly")
    assert shown.exit_code == 0, shown.output
    for expected in ("The nightly load", "test_deployment_cli:load", '"day": "2026-12-01"',
                     "Catch-up", "latest"):  # fmt: skip
        assert expected in shown.output
    as_json = json.loads(plait("deployment", "inspect", "nightly", "-o", "json").stdout)
    assert as_json["deployment"]["parameter_schema"]["required"] == ["day"]


def test_run_creates_a_scheduled_run_with_the_parameters_given(saved):
    asked = plait("deployment", "run", "nightly", "-p", "region=us", "-p", "limit=5",
                  "--params", '{"day": "2026-12-02"}', "--start-in", "10m")  # fmt: skip

    assert asked.exit_code == 0, asked.output
    [run] = _scheduled(saved)
    assert run.parameters == {"day": "2026-12-02", "region": "us", "limit": 5}
    assert f"({run.id})" in asked.output
    assert run.deployment_id == saved.read_deployment("nightly").id
    assert timedelta(minutes=9) < run.scheduled_time - run.created <= timedelta(minutes=10)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "limit=many"], "limit: 'many' is not of type 'integer'"),
        (["-p", "dya=2026-12-01"], "'dya' is not a parameter of flow 'load'"),
        (["-p", "day"], "give a parameter as NAME=VALUE"),
        (["--params", "[1]"], "--params: give a JSON object"),
        (["--params", "{day"], "--params: not JSON"),
        (["--start-in", "soon"], "--start-in: expected a duration"),
        (["--start-at", "tomorrow"], "--start-at: expected a duration ago such as 2h"),
        (["--start-in", "1h", "--start-at", "2026-12-24T09:00"], "give one of them, not both"),
    ],
)
def test_a_bad_run_request_creates_nothing_and_says_why(saved, args, message):
    asked = plait("deployment", "run", "nightly", *args)
    assert asked.exit_code != 0
    assert message in asked.output
    assert _scheduled(saved) == []


def test_an_unknown_deployment_is_named(store):
    asked = plait("deployment", "run", "nightyl")
    assert asked.exit_code != 0
    assert "No deployment is named 'nightyl'" in asked.output


def test_pause_deletes_the_schedules_runs_and_resume_brings_them_back(saved):
    schedule_deployments(saved, NOW, 100, timedelta(days=7))
    assert plait("deployment", "run", "nightly").exit_code == 0  # asked by hand: stays

    paused = plait("deployment", "pause", "nightly")
    assert paused.exit_code == 0, paused.output
    assert "deleted 7 scheduled runs" in paused.output
    assert len(_scheduled(saved)) == 1
    assert schedule_deployments(saved, NOW, 100, timedelta(days=7)) == 0, "paused: none made"

    assert plait("deployment", "resume", "nightly").exit_code == 0
    assert schedule_deployments(saved, NOW, 100, timedelta(days=7)) == 7


def test_delete_removes_the_deployment_and_its_unstarted_runs(saved):
    schedule_deployments(saved, NOW, 100, timedelta(days=7))
    deleted = plait("deployment", "delete", "nightly")
    assert deleted.exit_code == 0, deleted.output
    assert "7 runs that had not started" in deleted.output
    assert _scheduled(saved) == []
    assert "nightly" not in plait("deployment", "ls").output


def test_backfill_creates_the_missed_runs_once(saved):
    args = ("deployment", "backfill", "nightly", "--from", "2026-11-01T00:00+01:00",
            "--to", "2026-11-08T00:00+01:00")  # fmt: skip
    first = plait(*args)
    assert first.exit_code == 0, first.output
    assert "7 runs created, 0 existed already" in first.output
    assert "0 runs created, 7 existed already" in plait(*args).output
    times = sorted(run.scheduled_time for run in _scheduled(saved))
    assert times[0] == datetime(2026, 11, 1, 1, tzinfo=UTC), "02:00 Berlin, winter time"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-11-08", "--to", "2026-11-01"], "--to (2026-11"),
        (["--from", "last week", "--to", "2026-11-01"], "--from: expected a duration ago"),
        (["--from", "1990-01-01T00:00Z", "--to", "2026-01-01T00:00Z"], "more than 10,000 runs"),
    ],
)
def test_a_bad_backfill_is_refused(saved, args, message):
    refused = plait("deployment", "backfill", "nightly", *args)
    assert refused.exit_code != 0
    assert message in refused.output
    assert _scheduled(saved) == []


def test_an_inactive_schedule_is_shown_as_such(store):
    store.client.save_deployment(
        load.to_deployment("off", schedules=[Cron("0 3 * * *", active=False)])
    )
    assert "cron 0 3 * * * (UTC, inactive)" in plait("deployment", "ls").output
