"""plait-gcp settings: ``PLAIT_GCP_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GcpSettings(BaseSettings):
    """Settings of the Google Cloud integration."""

    model_config = SettingsConfigDict(env_prefix="PLAIT_GCP_", extra="ignore")

    result_storage_credentials: str | None = Field(
        default=None,
        description="Name of the saved GcpCredentials block that gs:// result storage uses; "
        "unset means Application Default Credentials.",
    )
