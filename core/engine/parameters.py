"""Flow parameters checked and coerced against the flow function's type hints, with pydantic.

``"2024-01-31"`` becomes a ``date`` for ``day: date``, ``"3"`` becomes ``3`` for ``n: int``,
and a value that cannot be coerced fails the flow run before its body runs, with an
error naming each bad parameter. pydantic is imported on the first validation, never at
``import plait``, and not at all for flows without type hints.
"""

from __future__ import annotations

import contextlib
import inspect
import typing
from collections.abc import Callable
from typing import Any

from plait.exceptions import InvalidOptionError, ParameterError

Validator = Callable[[dict[str, Any]], dict[str, Any]]

_SKIPPED_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def build_validator(fn: Callable[..., Any], flow_name: str) -> Validator | None:
    """A function that validates a parameters dict, or None if there are no hints to check."""
    hints = _hints(fn, flow_name)
    checked = [p for p in _parameters(fn) if p.name in hints]
    if not checked:
        return None

    import pydantic

    fields: dict[str, Any] = {}
    for index, parameter in enumerate(checked):
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        # Fields get neutral names with the parameter name as alias: parameters may start
        # with "_" or shadow BaseModel attributes, which pydantic field names may not.
        fields[f"p{index}"] = (hints[parameter.name], pydantic.Field(default, alias=parameter.name))
    try:
        model = pydantic.create_model(
            f"{flow_name}_parameters",
            __config__=pydantic.ConfigDict(arbitrary_types_allowed=True),
            **fields,
        )
    except Exception as exc:
        raise InvalidOptionError(
            f"@flow {flow_name!r}: its parameter type hints cannot be validated by pydantic "
            f"({type(exc).__name__}: {exc}). Pass validate_parameters=False to skip validation."
        ) from None
    aliases = {f"p{index}": parameter.name for index, parameter in enumerate(checked)}

    def validate(parameters: dict[str, Any]) -> dict[str, Any]:
        given = {name: parameters[name] for name in aliases.values() if name in parameters}
        try:
            instance = model.model_validate(given)
        except pydantic.ValidationError as exc:
            raise ParameterError(_describe(flow_name, exc)) from None
        coerced = {aliases[field]: getattr(instance, field) for field in aliases}
        return {**parameters, **coerced}

    return validate


def parameter_schema(fn: Callable[..., Any], flow_name: str) -> dict[str, Any]:
    """The JSON schema of a flow's parameters (what a form for them needs): each one's
    type from its hint (any value for a parameter without one, or with a hint JSON schema
    cannot describe), its default, which are required, and whether others are taken
    (``**kwargs``). The models the hints name are defined once, at the top (``$defs``)."""
    import pydantic
    import pydantic_core
    from pydantic_core import PydanticSerializationError

    hints = _hints(fn, flow_name)
    properties: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
    required: list[str] = []
    for position, parameter in enumerate(_parameters(fn)):
        described: dict[str, Any] = {}
        # A hint JSON schema cannot describe (an arbitrary class) allows any value; a
        # default JSON cannot hold is left out.
        if parameter.name in hints:
            with contextlib.suppress(pydantic.PydanticUserError):
                described = pydantic.TypeAdapter(hints[parameter.name]).json_schema()
        definitions |= described.pop("$defs", {})
        field = {**described, "title": parameter.name, "position": position}
        if parameter.default is inspect.Parameter.empty:
            required.append(parameter.name)
        else:
            with contextlib.suppress(PydanticSerializationError):
                field["default"] = pydantic_core.to_jsonable_python(parameter.default)
        properties[parameter.name] = field
    takes_more = any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(fn).parameters.values()
    )
    schema = {"title": "Parameters", "type": "object", "properties": properties,
              "required": required, "additionalProperties": takes_more}  # fmt: skip
    return schema | ({"$defs": definitions} if definitions else {})


def _parameters(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    return [p for p in inspect.signature(fn).parameters.values() if p.kind not in _SKIPPED_KINDS]


def _hints(fn: Callable[..., Any], flow_name: str) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise InvalidOptionError(
            f"@flow {flow_name!r}: the type hints of its parameters cannot be resolved "
            f"({type(exc).__name__}: {exc}). Fix the hints, or pass validate_parameters=False."
        ) from None


def _describe(flow_name: str, error: Any) -> str:
    lines = [f"Flow {flow_name!r} received invalid parameters:"]
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"])
        got = repr(problem.get("input"))
        got = got if len(got) <= 80 else got[:77] + "..."
        lines.append(f"  - {where}: {problem['msg']} (got {got})")
    return "\n".join(lines)
