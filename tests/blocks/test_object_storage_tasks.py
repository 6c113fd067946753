"""ObjectStorageTasks, the prebuilt bucket tasks written once for every store: each store's
set is named, documented and retried as its own, its functions bound to the integration's
module (so cache keys never mix stores), and the tasks cross into spawned worker processes
by value. Plait has no local object store, so the tasks run against both real emulators
(moto's S3 and gcp-storage-emulator) with the real clients. What each integration's tasks do
is tested for both stores in tests/integrations/test_object_storage_backends.py."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import plait_aws
import plait_gcp
from plait import ProcessPoolTaskRunner, flow, retry_when
from plait.blocks import ObjectStorageBucket, ObjectStorageTasks
from plait.caching import task_identity


def _never_transient(exc: BaseException) -> bool:
    return False


def test_a_set_names_documents_and_retries_every_task_as_its_stores():
    options = retry_when(_never_transient, retries=1)
    made = ObjectStorageTasks(
        plait_gcp.GcsBucket, store="Cloud Storage", module=__name__, options=options
    )
    tasks = {
        "put": made.upload("put", large_objects="Big ones go up in parts."),
        "get": made.download("get"),
        "ls": made.list_objects("ls"),
        "cp": made.copy("cp"),
        "mv": made.move("mv"),
        "rm": made.delete("rm"),
    }

    for name, each in tasks.items():
        assert each.name == each.fn.__name__ == each.fn.__qualname__ == name
        assert each.__module__ == each.fn.__module__ == __name__
        assert task_identity(each.fn) == f"{__name__}:{name}"
        assert each.retries == 1
        assert each.retry_condition_fn is options["retry_condition_fn"]
    assert tasks["put"].description.endswith("object's key. Big ones go up in parts.")
    assert "inside Cloud Storage" in tasks["cp"].description
    assert tasks["cp"].description.endswith("See ``GcsBucket.copy_object``.")
    assert tasks["mv"].description.endswith("See ``GcsBucket.move_object``.")
    assert list(inspect.signature(tasks["mv"]).parameters) == [
        *("bucket", "from_path", "to_path", "to_bucket")
    ]
    from_path = inspect.signature(tasks["put"]).parameters["from_path"]
    assert from_path.kind is inspect.Parameter.KEYWORD_ONLY


def test_the_stores_share_the_code_but_not_the_tasks():
    assert plait_aws.s3_copy.fn is not plait_gcp.gcs_copy.fn
    assert task_identity(plait_aws.s3_copy.fn) == "plait_aws.tasks:s3_copy"
    assert task_identity(plait_gcp.gcs_copy.fn) == "plait_gcp.tasks:gcs_copy"
    assert plait_aws.s3_copy.retry_condition_fn is not plait_gcp.gcs_copy.retry_condition_fn


def _s3_bucket(request) -> ObjectStorageBucket:
    credentials = request.getfixturevalue("aws_credentials")
    credentials.get_client("s3").create_bucket(Bucket="raw")
    return plait_aws.S3Bucket(bucket_name="raw", bucket_folder="in", credentials=credentials)


def _gcs_bucket(request) -> ObjectStorageBucket:
    credentials = request.getfixturevalue("gcp_credentials")
    credentials.get_cloud_storage_client().create_bucket("raw")
    return plait_gcp.GcsBucket(bucket="raw", bucket_folder="in", credentials=credentials)


@pytest.mark.parametrize(
    ("make_bucket", "tasks"),
    [
        pytest.param(
            _s3_bucket,
            (
                *(plait_aws.s3_upload, plait_aws.s3_copy, plait_aws.s3_list_objects),
                *(plait_aws.s3_download, plait_aws.s3_delete),
            ),
            id="s3",
        ),
        pytest.param(
            _gcs_bucket,
            (
                *(plait_gcp.gcs_upload, plait_gcp.gcs_copy, plait_gcp.gcs_list_blobs),
                *(plait_gcp.gcs_download, plait_gcp.gcs_delete),
            ),
            id="gcs",
        ),
    ],
)
def test_the_tasks_run_in_spawned_worker_processes(make_bucket, tasks, request):
    upload, copy, list_objects, download, delete = tasks
    bucket = make_bucket(request)

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def pipeline() -> list[Any]:
        return [
            upload.submit(bucket, "a.json", b'{"a": 1}').result(),
            copy.submit(bucket, "a.json", "b.json").result(),
            [item["Path"] for item in list_objects.submit(bucket).result()],
            download.submit(bucket, "b.json").result(),
            delete.submit(bucket, ["a.json"]).result(),
        ]

    assert pipeline() == ["in/a.json", "in/b.json", ["a.json", "b.json"], b'{"a": 1}', ["a.json"]]
    assert bucket.list() == ["b.json"]
