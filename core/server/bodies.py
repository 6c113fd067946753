"""What every request body is built from. ``Body`` refuses unknown fields and values of
the wrong JSON type (no "5" for 5, no "yes" for true): what the schema refuses, the server
refuses. ``Storable`` and ``Text`` are values the store can hold: a JSON schema says a string
is a string, but the store also refuses a NUL character or a lone surrogate, and whole
numbers past 64 bits; a body that keeps free-form JSON (block fields, cached result
references) checks it with these, so such a value answers 422 naming its field instead of
failing in the store."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict


class Body(BaseModel):
    """A request body: strict, and closed to unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True)


def storable(value: Any) -> Any:
    """``value`` if every string and number in it fits the store: no NUL character or lone
    surrogate, whole numbers within 64 bits."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("holds a NUL character, which cannot be stored")
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ValueError("holds a lone surrogate, which is not UTF-8") from None
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise ValueError(f"holds {value}, outside the 64-bit whole numbers that can be stored")
    elif isinstance(value, dict):
        for key, item in value.items():
            storable(key)
            storable(item)
    elif isinstance(value, list):
        for item in value:
            storable(item)
    return value


Storable = Annotated[Any, AfterValidator(storable)]
"""Any JSON value the store can hold."""
Text = Annotated[str, AfterValidator(storable)]
"""A string the store can hold."""


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI's ``requestBody`` of ``model``, for a route that reads and checks its body
    itself (``openapi_extra``); the model's own definitions are written in place, as the
    document's ``components`` do not hold them."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inlined(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inlined(definitions[node["$ref"].rsplit("/", 1)[1]])
            return {key: inlined(value) for key, value in node.items()}
        return [inlined(item) for item in node] if isinstance(node, list) else node

    return {"required": True, "content": {"application/json": {"schema": inlined(schema)}}}
