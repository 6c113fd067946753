"""Variables in the run store (``plait.backend.variables``)."""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from plait.backend.variables import (
    VariableRecord,
    Variables,
    checked_variable_name,
    checked_variable_value,
)
from plait.exceptions import VariableExistsError, VariableNotFoundError
from plait.store.database import Database
from plait.store.schema import VariableRow

variables = VariableRow.__table__


def _record(row: Any) -> VariableRecord:
    return VariableRecord(row.name, row.value, tuple(row.tags), row.created, row.updated)


class SqlVariables(Variables):
    def __init__(self, database: Database) -> None:
        self.database = database

    def set(
        self, name: str, value: Any, tags: tuple[str, ...] = (), overwrite: bool = False
    ) -> VariableRecord:
        checked_variable_value(checked_variable_name(name), value)
        now = datetime.now(UTC)
        with self.database.writing() as connection:
            row = connection.execute(
                sa.select(variables).where(variables.c.name == name).with_for_update()
            ).first()
            if row is None:
                connection.execute(
                    variables.insert().values(
                        name=name, value=value, tags=list(tags), created=now, updated=now
                    )
                )
                return VariableRecord(name, value, tuple(tags), now, now)
            if not overwrite:
                raise VariableExistsError(
                    f"Variable {name!r} exists already; pass overwrite=True (--overwrite) to "
                    "replace its value."
                )
            connection.execute(
                variables.update()
                .where(variables.c.name == name)
                .values(value=value, tags=list(tags), updated=now)
            )
            return VariableRecord(name, value, tuple(tags), row.created, now)

    def get(self, name: str) -> VariableRecord | None:
        checked_variable_name(name)
        with self.database.reading() as connection:
            row = connection.execute(sa.select(variables).where(variables.c.name == name)).first()
        return None if row is None else _record(row)

    def list(self) -> builtins.list[VariableRecord]:
        with self.database.reading() as connection:
            rows = connection.execute(sa.select(variables).order_by(variables.c.name)).all()
        return [_record(row) for row in rows]

    def delete(self, name: str) -> None:
        checked_variable_name(name)
        with self.database.writing() as connection:
            deleted = connection.execute(variables.delete().where(variables.c.name == name))
        if deleted.rowcount == 0:
            raise VariableNotFoundError(f"No variable is named {name!r} (see: plait variable ls).")
