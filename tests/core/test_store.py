"""The run store, read back through ``plait.client``: every test runs on SQLite and on a real
PostgreSQL server."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from plait import (
    ProcessPoolTaskRunner,
    StateType,
    flow,
    get_run_context,
    get_run_logger,
    task,
)
from plait.client import get_client
from plait.exceptions import ParameterError, RunNotFoundError
from plait.store.database import Database, head_revision
from plait.store.schema import FlowRunRow

flow_runs = FlowRunRow.__table__


@task
def double(x: int) -> int:
    return 2 * x


@task
def add(values: list[int]) -> int:
    return sum(values)


@task
def explode(x: int) -> int:
    raise ValueError(f"bad input {x}")


def test_a_flow_run_is_recorded_with_its_task_runs_and_states(store):
    @flow(tags=["nightly"])
    def pipeline(n: int, label: str = "x") -> int:
        get_run_logger().info("summing %d numbers", n)
        return add(double.map(range(n))).bit_length()

    assert pipeline(5, label="demo") == 5  # sum(0, 2, 4, 6, 8) = 20 -> 5 bits

    [run] = store.client.read_flow_runs(flow_name="pipeline")
    assert run.state is StateType.COMPLETED
    assert run.parameters == {"n": 5, "label": "demo"}
    assert run.tags == ("nightly",)
    assert [s.type for s in store.client.read_flow_run(run.id).states] == [
        StateType.PENDING,
        StateType.RUNNING,
        StateType.COMPLETED,
    ]
    assert run.start_time <= run.end_time
    assert run.duration >= 0
    task_runs = store.client.read_task_runs(run.id)
    assert [t.name for t in task_runs] == [f"double-{i}" for i in range(5)] + ["add-0"]
    assert [t.map_index for t in task_runs[:5]] == [0, 1, 2, 3, 4]
    assert all(t.state is StateType.COMPLETED and t.run_count == 1 for t in task_runs)
    assert all(len(t.states) == 3 for t in task_runs)
    messages = [line.message for line in store.client.read_logs(run.id)]
    assert "summing 5 numbers" in messages


def test_the_task_graph_has_edges_from_arguments_and_wait_for(store):
    @flow
    def diamond() -> int:
        a = double.submit(1)
        b = double.submit(a)
        c = double.submit(a)
        d = add.submit([b, c])
        e = double.submit(5, wait_for=[d])
        return e.result()

    diamond()
    [run] = store.client.read_flow_runs()
    graph = store.client.read_task_graph(run.id[:13])
    by_name = {t.name: t for t in graph.task_runs}
    ids = {name: t.id for name, t in by_name.items()}
    assert set(graph.edges) == {
        (ids["double-0"], ids["double-1"]),
        (ids["double-0"], ids["double-2"]),
        (ids["double-1"], ids["add-0"]),
        (ids["double-2"], ids["add-0"]),
        (ids["add-0"], ids["double-3"]),
    }
    assert [t.name for t in graph.roots()] == ["double-0"]
    assert {t.name for t in graph.downstream(ids["double-0"])} == {"double-1", "double-2"}


def test_a_failure_is_recorded_with_its_traceback_and_retries(store):
    attempts = []

    @task(retries=2, retry_delay_seconds=0)
    def flaky() -> None:
        attempts.append(1)
        raise ValueError("the warehouse is closed")

    @flow
    def failing() -> None:
        flaky()

    with pytest.raises(ValueError, match="warehouse"):
        failing()

    [run] = store.client.read_flow_runs(state="failed")
    assert run.state is StateType.FAILED
    assert "the warehouse is closed" in run.state_message
    detail = store.client.read_flow_run(run.id).failure.detail
    assert "Traceback" in detail
    assert "ValueError: the warehouse is closed" in detail
    [task_run] = store.client.read_task_runs(run.id)
    assert task_run.run_count == 3
    assert [s.type.value for s in task_run.states] == [
        "Pending", "Running", "Retrying", "Running", "Retrying", "Running", "Failed",
    ]  # fmt: skip
    assert "line" in task_run.failure.detail  # a real traceback, with file and line
    errors = [log for log in store.client.read_logs(run.id) if log.level == logging.ERROR]
    assert any("ValueError" in log.message for log in errors)


def test_runs_are_saved_even_when_a_flow_fails_on_bad_parameters(store):
    @flow
    def typed(n: int) -> int:
        return n

    with pytest.raises(ParameterError):
        typed("not a number")
    [run] = store.client.read_flow_runs()
    assert run.state is StateType.FAILED
    assert "n" in run.state_message


def test_process_pool_task_runs_are_recorded_by_the_flow_process(store):
    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def in_processes() -> list[int]:
        return double.map(range(4)).result()

    assert in_processes() == [0, 2, 4, 6]
    [run] = store.client.read_flow_runs()
    task_runs = store.client.read_task_runs(run.id)
    assert len(task_runs) == 4
    assert all(t.state is StateType.COMPLETED for t in task_runs)
    assert all([s.type.value for s in t.states] == ["Pending", "Running", "Completed"]
               for t in task_runs)  # fmt: skip


def test_subflow_runs_point_at_their_parent(store):
    @flow
    def child() -> int:
        return double(2)

    @flow
    def parent() -> int:
        return child() + 1

    assert parent() == 5
    runs = {r.flow_name: r for r in store.client.read_flow_runs()}
    assert runs["child"].parent_flow_run_id == runs["parent"].id
    assert runs["parent"].parent_flow_run_id is None


def test_reading_filters_and_limits_and_orders_newest_first(store):
    @flow
    def ok(i: int) -> int:
        return i

    @flow
    def bad() -> None:
        raise RuntimeError("no")

    for i in range(3):
        ok(i)
    with pytest.raises(RuntimeError):
        bad()

    assert [r.parameters["i"] for r in store.client.read_flow_runs(flow_name="ok")] == [2, 1, 0]
    assert len(store.client.read_flow_runs(limit=2)) == 2
    assert [r.flow_name for r in store.client.read_flow_runs(state=StateType.FAILED)] == ["bad"]
    with pytest.raises(ParameterError, match="Unknown state 'Exploded'"):
        store.client.read_flow_runs(state="Exploded")
    with pytest.raises(ParameterError, match="limit must be from 1 to 10,000; got 0"):
        store.client.read_flow_runs(limit=0)


def test_run_ids_are_accepted_as_unique_prefixes(store):
    @flow
    def one() -> None:
        pass

    one()
    one()
    first, second = store.client.read_flow_runs()
    common = 0
    while first.id[common] == second.id[common]:
        common += 1
    assert store.client.read_flow_run(first.id[: common + 1]).id == first.id
    with pytest.raises(ParameterError, match="several flow run ids"):
        store.client.read_flow_run(first.id[:common])
    with pytest.raises(RunNotFoundError, match="plait flow-run ls"):
        store.client.read_flow_run("ffffffff")


def test_a_running_flow_run_of_this_process_stays_running_and_keeps_a_heartbeat(store):
    seen = {}

    @task
    def look() -> None:
        from plait import journal

        run_id = get_run_context().task_run.flow_run_id
        journal.flush()
        before = store.client.read_flow_run(run_id)
        store.writer.heartbeat()
        after = store.client.read_flow_run(run_id)
        seen.update(state=before.state, before=before.heartbeat, after=after.heartbeat)

    @flow
    def watched() -> None:
        look()

    watched()
    assert seen["state"] is StateType.RUNNING
    assert seen["after"] > seen["before"]


def test_retention_deletes_finished_runs_with_everything_about_them(store):
    @flow
    def old() -> int:
        get_run_logger().info("old news")
        return add([double(1), double(2)])

    old()
    [run] = store.client.read_flow_runs()
    assert store.client.delete_flow_runs(older_than=timedelta(days=1)) == 0
    assert store.client.delete_flow_runs(older_than=timedelta(0)) == 1
    assert store.client.read_flow_runs() == []
    database = Database(store.url)
    with database.reading() as connection:
        for table in ("flow_runs", "task_runs", "run_states", "task_run_upstream", "logs"):
            assert connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == 0
    database.dispose()
    with pytest.raises(RunNotFoundError):
        store.client.read_task_runs(run.id)


def test_head_revision_is_alembics_newest_migration():
    from alembic.script import ScriptDirectory

    from plait.store.database import MIGRATIONS

    assert head_revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()


def test_migrations_build_the_schema_on_an_empty_database(store_url):
    database = Database(store_url)
    assert database.current_revision() is None
    database.upgrade()
    assert database.current_revision() == head_revision()
    tables = set(sa.inspect(database.engine).get_table_names())
    assert {"flows", "flow_runs", "task_runs", "run_states", "task_run_upstream", "logs"} <= tables
    database.upgrade()  # idempotent
    assert database.current_revision() == head_revision()
    database.dispose()


def test_a_store_at_an_older_revision_is_upgraded_when_opened(store_url):
    from alembic import command

    from plait.store.database import _alembic_config, open_database

    older = Database(store_url)
    older.upgrade()
    with older.writing() as connection:
        command.downgrade(_alembic_config(connection), "0003")
    assert older.current_revision() == "0003"
    older.dispose()
    assert open_database(store_url).current_revision() == head_revision()


def test_the_store_is_migrated_on_first_use_and_reset_empties_it(store_url, recorder):
    from plait import journal
    from plait.journal import set_recorder

    set_recorder(journal._DefaultRecorder())  # the default: opens the configured store

    @flow
    def first() -> int:
        return 1

    first()
    client = get_client()
    assert [r.flow_name for r in client.read_flow_runs()] == ["first"]
    database = Database(store_url)
    database.reset()
    assert client.read_flow_runs() == []
    assert database.current_revision() == head_revision()
    database.dispose()
    journal.get_recorder().close()


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_a_batch_the_database_rejects_is_kept_and_written_once_it_can_be(store):
    @flow
    def resilient() -> int:
        get_run_logger().info("kept safe")
        return double(21)

    database = Database(store.url)

    def rename(old: str, new: str) -> None:
        with database.writing() as connection:
            connection.execute(sa.text(f"ALTER TABLE {old} RENAME TO {new}"))

    rename("logs", "logs_away")  # every batch with a log line now fails
    reports = _Lines()
    logging.getLogger("plait.store").addHandler(reports)
    try:
        assert resilient() == 42  # the flow's own result never depends on the store
    finally:
        logging.getLogger("plait.store").removeHandler(reports)
    [report] = reports.lines
    assert "events are kept and will be retried" in report
    assert "kept safe" not in report  # the failed statement's parameters are not shown
    assert store.client.read_flow_runs() == []  # the failed batch was rolled back whole

    rename("logs_away", "logs")
    store.writer.flush()
    [run] = store.client.read_flow_runs()
    assert run.state is StateType.COMPLETED
    assert [t.state for t in store.client.read_task_runs(run.id)] == [StateType.COMPLETED]
    assert "kept safe" in [line.message for line in store.client.read_logs(run.id)]
    database.dispose()


def test_run_retention_days_deletes_finished_runs_older_than_that(store_url, monkeypatch):
    from plait.journal import set_recorder
    from plait.settings import load_settings
    from plait.store.writer import StoreRecorder

    @flow
    def daily(day: int) -> int:
        return day

    monkeypatch.setenv("PLAIT_RUN_RETENTION_DAYS", "30")
    writer = StoreRecorder.open(load_settings())
    set_recorder(writer)
    daily(1)
    daily(2)
    client = get_client()
    old = next(r for r in client.read_flow_runs() if r.parameters["day"] == 1)
    database = Database(store_url)
    with database.writing() as connection:
        connection.execute(
            flow_runs.update()
            .where(flow_runs.c.id == old.id)
            .values(created=old.created - timedelta(days=31))
        )
    database.dispose()
    assert writer.apply_retention() == 1
    assert [r.parameters["day"] for r in client.read_flow_runs()] == [2]
    writer.close()


def test_a_bad_database_url_names_the_setting_and_never_shows_the_password(monkeypatch):
    from plait.exceptions import StoreError

    monkeypatch.setenv("PLAIT_DATABASE_URL", "postgresql://ana:s3cret-pw@db:notaport/plait")
    with pytest.raises(StoreError, match="database_url") as bad:
        get_client()
    assert "s3cret-pw" not in str(bad.value)
    monkeypatch.setenv("PLAIT_DATABASE_URL", "mysql://ana:s3cret-pw@db/plait")
    with pytest.raises(StoreError, match="supports sqlite and postgresql") as unsupported:
        get_client()
    assert "s3cret-pw" not in str(unsupported.value)


def test_the_sqlite_store_files_are_readable_by_their_owner_only(store):
    if not store.url.startswith("sqlite"):
        pytest.skip("file permissions are the SQLite store's; PostgreSQL keeps its own files")

    @flow
    def private() -> int:
        return 1

    private()
    store.writer.flush()
    database = Path(sa.engine.make_url(store.url).database)
    files = [path for path in database.parent.glob(f"{database.name}*") if path.is_file()]
    assert database in files
    assert {path.name: path.stat().st_mode & 0o777 for path in files} == {
        path.name: 0o600 for path in files
    }
