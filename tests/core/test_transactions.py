"""Transactions (``plait.transactions``): the task runs of a ``with transaction():`` block
commit together (cache records written, ``on_commit`` hooks) or roll back together
(``on_rollback`` hooks, persisted results deleted, cache records never written), nested
or keyed, called or submitted, on threads or in worker processes, as in Prefect 3."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from fixtures.api import DEADLINE_SECONDS

from plait import InvalidOptionError, PlaitError, ProcessPoolTaskRunner, flow, task
from plait.caching import INPUTS
from plait.store.database import open_database
from plait.store.schema import CacheRecordRow
from plait.transactions import IsolationLevel, get_transaction, transaction

EVENTS: list[str] = []  # what the hooks saw, in order


@pytest.fixture(autouse=True)
def _fresh_events():
    EVENTS.clear()


@task
def write_file(path: str, contents: str) -> str:
    Path(path).write_text(contents)
    return path


@write_file.on_rollback
def delete_file(txn) -> None:
    os.unlink(txn.get("path"))
    EVENTS.append(f"rolled back {Path(txn.get('path')).name}")


@write_file.on_commit
def confirm(txn) -> None:
    EVENTS.append(f"committed {Path(txn.get('path')).name}")


@task
def quality_test(path: str) -> None:
    if len(Path(path).read_text().splitlines()) < 2:
        raise ValueError("Not enough data!")


@flow
def pipeline(path: str, contents: str) -> None:
    with transaction() as txn:
        txn.set("path", path)
        write_file(path, contents)
        quality_test(path)


def test_a_failure_in_the_block_rolls_back_the_runs_that_completed(tmp_path):
    path = str(tmp_path / "side-effect.txt")

    with pytest.raises(ValueError, match="Not enough data!"):
        pipeline(path, "hello world")
    assert not Path(path).exists()
    assert EVENTS == ["rolled back side-effect.txt"]

    pipeline(path, "hello\nworld")
    assert Path(path).read_text() == "hello\nworld"
    assert EVENTS[1:] == ["committed side-effect.txt"]
    assert get_transaction() is None


@task(cache_policy=INPUTS, persist_result=True)
def extract(day: str) -> list[int]:
    EVENTS.append(f"extracted {day}")
    return [1, 2, 3]


@task
def check(rows: list[int], fail: bool) -> int:
    if fail:
        raise RuntimeError("row count check failed")
    return len(rows)


@flow
def load(day: str, fail: bool) -> int:
    with transaction():
        rows = extract(day)
        assert extract(day) == rows  # the staged cache record serves this transaction
        return check(rows, fail)


def test_a_rollback_deletes_persisted_results_and_writes_no_cache_record(recorder, tmp_path):
    with pytest.raises(RuntimeError, match="row count check failed"):
        load("2026-12-04", fail=True)
    first = [run for run in recorder.task_runs() if run.task_name == "extract"]
    assert [run.state.value for run in first] == ["Completed", "Cached"]
    results = Path(os.environ["PLAIT_HOME"]) / "results"
    assert not (results / first[0].result["path"]).exists(), "the result was deleted"
    logs = [log.message for log in recorder.logs(first[0].flow_run_id)]
    assert "Rolled back with its transaction (RuntimeError: row count check failed)" in logs
    assert _cache_records() == 0, "the cache record of a rolled-back run is never written"

    assert load("2026-12-04", fail=False) == 3  # no cache hit from the rolled-back run
    assert load("2026-12-04", fail=False) == 3  # committed: a hit
    assert EVENTS == ["extracted 2026-12-04", "extracted 2026-12-04"]
    kept = [run for run in recorder.task_runs() if run.task_name == "extract"][2]
    assert (results / kept.result["path"]).exists()
    assert _cache_records() == 1


def _cache_records() -> int:
    with open_database().reading() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(CacheRecordRow)).scalar()


@task
def step(name: str) -> str:
    EVENTS.append(f"ran {name}")
    return name


@step.on_rollback
def undo_step(txn) -> None:
    EVENTS.append(f"undid {txn.get('name')}")


@step.on_commit
def commit_step(txn) -> None:
    EVENTS.append(f"committed {txn.get('name')}")


@task
def broken(name: str) -> None:
    raise ValueError(f"{name} broke")


def test_nested_transactions_take_effect_with_the_outermost():
    @flow
    def nested(fail_outer: bool) -> None:
        with transaction() as outer:
            outer.set("name", "outer")
            with transaction() as inner:
                inner.set("name", "inner")
                step("a")
            assert inner.is_committed()
            assert EVENTS == ["ran a"], "commit hooks wait for the outermost transaction"
            try:
                with transaction() as failing:
                    failing.set("name", "failing")
                    step("b")
                    broken("b")
            except ValueError:
                assert failing.is_rolled_back()
            if fail_outer:
                broken("outer")

    nested(fail_outer=False)
    assert EVENTS == ["ran a", "ran b", "undid failing", "committed inner"]
    EVENTS.clear()
    with pytest.raises(ValueError, match="outer broke"):
        nested(fail_outer=True)
    assert EVENTS == ["ran a", "ran b", "undid failing", "undid inner"]


@flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
def submitted_in_workers() -> None:
    with transaction() as txn:
        txn.set("name", "submitted")
        step.submit("x")
        broken.submit("y")


def test_submitted_runs_are_waited_for_and_one_that_failed_rolls_back_the_rest(recorder):
    with pytest.raises(ValueError, match="y broke"):
        submitted_in_workers()
    assert EVENTS == ["undid submitted"], "the hook runs in the flow's process"
    [x] = [run for run in recorder.task_runs() if run.name.startswith("step")]
    assert x.state.value == "Completed"


@flow
def keyed(key: str) -> str:
    with transaction(key=key) as txn:
        if txn.is_committed():
            return "already done"
        step(key)
        return "done"


def test_a_keyed_transaction_runs_once_and_a_rolled_back_one_records_nothing(store):
    @flow
    def keyed_and_failing(key: str) -> None:
        with transaction(key=key):
            broken(key)

    with pytest.raises(ValueError, match="nightly broke"):
        keyed_and_failing("nightly")
    assert keyed("nightly") == "done"
    assert keyed("nightly") == "already done"
    assert keyed("weekly") == "done"
    assert EVENTS == ["ran nightly", "ran weekly"]


CONTENDER = """
import sys, time
from pathlib import Path
from plait import flow
from plait.transactions import transaction

folder, key = Path(sys.argv[1]), sys.argv[2]

@flow
def contender() -> str:
    (folder / f"{sys.argv[3]}.ready").touch()
    with transaction(key=key, isolation_level="SERIALIZABLE") as txn:
        if txn.is_committed():
            return "skipped"
        deadline = time.monotonic() + 60  # both contend before the winner commits
        while len(list(folder.glob("*.ready"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        return "ran"

print(contender())
"""


def test_serializable_transactions_with_one_key_run_one_at_a_time_across_processes(store, tmp_path):
    script = tmp_path / "contender.py"
    script.write_text(CONTENDER)
    children = [
        subprocess.Popen(
            [sys.executable, str(script), str(tmp_path), "export-2026-12-04", name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ,
        )
        for name in ("first", "second")
    ]
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=DEADLINE_SECONDS * 2)
        assert child.returncode == 0, err
        outputs.append(out.split()[-1])
    assert sorted(outputs) == ["ran", "skipped"]


def test_bad_transaction_arguments_and_hooks_are_refused_by_name():
    with pytest.raises(InvalidOptionError, match="transaction\\(\\): key must be a non-empty"):
        transaction(key="").__enter__()
    with pytest.raises(InvalidOptionError, match="isolation_level must be one of"):
        transaction(isolation_level="EVENTUAL").__enter__()
    with pytest.raises(InvalidOptionError, match="SERIALIZABLE isolation locks"):
        transaction(isolation_level=IsolationLevel.SERIALIZABLE).__enter__()
    with pytest.raises(InvalidOptionError, match=r"on_rollback.*hook\(transaction\)"):
        task(on_rollback="delete_file")(lambda: None)
    with pytest.raises(KeyError, match=r"txn.set\('path', value\)"), transaction() as txn:
        txn.get("path")


def test_transactions_work_in_async_flows_and_say_what_to_await():
    @task
    async def slow(name: str) -> str:
        return name

    @flow
    async def async_pipeline(fail: bool) -> None:
        with transaction() as txn:
            txn.set("name", "async")
            step("a")
            await slow("b")
            if fail:
                broken("c")

    release = threading.Event()

    @task
    def waiting() -> None:
        release.wait(DEADLINE_SECONDS)

    @flow
    async def left_running() -> str:
        try:
            with transaction():
                waiting.submit()
        except PlaitError as exc:
            return str(exc)
        finally:
            release.set()
        return "no error"

    asyncio.run(async_pipeline(fail=False))
    assert EVENTS == ["ran a", "committed async"]
    with pytest.raises(ValueError, match="c broke"):
        asyncio.run(async_pipeline(fail=True))
    assert EVENTS[2:] == ["ran a", "undid async"]
    assert "still running, on an event loop" in asyncio.run(left_running())
