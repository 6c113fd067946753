"""Google Cloud errors as Plait errors: what was being done, on which bucket and object, the
HTTP status and Google's reason, without credentials."""

from __future__ import annotations

from typing import Any

from plait.exceptions import PlaitError

TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""Answers worth retrying: request timeout, too many requests, and server errors."""

_REASONS = {  # HTTP status -> (Google's reason, what it means), when the answer had no body
    400: ("badRequest", "the request is invalid"),
    401: ("unauthorized", "the credentials were not accepted"),
    403: ("forbidden", "access denied: the credentials lack the permission"),
    404: ("notFound", "not found"),
    409: ("conflict", "it conflicts with the current state (it exists already?)"),
    412: ("conditionNotMet", "a precondition failed"),
    429: ("rateLimitExceeded", "too many requests"),
    500: ("internalError", "Google Cloud had an internal error"),
    502: ("badGateway", "bad gateway"),
    503: ("backendError", "the service is unavailable"),
    504: ("gatewayTimeout", "the request timed out"),
}


class GcpError(PlaitError):
    """A Google Cloud call failed. ``code`` is the HTTP status of Google's answer (``404``,
    ``403``, ...), or None when Google never answered; ``reason`` is Google's reason
    (``notFound``, ``forbidden``, ``rateLimitExceeded``, ...), or the exception's name when
    Google never answered (``ConnectionError``)."""

    def __init__(
        self,
        message: str,
        code: int | None = None,
        reason: str | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self._transient = transient

    def __reduce__(self) -> tuple[Any, ...]:  # keeps code and reason across processes
        return (type(self), (str(self), self.code, self.reason, self._transient))

    @property
    def status(self) -> int | None:
        """The HTTP status (the same as ``code``)."""
        return self.code

    @property
    def transient(self) -> bool:
        """Whether retrying may help: 408, 429 and 5xx answers, lost connections."""
        return self._transient or self.code in TRANSIENT_STATUSES or (self.code or 0) >= 500


def describe(where: dict[str, Any]) -> str:
    """``" (bucket 'raw', object 'a.json')"`` for ``where``, or ``""``."""
    place = ", ".join(f"{name} {value!r}" for name, value in where.items() if value is not None)
    return f" ({place})" if place else ""


def gcp_error(
    exc: BaseException, action: str, *, problem: str | None = None, **where: Any
) -> GcpError:
    """``exc`` (from google-cloud-storage, google-auth or requests) as a ``GcpError`` naming
    ``action`` and ``where`` (bucket, object...). ``problem`` replaces Google's own reason
    (for example "the bucket does not exist", once the caller has found out which).

    The message never includes credentials: Google's answers name the request and its
    reason only, and a request's URL holds no token."""
    from google.api_core import exceptions as api

    if isinstance(exc, api.RetryError) and exc.cause is not None:
        exc = exc.cause  # the Google client retried until its deadline: the last failure
    status = _status_of(exc)
    target = describe(where)
    if status is not None:
        reason, default = _REASONS.get(status, (None, None))
        errors = getattr(exc, "errors", None) or []
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        reason = first.get("reason") or reason or type(exc).__name__
        detail = problem or first.get("message") or default or _plain(exc)
        return GcpError(
            f"{action}{target} failed with Google Cloud error {status} ({reason}): {detail}",
            status,
            reason,
        )
    name = type(exc).__name__
    detail = f"{problem} ({name}: {exc})" if problem else f"{name}: {exc}"
    return GcpError(f"{action}{target} failed: {detail}", None, name, transient=_is_network(exc))


def _status_of(exc: BaseException) -> int | None:
    """The HTTP status of Google's answer, if ``exc`` carries one."""
    from google.api_core import exceptions as api

    if isinstance(exc, api.GoogleAPICallError) and isinstance(exc.code, int):
        return exc.code
    response = getattr(exc, "response", None)  # google.resumable_media's InvalidResponse
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _plain(exc: BaseException) -> str:
    """Google's message without the request line (``GET http://...: ``) it starts with."""
    message = str(getattr(exc, "message", "") or exc)
    _, _, rest = message.partition(": ")
    return rest or message


def _is_network(exc: BaseException) -> bool:
    """A connection that could not be made or was lost, or a read that timed out (not a
    certificate problem: retrying cannot fix that)."""
    import requests
    from google.auth.exceptions import TransportError

    if isinstance(exc, requests.exceptions.SSLError):
        return False
    if isinstance(exc, TransportError):
        cause = exc.args[0] if exc.args else None
        return not isinstance(cause, BaseException) or _is_network(cause)
    network = (
        ConnectionError,
        TimeoutError,
        requests.exceptions.ConnectionError,
        requests.exceptions.Timeout,
        requests.exceptions.ChunkedEncodingError,
    )
    return isinstance(exc, network)


def is_transient(exc: BaseException) -> bool:
    """For task retries: 408, 429 and 5xx answers, timeouts and lost connections."""
    if isinstance(exc, GcpError):
        return exc.transient
    from google.api_core import exceptions as api

    if isinstance(exc, api.RetryError):
        return True
    status = _status_of(exc)
    if status is not None:
        return status in TRANSIENT_STATUSES or status >= 500
    return _is_network(exc)
