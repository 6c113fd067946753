"""The state rules: the store, not the reporting process, decides a run's state. Each rule
holds embedded and through the server; a refused report stays in the run's history; the
engine ends the flow run in the state the store holds."""

from __future__ import annotations

import pytest

from plait import flow, task
from plait.context import get_run_context
from plait.exceptions import CancelledRunError, StateRefusedError
from plait.state_rules import (
    CANCELLING_ENDS_CANCELLED,
    CRASHED_STAYS_CRASHED,
    FINAL_IS_FINAL,
    rule_on,
)
from plait.states import StateType


@pytest.mark.parametrize(
    ("current", "proposed", "rule", "state"),
    [
        (None, "Running", None, None),
        ("Running", "Completed", None, None),
        ("Pending", "Cancelling", None, None),
        ("Completed", "Running", FINAL_IS_FINAL, "Completed"),
        ("Failed", "Completed", FINAL_IS_FINAL, "Failed"),
        ("Crashed", "Completed", CRASHED_STAYS_CRASHED, "Crashed"),
        ("Crashed", "Running", CRASHED_STAYS_CRASHED, "Crashed"),
        ("Cancelling", "Completed", CANCELLING_ENDS_CANCELLED, "Cancelled"),
        ("Cancelling", "Crashed", CANCELLING_ENDS_CANCELLED, "Cancelled"),
        ("Cancelling", "Running", CANCELLING_ENDS_CANCELLED, "Cancelling"),
        ("Cancelling", "Cancelled", None, None),
    ],
)
def test_each_rule_decides_where_a_run_goes(current, proposed, rule, state):
    ruling = rule_on(current, proposed)
    if rule is None:
        assert ruling is None
    else:
        assert (ruling.rule, ruling.proposed, ruling.state) == (rule, proposed, state)


@task
def step(i: int) -> int:
    return i + 1


def _asked_to(client, state: str):
    """A flow that, while it runs, has its own run put in ``state`` through the client (as
    the dashboard, a worker or the crash sweep would), then completes."""

    @flow
    def interrupted() -> int:
        client.set_flow_run_state(get_run_context().flow_run.id, state, f"set to {state}")
        return sum(step.map(range(3)).result())

    return interrupted


def _history(client, run_id: str) -> list[tuple[str, str | None]]:
    return [(s.type.value, s.detail) for s in client.read_flow_run(run_id).states]


def test_a_run_asked_to_cancel_ends_cancelled_not_completed(reporting):
    cancelled = _asked_to(reporting.client, "Cancelling")
    state = cancelled(return_state=True)
    assert state.type is StateType.CANCELLED, state
    assert "rule cancelling-ends-cancelled" in state.message
    [run] = reporting.client.read_flow_runs()
    assert run.state is StateType.CANCELLED
    history = _history(reporting.client, run.id)
    assert [t for t, _ in history] == ["Pending", "Running", "Cancelling", "Completed", "Cancelled"]
    assert history[3][1].startswith("Not applied: rule cancelling-ends-cancelled.")
    with pytest.raises(CancelledRunError):
        cancelled()


def test_a_late_report_for_a_crashed_run_is_kept_but_does_not_resurrect_it(reporting):
    state = _asked_to(reporting.client, "Crashed")(return_state=True)
    assert state.type is StateType.CRASHED, state
    [run] = reporting.client.read_flow_runs()
    assert run.state is StateType.CRASHED
    history = _history(reporting.client, run.id)
    assert [t for t, _ in history] == ["Pending", "Running", "Crashed", "Completed"]
    assert history[-1][1].startswith("Not applied: rule crashed-stays-crashed.")
    assert len(reporting.client.read_task_runs(run.id)) == 3, "its task runs are all recorded"


def test_a_finished_run_does_not_run_again_except_as_a_retry(reporting):
    assert _asked_to(reporting.client, "Running")() == 6
    [run] = reporting.client.read_flow_runs()
    with pytest.raises(StateRefusedError, match="rule final-is-final") as refused:
        reporting.client.set_flow_run_state(run.id[:12], "Running")
    assert refused.value.ruling.state == "Completed"
    assert reporting.client.read_flow_run(run.id).state is StateType.COMPLETED


def test_a_refused_change_answers_409_naming_the_rule(api, store):
    assert _asked_to(store.client, "Running")() == 6
    [run] = store.client.read_flow_runs()
    answer = api.http.post(f"/flow_runs/{run.id}/state", json={"state": "Pending"})
    assert answer.status_code == 409
    body = answer.json()
    assert body["ruling"] == {
        "run_id": run.id, "rule": "final-is-final", "proposed": "Pending", "state": "Completed"
    }  # fmt: skip
    assert "plait flow-run retry" in body["detail"]
    bad = api.http.post(f"/flow_runs/{run.id}/state", json={"state": "Sleeping"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "state"
    missing = api.http.post("/flow_runs/0123abcd/state", json={"state": "Cancelling"})
    assert missing.status_code == 404
