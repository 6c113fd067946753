"""Who may call the server: once an API key has been created, every route but the health
check needs one (``Authorization: Bearer <key>``) whose scope covers the route. With no key, the
server answers everyone, and ``plait server start`` listens on this machine only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from plait.backend.api_keys import ApiKeyRecord, ApiKeys, Scope

_bearer = HTTPBearer(auto_error=False, description="An API key: plait server api-key create")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def require(scope: Scope) -> Callable[..., ApiKeyRecord | None]:
    """A route dependency that lets through a request with a key of ``scope`` or more (or
    any request while no key is in force)."""

    def check(request: Request, credentials: Credentials) -> ApiKeyRecord | None:
        keys: ApiKeys = request.app.state.api_keys
        if not keys.any_created():
            return None
        if credentials is None:
            raise _refused(401, "This server needs an API key: send Authorization: Bearer <key>.")
        key = keys.authenticate(credentials.credentials)
        if key is None:
            raise _refused(401, "The API key is not valid, or it was revoked.")
        if not key.scope.allows(scope):
            raise _refused(
                403, f"The API key {key.name!r} has scope {key.scope}; this needs {scope}."
            )
        return key

    return check


def _refused(status: int, detail: str) -> HTTPException:
    return HTTPException(status, detail, headers={"WWW-Authenticate": "Bearer"})


WRITERS = [Depends(require(Scope.WRITE))]
"""A route's ``dependencies`` when it changes something: a key of write scope or more."""
