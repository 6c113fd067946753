"""Listings that hold up on big runs and that scripts can use: pages with an opaque cursor,
inspect's summary and collapsed graph, JSON output, and ids and names never cut. Run
in-process on a real store (SQLite and PostgreSQL), embedded and through the server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from plait import flow, task, unmapped
from plait.cli import app
from plait.exceptions import ParameterError
from plait.journal import RunCreated
from plait.runs import new_id

runner = CliRunner()
LONG_NAME = "a-flow-whose-name-is-far-too-long-for-eighty-columns-" + "x" * 40


def plait(*args: str, columns: int = 220):
    return runner.invoke(app, list(args), env={"COLUMNS": str(columns)})


def as_json(*args: str) -> dict:
    result = plait(*args, "--output", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@task
def prepare() -> int:
    return 100


@task
def square(x: int, offset: int) -> int:
    if x in (3, 11):
        raise ValueError(f"element {x} is bad")
    return x * x + offset


@task
def count(values: list[int]) -> int:
    return len(values)


@flow
def mapped(n: int) -> None:
    offset = prepare.submit()
    count.submit(square.map(range(n), offset=unmapped(offset))).wait()


@flow
def mapped_twice() -> None:
    first = square.map([1, 2, 4], offset=unmapped(0))
    square.map([3, 5], offset=unmapped(prepare.submit()), wait_for=first).wait()


@flow(name=LONG_NAME)
def long_named() -> None:
    prepare()


@pytest.fixture
def big_run(reporting):
    """A flow run of 16 task runs: prepare, 14 mapped squares (2 fail), a count (fails)."""
    mapped(14)
    (run,) = reporting.client.read_flow_runs()
    return run


def pages(*args: str, key: str) -> list[list[dict]]:
    """Every page of a JSON listing, following its cursors."""
    found, after = [], []
    while True:
        page = as_json(*args, *after)
        found.append(page[key])
        if page["next_cursor"] is None:
            return found
        after = ["--after", page["next_cursor"]]


def test_task_run_ls_pages_through_every_run_once_in_creation_order(big_run, reporting):
    by_page = pages("task-run", "ls", "--flow-run", big_run.id, "--limit", "5", key="task_runs")
    assert [len(page) for page in by_page] == [5, 5, 5, 1]
    listed = [entry["id"] for page in by_page for entry in page]
    assert listed == [run.id for run in reporting.client.read_task_runs(big_run.id)]
    failed = as_json("task-run", "ls", "--flow-run", big_run.id, "--state", "failed")
    assert sorted(entry["name"] for entry in failed["task_runs"]) == [
        "count-0", "square-11", "square-3",
    ]  # fmt: skip
    assert failed["next_cursor"] is None


def test_a_table_page_says_on_stderr_how_to_get_the_next_one(big_run):
    first = plait("task-run", "ls", "--flow-run", big_run.id, "--limit", "15")
    assert first.exit_code == 0, first.output
    assert first.stderr.startswith("More on the next page: plait task-run ls --flow-run ")
    header, *rows = first.stdout.splitlines()  # piped: one plain line per run
    assert header.split() == ["ID", "Name", "Task", "State", "Attempts", "Started", "Duration",
                              "Upstream"]  # fmt: skip
    assert len(rows) == 15
    command = first.stderr.split(": ", 1)[1].split()
    assert command[:6] == ["plait", "task-run", "ls", "--flow-run", big_run.id, "--limit"]
    last = plait(*command[1:])
    assert last.exit_code == 0, last.output
    assert "count-0" in last.stdout
    assert "square-0" not in last.stdout
    assert last.stderr == ""


def test_flow_run_ls_pages_newest_first_with_its_filters(reporting):
    for _ in range(3):
        long_named()
    mapped(1)
    newest_first = [run.id for run in reporting.client.read_flow_runs()]
    by_page = pages("flow-run", "ls", "--limit", "2", key="flow_runs")
    assert [entry["id"] for page in by_page for entry in page] == newest_first
    of_flow = pages("flow-run", "ls", "--flow", LONG_NAME, "--limit", "2", key="flow_runs")
    assert [len(page) for page in of_flow] == [2, 1]
    entry = by_page[0][0]
    assert set(entry) >= {"id", "name", "flow_name", "state", "created", "start_time",
                          "end_time", "duration", "parameters", "tags"}  # fmt: skip
    for field in ("created", "start_time", "end_time"):
        assert datetime.fromisoformat(entry[field]).tzinfo is not None


def _flow_run_created(reporting, name: str, hours_ago: float, tags: tuple[str, ...]) -> str:
    """A flow run recorded as a process reports one (its creation event), ``hours_ago``."""
    run_id = new_id()
    created = datetime.now(UTC) - timedelta(hours=hours_ago)
    reporting.recorder.record(RunCreated("flow", run_id, name, "tagged", created, tags=tags))
    reporting.recorder.flush()
    return run_id


def test_flow_runs_are_filtered_by_tags_and_time(reporting):
    nightly = _flow_run_created(reporting, "nightly", 3, ("db", "nightly"))
    hourly = _flow_run_created(reporting, "hourly", 1, ("db",))
    adhoc = _flow_run_created(reporting, "adhoc", 0, ())
    client = reporting.client
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)

    def ids(**filters) -> list[str]:
        return [run.id for run in client.read_flow_runs(**filters)]

    assert ids(tags=["db"]) == [hourly, nightly]
    assert ids(tags=["db", "nightly"]) == [nightly]
    assert ids(tags=["d"]) == [], "a tag matches whole"
    assert ids(since=two_hours_ago) == [adhoc, hourly]
    assert ids(until=two_hours_ago) == [nightly]
    assert ids(tags=["db"], since=two_hours_ago) == [hourly]
    with pytest.raises(ParameterError, match="since needs a time zone"):
        client.read_flow_runs(since=datetime.now())

    listed = as_json("flow-run", "ls", "--tag", "db", "--since", "2h")
    assert [run["id"] for run in listed["flow_runs"]] == [hourly]
    first = plait("flow-run", "ls", "--tag", "db", "--limit", "1")
    assert first.exit_code == 0, first.output
    command = first.stderr.split(": ", 1)[1].split()
    assert command[3:5] == ["--tag", "db"]
    rest = plait(*command[1:])
    assert rest.exit_code == 0, rest.output
    assert "nightly" in rest.stdout
    assert "hourly" not in rest.stdout
    refused = plait("flow-run", "ls", "--since", "yesterday")
    assert refused.exit_code == 1
    assert "--since: expected a duration ago such as 2h" in refused.output


def test_inspect_counts_task_runs_by_state_and_lists_the_failed_ones_first(big_run):
    result = plait("flow-run", "inspect", big_run.id)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Task runs (16)" in out
    assert "Completed 13" in out
    assert "Failed 3" in out
    rows = [line.split()[0] for line in out.splitlines() if line.strip().startswith(
        ("square-", "count-", "prepare-"))]  # fmt: skip
    assert sorted(rows[:3]) == ["count-0", "square-11", "square-3"]
    assert len(rows) == 10
    assert f"6 more task runs: plait task-run ls --flow-run {big_run.id}" in out

    summary = as_json("flow-run", "inspect", big_run.id)
    assert summary["flow_run"]["id"] == big_run.id
    task_runs = summary["task_runs"]
    assert task_runs["total"] == 16
    assert task_runs["counts"] == {"Completed": 13, "Failed": 3}
    assert task_runs["not_listed"] == 6
    assert [entry["state"] for entry in task_runs["listed"][:3]] == ["Failed"] * 3


def test_inspect_graph_collapses_a_map_into_one_line_with_counts(big_run):
    result = plait("flow-run", "inspect", big_run.id, "--graph")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    (square_line,) = [line for line in lines if "square" in line]
    assert ".map of 14" in square_line
    assert "Completed 12" in square_line
    assert "Failed 2" in square_line
    assert not any("square-" in line for line in lines)

    nodes = {node["id"]: node for node in as_json("flow-run", "inspect", big_run.id,
                                                    "--graph")["nodes"]}  # fmt: skip
    (square_node,) = [node for node in nodes.values() if node["task_name"] == "square"]
    assert square_node["mapped"] is True
    assert square_node["counts"] == {"Completed": 12, "Failed": 2}
    (prepare_id,) = [node for node in nodes if nodes[node]["task_name"] == "prepare"]
    assert square_node["upstream"] == [prepare_id]
    (count_node,) = [node for node in nodes.values() if node["task_name"] == "count"]
    assert count_node["upstream"] == [square_node["id"]]


def test_each_map_call_is_its_own_node_of_the_graph(reporting):
    mapped_twice()
    (run,) = reporting.client.read_flow_runs()
    nodes = as_json("flow-run", "inspect", run.id, "--graph")["nodes"]
    first, prepare_node, second = nodes  # in creation order
    assert (first["task_name"], prepare_node["task_name"], second["task_name"]) == (
        "square",
        "prepare",
        "square",
    )
    assert first["mapped"]
    assert second["mapped"]
    assert first["id"] != second["id"]
    assert first["counts"] == {"Completed": 3}
    assert second["counts"] == {"Completed": 1, "Failed": 1}
    assert first["upstream"] == []
    assert sorted(second["upstream"]) == sorted([first["id"], prepare_node["id"]])
    first_span, second_span = [
        [datetime.fromisoformat(node[f"{end}_time"]) for end in ("start", "end")]
        for node in (first, second)
    ]
    assert first_span[0] <= first_span[1] <= second_span[0] <= second_span[1]  # wait_for=first
    lines = plait("flow-run", "inspect", run.id, "--graph").stdout.splitlines()
    mapped_lines = [line.split("── ")[1] for line in lines if ".map of" in line]
    assert [line.split("  ")[:2] for line in mapped_lines] == [
        ["square #1", ".map of 3:"],
        ["square #2", ".map of 2:"],
    ]


def test_runs_mapped_before_map_calls_had_ids_collapse_by_task(store):
    """Stores migrated from before 0005 hold mapped runs without a call id."""
    import sqlalchemy as sa

    mapped_twice()
    (run,) = store.client.read_flow_runs()
    with store.writer.database.writing() as connection:
        connection.execute(sa.text("UPDATE task_runs SET map_id = NULL"))
    nodes = as_json("flow-run", "inspect", run.id, "--graph")["nodes"]
    assert [(node["id"], node["counts"]) for node in nodes if node["mapped"]] == [
        ("map:square", {"Completed": 4, "Failed": 1})
    ]


def test_ids_and_names_are_never_cut_however_narrow_the_output(reporting):
    long_named()
    (run,) = reporting.client.read_flow_runs()
    for args in (("flow-run", "ls"), ("flow-run", "inspect", run.id)):
        result = plait(*args, columns=60)
        assert result.exit_code == 0, result.output
        assert run.id in result.stdout
        assert LONG_NAME in result.stdout
    task_runs = plait("task-run", "ls", "--flow-run", run.id, columns=40)
    assert reporting.client.read_task_runs(run.id)[0].id in task_runs.stdout
