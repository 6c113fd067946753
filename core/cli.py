"""The ``plait`` command line."""

from __future__ import annotations

import platform

import typer
from rich.console import Console

import plait

app = typer.Typer(
    help="Plait: workflow orchestration for plain Python functions.", no_args_is_help=True
)
console = Console()


@app.callback()
def main() -> None:
    """Plait's command line. Run a command with --help for its options."""


@app.command()
def version() -> None:
    """Print Plait's and Python's versions."""
    console.print(
        f"plait {plait.__version__} (Python {platform.python_version()})", highlight=False
    )
