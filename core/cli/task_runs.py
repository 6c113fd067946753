"""``plait task-run``: list the task runs of a flow run."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from plait.cli.render import console, format_duration, format_time, state_text

app = typer.Typer(help="List task runs.", no_args_is_help=True)


@app.command("ls")
def list_task_runs(
    flow_run: Annotated[
        str, typer.Option("--flow-run", help="The flow run (id or unique start of one).")
    ],
) -> None:
    """A flow run's task runs, in the order they were created."""
    from plait.client import get_client

    task_runs = get_client().read_task_runs(flow_run)
    if not task_runs:
        console.print("This flow run has no task runs.")
        return
    table = Table("ID", "Name", "Task", "State", "Attempts", "Started", "Duration", "Upstream",
                  box=None)  # fmt: skip
    table.columns[0].no_wrap = True
    for task_run in task_runs:
        table.add_row(
            task_run.id,
            task_run.name,
            task_run.task_name,
            state_text(task_run.state),
            str(task_run.run_count),
            format_time(task_run.start_time),
            format_duration(task_run.duration),
            str(len(task_run.upstream)),
        )
    console.print(table)
