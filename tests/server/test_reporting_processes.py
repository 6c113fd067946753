"""Processes reporting to a real ``plait server start`` at once, and a server killed with
SIGKILL in the middle of a flow: nothing lost, nothing doubled, the flow never stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fixtures.api import DEADLINE_SECONDS, PLAIT

REPORTER = """
import sys, time
from pathlib import Path
from plait import flow, task

gate = Path(sys.argv[3]) if len(sys.argv) > 3 else None

@task
def step(i: int) -> int:
    if gate is not None and i == int(sys.argv[2]) // 2:
        deadline = time.monotonic() + 60
        while not gate.exists():  # the test opens the gate once the server is back
            assert time.monotonic() < deadline, "the gate never opened"
            time.sleep(0.01)
    return i

@flow(name=sys.argv[1])
def reporting(n: int) -> int:
    return sum(step(i) for i in range(n))

print(reporting(int(sys.argv[2])))
"""


def _reporter(tmp_path: Path, url: str, *args: str) -> subprocess.Popen:
    script = tmp_path / "reporter.py"
    script.write_text(REPORTER)
    env = {**os.environ, "PLAIT_API_URL": url, "PLAIT_WRITER_INTERVAL_SECONDS": "0.05"}
    return subprocess.Popen(
        [sys.executable, str(script), *args], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _finished(child: subprocess.Popen) -> str:
    out, err = child.communicate(timeout=DEADLINE_SECONDS * 2)
    assert child.returncode == 0, err
    return out


def _task_runs(url: str, flow_run_id: str) -> list[dict]:
    found, after = [], None
    while True:
        params = {"limit": 1000, **({"after": after} if after else {})}
        page = httpx.get(f"{url}/flow_runs/{flow_run_id}/task_runs", params=params).json()
        found += page["items"]
        if page["next_cursor"] is None:
            return found
        after = page["next_cursor"]


def _assert_recorded_once(url: str, flow_run: dict, n: int) -> None:
    history = httpx.get(f"{url}/flow_runs/{flow_run['id']}").json()["states"]
    assert flow_run["state"] == "Completed", history
    task_runs = _task_runs(url, flow_run["id"])
    assert sorted(t["name"] for t in task_runs) == sorted(f"step-{i}" for i in range(n))
    assert {tuple(s["type"] for s in t["states"]) for t in task_runs} == {
        ("Pending", "Running", "Completed")
    }


def test_four_processes_report_at_once_and_every_run_is_recorded_once(
    server_process, store_url, tmp_path
):
    url = server_process.start()
    children = [_reporter(tmp_path, url, f"reporter-{i}", "1000") for i in range(4)]
    assert [_finished(child).strip() for child in children] == [str(sum(range(1000)))] * 4
    runs = httpx.get(f"{url}/flow_runs").json()["items"]
    assert sorted(run["flow_name"] for run in runs) == [f"reporter-{i}" for i in range(4)]
    for run in runs:
        _assert_recorded_once(url, run, 1000)


def test_a_server_killed_mid_flow_and_started_again_misses_nothing(
    server_process, store_url, tmp_path
):
    url = server_process.start()
    port = int(url.split(":")[2].split("/")[0])
    gate = tmp_path / "gate"
    child = _reporter(tmp_path, url, "survivor", "2000", str(gate))
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:  # wait until the flow's first half is on the server
        runs = httpx.get(f"{url}/flow_runs").json()["items"]
        if runs and len(_task_runs(url, runs[0]["id"])) >= 1000:
            break
        assert time.monotonic() < deadline, "the flow's runs never reached the server"
    server_process.stop(signal.SIGKILL)  # the flow goes on, its events wait in memory
    server_process.start(port=port)
    gate.touch()
    assert _finished(child).strip() == str(sum(range(2000)))
    [run] = httpx.get(f"{url}/flow_runs").json()["items"]
    _assert_recorded_once(url, run, 2000)


def test_the_cli_reads_through_the_server(server_process, store_url, tmp_path):
    url = server_process.start()
    _finished(_reporter(tmp_path, url, "listed", "3"))
    env = {**os.environ, "PLAIT_API_URL": url, "PLAIT_HOME": str(tmp_path / "elsewhere")}
    listed = subprocess.run(
        [PLAIT, "flow-run", "ls", "-o", "json"], env=env, capture_output=True, text=True,
        timeout=DEADLINE_SECONDS,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert '"flow_name": "listed"' in listed.stdout
