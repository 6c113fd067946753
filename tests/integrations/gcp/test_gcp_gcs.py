"""GcsBucket with the real google-cloud-storage client against a real gcp-storage-emulator
server on 127.0.0.1: what the Cloud Storage primitives do (one-request and resumable uploads
of a 20 MB object, rewrites, listings with their object fields, batched deletes), errors that
name the bucket and object, bucket name checks and service account credentials.

What GcsBucket shares with S3Bucket (the filesystem interface, file, file object and folder
transfers, copies, moves, deletes, saved blocks, result storage, also across processes) is
tested against both emulators in tests/integrations/test_object_storage_backends.py; the
shared logic on its own (path normalization and refused '..', argument checks, refusing
downloads that would land outside the target folder, ...) in
tests/blocks/test_object_storage.py."""

from __future__ import annotations

import io
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fixtures.gcp import GcsEmulator, ServiceAccountKey, TokenServer
from pydantic import ValidationError

from plait_gcp import GcpCredentials, GcpError, GcsBucket

BUCKET = "raw"
RESUMABLE_SIZE = 20 * 1024 * 1024


@pytest.fixture
def gcs(gcp_credentials: GcpCredentials) -> Any:
    """A google-cloud-storage client for looking behind the block's back, with the buckets
    made."""
    client = gcp_credentials.get_cloud_storage_client()
    client.create_bucket(BUCKET)
    client.create_bucket("archive")
    return client


@pytest.fixture
def bucket(gcs: Any, gcp_credentials: GcpCredentials) -> GcsBucket:
    return GcsBucket(bucket=BUCKET, bucket_folder="base", credentials=gcp_credentials)


def names(gcs: Any, bucket: str = BUCKET) -> list[str]:
    return sorted(blob.name for blob in gcs.list_blobs(bucket))


def put(gcs: Any, name: str, content: bytes = b".", bucket: str = BUCKET) -> None:
    gcs.bucket(bucket).blob(name).upload_from_string(content, retry=None)


# -- uploads and downloads ----------------------------------------------------------------


def test_a_file_object_goes_up_in_a_resumable_upload(bucket: GcsBucket, gcs_emulator: GcsEmulator):
    source = io.BytesIO(b"skip:payload")
    source.seek(5)

    assert bucket.upload_from_file_object(source, "f.bin") == "base/f.bin"
    assert bucket.read_path("f.bin") == b"payload"
    # Of unknown size, a file object goes up in a resumable upload (here, one chunk).
    assert any("uploadType=resumable" in line for line in gcs_emulator.requests)


def test_small_objects_go_up_in_one_request(bucket: GcsBucket, gcs_emulator: GcsEmulator):
    bucket.write_path("small.bin", os.urandom(1024))

    [upload] = [line for line in gcs_emulator.requests if "/upload/" in line]
    assert upload.startswith("POST ")
    assert "uploadType=multipart" in upload


def test_a_20_mb_object_goes_up_resumably_and_comes_back_byte_for_byte(
    bucket: GcsBucket, gcs: Any, gcs_emulator: GcsEmulator, tmp_path: Path
):
    content = os.urandom(RESUMABLE_SIZE)
    source = tmp_path / "big.bin"
    source.write_bytes(content)

    name = bucket.upload_from_path(source, "big/from-path.bin")
    uploads = [line for line in gcs_emulator.requests if "/upload/" in line]
    bucket.write_path("big/from-bytes.bin", content)
    target = bucket.download_object_to_path("big/from-path.bin", tmp_path / "big-copy.bin")

    # A resumable session (POST ...uploadType=resumable), then 8 MB chunks: 8 + 8 + 4 MB.
    assert uploads[0].startswith("POST ")
    assert "uploadType=resumable" in uploads[0]
    assert [line.split()[0] for line in uploads[1:]] == ["PUT", "PUT", "PUT"]
    assert all("upload_id=" in line for line in uploads[1:])
    for written in (name, "base/big/from-bytes.bin"):
        assert gcs.bucket(BUCKET).get_blob(written).size == RESUMABLE_SIZE
    assert target.read_bytes() == content
    assert bucket.read_path("big/from-bytes.bin") == content
    with io.BytesIO() as into:
        assert bucket.download_object_to_file_object("big/from-bytes.bin", into).getvalue() == (
            content
        )
    copied = bucket.copy_object("big/from-path.bin", "big/copy.bin")  # a rewrite
    assert bucket.read_path("big/copy.bin") == content
    assert copied == "base/big/copy.bin"
    assert any("/rewriteTo/" in line for line in gcs_emulator.requests)


# -- listings -----------------------------------------------------------------------------


def test_list_objects_gives_the_object_fields_and_deletes_go_in_batches_of_100(
    bucket: GcsBucket, gcs: Any, gcs_emulator: GcsEmulator
):
    paths = [f"many/{i // 50:02d}/{i:04d}.txt" for i in range(250)]
    for path in paths:
        put(gcs, f"base/{path}")

    objects = bucket.list_objects("many")
    paged = bucket.list_objects("many", page_size=40)
    first = objects[0]

    assert [o["Path"] for o in objects] == sorted(paths)
    assert [o["Key"] for o in objects] == [f"base/{p}" for p in sorted(paths)]
    assert [o["Path"] for o in paged] == sorted(paths)
    assert any("maxResults=40" in line for line in gcs_emulator.requests)
    assert first["Size"] == 1
    assert isinstance(first["LastModified"], datetime)
    assert first["LastModified"].tzinfo is not None
    assert first["ETag"]
    assert first["Generation"]
    assert bucket.list("many") == sorted(paths)

    before = len(gcs_emulator.requests)
    deleted = bucket.delete_objects("many")  # three batch requests: 100 + 100 + 50

    assert sorted(deleted) == sorted(paths)
    assert names(gcs) == []
    batches = [line for line in gcs_emulator.requests[before:] if "/batch/" in line]
    assert len(batches) == 3


# -- copies, moves, deletes ---------------------------------------------------------------


def test_copying_a_missing_object_names_both_ends(bucket: GcsBucket):
    with pytest.raises(GcpError) as caught:
        bucket.copy_object("missing.txt", "copy.txt", to_bucket="archive")

    assert str(caught.value) == (
        "Copying (bucket 'raw', object 'base/missing.txt', to_bucket 'archive', to_object "
        "'copy.txt') failed with Google Cloud error 404 (notFound): the source object does "
        "not exist"
    )
    assert caught.value.code == 404


def test_copying_into_a_missing_bucket_names_it(bucket: GcsBucket):
    bucket.write_path("src.txt", b".")

    with pytest.raises(GcpError, match=r"the bucket 'no-such-archive' does not exist"):
        bucket.copy_object("src.txt", "copy.txt", to_bucket="no-such-archive")


# -- paths that would leave the bucket folder ---------------------------------------------


def test_bad_bucket_names_are_refused_naming_the_field(gcp_credentials: GcpCredentials):
    with pytest.raises(ValidationError, match=r"(?s)bucket\n.*bucket name alone"):
        GcsBucket(bucket="gs://raw/events", credentials=gcp_credentials)
    with pytest.raises(ValidationError, match="bucket"):
        GcsBucket(bucket=" ", credentials=gcp_credentials)
    assert GcsBucket(bucket=" raw ").bucket == "raw"


# -- errors -------------------------------------------------------------------------------


def test_a_missing_object_is_named(bucket: GcsBucket, tmp_path: Path):
    with pytest.raises(GcpError) as read:
        bucket.read_path("nope/missing.json")
    with pytest.raises(GcpError) as download:
        bucket.download_object_to_path("nope/missing.json", tmp_path / "m.json")

    assert str(read.value) == (
        "Reading (bucket 'raw', object 'base/nope/missing.json') failed with Google Cloud "
        "error 404 (notFound): the object does not exist"
    )
    assert "Downloading to" in str(download.value)
    assert "bucket 'raw', object 'base/nope/missing.json'" in str(download.value)
    assert download.value.code == 404


# -- service account credentials ----------------------------------------------------------


def test_a_service_account_key_signs_in_at_its_token_uri_and_never_shows(
    gcp_endpoint: str,
    gcs: Any,
    service_account_key: ServiceAccountKey,
    token_server: TokenServer,
):
    from google.auth import jwt

    info = {**service_account_key.info, "private_key_id": "only-in-this-test"}  # a new client
    credentials = GcpCredentials(service_account_info=info, api_endpoint=gcp_endpoint)
    bucket = GcsBucket(bucket=BUCKET, credentials=credentials)
    before = len(token_server.assertions)

    bucket.write_path("signed.txt", b"with a token")

    assert bucket.read_path("signed.txt") == b"with a token"
    assert credentials.get_cloud_storage_client().project == "plait-tests"  # the key's
    assertions = token_server.assertions[before:]
    assert assertions, "the key was traded for an access token"
    for assertion in assertions:  # JWTs signed with the key, for the key's account
        claims = jwt.decode(  # the audience is Google's token endpoint, whatever token_uri
            assertion,
            certs=service_account_key.public_pem,
            audience="https://oauth2.googleapis.com/token",
        )
        assert claims["iss"] == "etl@plait-tests.iam.gserviceaccount.com"
        assert "https://www.googleapis.com/auth/" in claims["scope"]
    for shown in (repr(bucket), str(bucket), bucket.model_dump_json()):
        assert "PRIVATE KEY" not in shown
        assert service_account_key.private_key[40:80] not in shown
