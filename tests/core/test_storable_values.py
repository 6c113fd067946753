"""One odd value never stops recording: values PostgreSQL refuses (NUL bytes, over-long
names and text) are made storable, and an event the database still rejects is isolated,
stored reduced or set aside in the spool, while the events behind it are saved. Every test
runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from plait import flow, get_run_logger, task
from plait.exceptions import InvalidOptionError
from plait.journal import RunCreated, StateChanged
from plait.runs import LogRecord, new_id
from plait.settings import load_settings
from plait.store.values import MARKER_ROOM, NUL_MARK, TEXT_LIMIT


@task
def shout(text: str) -> str:
    get_run_logger().info("got %s", text)
    raise ValueError(f"cannot handle {text}")


@flow
def noisy(text: str) -> None:
    shout(text)


@flow
def after() -> int:
    return 1


def test_nul_bytes_in_logs_and_errors_are_stored_visibly_and_later_runs_are_saved(store):
    with pytest.raises(ValueError, match="cannot handle"):
        noisy("a\x00b")
    assert after() == 1
    store.writer.flush()

    runs = {run.flow_name: run for run in store.client.read_flow_runs()}
    assert set(runs) == {"noisy", "after"}, "the run after the bad values was saved too"
    [task_run] = store.client.read_task_runs(runs["noisy"].id)
    assert task_run.state_message == f"ValueError: cannot handle a{NUL_MARK}b"
    assert f"a{NUL_MARK}b" in task_run.states[-1].detail
    lines = [line.message for line in store.client.read_logs(runs["noisy"].id)]
    assert f"got a{NUL_MARK}b" in lines


def test_over_long_run_names_and_text_are_cut_with_a_marker(store):
    @flow(flow_run_name="run-{label}")
    def labelled(label: str) -> None:
        pass

    labelled("y" * 300)
    store.writer.flush()
    [run] = store.client.read_flow_runs()
    kept = 255 - MARKER_ROOM
    assert run.name == f"run-{'y' * 300}"[:kept] + f"… [{304 - kept} more characters cut]"

    huge = "x" * (TEXT_LIMIT + 10)  # recorded directly: the console would print it all
    store.writer.record(LogRecord(run.id, None, logging.INFO, "plait", huge, datetime.now(UTC)))
    store.writer.flush()
    [line] = store.client.read_logs(run.id)[-1:]
    kept = TEXT_LIMIT - MARKER_ROOM
    assert line.message == huge[:kept] + f"… [{len(huge) - kept} more characters cut]"
    assert len(line.message) <= TEXT_LIMIT


def test_over_long_names_are_refused_when_the_flow_is_defined():
    with pytest.raises(InvalidOptionError, match="name must be at most 255 characters"):
        flow(name="f" * 256)(lambda: None)
    with pytest.raises(InvalidOptionError, match="no NUL byte"):
        task(name="t\x00")(lambda: None)


def _created(run_id: str, name: str = "odd") -> RunCreated:
    return RunCreated("flow", run_id, name, "odd-flow", datetime.now(UTC), parameters={})


def test_an_event_the_database_rejects_is_stored_reduced_without_blocking_the_batch(store, caplog):
    good, odd = new_id(), new_id()
    now = datetime.now(UTC)
    store.writer.record(_created(good, "good"))
    store.writer.record(_created(odd))
    # A lone surrogate cannot be encoded for the database: reduced, the state is stored.
    store.writer.record(StateChanged("flow", odd, "Failed", now, "bad \ud800 text"))
    store.writer.record(StateChanged("flow", good, "Completed", now))
    with caplog.at_level(logging.WARNING, logger="plait.store"):
        store.writer.flush()

    runs = {run.id: run for run in store.client.read_flow_runs()}
    assert runs[good].state == "Completed", "the events behind the rejected one were saved"
    assert runs[odd].state == "Failed"
    assert runs[odd].state_message.startswith("(not storable as recorded: ")
    assert f"flow run '{odd}'" in caplog.text
    assert "stored reduced" in caplog.text


def test_an_event_rejected_even_reduced_is_set_aside_in_the_spool(store, caplog):
    good, bad_id = new_id(), "bad-\ud800"  # an id the database cannot hold, reduced or not
    store.writer.record(_created(bad_id))
    store.writer.record(_created(good, "good"))
    line = LogRecord(good, None, logging.INFO, "plait", "still here", datetime.now(UTC))
    store.writer.record(line)
    with caplog.at_level(logging.WARNING, logger="plait.store"):
        store.writer.flush()

    [run] = store.client.read_flow_runs()
    assert run.id == good
    assert [line.message for line in store.client.read_logs(good)] == ["still here"]
    spooled = load_settings().home / "spool" / "rejected.jsonl"
    [entry] = [json.loads(line) for line in spooled.read_text().splitlines()]
    assert entry["record"]["event"] == "RunCreated"
    assert entry["record"]["run_id"] == bad_id
    assert spooled.stat().st_mode & 0o777 == 0o600
    assert "set aside in" in caplog.text
