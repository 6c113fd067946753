"""S3Bucket with the real boto3 against a real moto server on 127.0.0.1: multipart
transfers of a 20 MB object, listings past 1,000 keys and batched deletes, errors that name
the bucket, key and AWS code (never the secret key), keys that would land outside a folder,
bucket name checks and saved secret keys.

What S3Bucket shares with GcsBucket (the filesystem interface, file, file object and folder
transfers, copies, moves, deletes, saved blocks, result storage, also across processes) is
tested against both emulators in tests/integrations/test_object_storage_backends.py."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.files import everything_said_about
from pydantic import ValidationError

from plait.exceptions import BlockError
from plait_aws import AwsCredentials, AwsError, S3Bucket

BUCKET = "raw"
SECRET_KEY = "moto-secret-access-key-0123456789"  # the aws_credentials fixture's
MULTIPART_SIZE = 20 * 1024 * 1024


@pytest.fixture
def s3(aws_credentials: AwsCredentials) -> Any:
    """A boto3 S3 client for looking behind the block's back, with the buckets made."""
    client = aws_credentials.get_client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.create_bucket(Bucket="archive")
    return client


@pytest.fixture
def bucket(s3: Any, aws_credentials: AwsCredentials) -> S3Bucket:
    return S3Bucket(bucket_name=BUCKET, bucket_folder="base", credentials=aws_credentials)


def keys(s3: Any, bucket: str = BUCKET) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


# -- uploads and downloads ----------------------------------------------------------------


def test_a_20_mb_object_goes_up_and_down_in_parts(bucket: S3Bucket, s3: Any, tmp_path: Path):
    content = os.urandom(MULTIPART_SIZE)
    source = tmp_path / "big.bin"
    source.write_bytes(content)

    key = bucket.upload_from_path(source, "big/from-path.bin")
    bucket.write_path("big/from-bytes.bin", content)
    target = bucket.download_object_to_path("big/from-path.bin", tmp_path / "big-copy.bin")

    for written in (key, "base/big/from-bytes.bin"):  # 3 parts of 8 MB: ETag "...-3"
        head = s3.head_object(Bucket=BUCKET, Key=written)
        assert head["ETag"].strip('"').endswith("-3"), head["ETag"]
        assert head["ContentLength"] == MULTIPART_SIZE
    assert target.read_bytes() == content
    assert bucket.read_path("big/from-bytes.bin") == content
    copied = bucket.copy_object("big/from-path.bin", "big/copy.bin")  # multipart copy
    assert s3.head_object(Bucket=BUCKET, Key=copied)["ETag"].strip('"').endswith("-3")
    assert bucket.read_path("big/copy.bin") == content


# -- listings -----------------------------------------------------------------------------


def test_list_objects_past_1000_keys_and_batched_delete(bucket: S3Bucket, s3: Any):
    names = [f"many/{i // 100:02d}/{i:05d}.txt" for i in range(1050)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda n: s3.put_object(Bucket=BUCKET, Key=f"base/{n}", Body=b"."), names))

    objects = bucket.list_objects("many")
    paged = bucket.list_objects("many", page_size=400)
    listed = bucket.list("many")

    assert len(objects) == 1050
    assert [o["Path"] for o in objects] == sorted(names)
    assert [o["Key"] for o in objects] == [f"base/{n}" for n in sorted(names)]
    assert {"Size", "LastModified", "ETag"} <= objects[0].keys()
    assert [o["Path"] for o in paged] == sorted(names)
    assert listed == sorted(names)

    deleted = bucket.delete_objects("many")  # two DeleteObjects requests: 1,000 + 50

    assert sorted(deleted) == sorted(names)
    assert keys(s3) == []


# -- copies, moves, deletes ---------------------------------------------------------------


def test_copy_refuses_a_bad_to_bucket(bucket: S3Bucket):
    with pytest.raises(BlockError, match="to_bucket must be an S3Bucket, a bucket name"):
        bucket.copy_object("a", "b", to_bucket="s3://archive")  # type: ignore[arg-type]


def test_copying_a_missing_object_names_both_ends(bucket: S3Bucket):
    with pytest.raises(AwsError) as caught:
        bucket.copy_object("missing.txt", "copy.txt", to_bucket="archive")

    message = str(caught.value)
    assert "bucket 'raw'" in message
    assert "key 'base/missing.txt'" in message
    assert "to_bucket 'archive'" in message
    assert "to_key 'copy.txt'" in message
    assert caught.value.code in ("404", "NoSuchKey")


# -- paths that would leave the bucket folder ---------------------------------------------


def test_download_folder_refuses_keys_that_would_land_outside(
    bucket: S3Bucket, s3: Any, tmp_path: Path
):
    s3.put_object(Bucket=BUCKET, Key="base/d/ok.txt", Body=b".")
    s3.put_object(Bucket=BUCKET, Key="base/d/../../../evil.txt", Body=b".")
    if "base/d/../../../evil.txt" not in keys(s3):
        pytest.skip("this S3 server normalizes '..' in keys")

    with pytest.raises(BlockError, match="outside"):
        bucket.download_folder_to_path("d", tmp_path / "target")
    assert not (tmp_path / "evil.txt").exists()


def test_bad_bucket_names_and_folders_are_refused(aws_credentials: AwsCredentials):
    with pytest.raises(ValidationError, match=r"(?s)bucket_name.*bucket name alone"):
        S3Bucket(bucket_name="s3://raw/events", credentials=aws_credentials)
    with pytest.raises(ValidationError, match="bucket_name"):
        S3Bucket(bucket_name=" ", credentials=aws_credentials)
    with pytest.raises(ValidationError, match=r"(?s)bucket_folder.*'\.\.'"):
        S3Bucket(bucket_name="raw", bucket_folder="a/../b", credentials=aws_credentials)
    assert S3Bucket(bucket_name="raw", bucket_folder="/a/b/").bucket_folder == "a/b"


# -- errors -------------------------------------------------------------------------------


def test_a_missing_key_is_named_with_aws_code(bucket: S3Bucket, tmp_path: Path):
    with pytest.raises(AwsError) as read:
        bucket.read_path("nope/missing.json")
    with pytest.raises(AwsError) as download:
        bucket.download_object_to_path("nope/missing.json", tmp_path / "m.json")

    assert read.value.code == "NoSuchKey"
    assert (
        "Reading (bucket 'raw', key 'base/nope/missing.json') failed with AWS error NoSuchKey"
        in (str(read.value))
    )
    assert download.value.code in ("404", "NoSuchKey")  # a HEAD first: no body, no code
    assert "bucket 'raw', key 'base/nope/missing.json'" in str(download.value)
    assert download.value.status == 404


@pytest.fixture
def iam_keys(aws_endpoint: str, aws_credentials: AwsCredentials) -> dict[str, str]:
    """A real IAM user's access key on moto, and moto checking every request's signature
    (on until the end of the test)."""
    iam = aws_credentials.get_client("iam")
    iam.create_user(UserName="alice")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName="alice", PolicyName="all", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    aws_credentials.get_client("s3").create_bucket(Bucket=BUCKET)
    httpx.post(f"{aws_endpoint}/moto-api/reset-auth", content=b"0").raise_for_status()
    yield {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    httpx.post(f"{aws_endpoint}/moto-api/reset-auth", content=b"inf").raise_for_status()


def test_bad_credentials_name_bucket_key_and_code_never_the_secret(
    iam_keys: dict[str, str], aws_endpoint: str
):
    def bucket_with(key_id: str, secret: str) -> S3Bucket:
        credentials = AwsCredentials(
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            region_name="us-east-1",
            endpoint_url=aws_endpoint,
        )
        return S3Bucket(bucket_name=BUCKET, credentials=credentials)

    good = bucket_with(iam_keys["id"], iam_keys["secret"])
    good.write_path("k.txt", b"x")  # moto checks signatures now, and this one is right
    wrong_secret = "wr0ng-secret-access-key-for-alice"
    cases = {
        "SignatureDoesNotMatch": bucket_with(iam_keys["id"], wrong_secret),
        "InvalidAccessKeyId": bucket_with("AKIANOSUCHKEY0000000", wrong_secret),
    }
    for code, bad in cases.items():
        for call in (lambda b=bad: b.read_path("k.txt"), lambda b=bad: b.write_path("k", b".")):
            with pytest.raises(AwsError) as caught:
                call()
            said = everything_said_about(caught.value)
            assert caught.value.code == code
            assert "bucket 'raw'" in str(caught.value)
            assert "key 'k" in str(caught.value)
            assert wrong_secret not in said
            assert iam_keys["secret"] not in said
        with pytest.raises(AwsError) as head:  # a HEAD has no body: only the status
            bad.exists("k.txt")
        assert head.value.code == "403"
        assert "access denied" in str(head.value) or "Forbidden" in str(head.value)


# -- saved blocks -------------------------------------------------------------------------


def test_a_saved_bucket_keeps_its_nested_secret_key_and_never_shows_it(
    bucket: S3Bucket, aws_credentials: AwsCredentials
):
    aws_credentials.save("moto")
    S3Bucket(bucket_name=BUCKET, credentials=AwsCredentials.load("moto")).save("raw")

    loaded = S3Bucket.load("raw")

    assert loaded.credentials.aws_secret_access_key.get_secret_value() == SECRET_KEY
    assert SECRET_KEY not in repr(loaded)
