"""Client mode (PLAIT_API_URL): a process's journal shipped to the server in batches that are
saved once however often they are sent, events waiting in the spool while the server is
away, the API key's scope enforced, bad events refused by name, and the settings saying
which mode is in force."""

from __future__ import annotations

import json
import shutil
import socket
import uuid
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from plait import flow, get_run_logger, task
from plait.backend import get_backend
from plait.backend.api_keys import Scope
from plait.backend.http import HttpBackend
from plait.cli import app
from plait.client import Client
from plait.journal import MemoryRecorder, StateChanged, set_recorder
from plait.journal.http import HttpRecorder, batch_body, post_batch
from plait.journal.process import ProcessIdentity
from plait.journal.shipping import Batch
from plait.journal.spool import Spool
from plait.settings import load_settings
from plait.states import StateType


@task
def double(i: int) -> int:
    get_run_logger().info("doubling %d", i)
    return 2 * i


@flow
def doubles(n: int) -> list[int]:
    return [double(i) for i in range(n)]


def _recorded(n: int) -> MemoryRecorder:
    """The journal of a real flow run with ``n`` task runs."""
    memory = MemoryRecorder()
    previous = set_recorder(memory)
    try:
        doubles(n)
    finally:
        set_recorder(previous)
    return memory


def _assert_on_the_server_once(memory: MemoryRecorder, client) -> None:
    """Every run of ``memory`` is on the server with exactly its recorded states and logs."""
    [flow_run] = memory.runs("flow")
    stored = client.read_flow_run(flow_run.id)
    assert [s.type for s in stored.states] == [s.type for s in flow_run.states]
    task_runs = {run.id: run for run in client.read_task_runs(flow_run.id)}
    assert len(task_runs) == len(memory.runs("task"))
    for recorded in memory.runs("task"):
        assert [s.type for s in task_runs[recorded.id].states] == [s.type for s in recorded.states]
    lines = [line.message for line in client.read_logs(flow_run.id)]
    assert lines == [line.message for line in memory.logs()]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _segments(settings) -> list:
    return sorted((settings.home / "spool").glob("events-*.jsonl"))


def test_a_flow_in_client_mode_is_recorded_on_the_server(reporting):
    assert doubles(5) == [0, 2, 4, 6, 8]
    [run] = reporting.client.read_flow_runs()
    assert run.state is StateType.COMPLETED
    task_runs = reporting.client.read_task_runs(run.id)
    assert [[s.type.value for s in t.states] for t in task_runs] == [
        ["Pending", "Running", "Completed"]
    ] * 5
    assert [line.message for line in reporting.client.read_logs(run.id)][1:6] == [
        f"doubling {i}" for i in range(5)
    ]


def test_a_batch_sent_again_is_saved_once(api, store, monkeypatch):
    memory = _recorded(4)
    batch = Batch(str(uuid.uuid4()), memory.events)
    body = batch_body(batch, ProcessIdentity.current())
    headers = {"Content-Type": "application/json"}
    first = api.http.post("/events", content=body, headers=headers).json()
    again = api.http.post("/events", content=body, headers=headers).json()
    assert (first["duplicate"], again["duplicate"]) == (False, True)
    assert first["events"] == len(memory.events)
    _assert_on_the_server_once(memory, store.client)


def test_events_wait_in_the_spool_while_the_server_is_away_and_are_saved_once(
    server_process, store_url, tmp_path
):
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    settings = load_settings()
    away = HttpRecorder(url, None, settings)
    memory = _recorded(6)
    away.record_many(memory.events)
    away.close()  # nothing answered: the events are kept on disk, not lost
    [segment] = _segments(settings)
    copy = shutil.copy(segment, tmp_path / "copy")

    server_process.start(port=port)
    backend = HttpBackend(url, None, settings)
    replayed = backend.replay_spool()
    assert (replayed.segments, replayed.events, replayed.left) == (1, len(memory.events), 0)
    shutil.copy(copy, segment)  # as if the replayer was killed before deleting the file
    assert backend.replay_spool().events == len(memory.events)  # sent again, saved once
    assert _segments(settings) == []
    _assert_on_the_server_once(memory, Client(backend.run_queries()))


def test_a_batch_whose_answer_was_lost_is_retried_under_its_id(api, store):
    """The server saved a batch, the sender never heard: sending it again saves nothing."""
    memory = _recorded(3)
    batch = Batch(str(uuid.uuid4()), memory.events)
    spool = Spool(load_settings().home / "spool")
    assert post_batch(api.http, spool, batch, ProcessIdentity.current(), []) is None
    assert post_batch(api.http, spool, batch, ProcessIdentity.current(), []) is None
    _assert_on_the_server_once(memory, store.client)


def test_reporting_needs_a_key_that_may_write_and_nothing_is_lost_without_one(
    api, store, monkeypatch
):
    keys = get_backend().api_keys()  # the store's, which the server serves
    _, reader = keys.create("dashboard", Scope.READ)
    _, writer = keys.create("reporter", Scope.WRITE)
    settings = load_settings()
    refused = HttpRecorder(api.url, reader, settings)
    memory = _recorded(2)
    refused.record_many(memory.events)
    refused.flush()
    assert store.client.read_flow_runs() == []
    refused.close()
    assert len(_segments(settings)) == 1, "kept for a key that may write"

    answer = api.http.post(
        "/events", headers={"Authorization": f"Bearer {reader}"}, json={"events": []}
    )
    assert answer.status_code == 403
    assert "scope read" in answer.json()["detail"]
    HttpBackend(api.url, writer, settings).replay_spool()
    _assert_on_the_server_once(memory, store.client)


def _event(**fields) -> dict:
    return {
        "event": "StateChanged",
        "kind": "task",
        "run_id": str(uuid.uuid4()),
        "state": "Running",
        "timestamp": "2026-01-01T00:00:00+00:00",
        **fields,
    }


@pytest.mark.parametrize(
    ("event", "field", "words"),
    [
        ({"event": "Exploded"}, "events[0].event", "must be one of RunCreated"),
        ("StateChanged", "events[0]", "must be an object"),
        (_event(colour="red"), "events[0].colour", "is not a field of StateChanged"),
        (_event(state="Sleeping"), "events[0].state", "must be one of"),
        (_event(name=""), "events[0].name", "must be 1 to 255 characters"),
        (_event(timestamp="yesterday"), "events[0].timestamp", "valid datetime"),
        (_event(timestamp="2026-01-01T00:00:00"), "events[0].timestamp", "UTC offset"),
        (_event(kind="job"), "events[0].kind", "'flow' or 'task'"),
        (_event(run_id="x" * 37), "events[0].run_id", "at most 36"),
    ],
)
def test_a_bad_event_is_refused_by_name_and_nothing_is_saved(api, store, event, field, words):
    body = {
        "batch": str(uuid.uuid4()),
        "process": {"hostname": "here", "pid": 1, "started": None},
        "events": [event, _event()],
    }
    answer = api.http.post("/events", json=body)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["errors"][0]["field"] == field
    assert words in problem["errors"][0]["problem"]
    assert store.client.read_flow_runs() == []


def test_a_batch_of_events_the_server_refuses_is_split_until_the_bad_one_stands_alone(api, store):
    memory = _recorded(3)
    bad = StateChanged("task", "y" * 40, "Running", datetime.now(UTC))  # too long an id
    spool = Spool(load_settings().home / "spool")
    batch = Batch(str(uuid.uuid4()), [*memory.events[:5], bad, *memory.events[5:]])
    assert post_batch(api.http, spool, batch, ProcessIdentity.current(), []) is None
    _assert_on_the_server_once(memory, store.client)
    [set_aside] = spool.rejected.read_text().splitlines()
    assert json.loads(set_aside)["record"]["run_id"] == "y" * 40


def test_config_show_says_which_mode_is_in_force(monkeypatch):
    runner = CliRunner()
    embedded = runner.invoke(app, ["config", "show", "-o", "json"])
    assert json.loads(embedded.stdout)["mode"].startswith("embedded: ")
    monkeypatch.setenv("PLAIT_API_URL", "http://127.0.0.1:4300/api")
    monkeypatch.setenv("PLAIT_API_KEY", "plait_0123456789ab_very-secret")
    shown = runner.invoke(app, ["config", "show"])
    assert shown.exit_code == 0, shown.output
    assert "Mode: client: runs report to, and are read from, the server at " in shown.stdout
    assert "very-secret" not in shown.stdout


def test_a_bad_api_url_is_refused_naming_the_setting(monkeypatch):
    monkeypatch.setenv("PLAIT_API_URL", "127.0.0.1:4300")
    shown = CliRunner().invoke(app, ["config", "show"])
    assert shown.exit_code != 0
    assert "api_url (PLAIT_API_URL) must be an http:// or https:// URL" in shown.output
