"""``plait concurrency-limit``: limits on how many task runs with a tag (or blocks of code
in ``plait.concurrency``) run at once, across every process and host."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from plait.cli.render import Output, OutputOption, console, format_time, print_json, print_table

if TYPE_CHECKING:
    from plait.backend.limits import ConcurrencyLimits

app = typer.Typer(
    help="Concurrency limits: at most N running task runs with a tag, everywhere.",
    no_args_is_help=True,
)
Name = Annotated[str, typer.Argument(help="The limit's name: the task tag it holds, e.g. db.")]


def _limits() -> ConcurrencyLimits:
    from plait.backend import get_backend

    return get_backend().concurrency_limits()


@app.command("create")
def create_limit(
    name: Name,
    limit: Annotated[int, typer.Argument(help="How many may run at once (0 holds them all).")],
) -> None:
    """Create a limit, or change its number of slots: task runs tagged NAME beyond it wait
    in Pending until a slot is free."""
    record = _limits().set(name, limit)
    console.print(
        f"Concurrency limit {record.name!r}: {record.limit} slots ({record.active} in use)."
    )


@app.command("ls")
def list_limits(output: OutputOption = Output.TABLE) -> None:
    """Every limit, with its slots in use now."""
    from rich.table import Table

    records = _limits().list()
    if output is Output.JSON:
        print_json({"concurrency_limits": records})
        return
    table = Table("Name", "Slots", "In use", "Created", box=None)
    for record in records:
        table.add_row(
            record.name, str(record.limit), str(record.active), format_time(record.created)
        )
    print_table(table, whole=("Name",))


@app.command("delete")
def delete_limit(name: Name) -> None:
    """Delete a limit: what waits on it goes ahead."""
    _limits().delete(name)
    console.print(f"Deleted concurrency limit {name!r}.")
