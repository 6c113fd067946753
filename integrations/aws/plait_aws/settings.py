"""plait-aws settings: ``PLAIT_AWS_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AwsSettings(BaseSettings):
    """Settings of the AWS integration."""

    model_config = SettingsConfigDict(env_prefix="PLAIT_AWS_", extra="ignore")

    result_storage_credentials: str | None = Field(
        default=None,
        description="Name of the saved AwsCredentials block that s3:// result storage uses; "
        "unset means boto3's default credentials (environment, ~/.aws, instance role).",
    )
