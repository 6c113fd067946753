"""Prebuilt Plait tasks for Cloud Storage, each taking the bucket as its first argument:
Plait's object-storage tasks (``plait.blocks.ObjectStorageTasks``), the same for every store,
named and documented for Cloud Storage.

Every task retries up to 3 times, after about 1, 4 and 16 seconds (stretched by up to 50% of
random jitter), and only when the failure is transient: 408, 429 and 5xx answers, timeouts
and lost connections. A missing bucket or object, or access denied, fails at once. Change
any option with ``with_options``::

    gcs_upload.with_options(retries=5, retry_delay_seconds=[2, 10, 60])(bucket, "a.json", b"{}")
"""

from __future__ import annotations

from typing import Any

from plait import retry_when
from plait.blocks import ObjectStorageTasks
from plait_gcp.errors import is_transient
from plait_gcp.gcs import GcsBucket

RETRY_OPTIONS: dict[str, Any] = retry_when(is_transient)
"""The retry options every task here is defined with."""
retry_if_transient = RETRY_OPTIONS["retry_condition_fn"]

_gcs = ObjectStorageTasks(GcsBucket, store="Cloud Storage", module=__name__, options=RETRY_OPTIONS)
gcs_upload = _gcs.upload("gcs_upload", large_objects="Resumable above 8 MB.")
gcs_download = _gcs.download("gcs_download")
gcs_list_blobs = _gcs.list_objects("gcs_list_blobs")
gcs_copy = _gcs.copy("gcs_copy")
gcs_delete = _gcs.delete("gcs_delete")
