"""AwsSecret and AwsCredentials with the real boto3 against a real moto server on 127.0.0.1:
Secrets Manager round trips, errors that name the secret but never its value, credential
checks, client caching, assuming a role through STS, and secrets kept out of reprs and out
of the raw database bytes."""

from __future__ import annotations

import logging
import socket

import pytest
from fixtures.files import everything_said_about, files_in

from plait.settings import load_settings
from plait_aws import AwsCredentials, AwsError, AwsSecret

VALUE = "s3cr3t-db-passw0rd-7f1e"
BINARY = b"\x00\xffbinary-s3cr3t-\x10\x80"
WRONG_TYPE = 31415926535


@pytest.fixture
def secret(aws_credentials: AwsCredentials) -> AwsSecret:
    return AwsSecret(secret_name="prod/warehouse-password", credentials=aws_credentials)


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def changed(credentials: AwsCredentials, **fields) -> AwsCredentials:
    """A new, validated ``AwsCredentials`` like ``credentials`` with ``fields`` changed."""
    return AwsCredentials(**{**credentials.model_dump(), **fields})


# -- AwsSecret: round trips ---------------------------------------------------------------


def test_write_creates_the_secret_and_read_returns_the_string(secret: AwsSecret):
    arn = secret.write_secret(VALUE)

    assert arn.startswith("arn:aws:secretsmanager:us-east-1:")
    assert ":secret:prod/warehouse-password" in arn
    assert secret.read_secret() == VALUE
    assert isinstance(secret.read_secret(), str)


def test_bytes_are_stored_as_binary_and_read_back_as_bytes(secret: AwsSecret):
    secret.write_secret(BINARY)

    value = secret.read_secret()
    assert value == BINARY
    assert isinstance(value, bytes)
    raw = secret.credentials.get_client("secretsmanager").get_secret_value(
        SecretId=secret.secret_name
    )
    assert raw["SecretBinary"] == BINARY
    assert "SecretString" not in raw


def test_writing_again_adds_a_new_current_version_of_the_same_secret(secret: AwsSecret):
    first_arn = secret.write_secret(VALUE)
    second_arn = secret.write_secret("rotated-" + VALUE)

    assert second_arn == first_arn
    assert secret.read_secret() == "rotated-" + VALUE
    secret.write_secret(BINARY)  # a string secret can become a binary one
    assert secret.read_secret() == BINARY
    versions = secret.credentials.get_client("secretsmanager").list_secret_version_ids(
        SecretId=secret.secret_name
    )["Versions"]
    assert len(versions) == 3


def test_the_secret_is_found_by_its_arn_too(secret: AwsSecret):
    arn = secret.write_secret(VALUE)

    by_arn = AwsSecret(secret_name=arn, credentials=secret.credentials)
    assert by_arn.read_secret() == VALUE
    assert by_arn.write_secret("new-" + VALUE) == arn
    assert secret.read_secret() == "new-" + VALUE


def test_delete_with_a_recovery_window_marks_the_secret_deleted(secret: AwsSecret):
    secret.write_secret(VALUE)

    secret.delete_secret(recovery_window_in_days=7)

    described = secret.credentials.get_client("secretsmanager").describe_secret(
        SecretId=secret.secret_name
    )
    assert "DeletedDate" in described
    with pytest.raises(AwsError) as raised:
        secret.read_secret()
    assert raised.value.code == "InvalidRequestException"


def test_force_delete_removes_the_secret_at_once_and_a_write_creates_it_again(
    secret: AwsSecret,
):
    first_arn = secret.write_secret(VALUE)

    secret.delete_secret(force=True)

    with pytest.raises(AwsError) as raised:
        secret.read_secret()
    assert raised.value.code == "ResourceNotFoundException"
    second_arn = secret.write_secret("again-" + VALUE)
    assert second_arn != first_arn  # a new secret, with a new ARN suffix
    assert secret.read_secret() == "again-" + VALUE


def test_a_saved_secret_block_round_trips_with_its_saved_credentials(
    secret: AwsSecret, aws_credentials: AwsCredentials
):
    aws_credentials.save("moto")
    AwsSecret(secret_name=secret.secret_name, credentials=AwsCredentials.load("moto")).save(
        "warehouse-password"
    )
    secret.write_secret(VALUE)

    loaded = AwsSecret.load("warehouse-password")
    assert loaded == secret
    assert loaded.read_secret() == VALUE


def test_the_default_credentials_are_boto3_default_chain():
    block = AwsSecret(secret_name="anything")
    assert block.credentials == AwsCredentials()
    assert AwsSecret(secret_name="other").credentials is not block.credentials


# -- AwsSecret: errors --------------------------------------------------------------------


def test_reading_a_missing_secret_names_the_secret_and_aws_error_code(secret: AwsSecret):
    with pytest.raises(AwsError) as raised:
        secret.read_secret()

    error = raised.value
    assert error.code == "ResourceNotFoundException"
    assert error.status == 404
    assert not error.transient
    assert "'prod/warehouse-password'" in str(error)
    assert "ResourceNotFoundException" in str(error)
    assert str(error).startswith("Reading secret")


def test_deleting_a_missing_secret_is_an_aws_error_unless_forced(secret: AwsSecret):
    with pytest.raises(AwsError, match=r"Deleting secret.*prod/warehouse-password") as raised:
        secret.delete_secret(recovery_window_in_days=7)
    assert raised.value.code == "ResourceNotFoundException"
    secret.delete_secret(force=True)  # like AWS: forcing the deletion of nothing succeeds


@pytest.mark.parametrize("days", [0, 6, 31, -7, 7.5, True])
def test_a_recovery_window_outside_7_to_30_days_is_refused_before_calling_aws(
    secret: AwsSecret, days
):
    secret.write_secret(VALUE)

    with pytest.raises(ValueError, match="recovery_window_in_days must be between 7 and 30") as e:
        secret.delete_secret(recovery_window_in_days=days)

    assert "force=True" in str(e.value)
    assert secret.read_secret() == VALUE, "nothing was deleted"


@pytest.mark.parametrize("days", [7, 30])
def test_the_recovery_window_bounds_are_accepted(secret: AwsSecret, days: int):
    secret.write_secret(VALUE)
    secret.delete_secret(recovery_window_in_days=days)
    with pytest.raises(AwsError):
        secret.read_secret()


def test_force_ignores_the_recovery_window(secret: AwsSecret):
    secret.write_secret(VALUE)
    secret.delete_secret(recovery_window_in_days=0, force=True)
    with pytest.raises(AwsError, match="ResourceNotFoundException"):
        secret.read_secret()


def test_the_value_never_appears_in_errors_or_logs(secret: AwsSecret, caplog):
    caplog.set_level(logging.DEBUG, logger="plait")
    caplog.set_level(logging.DEBUG, logger="plait_aws")
    offline = AwsSecret(
        secret_name="prod/warehouse-password",
        credentials=changed(secret.credentials, endpoint_url=f"http://127.0.0.1:{closed_port()}"),
    )
    errors: list[BaseException] = []
    for value in (VALUE, BINARY):
        with pytest.raises(AwsError) as raised:
            offline.write_secret(value)  # AWS cannot be reached
        errors.append(raised.value)
    with pytest.raises(TypeError) as raised:
        secret.write_secret(WRONG_TYPE)  # botocore would echo a value of the wrong type
    errors.append(raised.value)
    secret.write_secret(VALUE)
    secret.write_secret(BINARY)
    with pytest.raises(AwsError) as raised:  # a failure after the value was written
        AwsSecret(secret_name="missing", credentials=secret.credentials).read_secret()
    errors.append(raised.value)

    for error in errors:
        said = everything_said_about(error)
        assert VALUE not in said
        assert repr(BINARY) not in said
        assert str(WRONG_TYPE) not in said
    assert "'prod/warehouse-password'" in str(errors[0])
    assert "EndpointConnectionError" in str(errors[0])
    assert "str or bytes" in str(errors[2])
    assert VALUE not in caplog.text
    assert "binary-s3cr3t" not in caplog.text


def test_the_block_holds_no_value_to_show(secret: AwsSecret):
    secret.write_secret(VALUE)
    secret.read_secret()
    for shown in (repr(secret), str(secret), secret.model_dump_json()):
        assert VALUE not in shown
        assert "moto-secret-access-key" not in shown


# -- AwsCredentials -----------------------------------------------------------------------


def test_check_lists_buckets_at_the_endpoint(aws_credentials: AwsCredentials):
    aws_credentials.get_client("s3").create_bucket(Bucket="raw-events")

    result = aws_credentials.check()

    assert result.ok, result.message
    assert result.message == f"listed 1 buckets at {aws_credentials.endpoint_url}"
    assert 0 <= result.latency < 10


def test_check_against_a_closed_port_says_what_failed(aws_credentials: AwsCredentials):
    endpoint = f"http://127.0.0.1:{closed_port()}"
    unreachable = changed(aws_credentials, endpoint_url=endpoint)

    result = unreachable.check()

    assert not result.ok
    assert result.message.startswith("AwsError: Listing buckets at " + endpoint)
    assert "EndpointConnectionError" in result.message
    assert "Could not connect to the endpoint URL" in result.message
    assert "moto-secret-access-key" not in result.message


def test_get_client_is_cached_per_credentials(aws_credentials: AwsCredentials):
    same = AwsCredentials(
        aws_access_key_id="AKIAMOTOTESTKEY00001",
        aws_secret_access_key="moto-secret-access-key-0123456789",
        region_name="us-east-1",
        endpoint_url=aws_credentials.endpoint_url,
    )
    assert same == aws_credentials
    assert same is not aws_credentials

    client = aws_credentials.get_client("secretsmanager")
    assert same.get_client("secretsmanager") is client
    assert aws_credentials.get_client("secretsmanager") is client
    assert aws_credentials.get_client("s3") is not client

    other_key = changed(aws_credentials, aws_access_key_id="AKIAMOTOTESTKEY00002")
    other_secret = changed(aws_credentials, aws_secret_access_key="another-secret-key-000")
    assert other_key.get_client("secretsmanager") is not client
    assert other_secret.get_client("secretsmanager") is not client
    assert other_key.get_client("secretsmanager") is not other_secret.get_client("secretsmanager")


def test_a_role_is_assumed_through_sts_and_its_client_works(aws_credentials: AwsCredentials):
    role = changed(
        aws_credentials,
        role_arn="arn:aws:iam::123456789012:role/plait",
        role_session_name="nightly",
    )

    session = role.get_boto3_session()

    keys = session.get_credentials().get_frozen_credentials()
    assert keys.access_key != aws_credentials.aws_access_key_id
    assert keys.token, "assumed-role credentials carry a session token"
    identity = role.get_client("sts").get_caller_identity()
    assert identity["Arn"] == "arn:aws:sts::123456789012:assumed-role/plait/nightly"
    s3 = role.get_client("s3")
    s3.create_bucket(Bucket="through-the-role")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["through-the-role"]
    secret = AwsSecret(secret_name="role-secret", credentials=role)
    secret.write_secret(VALUE)
    assert secret.read_secret() == VALUE


def test_assuming_a_role_that_cannot_be_reached_fails_the_check(
    aws_credentials: AwsCredentials,
):
    role = changed(
        aws_credentials,
        role_arn="arn:aws:iam::123456789012:role/plait",
        endpoint_url=f"http://127.0.0.1:{closed_port()}",
    )
    role.get_boto3_session()  # the role is assumed on first use, and again before expiry
    result = role.check()
    assert not result.ok
    assert "Could not connect to the endpoint URL" in result.message
    assert "moto-secret-access-key" not in result.message


def test_secrets_never_show_in_reprs(aws_credentials: AwsCredentials):
    credentials = changed(aws_credentials, aws_session_token="session-token-secret-0042")
    secret = AwsSecret(secret_name="prod/warehouse-password", credentials=credentials)

    for block in (credentials, secret):
        for shown in (repr(block), str(block), str(block.model_dump())):
            assert "moto-secret-access-key" not in shown
            assert "session-token-secret-0042" not in shown
            assert "AKIAMOTOTESTKEY00001" in shown, "plain fields still show"
            assert "**********" in shown


def test_saving_credentials_encrypts_the_secret_access_key(aws_credentials: AwsCredentials):
    credentials = changed(aws_credentials, aws_session_token="session-token-secret-0042")
    credentials.save("prod")

    home = load_settings().home
    raw = b"".join(files_in(home).values())  # read apart: home holds the SQLite store
    assert b"AKIAMOTOTESTKEY00001" in raw, "plain fields are stored as they are"
    assert b"moto-secret-access-key" not in raw
    assert b"session-token-secret-0042" not in raw
    loaded = AwsCredentials.load("prod")
    assert loaded == credentials
    assert loaded.aws_secret_access_key.get_secret_value() == "moto-secret-access-key-0123456789"
    assert loaded.check().ok
