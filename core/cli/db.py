"""``plait db``: migrate or reset the run store."""

from __future__ import annotations

from typing import Annotated

import typer

from plait.cli.render import console

app = typer.Typer(help="Manage the run store's database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Apply any schema migrations the database does not have yet."""
    from plait.backend import get_backend

    backend = get_backend()
    before, after = backend.upgrade()
    if before == after:
        console.print(f"{backend.describe()} is up to date (revision {before}).")
    else:
        console.print(f"Upgraded {backend.describe()} from {before or 'empty'} to {after}.")


@app.command("reset")
def reset(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete every recorded run and saved block, and recreate the schema."""
    from plait.backend import get_backend

    backend = get_backend()
    if not yes:
        typer.confirm(
            f"This deletes every recorded run and saved block in {backend.describe()}. Continue?",
            abort=True,
        )
    revision = backend.reset()
    console.print(f"Reset {backend.describe()} (revision {revision}).")


@app.command("replay")
def replay() -> None:
    """Save the runs kept in the spool ($PLAIT_HOME/spool) because the store could not be
    reached when they ran (the next process that records runs does it too)."""
    from plait.backend import get_backend

    backend = get_backend()
    replayed = backend.replay_spool()
    console.print(
        f"Saved {replayed.events} events from {replayed.segments} spool segments into "
        f"{backend.describe()}."
    )
    if replayed.left:
        console.print(
            f"{replayed.left} segments are left: processes still running hold them, or they are "
            "for another store (run this with that store's PLAIT_DATABASE_URL)."
        )
