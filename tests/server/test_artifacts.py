"""Artifacts a run keeps (``write_artifact``) are recorded with the run, embedded and through
the server: listed by the client, the API and ``plait flow-run inspect``, read back from the
result storage, deleted with their flow run, kept in the spool like any event, and refused
by name when an event describes one badly."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from typer.testing import CliRunner

from plait import flow, get_run_context, task, write_artifact
from plait.cli import app
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

    assert refusal(type="video") == {"events[0].type": "must be one of file"}
    assert refusal(id="x" * 40) == {"events[0].id": "must be at most 36 characters (an id)"}
    assert list(refusal(data="not an object")) == ["events[0].data"]
