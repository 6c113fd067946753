"""Prebuilt Plait tasks for Cloud Storage: thin wrappers over the ``GcsBucket`` methods, each
taking the bucket as its first argument.

Every task retries up to 3 times, after about 1, 4 and 16 seconds (stretched by up to 50% of
random jitter), and only when the failure is transient: 408, 429 and 5xx answers, timeouts
and lost connections. A missing bucket or object, or access denied, fails at once. Change
any option with ``with_options``::

    gcs_upload.with_options(retries=5, retry_delay_seconds=[2, 10, 60])(bucket, "a.json", b"{}")
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from plait import retry_when, task
from plait_gcp.errors import is_transient

if TYPE_CHECKING:
    from plait_gcp.gcs import GcsBucket


RETRY_OPTIONS: dict[str, Any] = retry_when(is_transient)
"""The retry options every task here is defined with."""
retry_if_transient = RETRY_OPTIONS["retry_condition_fn"]


@task(name="gcs_upload", **RETRY_OPTIONS)
def gcs_upload(
    bucket: GcsBucket,
    to_path: str,
    data: bytes | None = None,
    *,
    from_path: str | Path | None = None,
) -> str:
    """Upload ``data`` (bytes), or the local file ``from_path``, to ``to_path`` in the
    bucket; returns the object's name. Resumable above 8 MB."""
    return bucket.upload(to_path, data, from_path=from_path)


@task(name="gcs_download", **RETRY_OPTIONS)
def gcs_download(
    bucket: GcsBucket, from_path: str, to_path: str | Path | None = None
) -> bytes | Path:
    """The content of the object at ``from_path``, or, with ``to_path``, the object
    downloaded to that local file (whose path is returned)."""
    return bucket.download(from_path, to_path)


@task(name="gcs_list_blobs", **RETRY_OPTIONS)
def gcs_list_blobs(
    bucket: GcsBucket, folder: str = "", delimiter: str = "", page_size: int | None = None
) -> list[dict[str, Any]]:
    """The objects under ``folder`` (all pages), and with a ``delimiter`` its subfolders:
    see ``GcsBucket.list_objects``."""
    return bucket.list_objects(folder, delimiter=delimiter, page_size=page_size)


@task(name="gcs_copy", **RETRY_OPTIONS)
def gcs_copy(
    bucket: GcsBucket, from_path: str, to_path: str, to_bucket: GcsBucket | str | None = None
) -> str:
    """Copy an object inside Cloud Storage (to another bucket with ``to_bucket``); returns
    the new object's name. See ``GcsBucket.copy_object``."""
    return bucket.copy_object(from_path, to_path, to_bucket)


@task(name="gcs_delete", **RETRY_OPTIONS)
def gcs_delete(bucket: GcsBucket, paths_or_folder: str | list[str]) -> list[str]:
    """Delete a list of objects, or every object under a folder; returns the deleted paths.
    See ``GcsBucket.delete_objects``."""
    return bucket.delete_objects(paths_or_folder)
