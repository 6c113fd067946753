"""GcpCredentials and GcpError with the real google-auth and google-cloud-storage against a
real gcp-storage-emulator server and a local OAuth token endpoint: anonymous, service account
(info or file) and Application Default Credentials, checks, client caching, invalid keys
refused with clear errors that never hold the key, secrets kept out of reprs and out of the
raw database bytes, and how Google's errors are named and told transient."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
import requests
from fixtures.files import everything_said_about, files_in
from fixtures.gcp import ServiceAccountKey, TokenServer
from google.api_core import exceptions as api
from google.auth.credentials import AnonymousCredentials
from google.oauth2 import service_account
from pydantic import ValidationError

from plait.settings import load_settings
from plait_gcp import GcpCredentials, GcpError
from plait_gcp.errors import gcp_error, is_transient


def key_material(key: ServiceAccountKey) -> list[str]:
    """Pieces of the private key that must never be shown: the whole PEM and each line of
    its body."""
    body = [line for line in key.private_key.splitlines() if line and "-----" not in line]
    return [key.private_key, *body]


def assert_no_key_in(text: str, key: ServiceAccountKey) -> None:
    for piece in key_material(key):
        assert piece not in text


# -- anonymous credentials for an emulator ------------------------------------------------


def test_check_lists_the_buckets_of_the_project_at_the_endpoint(gcp_credentials: GcpCredentials):
    gcp_credentials.get_cloud_storage_client().create_bucket("raw-events")

    result = gcp_credentials.check()

    assert result.ok, result.message
    assert result.message == (
        f"listed 1 buckets in project 'test' at {gcp_credentials.api_endpoint}"
    )
    assert 0 <= result.latency < 10


def test_an_endpoint_without_a_key_is_anonymous(gcp_credentials: GcpCredentials):
    credentials, project = gcp_credentials.get_credentials()

    assert isinstance(credentials, AnonymousCredentials)
    assert project == "test"
    assert gcp_credentials.get_credentials_from_service_account() is None
    client = gcp_credentials.get_cloud_storage_client()
    assert client.project == "test"
    assert gcp_credentials.api_endpoint == client._connection.API_BASE_URL


def test_check_against_a_closed_port_fails_at_once_and_says_why(closed_port: int):
    endpoint = f"http://127.0.0.1:{closed_port}"

    result = GcpCredentials(project="test", api_endpoint=endpoint).check()

    assert not result.ok
    assert result.message.startswith(f"GcpError: Listing buckets at {endpoint} (project 'test')")
    assert "ConnectionError" in result.message
    assert "Connection refused" in result.message
    assert result.latency < 5  # no retries in a check


def test_check_without_a_project_says_to_set_one(gcp_endpoint: str):
    result = GcpCredentials(api_endpoint=gcp_endpoint).check()

    assert not result.ok
    assert "set GcpCredentials.project" in result.message


def test_the_storage_client_is_cached_per_credentials(
    gcp_credentials: GcpCredentials, service_account_key: ServiceAccountKey
):
    same = GcpCredentials(project="test", api_endpoint=gcp_credentials.api_endpoint)
    client = gcp_credentials.get_cloud_storage_client()

    assert same == gcp_credentials
    assert same.get_cloud_storage_client() is client
    other_project = GcpCredentials(project="other", api_endpoint=gcp_credentials.api_endpoint)
    assert other_project.get_cloud_storage_client() is not client
    keyed = GcpCredentials(
        service_account_info=service_account_key.info, api_endpoint=gcp_credentials.api_endpoint
    )
    rotated = GcpCredentials(
        service_account_info={**service_account_key.info, "private_key_id": "rotated-key-id"},
        api_endpoint=gcp_credentials.api_endpoint,
    )
    assert keyed.get_cloud_storage_client() is not rotated.get_cloud_storage_client()
    assert keyed.get_cloud_storage_client() is keyed.get_cloud_storage_client()


def test_bad_fields_are_refused_naming_the_field(
    service_account_key: ServiceAccountKey, tmp_path: Path
):
    with pytest.raises(ValidationError, match=r"(?s)api_endpoint.*http\(s\) URL") as caught:
        GcpCredentials(api_endpoint="127.0.0.1:9023")
    with pytest.raises(ValidationError, match="service_account_file") as caught:
        GcpCredentials(service_account_file="  ")
    with pytest.raises(ValidationError, match="not both") as caught:
        GcpCredentials(
            service_account_info=service_account_key.info,
            service_account_file=str(tmp_path / "key.json"),
        )
    assert_no_key_in(everything_said_about(caught.value), service_account_key)
    assert GcpCredentials(api_endpoint="http://127.0.0.1:9023/").api_endpoint == (
        "http://127.0.0.1:9023"
    )


# -- service accounts ---------------------------------------------------------------------


def test_service_account_info_gives_service_account_credentials_and_its_project(
    service_account_key: ServiceAccountKey,
):
    credentials, project = GcpCredentials(
        service_account_info=service_account_key.info
    ).get_credentials()

    assert isinstance(credentials, service_account.Credentials)
    assert credentials.service_account_email == "etl@plait-tests.iam.gserviceaccount.com"
    assert project == "plait-tests"
    _, chosen = GcpCredentials(
        service_account_info=service_account_key.info, project="chosen"
    ).get_credentials()
    assert chosen == "chosen"


def test_a_service_account_file_works_like_its_content(
    service_account_key: ServiceAccountKey, gcp_endpoint: str, tmp_path: Path
):
    key_file = tmp_path / "etl-key.json"
    key_file.write_text(json.dumps(service_account_key.info))

    credentials = GcpCredentials(service_account_file=str(key_file), api_endpoint=gcp_endpoint)
    google_credentials, project = credentials.get_credentials()

    assert google_credentials.service_account_email == "etl@plait-tests.iam.gserviceaccount.com"
    assert project == "plait-tests"
    assert credentials.check().ok  # a token from the local token endpoint, then the emulator


def test_a_service_account_signs_in_and_checks_against_the_emulator(
    service_account_key: ServiceAccountKey, gcp_endpoint: str, token_server: TokenServer
):
    info = {**service_account_key.info, "private_key_id": "only-in-this-check"}  # a new client
    credentials = GcpCredentials(service_account_info=info, api_endpoint=gcp_endpoint)
    before = len(token_server.assertions)

    result = credentials.check()

    assert result.ok, result.message
    assert result.message == f"listed 0 buckets in project 'plait-tests' at {gcp_endpoint}"
    assert len(token_server.assertions) > before


def broken_keys(key: ServiceAccountKey) -> dict[str, tuple[dict[str, Any], str]]:
    """Service account infos that cannot be used, and what the error must say."""
    info = key.info
    pem = key.private_key
    return {
        "no private_key": (
            {k: v for k, v in info.items() if k != "private_key"},
            "it has no private_key field",
        ),
        "no client_email or token_uri": (
            {k: v for k, v in info.items() if k not in ("client_email", "token_uri")},
            "it has no client_email, token_uri fields",
        ),
        "a corrupted key": (
            {**info, "private_key": pem[:300] + "!!corrupted!!" + pem[320:]},
            "its private_key is not a PEM-encoded private key",
        ),
        "a key without its BEGIN and END lines": (
            {**info, "private_key": "".join(pem.splitlines()[1:-1])},
            "its private_key is not a PEM-encoded private key",
        ),
        "a user's credentials": (
            {**info, "type": "authorized_user"},
            "its type is 'authorized_user', not 'service_account'",
        ),
        "a private_key that is not text": (
            {**info, "private_key": {"pem": pem}},
            "its private_key field must be a string, got dict",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "no private_key",
        "no client_email or token_uri",
        "a corrupted key",
        "a key without its BEGIN and END lines",
        "a user's credentials",
        "a private_key that is not text",
    ],
)
def test_unusable_service_account_info_is_a_clear_error_without_the_key(
    case: str, service_account_key: ServiceAccountKey, gcp_endpoint: str
):
    info, problem = broken_keys(service_account_key)[case]
    credentials = GcpCredentials(service_account_info=info, api_endpoint=gcp_endpoint)

    with pytest.raises(GcpError) as caught:
        credentials.get_cloud_storage_client()
    result = credentials.check()

    message = str(caught.value)
    assert message.startswith(
        "GcpCredentials.service_account_info is not a usable service account key: "
    )
    assert problem in message
    assert caught.value.reason == "InvalidKey"
    assert caught.value.__context__ is None, "no chained google-auth error to leak the key"
    assert_no_key_in(everything_said_about(caught.value), service_account_key)
    assert not result.ok
    assert problem in result.message
    assert_no_key_in(result.message, service_account_key)


def test_an_unreadable_or_broken_key_file_is_named_never_shown(
    service_account_key: ServiceAccountKey, tmp_path: Path
):
    missing = tmp_path / "missing.json"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(service_account_key.info)[:-40])  # cut short: not JSON

    with pytest.raises(GcpError) as unreadable:
        GcpCredentials(service_account_file=str(missing)).get_credentials()
    with pytest.raises(GcpError) as not_json:
        GcpCredentials(service_account_file=str(broken)).get_credentials()

    assert f"The service account key file {str(missing)!r} cannot be read" in str(unreadable.value)
    assert "No such file" in str(unreadable.value)
    assert str(not_json.value).startswith(
        f"The service account key file {str(broken)!r} is not JSON"
    )
    assert not_json.value.__context__ is None  # the JSON error holds the whole text
    assert_no_key_in(everything_said_about(not_json.value), service_account_key)


# -- Application Default Credentials ------------------------------------------------------


def test_without_a_key_or_endpoint_the_default_credentials_are_used(
    service_account_key: ServiceAccountKey, tmp_path: Path, monkeypatch
):
    key_file = tmp_path / "adc.json"
    key_file.write_text(json.dumps(service_account_key.info))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))

    credentials, project = GcpCredentials().get_credentials()

    assert credentials.service_account_email == "etl@plait-tests.iam.gserviceaccount.com"
    assert project == "plait-tests"
    assert GcpCredentials(project="mine").get_credentials()[1] == "mine"


def test_missing_default_credentials_are_a_clear_error(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "nowhere.json"))

    with pytest.raises(GcpError) as caught:
        GcpCredentials().get_cloud_storage_client()

    message = str(caught.value)
    assert message.startswith("Finding Application Default Credentials failed: ")
    assert "nowhere.json" in message
    assert "service_account_info or service_account_file" in message
    assert caught.value.reason == "DefaultCredentialsError"


# -- secrets ------------------------------------------------------------------------------


def test_the_key_never_shows_in_reprs(service_account_key: ServiceAccountKey):
    credentials = GcpCredentials(service_account_info=service_account_key.info, project="p")

    for shown in (repr(credentials), str(credentials), str(credentials.model_dump())):
        assert_no_key_in(shown, service_account_key)
        assert "etl@plait-tests" not in shown, "the whole key is secret, the email too"
        assert "**********" in shown
        assert "'p'" in shown, "plain fields still show"


def test_saving_encrypts_the_key_and_loading_gives_working_credentials(
    service_account_key: ServiceAccountKey, gcp_endpoint: str
):
    credentials = GcpCredentials(
        service_account_info=service_account_key.info, api_endpoint=gcp_endpoint
    )
    credentials.save("prod")

    home = load_settings().home
    raw = b"".join(files_in(home).values())  # read apart: home holds the SQLite store
    assert gcp_endpoint.encode() in raw, "plain fields are stored as they are"
    for piece in key_material(service_account_key):
        assert piece.encode() not in raw
        assert json.dumps(piece)[1:-1].encode() not in raw
    loaded = GcpCredentials.load("prod")
    assert loaded == credentials
    assert loaded.service_account_info.get_secret_value() == service_account_key.info
    assert loaded.check().ok


# -- GcpError -----------------------------------------------------------------------------


def test_gcp_error_keeps_code_reason_and_transience_across_processes():
    error = GcpError("Reading (bucket 'raw') failed", 503, "backendError")
    lost = GcpError("Reading failed: ConnectionError", None, "ConnectionError", transient=True)

    for original in (error, lost):
        copy = pickle.loads(pickle.dumps(original))
        assert type(copy) is GcpError
        assert str(copy) == str(original)
        assert (copy.code, copy.reason, copy.transient) == (
            original.code,
            original.reason,
            original.transient,
        )
    assert error.status == 503
    assert error.transient


def test_google_s_own_reason_and_message_are_kept(gcp_credentials: GcpCredentials):
    client = gcp_credentials.get_cloud_storage_client()
    client.create_bucket("taken")
    with pytest.raises(api.Conflict) as conflict:
        client.create_bucket("taken")

    error = gcp_error(conflict.value, "Creating", bucket="taken")

    assert str(error) == (
        "Creating (bucket 'taken') failed with Google Cloud error 409 (conflict): You already "
        "own this bucket. Please select another name."
    )
    assert (error.code, error.reason, error.transient) == (409, "conflict", False)


@pytest.mark.parametrize(
    ("exc", "code", "transient"),
    [
        (api.TooManyRequests("slow down"), 429, True),
        (api.InternalServerError("oops"), 500, True),
        (api.BadGateway("bad gateway"), 502, True),
        (api.ServiceUnavailable("backend error"), 503, True),
        (api.GatewayTimeout("timed out"), 504, True),
        (api.from_http_status(408, "request timeout"), 408, True),
        (api.NotFound("No such object: raw/a"), 404, False),
        (api.Forbidden("etl@p has no storage.objects.get access"), 403, False),
        (api.Unauthorized("invalid credentials"), 401, False),
        (api.PreconditionFailed("generation mismatch"), 412, False),
        (requests.exceptions.ConnectionError("connection refused"), None, True),
        (requests.exceptions.ReadTimeout("read timed out"), None, True),
        (requests.exceptions.SSLError("certificate verify failed"), None, False),
        (api.RetryError("deadline", api.ServiceUnavailable("backend error")), 503, True),
        (ValueError("a bug"), None, False),
    ],
)
def test_which_errors_are_transient(exc: Exception, code: int | None, transient: bool):
    error = gcp_error(exc, "Reading", bucket="raw", object="a")

    assert error.code == code
    assert error.transient is transient
    assert is_transient(exc) is transient
    assert is_transient(error) is transient
    assert str(error).startswith("Reading (bucket 'raw', object 'a') failed")


def test_a_problem_found_out_replaces_google_s_reason():
    error = gcp_error(
        api.NotFound("GET http://x/b/raw/o/a: unknown error"),
        "Reading",
        problem="the object does not exist",
        bucket="raw",
        object="a",
    )

    assert str(error) == (
        "Reading (bucket 'raw', object 'a') failed with Google Cloud error 404 (notFound): "
        "the object does not exist"
    )
