"""``flow.serve()`` as a user runs it: a script serving deployments in its own process, on the
embedded store (the serving process schedules them itself). Its runs appear and complete, a
run asked for with parameters runs, pausing stops the schedule's runs, SIGTERM leaves no run
unfinished, and a serving process killed mid-run and started again runs nothing twice."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from plait.cli import app
from plait.client import get_client
from plait.exceptions import DeploymentNotFoundError
from plait.states import FINAL_TYPES, StateType

DEADLINE = 90.0
SCRIPT = """
import time
from datetime import timedelta
from pathlib import Path

import plait
from plait import flow


@flow(persist_result=True)
def count(n: int = 0) -> int:
    return n + 1


@flow
def hold(gate: str) -> str:
    deadline = time.monotonic() + 120  # a test that fails leaves no process behind for long
    while not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return "released"


if __name__ == "__main__":
    plait.serve(
        count.to_deployment("every-2s", interval=timedelta(seconds=2), parameters={"n": 1}),
        hold.to_deployment("hold"),
    )
"""


def _until(check: Callable[[], Any], what: str) -> Any:
    """Poll ``check`` until it returns something truthy, for at most DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def serve(tmp_path, monkeypatch) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start the serving script (again, if called again); every process started is ended."""
    script = tmp_path / "served.py"
    script.write_text(textwrap.dedent(SCRIPT))
    monkeypatch.setenv("PLAIT_SERVE_POLL_SECONDS", "0.2")
    monkeypatch.setenv("PLAIT_SERVE_GRACE_SECONDS", "1")
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def _runs(deployment: str) -> list:
    client = get_client()
    try:
        wanted = client.read_deployment(deployment).id
    except DeploymentNotFoundError:  # not saved yet: the serving process is starting
        return []
    return [run for run in client.read_flow_runs(limit=1000) if run.deployment_id == wanted]


def _completed(deployment: str) -> list:
    return [run for run in _runs(deployment) if run.state is StateType.COMPLETED]


def _times_started(run_id: str) -> int:
    """How often the run entered Running (its history keeps every state reported)."""
    states = get_client().read_flow_run(run_id).states
    return sum(state.type is StateType.RUNNING for state in states)


def _claimed_by(pid: int) -> list:
    """The completed runs of every-2s that the serving process ``pid`` claimed."""
    claimer = f"Claimed by the serving process {pid} on"
    client = get_client()
    return [
        run for run in _completed("every-2s")
        if any(claimer in (state.message or "") for state in client.read_flow_run(run.id).states)
    ]  # fmt: skip


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _asked(deployment: str, *args: str) -> str:
    """Ask for a run with ``plait deployment run``; returns its id."""
    output = _run("deployment", "run", deployment, *args)
    found = re.search(r"\(([0-9a-f-]{36})\) of deployment", output)
    assert found, output
    return found[1]


def test_served_runs_run_on_schedule_on_request_and_stop_when_paused_or_terminated(serve, tmp_path):
    serving = serve()
    completed = _until(lambda: _completed("every-2s")[1:], "two scheduled runs to complete")
    assert get_client().read_result(completed[0]) == 2

    asked = _asked("every-2s", "-p", "n=41")
    done = _until(lambda: get_client().read_flow_run(asked).state in FINAL_TYPES and
                  get_client().read_flow_run(asked), "the requested run")  # fmt: skip
    assert (done.state, get_client().read_result(done)) == (StateType.COMPLETED, 42)

    _run("deployment", "pause", "every-2s")
    keyed_before = {r.id for r in _runs("every-2s")}
    after_pause = _asked("every-2s", "-p", "n=1")  # runs asked for by hand still run
    _until(lambda: get_client().read_flow_run(after_pause).state is StateType.COMPLETED,
           "a run asked for after the pause")  # fmt: skip
    new = {r.id for r in _runs("every-2s")} - keyed_before - {after_pause}
    assert new == set(), "no scheduled run was made or run after the pause"

    gate = tmp_path / "never-opened"
    held = _asked("hold", "-p", f"gate={gate}")
    _until(lambda: get_client().read_flow_run(held).state is StateType.RUNNING, "hold to run")
    serving.send_signal(signal.SIGTERM)
    assert serving.wait(timeout=DEADLINE) == 0

    run = get_client().read_flow_run(held)
    assert run.state is StateType.CANCELLED
    assert "serve_grace_seconds (1 s)" in run.state_message
    unfinished = [r for name in ("every-2s", "hold") for r in _runs(name)
                  if r.state not in FINAL_TYPES and r.state is not StateType.SCHEDULED]  # fmt: skip
    assert unfinished == []


def test_a_killed_serving_process_started_again_runs_nothing_twice(serve, tmp_path):
    serving = serve()
    gate = tmp_path / "gate"
    _until(lambda: _completed("every-2s"), "a scheduled run to complete")
    held = _asked("hold", "-p", f"gate={gate}")
    _until(lambda: get_client().read_flow_run(held).state is StateType.RUNNING, "hold to run")

    os.kill(serving.pid, signal.SIGKILL)
    serving.wait()
    again = serve()
    _until(lambda: _claimed_by(again.pid), "the restarted process to run a run")
    Path(gate).touch()  # the held run, still running in its own process, finishes

    run = _until(lambda: get_client().read_flow_run(held).state in FINAL_TYPES and
                 get_client().read_flow_run(held), "the held run to finish")  # fmt: skip
    assert run.state is StateType.COMPLETED
    assert all(_times_started(r.id) <= 1 for r in [run, *_runs("every-2s")]), "none ran twice"
    again.send_signal(signal.SIGTERM)
    assert again.wait(timeout=DEADLINE) == 0


def test_served_against_a_server_that_is_killed_and_started_again(
    serve, server_process, monkeypatch
):
    monkeypatch.setenv("PLAIT_SCHEDULER_INTERVAL_SECONDS", "0.2")
    url = server_process.start()
    monkeypatch.setenv("PLAIT_API_URL", url)
    serving = serve()
    _until(lambda: _completed("every-2s"), "a run scheduled by the server to complete")

    watched = CliRunner().invoke(app, ["deployment", "run", "every-2s", "-p", "n=41", "--watch"])
    assert watched.exit_code == 0, watched.output
    assert "ended Completed" in watched.output

    server_process.stop(signal.SIGKILL)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    again = type(server_process)()
    try:
        again.start(port=port)
        seen = {run.id for run in _completed("every-2s")}
        _until(lambda: {run.id for run in _completed("every-2s")} - seen, "a run after restart")
        serving.send_signal(signal.SIGTERM)
        assert serving.wait(timeout=DEADLINE) == 0
        runs = _runs("every-2s")
        assert all(_times_started(run.id) <= 1 for run in runs), "none ran twice"
        assert [r for r in runs if r.state not in FINAL_TYPES and r.state is not
                StateType.SCHEDULED] == [], "nothing left unfinished"  # fmt: skip
    finally:
        again.stop()
