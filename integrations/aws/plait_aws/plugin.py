"""Registers plait-aws with Plait: its block types, prebuilt tasks and ``s3://`` result
storage. Imports stay inside the hooks, so loading the plugin does not import boto3."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from plait import hookimpl


@hookimpl
def plait_block_types() -> Sequence[type]:
    from plait_aws import AwsCredentials, AwsSecret, S3Bucket

    return [AwsCredentials, S3Bucket, AwsSecret]


@hookimpl
def plait_tasks() -> Sequence[Any]:
    from plait_aws import tasks

    return [
        tasks.s3_upload,
        tasks.s3_download,
        tasks.s3_list_objects,
        tasks.s3_copy,
        tasks.s3_move,
        tasks.s3_delete,
        tasks.read_secret,
        tasks.update_secret,
    ]


@hookimpl
def plait_result_storage() -> dict[str, Callable[[str], Any]]:
    return {"s3": s3_bucket_at}


def s3_bucket_at(url: str) -> Any:
    """``s3://bucket/prefix`` as an ``S3Bucket``, with the credentials block named by
    ``PLAIT_AWS_RESULT_STORAGE_CREDENTIALS`` (or boto3's default credentials)."""
    from plait_aws import AwsCredentials, S3Bucket
    from plait_aws.settings import AwsSettings

    name = AwsSettings().result_storage_credentials
    return S3Bucket.from_url(url, AwsCredentials.load(name) if name else AwsCredentials())
