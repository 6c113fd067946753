"""AWS Secrets Manager secrets as a block: read, write and delete a secret's value.

The value itself is never put in an error message, a log line or a repr: errors name the
secret and AWS's error code only.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from plait.blocks import Block
from plait_aws.credentials import AwsCredentials
from plait_aws.errors import AwsError, aws_error

MIN_RECOVERY_DAYS = 7
MAX_RECOVERY_DAYS = 30


class AwsSecret(Block):
    """A secret in AWS Secrets Manager, by name or ARN: read its current value, write a new
    one (creating the secret if it does not exist yet), or delete it.

    The block holds where the secret lives, never its value: the value stays in AWS."""

    _documentation_url = "https://plait.dev/docs/integrations/aws#awssecret"
    _code_example = """
        from plait_aws import AwsCredentials, AwsSecret

        AwsSecret(
            secret_name="prod/warehouse-password",
            credentials=AwsCredentials.load("prod"),
        ).save("warehouse-password")

        secret = AwsSecret.load("warehouse-password")
        password = secret.read_secret()
        arn = secret.write_secret(new_password)
    """

    secret_name: str = Field(description="The secret's name or full ARN in Secrets Manager.")
    credentials: AwsCredentials = Field(
        default_factory=AwsCredentials,
        description="The AWS credentials to use (by default, boto3's default credentials).",
    )

    def read_secret(self) -> str | bytes:
        """The secret's current value: a ``str`` when it was stored as a string
        (``SecretString``), ``bytes`` when stored as binary (``SecretBinary``)."""
        try:
            response = self._client().get_secret_value(SecretId=self.secret_name)
        except Exception as exc:
            raise aws_error(exc, "Reading secret", secret=self.secret_name) from None
        if response.get("SecretString") is not None:
            return response["SecretString"]
        if response.get("SecretBinary") is not None:
            return bytes(response["SecretBinary"])
        raise AwsError(
            f"Reading secret (secret {self.secret_name!r}) failed: its current version has "
            "neither a string nor a binary value",
            code="EmptySecret",
        )

    def write_secret(self, value: str | bytes) -> str:
        """Store ``value`` as the secret's new current version (``str`` as ``SecretString``,
        ``bytes`` as ``SecretBinary``), creating the secret if it does not exist. Returns the
        secret's ARN."""
        if isinstance(value, bytes | bytearray):
            payload: dict[str, Any] = {"SecretBinary": bytes(value)}
        elif isinstance(value, str):
            payload = {"SecretString": value}
        else:
            raise TypeError(
                f"AwsSecret.write_secret takes a str or bytes value, got {type(value).__name__}"
            )
        client = self._client()
        try:
            response = client.put_secret_value(SecretId=self.secret_name, **payload)
        except Exception as exc:
            if _code_of(exc) != "ResourceNotFoundException":
                raise aws_error(exc, "Writing secret", secret=self.secret_name) from None
        else:
            return response["ARN"]
        try:
            response = client.create_secret(Name=self.secret_name, **payload)
        except Exception as exc:
            raise aws_error(exc, "Creating secret", secret=self.secret_name) from None
        return response["ARN"]

    def delete_secret(self, recovery_window_in_days: int = 30, force: bool = False) -> None:
        """Delete the secret. It can be restored for ``recovery_window_in_days`` (7 to 30)
        days; ``force=True`` deletes it at once, with no recovery window."""
        if not force and not (
            isinstance(recovery_window_in_days, int)
            and not isinstance(recovery_window_in_days, bool)
            and MIN_RECOVERY_DAYS <= recovery_window_in_days <= MAX_RECOVERY_DAYS
        ):
            raise ValueError(
                f"recovery_window_in_days must be between {MIN_RECOVERY_DAYS} and "
                f"{MAX_RECOVERY_DAYS} days, got {recovery_window_in_days!r}; pass force=True "
                "to delete the secret at once without a recovery window."
            )
        options: dict[str, Any] = (
            {"ForceDeleteWithoutRecovery": True}
            if force
            else {"RecoveryWindowInDays": recovery_window_in_days}
        )
        try:
            self._client().delete_secret(SecretId=self.secret_name, **options)
        except Exception as exc:
            raise aws_error(exc, "Deleting secret", secret=self.secret_name) from None

    def _client(self) -> Any:
        return self.credentials.get_client("secretsmanager")


def _code_of(exc: Exception) -> str | None:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None
