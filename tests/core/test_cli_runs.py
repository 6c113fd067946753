"""``plait flow-run``, ``plait task-run``, ``plait db`` and ``plait config``, run in-process on a
real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from typer.testing import CliRunner

from plait.cli import app
from plait.store.database import head_revision

runner = CliRunner()


def plait(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input, env={"COLUMNS": "220"})


def test_flow_run_ls_lists_runs_with_filters(etl_runs):
    result = plait("flow-run", "ls")
    assert result.exit_code == 0, result.output
    assert etl_runs["etl"].id in result.output
    assert etl_runs["broken"].id in result.output
    assert "Completed" in result.output
    assert "Failed" in result.output

    only_failed = plait("flow-run", "ls", "--state", "Failed")
    assert etl_runs["broken"].id in only_failed.output
    assert etl_runs["etl"].id not in only_failed.output
    only_etl = plait("flow-run", "ls", "--flow", "etl", "--limit", "5")
    assert etl_runs["etl"].id in only_etl.output
    assert etl_runs["broken"].id not in only_etl.output
    nothing = plait("flow-run", "ls", "--flow", "nope")
    assert "No flow runs recorded for flow 'nope'" in nothing.output


def test_inspect_shows_parameters_states_task_runs_and_the_traceback(etl_runs):
    result = plait("flow-run", "inspect", etl_runs["broken"].id[:20])
    assert result.exit_code == 0, result.output
    out = result.output
    assert etl_runs["broken"].name in out
    assert "Pending" in out
    assert "Running" in out
    assert "audit-0" in out
    assert "Traceback" in out
    assert "RuntimeError: audit table missing" in out


def test_inspect_graph_draws_the_task_tree(etl_runs):
    result = plait("flow-run", "inspect", etl_runs["etl"].id, "--graph")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    names = ["extract-0", "transform-0", "load-0"]
    positions = [next(i for i, line in enumerate(lines) if name in line) for name in names]
    indents = [len(lines[i]) - len(lines[i].lstrip(" │├└─")) for i in positions]
    assert positions == sorted(positions)
    assert indents == sorted(indents)
    assert indents[0] < indents[1] < indents[2]  # each task under the one it waited on


def test_logs_prints_a_runs_lines_and_follow_ends_with_the_run(etl_runs):
    result = plait("flow-run", "logs", etl_runs["etl"].id)
    assert result.exit_code == 0, result.output
    assert "transform-0 | transforming 3 rows" in result.output
    assert "Finished in state Completed()" in result.output
    followed = plait("flow-run", "logs", etl_runs["etl"].id, "--follow")
    assert followed.exit_code == 0
    assert followed.output == result.output


def test_task_run_ls_lists_a_flow_runs_task_runs(etl_runs):
    result = plait("task-run", "ls", "--flow-run", etl_runs["etl"].id)
    assert result.exit_code == 0, result.output
    for name in ("extract-0", "transform-0", "load-0"):
        assert name in result.output


def test_unknown_or_ambiguous_ids_give_a_clear_error_and_exit_1(etl_runs):
    result = plait("flow-run", "inspect", "zzzz")
    assert result.exit_code == 1
    assert "No flow run has an id starting with 'zzzz'" in result.output
    assert "Traceback" not in result.output


def test_delete_one_run_or_runs_older_than(etl_runs, store):
    result = plait("flow-run", "delete", etl_runs["etl"].id)
    assert result.exit_code == 0, result.output
    assert [r.flow_name for r in store.client.read_flow_runs()] == ["broken"]

    bad = plait("flow-run", "delete", "--older-than", "soon")
    assert bad.exit_code == 1
    assert "expected a duration such as 30d" in bad.output
    for huge, message in [
        ("99999999999d", "is longer than any date"),
        ("99999d", "older_than must be at most 36500 days"),
    ]:
        refused_huge = plait("flow-run", "delete", "--older-than", huge, "--yes")
        assert refused_huge.exit_code == 1
        assert message in refused_huge.output
        assert "Traceback" not in refused_huge.output
    kept = plait("flow-run", "delete", "--older-than", "30d", "--yes")
    assert kept.exit_code == 0
    assert "Deleted 0 flow runs" in kept.output
    refused = plait("flow-run", "delete", "--older-than", "0s", input="n\n")
    assert refused.exit_code == 1
    assert len(store.client.read_flow_runs()) == 1
    confirmed = plait("flow-run", "delete", "--older-than", "0s", input="y\n")
    assert confirmed.exit_code == 0
    assert store.client.read_flow_runs() == []


def test_db_reset_asks_first_and_upgrade_reports_the_revision(etl_runs, store):
    refused = plait("db", "reset", input="n\n")
    assert refused.exit_code == 1
    assert len(store.client.read_flow_runs()) == 2
    reset = plait("db", "reset", "--yes")
    assert reset.exit_code == 0, reset.output
    assert store.client.read_flow_runs() == []
    upgrade = plait("db", "upgrade")
    assert upgrade.exit_code == 0
    assert f"up to date (revision {head_revision()})" in upgrade.output
