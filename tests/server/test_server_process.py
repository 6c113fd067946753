"""``plait server start`` as users run it: one line with its URL, migrations on start, a
clean stop on SIGTERM, nothing lost to a SIGKILL, and bad options refused in one line."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from fixtures.api import PLAIT

from plait import flow, task
from plait.journal import RunCreated, StateChanged
from plait.journal.process import ProcessIdentity
from plait.journal.spool import Spool
from plait.settings import load_settings
from plait.store.database import Database
from plait.store.schema import FlowRunRow
from plait.store.writer import StoreWriter


@task
def step(i: int) -> int:
    return i


@flow
def reported(n: int) -> int:
    return sum(step(i) for i in range(n))


def test_the_server_migrates_serves_and_stops_cleanly_on_sigterm(server_process, store_url):
    url = server_process.start()  # on a store no process has opened yet: migrated on start
    assert httpx.get(f"{url}/flow_runs").json() == {"items": [], "next_cursor": None}
    stopped = server_process.stop(signal.SIGTERM)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.count("\n") == 0, "one line, printed when it started"
    assert "Traceback" not in stopped.stderr


def test_a_killed_server_serves_every_recorded_run_when_started_again(server_process, store):
    reported(3)
    store.writer.flush()
    url = server_process.start()
    [run] = httpx.get(f"{url}/flow_runs").json()["items"]
    server_process.stop(signal.SIGKILL)

    reported(2)
    store.writer.flush()
    url = server_process.start()
    runs = httpx.get(f"{url}/flow_runs").json()["items"]
    assert [r["state"] for r in runs] == ["Completed", "Completed"]
    assert runs[1]["id"] == run["id"]
    assert len(httpx.get(f"{url}/flow_runs/{run['id']}/task_runs").json()["items"]) == 3


def _plait(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PLAIT, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--host", "0.0.0.0"], "--host 0.0.0.0 would let other machines use the API"),
        (["--host", "no-such-host.invalid", "--insecure"], "--host/--port: cannot listen on"),
    ],
)
def test_bad_server_options_are_refused_in_one_line(recorder, args, words):
    result = _plait("server", "start", "--port", "0", *args)
    assert result.returncode == 1
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_port_in_use_is_refused_naming_it(recorder):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _plait("server", "start", "--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "choose another port (--port)" in result.stderr


def test_the_server_marks_a_silent_run_crashed_with_no_one_reading(
    server_process, store_url, monkeypatch
):
    """A flow run whose process on another host stopped sending heartbeats is marked
    Crashed by the server's own sweep: no client read is needed (reads also sweep, so this
    looks at the database directly)."""
    database = Database(store_url)
    database.upgrade()
    run_id, now = str(uuid.uuid4()), datetime.now(UTC)
    elsewhere = ProcessIdentity("elsewhere", 4242, None)
    writer = StoreWriter(database, Spool(load_settings().home / "spool"))
    writer.write_isolating(
        [RunCreated("flow", run_id, "silent", "silent", now),
         StateChanged("flow", run_id, "Running", now)],
        elsewhere,
    )  # fmt: skip
    flow_runs = FlowRunRow.__table__
    with database.writing() as connection:
        connection.execute(
            flow_runs.update()
            .where(flow_runs.c.id == run_id)
            .values(heartbeat=now - timedelta(hours=1))
        )
    monkeypatch.setenv("PLAIT_HEARTBEAT_INTERVAL_SECONDS", "0.1")
    server_process.start()

    deadline = time.monotonic() + 60
    while True:
        with database.reading() as connection:
            state = connection.execute(
                sa.select(flow_runs.c.state_type).where(flow_runs.c.id == run_id)
            ).scalar_one()
        if state == "Crashed" or time.monotonic() > deadline:
            break
        time.sleep(0.05)  # polling the database, with a deadline
    assert state == "Crashed", server_process.stop().stderr
    database.dispose()
