"""Variables: small JSON values saved under a name in the run store (or the server), for
flows to read at run time and people to change without a deploy, as Prefect's
``prefect.variables.Variable``: ``Variable.set("warehouse_schema", "analytics")``, then
``Variable.get("warehouse_schema", default="public")`` in a flow. ``plait variable`` lists,
reads, sets and deletes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plait.engine import options as opt

if TYPE_CHECKING:
    from plait.backend.variables import VariableRecord, Variables


def _variables() -> Variables:
    from plait.backend import get_backend

    return get_backend().variables()


@dataclass(frozen=True)
class Variable:
    """A saved variable: its name, its JSON value and its tags."""

    name: str
    value: Any
    tags: tuple[str, ...] = ()

    @classmethod
    def set(
        cls, name: str, value: Any, tags: list[str] | None = None, overwrite: bool = False
    ) -> Variable:
        """Save ``value`` (JSON: text, numbers, booleans, null, lists and dicts) under
        ``name``; a variable that exists already is replaced only with ``overwrite=True``,
        else ``VariableExistsError``."""
        checked_tags = opt.check_tags(tags, f"Variable.set({name!r})")
        return cls._of(_variables().set(name, value, checked_tags, overwrite))

    @classmethod
    def get(cls, name: str, default: Any = None) -> Any:
        """The value saved under ``name``, or ``default`` if there is none."""
        record = _variables().get(name)
        return default if record is None else record.value

    @classmethod
    def unset(cls, name: str) -> bool:
        """Delete the variable; False if there was none of that name."""
        from plait.exceptions import VariableNotFoundError

        try:
            _variables().delete(name)
        except VariableNotFoundError:
            return False
        return True

    @classmethod
    def _of(cls, record: VariableRecord) -> Variable:
        return cls(record.name, record.value, record.tags)


__all__ = ["Variable"]
