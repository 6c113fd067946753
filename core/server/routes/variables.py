"""Variables: JSON values saved under a name (``plait.backend.variables``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import Field, JsonValue

from plait.backend.variables import NAME_PATTERN, VariableRecord, Variables
from plait.exceptions import VariableNotFoundError
from plait.server.auth import WRITERS
from plait.server.bodies import Body, Text

router = APIRouter(prefix="/variables", tags=["variables"])
VariableName = Annotated[
    str, Path(pattern=NAME_PATTERN.pattern, description="The variable's name, e.g. schema")
]


class NewValue(Body):
    value: JsonValue = Field(description="Any JSON value")
    tags: list[Annotated[Text, Field(min_length=1, max_length=255)]] = Field(
        default_factory=list, max_length=100
    )
    overwrite: bool = Field(False, description="Replace a variable that exists already")


def _variables(request: Request) -> Variables:
    return request.app.state.backend.variables()


@router.get("")
def list_variables(request: Request) -> list[VariableRecord]:
    """Every variable, by name."""
    return _variables(request).list()


@router.get("/{name}")
def read_variable(request: Request, name: VariableName) -> VariableRecord:
    """The variable (404 if there is none of that name)."""
    record = _variables(request).get(name)
    if record is None:
        raise VariableNotFoundError(f"No variable is named {name!r} (see: plait variable ls).")
    return record


@router.put("/{name}", dependencies=WRITERS)
def set_variable(request: Request, name: VariableName, body: NewValue) -> VariableRecord:
    """Save the value (an existing variable only with ``overwrite``: else 409)."""
    value: Any = body.value
    return _variables(request).set(name, value, tuple(body.tags), body.overwrite)


@router.delete("/{name}", dependencies=WRITERS, status_code=204)
def delete_variable(request: Request, name: VariableName) -> Response:
    """Delete the variable."""
    _variables(request).delete(name)
    return Response(status_code=204)
