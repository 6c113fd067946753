"""Variables: JSON values saved under a name, set and read from Python and the CLI, on SQLite
and PostgreSQL, embedded and through the server."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from plait import flow
from plait.backend.variables import MAX_VALUE_BYTES
from plait.cli import app
from plait.exceptions import ParameterError, VariableExistsError
from plait.variables import Variable

runner = CliRunner()


@flow
def load(table: str) -> str:
    schema = Variable.get("warehouse_schema", default="public")
    return f"{schema}.{table}"


def test_variables_are_saved_read_replaced_and_unset(backend_mode):
    assert load("orders") == "public.orders", "the default, before it is set"
    saved = Variable.set("warehouse_schema", "analytics", tags=["etl"])
    assert (saved.name, saved.value, saved.tags) == ("warehouse_schema", "analytics", ("etl",))
    assert load("orders") == "analytics.orders"

    with pytest.raises(VariableExistsError, match="exists already; pass overwrite=True"):
        Variable.set("warehouse_schema", "other")
    assert Variable.get("warehouse_schema") == "analytics", "unchanged"
    Variable.set("warehouse_schema", "mart", overwrite=True)
    assert load("orders") == "mart.orders"

    values = {"count": 3, "ratio": 0.5, "on": True, "nothing": None,
              "regions": ["eu", "us"], "limits": {"rows": 1000, "nested": {"a": [1]}}}  # fmt: skip
    for name, value in values.items():
        Variable.set(name, value)
    assert {name: Variable.get(name, default="absent") for name in values} == values
    assert Variable.unset("count") is True
    assert Variable.unset("count") is False
    assert Variable.get("count", default="absent") == "absent"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("Bad Name", 1, "Variable name 'Bad Name' is not valid"),
        ("when", object(), "its value must be JSON"),
        ("nan", float("nan"), "its value must be JSON"),
        ("big", "x" * MAX_VALUE_BYTES, "over the 100,000 allowed"),
    ],
)
def test_bad_variables_are_refused_naming_what_is_wrong(backend_mode, name, value, message):
    with pytest.raises(ParameterError, match=message):
        Variable.set(name, value)


def test_plait_variable_sets_lists_gets_and_deletes(backend_mode):
    def plait(*args: str):
        return runner.invoke(app, ["variable", *args], env={"COLUMNS": "120"})

    assert plait("set", "warehouse_schema", "analytics").exit_code == 0
    assert plait("set", "limits", '{"rows": 1000}', "--tag", "etl").exit_code == 0
    refused = plait("set", "limits", "2")
    assert refused.exit_code == 1
    assert "exists already" in refused.stderr
    assert plait("set", "limits", '{"rows": 5}', "--overwrite", "--tag", "etl").exit_code == 0

    listed = plait("ls")
    rows = [line.split() for line in listed.output.splitlines()[1:]]
    assert [row[0] for row in rows] == ["limits", "warehouse_schema"]
    assert rows[0][1:4] == ['{"rows":', "5}", "etl"]
    assert rows[1][1] == "analytics"
    assert plait("get", "warehouse_schema").stdout == "analytics\n"
    assert json.loads(plait("get", "limits").stdout) == {"rows": 5}
    assert Variable.get("limits") == {"rows": 5}, "the CLI and the SDK see the same variables"
    as_json = json.loads(plait("ls", "-o", "json").stdout)["variables"]
    assert [(v["name"], v["tags"]) for v in as_json] == [
        ("limits", ["etl"]),
        ("warehouse_schema", []),
    ]

    assert plait("delete", "limits").exit_code == 0
    missing = plait("get", "limits")
    assert (missing.exit_code, missing.stderr.strip()) == (
        1, "Error: No variable is named 'limits' (see: plait variable ls).",
    )  # fmt: skip


def test_the_api_refuses_bad_variable_requests_by_name(api):
    import httpx

    with httpx.Client(base_url=api.url) as http:
        assert http.put("/variables/schema", json={"value": "a"}).status_code == 200
        taken = http.put("/variables/schema", json={"value": "b"})
        no_value = http.put("/variables/other", json={"tags": []})
        extra = http.put("/variables/other", json={"value": 1, "colour": "red"})
        bad_name = http.get("/variables/Bad%20Name")
        missing = http.get("/variables/missing")
    assert taken.status_code == 409
    assert taken.json()["detail"].startswith("Variable 'schema' exists already")
    assert no_value.status_code == 422
    assert "value" in json.dumps(no_value.json())
    assert extra.status_code == 422
    assert "colour" in json.dumps(extra.json())
    assert bad_name.status_code == 422
    assert missing.status_code == 404
