"""S3Bucket with the real boto3 against a real moto server on 127.0.0.1: the filesystem
interface, uploads and downloads of files, file objects and nested folders, multipart
transfers of a 20 MB object, listings past 1,000 keys, copies, moves and batched deletes,
errors that name the bucket, key and AWS code (never the secret key), refused path escapes,
saved blocks, and the bucket as result storage (also across processes)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.runs import in_flow
from pydantic import ValidationError

from plait import task
from plait.blocks import Block, WritableFileSystem
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


def make_tree(root: Path) -> dict[str, bytes]:
    """Files in nested folders under ``root``; returns their relative paths and contents."""
    files = {
        "top.txt": b"top",
        "a/one.csv": b"1,2\n",
        "a/b/two.json": b'{"two": 2}',
        "a/b/c/three.bin": bytes(range(256)),
    }
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return files


def everything_said_about(exc: BaseException) -> str:
    """What a user or a log could see of an error: its message, repr and full traceback."""
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


# -- the WritableFileSystem interface -----------------------------------------------------


def test_write_read_exists_under_the_bucket_folder(bucket: S3Bucket, s3: Any):
    key = bucket.write_path("events/2026-11-24.json", b"[1, 2]")

    assert key == "base/events/2026-11-24.json"
    assert keys(s3) == ["base/events/2026-11-24.json"]
    assert bucket.read_path("events/2026-11-24.json") == b"[1, 2]"
    assert bucket.exists("events/2026-11-24.json")
    assert not bucket.exists("events/2026-11-25.json")
    assert isinstance(bucket, WritableFileSystem)
    assert S3Bucket.get_capabilities() == ["read-path", "write-path"]


def test_write_replaces_and_accepts_bytearray(bucket: S3Bucket):
    bucket.write_path("a.txt", b"old")
    bucket.write_path("a.txt", bytearray(b"new"))

    assert bucket.read_path("a.txt") == b"new"


def test_write_refuses_text_with_the_fix(bucket: S3Bucket):
    with pytest.raises(BlockError, match=r"needs bytes, got str.*encode"):
        bucket.write_path("a.txt", "text")  # type: ignore[arg-type]


def test_paths_are_normalized(bucket: S3Bucket, s3: Any):
    bucket.write_path("/a//./b.txt", b"x")

    assert keys(s3) == ["base/a/b.txt"]
    assert bucket.read_path("a/b.txt") == b"x"


def test_without_a_bucket_folder_paths_are_keys(s3: Any, aws_credentials: AwsCredentials):
    bucket = S3Bucket(bucket_name=BUCKET, credentials=aws_credentials)

    assert bucket.write_path("x/y.txt", b"y") == "x/y.txt"
    assert bucket.list() == ["x/y.txt"]


def test_list_is_recursive_sorted_and_relative_to_the_bucket_folder(bucket: S3Bucket, s3: Any):
    for path in ["b/2.txt", "a/1.txt", "a/deep/er/3.txt", "top.txt"]:
        bucket.write_path(path, b".")
    s3.put_object(Bucket=BUCKET, Key="base/a/marker/", Body=b"")  # a console "folder"
    s3.put_object(Bucket=BUCKET, Key="outside.txt", Body=b"")
    s3.put_object(Bucket=BUCKET, Key="base-other/x.txt", Body=b"")

    assert bucket.list() == ["a/1.txt", "a/deep/er/3.txt", "b/2.txt", "top.txt"]
    assert bucket.list("a") == ["a/1.txt", "a/deep/er/3.txt"]
    assert bucket.list("a/") == bucket.list("a")
    assert bucket.list("a/1.txt") == ["a/1.txt"]
    assert bucket.list("nothing") == []


def test_list_on_the_class_lists_saved_blocks(bucket: S3Bucket):
    assert S3Bucket.list() == []
    bucket.save("raw-base")

    assert S3Bucket.list() == ["raw-base"]
    assert bucket.list() == []  # on the instance: the files


# -- uploads and downloads ----------------------------------------------------------------


def test_upload_from_path_and_download_object_to_path(bucket: S3Bucket, tmp_path: Path):
    source = tmp_path / "report.csv"
    source.write_bytes(b"id\n1\n")

    assert bucket.upload_from_path(source) == "base/report.csv"  # the file's name
    assert bucket.upload_from_path(str(source), "reports/r.csv") == "base/reports/r.csv"
    target = bucket.download_object_to_path("reports/r.csv", tmp_path / "out" / "deep" / "r.csv")

    assert target == tmp_path / "out" / "deep" / "r.csv"
    assert target.read_bytes() == b"id\n1\n"
    assert [p.name for p in target.parent.iterdir()] == ["r.csv"]  # no partial file left


def test_upload_from_path_refuses_a_missing_file(bucket: S3Bucket, tmp_path: Path):
    with pytest.raises(BlockError, match="it is not a file"):
        bucket.upload_from_path(tmp_path / "missing.csv")


def test_file_objects_both_ways(bucket: S3Bucket):
    source = io.BytesIO(b"skip:payload")
    source.seek(5)

    assert bucket.upload_from_file_object(source, "f.bin") == "base/f.bin"
    target = io.BytesIO()
    assert bucket.download_object_to_file_object("f.bin", target) is target
    assert target.getvalue() == b"payload"


def test_a_failed_download_leaves_no_file(bucket: S3Bucket, tmp_path: Path):
    target = tmp_path / "out" / "missing.bin"

    with pytest.raises(AwsError):
        bucket.download_object_to_path("missing.bin", target)

    assert list(target.parent.iterdir()) == []


def test_folders_with_nested_subfolders_round_trip(bucket: S3Bucket, s3: Any, tmp_path: Path):
    files = make_tree(tmp_path / "export")

    prefix = bucket.upload_from_folder(tmp_path / "export", "day/2026-11-24")

    assert prefix == "base/day/2026-11-24/"
    assert sorted(keys(s3)) == sorted(f"base/day/2026-11-24/{p}" for p in files)
    assert bucket.list("day") == sorted(f"day/2026-11-24/{p}" for p in files)
    downloaded = bucket.download_folder_to_path("day/2026-11-24", tmp_path / "copy")
    assert downloaded == (tmp_path / "copy").resolve()
    found = {
        p.relative_to(downloaded).as_posix(): p.read_bytes()
        for p in downloaded.rglob("*")
        if p.is_file()
    }
    assert found == files


def test_upload_from_folder_defaults_to_the_bucket_folder(
    bucket: S3Bucket, s3: Any, tmp_path: Path
):
    files = make_tree(tmp_path / "export")

    assert bucket.upload_from_folder(tmp_path / "export") == "base/"
    assert sorted(keys(s3)) == sorted(f"base/{p}" for p in files)


def test_upload_from_folder_refuses_a_file(bucket: S3Bucket, tmp_path: Path):
    (tmp_path / "f").write_bytes(b"")

    with pytest.raises(BlockError, match="it is not a folder"):
        bucket.upload_from_folder(tmp_path / "f")


def test_download_folder_skips_folder_markers(bucket: S3Bucket, s3: Any, tmp_path: Path):
    s3.put_object(Bucket=BUCKET, Key="base/d/", Body=b"")
    s3.put_object(Bucket=BUCKET, Key="base/d/sub/", Body=b"")
    s3.put_object(Bucket=BUCKET, Key="base/d/sub/x.txt", Body=b"x")

    target = bucket.download_folder_to_path("d", tmp_path / "d")

    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == [
        "sub",
        "sub/x.txt",
    ]


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


def test_list_objects_with_a_delimiter_returns_the_folders_after_the_objects(bucket: S3Bucket):
    for path in ["d/x.txt", "d/y.txt", "d/sub1/a.txt", "d/sub2/deeper/b.txt", "other.txt"]:
        bucket.write_path(path, b".")

    listing = bucket.list_objects("d", delimiter="/")

    assert [item.get("Path") for item in listing] == ["d/x.txt", "d/y.txt", "d/sub1/", "d/sub2/"]
    assert [item["Key"] for item in listing[:2]] == ["base/d/x.txt", "base/d/y.txt"]
    assert listing[2:] == [
        {"Prefix": "base/d/sub1/", "Path": "d/sub1/"},
        {"Prefix": "base/d/sub2/", "Path": "d/sub2/"},
    ]
    top = bucket.list_objects(delimiter="/")
    assert [item["Path"] for item in top] == ["other.txt", "d/"]


@pytest.mark.parametrize("page_size", [0, -1, 1001, 2.5, True])
def test_list_objects_refuses_a_bad_page_size(bucket: S3Bucket, page_size: Any):
    with pytest.raises(BlockError, match="page_size must be a whole number"):
        bucket.list_objects(page_size=page_size)


# -- copies, moves, deletes ---------------------------------------------------------------


def test_copy_and_move_within_and_across_buckets(
    bucket: S3Bucket, s3: Any, aws_credentials: AwsCredentials
):
    archive = S3Bucket(bucket_name="archive", bucket_folder="2026", credentials=aws_credentials)
    bucket.write_path("src.txt", b"payload")

    assert bucket.copy_object("src.txt", "copies/src.txt") == "base/copies/src.txt"
    assert bucket.copy_object("src.txt", "nov/src.txt", to_bucket=archive) == "2026/nov/src.txt"
    assert bucket.copy_object("src.txt", "flat/src.txt", to_bucket="archive") == "flat/src.txt"
    assert bucket.move_object("src.txt", "moved.txt") == "base/moved.txt"
    assert bucket.move_object("copies/src.txt", "moved.txt", to_bucket=archive) == "2026/moved.txt"

    assert sorted(keys(s3)) == ["base/moved.txt"]
    assert sorted(keys(s3, "archive")) == ["2026/moved.txt", "2026/nov/src.txt", "flat/src.txt"]
    assert archive.read_path("moved.txt") == b"payload"


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


def test_delete_a_list_of_paths_and_a_folder(bucket: S3Bucket, s3: Any):
    for path in ["a.txt", "b.txt", "d", "d/1.txt", "d/e/2.txt", "dd/3.txt"]:
        bucket.write_path(path, b".")

    assert bucket.delete_objects(["a.txt", "missing.txt"]) == ["a.txt", "missing.txt"]
    assert sorted(bucket.delete_objects("d")) == ["d", "d/1.txt", "d/e/2.txt"]
    assert sorted(keys(s3)) == ["base/b.txt", "base/dd/3.txt"]


def test_deleting_everything_needs_the_paths_spelled_out(bucket: S3Bucket, s3: Any):
    bucket.write_path("a.txt", b".")

    for everything in ("", "/", "."):
        with pytest.raises(BlockError, match=r"bucket\.delete_objects\(bucket\.list\(\)\)"):
            bucket.delete_objects(everything)
    assert bucket.delete_objects(bucket.list()) == ["a.txt"]
    assert keys(s3) == []


# -- paths that would leave the bucket folder ---------------------------------------------


@pytest.mark.parametrize("path", ["../x", "a/../../x", "..", "a/.."])
def test_paths_with_dotdot_are_refused(bucket: S3Bucket, path: str, tmp_path: Path):
    calls = [
        lambda: bucket.read_path(path),
        lambda: bucket.write_path(path, b"."),
        lambda: bucket.exists(path),
        lambda: bucket.list(path),
        lambda: bucket.list_objects(path),
        lambda: bucket.download_object_to_path(path, tmp_path / "x"),
        lambda: bucket.copy_object("a", path),
        lambda: bucket.delete_objects(path),
        lambda: bucket.delete_objects([path]),
    ]
    for call in calls:
        with pytest.raises(BlockError, match=r"contains '\.\.'.*bucket_folder 'base'"):
            call()


def test_an_empty_file_path_is_refused(bucket: S3Bucket):
    for empty in ("", "/", "./"):
        with pytest.raises(BlockError, match="names no file"):
            bucket.write_path(empty, b".")


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


def test_a_missing_bucket_is_named_with_aws_code(aws_credentials: AwsCredentials, tmp_path: Path):
    missing = S3Bucket(bucket_name="no-such-bucket", bucket_folder="f", credentials=aws_credentials)
    calls = {
        "Reading": lambda: missing.read_path("a.txt"),
        "Writing": lambda: missing.write_path("a.txt", b"."),
        "Checking": lambda: missing.exists("a.txt"),
        "Listing": lambda: missing.list(),
        "Uploading": lambda: missing.upload_from_file_object(io.BytesIO(b"."), "a.txt"),
    }
    for action, call in calls.items():
        with pytest.raises(AwsError) as caught:
            call()
        message = str(caught.value)
        assert message.startswith(action), message
        assert "bucket 'no-such-bucket'" in message
        assert "NoSuchBucket" in message
        assert caught.value.code == "NoSuchBucket"
        assert not caught.value.transient
        assert SECRET_KEY not in everything_said_about(caught.value)


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


def test_save_and_load_with_nested_saved_credentials(
    bucket: S3Bucket, aws_credentials: AwsCredentials
):
    aws_credentials.save("moto")
    saved = S3Bucket(
        bucket_name=BUCKET, bucket_folder="base", credentials=AwsCredentials.load("moto")
    )
    saved.save("raw-base")
    bucket.write_path("hello.txt", b"hello")

    loaded = S3Bucket.load("raw-base")
    by_slug = Block.load("s3-bucket/raw-base")
    as_filesystem = WritableFileSystem.load("s3-bucket/raw-base")

    assert loaded == saved == by_slug == as_filesystem
    assert loaded.credentials.aws_secret_access_key.get_secret_value() == SECRET_KEY
    assert loaded.read_path("hello.txt") == b"hello"
    rotated = AwsCredentials.load("moto")
    rotated.region_name = "eu-west-1"
    rotated.save("moto", overwrite=True)  # a new version of the referenced credentials
    assert S3Bucket.load("raw-base").credentials.region_name == "eu-west-1"
    assert SECRET_KEY not in repr(loaded)


def test_the_default_credentials_are_boto3_default_chain():
    bucket = S3Bucket(bucket_name="raw")

    assert bucket.credentials == AwsCredentials()
    assert bucket.bucket_folder == ""


# -- result storage -----------------------------------------------------------------------


def test_a_bucket_instance_as_result_storage(bucket: S3Bucket, s3: Any):
    @task(persist_result=True, result_storage=bucket)
    def produce() -> dict:
        return {"rows": 3}

    state = in_flow(lambda: produce(return_state=True))

    assert state.result() == {"rows": 3}
    [key] = keys(s3)
    assert key.startswith("base/")
    assert state.result_ref.path == key.removeprefix("base/")
    assert state.result_ref.load() == {"rows": 3}


def test_an_s3_url_as_result_storage_with_saved_credentials(
    s3: Any, aws_credentials: AwsCredentials, monkeypatch
):
    aws_credentials.save("moto-results")
    monkeypatch.setenv("PLAIT_AWS_RESULT_STORAGE_CREDENTIALS", "moto-results")

    @task(persist_result=True, result_storage="s3://raw/plait/results")
    def produce() -> list[int]:
        return [1, 2, 3]

    state = in_flow(lambda: produce(return_state=True))

    [key] = keys(s3)
    assert key.startswith("plait/results/")
    assert state.result_ref.storage == "s3://raw/plait/results"
    assert state.result_ref.path == key.removeprefix("plait/results/")
    assert state.result_ref.load() == [1, 2, 3]


CACHED_ON_S3 = """
import sys
from plait import flow, task

@task(cache_policy="inputs", result_storage="s3://raw/cache-results")
def work(x: int) -> dict:
    with open(sys.argv[1], "a") as executions:
        executions.write("ran\\n")
    return {"doubled": 2 * x}

@flow
def pipeline() -> None:
    state = work(21, return_state=True)
    print(state.name, state.result()["doubled"], flush=True)

pipeline()
"""


def test_a_cache_hit_across_processes_on_s3_result_storage(
    s3: Any, aws_credentials: AwsCredentials, tmp_path: Path, monkeypatch
):
    aws_credentials.save("moto-cache")  # the moto endpoint reaches the children this way
    monkeypatch.setenv("PLAIT_AWS_RESULT_STORAGE_CREDENTIALS", "moto-cache")
    script = tmp_path / "cached_on_s3.py"
    script.write_text(textwrap.dedent(CACHED_ON_S3))
    executions = tmp_path / "executions"

    def run() -> list[str]:
        done = subprocess.run(
            [sys.executable, str(script), str(executions)],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert run() == ["Completed", "42"]
    assert run() == ["Cached", "42"]
    assert executions.read_text().splitlines() == ["ran"]
    [key] = keys(s3)
    assert key.startswith("cache-results/cache/")
