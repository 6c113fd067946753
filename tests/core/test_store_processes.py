"""The run store across processes: concurrent writers, Ctrl-C, and processes that die.

Each scenario runs flows in child processes configured through the environment (the
``store_url`` fixture), so it runs on SQLite and on PostgreSQL. Children say when they are
ready on stdout; nothing here waits on a clock.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fixtures.runs import read_only

from plait import StateType
from plait.client import get_client
from plait.journal import RunCreated
from plait.runs import new_id
from plait.store.database import Database
from plait.store.schema import FlowRunRow

flow_runs = FlowRunRow.__table__

PREAMBLE = """
import sys
from plait import flow, task, get_run_context, get_run_logger, journal

@task
def step(i: int) -> int:
    return i

@task
def block() -> None:
    get_run_logger().info("blocking now")
    journal.flush()  # durable before the parent acts on "ready"
    print("ready", get_run_context().task_run.flow_run_id, flush=True)
    sys.stdin.readline()  # until the test interrupts or kills this process
"""


def _spawn(tmp_path: Path, body: str, name: str = "child.py", **env: str) -> subprocess.Popen:
    script = tmp_path / name
    script.write_text(PREAMBLE + textwrap.dedent(body))
    return subprocess.Popen(
        [sys.executable, str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PLAIT_LOGGING_LEVEL": "INFO", **env},
    )


def _wait_ready(child: subprocess.Popen) -> str:
    line = child.stdout.readline()
    assert line.startswith("ready "), line + child.stderr.read()
    return line.split()[1]


def test_two_processes_write_1000_task_runs_each_and_nothing_is_lost(tmp_path, store_url):
    body = """
    @flow
    def busy(worker: int) -> int:
        return sum(step(i) for i in range(1000))

    sys.stdin.readline()  # start together
    assert busy(int(sys.argv[1])) == 499500
    """
    env = {
        **os.environ,
        "PLAIT_LOGGING_LEVEL": "WARNING",
        "PLAIT_WRITER_INTERVAL_SECONDS": "0.01",  # many small transactions, competing
        "PLAIT_WRITER_BATCH_SIZE": "50",
    }
    script = tmp_path / "busy.py"
    script.write_text(PREAMBLE + textwrap.dedent(body))
    children = [
        subprocess.Popen([sys.executable, str(script), str(n)], stdin=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
        for n in (1, 2)
    ]  # fmt: skip
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    for child in children:
        _, stderr = child.communicate(timeout=120)
        assert child.returncode == 0, stderr
        assert "locked" not in stderr

    client = get_client()
    runs = client.read_flow_runs(flow_name="busy")
    assert sorted(r.parameters["worker"] for r in runs) == [1, 2]
    assert {r.pid for r in runs} == {c.pid for c in children}
    for run in runs:
        assert run.state is StateType.COMPLETED
        task_runs = client.read_task_runs(run.id)
        assert len(task_runs) == 1000
        assert all(t.state is StateType.COMPLETED and len(t.states) == 3 for t in task_runs)


@pytest.mark.parametrize(
    ("signum", "error"),
    [(signal.SIGINT, "KeyboardInterrupt"), (signal.SIGTERM, "TerminationSignal")],
    ids=["sigint", "sigterm"],
)
def test_an_interrupted_flow_is_saved_as_crashed_and_its_hooks_run(
    tmp_path, store_url, signum, error
):
    marker = tmp_path / "hook-ran"
    child = _spawn(
        tmp_path,
        f"""
        def note(flow, run, state):
            open({str(marker)!r}, "w").write(state.name)

        @flow(on_crashed=[note])
        def interrupted() -> None:
            step(1)
            block()
            step(2)

        interrupted()
        """,
    )
    flow_run_id = _wait_ready(child)
    child.send_signal(signum)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode != 0
    assert error in stderr

    run = get_client().read_flow_run(flow_run_id)
    assert run.state is StateType.CRASHED
    assert error in run.state_message
    assert marker.read_text() == "Crashed"
    task_runs = get_client().read_task_runs(flow_run_id)
    assert [(t.name, t.state) for t in task_runs] == [
        ("step-0", StateType.COMPLETED),
        ("block-0", StateType.CRASHED),
    ]
    assert "blocking now" in [line.message for line in get_client().read_logs(flow_run_id)]


def test_a_killed_process_leaves_a_run_that_is_marked_crashed_when_read(tmp_path, store_url):
    child = _spawn(
        tmp_path,
        """
        def page_someone(flow, run, state):
            pass

        @flow(on_crashed=[page_someone])
        def doomed() -> None:
            step(1)
            block()

        doomed()
        """,
    )
    flow_run_id = _wait_ready(child)
    child.kill()
    child.communicate(timeout=60)

    client = get_client()
    run = client.read_flow_run(flow_run_id)
    assert run.state is StateType.CRASHED
    assert f"pid {child.pid}" in run.state_message
    assert "exited without reporting a final state" in run.state_message
    assert [s.type for s in run.states][-2:] == [StateType.RUNNING, StateType.CRASHED]
    states = {t.name: t.state for t in client.read_task_runs(flow_run_id)}
    assert states == {"step-0": StateType.COMPLETED, "block-0": StateType.CRASHED}
    [report] = [line for line in client.read_logs(flow_run_id) if "crashed" in line.message]
    assert "on_crashed hooks (page_someone) did not run" in report.message
    assert client.read_flow_runs(state="Running") == []


def test_a_run_asked_to_cancel_whose_process_is_killed_ends_cancelled(tmp_path, store_url):
    child = _spawn(
        tmp_path,
        """
        @flow
        def stopped() -> None:
            step(1)
            block()

        stopped()
        """,
    )
    flow_run_id = _wait_ready(child)
    client = get_client()
    assert client.set_flow_run_state(flow_run_id, "Cancelling").state is StateType.CANCELLING
    child.kill()  # as a worker enforcing the cancellation would
    child.communicate(timeout=60)

    run = client.read_flow_run(flow_run_id)
    assert run.state is StateType.CANCELLED, run.state_message
    assert [s.type for s in run.states][-2:] == [StateType.CANCELLING, StateType.CANCELLED]
    states = {t.name: t.state for t in client.read_task_runs(flow_run_id)}
    assert states == {"step-0": StateType.COMPLETED, "block-0": StateType.CANCELLED}


def test_a_run_killed_before_the_writer_ever_ran_is_still_found_and_crashed(tmp_path, store_url):
    child = _spawn(
        tmp_path,
        """
        @flow
        def charges_a_card() -> None:
            print("ready", get_run_context().flow_run.id, flush=True)  # a side effect
            sys.stdin.readline()  # until the test kills this process

        charges_a_card()
        """,
        # The background writer would not write for an hour: only the start is durable.
        PLAIT_WRITER_INTERVAL_SECONDS="3600",
    )
    flow_run_id = _wait_ready(child)
    child.kill()
    child.communicate(timeout=60)

    run = get_client().read_flow_run(flow_run_id)
    assert run.flow_name == "charges_a_card"
    assert run.state is StateType.CRASHED
    assert [s.type for s in run.states] == [
        StateType.PENDING,
        StateType.RUNNING,
        StateType.CRASHED,
    ]


def test_reading_a_store_that_cannot_be_written_warns_once_and_still_reads(
    tmp_path, store_url, caplog
):
    child = _spawn(tmp_path, "@flow\ndef doomed() -> None:\n    block()\n\ndoomed()\n")
    flow_run_id = _wait_ready(child)
    child.kill()
    child.communicate(timeout=60)

    client = get_client(database_url=read_only(store_url))
    with caplog.at_level(logging.WARNING, logger="plait.store"):
        [listed] = client.read_flow_runs()
        run = client.read_flow_run(flow_run_id)
    assert listed.id == run.id == flow_run_id
    assert run.state is StateType.RUNNING, "nothing could be written, so it is not marked yet"
    [warning] = [r.getMessage() for r in caplog.records if r.name == "plait.store"]
    assert "Could not mark the flow runs of dead processes as Crashed" in warning
    assert "they may still show as Running" in warning

    assert get_client().read_flow_run(flow_run_id).state is StateType.CRASHED  # when writable


def test_events_that_cannot_be_saved_at_exit_are_counted_with_the_cause(store_url, caplog):
    from plait.settings import load_settings
    from plait.store.database import open_database
    from plait.store.writer import StoreRecorder

    open_database(store_url)  # the schema exists; from now on nothing can be written
    writer = StoreRecorder(read_only(store_url), load_settings())
    writer.record(RunCreated("flow", new_id(), "lost", "lost", datetime.now(UTC)))
    with caplog.at_level(logging.WARNING, logger="plait.store"):
        writer.close()
    [error] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert error.startswith("1 recorded events could not be saved to the run store at ")
    assert "read-only" in error or "readonly" in error  # the database's own reason


def test_a_run_on_another_host_is_crashed_only_once_its_heartbeat_is_stale(tmp_path, store_url):
    child = _spawn(
        tmp_path,
        """
        @flow
        def remote() -> None:
            block()

        remote()
        """,
    )
    flow_run_id = _wait_ready(child)
    child.kill()
    child.communicate(timeout=60)
    database = Database(store_url)

    def pretend_elsewhere(heartbeat_age: timedelta) -> None:
        with database.writing() as connection:
            connection.execute(
                flow_runs.update()
                .where(flow_runs.c.id == flow_run_id)
                .values(hostname="elsewhere", heartbeat=datetime.now(UTC) - heartbeat_age)
            )

    pretend_elsewhere(timedelta(seconds=5))
    assert get_client().read_flow_run(flow_run_id).state is StateType.RUNNING
    pretend_elsewhere(timedelta(hours=1))
    run = get_client().read_flow_run(flow_run_id)
    assert run.state is StateType.CRASHED
    assert "sent no heartbeat for over 90s" in run.state_message
    database.dispose()


def test_logs_follow_prints_lines_as_a_running_flow_writes_them(tmp_path, store_url):
    child = _spawn(
        tmp_path,
        """
        @flow
        def slow() -> None:
            block()
            get_run_logger().info("after the wait")

        slow()
        """,
    )
    flow_run_id = _wait_ready(child)
    follower = subprocess.Popen(
        [str(Path(sys.executable).with_name("plait")), "flow-run", "logs", flow_run_id, "-f"],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = ""
    while "blocking now" not in line:
        line = follower.stdout.readline()
        assert line, "the follower exited before the run ended"
    assert follower.poll() is None  # still following: the run is in progress
    child.communicate("go on\n", timeout=60)
    rest, _ = follower.communicate(timeout=60)
    assert follower.returncode == 0
    assert "after the wait" in rest
    assert "Finished in state Completed()" in rest
