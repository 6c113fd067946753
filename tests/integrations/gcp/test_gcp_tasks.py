"""The prebuilt Cloud Storage tasks in a real flow against a real gcp-storage-emulator server
(the real google-cloud-storage client), their retry options, and which failures they retry:
transient ones (429, 5xx, lost connections) but never a missing bucket or object.
Their shared contract is tested for both integrations in test_object_storage_backends.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fixtures.runs import failed

from plait import flow
from plait.states import Completed
from plait_gcp import (
    GcpCredentials,
    GcpError,
    GcsBucket,
    gcs_copy,
    gcs_delete,
    gcs_download,
    gcs_list_blobs,
    gcs_upload,
)
from plait_gcp.tasks import retry_if_transient


@pytest.fixture
def bucket(gcp_credentials: GcpCredentials) -> GcsBucket:
    client = gcp_credentials.get_cloud_storage_client()
    client.create_bucket("raw")
    client.create_bucket("archive")
    return GcsBucket(bucket="raw", bucket_folder="in", credentials=gcp_credentials)


def test_every_task_in_a_flow(
    bucket: GcsBucket, gcp_credentials: GcpCredentials, tmp_path: Path, recorder
):
    archive = GcsBucket(bucket="archive", credentials=gcp_credentials)
    local = tmp_path / "local.csv"
    local.write_bytes(b"id\n1\n")

    @flow
    def pipeline() -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["upload"] = gcs_upload(bucket, "a.json", b'{"a": 1}')
        out["upload_file"] = gcs_upload(bucket, "files/local.csv", from_path=local)
        out["download"] = gcs_download(bucket, "a.json")
        out["download_file"] = gcs_download(bucket, "files/local.csv", tmp_path / "back.csv")
        out["copy"] = gcs_copy(bucket, "a.json", "b.json")
        out["copy_across"] = gcs_copy(bucket, "b.json", "2026/b.json", to_bucket=archive)
        out["listed"] = [o["Path"] for o in gcs_list_blobs(bucket)]
        out["folders"] = [o["Path"] for o in gcs_list_blobs(bucket, delimiter="/")]
        out["deleted"] = gcs_delete(bucket, "files")
        out["deleted_list"] = gcs_delete(bucket, ["b.json"])
        return out

    out = pipeline()

    assert out["upload"] == "in/a.json"
    assert out["upload_file"] == "in/files/local.csv"
    assert out["download"] == b'{"a": 1}'
    assert out["download_file"] == tmp_path / "back.csv"
    assert (tmp_path / "back.csv").read_bytes() == b"id\n1\n"
    assert out["copy"] == "in/b.json"
    assert out["copy_across"] == "2026/b.json"
    assert archive.read_path("2026/b.json") == b'{"a": 1}'
    assert out["listed"] == ["a.json", "b.json", "files/local.csv"]
    assert out["folders"] == ["a.json", "b.json", "files/"]
    assert out["deleted"] == ["files/local.csv"]
    assert out["deleted_list"] == ["b.json"]
    assert bucket.list() == ["a.json"]
    names = [run.name for run in recorder.task_runs()]
    assert [name.rsplit("-", 1)[0] for name in names] == [
        "gcs_upload",
        "gcs_upload",
        "gcs_download",
        "gcs_download",
        "gcs_copy",
        "gcs_copy",
        "gcs_list_blobs",
        "gcs_list_blobs",
        "gcs_delete",
        "gcs_delete",
    ]


@pytest.mark.parametrize(
    ("code", "reason", "retried"),
    [
        (429, "rateLimitExceeded", True),
        (408, "requestTimeout", True),
        (500, "internalError", True),
        (503, "backendError", True),
        (599, "somethingNew", True),  # any 5xx answer
        (404, "notFound", False),
        (403, "forbidden", False),
        (401, "unauthorized", False),
        (412, "conditionNotMet", False),
    ],
)
def test_the_retry_condition_retries_only_transient_google_errors(
    code: int, reason: str, retried: bool
):
    error = GcpError(f"Reading (bucket 'raw') failed with Google Cloud error {code}", code, reason)

    assert retry_if_transient(gcs_download, None, failed(error)) is retried


def test_the_retry_condition_on_real_errors(bucket: GcsBucket, closed_port: int, monkeypatch):
    from plait_gcp import gcs

    with pytest.raises(GcpError) as missing:
        bucket.read_path("missing")
    monkeypatch.setattr(gcs, "CLIENT_TIMEOUT", 0.2)  # Google's client gives up at once
    unreachable = GcsBucket(
        bucket="raw",
        credentials=GcpCredentials(project="test", api_endpoint=f"http://127.0.0.1:{closed_port}"),
    )
    with pytest.raises(GcpError) as lost:
        unreachable.read_path("k.json")

    assert str(lost.value).startswith(
        "Reading (bucket 'raw', object 'k.json') failed: ConnectionError:"
    )
    assert lost.value.code is None
    assert lost.value.transient
    assert retry_if_transient(gcs_download, None, failed(missing.value)) is False
    assert retry_if_transient(gcs_download, None, failed(lost.value)) is True
    assert retry_if_transient(gcs_download, None, failed(ValueError("bad input"))) is False
    assert retry_if_transient(gcs_download, None, Completed(1)) is False
