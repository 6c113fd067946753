"""How the CLI shows things: consoles, states, times, durations, lists and labelled values;
and parsing durations."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from rich.console import Console
from rich.table import Table
from rich.text import Text

from plait.exceptions import ParameterError
from plait.states import StateType

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

STATE_STYLES = {
    StateType.SCHEDULED: "cyan",
    StateType.PENDING: "bright_black",
    StateType.RUNNING: "blue",
    StateType.RETRYING: "yellow",
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


def state_text(state: StateType | None) -> Text:
    if state is None:
        return Text("-")
    return Text(state.value, style=STATE_STYLES[state])


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
