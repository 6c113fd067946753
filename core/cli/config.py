"""``plait config``: the effective settings and where each came from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from plait.cli.render import Output, OutputOption, console, print_json, print_table
from plait.settings import SETTINGS, Settings, load_settings, setting_sources

app = typer.Typer(help="Plait's settings.", no_args_is_help=True)


@app.command("show")
def show(output: OutputOption = Output.TABLE) -> None:
    """Every setting's effective value and its source: environment, config file or default."""
    settings = load_settings()
    sources = setting_sources()
    mode = _mode(settings)
    if output is Output.JSON:
        print_json(
            {
                "mode": mode,
                "settings": {
                    name: {"value": _value(settings, name), "source": sources[name]}
                    for name in SETTINGS
                },
            }
        )
        return
    console.print(f"Mode: {mode}", soft_wrap=True, markup=False)
    table = Table("Setting", "Value", "Source", box=None)
    for name in SETTINGS:
        table.add_row(name, _shown(settings, name), sources[name])
    print_table(table, whole=("Setting", "Value"))


def _mode(settings: Settings) -> str:
    """Which backend is in force: the API server (client mode) or the run store itself."""
    from plait.backend import open_backend

    where = open_backend(settings).describe()
    if settings.api_url is not None:
        return f"client: runs report to, and are read from, {where} (api_url)"
    return f"embedded: runs are recorded straight into the run store at {where}"


def _value(settings: Settings, name: str) -> Any:
    """A setting's value for JSON: as set (a path as a string), the database URL as shown."""
    if name == "database_url":
        return _shown(settings, name)
    value = getattr(settings, name)
    return str(value) if isinstance(value, Path) else value


def _shown(settings: Settings, name: str) -> str:
    """A setting's value for display; the database URL with its password hidden."""
    if name == "database_url":
        from plait.backend import open_store_backend

        shown = open_store_backend(settings).describe()
        return shown if settings.database_url is not None else f"{shown} (from home)"
    value = getattr(settings, name)
    return "-" if value is None else str(value)
