"""The spool: events that cannot be saved yet wait on disk and are saved later, once each.

A writer whose queue is full, or whose store cannot be reached, keeps events in spool
segments under ``$PLAIT_HOME/spool``; they are saved when the store takes writes again: by
the same process, by the next process that records runs there, or by ``plait db replay``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from fixtures.runs import read_only
from typer.testing import CliRunner

from plait import StateType, flow, task
from plait.cli import app
from plait.client import get_client
from plait.journal import MemoryRecorder, set_recorder
from plait.settings import load_settings
from plait.store.database import close_databases, open_database
from plait.store.writer import StoreRecorder


@task
def double(x: int) -> int:
    return 2 * x


@flow
def doubles(n: int) -> list[int]:
    return [f.result() for f in double.map(range(n))]


def _recorded_events(n: int) -> MemoryRecorder:
    """The events of a real flow run with ``n`` task runs."""
    recorder = MemoryRecorder()
    previous = set_recorder(recorder)
    try:
        assert doubles(n) == [2 * i for i in range(n)]
    finally:
        set_recorder(previous)
    return recorder


def _stuck_writer(store_url: str) -> StoreRecorder:
    """A writer for the store at ``store_url`` (its schema in place) that cannot write."""
    open_database(store_url)
    return StoreRecorder(read_only(store_url), load_settings())


def _segments(home: Path) -> list[Path]:
    return sorted((home / "spool").glob("events-*.jsonl"))


def _assert_saved_once(memory: MemoryRecorder) -> None:
    """Every run of ``memory`` is in the store with exactly its recorded states."""
    client = get_client()
    [flow_run] = memory.runs("flow")
    stored = client.read_flow_run(flow_run.id)
    assert stored.state is StateType.COMPLETED
    assert [s.type for s in stored.states] == [s.type for s in flow_run.states]
    task_runs = {t.id: t for t in client.read_task_runs(flow_run.id)}
    assert len(task_runs) == len(memory.runs("task"))
    for recorded in memory.runs("task"):
        assert [s.type for s in task_runs[recorded.id].states] == [s.type for s in recorded.states]
        assert (task_runs[recorded.id].map_index, task_runs[recorded.id].map_id) == (
            recorded.map_index,
            recorded.map_id,
        )
    assert len({t.map_id for t in task_runs.values()} - {None}) == 1  # one .map call


def test_events_past_the_queue_limit_are_spooled_then_saved_once_by_the_next_writer(
    store_url, monkeypatch
):
    memory = _recorded_events(40)  # about 160 events
    monkeypatch.setenv("PLAIT_WRITER_QUEUE_LIMIT", "25")
    settings = load_settings()
    stuck = _stuck_writer(store_url)
    for event in memory.events:
        stuck.record(event)
    stuck.close()
    assert len(_segments(settings.home)) == 2  # the queue, ahead of what overflowed it

    writer = StoreRecorder(store_url, settings)
    replayed = writer.replay_spool()
    writer.close()
    assert (replayed.segments, replayed.events) == (2, len(memory.events))
    assert _segments(settings.home) == []
    _assert_saved_once(memory)


def test_a_replay_cut_short_after_its_commit_is_not_saved_twice(store_url, tmp_path):
    memory = _recorded_events(5)
    settings = load_settings()
    stuck = _stuck_writer(store_url)
    stuck.record_many(memory.events)
    stuck.close()
    [segment] = _segments(settings.home)
    copy = shutil.copy(segment, tmp_path / "copy")

    writer = StoreRecorder(store_url, settings)
    assert writer.replay_spool().events == len(memory.events)
    shutil.copy(copy, segment)  # as if killed after the commit, before deleting the file
    writer.close()
    again = StoreRecorder(store_url, settings)
    assert again.replay_spool().events == 0
    again.close()
    assert _segments(settings.home) == []
    _assert_saved_once(memory)


def test_a_segment_being_written_by_a_live_process_is_not_replayed(store_url):
    settings = load_settings()
    stuck = _stuck_writer(store_url)
    stuck.record_many(_recorded_events(3).events)
    stuck._spool_queue()  # the queue, on disk and still locked by its writer
    other = StoreRecorder(store_url, settings)
    assert other.replay_spool().segments == 0
    assert len(_segments(settings.home)) == 1
    other.close()
    stuck.close()


def test_a_writer_that_falls_behind_catches_up_from_its_own_spool(postgres_server, monkeypatch):
    url = postgres_server.create_database()
    monkeypatch.setenv("PLAIT_DATABASE_URL", url)
    monkeypatch.setenv("PLAIT_WRITER_QUEUE_LIMIT", "20")
    monkeypatch.setenv("PLAIT_WRITER_INTERVAL_SECONDS", "0.05")
    settings = load_settings()
    writer = StoreRecorder(url, settings)
    name = sa.engine.make_url(url).database
    admin = postgres_server.admin()
    admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    admin.execute(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    )
    memory = _recorded_events(30)
    previous = set_recorder(writer)
    try:
        writer.record_many(memory.events)
        assert len(_segments(settings.home)) == 1, "past the limit, events wait on disk"
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        deadline = time.monotonic() + 60
        while _segments(settings.home) and time.monotonic() < deadline:
            writer._wake.set()
            writer.flush()
        assert _segments(settings.home) == []
        writer.record_many(_recorded_events(1).events)
        assert not writer._spilling, "caught up: back to the in-memory queue"
    finally:
        set_recorder(previous)
        writer.close()
        admin.close()
    _assert_saved_once(memory)


CHILD = """
import sys
from plait import flow, task, journal

@task
def step(i: int) -> int:
    return i

@flow
def offline(n: int) -> int:
    total = sum(step(i) for i in range(n))
    if "--block" in sys.argv:
        journal.flush()
        print("ready", flush=True)
        sys.stdin.readline()  # until the test kills this process
    return total

print(offline(3))
"""


def _run_child(tmp_path: Path, *args: str, url: str) -> subprocess.Popen:
    script = tmp_path / "offline.py"
    script.write_text(textwrap.dedent(CHILD))
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PLAIT_DATABASE_URL": url},
    )


@pytest.fixture
def unreachable(postgres_server, recorder, monkeypatch):
    """A PostgreSQL URL whose database does not exist yet; ``create()`` makes it."""
    database = f"later_{os.getpid()}_{time.monotonic_ns()}"
    url = postgres_server.url(database)
    monkeypatch.setenv("PLAIT_DATABASE_URL", url)

    class Unreachable:
        def __init__(self) -> None:
            self.url = url

        def create(self) -> None:
            with postgres_server.admin() as admin:
                admin.execute(f'CREATE DATABASE "{database}"')

    yield Unreachable()
    close_databases()


def test_a_flow_runs_while_its_store_is_unreachable_and_is_saved_later(tmp_path, unreachable):
    child = _run_child(tmp_path, url=unreachable.url)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert out.strip() == "3", "the flow's own result never depends on the store"
    assert "Cannot open the run store at postgresql+psycopg://plait@127.0.0.1" in err
    for words in ("OperationalError", "does not exist", "PLAIT_DATABASE_URL", "plait db replay"):
        assert words in err
    assert len(_segments(load_settings().home)) == 1

    unreachable.create()
    result = CliRunner().invoke(app, ["db", "replay"])
    assert result.exit_code == 0, result.output
    assert "from 1 spool segments" in result.output
    [run] = get_client().read_flow_runs()
    assert (run.flow_name, run.state) == ("offline", StateType.COMPLETED)
    assert sorted(t.name for t in get_client().read_task_runs(run.id)) == [
        "step-0",
        "step-1",
        "step-2",
    ]
    assert CliRunner().invoke(app, ["db", "replay"]).output.startswith("Saved 0 events from 0")


def test_a_killed_offline_run_is_saved_by_the_next_process_and_marked_crashed(
    tmp_path, unreachable
):
    child = _run_child(tmp_path, "--block", url=unreachable.url)
    assert child.stdout.readline() == "ready\n"
    child.kill()
    child.communicate(timeout=60)

    unreachable.create()
    later = _run_child(tmp_path, url=unreachable.url)  # records runs: replays what was left
    _, err = later.communicate(timeout=120)
    assert later.returncode == 0, err
    assert _segments(load_settings().home) == []
    runs = {r.id: r for r in get_client().read_flow_runs()}
    assert sorted(r.state for r in runs.values()) == [StateType.COMPLETED, StateType.CRASHED]
    [killed] = [r for r in runs.values() if r.state is StateType.CRASHED]
    assert f"pid {child.pid}" in killed.state_message
