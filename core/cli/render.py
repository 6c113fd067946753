"""How the CLI shows things: consoles, states, times, durations, lists and labelled values,
tables that never cut an id or a name, JSON for scripts and pages of a listing; and
parsing durations."""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import shlex
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from plait.backend.runs import MAX_PAGE
from plait.exceptions import ParameterError
from plait.states import StateType

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

STATE_STYLES = {
    StateType.SCHEDULED: "cyan",
    StateType.LATE: "yellow",
    StateType.PENDING: "bright_black",
    StateType.RUNNING: "blue",
    StateType.RETRYING: "yellow",
    StateType.CANCELLING: "yellow",
    StateType.COMPLETED: "green",
    StateType.CACHED: "green",
    StateType.FAILED: "red",
    StateType.TIMED_OUT: "red",
    StateType.CRASHED: "magenta",
    StateType.CANCELLED: "bright_black",
    StateType.SKIPPED: "yellow",
}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def state_text(state: StateType | None, name: str | None = None) -> Text:
    """A state in its colour; one given its own ``name`` shows it, then its type."""
    if state is None:
        return Text("-")
    if name is None:
        return Text(state.value, style=STATE_STYLES[state])
    return Text.assemble((name, STATE_STYLES[state]), (f" ({state.value})", "dim"))


def format_time(moment: datetime | None) -> str:
    """A timestamp in the local timezone, to the second."""
    return "-" if moment is None else moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def listing(items: Iterable[str]) -> str:
    """Names joined with commas, or ``-`` when there are none."""
    return ", ".join(items) or "-"


def details(rows: Iterable[tuple[str, str | Text]]) -> Table:
    """Labelled values, one per line: the label in bold, its value beside it."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for label, value in rows:
        table.add_row(label, value)
    return table


class Output(enum.StrEnum):
    """How a command prints what it read."""

    TABLE = "table"
    JSON = "json"


OutputOption = Annotated[
    Output,
    typer.Option(
        "--output", "-o", help="table (for people) or json (for scripts: full ids, ISO 8601 times)."
    ),
]
LimitOption = Annotated[
    int,
    typer.Option(
        "--limit", min=1, max=MAX_PAGE, help="At most this many (one page; --after for the next)."
    ),
]
AfterOption = Annotated[
    str | None,
    typer.Option("--after", metavar="CURSOR", help="The next page: the cursor the last one gave."),
]


def print_table(table: Table, whole: Iterable[str] = ("ID", "Name")) -> None:
    """Print ``table`` with the columns headed ``whole`` never wrapped nor cut, however
    narrow the terminal: the table grows wider instead. When stdout is not a terminal, each
    row is one line of plain text with nothing cut, so ``grep`` finds every id and name."""
    if not console.is_terminal:
        _print_plain(table)
        return
    keep = set(whole)
    for column in table.columns:
        if column.header in keep:
            column.no_wrap = True
            column.min_width = max(map(_cell_width, column.cells), default=0)
    needed = Measurement.get(console, console.options.update_width(10**6), table).minimum
    if needed <= console.width:
        console.print(table)
    else:
        Console(highlight=False, width=needed).print(table)


def _print_plain(table: Table) -> None:
    """``table`` as rich lays out a table without borders, one line per row, at the speed
    of string formatting (rich measures and renders each cell: seconds for 10,000 rows)."""
    columns = [
        (column.justify, [_plain(column.header), *map(_plain, column.cells)])
        for column in table.columns
    ]
    widths = [max(map(cell_len, cells)) for _, cells in columns]
    align = {"right": str.rjust, "center": str.center}
    lines = [] if table.title is None else [_plain(table.title)]
    for row in zip(*(cells for _, cells in columns), strict=True):
        line = "".join(
            f" {align.get(justify, str.ljust)(cell, width + len(cell) - cell_len(cell))} "
            for (justify, _), cell, width in zip(columns, row, widths, strict=True)
        )
        lines.append(line.rstrip())
    sys.stdout.write("\n".join(lines) + "\n")


def _plain(cell: Any) -> str:
    """A cell's text on one line."""
    text = cell.plain if isinstance(cell, Text) else str(cell)
    return " ".join(text.splitlines())


def _cell_width(cell: Any) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(str(cell))


def to_json(value: Any) -> Any:
    """``value`` as JSON data: records as objects of their fields (with ``duration``
    in seconds where they have one), timestamps in ISO 8601, states by name."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {
            field.name: to_json(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
        if hasattr(value, "duration"):
            data["duration"] = value.duration
        return data
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {
            "none" if key is None else str(to_json(key)): to_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return value


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout, never wrapped."""
    sys.stdout.write(json.dumps(to_json(data), indent=2, default=str) + "\n")


def next_page_hint(
    command: str, options: Mapping[str, str | list[str] | None], cursor: str | None
) -> None:
    """On stderr, the command (``command`` with the given ``options``; a list is the option
    repeated) that prints the next page, when there is one."""
    if cursor is not None:
        given = [
            part
            for name, value in options.items()
            if value
            for item in ([value] if isinstance(value, str) else value)
            for part in (name, item)
        ]
        line = shlex.join([*command.split(), *given, "--after", cursor])
        err_console.print(f"More on the next page: {line}", soft_wrap=True)


def state_counts(counts: Mapping[StateType | None, int]) -> Text:
    """Counts by state, e.g. ``Completed 9,990  Failed 10``, the largest first."""
    ordered = sorted(counts.items(), key=lambda item: -item[1])
    parts: list[Text | str] = []
    for state, count in ordered:
        parts += [state_text(state) if state else Text("no state"), f" {count:,}  "]
    if not parts:
        return Text("-")
    text = Text.assemble(*parts)
    text.rstrip()
    return text


def parse_moment(text: str | None, option: str) -> datetime | None:
    """A point in time given as a duration ago (``2h``, ``30d``) or as an ISO 8601 time
    (without a time zone: this machine's)."""
    if text is None:
        return None
    if _DURATION.match(text):
        return datetime.now(UTC) - parse_duration(text, option)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ParameterError(
            f"{option}: expected a duration ago such as 2h or 30d, or a time such as "
            f"2026-12-01T09:00; got {text!r}."
        ) from None
    return moment if moment.utcoffset() is not None else moment.astimezone()


def parse_duration(text: str, option: str) -> timedelta:
    """``30d``, ``12h``, ``45m``, ``90s`` or ``2w`` as a timedelta."""
    match = _DURATION.match(text)
    if match is None:
        raise ParameterError(
            f"{option}: expected a duration such as 30d, 12h, 45m, 90s or 2w; got {text!r}."
        )
    try:
        return timedelta(seconds=float(match[1]) * _UNITS[match[2]])
    except OverflowError:
        raise ParameterError(f"{option}: {text!r} is longer than any date; give less.") from None
