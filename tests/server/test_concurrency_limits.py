"""Concurrency limits: at most N running task runs with a tag across processes (measured from
the recorded states), Pending with a message while held up, ``concurrency()`` for code, and
slots that a killed process frees once their lease runs out. Each embedded and through the
server (``backend_mode``)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import threading

import pytest
from typer.testing import CliRunner

from plait import concurrency
from plait.backend import get_backend
from plait.cli import app
from plait.client import get_client
from plait.exceptions import ConfigError, ParameterError, RunTimeoutError
from plait.states import FINAL_TYPES, StateType

runner = CliRunner()
DEADLINE = 60


def _cli(*args: str):
    return runner.invoke(app, list(args))


def _limits():
    """The limits as the configured backend (embedded or the server) has them now."""
    return get_backend().concurrency_limits().list()


def _child(tmp_path, body: str, **env: str) -> subprocess.Popen:
    script = tmp_path / f"child-{len(list(tmp_path.glob('child-*')))}.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.Popen(
        [sys.executable, str(script)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PLAIT_LOGGING_LEVEL": "WARNING", **env},
    )  # fmt: skip


def _most_running_at_once(task_runs) -> int:
    """The most task runs that were Running at the same moment, from their recorded states."""
    edges = []
    for run in task_runs:
        started = next(s.timestamp for s in run.states if s.type is StateType.RUNNING)
        ended = next(s.timestamp for s in run.states if s.type in FINAL_TYPES)
        edges += [(started, 1), (ended, -1)]
    running = most = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):  # ends before starts
        running += step
        most = max(most, running)
    return most


def test_the_commands_create_list_and_delete_limits(backend_mode):
    created = _cli("concurrency-limit", "create", "db", "5")
    assert created.exit_code == 0, created.output
    assert "'db': 5 slots" in created.stdout
    assert _cli("concurrency-limit", "create", "db", "3").exit_code == 0  # changes it
    listed = _cli("concurrency-limit", "ls", "--output", "json")
    [limit] = json.loads(listed.stdout)["concurrency_limits"]
    assert (limit["name"], limit["limit"], limit["active"]) == ("db", 3, 0)
    assert "db" in _cli("concurrency-limit", "ls").stdout
    for args, words in [
        (["create", "bad name", "2"], "is not valid"),
        (["create", "db", "--", "-1"], "from 0 to"),
        (["create", "db", "many"], "Invalid value for 'limit'"),
        (["delete", "nope"], "No concurrency limit is named 'nope'"),
    ]:
        refused = _cli("concurrency-limit", *args)
        assert refused.exit_code != 0
        assert words in refused.output, refused.output
    assert _cli("concurrency-limit", "delete", "db").exit_code == 0
    assert json.loads(_cli("concurrency-limit", "ls", "-o", "json").stdout) == {
        "concurrency_limits": []
    }


def test_a_tag_limit_holds_task_runs_of_two_processes_to_n_running(tmp_path, backend_mode):
    assert _cli("concurrency-limit", "create", "db", "2").exit_code == 0
    body = """
    import sys, time
    from plait import flow, task, ThreadPoolTaskRunner

    @task(tags=["db", "nightly"])
    def query(i: int) -> int:
        time.sleep(0.05)  # the work the limit protects
        return i

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=4))
    def load() -> int:
        return sum(query.map(range(8)).result())

    sys.stdin.readline()  # start together
    assert load() == 28
    """
    children = [_child(tmp_path, body), _child(tmp_path, body)]
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    for child in children:
        _, err = child.communicate(timeout=DEADLINE)
        assert child.returncode == 0, err

    client = get_client()
    flow_runs = client.read_flow_runs()
    assert len(flow_runs) == 2
    task_runs = [t for run in flow_runs for t in client.read_task_runs(run.id)]
    assert len(task_runs) == 16
    assert all(t.state is StateType.COMPLETED for t in task_runs)
    assert _most_running_at_once(task_runs) <= 2
    held = [
        s.message for t in task_runs for s in t.states
        if s.type is StateType.PENDING and s.message
    ]  # fmt: skip
    assert held, "8 runs on 4 workers per process, 2 slots: some waited"
    assert held[0] == "Waiting for a free slot of concurrency limit 'db' (2 of 2 slots in use)."
    [limit] = _limits()
    assert limit.active == 0, "every slot was given back"


def test_concurrency_holds_slots_for_code_and_waits_its_turn(backend_mode):
    assert _cli("concurrency-limit", "create", "warehouse", "2").exit_code == 0
    with concurrency("warehouse", occupy=2):
        assert [limit.active for limit in _limits()] == [2]
        waited = pytest.raises(RunTimeoutError, match=r"'warehouse' \(2 of 2 slots in use\)")
        with waited, concurrency("warehouse", timeout_seconds=0.2):
            pass
    taken = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with concurrency(["warehouse"], occupy=1):
            taken.set()
            release.wait(DEADLINE)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(DEADLINE)
    with concurrency("warehouse"):  # one slot of two left
        assert _limits()[0].active == 2
        release.set()
    holder.join(DEADLINE)
    assert _limits()[0].active == 0
    unknown = pytest.raises(ConfigError, match="No concurrency limit is named 'nowhere'")
    with unknown, concurrency("nowhere"):
        pass
    with pytest.raises(ParameterError, match="occupy must be a whole number from 1"):
        concurrency("warehouse", occupy=0)
    with (
        pytest.raises(ParameterError, match="could never be granted"),
        concurrency("warehouse", occupy=3),
    ):
        pass


def test_concurrency_works_in_async_code(backend_mode):
    assert _cli("concurrency-limit", "create", "api", "1").exit_code == 0

    async def call_the_api() -> int:
        async with concurrency("api"):
            return _limits()[0].active

    assert asyncio.run(call_the_api()) == 1
    assert _limits()[0].active == 0


def test_a_killed_process_frees_its_slots_when_its_lease_runs_out(tmp_path, backend_mode):
    assert _cli("concurrency-limit", "create", "warehouse", "1").exit_code == 0
    child = _child(
        tmp_path,
        """
        import sys
        from plait import concurrency

        with concurrency("warehouse"):
            print("holding", flush=True)
            sys.stdin.readline()  # until killed
        """,
        PLAIT_CONCURRENCY_LEASE_SECONDS="1",
    )
    assert child.stdout.readline() == "holding\n", child.stderr.read()
    with pytest.raises(RunTimeoutError), concurrency("warehouse", timeout_seconds=0.1):
        pass
    child.kill()
    child.communicate(timeout=DEADLINE)
    with concurrency("warehouse", timeout_seconds=DEADLINE):  # granted once the lease ends
        assert _limits()[0].active == 1
