"""The ``plait`` command line: one module per command group, and the commands plugins add
through the ``plait_cli`` hook (``plait block`` comes from Plait's own standard blocks)."""

from __future__ import annotations

import platform
from typing import Any, NoReturn

import typer
from rich.text import Text
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer's own click
from typer.core import TyperGroup

import plait
from plait.cli import (
    artifacts,
    concurrency_limits,
    config,
    db,
    deployments,
    flow_runs,
    plugins,
    server,
    task_runs,
    variables,
)
from plait.cli.render import console, err_console
from plait.exceptions import PlaitError
from plait.plugins import get_plugins


class _PlaitGroup(TyperGroup):
    """Shows Plait's own errors (bad ids, bad settings, an unreachable store) and usage
    errors (an unknown option, a bad value) as one line on stderr and exit code 1, not a
    traceback nor click's boxed help."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PlaitError as exc:
            _fail(str(exc))
        except NoArgsIsHelpError:
            raise  # a group given no command: its help, as for plait alone
        except UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else "plait"
            _fail(f"{exc.format_message().rstrip('.')}. See: {command} --help")


def _fail(message: str) -> NoReturn:
    """Print ``message`` as one error line and exit with 1."""
    line = " ".join(message.split())
    err_console.print(Text.assemble(("Error: ", "red"), line), soft_wrap=True)
    raise typer.Exit(1) from None


app = typer.Typer(
    cls=_PlaitGroup,
    help="Plait: workflow orchestration for plain Python functions.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(flow_runs.app, name="flow-run")
app.add_typer(task_runs.app, name="task-run")
app.add_typer(db.app, name="db")
app.add_typer(config.app, name="config")
app.add_typer(plugins.app, name="plugins")
app.add_typer(server.app, name="server")
app.add_typer(concurrency_limits.app, name="concurrency-limit")
app.add_typer(deployments.app, name="deployment")
app.add_typer(artifacts.app, name="artifact")
app.add_typer(variables.app, name="variable")


@app.callback()
def main() -> None:
    """Plait's command line. Run a command with --help for its options."""


@app.command()
def version() -> None:
    """Print Plait's and Python's versions."""
    console.print(f"plait {plait.__version__} (Python {platform.python_version()})")


get_plugins().call("plait_cli", app=app)  # a plugin whose hook raises is reported and skipped
