"""What S3Bucket and GcsBucket share as ObjectStorageBucket subclasses, and the contract of
their prebuilt tasks, each tested against its real emulator with its real client: moto's S3
server (boto3) and gcp-storage-emulator (google-cloud-storage). Every test here runs once per
store; what only one store does is tested in tests/integrations/aws and tests/integrations/gcp,
and the shared logic on its own (with an in-memory store) in tests/blocks/test_object_storage.py.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fixtures.files import everything_said_about, files_in, make_tree
from fixtures.runs import assert_cache_hit_across_processes, in_flow

import plait_aws
import plait_aws.tasks
import plait_gcp
import plait_gcp.tasks
from plait import StateType, flow, task
from plait.blocks import Block, ObjectStorageBucket, WritableFileSystem
from plait.exceptions import BlockError

AWS_SECRET_KEY = "moto-secret-access-key-0123456789"  # the aws_credentials fixture's

# -- the two stores -----------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """An integration's bucket type, tasks and errors, as the shared tests need them."""

    id: str
    bucket_type: type[ObjectStorageBucket]
    credentials_type: type[Block]
    name_field: str  # the field holding the bucket's name
    slug: str
    scheme: str  # of result storage URLs
    storage_credentials_setting: str  # the saved credentials result storage URLs use
    rotated: tuple[str, Any]  # a credentials field and a new value for it
    error: type[Exception]
    tasks: Any  # the integration's tasks module
    all_tasks: tuple[Any, ...]
    upload: Any
    download: Any
    missing_object: str  # what the error of a missing object says
    missing_bucket: Callable[[Any], None]  # checks the error of a missing bucket
    missing_bucket_actions: tuple[str, ...]  # what names a missing bucket (see the test)
    transient_error: Callable[[], Exception]  # the error of a store asking to slow down

    def bucket(self, name: str, **fields: Any) -> ObjectStorageBucket:
        return self.bucket_type(**{self.name_field: name}, **fields)


def _assert_no_such_bucket(error: Any) -> None:
    assert "NoSuchBucket" in str(error)
    assert error.code == "NoSuchBucket"
    assert AWS_SECRET_KEY not in everything_said_about(error)


def _assert_gcs_not_found(error: Any) -> None:
    assert str(error).endswith("404 (notFound): the bucket 'no-such-bucket' does not exist")
    assert error.code == 404
    assert error.reason == "notFound"


BACKENDS = {
    "s3": Backend(
        id="s3",
        bucket_type=plait_aws.S3Bucket,
        credentials_type=plait_aws.AwsCredentials,
        name_field="bucket_name",
        slug="s3-bucket",
        scheme="s3",
        storage_credentials_setting="PLAIT_AWS_RESULT_STORAGE_CREDENTIALS",
        rotated=("region_name", "eu-west-1"),
        error=plait_aws.AwsError,
        tasks=plait_aws.tasks,
        all_tasks=(
            *(plait_aws.s3_upload, plait_aws.s3_download, plait_aws.s3_list_objects),
            *(plait_aws.s3_copy, plait_aws.s3_move, plait_aws.s3_delete),
            *(plait_aws.read_secret, plait_aws.update_secret),
        ),
        upload=plait_aws.s3_upload,
        download=plait_aws.s3_download,
        missing_object="NoSuchKey",
        missing_bucket=_assert_no_such_bucket,
        missing_bucket_actions=("Reading", "Writing", "Checking", "Listing", "Uploading"),
        transient_error=lambda: plait_aws.AwsError(
            "Reading (bucket 'raw', key 'base/k.json') failed with AWS error SlowDown",
            "SlowDown",
            503,
        ),
    ),
    "gcs": Backend(
        id="gcs",
        bucket_type=plait_gcp.GcsBucket,
        credentials_type=plait_gcp.GcpCredentials,
        name_field="bucket",
        slug="gcs-bucket",
        scheme="gs",
        storage_credentials_setting="PLAIT_GCP_RESULT_STORAGE_CREDENTIALS",
        rotated=("project", "other-project"),
        error=plait_gcp.GcpError,
        tasks=plait_gcp.tasks,
        all_tasks=(
            *(plait_gcp.gcs_upload, plait_gcp.gcs_download, plait_gcp.gcs_list_blobs),
            *(plait_gcp.gcs_copy, plait_gcp.gcs_delete),
        ),
        upload=plait_gcp.gcs_upload,
        download=plait_gcp.gcs_download,
        missing_object="the object does not exist",
        missing_bucket=_assert_gcs_not_found,
        missing_bucket_actions=(
            *("Reading", "Writing", "Checking", "Listing", "Uploading"),
            *("Downloading", "Deleting"),
        ),
        transient_error=lambda: plait_gcp.GcpError(
            "Reading (bucket 'raw', object 'base/k.json') failed with Google Cloud error 429 "
            "(rateLimitExceeded): too many requests",
            429,
            "rateLimitExceeded",
        ),
    ),
}


@dataclass(frozen=True)
class Store:
    """A running emulator with the buckets ``raw`` and ``archive``: ``credentials`` for it,
    and a client's view behind the block's back (``keys``, ``put``)."""

    backend: Backend
    credentials: Any
    keys: Callable[..., list[str]]  # (bucket="raw") -> its keys, sorted
    put: Callable[..., None]  # (key, content=b".") -> writes it into "raw"

    def bucket(self, name: str = "raw", folder: str = "") -> ObjectStorageBucket:
        return self.backend.bucket(name, bucket_folder=folder, credentials=self.credentials)


@pytest.fixture(params=list(BACKENDS))
def backend(request) -> Backend:
    return BACKENDS[request.param]


def _s3_store(backend: Backend, credentials: Any) -> Store:
    s3 = credentials.get_client("s3")
    for name in ("raw", "archive"):
        s3.create_bucket(Bucket=name)

    def keys(bucket: str = "raw") -> list[str]:
        return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []))

    def put(key: str, content: bytes = b".") -> None:
        s3.put_object(Bucket="raw", Key=key, Body=content)

    return Store(backend, credentials, keys, put)


def _gcs_store(backend: Backend, credentials: Any) -> Store:
    gcs = credentials.get_cloud_storage_client()
    for name in ("raw", "archive"):
        gcs.create_bucket(name)

    def keys(bucket: str = "raw") -> list[str]:
        return sorted(blob.name for blob in gcs.list_blobs(bucket))

    def put(key: str, content: bytes = b".") -> None:
        gcs.bucket("raw").blob(key).upload_from_string(content, retry=None)

    return Store(backend, credentials, keys, put)


@pytest.fixture
def store(backend: Backend, request) -> Store:
    """The backend's emulator, wiped, with the buckets made (only that emulator starts)."""
    if backend.id == "s3":
        return _s3_store(backend, request.getfixturevalue("aws_credentials"))
    return _gcs_store(backend, request.getfixturevalue("gcp_credentials"))


@pytest.fixture
def bucket(store: Store) -> ObjectStorageBucket:
    return store.bucket("raw", "base")


# -- the WritableFileSystem interface -----------------------------------------------------


def test_write_read_exists_under_the_bucket_folder(bucket: ObjectStorageBucket, store: Store):
    key = bucket.write_path("events/2026-11-24.json", b"[1, 2]")

    assert key == "base/events/2026-11-24.json"
    assert store.keys() == ["base/events/2026-11-24.json"]
    assert bucket.read_path("events/2026-11-24.json") == b"[1, 2]"
    assert bucket.exists("events/2026-11-24.json")
    assert not bucket.exists("events/2026-11-25.json")
    assert isinstance(bucket, WritableFileSystem)
    assert isinstance(bucket, ObjectStorageBucket)
    assert bucket.bucket_name == "raw"
    assert type(bucket).get_capabilities() == ["read-path", "write-path"]


def test_write_replaces_and_accepts_bytearray(bucket: ObjectStorageBucket):
    bucket.write_path("a.txt", b"old")
    bucket.write_path("a.txt", bytearray(b"new"))

    assert bucket.read_path("a.txt") == b"new"


def test_paths_are_normalized(bucket: ObjectStorageBucket, store: Store):
    bucket.write_path("/a//./b.txt", b"x")

    assert store.keys() == ["base/a/b.txt"]
    assert bucket.read_path("a/b.txt") == b"x"


def test_without_a_bucket_folder_paths_are_keys(store: Store):
    bucket = store.bucket("raw")

    assert bucket.write_path("x/y.txt", b"y") == "x/y.txt"
    assert bucket.list() == ["x/y.txt"]


def test_list_is_recursive_sorted_and_relative_to_the_bucket_folder(
    bucket: ObjectStorageBucket, store: Store
):
    for path in ["b/2.txt", "a/1.txt", "a/deep/er/3.txt", "top.txt"]:
        bucket.write_path(path, b".")
    store.put("base/a/marker/", b"")  # a console "folder"
    store.put("outside.txt")
    store.put("base-other/x.txt")

    assert bucket.list() == ["a/1.txt", "a/deep/er/3.txt", "b/2.txt", "top.txt"]
    assert bucket.list("a") == ["a/1.txt", "a/deep/er/3.txt"]
    assert bucket.list("a/") == bucket.list("a")
    assert bucket.list("a/1.txt") == ["a/1.txt"]
    assert bucket.list("nothing") == []


def test_list_on_the_class_lists_saved_blocks(bucket: ObjectStorageBucket):
    assert type(bucket).list() == []
    bucket.save("raw-base")

    assert type(bucket).list() == ["raw-base"]
    assert bucket.list() == []  # on the instance: the files


def test_the_shared_checks_refuse_before_the_store_is_asked(
    bucket: ObjectStorageBucket, store: Store, tmp_path: Path
):
    (tmp_path / "f").write_bytes(b"")
    dotdot = [
        lambda p: bucket.read_path(p),
        lambda p: bucket.write_path(p, b"."),
        lambda p: bucket.exists(p),
        lambda p: bucket.list(p),
        lambda p: bucket.list_objects(p),
        lambda p: bucket.download_object_to_path(p, tmp_path / "x"),
        lambda p: bucket.copy_object("a", p),
        lambda p: bucket.delete_objects(p),
        lambda p: bucket.delete_objects([p]),
    ]
    too_large = type(bucket)._max_page_size + 1
    refused = {
        r"contains '\.\.'.*bucket_folder 'base'": [
            partial(call, path) for path in ("../x", "a/../../x", "..", "a/..") for call in dotdot
        ],
        "names no file": [partial(bucket.write_path, empty, b".") for empty in ("", "/", "./")],
        r"needs bytes, got str.*encode": [partial(bucket.write_path, "a.txt", "text")],
        r"bucket\.delete_objects\(bucket\.list\(\)\)": [
            partial(bucket.delete_objects, everything) for everything in ("", "/", ".")
        ],
        "it is not a file": [partial(bucket.upload_from_path, tmp_path / "missing.csv")],
        "it is not a folder": [partial(bucket.upload_from_folder, tmp_path / "f")],
        "page_size must be a whole number": [
            partial(bucket.list_objects, page_size=size) for size in (0, -1, too_large, 2.5, True)
        ],
    }
    for message, calls in refused.items():
        for call in calls:
            with pytest.raises(BlockError, match=message):
                call()
    assert store.keys() == []


# -- uploads and downloads ----------------------------------------------------------------


def test_upload_from_path_and_download_object_to_path(bucket: ObjectStorageBucket, tmp_path: Path):
    source = tmp_path / "report.csv"
    source.write_bytes(b"id\n1\n")

    assert bucket.upload_from_path(source) == "base/report.csv"  # the file's name
    assert bucket.upload_from_path(str(source), "reports/r.csv") == "base/reports/r.csv"
    target = bucket.download_object_to_path("reports/r.csv", tmp_path / "out" / "deep" / "r.csv")

    assert target == tmp_path / "out" / "deep" / "r.csv"
    assert target.read_bytes() == b"id\n1\n"
    assert [p.name for p in target.parent.iterdir()] == ["r.csv"]  # no partial file left


def test_file_objects_both_ways(bucket: ObjectStorageBucket):
    source = io.BytesIO(b"skip:payload")
    source.seek(5)

    assert bucket.upload_from_file_object(source, "f.bin") == "base/f.bin"
    target = io.BytesIO()
    assert bucket.download_object_to_file_object("f.bin", target) is target
    assert target.getvalue() == b"payload"


def test_a_failed_download_leaves_no_file(
    bucket: ObjectStorageBucket, backend: Backend, tmp_path: Path
):
    target = tmp_path / "out" / "missing.bin"

    with pytest.raises(backend.error):
        bucket.download_object_to_path("missing.bin", target)

    assert list(target.parent.iterdir()) == []


def test_folders_with_nested_subfolders_round_trip(
    bucket: ObjectStorageBucket, store: Store, tmp_path: Path
):
    files = make_tree(tmp_path / "export")

    prefix = bucket.upload_from_folder(tmp_path / "export", "day/2026-11-24")

    assert prefix == "base/day/2026-11-24/"
    assert store.keys() == sorted(f"base/day/2026-11-24/{p}" for p in files)
    assert bucket.list("day") == sorted(f"day/2026-11-24/{p}" for p in files)
    downloaded = bucket.download_folder_to_path("day/2026-11-24", tmp_path / "copy")
    assert downloaded == (tmp_path / "copy").resolve()
    assert files_in(downloaded) == files


def test_upload_from_folder_defaults_to_the_bucket_folder(
    bucket: ObjectStorageBucket, store: Store, tmp_path: Path
):
    files = make_tree(tmp_path / "export")

    assert bucket.upload_from_folder(tmp_path / "export") == "base/"
    assert store.keys() == sorted(f"base/{p}" for p in files)


def test_download_folder_skips_folder_markers(
    bucket: ObjectStorageBucket, store: Store, tmp_path: Path
):
    store.put("base/d/", b"")
    store.put("base/d/sub/", b"")
    store.put("base/d/sub/x.txt", b"x")

    target = bucket.download_folder_to_path("d", tmp_path / "d")

    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == [
        "sub",
        "sub/x.txt",
    ]


# -- listings, copies, moves, deletes -----------------------------------------------------


def test_list_objects_with_a_delimiter_returns_the_folders_after_the_objects(
    bucket: ObjectStorageBucket,
):
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


def test_copy_and_move_within_and_across_buckets(bucket: ObjectStorageBucket, store: Store):
    archive = store.bucket("archive", "2026")
    bucket.write_path("src.txt", b"payload")

    assert bucket.copy_object("src.txt", "copies/src.txt") == "base/copies/src.txt"
    assert bucket.copy_object("src.txt", "nov/src.txt", to_bucket=archive) == "2026/nov/src.txt"
    assert bucket.copy_object("src.txt", "flat/src.txt", to_bucket="archive") == "flat/src.txt"
    assert bucket.move_object("src.txt", "moved.txt") == "base/moved.txt"
    assert bucket.move_object("copies/src.txt", "moved.txt", to_bucket=archive) == "2026/moved.txt"

    assert store.keys() == ["base/moved.txt"]
    assert store.keys("archive") == ["2026/moved.txt", "2026/nov/src.txt", "flat/src.txt"]
    assert archive.read_path("moved.txt") == b"payload"


def test_delete_a_list_of_paths_and_a_folder(bucket: ObjectStorageBucket, store: Store):
    for path in ["a.txt", "b.txt", "d", "d/1.txt", "d/e/2.txt", "dd/3.txt"]:
        bucket.write_path(path, b".")

    # A missing object is skipped (Cloud Storage then deletes each object on its own).
    assert bucket.delete_objects(["a.txt", "missing.txt"]) == ["a.txt", "missing.txt"]
    assert sorted(bucket.delete_objects("d")) == ["d", "d/1.txt", "d/e/2.txt"]
    assert store.keys() == ["base/b.txt", "base/dd/3.txt"]
    assert bucket.delete_objects(["gone.txt"]) == ["gone.txt"]
    assert bucket.delete_objects(bucket.list()) == ["b.txt", "dd/3.txt"]
    assert store.keys() == []


# -- saved blocks -------------------------------------------------------------------------


def test_save_and_load_with_nested_saved_credentials(
    bucket: ObjectStorageBucket, store: Store, backend: Backend
):
    store.credentials.save("emulator")
    saved = backend.bucket(
        "raw", bucket_folder="base", credentials=backend.credentials_type.load("emulator")
    )
    saved.save("raw-base")
    bucket.write_path("hello.txt", b"hello")

    loaded = backend.bucket_type.load("raw-base")
    by_slug = Block.load(f"{backend.slug}/raw-base")
    as_filesystem = WritableFileSystem.load(f"{backend.slug}/raw-base")

    assert loaded == saved == by_slug == as_filesystem
    assert loaded.read_path("hello.txt") == b"hello"
    field, value = backend.rotated
    rotated = backend.credentials_type.load("emulator")
    setattr(rotated, field, value)
    rotated.save("emulator", overwrite=True)  # a new version of the referenced credentials
    assert getattr(backend.bucket_type.load("raw-base").credentials, field) == value


def test_the_default_credentials_are_the_providers_default_chain(backend: Backend):
    bucket = backend.bucket("raw")

    assert bucket.credentials == backend.credentials_type()
    assert bucket.bucket_folder == ""


# -- result storage -----------------------------------------------------------------------


def test_a_bucket_instance_as_result_storage(bucket: ObjectStorageBucket, store: Store):
    @task(persist_result=True, result_storage=bucket)
    def produce() -> dict:
        return {"rows": 3}

    state = in_flow(lambda: produce(return_state=True))

    assert state.result() == {"rows": 3}
    [key] = store.keys()
    assert key.startswith("base/")
    assert state.result_ref.path == key.removeprefix("base/")
    assert state.result_ref.load() == {"rows": 3}


def test_a_url_as_result_storage_with_saved_credentials(store: Store, monkeypatch):
    store.credentials.save("emulator-results")
    monkeypatch.setenv(store.backend.storage_credentials_setting, "emulator-results")
    url = f"{store.backend.scheme}://raw/plait/results"

    @task(persist_result=True, result_storage=url)
    def produce() -> list[int]:
        return [1, 2, 3]

    state = in_flow(lambda: produce(return_state=True))

    [key] = store.keys()
    assert key.startswith("plait/results/")
    assert state.result_ref.storage == url
    assert state.result_ref.path == key.removeprefix("plait/results/")
    assert state.result_ref.load() == [1, 2, 3]


def test_a_cache_hit_across_processes_on_bucket_result_storage(
    store: Store, tmp_path: Path, child_env: dict[str, str]
):
    store.credentials.save("emulator-cache")  # the endpoint reaches the children this way
    env = {**child_env, store.backend.storage_credentials_setting: "emulator-cache"}

    assert_cache_hit_across_processes(
        tmp_path, env, result_storage=f"{store.backend.scheme}://raw/cache-results"
    )

    [key] = store.keys()
    assert key.startswith("cache-results/cache/")


# -- errors -------------------------------------------------------------------------------


def test_a_missing_bucket_is_named(store: Store, tmp_path: Path):
    missing = store.bucket("no-such-bucket", "f")
    calls = {
        "Reading": lambda: missing.read_path("a.txt"),
        "Writing": lambda: missing.write_path("a.txt", b"."),
        "Checking": lambda: missing.exists("a.txt"),
        "Listing": lambda: missing.list(),
        "Uploading": lambda: missing.upload_from_file_object(io.BytesIO(b"."), "a.txt"),
        "Downloading": lambda: missing.download_object_to_path("a.txt", tmp_path / "a.txt"),
        "Deleting": lambda: missing.delete_objects(["a.txt"]),
    }
    for action in store.backend.missing_bucket_actions:
        with pytest.raises(store.backend.error) as caught:
            calls[action]()
        message = str(caught.value)
        assert message.startswith(action), message
        assert "bucket 'no-such-bucket'" in message
        assert not caught.value.transient
        store.backend.missing_bucket(caught.value)


# -- the prebuilt tasks -------------------------------------------------------------------


def test_every_task_has_its_name_and_retry_options(backend: Backend):
    for each in backend.all_tasks:
        assert each.name == each.fn.__name__
        assert each.retries == 3
        assert each.retry_delay_seconds == (1.0, 4.0, 16.0)
        assert each.retry_jitter_factor == 0.5
        assert each.retry_condition_fn is backend.tasks.retry_if_transient
        assert each.fn.__doc__


def test_the_retry_delays_grow_and_jitter_never_shortens_them(backend: Backend):
    for retry, base in enumerate([1, 4, 16, 16], start=1):
        delays = [backend.upload.retry_delay(retry) for _ in range(50)]
        assert all(base <= delay <= base * 1.5 for delay in delays)


def test_upload_needs_exactly_one_source(
    bucket: ObjectStorageBucket, backend: Backend, tmp_path: Path
):
    @flow
    def pipeline(**kwargs: Any) -> Any:
        return backend.upload(bucket, "a.json", **kwargs)

    with pytest.raises(ValueError, match="either data"):
        pipeline()
    with pytest.raises(ValueError, match="either data"):
        pipeline(data=b".", from_path=tmp_path / "x")


def test_a_missing_object_is_not_retried(bucket: ObjectStorageBucket, backend: Backend, recorder):
    @flow
    def pipeline() -> Any:
        return backend.download.with_options(retry_delay_seconds=0)(bucket, "missing.json")

    with pytest.raises(backend.error, match=backend.missing_object):
        pipeline()

    [run] = recorder.task_runs()
    assert run.run_count == 1


def test_a_transient_error_is_retried_with_the_integrations_retry_options(
    bucket: ObjectStorageBucket, backend: Backend, recorder
):
    bucket.write_path("k.json", b"{}")
    attempts: list[int] = []

    @task(**{**backend.tasks.RETRY_OPTIONS, "retry_delay_seconds": 0})
    def flaky_read(bucket: ObjectStorageBucket, path: str) -> bytes:
        attempts.append(1)
        if len(attempts) < 3:  # the store asks to slow down twice
            raise backend.transient_error()
        return bucket.read_path(path)

    state = in_flow(lambda: flaky_read(bucket, "k.json", return_state=True))

    assert state.type is StateType.COMPLETED
    assert state.result() == b"{}"
    assert len(attempts) == 3
    assert recorder.task_runs()[0].run_count == 3
