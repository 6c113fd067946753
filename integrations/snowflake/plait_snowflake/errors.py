"""Snowflake errors as Plait errors: what was being done, Snowflake's error code and SQL state,
and the query as written (with its placeholders, never the values bound to them), without
credentials."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from plait.exceptions import PlaitError

TRANSIENT_ERRNOS = frozenset({250001, 250003, 251011, 251012})
"""The connector's codes for a connection that could not be made or was lost: could not
connect (after its own retries), a request that failed, a connection timeout, a retryable
answer. Raised as ``OperationalError``; the same 250001 raised as a plain ``DatabaseError``
is a login Snowflake refused, which no retry fixes."""

REDACTED = "<redacted>"
MIN_REDACTED_LENGTH = 3
"""Parameter values at least this long are cut out of Snowflake's messages (a shorter one,
like ``1``, would match by chance)."""
QUERY_SHOWN = 500
"""How much of a query an error message shows (``SnowflakeError.query`` holds it all)."""


class SnowflakeError(PlaitError):
    """A Snowflake call failed. ``errno`` is Snowflake's error code (``2003``: the object does
    not exist; ``250001``: could not connect), or None when the connector gave none;
    ``sqlstate`` the SQL state (``42S02``); ``query`` the SQL as written, with its ``%s`` /
    ``%(name)s`` placeholders (parameter values are never shown); ``sfqid`` Snowflake's query
    ID, to look the query up in Snowflake's query history."""

    def __init__(
        self,
        message: str,
        errno: int | None = None,
        sqlstate: str | None = None,
        query: str | None = None,
        sfqid: str | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.errno = errno
        self.sqlstate = sqlstate
        self.query = query
        self.sfqid = sfqid
        self._transient = transient

    def __reduce__(self) -> tuple[Any, ...]:  # keeps the fields across processes
        return (
            type(self),
            (str(self), self.errno, self.sqlstate, self.query, self.sfqid, self._transient),
        )

    @property
    def transient(self) -> bool:
        """Whether retrying may help: a connection that could not be made or was lost."""
        return self._transient


def snowflake_error(
    exc: BaseException,
    action: str,
    *,
    query: str | None = None,
    params: Any = None,
    secrets: Iterable[str] = (),
) -> SnowflakeError:
    """``exc`` (from snowflake-connector-python) as a ``SnowflakeError`` naming ``action``.

    The connector's own exception is never kept (not even as ``__cause__``): it holds the
    query with the parameter values formatted in. The message is Snowflake's, with every
    parameter value and every one of ``secrets`` cut out, and ``query`` (as written) after it.
    """
    from snowflake.connector.errors import Error

    errno = sqlstate = sfqid = None
    if isinstance(exc, Error):
        errno = exc.errno if isinstance(exc.errno, int) and exc.errno > 0 else None
        sqlstate = exc.sqlstate if exc.sqlstate and exc.sqlstate != "n/a" else None
        sfqid = exc.sfqid
        code = f" {errno:06d}" if errno is not None else ""
        state = f" ({sqlstate})" if sqlstate else ""
        reason = str(exc.raw_msg or exc.msg or type(exc).__name__)
        reason = reason.removeprefix(f"{code.strip()}{state}: ")  # some answers repeat it
        detail = f"failed with Snowflake error{code}{state}: "
    else:
        reason = f"{type(exc).__name__}: {exc}"
        detail = "failed: "
    message = f"{action} {detail}{redact(reason, [*_values(params), *secrets])}"
    if query is not None:
        shown = query if len(query) <= QUERY_SHOWN else f"{query[:QUERY_SHOWN]}..."
        message = f"{message}\n  query: {shown}"
    return SnowflakeError(message, errno, sqlstate, query, sfqid, transient=is_transient(exc))


def redact(text: str, values: Iterable[str]) -> str:
    """``text`` with each of ``values`` (of ``MIN_REDACTED_LENGTH`` or more characters)
    replaced by ``<redacted>``, longest first."""
    for value in sorted(
        {v for v in values if len(v) >= MIN_REDACTED_LENGTH}, key=len, reverse=True
    ):
        text = text.replace(value, REDACTED)
    return text


def _values(params: Any) -> list[str]:
    """The text of every parameter value (of a sequence, a mapping or a list of either)."""
    if params is None or isinstance(params, bool):
        return []
    if isinstance(params, dict):
        return [text for value in params.values() for text in _values(value)]
    if isinstance(params, list | tuple):
        return [text for value in params for text in _values(value)]
    if isinstance(params, bytes):
        return [params.decode(errors="replace"), params.hex()]
    return [str(params)]


def is_transient(exc: BaseException) -> bool:
    """For task retries: a connection to Snowflake that could not be made or was lost, or a
    429, 502, 503 or 504 answer. SQL errors, refused logins and bad configuration never are."""
    if isinstance(exc, SnowflakeError):
        return exc.transient
    from snowflake.connector import errors

    unavailable = (
        errors.ServiceUnavailableError,
        errors.BadGatewayError,
        errors.GatewayTimeoutError,
        errors.TooManyRequests,
    )
    if isinstance(exc, unavailable):
        return True
    if isinstance(exc, errors.OperationalError):
        return exc.errno in TRANSIENT_ERRNOS
    return isinstance(exc, ConnectionError | TimeoutError)
