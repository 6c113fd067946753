"""The prebuilt AWS tasks in a real flow against a real moto server (the real boto3), their
retry options, and which failures they retry: transient ones (throttling, 5xx, lost
connections) but never a missing bucket or key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from plait import StateType, flow, task
from plait.states import Completed, Failed
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
from plait_aws.tasks import RETRY_OPTIONS, retry_if_transient

ALL_TASKS = [
    s3_upload,
    s3_download,
    s3_list_objects,
    s3_copy,
    s3_move,
    s3_delete,
    read_secret,
    update_secret,
]
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


def test_s3_upload_needs_exactly_one_source(bucket: S3Bucket, tmp_path: Path):
    @flow
    def pipeline(**kwargs: Any) -> Any:
        return s3_upload(bucket, "a.json", **kwargs)

    with pytest.raises(ValueError, match="either data"):
        pipeline()
    with pytest.raises(ValueError, match="either data"):
        pipeline(data=b".", from_path=tmp_path / "x")


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


def test_every_task_has_its_name_and_retry_options():
    for each in ALL_TASKS:
        assert each.name == each.fn.__name__
        assert each.retries == 3
        assert each.retry_delay_seconds == (1.0, 4.0, 16.0)
        assert each.retry_jitter_factor == 0.5
        assert each.retry_condition_fn is retry_if_transient
        assert each.fn.__doc__


def test_the_retry_delays_grow_and_jitter_never_shortens_them():
    for retry, base in enumerate([1, 4, 16, 16], start=1):
        delays = [s3_upload.retry_delay(retry) for _ in range(50)]
        assert all(base <= delay <= base * 1.5 for delay in delays)


def failed(error: BaseException) -> Any:
    return Failed(error, str(error))


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


def test_a_missing_key_is_not_retried(bucket: S3Bucket, recorder):
    @flow
    def pipeline() -> Any:
        return s3_download.with_options(retry_delay_seconds=0)(bucket, "missing.json")

    with pytest.raises(AwsError, match="NoSuchKey"):
        pipeline()

    [run] = recorder.task_runs()
    assert run.run_count == 1


def test_a_transient_error_is_retried_with_the_aws_retry_options(bucket: S3Bucket, recorder):
    bucket.write_path("k.json", b"{}")
    attempts: list[int] = []

    @task(**{**RETRY_OPTIONS, "retry_delay_seconds": 0})
    def flaky_read(bucket: S3Bucket, path: str) -> bytes:
        attempts.append(1)
        if len(attempts) < 3:  # S3 asks to slow down twice
            raise AwsError(
                "Reading (bucket 'raw', key 'in/k.json') failed with AWS error SlowDown",
                "SlowDown",
                503,
            )
        return bucket.read_path(path)

    box: list[Any] = []

    @flow
    def outer() -> None:
        box.append(flaky_read(bucket, "k.json", return_state=True))

    outer()

    assert box[0].type is StateType.COMPLETED
    assert box[0].result() == b"{}"
    assert len(attempts) == 3
    assert recorder.task_runs()[0].run_count == 3
