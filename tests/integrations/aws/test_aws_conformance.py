"""plait-aws's block types through Plait's conformance kit: metadata, schemas, save/load
round trips, secrets masked and encrypted at rest, nested credentials saved as documents."""

from __future__ import annotations

from plait.testing import BlockConformance
from plait_aws import AwsCredentials, AwsSecret, S3Bucket


def credentials() -> AwsCredentials:
    return AwsCredentials(
        aws_access_key_id="AKIACONFORMANCE00001",
        aws_secret_access_key="conformance-secret-access-key-5c1d",
        aws_session_token="conformance-session-token-77aa",
        region_name="eu-west-1",
        endpoint_url="http://127.0.0.1:9",
    )


class TestAwsBlocks(BlockConformance):
    plugin = "aws"
    examples = [
        credentials(),
        AwsCredentials(profile_name="prod", role_arn="arn:aws:iam::123456789012:role/etl"),
        S3Bucket(bucket_name="raw", bucket_folder="events/2026", credentials=credentials()),
        AwsSecret(secret_name="prod/warehouse-password", credentials=credentials()),
    ]
