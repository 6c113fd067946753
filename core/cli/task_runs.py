"""``plait task-run``: list the task runs of a flow run, a page at a time."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from plait.cli.render import (
    AfterOption,
    LimitOption,
    Output,
    OutputOption,
    console,
    format_duration,
    format_time,
    next_page_hint,
    print_json,
    print_table,
    state_text,
)

app = typer.Typer(help="List task runs.", no_args_is_help=True)


@app.command("ls")
def list_task_runs(
    flow_run: Annotated[
        str, typer.Option("--flow-run", help="The flow run (id or unique start of one).")
    ],
    state: Annotated[
        str | None, typer.Option("--state", help="Only task runs in this state, e.g. Failed.")
    ] = None,
    limit: LimitOption = 100,
    after: AfterOption = None,
    output: OutputOption = Output.TABLE,
) -> None:
    """A flow run's task runs, in the order they were created, a page at a time."""
    from plait.client import get_client

    page = get_client().list_task_runs(flow_run, state=state, limit=limit, after=after)
    if output is Output.JSON:
        print_json({"task_runs": page.items, "next_cursor": page.next_cursor})
        return
    if not page.items:
        console.print("No task runs" + (f" in state {state!r}." if state else "."))
        return
    table = Table("ID", "Name", "Task", "State", "Attempts", "Started", "Duration", "Upstream",
                  box=None)  # fmt: skip
    for task_run in page.items:
        table.add_row(
            task_run.id,
            task_run.name,
            task_run.task_name,
            state_text(task_run.state, task_run.state_name),
            str(task_run.run_count),
            format_time(task_run.start_time),
            format_duration(task_run.duration),
            str(len(task_run.upstream)),
        )
    print_table(table, whole=("ID", "Name", "Task", "Started"))
    options = {"--flow-run": flow_run, "--state": state, "--limit": str(limit)}
    next_page_hint("plait task-run ls", options, page.next_cursor)
