"""Persisted results and task caching, as a user relies on them: where results are written,
how they are read back (state, run store, client), which calls hit the cache, and that
identical work computes once across threads and processes.

Cache records live in the run store, so the tests that depend on it run on SQLite and on a
real PostgreSQL server (the ``store_url`` / ``store`` fixtures). Child processes inherit the
configuration (PLAIT_HOME, PLAIT_DATABASE_URL) through the environment. Nothing waits on a
clock: children say when they are ready, and threads hand over through events.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from fixtures.runs import (
    CACHED_SCRIPT,
    assert_cache_hit_across_processes,
    in_flow,
    run_script,
    write_script,
)

from plait import (
    InvalidOptionError,
    PlaitError,
    ProcessPoolTaskRunner,
    State,
    StateType,
    ThreadPoolTaskRunner,
    flow,
    task,
)
from plait.blocks import LocalFileSystem
from plait.caching import DEFAULT, INPUTS, NO_CACHE, TASK_SOURCE
from plait.exceptions import ParameterError
from plait.results import ResultRef, ResultStore
from plait.serializers import loads_any
from plait.store.database import open_database
from plait.store.schema import CacheRecordRow

cache_records = CacheRecordRow.__table__


# Helpers.


def results_dir() -> Path:
    return Path(os.environ["PLAIT_HOME"]) / "results"


def count_lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture
def task_warnings():
    """Warnings logged on the task-run logger (the ``plait`` logger does not propagate, so
    caplog would not see them)."""
    found: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                found.append(record)

    handler = Collect()
    logger = logging.getLogger("plait.task_runs")
    logger.addHandler(handler)
    yield found
    logger.removeHandler(handler)


def load_module(path: Path, name: str) -> ModuleType:
    """Import the file at ``path`` as a fresh module called ``name`` (two versions of the
    same module, as before and after an edit)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Results.


def test_a_persisted_task_result_is_written_to_plait_home_results():
    @task(persist_result=True)
    def shout(text: str) -> str:
        return text.upper()

    state = in_flow(lambda: shout("hello", return_state=True))

    assert state.type is StateType.COMPLETED
    assert state.result() == "HELLO"
    ref = state.result_ref
    assert ref is not None
    assert ref.storage == results_dir().as_uri()
    stored = results_dir() / ref.path
    assert stored.is_file()
    assert loads_any(stored.read_bytes()) == "HELLO"
    assert ResultRef.from_json(ref.to_json()).load() == "HELLO"  # as another process reads it


def test_results_are_not_persisted_unless_asked():
    @task
    def plain(x: int) -> int:
        return x

    state = in_flow(lambda: plain(1, return_state=True))
    assert state.result() == 1
    assert state.result_ref is None
    assert not (results_dir() / "cache").exists()
    assert not (results_dir() / "task-runs").exists()


def test_the_run_store_records_task_and_flow_results_for_the_client(store):
    @task(persist_result=True)
    def square(x: int) -> int:
        return x * x

    @task
    def unpersisted() -> str:
        return "gone"

    @flow(persist_result=True)
    def squares(n: int) -> list[int]:
        unpersisted()
        return [square(i) for i in range(n)]

    assert squares(3) == [0, 1, 4]

    [run] = store.client.read_flow_runs()
    assert run.result is not None
    assert store.client.read_result(run) == [0, 1, 4]
    task_runs = {t.name: t for t in store.client.read_task_runs(run.id)}
    assert [store.client.read_result(task_runs[f"square-{i}"]) for i in range(3)] == [0, 1, 4]
    with pytest.raises(ParameterError, match="no persisted result"):
        store.client.read_result(task_runs["unpersisted-0"])


def test_a_flow_state_points_at_its_persisted_result():
    @flow(persist_result=True)
    def answer() -> dict:
        return {"answer": 42}

    state = answer(return_state=True)
    assert state.result() == {"answer": 42}
    assert state.result_ref is not None
    assert loads_any((results_dir() / state.result_ref.path).read_bytes()) == {"answer": 42}


def test_choosing_result_storage_or_a_serializer_turns_persistence_on(tmp_path):
    storage = LocalFileSystem(basepath=str(tmp_path / "kept"))

    @task(result_storage=storage)
    def stored() -> int:
        return 1

    @task(result_serializer="json")
    def serialized() -> int:
        return 2

    @task(result_storage=storage, persist_result=False)
    def declined() -> int:
        return 3

    states = in_flow(lambda: [t(return_state=True) for t in (stored, serialized, declined)])
    assert [state.result_ref is not None for state in states] == [True, True, False]
    assert (tmp_path / "kept" / states[0].result_ref.path).exists()


def test_a_result_storage_key_says_where_the_result_goes_and_is_its_cache_key(tmp_path):
    calls: list[str] = []
    storage = LocalFileSystem(basepath=str(tmp_path / "kept"))

    @task(result_storage_key="reports/{parameters[day]}-{flow_run.flow_name}.json",
          result_storage=storage, result_serializer="json")  # fmt: skip
    def report(day: str, verbose: bool = False) -> dict:
        calls.append(day)
        return {"day": day}

    @flow
    def nightly(day: str, verbose: bool = False) -> State:
        return report(day, verbose, return_state=True).name

    assert nightly("2024-01-31") == "Completed"
    assert loads_any((tmp_path / "kept/reports/2024-01-31-nightly.json").read_bytes()) == {
        "day": "2024-01-31"
    }
    assert nightly("2024-01-31", verbose=True) == "Cached", "the same key, in another flow run"
    assert nightly("2024-02-01") == "Completed"
    assert calls == ["2024-01-31", "2024-02-01"]
    assert report.with_options(cache_policy=NO_CACHE)("2024-01-31") == {"day": "2024-01-31"}
    assert calls[-1] == "2024-01-31", "NO_CACHE: written there, never read back"


def test_a_result_store_reads_a_stored_result_by_its_key(tmp_path):
    storage = LocalFileSystem(basepath=str(tmp_path / "kept"))

    @task(result_storage_key="totals/{parameters[day]}", result_storage=storage)
    def total(day: str) -> dict:
        return {"day": day, "total": 7}

    total("2024-01-31")
    store = ResultStore(result_storage=storage)
    assert store.exists("totals/2024-01-31")
    assert store.read("totals/2024-01-31").result == {"day": "2024-01-31", "total": 7}
    assert not store.exists("totals/2024-02-01")
    with pytest.raises(FileNotFoundError):
        store.read("totals/2024-02-01")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{parameters[dya]}.json", "refers to {parameters[dya]}; use {parameters[name]}"),
        ("{flow_run.colour}.json", "refers to {flow_run.colour}"),
        ("/abs/{parameters[day]}", "a relative path template"),
        ("{parameters[day]", "a valid template"),
    ],
)
def test_a_bad_result_storage_key_is_refused_at_decoration(template, message):
    with pytest.raises(InvalidOptionError, match=re.escape(message)):
        task(result_storage_key=template)(lambda day: day)


def test_cache_result_in_memory_false_reads_the_result_back_when_asked(tmp_path):
    @task(cache_result_in_memory=False, result_storage=LocalFileSystem(basepath=str(tmp_path)))
    def rows(n: int) -> list[int]:
        return list(range(n))

    @flow
    def pipeline() -> tuple[list[int], str]:
        kept, dropped = rows(5, return_state=True), rows(6, return_state=True)
        (tmp_path / dropped.result_ref.path).unlink()
        try:
            dropped.result()
        except Exception as exc:  # only the file held it
            return kept.result(), type(exc).__name__
        return kept.result(), "still in memory"

    value, reading_the_deleted_one = pipeline()
    assert value == [0, 1, 2, 3, 4]
    assert reading_the_deleted_one != "still in memory"
    with pytest.raises(InvalidOptionError, match="cache_result_in_memory=False keeps only"):
        task(cache_result_in_memory=False, persist_result=False)(lambda: 1)


def test_persist_by_default_setting_persists_without_the_option(monkeypatch):
    monkeypatch.setenv("PLAIT_RESULTS_PERSIST_BY_DEFAULT", "true")

    @task
    def implicit() -> str:
        return "kept"

    @task(persist_result=False)
    def opted_out() -> str:
        return "not kept"

    kept, skipped = in_flow(lambda: (implicit(return_state=True), opted_out(return_state=True)))

    assert kept.result_ref is not None
    assert loads_any((results_dir() / kept.result_ref.path).read_bytes()) == "kept"
    assert skipped.result() == "not kept"
    assert skipped.result_ref is None


@pytest.mark.parametrize("form", ["block instance", "saved block", "file url"])
def test_result_storage_forms(tmp_path, form):
    basepath = tmp_path / "warehouse"
    storage: Any
    if form == "block instance":
        storage = LocalFileSystem(basepath=str(basepath))
    elif form == "saved block":
        LocalFileSystem(basepath=str(basepath)).save("warehouse")
        storage = "local-file-system/warehouse"
    else:
        storage = basepath.as_uri()

    @task(persist_result=True, result_storage=storage)
    def report(day: str) -> dict:
        return {"day": day, "rows": 3}

    state = in_flow(lambda: report("2026-11-24", return_state=True))

    assert state.result() == {"day": "2026-11-24", "rows": 3}
    stored = basepath / state.result_ref.path
    assert loads_any(stored.read_bytes()) == {"day": "2026-11-24", "rows": 3}
    assert not (results_dir() / "cache").exists()
    assert not (results_dir() / "task-runs").exists()
    elsewhere = ResultRef.from_json(state.result_ref.to_json())  # what the run store keeps
    if form == "block instance":  # unsaved: only code holding the block can read it
        assert elsewhere.storage is None
        with pytest.raises(PlaitError, match="unsaved storage block"):
            elsewhere.load()
    else:
        assert elsewhere.storage == storage
        assert elsewhere.load() == {"day": "2026-11-24", "rows": 3}


def test_an_unknown_storage_scheme_is_a_clear_error_naming_it():
    @task(persist_result=True, result_storage="nope://bucket/results")
    def upload() -> int:
        return 1

    with pytest.raises(PlaitError, match=r"nope://.*known:.*file://"):
        in_flow(lambda: upload())


def test_an_unknown_storage_scheme_ends_the_task_run_failed(recorder):
    @task(persist_result=True, result_storage="nope://bucket/results")
    def upload() -> int:
        return 1

    with pytest.raises(PlaitError, match="nope://"):
        in_flow(lambda: upload())

    [task_run] = recorder.task_runs()
    assert task_run.state == "Failed"
    assert "nope://" in task_run.state_message


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("result_storage", 42),
        ("result_storage", "results"),
        ("result_serializer", "yaml"),
        ("result_serializer", "json+zip"),
        ("cache_policy", "inputs+bogus"),
        ("cache_policy", 42),
        ("cache_expiration", 3600),
        ("cache_expiration", timedelta(0)),
        ("cache_expiration", timedelta(hours=-1)),
        ("persist_result", "yes"),
    ],
)
def test_bad_option_values_fail_at_decoration_naming_the_option(option, value):
    def extract() -> None:
        pass

    with pytest.raises(InvalidOptionError, match=rf"@task 'extract'.*{option}"):
        task(**{option: value})(extract)


def test_caching_cannot_be_asked_for_without_persisted_results():
    def extract() -> None:
        pass

    with pytest.raises(InvalidOptionError, match="persist_result=False"):
        task(cache_policy="inputs", persist_result=False)(extract)
    with pytest.raises(InvalidOptionError, match="result_storage"):
        flow(result_storage=42)(extract)


def test_a_result_the_serializer_cannot_store_fails_the_task_and_the_flow_goes_on(recorder):
    @task(persist_result=True, result_serializer="json")
    def connect() -> dict:
        return {"conn": threading.Lock()}

    @task
    def afterwards() -> str:
        return "still ran"

    @flow
    def pipeline() -> tuple:
        connection = connect(return_state=True)
        return connection.type, connection.message, afterwards()

    state_type, message, later = pipeline()

    assert state_type is StateType.FAILED
    assert "Task 'connect'" in message
    assert "'_thread.lock'" in message
    assert "result['conn']" in message
    assert later == "still ran"
    assert [run.state for run in recorder.task_runs()] == ["Failed", "Completed"]
    assert recorder.flow_runs()[0].state == "Completed"


def test_json_gzip_results_round_trip_through_storage():
    value = {
        "when": datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
        "pair": (1, "two"),
        "tags": {"a", "b"},
        "amount": Decimal("12.50"),
        "blob": b"\x00\xff",
    }

    @task(cache_policy="inputs", result_serializer="json+gzip")
    def build(key: str) -> dict:
        return value

    first = build("k", return_state=True)
    again = build("k", return_state=True)  # read back from storage, not from memory

    assert first.result_ref.serializer == "json+gzip"
    data = (results_dir() / first.result_ref.path).read_bytes()
    assert data.startswith(b"plait:json:gzip\n")
    assert again.type is StateType.CACHED
    assert again.result() == value
    assert type(again.result()["pair"]) is tuple


def test_changing_the_serializer_keeps_cached_results_readable():
    @task(cache_policy="inputs")
    def build(key: str) -> dict:
        return {"key": key}

    assert build("k") == {"key": "k"}
    as_json = build.with_options(result_serializer="json")
    assert as_json("k") == {"key": "k"}


# Caching.


def test_a_cache_hit_ends_cached_without_running_the_body(store):
    calls: list[int] = []

    @task(cache_policy="inputs")
    def double(x: int) -> dict:
        calls.append(x)
        return {"doubled": 2 * x}

    @flow
    def pipeline() -> None:
        states.extend(double(x, return_state=True) for x in (21, 21, 5))

    states: list[Any] = []
    pipeline()

    first, hit, other = states
    assert [s.type for s in states] == [StateType.COMPLETED, StateType.CACHED, StateType.COMPLETED]
    assert calls == [21, 5]
    assert hit.result() == {"doubled": 42}
    assert hit.result_ref.path == first.result_ref.path
    assert other.result() == {"doubled": 10}

    [run] = store.client.read_flow_runs()
    task_runs = store.client.read_task_runs(run.id)
    assert [t.state for t in task_runs] == [
        StateType.COMPLETED,
        StateType.CACHED,
        StateType.COMPLETED,
    ]
    assert [s.type for s in task_runs[1].states] == [StateType.PENDING, StateType.CACHED]
    assert store.client.read_result(task_runs[1]) == {"doubled": 42}


def test_the_inputs_policy_hits_across_flow_runs(backend_mode):
    calls: list[str] = []

    @task(cache_policy="inputs")
    def fetch(url: str) -> str:
        calls.append(url)
        return f"<html>{url}</html>"

    first = in_flow(lambda: fetch("https://example.org", return_state=True))
    second = in_flow(lambda: fetch("https://example.org", return_state=True))

    assert first.type is StateType.COMPLETED
    assert second.type is StateType.CACHED
    assert second.result() == "<html>https://example.org</html>"
    assert calls == ["https://example.org"]


def test_the_default_policy_caches_within_a_flow_run_only(store_url):
    calls: list[int] = []

    @task(persist_result=True)
    def load(x: int) -> list[int]:
        calls.append(x)
        return [x] * 3

    first_run = in_flow(lambda: [load(1, return_state=True), load(1, return_state=True)])
    second_run = in_flow(lambda: [load(1, return_state=True)])

    assert [s.type for s in first_run] == [StateType.COMPLETED, StateType.CACHED]
    assert first_run[1].result() == [1, 1, 1]
    assert [s.type for s in second_run] == [StateType.COMPLETED]  # another flow run: RUN_ID
    assert calls == [1, 1]


def test_a_cache_hit_across_processes(tmp_path, backend_mode, child_env):
    assert_cache_hit_across_processes(tmp_path, child_env)


def test_an_expired_cache_entry_is_recomputed(store_url):
    calls: list[int] = []

    @task(cache_policy="inputs", cache_expiration=timedelta(hours=1))
    def rates(currency: str) -> int:
        calls.append(1)
        return len(calls)  # a new value each time the body runs

    assert in_flow(lambda: rates("EUR")) == 1
    database = open_database()
    with database.reading() as connection:
        [record] = connection.execute(sa.select(cache_records)).all()
    assert record.expires - record.created == timedelta(hours=1)
    assert in_flow(lambda: rates("EUR", return_state=True)).type is StateType.CACHED

    with database.writing() as connection:  # the hour has passed
        connection.execute(
            cache_records.update().values(expires=datetime.now(UTC) - timedelta(seconds=1))
        )
    recomputed = in_flow(lambda: rates("EUR", return_state=True))
    hit = in_flow(lambda: rates("EUR", return_state=True))

    assert recomputed.type is StateType.COMPLETED
    assert recomputed.result() == 2
    assert hit.type is StateType.CACHED
    assert hit.result() == 2
    assert len(calls) == 2


TASK_V1 = """
from plait import task
from plait.caching import INPUTS, TASK_SOURCE

@task(cache_policy=INPUTS + TASK_SOURCE)
def transform(x: int) -> str:
    return f"v1:{x}"

@task(cache_policy="inputs")
def inputs_only(x: int) -> str:
    return f"v1:{x}"
"""


def test_editing_a_task_invalidates_the_task_source_policy(tmp_path):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    (tmp_path / "v1" / "etl_steps.py").write_text(TASK_V1)
    (tmp_path / "v2" / "etl_steps.py").write_text(TASK_V1.replace('f"v1:', 'f"v2:'))
    before = load_module(tmp_path / "v1" / "etl_steps.py", "etl_steps")
    after = load_module(tmp_path / "v2" / "etl_steps.py", "etl_steps")
    assert before.transform.fn.__qualname__ == after.transform.fn.__qualname__

    assert before.transform(1) == "v1:1"
    assert before.transform(1, return_state=True).type is StateType.CACHED
    edited = after.transform(1, return_state=True)
    assert edited.type is StateType.COMPLETED
    assert edited.result() == "v2:1"
    assert before.transform(1, return_state=True).result() == "v1:1"  # old entry kept

    assert before.inputs_only(1) == "v1:1"
    stale = after.inputs_only(1, return_state=True)  # INPUTS alone ignores the code
    assert stale.type is StateType.CACHED
    assert stale.result() == "v1:1"


def test_policy_names_and_objects_are_the_same_policy():
    calls: list[int] = []

    def enrich(x: int) -> int:
        calls.append(x)
        return x + 100

    by_name = task(cache_policy="inputs + task_source")(enrich)
    by_object = by_name.with_options(cache_policy=INPUTS + TASK_SOURCE)

    assert by_name(1) == 101
    hit = by_object(1, return_state=True)
    assert hit.type is StateType.CACHED
    assert hit.result() == 101
    assert calls == [1]


def test_subtracting_a_parameter_leaves_it_out_of_the_cache_key():
    calls: list[tuple[str, bool]] = []

    @task(cache_policy=INPUTS - "debug" - "connection")
    def load(table: str, debug: bool = False, connection: object = None) -> str:
        calls.append((table, debug))
        return f"rows of {table}"

    unhashable = threading.Lock()  # left out, so it need not be hashable
    assert load("users", connection=unhashable) == "rows of users"
    hit = load("users", debug=True, connection=unhashable, return_state=True)
    assert (hit.type, hit.result()) == (StateType.CACHED, "rows of users")
    assert load("orders", connection=unhashable) == "rows of orders"
    assert calls == [("users", False), ("orders", False)]
    assert repr(DEFAULT - "debug") == "INPUTS - 'debug' + TASK_SOURCE + RUN_ID"
    with pytest.raises(InvalidOptionError, match="TASK_SOURCE does not hash the inputs"):
        TASK_SOURCE - "debug"


def test_refresh_cache_recomputes_and_later_calls_hit_the_new_value():
    calls: list[int] = []

    @task(cache_policy="inputs")
    def snapshot(table: str) -> int:
        calls.append(1)
        return len(calls)

    refreshing = snapshot.with_options(refresh_cache=True)

    assert snapshot("users") == 1
    refreshed = refreshing("users", return_state=True)
    assert refreshed.type is StateType.COMPLETED
    assert refreshed.result() == 2
    hit = snapshot("users", return_state=True)
    assert hit.type is StateType.CACHED
    assert hit.result() == 2
    assert len(calls) == 2


def test_a_cache_key_fn_chooses_what_makes_calls_the_same():
    calls: list[tuple[str, int]] = []

    def by_table(context: Any, parameters: dict) -> str | None:
        return None if parameters["table"] == "live" else f"table:{parameters['table']}"

    @task(cache_key_fn=by_table)
    def row_count(table: str, connection_id: int) -> str:
        calls.append((table, connection_id))
        return f"{table} via {connection_id}"

    @task(cache_key_fn=by_table)
    def other_task(table: str, connection_id: int) -> str:
        calls.append(("other", connection_id))
        return "other"

    assert row_count("users", 1) == "users via 1"
    assert row_count("users", 2) == "users via 1"  # connection_id is not part of the key
    assert row_count("orders", 1) == "orders via 1"
    assert row_count("live", 1) == "live via 1"
    assert row_count("live", 1, return_state=True).type is StateType.COMPLETED  # None: uncached
    assert other_task("users", 3) == "users via 1"  # key_fn keys are shared between tasks
    assert calls == [("users", 1), ("orders", 1), ("live", 1), ("live", 1)]


def test_the_flow_parameters_policy_keys_on_the_flow_runs_parameters():
    calls: list[str] = []

    @task(cache_policy="flow_parameters")
    def summary() -> int:
        calls.append("ran")
        return len(calls)

    @flow
    def daily(day: str) -> int:
        return summary()

    assert daily("2026-11-23") == 1
    assert daily("2026-11-23") == 1
    assert daily("2026-11-24") == 2
    assert len(calls) == 2


def test_no_cache_always_runs_and_can_still_persist():
    calls: list[int] = []

    @task(cache_policy=NO_CACHE, persist_result=True)
    def fresh(x: int) -> int:
        calls.append(x)
        return x

    states = in_flow(lambda: [fresh(1, return_state=True) for _ in range(2)])

    assert [s.type for s in states] == [StateType.COMPLETED, StateType.COMPLETED]
    assert calls == [1, 1]
    assert states[0].result_ref is not None
    assert states[0].result_ref.path != states[1].result_ref.path


def test_a_failed_run_is_not_cached_and_a_deleted_result_is_recomputed():
    attempts: list[int] = []

    @task(cache_policy="inputs")
    def flaky(x: int) -> int:
        attempts.append(x)
        if len(attempts) == 1:
            raise ConnectionError("warehouse down")
        return len(attempts)

    with pytest.raises(ConnectionError):
        flaky(1)
    assert flaky(1) == 2
    hit = flaky(1, return_state=True)
    assert hit.type is StateType.CACHED

    (results_dir() / hit.result_ref.path).unlink()  # someone cleaned the results folder
    recomputed = flaky(1, return_state=True)
    assert recomputed.type is StateType.COMPLETED
    assert recomputed.result() == 3


class Unpicklable:
    def __reduce__(self):
        raise TypeError("a live connection cannot be pickled")


def test_unhashable_inputs_warn_once_per_task_and_run_uncached(tmp_path, task_warnings):
    calls: list[str] = []
    unique = tmp_path.name  # warnings are once per task name per process

    @task(cache_policy="inputs", name=f"stream_{unique}")
    def consume(items: Any) -> int:
        calls.append("consume")
        return sum(items)

    @task(cache_policy="inputs", name=f"query_{unique}")
    def query(connection: Any, sql: str) -> str:
        calls.append("query")
        return sql

    states = in_flow(
        lambda: [
            consume((i for i in range(3)), return_state=True),
            consume((i for i in range(3)), return_state=True),
            query(Unpicklable(), "select 1", return_state=True),
            query(Unpicklable(), "select 1", return_state=True),
        ]
    )

    assert [s.type for s in states] == [StateType.COMPLETED] * 4
    assert [s.result() for s in states] == [3, 3, "select 1", "select 1"]
    assert calls == ["consume", "consume", "query", "query"]
    messages = [record.getMessage() for record in task_warnings]
    assert len(messages) == 2, messages
    assert f"'stream_{unique}' runs uncached" in messages[0]
    assert "generator" in messages[0]
    assert f"'query_{unique}' runs uncached" in messages[1]
    assert "cannot be pickled" in messages[1]


def test_identical_submissions_in_threads_compute_once(backend_mode):
    calls: list[int] = []
    lock = threading.Lock()

    @task(cache_policy="inputs")
    def expensive(x: int) -> dict:
        with lock:
            calls.append(x)
            return {"x": x, "computed_by_call": len(calls)}

    states: list[Any] = []

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=8))
    def fan_out() -> None:
        expensive(0)  # the process has used the cache before: see the test below for why
        futures = [expensive.submit(7) for _ in range(8)]
        for future in futures:
            future.wait()
            states.append(future.state)

    fan_out()

    assert calls == [0, 7]
    assert [s.result() for s in states] == [{"x": 7, "computed_by_call": 2}] * 8
    assert sorted(s.name for s in states) == ["Cached"] * 7 + ["Completed"]


def test_identical_calls_on_the_first_use_of_the_cache_compute_once(tmp_path, monkeypatch):
    def executions_on_a_fresh_store(home: Path) -> int:
        monkeypatch.setenv("PLAIT_HOME", str(home))
        calls: list[int] = []
        start = threading.Barrier(8)

        @task(cache_policy="inputs")
        def expensive(x: int) -> int:
            calls.append(x)
            return x

        def call() -> None:
            start.wait(timeout=60)
            expensive(7)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        return len(calls)

    # Five fresh stores: with the bug, the race is lost almost every time.
    executions = [executions_on_a_fresh_store(tmp_path / f"home-{n}") for n in range(5)]
    assert executions == [1] * 5


def test_identical_runs_in_two_processes_at_once_compute_once(tmp_path, backend_mode, child_env):
    open_database()  # the schema exists before they start, as in production
    script = write_script(tmp_path, CACHED_SCRIPT)
    executions = tmp_path / "executions"
    children = [
        subprocess.Popen(
            [sys.executable, str(script), str(executions), "wait"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env,
        )
        for _ in range(2)
    ]
    for child in children:
        line = child.stdout.readline()
        assert line == "ready\n", line + child.stderr.read()
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    outputs = []
    for child in children:
        stdout, stderr = child.communicate(timeout=120)
        assert child.returncode == 0, stderr
        outputs.append(stdout.split())

    assert count_lines(executions) == 1
    assert sorted(outputs) == [["Cached", "42"], ["Completed", "42"]]


def test_a_cached_task_on_a_process_pool_hits_on_the_next_flow_run(
    tmp_path, monkeypatch, bytecode_cache
):
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(bytecode_cache))  # workers are spawned
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    executions = tmp_path / "executions"

    @task(cache_policy="inputs")
    def heavy(x: int) -> int:
        with open(executions, "a") as file:
            file.write(f"{os.getpid()}\n")
        return x**2

    states: list[Any] = []

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def on_processes() -> None:
        future = heavy.submit(12)
        future.wait()
        states.append(future.state)

    on_processes()
    on_processes()

    assert [s.name for s in states] == ["Completed", "Cached"]
    assert [s.result() for s in states] == [144, 144]
    assert count_lines(executions) == 1
    assert executions.read_text().split()[0] != str(os.getpid())  # it ran in a worker


# Cache keys that are wrong: each of these is an engine bug (see the reasons).


def test_tasks_with_the_same_name_in_different_modules_do_not_share_cache_entries(tmp_path):
    source = (
        'from plait import task\n\n@task(cache_policy="inputs")\ndef load(x):\n    return "{}"\n'
    )
    (tmp_path / "sales.py").write_text(source.format("sales"))
    (tmp_path / "hr.py").write_text(source.format("hr"))
    sales = load_module(tmp_path / "sales.py", "sales")
    hr = load_module(tmp_path / "hr.py", "hr")

    assert sales.load(1) == "sales"
    assert hr.load(1) == "hr"


def test_inputs_of_different_types_are_different_cache_keys():
    @task(cache_policy="inputs")
    def describe(value: Any) -> str:
        return repr(value)

    assert describe((1, 2)) == "(1, 2)"
    assert describe([1, 2]) == "[1, 2]"
    assert describe({1: "a"}) == "{1: 'a'}"
    assert describe({"1": "a"}) == "{'1': 'a'}"


def test_set_inputs_hit_across_processes(tmp_path, child_env):
    script = write_script(
        tmp_path,
        """
        import sys
        from plait import task

        @task(cache_policy="inputs")
        def tables(names: set) -> list:
            with open(sys.argv[1], "a") as executions:
                executions.write("ran\\n")
            return sorted(names)

        print(tables({"users", "orders", "invoices", "payments", "refunds"}))
        """,
    )
    executions = tmp_path / "executions"
    for seed in ("1", "2"):  # every Python process has its own seed unless one is fixed
        run_script(script, str(executions), env={**child_env, "PYTHONHASHSEED": seed})
    assert count_lines(executions) == 1


class PausingStorage:
    """Local result storage that can hold the next ``exists`` check (after it has looked)
    until the test lets it go: a way to interleave two identical runs exactly."""

    def __init__(self, basepath: Path) -> None:
        self.files = LocalFileSystem(basepath=str(basepath))
        self.hold: threading.Event | None = None
        self.holding = threading.Event()

    def read_path(self, path: str) -> bytes:
        return self.files.read_path(path)

    def write_path(self, path: str, content: bytes) -> str:
        return self.files.write_path(path, content)

    def exists(self, path: str) -> bool:
        found = self.files.exists(path)
        hold, self.hold = self.hold, None
        if hold is not None:
            self.holding.set()
            hold.wait(timeout=10)
        return found


def test_a_run_that_missed_just_before_another_finished_reuses_its_result(tmp_path):
    storage = PausingStorage(tmp_path / "results")
    calls: list[int] = []

    @task(cache_policy="inputs", result_storage=storage)
    def compute(x: int) -> int:
        calls.append(x)
        return x * 10

    first = compute(1, return_state=True)
    (tmp_path / "results" / first.result_ref.path).unlink()  # the result is gone: recompute

    storage.hold = resume = threading.Event()
    late: list[Any] = []
    worker = threading.Thread(target=lambda: late.append(compute(1, return_state=True)))
    worker.start()
    assert storage.holding.wait(timeout=60)  # the worker has looked and found nothing
    other = compute(1, return_state=True)  # meanwhile another run computes and stores it
    resume.set()
    worker.join(timeout=60)

    assert calls == [1, 1]  # computed once more after the deletion, not twice
    assert sorted([other.name, late[0].name]) == ["Cached", "Completed"]
    assert other.result() == late[0].result() == 10
