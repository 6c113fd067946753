"""Persisted results holding AWS credentials or a SecretStr, written to S3 (moto's server,
through the real boto3): every object is scanned for the secrets' plaintext, and the
results read back equal."""

from __future__ import annotations

from typing import Any

from fixtures.files import holding_plaintext
from fixtures.result_secrets import TOKEN, assert_read_back, run_three

from plait_aws import AwsCredentials, S3Bucket

SECRET_KEY = "moto-secret-access-key-0123456789"  # the aws_credentials fixture's


def every_object(s3: Any) -> dict[str, bytes]:
    """Every object in every bucket, by ``bucket/key``."""
    return {
        f"{bucket['Name']}/{item['Key']}": s3.get_object(Bucket=bucket["Name"], Key=item["Key"])[
            "Body"
        ].read()
        for bucket in s3.list_buckets()["Buckets"]
        for item in s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", [])
    }


def test_results_holding_secrets_are_encrypted_in_s3(aws_credentials: AwsCredentials):
    s3 = aws_credentials.get_client("s3")
    s3.create_bucket(Bucket="results")
    S3Bucket(bucket_name="results", bucket_folder="plait", credentials=aws_credentials).save(
        "results"
    )

    states = run_three("s3-bucket/results", aws_credentials)

    written = every_object(s3)
    assert len(written) == 3
    assert holding_plaintext(written, SECRET_KEY) == []
    assert holding_plaintext(written, TOKEN) == []
    headers = {name: written[f"results/plait/{s.result_ref.path}"].split(b"\n")[0]
               for name, s in states.items()}  # fmt: skip
    assert headers == {
        "credentials_block": b"plait:cloudpickle-encrypted",
        "settings": b"plait:cloudpickle-encrypted",
        "rows": b"plait:cloudpickle",
    }
    assert_read_back(states, aws_credentials)
