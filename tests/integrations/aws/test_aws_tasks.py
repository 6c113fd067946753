"""The prebuilt AWS tasks in a real flow against a real moto server (the real boto3), their
retry options, and which failures they retry: transient ones (throttling, 5xx, lost
connections) but never a missing bucket or key.
What all bucket tasks share: tests/integrations/test_object_storage_backends.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from fixtures.runs import failed
from pydantic import SecretStr

from plait import flow
from plait.states import Completed
from plait_aws import (
    AwsCredentials,
    AwsError,
    AwsSecret,
    S3Bucket,
    read_secret,
    s3_copy,
    s3_delete,
    s3_download,
    s3_list_objects,
    s3_move,
    s3_upload,
    update_secret,
)
from plait_aws.errors import aws_error
from plait_aws.tasks import retry_if_transient

SECRET_VALUE = "t4sk-s3cr3t-value-91c2"


@pytest.fixture
def bucket(aws_credentials: AwsCredentials) -> S3Bucket:
    aws_credentials.get_client("s3").create_bucket(Bucket="raw")
    aws_credentials.get_client("s3").create_bucket(Bucket="archive")
    return S3Bucket(bucket_name="raw", bucket_folder="in", credentials=aws_credentials)


def test_every_task_in_a_flow(
    bucket: S3Bucket, aws_credentials: AwsCredentials, tmp_path: Path, recorder
):
    archive = S3Bucket(bucket_name="archive", credentials=aws_credentials)
    secret = AwsSecret(secret_name="prod/api-token", credentials=aws_credentials)
    local = tmp_path / "local.csv"
    local.write_bytes(b"id\n1\n")

    @flow
    def pipeline() -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["upload"] = s3_upload(bucket, "a.json", b'{"a": 1}')
        out["upload_file"] = s3_upload(bucket, "files/local.csv", from_path=local)
        out["download"] = s3_download(bucket, "a.json")
        out["download_file"] = s3_download(bucket, "files/local.csv", tmp_path / "back.csv")
        out["copy"] = s3_copy(bucket, "a.json", "b.json")
        out["move"] = s3_move(bucket, "b.json", "2026/b.json", to_bucket=archive)
        out["listed"] = [o["Path"] for o in s3_list_objects(bucket)]
        out["folders"] = [o["Path"] for o in s3_list_objects(bucket, delimiter="/")]
        out["deleted"] = s3_delete(bucket, "files")
        out["arn"] = update_secret(secret, SecretStr(SECRET_VALUE))
        out["secret"] = read_secret(secret)
        return out

    out = pipeline()

    assert out["upload"] == "in/a.json"
    assert out["upload_file"] == "in/files/local.csv"
    assert out["download"] == b'{"a": 1}'
    assert out["download_file"] == tmp_path / "back.csv"
    assert (tmp_path / "back.csv").read_bytes() == b"id\n1\n"
    assert out["copy"] == "in/b.json"
    assert out["move"] == "2026/b.json"
    assert archive.read_path("2026/b.json") == b'{"a": 1}'
    assert out["listed"] == ["a.json", "files/local.csv"]
    assert out["folders"] == ["a.json", "files/"]
    assert out["deleted"] == ["files/local.csv"]
    assert bucket.list() == ["a.json"]
    assert ":secret:prod/api-token" in out["arn"]
    assert out["secret"] == SECRET_VALUE
    names = [run.name for run in recorder.task_runs()]
    assert [name.rsplit("-", 1)[0] for name in names] == [
        "s3_upload",
        "s3_upload",
        "s3_download",
        "s3_download",
        "s3_copy",
        "s3_move",
        "s3_list_objects",
        "s3_list_objects",
        "s3_delete",
        "update_secret",
        "read_secret",
    ]


def test_secret_values_are_never_persisted_as_results(
    bucket: S3Bucket, aws_credentials: AwsCredentials, monkeypatch
):
    monkeypatch.setenv("PLAIT_RESULTS_PERSIST_BY_DEFAULT", "true")
    secret = AwsSecret(secret_name="s", credentials=aws_credentials)
    bucket.write_path("k", b"v")
    states: list[Any] = []

    @flow
    def pipeline() -> None:
        states.append(update_secret(secret, SECRET_VALUE, return_state=True))
        states.append(read_secret(secret, return_state=True))
        states.append(s3_download(bucket, "k", return_state=True))

    pipeline()

    updated, read, downloaded = states
    assert read.result() == SECRET_VALUE
    assert updated.result_ref is None
    assert read.result_ref is None
    assert downloaded.result_ref is not None  # the setting is on: other results persist
    results = Path(os.environ["PLAIT_HOME"]) / "results"
    written = b"".join(p.read_bytes() for p in results.rglob("*") if p.is_file())
    assert SECRET_VALUE.encode() not in written


@pytest.mark.parametrize(
    ("code", "status", "retried"),
    [
        ("SlowDown", 503, True),
        ("Throttling", 400, True),
        ("RequestTimeout", 400, True),
        ("InternalError", 500, True),
        ("SomethingNew", 502, True),  # any 5xx answer
        ("NoSuchKey", 404, False),
        ("NoSuchBucket", 404, False),
        ("AccessDenied", 403, False),
        ("SignatureDoesNotMatch", 403, False),
    ],
)
def test_the_retry_condition_retries_only_transient_aws_errors(
    code: str, status: int, retried: bool
):
    error = AwsError(f"Reading (bucket 'raw', key 'k') failed with AWS error {code}", code, status)

    assert retry_if_transient(s3_download, None, failed(error)) is retried


def test_the_retry_condition_on_real_botocore_errors(bucket: S3Bucket):
    from botocore.exceptions import EndpointConnectionError

    with pytest.raises(AwsError) as missing:
        bucket.read_path("missing")
    lost = EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
    try:
        try:
            raise lost
        except EndpointConnectionError as exc:
            raise aws_error(exc, "Reading", bucket="raw", key="k") from None
    except AwsError as wrapped:
        lost_wrapped = wrapped

    assert retry_if_transient(s3_download, None, failed(missing.value)) is False
    assert retry_if_transient(s3_download, None, failed(lost)) is True
    assert retry_if_transient(s3_download, None, failed(lost_wrapped)) is True
    assert retry_if_transient(s3_download, None, failed(ValueError("bad input"))) is False
    assert retry_if_transient(s3_download, None, Completed(1)) is False
