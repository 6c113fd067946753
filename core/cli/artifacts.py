"""``plait artifact``: artifacts by key, across runs (``plait.artifacts``; those of one flow
run are in ``plait flow-run inspect``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from plait.cli.render import (
    LimitOption,
    Output,
    OutputOption,
    console,
    details,
    format_time,
    print_json,
    print_table,
)
from plait.exceptions import ParameterError

if TYPE_CHECKING:
    from rich.markdown import Markdown

    from plait.runs import ArtifactRecord

app = typer.Typer(help="Artifacts: reports, tables, links and progress runs kept.")


@app.command("ls")
def list_artifacts(limit: LimitOption = 100, output: OutputOption = Output.TABLE) -> None:
    """The latest version of each key's artifact, by key."""
    from plait.client import get_client

    artifacts = get_client().read_keyed_artifacts(limit=limit)
    if output is Output.JSON:
        print_json({"artifacts": artifacts})
        return
    print_table(artifacts_table(artifacts), whole=("Key",))


@app.command("inspect")
def inspect_artifact(
    key: Annotated[str, typer.Argument(help="The artifact's key, e.g. daily-report.")],
    limit: LimitOption = 10,
    output: OutputOption = Output.TABLE,
) -> None:
    """An artifact's latest version in full, and its earlier versions."""
    from plait.client import get_client

    versions = get_client().read_keyed_artifacts(key=key, limit=limit)
    if not versions:
        raise ParameterError(f"No artifact has the key {key!r}; see plait artifact ls.")
    if output is Output.JSON:
        print_json({"versions": versions})
        return
    latest = versions[0]
    print_table(
        details(
            [
                ("Key", latest.key),
                ("Type", latest.type),
                ("Description", latest.description or "-"),
                ("Flow run", latest.flow_run_id),
                ("Task run", latest.task_run_id or "-"),
                ("Written", format_time(latest.timestamp)),
            ]
        ),
        whole=(),
    )
    console.print(_rendered(latest))
    if len(versions) > 1:
        console.print(Text(f"Versions ({len(versions):,}, newest first)", style="bold"))
        print_table(artifacts_table(versions), whole=("Key",))


def _held(artifact: ArtifactRecord, kind: str, types: type | tuple[type, ...]) -> Any:
    """What a ``kind`` artifact holds under its own key (``"markdown"`` for a markdown
    one), or None if it is another kind or holds something else (another client's)."""
    value = artifact.data.get(kind) if artifact.type == kind else None
    return value if isinstance(value, types) else None


def summary(artifact: ArtifactRecord) -> str:
    """One line saying what an artifact holds."""
    data = artifact.data
    if artifact.type == "file":
        path = data.get("path", "")
        return f"{data['storage']}: {path}" if data.get("storage") else path
    if (markdown := _held(artifact, "markdown", str)) is not None:
        first = next((line for line in markdown.splitlines() if line.strip()), "")
        return first if len(first) <= 60 else first[:57] + "..."
    if (table := _held(artifact, "table", (list, dict))) is not None:
        rows = len(next(iter(table.values()), [])) if isinstance(table, dict) else len(table)
        return f"{rows:,} rows"
    if (link := _held(artifact, "link", str)) is not None:
        return link
    if (progress := _held(artifact, "progress", (int, float))) is not None:
        return f"{progress:g}%"
    return json.dumps(data)[:60]


def artifacts_table(artifacts: list[ArtifactRecord]) -> Table:
    table = Table("Key", "Type", "Holds", "Written", "Description", box=None)
    for artifact in artifacts:
        table.add_row(
            artifact.key or "-", artifact.type, summary(artifact),
            format_time(artifact.timestamp), artifact.description or "",
        )  # fmt: skip
    return table


def _rendered(artifact: ArtifactRecord) -> Markdown | Table | Text:
    if (markdown := _held(artifact, "markdown", str)) is not None:
        from rich.markdown import Markdown

        return Markdown(markdown)
    if (table := _held(artifact, "table", (list, dict))) is not None:
        return _table(table)
    if (link := _held(artifact, "link", str)) is not None:
        return Text(f"{artifact.data.get('link_text') or link}: {link}")
    return Text(summary(artifact))


def _table(rows: list | dict) -> Table:
    if isinstance(rows, dict):  # columns: as rows
        rows = [dict(zip(rows, row, strict=True)) for row in zip(*rows.values(), strict=False)]
    if rows and all(isinstance(row, dict) for row in rows):
        names = list(dict.fromkeys(name for row in rows for name in row))
        table = Table(*names, box=None)
        for row in rows:
            table.add_row(*(_cell(row.get(name)) for name in names))
        return table
    table = Table(box=None, show_header=False)
    for row in rows:
        table.add_row(*map(_cell, row))
    return table


def _cell(value: object) -> str:
    return "" if value is None else str(value)
