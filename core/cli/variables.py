"""``plait variable``: JSON values saved under a name, for flows to read (``plait.variables``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from plait.cli.render import Output, OutputOption, console, format_time, print_json, print_table

if TYPE_CHECKING:
    from plait.backend.variables import Variables

app = typer.Typer(help="Variables: JSON values saved under a name, for flows to read.")
Name = Annotated[str, typer.Argument(help="The variable's name, e.g. warehouse_schema.")]


def _variables() -> Variables:
    from plait.backend import get_backend

    return get_backend().variables()


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@app.command("ls")
def list_variables(output: OutputOption = Output.TABLE) -> None:
    """Every variable, by name."""
    from rich.table import Table

    records = _variables().list()
    if output is Output.JSON:
        print_json({"variables": records})
        return
    table = Table("Name", "Value", "Tags", "Updated", box=None)
    for record in records:
        shown = _shown(record.value)
        table.add_row(
            record.name, shown if len(shown) <= 60 else shown[:57] + "...",
            ", ".join(record.tags), format_time(record.updated),
        )  # fmt: skip
    print_table(table, whole=("Name",))


@app.command("get")
def get_variable(name: Name, output: OutputOption = Output.TABLE) -> None:
    """Print a variable's value (text as it is, anything else as JSON)."""
    from plait.exceptions import VariableNotFoundError

    record = _variables().get(name)
    if record is None:
        raise VariableNotFoundError(f"No variable is named {name!r} (see: plait variable ls).")
    if output is Output.JSON:
        print_json({"variable": record})
        return
    console.print(_shown(record.value), markup=False, highlight=False, soft_wrap=True)


@app.command("set")
def set_variable(
    name: Name,
    value: Annotated[
        str, typer.Argument(help='The value: JSON (42, true, ["a"], {"k": 1}), else text.')
    ],
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable).")] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a variable that exists already.")
    ] = False,
) -> None:
    """Save a variable. VALUE is read as JSON when it is JSON, else kept as text."""
    try:
        parsed: Any = json.loads(value)
    except ValueError:
        parsed = value
    record = _variables().set(name, parsed, tuple(tag or ()), overwrite)
    console.print(f"Variable {record.name!r} set.")


@app.command("delete")
def delete_variable(name: Name) -> None:
    """Delete a variable."""
    _variables().delete(name)
    console.print(f"Deleted variable {name!r}.")
