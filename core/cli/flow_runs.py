"""``plait flow-run``: list, inspect, follow and delete recorded flow runs."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import TYPE_CHECKING, Annotated

import typer
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from plait.cli.artifacts import artifacts_table
from plait.cli.render import (
    AfterOption,
    LimitOption,
    Output,
    OutputOption,
    console,
    details,
    format_duration,
    format_time,
    next_page_hint,
    parse_duration,
    parse_moment,
    print_json,
    print_table,
    state_counts,
    state_text,
)
from plait.exceptions import ParameterError
from plait.states import FINAL_TYPES

if TYPE_CHECKING:  # the client loads SQLAlchemy: only commands that read runs import it
    from plait.client import (
        Client,
        FlowRunRecord,
        LogRecord,
        TaskGraphNode,
        TaskRunRecord,
    )

app = typer.Typer(help="List, inspect, follow and delete flow runs.", no_args_is_help=True)

RunId = Annotated[str, typer.Argument(help="A flow run id, or a unique start of one.")]


@app.command("ls")
def list_flow_runs(
    flow: Annotated[str | None, typer.Option("--flow", help="Only runs of this flow.")] = None,
    state: Annotated[
        str | None, typer.Option("--state", help="Only runs in this state, e.g. Failed.")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Only runs with this tag (repeatable).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only runs created since: a time, or a duration ago (2h)."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Only runs created before: a time, or a duration ago (1d)."),
    ] = None,
    limit: LimitOption = 100,
    after: AfterOption = None,
    output: OutputOption = Output.TABLE,
) -> None:
    """Recorded flow runs, newest first, a page at a time."""
    from plait.client import get_client

    start, end = parse_moment(since, "--since"), parse_moment(until, "--until")
    client = get_client()
    page = client.list_flow_runs(flow, state, limit, after, tags=tag or (), since=start, until=end)
    if output is Output.JSON:
        print_json({"flow_runs": page.items, "next_cursor": page.next_cursor})
        return
    if not page.items:
        console.print("No flow runs recorded" + (f" for flow {flow!r}." if flow else "."))
        return
    deployed = any(run.deployment_id for run in page.items)  # then: which, and when due
    columns = ["ID", "Name", "Flow", *(["Deployment", "Scheduled"] if deployed else []), "State",
               "Started", "Duration"]  # fmt: skip
    names = {record.id: record.name for record in client.read_deployments()} if deployed else {}
    table = Table(*columns, box=None)
    for run in page.items:
        deployment = [names.get(run.deployment_id or "", ""), format_time(run.scheduled_time)]
        table.add_row(
            run.id, run.name, run.flow_name, *(deployment if deployed else []),
            state_text(run.state, run.state_name), format_time(run.start_time),
            format_duration(run.duration),
        )  # fmt: skip
    print_table(table, whole=("ID", "Name", "Flow", "Started", "Scheduled"))
    options = {"--flow": flow, "--state": state, "--tag": tag, "--limit": str(limit)}
    options |= {"--since": start and start.isoformat(), "--until": end and end.isoformat()}
    next_page_hint("plait flow-run ls", options, page.next_cursor)


LISTED_TASK_RUNS = 10  # inspect lists this many task runs, the unsuccessful ones first


@app.command("inspect")
def inspect_flow_run(
    flow_run_id: RunId,
    graph: Annotated[
        bool,
        typer.Option("--graph", help="Draw the task graph as a tree, each .map as one line."),
    ] = False,
    output: OutputOption = Output.TABLE,
) -> None:
    """A flow run's parameters, states, task runs (counted by state, the unsuccessful ones
    listed first), artifacts and failure traceback."""
    from plait.client import get_client

    client = get_client()
    run = client.read_flow_run(flow_run_id)
    if graph:
        nodes = client.read_collapsed_task_graph(run.id)
        if output is Output.JSON:
            print_json({"flow_run": run, "nodes": nodes})
        else:
            console.print(_graph_tree(run, nodes))
        return
    summary = client.summarize_task_runs(run.id, limit=LISTED_TASK_RUNS)
    artifacts = client.read_artifacts(run.id)
    more = summary.total - len(summary.listed)
    if output is Output.JSON:
        task_runs = {"total": summary.total, "counts": summary.counts, "listed": summary.listed}
        print_json(
            {"flow_run": run, "task_runs": {**task_runs, "not_listed": more},
             "artifacts": artifacts}
        )  # fmt: skip
        return
    print_table(_summary(run), whole=())
    console.print(_states_table(run))
    if summary.total:
        console.print(Text.assemble(("Task runs ", "bold"), f"({summary.total:,})  ",
                                    state_counts(summary.counts)))  # fmt: skip
        print_table(_task_runs_table(summary.listed), whole=("Name",))
    if more:
        console.print(
            f"{more:,} more task runs: plait task-run ls --flow-run {run.id}", soft_wrap=True
        )
    if artifacts:
        console.print(Text(f"Artifacts ({len(artifacts):,})", style="bold"))
        print_table(artifacts_table(artifacts), whole=("Key", "Holds"))
    failure = run.failure
    if failure is not None and failure.detail:
        console.print(Panel(Text(failure.detail), title="Failure", border_style="red"))


def _summary(run: FlowRunRecord) -> Table:
    state = state_text(run.state, run.state_name)
    message = Text.assemble(state, f"  {run.state_message or ''}".rstrip())
    rows = [
        ("Flow run", f"{run.name}  ({run.id})"),
        ("Flow", run.flow_name),
        ("State", message),
        ("Parameters", json.dumps(run.parameters, indent=2, default=str)),
        ("Tags", ", ".join(run.tags) or "-"),
        ("Created", format_time(run.created)),
        ("Started", format_time(run.start_time)),
        ("Ended", format_time(run.end_time)),
        ("Duration", format_duration(run.duration)),
        ("Attempts", str(run.run_count)),
        ("Process", f"pid {run.pid} on {run.hostname}" if run.pid else "-"),
    ]
    if run.parent_flow_run_id:
        rows.append(("Parent flow run", run.parent_flow_run_id))
    return details(rows)


def _states_table(run: FlowRunRecord) -> Table:
    table = Table("Time", "State", "Message", title="States", title_justify="left", box=None)
    for state in run.states:
        shown = state_text(state.type, state.name)
        table.add_row(format_time(state.timestamp), shown, state.message or "")
    return table


def _task_runs_table(task_runs: list[TaskRunRecord]) -> Table:
    table = Table("Name", "State", "Attempts", "Duration", "Message", box=None)
    for task_run in task_runs:
        table.add_row(
            task_run.name,
            state_text(task_run.state, task_run.state_name),
            str(task_run.run_count),
            format_duration(task_run.duration),
            task_run.state_message or "",
        )
    return table


def _node_label(node: TaskGraphNode, name: str) -> Text:
    if node.mapped:
        return Text.assemble(
            (name, "bold"), f"  .map of {node.total:,}:  ", state_counts(node.counts),
            f"  {format_duration(node.duration)}",
        )  # fmt: skip
    state = next(iter(node.counts), None)
    return Text.assemble(
        (name, "bold"), "  ", state_text(state), f"  {format_duration(node.duration)}"
    )


def _node_names(nodes: list[TaskGraphNode]) -> dict[str, str]:
    """Each node's name to show, numbered in creation order (``square #2``) where several
    nodes share it, as the ``.map`` calls of one task do."""
    shared = Counter(node.name for node in nodes)
    seen: Counter[str] = Counter()
    names = {}
    for node in nodes:
        seen[node.name] += 1
        names[node.id] = f"{node.name} #{seen[node.name]}" if shared[node.name] > 1 else node.name
    return names


def _graph_tree(run: FlowRunRecord, nodes: list[TaskGraphNode]) -> Tree:
    """The task graph as a tree: each node under the nodes it waited on. A node that
    waited on several appears in full under the first, and as a reference under the rest."""
    tree = Tree(Text.assemble((run.name, "bold"), "  ", state_text(run.state, run.state_name)))
    if not nodes:
        tree.add(Text("no task runs", style="dim"))
        return tree
    children: dict[str, list[TaskGraphNode]] = {}
    for node in nodes:
        for upstream in node.upstream:
            children.setdefault(upstream, []).append(node)
    ids = {node.id for node in nodes}
    names = _node_names(nodes)
    roots = [node for node in nodes if not ids.intersection(node.upstream)]
    shown: set[str] = set()
    stack = [(tree, root) for root in reversed(roots)]
    while stack:
        parent, node = stack.pop()
        if node.id in shown:
            parent.add(Text.assemble((names[node.id], "dim"), (" (shown above)", "dim")))
            continue
        shown.add(node.id)
        branch = parent.add(_node_label(node, names[node.id]))
        stack.extend((branch, child) for child in reversed(children.get(node.id, [])))
    return tree


@app.command("logs")
def show_logs(
    flow_run_id: RunId,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until the run ends.")
    ] = False,
) -> None:
    """A flow run's log lines, its task runs' included."""
    from plait.client import get_client

    print_logs(get_client(), flow_run_id, follow)


def print_logs(client: Client, flow_run_id: str, follow: bool) -> FlowRunRecord:
    """Print a flow run's log lines (with ``follow``, new ones too, until it ends); returns
    the run as last read."""
    from plait.settings import load_settings

    run = client.read_flow_run(flow_run_id)
    names = _LogNames(client, run)
    last: int | None = None
    poll = load_settings().writer_interval_seconds
    while True:
        run = client.read_flow_run(run.id)
        lines = client.read_logs(run.id, after=last)
        names.learn(lines)
        for line in lines:
            console.print(names.format(line), soft_wrap=True)
            last = line.id
        if not follow or run.state in FINAL_TYPES:
            return run
        time.sleep(poll)


class _LogNames:
    """Names of the runs that wrote log lines, looked up once per new task run."""

    def __init__(self, client: Client, run: FlowRunRecord) -> None:
        self._client = client
        self._names = {run.id: run.name}

    def learn(self, lines: list[LogRecord]) -> None:
        """Look up the names of the task runs among ``lines`` not seen before."""
        new = {line.task_run_id for line in lines if line.task_run_id} - self._names.keys()
        if new:
            self._names.update(self._client.read_task_run_names(sorted(new)))

    def format(self, line: LogRecord) -> Text:
        run_id = line.task_run_id or line.flow_run_id or ""
        level = _LEVEL_NAMES.get(line.level, str(line.level))
        return Text.assemble(
            (line.timestamp.astimezone().strftime("%H:%M:%S.%f")[:-3], "dim"), " ",
            (f"{level:<8}", _LEVEL_STYLES.get(level, "")), " ",
            (self._names.get(run_id, run_id), "bold"), " | ", line.message,
        )  # fmt: skip


_LEVEL_NAMES = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}
_LEVEL_STYLES = {"WARNING": "yellow", "ERROR": "red", "CRITICAL": "bold red"}


@app.command("retry")
def retry_flow_run(
    flow_run_id: Annotated[str, typer.Argument(help="A flow run id, or a unique prefix of one.")],
) -> None:
    """Run a failed or crashed flow run again, as a new attempt of the same run. Tasks that
    completed with persisted results are not run again. Exits with 1 unless it completes."""
    from plait.engine.retry import retry_flow_run

    state = retry_flow_run(flow_run_id)
    detail = f": {state.message}" if state.message else "."
    console.print(Text.assemble("The new attempt ended ", state_text(state.type), detail))
    if not state.is_completed():
        raise typer.Exit(1)


@app.command("delete")
def delete_flow_runs(
    flow_run_id: Annotated[
        str | None, typer.Argument(help="The flow run to delete (id or unique start).")
    ] = None,
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", help="Delete finished runs older than this, e.g. 30d."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a finished flow run, or every finished run older than --older-than, with
    their task runs, states and logs."""
    if (flow_run_id is None) == (older_than is None):
        raise ParameterError("Give either a flow run id or --older-than (e.g. --older-than 30d).")
    from plait.client import get_client

    client = get_client()
    if flow_run_id is not None:
        run = client.read_flow_run(flow_run_id)
        deleted = client.delete_flow_run(run.id)
        console.print(f"Deleted flow run {run.name!r} ({run.id}) and {deleted - 1} subflow runs.")
        return
    assert older_than is not None
    age = parse_duration(older_than, "--older-than")
    if not yes:
        typer.confirm(
            f"Delete every finished flow run older than {older_than} from {client.describe()}?",
            abort=True,
        )
    deleted = client.delete_flow_runs(older_than=age)
    console.print(f"Deleted {deleted} flow runs older than {older_than}.")
