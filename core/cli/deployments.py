"""``plait deployment``: the saved deployments, their runs asked for by hand and backfilled,
and pausing their schedules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from plait.cli.render import (
    Output,
    OutputOption,
    console,
    details,
    format_time,
    listing,
    parse_duration,
    parse_moment,
    print_json,
    print_table,
)
from plait.exceptions import ParameterError
from plait.states import StateType

if TYPE_CHECKING:
    from plait.backend.deployments import DeploymentRecord
    from plait.client import Client

app = typer.Typer(
    help="Deployments: flows registered to run on their schedules or on request.",
    no_args_is_help=True,
)
Name = Annotated[str, typer.Argument(help="The deployment's name.")]


def _client() -> Client:
    from plait.client import get_client

    return get_client()


@app.command("ls")
def list_deployments(output: OutputOption = Output.TABLE) -> None:
    """Every deployment, by name, with its flow and schedules."""
    from rich.table import Table

    records = _client().read_deployments()
    if output is Output.JSON:
        print_json({"deployments": records})
        return
    table = Table("Name", "Flow", "Schedules", "Paused", "Updated", box=None)
    for record in records:
        table.add_row(
            record.name, record.flow_name, _schedules(record), "yes" if record.paused else "",
            format_time(record.updated),
        )  # fmt: skip
    print_table(table, whole=("Name", "Flow"))


@app.command("inspect")
def inspect_deployment(name: Name, output: OutputOption = Output.TABLE) -> None:
    """A deployment's flow, parameters, schedules and options."""
    record = _client().read_deployment(name)
    if output is Output.JSON:
        print_json({"deployment": record})
        return
    limit = record.concurrency_limit
    print_table(
        details([
            ("Deployment", f"{record.name}  ({record.id})"),
            ("Flow", f"{record.flow_name}  ({record.entrypoint})"),
            ("Description", record.description or "-"),
            ("Version", record.version or "-"),
            ("Tags", listing(record.tags)),
            ("Parameters", json.dumps(record.parameters, indent=2)),
            ("Schedules", _schedules(record, "\n")),
            ("Paused", "yes" if record.paused else "no"),
            ("Concurrency", f"{limit} at once, then {record.collision}" if limit else "no limit"),
            ("Catch-up", record.catchup),
            ("Created", format_time(record.created)),
            ("Updated", format_time(record.updated)),
        ]),
        whole=(),
    )  # fmt: skip


@app.command("run")
def run_deployment(
    name: Name,
    parameter: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            metavar="NAME=VALUE",
            help="A parameter (repeat -p); VALUE is read as JSON, else as text.",
        ),
    ] = None,
    params: Annotated[
        str | None, typer.Option("--params", metavar="JSON", help="Parameters as a JSON object.")
    ] = None,
    start_in: Annotated[
        str | None, typer.Option("--start-in", help="Due after this long: 10m, 2h, 1d.")
    ] = None,
    start_at: Annotated[
        str | None, typer.Option("--start-at", help="Due at this time (ISO 8601).")
    ] = None,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch", help="Follow the run's logs until it ends; exit 0 only if it Completed."
        ),
    ] = False,
) -> None:
    """Ask for a run of a deployment, now or later: it is created Scheduled, its
    parameters checked first (the deployment's, then --params, then each -p). A serving
    process (or worker) of the deployment runs it."""
    from plait.scheduler import requested_run

    client = _client()
    record = client.read_deployment(name)
    given = {**_json_object(params), **_name_values(parameter or [])}
    run = requested_run(record, given, _due(start_in, start_at))
    client.create_scheduled_runs([run], datetime.now(UTC))
    console.print(
        f"Flow run {run.name!r} ({run.id}) of deployment {record.name!r} is Scheduled for "
        f"{format_time(run.scheduled_time)}."
    )
    if watch:
        from plait.cli.flow_runs import print_logs

        ended = print_logs(client, run.id, follow=True)
        state = ended.state.value if ended.state else "unknown"
        console.print(f"Flow run {run.name!r} ended {state}" + (
            f": {ended.state_message}" if ended.state_message else "."))  # fmt: skip
        if ended.state is not StateType.COMPLETED:
            raise typer.Exit(1)


@app.command("pause")
def pause_deployment(name: Name) -> None:
    """Stop scheduling a deployment: its schedules' runs that have not started are deleted
    (runs asked for with `plait deployment run` stay)."""
    deleted = _client().pause_deployment(name)
    console.print(f"Paused deployment {name!r}; deleted {deleted} scheduled runs not started.")


@app.command("resume")
def resume_deployment(name: Name) -> None:
    """Schedule a paused deployment again: the scheduler's next pass makes its runs."""
    _client().resume_deployment(name)
    console.print(f"Resumed deployment {name!r}.")


@app.command("delete")
def delete_deployment(name: Name) -> None:
    """Delete a deployment and its runs that have not started (finished runs stay)."""
    deleted = _client().delete_deployment(name)
    console.print(f"Deleted deployment {name!r} and {deleted} runs that had not started.")


@app.command("backfill")
def backfill_deployment(
    name: Name,
    start: Annotated[
        str, typer.Option("--from", help="From this time (ISO 8601, or a duration ago: 3d).")
    ],
    end: Annotated[
        str, typer.Option("--to", help="Up to this time, excluded (ISO 8601, or 0s for now).")
    ],
) -> None:
    """Create the runs a deployment's schedules make between two times (past ones run as
    soon as something runs the deployment); runs that exist are not made twice."""
    from plait.scheduler import backfill_runs

    client = _client()
    record = client.read_deployment(name)
    runs = backfill_runs(record, _utc(start, "--from"), _utc(end, "--to"))
    created = client.create_scheduled_runs(runs, datetime.now(UTC))
    console.print(
        f"Backfilled deployment {record.name!r}: {created} runs created, "
        f"{len(runs) - created} existed already."
    )


def _schedules(record: DeploymentRecord, separator: str = ", ") -> str:
    """A deployment's schedules in brief: ``cron 0 2 * * * (Europe/Berlin)``."""
    described = []
    for schedule in record.schedules:
        kind = schedule["kind"]
        what = {"cron": schedule.get("cron"), "rrule": schedule.get("rrule")}.get(kind)
        if kind == "interval":
            what = f"every {schedule['interval_seconds']:g}s"
        off = "" if schedule["active"] else ", inactive"
        described.append(f"{kind} {what} ({schedule['timezone']}{off})")
    return separator.join(described) or "-"


def _name_values(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        name, equals, text = pair.partition("=")
        if not equals or not name:
            raise ParameterError(
                f"-p {pair!r}: give a parameter as NAME=VALUE, e.g. -p day=2026-12-01."
            )
        try:
            values[name] = json.loads(text)
        except ValueError:
            values[name] = text
    return values


def _json_object(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ParameterError(f"--params: not JSON ({exc}); give an object such as "
                             '\'{"day": "2026-12-01"}\'.') from None  # fmt: skip
    if not isinstance(value, dict):
        raise ParameterError(f"--params: give a JSON object of parameters; got {text!r}.")
    return value


def _due(start_in: str | None, start_at: str | None) -> datetime:
    if start_in is not None and start_at is not None:
        raise ParameterError("--start-in and --start-at: give one of them, not both.")
    now = datetime.now(UTC)
    if start_in is not None:
        return now + parse_duration(start_in, "--start-in")
    return now if start_at is None else _utc(start_at, "--start-at")


def _utc(text: str, option: str) -> datetime:
    moment = parse_moment(text, option)
    assert moment is not None, "given text"
    return moment.astimezone(UTC)
