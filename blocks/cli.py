"""The ``plait block`` commands (registered by ``plait.blocks.plugin``)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Saved blocks: credentials, storage and notifications.", no_args_is_help=True
)
