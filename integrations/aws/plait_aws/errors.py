"""AWS errors as Plait errors: what was being done, on which bucket and key, and AWS's error
code, without credentials."""

from __future__ import annotations

from typing import Any

from plait.exceptions import PlaitError

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "SlowDown",
        "RequestLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)


class AwsError(PlaitError):
    """An AWS call failed. ``code`` is AWS's error code (``NoSuchBucket``, ``AccessDenied``,
    ...), or the botocore exception's name when AWS never answered."""

    def __init__(
        self, message: str, code: str, status: int | None = None, transient: bool = False
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self._transient = transient

    def __reduce__(self) -> tuple[Any, ...]:  # keeps code and status across processes
        return (type(self), (str(self), self.code, self.status, self._transient))

    @property
    def transient(self) -> bool:
        """Whether retrying may help: throttling, timeouts, 5xx answers, lost connections."""
        if self._transient or self.code in TRANSIENT_CODES:
            return True
        return self.status is not None and self.status >= 500


def aws_error(exc: Exception, action: str, **where: Any) -> AwsError:
    """``exc`` (from boto3) as an ``AwsError`` naming ``action`` and ``where`` (bucket, key,
    secret...). Botocore messages name the operation and AWS's reason, never the keys."""
    from botocore.exceptions import ClientError

    place = ", ".join(f"{name} {value!r}" for name, value in where.items() if value is not None)
    target = f" ({place})" if place else ""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        reason = error.get("Message") or _DEFAULT_REASONS.get(code, "")
        detail = f": {reason}" if reason else ""
        return AwsError(f"{action}{target} failed with AWS error {code}{detail}", code, status)
    code = type(exc).__name__
    return AwsError(f"{action}{target} failed: {code}: {exc}", code, transient=_is_network(exc))


def _is_network(exc: BaseException) -> bool:
    """A connection that could not be made or was lost, or a read that timed out (not a
    certificate problem: retrying cannot fix that)."""
    from botocore.exceptions import ConnectionError, HTTPClientError, SSLError

    return isinstance(exc, ConnectionError | HTTPClientError) and not isinstance(exc, SSLError)


_DEFAULT_REASONS = {
    "404": "not found",
    "403": "access denied",
    "NoSuchBucket": "the bucket does not exist",
    "NoSuchKey": "the key does not exist",
}


def is_transient(exc: BaseException) -> bool:
    """For task retries: AWS throttling, timeouts, 5xx answers and lost connections."""
    if isinstance(exc, AwsError):
        return exc.transient
    return _is_network(exc)
