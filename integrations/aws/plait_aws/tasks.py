"""Prebuilt Plait tasks for S3 and Secrets Manager: thin wrappers over the block methods, each
taking the block as its first argument.

Every task retries up to 3 times, after about 1, 4 and 16 seconds (stretched by up to 50% of
random jitter), and only when the failure is transient: throttling (``SlowDown``,
``Throttling``...), timeouts, 5xx answers and lost connections. A missing bucket or key, or
access denied, fails at once. Change any option with ``with_options``::

    s3_upload.with_options(retries=5, retry_delay_seconds=[2, 10, 60])(bucket, "a.json", b"{}")
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from plait import retry_when, task
from plait_aws.errors import is_transient

if TYPE_CHECKING:
    from pydantic import SecretBytes, SecretStr

    from plait_aws.s3 import S3Bucket
    from plait_aws.secrets_manager import AwsSecret


RETRY_OPTIONS: dict[str, Any] = retry_when(is_transient)
"""The retry options every task here is defined with."""
retry_if_transient = RETRY_OPTIONS["retry_condition_fn"]


@task(name="s3_upload", **RETRY_OPTIONS)
def s3_upload(
    bucket: S3Bucket,
    to_path: str,
    data: bytes | None = None,
    *,
    from_path: str | Path | None = None,
) -> str:
    """Upload ``data`` (bytes), or the local file ``from_path``, to ``to_path`` in the
    bucket; returns the object's key. Multipart from 8 MB."""
    return bucket.upload(to_path, data, from_path=from_path)


@task(name="s3_download", **RETRY_OPTIONS)
def s3_download(
    bucket: S3Bucket, from_path: str, to_path: str | Path | None = None
) -> bytes | Path:
    """The content of the object at ``from_path``, or, with ``to_path``, the object
    downloaded to that local file (whose path is returned)."""
    return bucket.download(from_path, to_path)


@task(name="s3_list_objects", **RETRY_OPTIONS)
def s3_list_objects(
    bucket: S3Bucket, folder: str = "", delimiter: str = "", page_size: int | None = None
) -> list[dict[str, Any]]:
    """The objects under ``folder`` (all pages), and with a ``delimiter`` its subfolders:
    see ``S3Bucket.list_objects``."""
    return bucket.list_objects(folder, delimiter=delimiter, page_size=page_size)


@task(name="s3_copy", **RETRY_OPTIONS)
def s3_copy(
    bucket: S3Bucket, from_path: str, to_path: str, to_bucket: S3Bucket | str | None = None
) -> str:
    """Copy an object inside S3 (to another bucket with ``to_bucket``); returns the new
    key. See ``S3Bucket.copy_object``."""
    return bucket.copy_object(from_path, to_path, to_bucket)


@task(name="s3_move", **RETRY_OPTIONS)
def s3_move(
    bucket: S3Bucket, from_path: str, to_path: str, to_bucket: S3Bucket | str | None = None
) -> str:
    """Move an object (copy, then delete the source); returns the new key. See
    ``S3Bucket.move_object``."""
    return bucket.move_object(from_path, to_path, to_bucket)


@task(name="s3_delete", **RETRY_OPTIONS)
def s3_delete(bucket: S3Bucket, paths_or_folder: str | list[str]) -> list[str]:
    """Delete a list of objects, or every object under a folder; returns the deleted paths.
    See ``S3Bucket.delete_objects``."""
    return bucket.delete_objects(paths_or_folder)


# A secret's value must never be written to result storage: persist_result=False, whatever
# results_persist_by_default says (and so no caching either).
@task(name="read_secret", persist_result=False, **RETRY_OPTIONS)
def read_secret(secret: AwsSecret) -> str | bytes:
    """The current value of the secret (``str``, or ``bytes`` for a binary secret). The
    value is never persisted as a task result."""
    return secret.read_secret()


@task(name="update_secret", persist_result=False, **RETRY_OPTIONS)
def update_secret(secret: AwsSecret, value: str | bytes | SecretStr | SecretBytes) -> str:
    """Store ``value`` as the secret's new version (creating the secret if it is missing);
    returns the secret's ARN. ``value`` may be a pydantic ``SecretStr``/``SecretBytes``, so
    that it stays masked until this call."""
    reveal = getattr(value, "get_secret_value", None)
    return secret.write_secret(reveal() if callable(reveal) else value)
