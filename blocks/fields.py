"""Secret field types, and how their values are told apart from plain ones when a block is
saved (secrets are encrypted, everything else is stored as JSON)."""

from __future__ import annotations

import base64
from typing import Any

from pydantic import Secret, SecretBytes, SecretStr

MASK = "**********"


class SecretDict(Secret[dict[str, Any]]):
    """A dict whose values are secret (HTTP headers with tokens, connection options): shown
    as ``**********`` in reprs, dumps and the CLI, encrypted when saved. Read it with
    ``.get_secret_value()``."""

    def _display(self) -> str:
        return MASK


SECRET_TYPES = (SecretStr, SecretBytes, Secret)


def reveal(value: Any) -> dict[str, Any]:
    """A secret's value in a JSON-safe, tagged form (bytes as base64), for encryption."""
    plain = value.get_secret_value()
    if isinstance(plain, bytes):
        return {"bytes": base64.b64encode(plain).decode("ascii")}
    return {"value": plain}


def conceal(tagged: dict[str, Any]) -> Any:
    """The input that validates back into the secret ``reveal`` tagged."""
    if "bytes" in tagged:
        return base64.b64decode(tagged["bytes"])
    return tagged["value"]
