"""Variables, as the backend keeps them: JSON values saved under a name (``plait.variables``),
for flows to read at run time and people to change without a deploy."""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from plait.exceptions import ParameterError

NAME_PATTERN = re.compile(r"^[a-z0-9_-]{1,255}$")
MAX_VALUE_BYTES = 100_000  # the JSON of a value


@dataclass(frozen=True)
class VariableRecord:
    name: str
    value: Any  # JSON: text, a number, a boolean, null, a list or a dict
    tags: tuple[str, ...]
    created: datetime
    updated: datetime


def checked_variable_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ParameterError(
            f"Variable name {name!r} is not valid: use 1-255 lowercase letters, digits, _ and "
            "- (e.g. warehouse_schema)."
        )
    return name


def checked_variable_value(name: str, value: Any) -> Any:
    """``value`` if JSON can hold it, within ``MAX_VALUE_BYTES``."""
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"Variable {name!r}: its value must be JSON (text, a number, a boolean, null, or "
            f"lists and dicts of them): {exc}."
        ) from None
    if len(encoded.encode()) > MAX_VALUE_BYTES:
        raise ParameterError(
            f"Variable {name!r}: its value is {len(encoded.encode()):,} bytes of JSON, over "
            f"the {MAX_VALUE_BYTES:,} allowed; keep large data in a block or result storage."
        )
    return value


class Variables(ABC):
    """The saved variables."""

    @abstractmethod
    def set(
        self, name: str, value: Any, tags: tuple[str, ...] = (), overwrite: bool = False
    ) -> VariableRecord:
        """Save ``value`` under ``name``; an existing variable is replaced only with
        ``overwrite``, else ``VariableExistsError``."""

    @abstractmethod
    def get(self, name: str) -> VariableRecord | None:
        """The variable, or None if there is none of that name."""

    @abstractmethod
    def list(self) -> list[VariableRecord]:
        """Every variable, by name."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Delete the variable; an unknown name raises ``VariableNotFoundError``."""
