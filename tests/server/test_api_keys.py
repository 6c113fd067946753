"""API keys: shown once, kept as a hash, and once one exists every route but the health
check needs one whose scope covers it; revoked keys are refused at once, and revoking the last
one does not open the server again."""

from __future__ import annotations

import json

import sqlalchemy as sa
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from fixtures.api import create_key
from typer.testing import CliRunner

from plait.backend import get_backend
from plait.backend.api_keys import Scope, split_token
from plait.cli import app
from plait.server.auth import require

runner = CliRunner()


def test_a_key_is_shown_once_and_the_store_keeps_only_its_hash(store):
    token = create_key("ci-reporter", "write")
    listed = runner.invoke(app, ["server", "api-key", "ls", "--output", "json"])
    assert listed.exit_code == 0, listed.output
    [key] = json.loads(listed.stdout)["api_keys"]
    assert (key["name"], key["scope"], key["revoked"]) == ("ci-reporter", "write", None)
    table = runner.invoke(app, ["server", "api-key", "ls"]).stdout
    assert "ci-reporter" in table
    _, secret = split_token(token)  # the secret may itself hold "_"
    assert secret not in listed.stdout + table
    with store.writer.database.reading() as connection:
        rows = connection.execute(sa.text("SELECT * FROM api_keys")).all()
    assert secret.encode() not in repr(rows).encode()
    assert secret not in repr(rows)
    again = runner.invoke(app, ["server", "api-key", "create", "ci-reporter", "--scope", "read"])
    assert again.exit_code == 1
    assert "exists already" in again.stderr


def test_once_a_key_exists_every_route_needs_one_and_a_revoked_key_is_refused(api, store):
    assert api.http.get("/flow_runs").status_code == 200  # no key yet: open (this machine only)
    token = create_key("dashboard", "read")
    refused = api.http.get("/flow_runs")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert "needs an API key" in refused.json()["detail"]
    wrong = api.http.get("/flow_runs", headers={"Authorization": f"Bearer {token}x"})
    assert wrong.status_code == 401
    assert token not in wrong.text
    good = {"Authorization": f"Bearer {token}"}
    assert api.http.get("/flow_runs", headers=good).status_code == 200
    assert api.http.get("/health").status_code == 200  # for load balancers, without a key

    revoked = runner.invoke(app, ["server", "api-key", "revoke", "dashboard"])
    assert revoked.exit_code == 0, revoked.output
    assert api.http.get("/flow_runs", headers=good).status_code == 401
    assert api.http.get("/flow_runs").status_code == 401  # the last key revoked: still closed
    assert runner.invoke(app, ["server", "api-key", "revoke", "nope"]).exit_code == 1


def test_a_key_is_let_through_only_where_its_scope_reaches(store):
    assert Scope.ADMIN.allows(Scope.WRITE)
    assert Scope.WRITE.allows(Scope.READ)
    assert not Scope.WRITE.allows(Scope.ADMIN)
    guarded = FastAPI()
    guarded.state.api_keys = get_backend().api_keys()

    @guarded.get("/secrets", dependencies=[Depends(require(Scope.ADMIN))])
    def secrets() -> dict[str, bool]:
        return {"shown": True}

    writer, admin = create_key("writer", "write"), create_key("admin", "admin")
    with TestClient(guarded) as http:
        denied = http.get("/secrets", headers={"Authorization": f"Bearer {writer}"})
        assert denied.status_code == 403
        assert "scope write; this needs admin" in denied.json()["detail"]
        allowed = http.get("/secrets", headers={"Authorization": f"Bearer {admin}"})
        assert allowed.json() == {"shown": True}


def test_with_a_key_the_server_may_listen_beyond_this_machine(server_process, store):
    create_key("remote", "read")
    url = server_process.start("--host", "0.0.0.0")
    port = url.split(":")[2].split("/")[0]
    stopped = server_process.stop()
    assert stopped.returncode == 0, stopped.stderr
    assert "Warning" not in stopped.stdout + stopped.stderr
    assert port.isdigit()


# The scope each route needs: a new route must be added here, with the scope it needs.
READ_ROUTES = [
    ("GET", path)
    for path in (
        "/flow_runs",
        "/flow_runs/{id}",
        "/flow_runs/{id}/task_runs",
        "/flow_runs/{id}/task_runs/summary",
        "/flow_runs/{id}/graph",
        "/flow_runs/{id}/graph/nodes",
        "/flow_runs/{id}/logs",
        "/flow_runs/{id}/logs/follow",
        "/flow_runs/{id}/artifacts",
        "/artifacts",
        "/task_runs/names",
        "/blocks",
        "/blocks/{id}/{id}",
        "/blocks/{id}/{id}/history",
        "/block_documents/{id}",
        "/block_documents/{id}/children",
        "/block_types/{id}",
        "/concurrency_limits",
        "/cache",
        "/deployments",
        "/deployments/{id}",
        "/variables",
        "/variables/{id}",
    )
]
WRITE_ROUTES = [
    ("DELETE", "/flow_runs"),
    ("POST", "/flow_runs/heartbeat"),
    ("POST", "/flow_runs/{id}/state"),
    ("DELETE", "/flow_runs/{id}"),
    ("POST", "/blocks"),
    ("DELETE", "/blocks/{id}/{id}"),
    ("PUT", "/concurrency_limits/{id}"),
    ("DELETE", "/concurrency_limits/{id}"),
    ("POST", "/concurrency_limits/leases"),
    ("POST", "/concurrency_limits/leases/renew"),
    ("POST", "/concurrency_limits/leases/release"),
    ("PUT", "/cache"),
    ("POST", "/cache/lock"),
    ("POST", "/cache/unlock"),
    ("POST", "/events"),
    ("PUT", "/deployments/{id}"),
    ("DELETE", "/deployments/{id}"),
    ("PUT", "/variables/{id}"),
    ("DELETE", "/variables/{id}"),
    ("POST", "/deployments/{id}/pause"),
    ("POST", "/deployments/{id}/resume"),
    ("POST", "/deployments/runs"),
    ("POST", "/deployments/claim"),
]
ROUTE_SCOPES = {
    ("GET", "/health"): None,
    **dict.fromkeys(READ_ROUTES, "read"),
    **dict.fromkeys(WRITE_ROUTES, "write"),
    ("GET", "/blocks/{id}/audit"): "admin",
}  # fmt: skip
PLACEHOLDER = "0190a4b4-0000-7000-8000-000000000000"  # fits every path parameter's pattern


def test_every_route_refuses_a_key_below_the_scope_it_needs(api, store):
    import re

    served = {
        (method.upper(), re.sub(r"\{[^}]+\}", "{id}", path.removeprefix("/api")))
        for path, operations in api.http.get("/openapi.json").json()["paths"].items()
        for method in operations
    }
    assert served == set(ROUTE_SCOPES), "every route is listed here with its scope"
    keys = {scope.value: create_key(f"{scope.value}-key", scope.value) for scope in Scope}
    order = [scope.value for scope in Scope]
    for (method, path), needed in ROUTE_SCOPES.items():
        url = path.replace("{id}", PLACEHOLDER)
        for scope, key in keys.items():
            answer = api.http.request(method, url, headers={"Authorization": f"Bearer {key}"})
            weaker = needed is not None and order.index(scope) < order.index(needed)
            assert (answer.status_code == 403) == weaker, (method, path, scope, answer.text)
        if needed is not None:
            assert api.http.request(method, url).status_code == 401, (method, path)
