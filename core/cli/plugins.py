"""``plait plugins``: the installed plugins and what each one provides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from plait.cli.render import Output, OutputOption, console, listing, print_json, print_table
from plait.plugins import Plugin, Plugins, get_plugins

app = typer.Typer(help="Installed plugins and what they provide.", no_args_is_help=True)


def _slug(block_type: Any) -> str:
    slug = getattr(block_type, "get_block_type_slug", None)
    return slug() if callable(slug) else repr(block_type)


def _task_name(task: Any) -> str:
    return str(getattr(task, "name", task))


# column -> the hook that fills it, and how to name each thing the hook returns
_PROVIDED: dict[str, tuple[str, Callable[[Any], str]]] = {
    "Block types": ("plait_block_types", _slug),
    "Tasks": ("plait_tasks", _task_name),
    "Result storage": ("plait_result_storage", str),
    "Task runners": ("plait_task_runners", str),
}


def _provided(plugins: Plugins, hook: str, name_of: Callable[[Any], str]) -> dict[str, list[str]]:
    """What each plugin's ``hook`` returns (a list, or a mapping's keys), by plugin name."""
    return {plugin.name: [name_of(item) for item in value] for plugin, value in plugins.call(hook)}


def _status(plugin: Plugin) -> Text:
    if plugin.error:
        return Text(f"failed to load: {plugin.error}", style="red")
    if plugin.failed_hooks:
        return Text(f"failed in {listing(sorted(plugin.failed_hooks))}", style="yellow")
    return Text("ok", style="green")


@app.command("ls")
def list_plugins(output: OutputOption = Output.TABLE) -> None:
    """Each installed plugin: its distribution and version, the block types, prebuilt tasks,
    result storage schemes and task runners it provides, and any error it raised."""
    plugins = get_plugins()
    provided = {column: _provided(plugins, *hook) for column, hook in _PROVIDED.items()}
    if output is Output.JSON:
        print_json({"plugins": [_plugin_json(plugin, provided) for plugin in plugins.plugins]})
        return
    if not plugins.plugins:
        console.print("No plugins installed.")
        return
    table = Table("Plugin", "Distribution", "Version", *provided, "Status", box=None)
    for plugin in plugins.plugins:
        table.add_row(
            plugin.name,
            plugin.distribution or "-",
            plugin.version or "-",
            *(Text(listing(by_plugin.get(plugin.name, []))) for by_plugin in provided.values()),
            _status(plugin),
        )
    print_table(table, whole=("Plugin",))


def _plugin_json(plugin: Plugin, provided: dict[str, dict[str, list[str]]]) -> dict[str, Any]:
    """A plugin for ``--output json``: each column of the table as a field."""
    return {
        "name": plugin.name,
        "distribution": plugin.distribution,
        "version": plugin.version,
        **{
            column.lower().replace(" ", "_"): by_plugin.get(plugin.name, [])
            for column, by_plugin in provided.items()
        },
        "error": plugin.error,
        "failed_hooks": sorted(plugin.failed_hooks),
    }
