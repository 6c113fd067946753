"""Deployments through the API server (SQLite and PostgreSQL): saved, listed, paused and run
on request through the same client and CLI as embedded; what is sent is checked as
``flow.to_deployment`` checks it (a 422 naming the field, and nothing already scheduled
lost); serving processes claim each due run once, by the server's clock."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fixtures.deployed_flows import greet
from typer.testing import CliRunner

from plait.cli import app
from plait.client import get_client
from plait.exceptions import DeploymentNotFoundError, ParameterError
from plait.journal.process import ProcessIdentity
from plait.scheduler import requested_run, schedule_deployments
from plait.states import StateType

GRACE = timedelta(seconds=60)


@pytest.fixture
def served(api, store, monkeypatch):
    """A client of the server (``api``), and one straight into its store."""
    monkeypatch.setenv("PLAIT_API_URL", api.url)
    return get_client(), store.client


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_a_deployment_is_saved_run_paused_and_deleted_through_the_server(served):
    client, store = served
    saved = client.save_deployment(
        greet.to_deployment("daily", cron="0 6 * * *", timezone="Europe/Berlin",
                            parameters={"day": "2026-12-01"}, concurrency_limit=2)
    )  # fmt: skip
    assert store.read_deployment("daily") == saved
    assert [d.name for d in client.read_deployments()] == ["daily"]
    schedule_deployments(store, datetime.now(UTC), 100, timedelta(days=7))  # as the server does

    output = _cli("deployment", "run", "daily", "-p", "name=ada", "--start-in", "1h")
    run_id = re.search(r"\(([0-9a-f-]{36})\)", output)[1]
    run = client.read_flow_run(run_id)
    assert run.parameters == {"day": "2026-12-01", "name": "ada"}
    assert (run.state, run.deployment_id) == (StateType.SCHEDULED, saved.id)
    backfilled = _cli("deployment", "backfill", "daily", "--from", "2026-11-01T00:00:00+00:00",
                      "--to", "2026-11-04T00:00:00+00:00")  # fmt: skip
    assert "3" in backfilled

    assert client.pause_deployment("daily") == 7 + 3, "7 days ahead, 3 backfilled"
    assert client.read_deployment("daily").paused
    assert client.read_flow_run(run_id).state is StateType.SCHEDULED, "asked for: it stays"
    client.resume_deployment("daily")
    assert not client.read_deployment("daily").paused
    assert client.delete_deployment("daily") == 1
    with pytest.raises(DeploymentNotFoundError, match="No deployment is named 'daily'"):
        client.read_deployment("daily")


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"schedules": [{"kind": "cron", "cron": "61 * * * *", "timezone": "UTC"}]},
         "schedules[0]: cron"),
        ({"schedules": [{"kind": "cron", "cron": "0 2 * * *", "timezone": "Mars/Olympus"}]},
         "schedules[0]: timezone"),
        ({"schedules": [{"kind": "interval", "interval_seconds": 0,
                         "anchor_date": "2026-01-01T00:00:00"}]},
         "schedules[0]: interval"),
        ({"schedules": [{"kind": "rrule", "rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
                         "anchor_date": "2026-01-01T00:00:00"}]},
         "never"),
        ({"schedules": [{"kind": "weekly"}]}, "schedules[0]: kind"),
        ({"parameters": {"dya": "2026-12-01"}}, "'dya' is not a parameter of flow 'greet'"),
        ({"parameters": {"day": "yesterday"}}, "day"),
        ({"collision": "queue"}, "collision must be one of"),
        ({"catchup": "some"}, "catchup must be one of"),
        ({"concurrency_limit": 0}, "concurrency_limit: Input should be greater than or equal to 1"),
        ({"parameter_schema": {"type": 5}}, "parameter_schema is not the JSON schema"),
    ],
)  # fmt: skip
def test_a_bad_deployment_is_refused_naming_the_field_and_nothing_scheduled_is_lost(
    served, api, change, named
):
    client, store = served
    client.save_deployment(greet.to_deployment("daily", cron="0 6 * * *",
                                               parameters={"day": "2026-12-01"}))  # fmt: skip
    assert schedule_deployments(store, datetime.now(UTC), 100, timedelta(days=7)) == 7
    body = api.http.get("/deployments/daily").json()
    sent = {key: body[key] for key in ("flow_name", "entrypoint", "parameter_schema",
                                       "parameters", "schedules")}  # fmt: skip

    answer = api.http.put("/deployments/daily", json={**sent, **change})

    assert answer.status_code == 422, answer.text
    assert named in answer.json()["detail"]
    assert client.read_deployment("daily").schedules == tuple(body["schedules"])
    assert len(client.read_flow_runs(state="Scheduled")) == 7


def test_a_run_with_a_bad_parameter_or_of_an_unknown_deployment_is_refused(served):
    client, _ = served
    client.save_deployment(greet.to_deployment("greet"))

    refused = CliRunner().invoke(app, ["deployment", "run", "greet", "-p", "day=someday"])
    assert refused.exit_code == 1
    assert "day" in refused.output
    assert client.read_flow_runs() == [], "no run was created"
    with pytest.raises(DeploymentNotFoundError, match="No deployment is named 'gret'"):
        client.read_deployment("gret")
    run = requested_run(client.read_deployment("greet"), {"day": "2026-12-01"}, datetime.now(UTC))
    forged = replace(run, parameters={"dya": 1})  # as a client without the checks could send
    with pytest.raises(ParameterError, match="'dya' is not a parameter"):
        client.create_scheduled_runs([forged], datetime.now(UTC))
    assert client.read_flow_runs() == []


def test_serving_processes_claim_each_due_run_once_by_the_servers_clock(served):
    client, _ = served
    record = client.save_deployment(greet.to_deployment("greet", concurrency_limit=1,
                                                        collision="cancel_new"))  # fmt: skip
    _cli("deployment", "run", "greet", "-p", "day=2026-12-01")
    _cli("deployment", "run", "greet", "-p", "day=2026-12-02")
    later = _cli("deployment", "run", "greet", "-p", "day=2026-12-03", "--start-in", "1h")
    me = ProcessIdentity.current()
    far_future = datetime.now(UTC) + timedelta(days=1)  # sent, but the server's clock decides

    claimed = client.claim_deployment_runs([record.id], far_future, GRACE, 10, me)

    assert len(claimed) == 1
    other = ProcessIdentity("another-host", 4242, None)
    assert client.claim_deployment_runs([record.id], far_future, GRACE, 10, other) == []
    again = client.claim_deployment_runs([record.id], far_future, GRACE, 10, me)
    assert again == claimed, "a claim whose answer was lost is delivered again, to its claimer"
    states = sorted(run.state.value for run in client.read_flow_runs())
    assert states == ["Cancelled", "Pending", "Scheduled"], "the second cancelled, one not due"
    assert re.search(r"\(([0-9a-f-]{36})\)", later)[1] not in {run.id for run in claimed}
