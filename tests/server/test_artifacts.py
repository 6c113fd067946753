"""Artifacts a run keeps (``write_artifact``'s files; markdown, tables, links and progress
from ``plait.artifacts``) are recorded with the run, embedded and through the server: listed
by the client, the API, ``plait flow-run inspect`` and ``plait artifact ls/inspect`` (keyed,
versioned, progress updated in place), read back from the result storage, deleted with their
flow run, kept in the spool like any event, and refused by name when an event describes one
badly."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from plait import ProcessPoolTaskRunner, flow, get_run_context, task, write_artifact
from plait.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from plait.cli import app
from plait.exceptions import MissingContextError, ParameterError
from plait.journal.http import batch_body
from plait.journal.process import ProcessIdentity
from plait.journal.shipping import Batch
from plait.journal.spool import dumps, event_fields, event_from_fields
from plait.runs import ArtifactRecord
from plait.store.database import open_database
from plait.store.schema import ArtifactRow

RUN_RESULTS = {"results": [{"unique_id": "model.shop.orders", "status": "success"}]}


@task
def build_models() -> str:
    write_artifact("dbt/run_results.json", RUN_RESULTS, description="dbt build of the shop")
    return get_run_context().task_run.id


@flow
def nightly() -> tuple[str, str]:
    write_artifact("summary.json", {"models": 1})
    return get_run_context().flow_run.id, build_models()


def test_artifacts_are_recorded_with_their_run_and_read_back(reporting):
    flow_run_id, task_run_id = nightly()

    summary, run_results = reporting.client.read_artifacts(flow_run_id[:12])

    assert (summary.key, summary.type, summary.task_run_id) == ("summary.json", "file", None)
    assert (run_results.key, run_results.task_run_id) == ("dbt/run_results.json", task_run_id)
    assert run_results.description == "dbt build of the shop"
    assert {a.flow_run_id for a in (summary, run_results)} == {flow_run_id}
    assert run_results.data["path"] == f"artifacts/{flow_run_id}/dbt/run_results.json"
    assert summary.timestamp <= run_results.timestamp
    assert reporting.client.read_artifact(run_results) == RUN_RESULTS
    assert reporting.client.read_artifact(summary) == {"models": 1}


def test_inspect_lists_a_flow_runs_artifacts(reporting):
    flow_run_id, _ = nightly()
    runner = CliRunner()

    shown = runner.invoke(app, ["flow-run", "inspect", flow_run_id])
    as_json = runner.invoke(app, ["flow-run", "inspect", flow_run_id, "--output", "json"])

    assert shown.exit_code == 0, shown.output
    assert "Artifacts (2)" in shown.output
    assert f"artifacts/{flow_run_id}/dbt/run_results.json" in shown.output
    assert "dbt build of the shop" in shown.output
    keys = [artifact["key"] for artifact in json.loads(as_json.stdout)["artifacts"]]
    assert keys == ["summary.json", "dbt/run_results.json"]


def test_artifact_records_are_deleted_with_their_flow_run(reporting):
    kept_id, _ = nightly()
    deleted_id, _ = nightly()

    assert reporting.client.delete_flow_run(deleted_id) == 1

    assert len(reporting.client.read_artifacts(kept_id)) == 2
    with open_database().reading() as connection:
        recorded = connection.execute(sa.select(ArtifactRow.flow_run_id)).scalars().all()
    assert recorded == [kept_id, kept_id]


def test_an_artifact_waits_in_the_spool_as_it_was_recorded():
    artifact = ArtifactRecord(
        str(uuid.uuid4()), "report.json", "file", str(uuid.uuid4()), None,
        {"storage": None, "path": "artifacts/x/report.json", "serializer": "json"},
        datetime.now(UTC), "weekly",
    )  # fmt: skip
    assert event_from_fields(json.loads(dumps(event_fields(artifact)))) == artifact


def test_the_server_refuses_an_artifact_event_naming_the_bad_field(api):
    flow_run_id = str(uuid.uuid4())

    def refusal(**changes) -> dict[str, str]:
        fields = {
            "id": str(uuid.uuid4()), "key": "report.json", "type": "file",
            "flow_run_id": flow_run_id, "task_run_id": None, "data": {"path": "p"},
            "timestamp": datetime.now(UTC), **changes,
        }  # fmt: skip
        body = batch_body(
            Batch(str(uuid.uuid4()), [ArtifactRecord(**fields)]), ProcessIdentity.current()
        )
        answer = api.http.post(
            "/events", content=body, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 422, answer.text
        return {error["field"]: error["problem"] for error in answer.json()["errors"]}

    assert refusal(type="video") == {
        "events[0].type": "must be one of file, link, markdown, progress, table"
    }
    assert refusal(id="x" * 40) == {"events[0].id": "must be at most 36 characters (an id)"}
    assert list(refusal(data="not an object")) == ["events[0].data"]


@task
def load_in_a_worker() -> str:
    progress = create_progress_artifact(0, key="load-progress", description="rows loaded")
    update_progress_artifact(progress, 40)
    update_progress_artifact(progress, 100)
    return progress


@flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
def report(version: int) -> str:
    create_markdown_artifact(f"# Sales v{version}\n\nAll regions up.", key="sales-report")
    create_table_artifact([{"region": "EU", "sales": 10}, {"region": "US", "sales": float("nan")}],
                          key="sales-table")  # fmt: skip
    create_table_artifact({"region": ["EU"], "sales": [10]}, key="sales-columns")
    create_link_artifact("https://dash.example.org/sales", "Sales dashboard", key="sales-dash")
    create_markdown_artifact("an unkeyed note")
    load_in_a_worker.submit().result()
    return get_run_context().flow_run.id


def test_typed_artifacts_are_keyed_versioned_and_progress_updates_in_place(reporting):
    first_run, second_run = report(1), report(2)
    client = reporting.client

    latest = client.read_keyed_artifacts()
    assert [artifact.key for artifact in latest] == [
        "load-progress", "sales-columns", "sales-dash", "sales-report", "sales-table",
    ], "one per key, the unkeyed note left out"  # fmt: skip
    by_key = {artifact.key: artifact for artifact in latest}
    assert by_key["sales-report"].data == {"markdown": "# Sales v2\n\nAll regions up."}
    assert by_key["sales-report"].flow_run_id == second_run
    assert by_key["sales-table"].data == {
        "table": [{"region": "EU", "sales": 10}, {"region": "US", "sales": None}]
    }
    assert by_key["sales-dash"].data == {
        "link": "https://dash.example.org/sales", "link_text": "Sales dashboard",
    }  # fmt: skip
    progress = by_key["load-progress"]
    assert (progress.data, progress.description) == ({"progress": 100.0}, "rows loaded")
    assert progress.task_run_id is not None, "made in the task, on a worker process"

    versions = client.read_keyed_artifacts(key="sales-report")
    assert [v.data["markdown"].split("\n")[0] for v in versions] == ["# Sales v2", "# Sales v1"]
    assert [v.flow_run_id for v in versions] == [second_run, first_run]
    assert len(client.read_keyed_artifacts(key="load-progress")) == 2, "one per run, updated"
    assert len(client.read_artifacts(first_run)) == 6


def test_plait_artifact_ls_and_inspect_show_them(reporting):
    report(1)
    report(2)
    runner = CliRunner()

    listed = runner.invoke(app, ["artifact", "ls"], env={"COLUMNS": "120"})
    shown = runner.invoke(app, ["artifact", "inspect", "sales-report"], env={"COLUMNS": "120"})
    table = runner.invoke(app, ["artifact", "inspect", "sales-columns"], env={"COLUMNS": "120"})
    as_json = runner.invoke(app, ["artifact", "inspect", "load-progress", "-o", "json"])

    assert listed.exit_code == 0, listed.output
    rows = [line.split()[:5] for line in listed.output.splitlines()[1:]]
    assert ["sales-report", "markdown", "#", "Sales", "v2"] in rows
    assert rows[0][:3] == ["load-progress", "progress", "100%"]
    assert "an unkeyed note" not in listed.output
    assert shown.exit_code == 0, shown.output
    assert "Sales v2" in shown.output
    assert "All regions up." in shown.output
    assert "Versions (2, newest first)" in shown.output
    assert table.exit_code == 0, table.output
    lines = [line.split() for line in table.output.splitlines()]
    header = lines.index(["region", "sales"])
    assert lines[header + 1] == ["EU", "10"]
    versions = json.loads(as_json.stdout)["versions"]
    assert [version["data"] for version in versions] == [{"progress": 100.0}] * 2


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: create_markdown_artifact("x", key="Daily Report"),
         "key must be lowercase letters, digits and dashes"),
        (lambda: create_markdown_artifact(42), "markdown must be text; got int"),
        (lambda: create_table_artifact("a,b"), "table must be a list of rows as dicts"),
        (lambda: create_table_artifact([{"when": datetime.now(UTC)}]),
         "table must hold JSON values only"),
        (lambda: create_progress_artifact(150), "progress must be a number from 0 to 100"),
        (lambda: update_progress_artifact("no-such-id", 5),
         "no progress artifact 'no-such-id' was made in this process"),
    ],
)  # fmt: skip
def test_bad_artifacts_are_refused_naming_the_field(recorder, make, message):
    @flow
    def makes() -> None:
        make()

    with pytest.raises(ParameterError, match=message):
        makes()


def test_an_artifact_needs_a_flow_run():
    with pytest.raises(MissingContextError, match="call it in a flow, or in a task of one"):
        create_markdown_artifact("# nowhere to keep it")
