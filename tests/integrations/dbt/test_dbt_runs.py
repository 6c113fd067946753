"""run_dbt on a real dbt project, with dbt-duckdb (embedded) and dbt-postgres (the session's
PostgreSQL server): one task run per node, the manifest's edges, failures, skips, logs,
selection, artifacts and retries."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading

import pytest
from fixtures.dbt import DOWNSTREAM_OF_FAILING_TEST, FAILING_TEST, fix_failing_test, query

from plait import StateType
from plait.client import get_client
from plait_dbt import DbtError, DbtRunError, run_dbt

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

NODES = [
    "seed.shop.raw_customers",
    "seed.shop.raw_orders",
    "model.shop.customers",
    "model.shop.orders",
    "model.shop.customer_totals",
    "snapshot.shop.orders_snapshot",
    "test.shop.not_null_customers_customer_id.5c9bf9911d",
    "test.shop.unique_customers_customer_id.c5af1ff4b1",
    "test.shop.not_null_orders_order_id.cf6c17daed",
    "test.shop.unique_orders_order_id.fed79b3a6e",
    "test.shop.not_null_customer_totals_customer_id.d8f7e34ada",
]
PASSING = {"exclude": "orders_have_positive_amounts"}


def _only_flow_run(name: str):
    [run] = get_client().read_flow_runs(flow_name="run_dbt")
    assert run.name == name
    return run


def _task_runs(flow_run_id: str) -> dict:
    return {run.name: run for run in get_client().read_task_runs(flow_run_id)}


def _upstream_names(runs: dict, name: str) -> set[str]:
    by_id = {run.id: run.name for run in runs.values()}
    return {by_id[parent] for parent in runs[name].upstream}


def test_each_node_is_a_task_run_with_the_manifest_edges(store, shop, target_configs):
    result = run_dbt(shop, **PASSING)

    flow_run = _only_flow_run("dbt-build")
    assert flow_run.state is StateType.COMPLETED
    runs = _task_runs(flow_run.id)
    assert sorted(runs) == sorted(NODES)
    assert {run.state for run in runs.values()} == {StateType.COMPLETED}
    assert runs["model.shop.orders"].task_name == "dbt-model"
    assert runs["seed.shop.raw_orders"].task_name == "dbt-seed"
    assert runs["snapshot.shop.orders_snapshot"].task_name == "dbt-snapshot"
    assert "dbt" in runs["model.shop.orders"].tags
    assert _upstream_names(runs, "seed.shop.raw_orders") == set()
    assert _upstream_names(runs, "model.shop.orders") == {"seed.shop.raw_orders"}
    assert _upstream_names(runs, "model.shop.customer_totals") == {
        "model.shop.customers",
        "model.shop.orders",
    }
    assert _upstream_names(runs, "snapshot.shop.orders_snapshot") == {"model.shop.orders"}
    assert _upstream_names(runs, "test.shop.unique_orders_order_id.fed79b3a6e") == {
        "model.shop.orders"
    }
    assert all(run.duration is not None and run.run_count == 1 for run in runs.values())

    # dbt's own outcome, on the task runs and in the result
    seed = result.node("seed.shop.raw_orders")
    assert (seed.status, seed.rows_affected, seed.task_run_id) == (
        "success",
        4,
        runs["seed.shop.raw_orders"].id,
    )
    assert seed.started_at <= seed.completed_at
    assert runs["seed.shop.raw_orders"].state_message.startswith("success: INSERT 4 (4 rows) in ")
    assert result.node("test.shop.unique_orders_order_id.fed79b3a6e").status == "pass"
    assert result.success
    assert result.summary() == "dbt build: 11 succeeded, 0 failed, 0 skipped"
    assert query(
        target_configs, "select name, total from {schema}.customer_totals order by name"
    ) == [
        ("Ada", 25),
        ("Grace", 12),
        ("Linus", 8),
    ]


def test_a_failing_test_fails_its_task_run_and_the_flow_run_and_skips_downstream(store, shop):
    with pytest.raises(DbtRunError) as raised:
        run_dbt(shop)

    message = str(raised.value)
    assert message.startswith("dbt build: 8 succeeded, 1 failed, 3 skipped.\n")
    assert (
        f"- {FAILING_TEST}: fail: Got 1 result, configured to fail if != 0 (1 failure)" in message
    )
    assert "Skipped because of them: " in message
    assert all(node in message for node in DOWNSTREAM_OF_FAILING_TEST)

    flow_run = _only_flow_run("dbt-build")
    assert flow_run.state is StateType.FAILED
    assert flow_run.state_message.startswith("DbtRunError: dbt build: 8 succeeded, 1 failed")
    runs = _task_runs(flow_run.id)
    failing = runs[FAILING_TEST]
    assert failing.state is StateType.FAILED
    assert failing.state_message.startswith("fail: Got 1 result, configured to fail if != 0")
    assert f"DbtNodeError: {FAILING_TEST} fail: Got 1 result" in failing.failure.detail
    for node in DOWNSTREAM_OF_FAILING_TEST:
        assert runs[node].state is StateType.SKIPPED
        assert runs[node].state_message == f"skipped: upstream {FAILING_TEST} did not succeed"
        assert runs[node].run_count == 0  # never started
    others = set(runs) - {FAILING_TEST, *DOWNSTREAM_OF_FAILING_TEST}
    assert {runs[name].state for name in others} == {StateType.COMPLETED}

    result = raised.value.result
    assert [node.unique_id for node in result.failed] == [FAILING_TEST]
    assert sorted(node.unique_id for node in result.skipped) == DOWNSTREAM_OF_FAILING_TEST
    assert result.node(FAILING_TEST).failures == 1


def test_a_failing_model_error_names_the_model(store, shop):
    broken = shop.project_dir / "models" / "customers.sql"
    broken.write_text("select id as customer_id, no_such_column from {{ ref('raw_customers') }}")

    with pytest.raises(DbtRunError, match=r"- model\.shop\.customers: error: ") as raised:
        run_dbt(shop, select="+customers")

    [node] = raised.value.result.failed
    assert node.status == "error"
    assert "no_such_column" in node.message
    runs = _task_runs(_only_flow_run("dbt-build").id)
    assert runs["model.shop.customers"].state is StateType.FAILED
    error = runs["model.shop.customers"].failure
    assert "DbtNodeError: model.shop.customers error:" in error.detail


def test_dbt_log_lines_go_to_the_node_task_runs_and_the_flow_run(store, shop):
    run_dbt(shop, select="+orders", exclude="orders_have_positive_amounts")

    flow_run = _only_flow_run("dbt-build")
    runs = _task_runs(flow_run.id)
    logs = get_client().read_logs(flow_run.id)
    flow_lines = [log.message for log in logs if log.task_run_id is None]
    assert any(line.startswith("Running with dbt=1.11.") for line in flow_lines)
    assert "dbt build: 4 succeeded, 0 failed, 0 skipped" in flow_lines
    orders_lines = [log.message for log in logs if log.task_run_id == runs["model.shop.orders"].id]
    assert any("START sql table model" in line and ".orders" in line for line in orders_lines)
    assert any("OK created sql table model" in line for line in orders_lines)
    assert not any("\x1b[" in log.message for log in logs)  # no terminal colours


def test_select_exclude_and_vars_choose_what_runs(store, shop, target_configs):
    result = run_dbt(
        shop,
        select=["+customers", "raw_orders"],
        exclude="unique_customers_customer_id",
        vars={"max_customer_id": 2},
    )

    assert sorted(node.unique_id for node in result.nodes) == [
        "model.shop.customers",
        "seed.shop.raw_customers",
        "seed.shop.raw_orders",
        "test.shop.not_null_customers_customer_id.5c9bf9911d",
    ]
    assert sorted(_task_runs(_only_flow_run("dbt-build").id)) == sorted(
        node.unique_id for node in result.nodes
    )
    assert query(target_configs, "select count(*) from {schema}.customers") == [(2,)]


def test_run_results_and_manifest_are_kept_with_the_run_results(store, shop):
    result = run_dbt(shop, command="seed", full_refresh=True)

    flow_run = _only_flow_run("dbt-seed")
    assert sorted(result.artifacts) == ["manifest.json", "run_results.json"]
    ref = result.artifacts["run_results.json"]
    assert ref.path == f"artifacts/{flow_run.id}/dbt/run_results.json"
    run_results = ref.load()
    assert run_results["args"]["which"] == "seed"
    assert run_results["args"]["full_refresh"] is True
    assert sorted(r["unique_id"] for r in run_results["results"]) == [
        "seed.shop.raw_customers",
        "seed.shop.raw_orders",
    ]
    assert "model.shop.customer_totals" in result.artifacts["manifest.json"].load()["nodes"]


def test_artifacts_are_kept_when_the_run_fails(store, shop):
    with pytest.raises(DbtRunError) as raised:
        run_dbt(shop)

    run_results = raised.value.result.artifacts["run_results.json"].load()
    statuses = {r["unique_id"]: r["status"] for r in run_results["results"]}
    assert statuses[FAILING_TEST] == "fail"


def test_retry_failed_reruns_only_what_failed_and_what_depends_on_it(store, shop, target_configs):
    with pytest.raises(DbtRunError):
        run_dbt(shop, vars={"max_customer_id": 2})
    fix_failing_test(shop.project_dir)

    result = run_dbt(shop, retry_failed=True)

    assert result.command == "retry"
    assert sorted(node.unique_id for node in result.nodes) == sorted(
        [FAILING_TEST, *DOWNSTREAM_OF_FAILING_TEST]
    )
    [retry_run] = [
        r for r in get_client().read_flow_runs(flow_name="run_dbt") if r.name == "dbt-retry"
    ]
    assert retry_run.state is StateType.COMPLETED
    runs = _task_runs(retry_run.id)
    assert sorted(runs) == sorted([FAILING_TEST, *DOWNSTREAM_OF_FAILING_TEST])
    assert {run.state for run in runs.values()} == {StateType.COMPLETED}
    # dbt retry kept the first run's vars: Linus (id 3) is still left out
    assert query(target_configs, "select name from {schema}.customer_totals order by 1") == [
        ("Ada",),
        ("Grace",),
    ]


def test_retry_failed_after_a_clean_run_runs_nothing(store, shop):
    run_dbt(shop, **PASSING)

    assert run_dbt(shop, retry_failed=True).nodes == ()


@pytest.mark.parametrize("adapter", ["duckdb"], indirect=True)
def test_retry_failed_needs_a_previous_run_and_no_selection(store, shop):
    with pytest.raises(DbtError, match=r"holds no run_results\.json, so there is nothing to retry"):
        run_dbt(shop, retry_failed=True)
    for wrong in ({"select": "orders"}, {"vars": {"max_customer_id": 2}}):
        with pytest.raises(DbtError, match="leave select, exclude, vars and full_refresh unset"):
            run_dbt(shop, retry_failed=True, **wrong)


@pytest.mark.parametrize("adapter", ["duckdb"], indirect=True)
def test_a_project_that_does_not_parse_fails_with_dbt_s_reason(store, shop):
    (shop.project_dir / "models" / "broken.sql").write_text("select * from {{ ref('nowhere') }}")

    with pytest.raises(DbtError, match=r"(?s)dbt could not parse the project: .*named 'nowhere'"):
        run_dbt(shop)

    assert _only_flow_run("dbt-build").state is StateType.FAILED


@pytest.mark.parametrize("adapter", ["duckdb"], indirect=True)
def test_a_directory_without_a_dbt_project_is_refused(store, shop, tmp_path):
    shop.project_dir = tmp_path / "not-a-project"

    with pytest.raises(DbtError, match=r"DbtProject.project_dir: .*not-a-project.* holds no dbt_"):
        run_dbt(shop)


@pytest.mark.parametrize("adapter", ["duckdb"], indirect=True)
def test_a_bad_command_is_refused_before_dbt_runs(store, shop):
    from plait import ParameterError

    with pytest.raises(ParameterError, match="command"):
        run_dbt(shop, command="drop-everything")


@pytest.mark.parametrize("adapter", ["duckdb"], indirect=True)
def test_vars_reach_dbt_while_it_parses_the_project(store, shop):
    extra = shop.project_dir / "models" / "extra.sql"
    extra.write_text("{{ config(enabled=var('enable_extra', false)) }}\nselect 1 as one")

    assert run_dbt(shop, select="extra").nodes == ()
    result = run_dbt(shop, select="extra", vars={"enable_extra": True})

    assert [node.unique_id for node in result.nodes] == ["model.shop.extra"]


@pytest.mark.parametrize("adapter", ["duckdb"], indirect=True)
def test_dbt_s_warnings_while_parsing_reach_the_flow_run_logs(store, shop):
    project_file = shop.project_dir / "dbt_project.yml"
    project_file.write_text(project_file.read_text() + "    nowhere:\n      +enabled: true\n")

    run_dbt(shop, select="raw_orders")

    logs = get_client().read_logs(_only_flow_run("dbt-build").id)
    [warning] = [log for log in logs if log.level == logging.WARNING]
    assert "do not apply to any resources" in warning.message
    assert "models.shop.nowhere" in warning.message


@pytest.mark.parametrize("adapter", ["duckdb"], indirect=True)
def test_a_run_that_stops_early_keeps_no_stale_run_results(store, shop, tmp_path):
    run_dbt(shop, command="seed")
    shop.profiles.target_configs.path = str(tmp_path / "missing-dir" / "shop.duckdb")

    with pytest.raises(DbtRunError, match="dbt seed could not run: ") as raised:
        run_dbt(shop, command="seed")

    assert sorted(raised.value.result.artifacts) == ["manifest.json"]


@pytest.mark.parametrize("adapter", ["duckdb"], indirect=True)
def test_the_duckdb_file_is_free_for_other_processes_after_a_run(store, shop):
    run_dbt(shop, select="raw_orders")

    count = "import duckdb, sys; print(duckdb.connect(sys.argv[1]).sql('from raw_orders').shape)"
    database = shop.profiles.target_configs.path
    reader = subprocess.run(
        [sys.executable, "-c", count, database], capture_output=True, text=True, timeout=60
    )
    assert reader.returncode == 0, reader.stderr
    assert reader.stdout.strip() == "(4, 4)"


@pytest.mark.parametrize("adapter", ["duckdb"], indirect=True)
def test_dbt_s_deprecations_summary_is_logged_once_per_process_at_info(store, shop, monkeypatch):
    from plait_dbt import node_runs

    monkeypatch.setattr(node_runs, "_summarised", threading.Event())  # as in a new process
    project_file = shop.project_dir / "dbt_project.yml"  # a renamed key: a deprecation
    project_file.write_text(project_file.read_text().replace("seed-paths:", "data-paths:"))

    run_dbt(shop, select="raw_orders")
    run_dbt(shop, select="raw_orders")

    first, second = sorted(
        get_client().read_flow_runs(flow_name="run_dbt"), key=lambda run: run.created
    )
    summaries = [
        [log for log in get_client().read_logs(run.id) if "Summary of encountered" in log.message]
        for run in (first, second)
    ]
    assert [log.level for log in summaries[0]] == [logging.INFO]
    assert summaries[1] == [], "the second run in the process does not repeat it"
