"""``plait db``: migrate or reset the run store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from plait.cli.render import console
from plait.settings import load_settings

if TYPE_CHECKING:
    from plait.store.database import Database

app = typer.Typer(help="Manage the run store's database.", no_args_is_help=True)


def _database() -> Database:
    from plait.store.database import Database

    return Database(load_settings().resolved_database_url())


@app.command("upgrade")
def upgrade() -> None:
    """Apply any schema migrations the database does not have yet."""
    from plait.store.database import head_revision

    database = _database()
    before = database.current_revision()
    database.upgrade()
    if before == head_revision():
        console.print(f"{database.describe()} is up to date (revision {before}).")
    else:
        console.print(
            f"Upgraded {database.describe()} from {before or 'empty'} to {head_revision()}."
        )


@app.command("reset")
def reset(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete every recorded run and saved block, and recreate the schema."""
    from plait.store.database import head_revision

    database = _database()
    if not yes:
        typer.confirm(
            f"This deletes every recorded run and saved block in {database.describe()}. Continue?",
            abort=True,
        )
    database.reset()
    console.print(f"Reset {database.describe()} (revision {head_revision()}).")
