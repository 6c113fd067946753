"""plait-aws: AWS credentials, S3 buckets and Secrets Manager secrets as Plait blocks, and
prebuilt tasks for them.

from plait_aws import AwsCredentials, S3Bucket

bucket = S3Bucket(bucket_name="raw", credentials=AwsCredentials.load("prod"))
bucket.write_path("events/2026-11-24.json", b"[]")
"""

from plait_aws.credentials import AwsCredentials
from plait_aws.errors import AwsError
from plait_aws.s3 import S3Bucket
from plait_aws.secrets_manager import AwsSecret
from plait_aws.tasks import (
    read_secret,
    s3_copy,
    s3_delete,
    s3_download,
    s3_list_objects,
    s3_move,
    s3_upload,
    update_secret,
)

__version__ = "0.1.0"

__all__ = [
    "AwsCredentials",
    "AwsError",
    "AwsSecret",
    "S3Bucket",
    "__version__",
    "read_secret",
    "s3_copy",
    "s3_delete",
    "s3_download",
    "s3_list_objects",
    "s3_move",
    "s3_upload",
    "update_secret",
]
