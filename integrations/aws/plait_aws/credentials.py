"""AWS credentials as a block: boto3 sessions and clients, and a real check."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import Field, SecretStr

from plait.blocks import CheckResult, CredentialsBlock
from plait_aws.errors import aws_error


class AwsCredentials(CredentialsBlock):
    """Credentials for AWS: access keys (with an optional session token), or a profile from
    ``~/.aws``, or nothing at all to use boto3's default chain (environment, instance role).
    Optionally assumes a role, and talks to ``endpoint_url`` instead of AWS (for
    S3-compatible stores and local emulators)."""

    _documentation_url = "https://plait.dev/docs/integrations/aws#awscredentials"
    _code_example = """
        from plait_aws import AwsCredentials

        AwsCredentials(
            aws_access_key_id="AKIA...",
            aws_secret_access_key="...",
            region_name="eu-west-1",
        ).save("prod")

        s3 = AwsCredentials.load("prod").get_client("s3")
    """

    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None
    profile_name: str | None = None
    region_name: str | None = None
    role_arn: str | None = Field(default=None, description="A role to assume with STS.")
    role_session_name: str = "plait"
    endpoint_url: str | None = Field(
        default=None, description="Talk to this URL instead of AWS (S3-compatible, emulators)."
    )

    def get_boto3_session(self) -> Any:
        """A ``boto3.Session`` for these credentials (with the role assumed, if one is set)."""
        import boto3

        session = boto3.Session(
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=_reveal(self.aws_secret_access_key),
            aws_session_token=_reveal(self.aws_session_token),
            profile_name=self.profile_name,
            region_name=self.region_name,
        )
        if self.role_arn is None:
            return session
        return self._assumed_role_session(session)

    def _assumed_role_session(self, source: Any) -> Any:
        """A session whose keys come from STS ``AssumeRole`` and are fetched again before
        they expire, so a long-running process keeps working."""
        import boto3
        import botocore.session
        from botocore.credentials import (
            AssumeRoleCredentialFetcher,
            DeferredRefreshableCredentials,
        )

        fetcher = AssumeRoleCredentialFetcher(
            client_creator=functools.partial(
                source._session.create_client, endpoint_url=self.endpoint_url
            ),
            source_credentials=source.get_credentials(),
            role_arn=self.role_arn,
            extra_args={"RoleSessionName": self.role_session_name},
        )
        assumed = botocore.session.Session()
        assumed._credentials = DeferredRefreshableCredentials(  # boto3's documented pattern
            refresh_using=fetcher.fetch_credentials, method="assume-role"
        )
        return boto3.Session(botocore_session=assumed, region_name=self.region_name)

    def get_client(self, service: str) -> Any:
        """A boto3 client for ``service``, cached per credentials (clients are thread-safe
        and costly to build)."""
        return self.cached_client(
            service,
            lambda: self.get_boto3_session().client(service, endpoint_url=self.endpoint_url),
        )

    def check(self) -> CheckResult:
        """STS ``GetCallerIdentity`` (with an ``endpoint_url``: S3 ``ListBuckets``)."""
        return CheckResult.measure(self._round_trip)

    def _round_trip(self) -> str:
        if self.endpoint_url:
            try:
                buckets = self.get_client("s3").list_buckets()["Buckets"]
            except Exception as exc:
                raise aws_error(exc, f"Listing buckets at {self.endpoint_url}") from None
            return f"listed {len(buckets)} buckets at {self.endpoint_url}"
        try:
            identity = self.get_client("sts").get_caller_identity()
        except Exception as exc:
            raise aws_error(exc, "STS GetCallerIdentity") from None
        return f"authenticated as {identity['Arn']}"


def _reveal(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value
