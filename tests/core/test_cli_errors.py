"""Every ``plait`` command, given bad arguments, fails the same way: exit code 1, one line on
stderr naming what is wrong and how to fix it, nothing on stdout, no traceback. Commands
are read from the typer app itself, so a new command without bad cases here fails."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from plait import flow, task
from plait.cli import app

runner = CliRunner()


@task
def step(x: int) -> int:
    return x


@flow
def small() -> None:
    for x in range(3):
        step(x)


def commands(group: typer.core.TyperGroup, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """The path of every command of ``group`` that runs something (not a group)."""
    found: set[tuple[str, ...]] = set()
    for name, command in group.commands.items():
        if isinstance(command, typer.core.TyperGroup):
            found |= commands(command, (*path, name))
        else:
            found.add((*path, name))
    return found


def tampered(cursor: str) -> str:
    """``cursor`` with one character of its payload changed."""
    flipped = "A" if cursor[5] != "A" else "B"
    return cursor[:5] + flipped + cursor[6:]


def bad_arguments(ids: dict[str, str]) -> dict[tuple[str, ...], list[list[str]]]:
    """For each command, argument lists it must refuse. ``ids``: a flow run's id, a flow
    run cursor and a task run cursor."""
    run, flows_cursor, tasks_cursor = ids["run"], ids["flows_cursor"], ids["tasks_cursor"]
    limits = [["--limit", "0"], ["--limit", "-3"], ["--limit", "10001"], ["--limit", "many"],
              ["--limit"]]  # fmt: skip
    cursors = [["--after", "garbage"], ["--after", tampered(flows_cursor)], ["--after", ""]]
    outputs = [["--output", "xml"], ["-o", "JSON "], ["--output"]]
    task_runs = ["--flow-run", run]
    return {
        ("version",): [["extra"], ["--bogus"]],
        ("flow-run", "ls"): [
            *limits,
            *cursors,
            *outputs,
            ["--after", tasks_cursor],
            ["--state", "Nope"],
            ["--flow"],
            ["--bogus"],
        ],
        ("flow-run", "inspect"): [
            [],
            ["zzzz"],
            [""],
            ["0"],
            [run, "--output", "xml"],
            [run, "--graph=maybe"],
        ],
        ("flow-run", "logs"): [[], ["zzzz"], [run, "--follow", "extra"]],
        ("flow-run", "retry"): [[], ["zzzz"], [run, "extra"]],
        ("flow-run", "delete"): [
            [],
            ["zzzz"],
            [run, "--older-than", "30d"],
            ["--older-than", "soon"],
            ["--older-than", "-5d"],
            ["--older-than", "99999999999d", "--yes"],
            ["--older-than", "99999d", "--yes"],
        ],
        ("task-run", "ls"): [
            [],
            ["--flow-run", "zzzz"],
            *([*task_runs, *bad] for bad in limits + outputs),
            [*task_runs, "--after", "garbage"],
            [*task_runs, "--after", tampered(tasks_cursor)],
            [*task_runs, "--after", flows_cursor],
            [*task_runs, "--state", "Nope"],
        ],
        ("db", "upgrade"): [["extra"]],
        ("db", "reset"): [["--bogus"], ["--yes", "extra"]],
        ("db", "replay"): [["extra"]],
        ("server", "start"): [
            ["--port", "-1"],
            ["--port", "70000"],
            ["--port", "many"],
            ["--host", "0.0.0.0"],  # no API keys: only this machine
            ["extra"],
        ],
        ("server", "api-key", "create"): [
            [],
            ["ci"],  # no --scope
            ["ci", "--scope", "root"],
            ["bad name", "--scope", "read"],
            ["-dash-first", "--scope", "read"],
            ["x" * 65, "--scope", "read"],
        ],
        ("server", "api-key", "ls"): [["--output", "yaml"], ["extra"]],
        ("server", "api-key", "revoke"): [[], ["nope"]],
        ("config", "show"): [["--output", "yaml"], ["extra"]],
        ("plugins", "ls"): [["--output", "yaml"], ["extra"]],
        ("block", "types"): [["--output", "yaml"]],
        ("block", "ls"): [["--type", "no-such-type"], ["--type"], ["--output", "yaml"]],
        ("block", "inspect"): [
            [],
            ["nope"],
            ["secret/missing"],
            ["secret/missing", "--version", "0"],
            ["secret/missing", "--version", "two"],
            ["secret/missing", "--output", "yaml"],
        ],
        ("block", "create"): [
            [],
            ["secret"],
            ["no-such-type", "x"],
            ["secret", "x", "--set", "nofield=1"],
            ["secret", "x", "--set", "novalue"],
            ["secret", "bad/name", "--set", "value=v"],
        ],
        ("block", "delete"): [[], ["nope"], ["secret/missing", "--yes"]],
        ("block", "history"): [[], ["secret/missing"], ["secret/missing", "-o", "yaml"]],
        ("block", "audit"): [[], ["secret/missing"], ["nameonly"], ["secret/x", "-o", "yaml"]],
        ("block", "check"): [[], ["secret/missing"]],
        ("concurrency-limit", "create"): [[], ["db"], ["db", "x"], ["bad name", "1"]],
        ("concurrency-limit", "ls"): [["extra"], ["-o", "yaml"]],
        ("concurrency-limit", "delete"): [[], ["missing"]],
        ("block", "rotate-key"): [["extra"]],
        ("deployment", "ls"): [["extra"], ["-o", "yaml"]],
        ("deployment", "inspect"): [[], ["missing"], ["missing", "-o", "yaml"]],
        ("deployment", "run"): [
            [],
            ["missing"],
            ["missing", "-p", "day"],
            ["missing", "--params", "[1]"],
            ["missing", "--start-in", "soon"],
        ],
        ("deployment", "pause"): [[], ["missing"]],
        ("deployment", "resume"): [[], ["missing"]],
        ("deployment", "delete"): [[], ["missing"]],
        ("deployment", "backfill"): [
            [],
            ["missing"],
            ["missing", "--from", "2026-11-01"],
            ["missing", "--from", "2026-11-01", "--to", "2026-11-08"],
        ],
        ("artifact", "ls"): [*limits, *outputs, ["extra"]],
        ("artifact", "inspect"): [[], ["missing"], ["missing", "--limit", "0"], *outputs],
        ("variable", "ls"): [*outputs, ["extra"]],
        ("variable", "get"): [[], ["missing"], ["Bad Name"], *outputs],
        ("variable", "set"): [[], ["name"], ["Bad Name", "1"], ["name", "1", "--tag"]],
        ("variable", "delete"): [[], ["missing"], ["Bad Name"]],
        ("example", "hello"): [["ada", "bob"], ["--bogus"]],  # the tests' example plugin
    }


@pytest.fixture
def ids(store) -> dict[str, str]:
    """Two flow runs, and cursors of their listing and of the first one's task runs."""
    small()
    small()
    run = store.client.read_flow_runs()[0].id
    return {
        "run": run,
        "flows_cursor": store.client.list_flow_runs(limit=1).next_cursor,
        "tasks_cursor": store.client.list_task_runs(run, limit=1).next_cursor,
    }


def test_every_command_has_bad_cases(ids):
    assert set(bad_arguments(ids)) == commands(typer.main.get_command(app))


def test_bad_arguments_exit_1_with_one_line_on_stderr(ids):
    failures = []
    for path, cases in bad_arguments(ids).items():
        for args in cases:
            result = runner.invoke(app, [*path, *args], env={"COLUMNS": "80"})
            lines = result.stderr.strip().splitlines()
            if (
                result.exit_code != 1
                or len(lines) != 1
                or not lines[0].startswith("Error: ")
                or result.stdout
                or "Traceback" in result.output
                or not isinstance(result.exception, SystemExit)
            ):
                failures.append(
                    f"plait {' '.join(path + tuple(args))}: exit {result.exit_code}, "
                    f"stdout {result.stdout!r}, stderr {result.stderr!r}, {result.exception!r}"
                )
    assert not failures, json.dumps(failures, indent=2)
