"""The API server's read routes over a real uvicorn, on SQLite and PostgreSQL: the same
records the client returns, and every bad request answered with a 4xx JSON body that names
the field."""

from __future__ import annotations

import pytest


def test_health_names_the_store_it_serves(api, store):
    answer = api.http.get("/health")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"
    assert answer.json()["store"] == store.client.describe()


def _items(api, path: str, **params: str) -> list[dict]:
    return api.http.get(path, params=params).json()["items"]


def test_flow_runs_are_listed_filtered_and_read_like_the_client_reads_them(api, etl_runs):
    listed = _items(api, "/flow_runs")
    assert [r["flow_name"] for r in listed] == ["broken", "etl"]  # newest first
    assert [r["id"] for r in _items(api, "/flow_runs", state="Failed")] == [etl_runs["broken"].id]
    assert [r["id"] for r in _items(api, "/flow_runs", flow="etl")] == [etl_runs["etl"].id]

    first = api.http.get("/flow_runs", params={"limit": 1}).json()
    assert [r["id"] for r in first["items"]] == [etl_runs["broken"].id]
    after = {"limit": 1, "after": first["next_cursor"]}
    second = api.http.get("/flow_runs", params=after).json()
    assert ([r["id"] for r in second["items"]], second["next_cursor"]) == (
        [etl_runs["etl"].id],
        None,
    )

    one = api.http.get(f"/flow_runs/{etl_runs['broken'].id[:13]}").json()  # a unique prefix
    assert one["id"] == etl_runs["broken"].id
    assert [s["type"] for s in one["states"]] == ["Pending", "Running", "Failed"]
    assert "audit table missing" in one["states"][-1]["detail"]


def test_task_runs_graph_and_logs_of_a_flow_run(api, etl_runs):
    etl_id = etl_runs["etl"].id
    task_runs = _items(api, f"/flow_runs/{etl_id}/task_runs")
    assert [t["task_name"] for t in task_runs] == ["extract", "transform", "load"]
    graph = api.http.get(f"/flow_runs/{etl_id}/graph").json()
    by_name = {t["task_name"]: t for t in graph["task_runs"]}
    assert by_name["transform"]["upstream"] == [by_name["extract"]["id"]]
    assert by_name["load"]["upstream"] == [by_name["transform"]["id"]]

    logs = api.http.get(f"/flow_runs/{etl_id}/logs").json()
    assert any(line["message"] == "extracted 3 rows" for line in logs)
    after = api.http.get(f"/flow_runs/{etl_id}/logs", params={"after": logs[0]["id"]}).json()
    assert after == logs[1:]


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/flow_runs", {"limit": "0"}, 422, "limit"),
        ("/flow_runs", {"limit": "many"}, 422, "limit"),
        ("/flow_runs", {"limit": "10001"}, 422, "limit"),
        ("/flow_runs", {"state": "Sleeping"}, 422, "state"),
        ("/flow_runs", {"after": "garbage"}, 422, None),
        ("/flow_runs/{id}/task_runs", {"limit": "0"}, 422, "limit"),
        ("/flow_runs/0000dead", {}, 404, None),
        ("/flow_runs/0000dead/logs", {}, 404, None),
        ("/flow_runs/{id}/logs", {"after": "-1"}, 422, "after"),
        ("/nothing/here", {}, 404, None),
    ],
)
def test_bad_requests_answer_4xx_with_a_json_body_naming_the_field(
    api, etl_runs, path, params, status, field
):
    answer = api.http.get(path.format(id=etl_runs["etl"].id), params=params)
    assert answer.status_code == status
    body = answer.json()
    assert body["detail"]
    assert "Traceback" not in answer.text
    if field is not None:
        assert [e["field"] for e in body["errors"]] == [field]
        assert field in body["detail"]


def test_a_body_over_the_limit_is_refused_with_413(api):
    answer = api.http.post("/health", content=b"x" * (10 * 1024 * 1024 + 1))
    assert answer.status_code == 413
    assert "larger than the server's limit of 10485760 bytes" in answer.json()["detail"]


def test_openapi_schema_and_docs_are_served(api):
    schema = api.http.get("/openapi.json").json()
    assert {"/api/health", "/api/flow_runs", "/api/flow_runs/{flow_run_id}"} <= set(schema["paths"])
    docs = api.http.get(api.url.removesuffix("/api") + "/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
