"""Registers plait-gcp with Plait: its block types, prebuilt tasks and ``gs://`` result
storage. Imports stay inside the hooks, so loading the plugin does not import the Google
Cloud libraries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from plait import hookimpl


@hookimpl
def plait_block_types() -> Sequence[type]:
    from plait_gcp import GcpCredentials, GcsBucket

    return [GcpCredentials, GcsBucket]


@hookimpl
def plait_tasks() -> Sequence[Any]:
    from plait_gcp import tasks

    return [
        tasks.gcs_upload,
        tasks.gcs_download,
        tasks.gcs_list_blobs,
        tasks.gcs_copy,
        tasks.gcs_delete,
    ]


@hookimpl
def plait_result_storage() -> dict[str, Callable[[str], Any]]:
    return {"gs": gcs_bucket_at}


def gcs_bucket_at(url: str) -> Any:
    """``gs://bucket/prefix`` as a ``GcsBucket``, with the credentials block named by
    ``PLAIT_GCP_RESULT_STORAGE_CREDENTIALS`` (or Application Default Credentials)."""
    from plait_gcp import GcpCredentials, GcsBucket
    from plait_gcp.settings import GcpSettings

    name = GcpSettings().result_storage_credentials
    return GcsBucket.from_url(url, GcpCredentials.load(name) if name else GcpCredentials())
