"""Saved blocks over the API: their fields and versions, and their secrets only by name."""

from __future__ import annotations

import pytest

from plait.blocks import Secret

TOKEN = "s3cr3t-t0ken-for-the-api"


@pytest.fixture
def saved(store) -> None:
    Secret(value=TOKEN).save("api-token")
    Secret(value=f"{TOKEN}-2").save("api-token", overwrite=True)


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
    first = api.http.get("/blocks/secret/api-token", params={"version": 1}).json()
    assert first["version"] == 1
    for answer in (listed, latest):
        assert TOKEN not in answer.text
    assert TOKEN not in str(first)


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/blocks/secret/missing", {}, 404),
        ("/blocks/secret/api-token", {"version": "9"}, 404),
        ("/blocks/secret/api-token", {"version": "0"}, 422),
        ("/blocks/se cret/x", {}, 422),
        ("/blocks", {"type": "../etc"}, 422),
    ],
)
def test_bad_block_requests_are_4xx_with_a_json_body(api, saved, path, params, status):
    answer = api.http.get(path, params=params)
    assert answer.status_code == status, answer.text
    assert answer.json()["detail"]
