"""Google Cloud credentials as a block: google-auth credentials, Cloud Storage clients, and a
real check.

A service account key never appears in an error message, a log line or a repr: errors about
``service_account_info`` name the field and what is wrong with it (a missing field, a private
key that is not PEM), never a value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import Field, field_validator, model_validator

from plait.blocks import CheckResult, CredentialsBlock, SecretDict
from plait_gcp.errors import GcpError, gcp_error

REQUIRED_KEY_FIELDS = ("client_email", "private_key", "token_uri")
"""The fields of a service account key that google-auth needs."""


class GcpCredentials(CredentialsBlock):
    """Credentials for Google Cloud: a service account key (its JSON content, or the path of
    the key file), or nothing at all to use Application Default Credentials (``gcloud auth
    application-default login``, ``GOOGLE_APPLICATION_CREDENTIALS``, the metadata server).
    Optionally talks to ``api_endpoint`` instead of Google (a private endpoint or a local
    emulator; without a service account, anonymously)."""

    _documentation_url = "https://plait.dev/docs/integrations/gcp#gcpcredentials"
    _code_example = """
        import json

        from plait_gcp import GcpCredentials

        with open("etl-key.json") as key_file:
            GcpCredentials(service_account_info=json.load(key_file)).save("prod")

        client = GcpCredentials.load("prod").get_cloud_storage_client()
    """

    service_account_info: SecretDict | None = Field(
        default=None,
        description="The content of a service account key file (a JSON object); encrypted "
        "when saved.",
    )
    service_account_file: str | None = Field(
        default=None, description="The path of a service account key file (JSON)."
    )
    project: str | None = Field(
        default=None,
        description="The Google Cloud project; by default the key's project_id, or the "
        "project of the default credentials.",
    )
    api_endpoint: str | None = Field(
        default=None,
        description="Talk to this URL instead of Google (private endpoints, local emulators).",
    )

    @field_validator("service_account_file")
    @classmethod
    def _check_file(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("must be the path of a service account key file, or None")
        return str(Path(value.strip()).expanduser())

    @field_validator("api_endpoint")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlparse(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                "must be an http(s) URL, e.g. 'http://127.0.0.1:9023' for a local emulator"
            )
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _one_key(self) -> GcpCredentials:
        if self.service_account_info is not None and self.service_account_file is not None:
            raise ValueError(
                "give service_account_info or service_account_file, not both: they are two "
                "ways of passing the same key"
            )
        return self

    # -- google-auth credentials ----------------------------------------------------------

    def get_credentials_from_service_account(self) -> Any:
        """google-auth credentials of the service account key (``service_account_info`` or
        ``service_account_file``), or None when neither is set. A key that cannot be used
        raises ``GcpError`` naming the field and the problem, never the key itself."""
        if self.service_account_info is not None:
            info = self.service_account_info.get_secret_value()
            return _service_account(info, "GcpCredentials.service_account_info")
        if self.service_account_file is not None:
            return _service_account(
                _read_key_file(self.service_account_file),
                f"The service account key file {self.service_account_file!r}",
            )
        return None

    def get_credentials(self) -> tuple[Any, str | None]:
        """google-auth credentials and the project they belong to: the service account's;
        anonymous ones when only an ``api_endpoint`` is set (emulators need none); otherwise
        Application Default Credentials."""
        credentials = self.get_credentials_from_service_account()
        if credentials is not None:
            return credentials, self.project or credentials.project_id
        if self.api_endpoint:
            from google.auth.credentials import AnonymousCredentials

            return AnonymousCredentials(), self.project
        import google.auth
        from google.auth.exceptions import GoogleAuthError

        try:
            credentials, project = google.auth.default()
        except GoogleAuthError as exc:
            raise GcpError(
                f"Finding Application Default Credentials failed: {exc} Or give GcpCredentials "
                "a service_account_info or service_account_file.",
                reason=type(exc).__name__,
            ) from None
        return credentials, self.project or project

    def get_cloud_storage_client(self) -> Any:
        """A ``google.cloud.storage.Client`` for these credentials and ``project``, cached
        per credentials and process (clients are thread-safe and costly to build, but must
        not cross a fork)."""
        return self.cached_client("storage", self._new_storage_client)

    def _new_storage_client(self) -> Any:
        from google.cloud import storage

        credentials, project = self.get_credentials()
        options = {"api_endpoint": self.api_endpoint} if self.api_endpoint else None
        try:
            return storage.Client(project=project, credentials=credentials, client_options=options)
        except Exception as exc:
            raise gcp_error(exc, "Creating a Cloud Storage client") from None

    # -- check ----------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Lists the buckets of ``project``: one authenticated round trip."""
        return CheckResult.measure(self._round_trip)

    def _round_trip(self) -> str:
        client = self.get_cloud_storage_client()
        if not client.project:
            raise GcpError(
                "Listing buckets needs a project: set GcpCredentials.project (the key and "
                "the default credentials name none)."
            )
        at = f" at {self.api_endpoint}" if self.api_endpoint else ""
        try:  # no retries: a check answers at once
            buckets = list(client.list_buckets(retry=None, timeout=30))
        except Exception as exc:
            raise gcp_error(exc, f"Listing buckets{at}", project=client.project) from None
        return f"listed {len(buckets)} buckets in project {client.project!r}{at}"


def _read_key_file(path: str) -> Any:
    """The JSON content of a key file; errors name the file, never its content."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise GcpError(
            f"The service account key file {path!r} cannot be read ({exc.strerror or exc}): "
            "give the path of a key file (JSON) that this process can read.",
            reason=type(exc).__name__,
        ) from None
    try:
        return json.loads(text)
    except ValueError:  # raised below: the JSON error holds the whole text, key included
        pass
    raise GcpError(
        f"The service account key file {path!r} is not JSON: give the key file that "
        "Google Cloud's console or `gcloud iam service-accounts keys create` wrote.",
        reason="InvalidKey",
    )


def _service_account(info: Any, what: str) -> Any:
    """google-auth ``service_account.Credentials`` from a key's content. Every problem is a
    ``GcpError`` that names ``what`` and the problem, and never holds a value of the key
    (google-auth's own messages are not used)."""
    from google.oauth2 import service_account

    def invalid(problem: str) -> GcpError:
        return GcpError(
            f"{what} is not a usable service account key: {problem}.", reason="InvalidKey"
        )

    if not isinstance(info, dict):
        raise invalid(f"it must be a JSON object (a dict), got {type(info).__name__}")
    kind = info.get("type", "service_account")
    if kind != "service_account":
        shown = kind if isinstance(kind, str) and len(kind) <= 40 else "another type"
        raise invalid(
            f"its type is {shown!r}, not 'service_account'; for user credentials, leave the "
            "key out and use Application Default Credentials"
        )
    missing = [name for name in REQUIRED_KEY_FIELDS if not info.get(name)]
    if missing:
        raise invalid(
            f"it has no {', '.join(missing)} field{'s' if len(missing) > 1 else ''}; give the "
            "whole content of the key file"
        )
    for name in REQUIRED_KEY_FIELDS:
        if not isinstance(info[name], str):
            raise invalid(f"its {name} field must be a string, got {type(info[name]).__name__}")
    failure: type[BaseException] | None = None
    try:
        return service_account.Credentials.from_service_account_info(info)
    except Exception as exc:  # raised below, outside this block: no chained exception
        failure = type(exc)
    if issubclass(failure, ValueError):
        raise invalid(
            "its private_key is not a PEM-encoded private key (it should start with "
            "'-----BEGIN PRIVATE KEY-----', with its line breaks as in the key file)"
        )
    raise invalid(f"google-auth could not load it ({failure.__name__})")
