"""Prebuilt Plait tasks for S3 and Secrets Manager, each taking the block as its first
argument. The S3 tasks are Plait's object-storage tasks (``plait.blocks.ObjectStorageTasks``),
the same for every store, named and documented for S3.

Every task retries up to 3 times, after about 1, 4 and 16 seconds (stretched by up to 50% of
random jitter), and only when the failure is transient: throttling (``SlowDown``,
``Throttling``...), timeouts, 5xx answers and lost connections. A missing bucket or key, or
access denied, fails at once. Change any option with ``with_options``::

    s3_upload.with_options(retries=5, retry_delay_seconds=[2, 10, 60])(bucket, "a.json", b"{}")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plait import retry_when, task
from plait.blocks import ObjectStorageTasks
from plait_aws.errors import is_transient
from plait_aws.s3 import S3Bucket

if TYPE_CHECKING:
    from pydantic import SecretBytes, SecretStr

    from plait_aws.secrets_manager import AwsSecret


RETRY_OPTIONS: dict[str, Any] = retry_when(is_transient)
"""The retry options every task here is defined with."""
retry_if_transient = RETRY_OPTIONS["retry_condition_fn"]

_s3 = ObjectStorageTasks(S3Bucket, store="S3", module=__name__, options=RETRY_OPTIONS)
s3_upload = _s3.upload("s3_upload", large_objects="Multipart from 8 MB.")
s3_download = _s3.download("s3_download")
s3_list_objects = _s3.list_objects("s3_list_objects")
s3_copy = _s3.copy("s3_copy")
s3_move = _s3.move("s3_move")
s3_delete = _s3.delete("s3_delete")


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
