"""Saved blocks over the API: their fields and versions, their secrets only for an admin key
that asks (each such read in the audit trail), and Block.save/load in client mode."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from fixtures.api import create_key
from pydantic import SecretStr
from typer.testing import CliRunner

from plait.blocks import Block, CredentialsBlock, Secret
from plait.blocks.block import CheckResult
from plait.cli import app
from plait.exceptions import BlockError, BlockNotFoundError, ConfigError

TOKEN = "s3cr3t-t0ken-for-the-api"
runner = CliRunner()


class WarehouseLogin(CredentialsBlock):
    """A login for a test warehouse."""

    user: str
    password: SecretStr

    def check(self) -> CheckResult:
        return CheckResult(True, "fine", 0.0)


class WarehouseTable(Block):
    """A table in the test warehouse, holding its login."""

    table: str
    login: WarehouseLogin


@pytest.fixture
def saved(store) -> None:
    Secret(value=TOKEN).save("api-token")
    Secret(value=f"{TOKEN}-2").save("api-token", overwrite=True)


@pytest.fixture
def client_mode(api, monkeypatch):
    """This process as a client of the ``api`` server; ``use(key)`` switches its key."""

    def use(key: str | None) -> None:
        if key is None:
            monkeypatch.delenv("PLAIT_API_KEY", raising=False)
        else:
            monkeypatch.setenv("PLAIT_API_KEY", key)

    monkeypatch.setenv("PLAIT_API_URL", api.url)
    return use


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_blocks_are_listed_and_read_with_their_secrets_masked(api, saved):
    listed = api.http.get("/blocks", params={"type": "secret"})
    assert listed.status_code == 200
    assert [(b["slug"], b["name"], b["version"]) for b in listed.json()] == [
        ("secret", "api-token", 2)
    ]
    latest = api.http.get("/blocks/secret/api-token")
    assert latest.status_code == 200
    body = latest.json()
    assert (body["version"], body["latest_version"], body["secret_fields"]) == (2, 2, ["value"])
    assert body["secrets"] is None
    first = api.http.get("/blocks/secret/api-token", params={"version": 1})
    history = api.http.get("/blocks/secret/api-token/history")
    assert [v["version"] for v in history.json()] == [1, 2]
    tokens = [v["secret_tokens"]['["value"]'] for v in history.json()]
    assert tokens[0] != tokens[1], "a changed secret shows as a changed token"
    for answer in (listed, latest, first, history):
        assert TOKEN not in answer.text


def test_client_mode_saves_and_loads_blocks_on_the_server_and_audits_each_secret_read(
    api, store, client_mode
):
    admin = create_key("ops-admin", "admin")
    client_mode(admin)
    WarehouseTable(table="orders", login=WarehouseLogin(user="ada", password=TOKEN)).save("orders")
    Secret(value=TOKEN).save("db-password")

    loaded = WarehouseTable.load("orders")
    assert (loaded.login.user, loaded.login.password.get_secret_value()) == ("ada", TOKEN)
    assert Secret.load("db-password").get() == TOKEN
    assert Block.list() == ["secret/db-password", "warehouse-table/orders"]
    with store.writer.database.reading() as connection:
        rows = connection.execute(sa.text("SELECT * FROM block_document_versions")).all()
    assert len(rows) == 3  # the table, its nested login, the secret: kept by the server
    assert TOKEN not in repr(rows), "the server encrypts secrets at rest"

    audited = runner.invoke(app, ["block", "audit", "secret/db-password", "--output", "json"])
    assert audited.exit_code == 0, audited.output
    [read] = json.loads(audited.stdout)["reads"]
    assert (read["reader"], read["block"], read["version"], read["fields"]) == (
        "ops-admin", "secret/db-password", 1, ["value"],
    )  # fmt: skip
    table = runner.invoke(app, ["block", "audit", "secret/db-password"])
    assert "ops-admin" in table.stdout
    assert TOKEN not in table.stdout
    secret_id = api.http.get("/blocks/secret/db-password", headers=_bearer(admin)).json()["id"]
    over_http = api.http.get(f"/blocks/{secret_id}/audit", headers=_bearer(admin))
    assert [r["reader"] for r in over_http.json()] == ["ops-admin"]
    nested = api.http.get("/blocks", params={"include_anonymous": True}, headers=_bearer(admin))
    [login] = [d for d in nested.json() if d["is_anonymous"]]
    login_reads = api.http.get(f"/blocks/{login['document_id']}/audit", headers=_bearer(admin))
    assert [(r["reader"], r["fields"]) for r in login_reads.json()] == [
        ("ops-admin", ["password"])
    ], "a nested block's secrets are read, and audited, like any other"

    Secret.delete("db-password")
    with pytest.raises(BlockNotFoundError, match="No saved block secret/db-password"):
        Secret.load("db-password")
    assert [r["reader"] for r in api.http.get(
        f"/blocks/{secret_id}/audit", headers=_bearer(admin)
    ).json()] == ["ops-admin"], "the audit trail outlives the block"  # fmt: skip


def test_secret_values_need_an_admin_key_and_other_scopes_see_only_field_names(
    api, store, client_mode
):
    admin, writer, reader = (create_key(name, name) for name in ("admin", "write", "read"))
    client_mode(writer)
    Secret(value=TOKEN).save("db-password")
    with pytest.raises(ConfigError, match="scope write; secret values need admin"):
        Secret.load("db-password")
    client_mode(reader)
    with pytest.raises(ConfigError, match="scope read; this needs write"):
        Secret(value="other").save("other")
    for key in (reader, writer):
        refused = api.http.get(
            "/blocks/secret/db-password", params={"include_secrets": True}, headers=_bearer(key)
        )
        assert refused.status_code == 403
        assert TOKEN not in refused.text
        shown = api.http.get("/blocks/secret/db-password", headers=_bearer(key))
        assert shown.json()["secret_fields"] == ["value"]
        assert TOKEN not in shown.text
        document_id = shown.json()["id"]
        assert api.http.get(f"/blocks/{document_id}/audit", headers=_bearer(key)).status_code == 403
    history = runner.invoke(app, ["block", "history", "secret/db-password"])
    assert history.exit_code == 0, history.output
    allowed = api.http.get(
        "/blocks/secret/db-password", params={"include_secrets": True}, headers=_bearer(admin)
    )
    assert allowed.json()["secrets"] == {'["value"]': {"value": TOKEN}}
    audit = api.http.get(f"/blocks/{document_id}/audit", headers=_bearer(admin)).json()
    assert [r["reader"] for r in audit] == ["admin"], "refused reads hand out nothing to audit"


def test_the_block_commands_work_through_the_server(api, store, client_mode):
    client_mode(None)
    Secret(value=TOKEN).save("api-token")
    Secret(value=f"{TOKEN}-2").save("api-token", overwrite=True)
    listed = runner.invoke(app, ["block", "ls"])
    assert listed.exit_code == 0, listed.output
    assert "api-token" in listed.stdout
    history = runner.invoke(app, ["block", "history", "secret/api-token", "--output", "json"])
    assert history.exit_code == 0, history.output
    versions = json.loads(history.stdout)["versions"]
    assert [v["changed_fields"] for v in versions] == [None, ["value"]]
    assert TOKEN not in history.stdout
    with pytest.raises(BlockError, match="already exists; pass overwrite=True"):
        Secret(value="x").save("api-token")
    deleted = runner.invoke(app, ["block", "delete", "secret/api-token", "--yes"])
    assert deleted.exit_code == 0, deleted.output
    assert runner.invoke(app, ["block", "ls"]).stdout.count("api-token") == 0
    rotate = runner.invoke(app, ["block", "rotate-key"])
    assert rotate.exit_code == 1
    assert "on the server's host" in rotate.stderr


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/blocks/secret/missing", {}, 404),
        ("/blocks/secret/api-token", {"version": "9"}, 404),
        ("/blocks/secret/api-token", {"version": "0"}, 422),
        ("/blocks/se cret/x", {}, 422),
        ("/blocks", {"type": "../etc"}, 422),
        ("/block_documents/not-an-id", {}, 422),
        ("/block_types/no-such-type", {}, 404),
    ],
)
def test_bad_block_requests_are_4xx_with_a_json_body(api, saved, path, params, status):
    answer = api.http.get(path, params=params)
    assert answer.status_code == status, answer.text
    assert answer.json()["detail"]


def test_a_bad_save_is_refused_naming_the_field(api, saved):
    version = {
        "block_type": {"slug": "secret", "class_path": "plait.blocks:Secret"},
        "schema": {"checksum": "sha256:x", "version": 1, "fields": {}, "capabilities": []},
        "name": "api-token",
        "data": {},
    }
    conflict = api.http.post("/blocks", json={"versions": [version]})
    assert conflict.status_code == 409
    assert "already exists" in conflict.json()["detail"]
    unknown = api.http.post("/blocks", json={"versions": [{**version, "colour": "red"}]})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "versions[0].colour"
    bad_name = api.http.post("/blocks", json={"versions": [{**version, "name": "a/b"}]})
    assert bad_name.status_code == 422
    assert bad_name.json()["errors"][0]["field"] == "versions[0].name"
    nul = api.http.post(
        "/blocks", json={"versions": [{**version, "name": "x", "data": {"host": "db\u0000"}}]}
    )
    assert nul.status_code == 422
    [problem] = nul.json()["errors"]
    assert problem["field"] == "versions[0].data.host"
    assert "NUL character" in problem["problem"]
    not_a_path = api.http.post(
        "/blocks", json={"versions": [{**version, "name": "x", "secrets": {"password": "p"}}]}
    )
    assert not_a_path.status_code == 422
    assert "is not a field path" in not_a_path.text
    assert '"p"' not in not_a_path.text, "a refused secret is not echoed back"
