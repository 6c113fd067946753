"""Values made storable before they reach the database, so that one odd value never stops
the writer: SQLite keeps almost anything, PostgreSQL refuses a NUL byte in text and a name
longer than its column.

- NUL bytes become ``␀`` (visible, where they were).
- Text longer than its column, or than ``TEXT_LIMIT`` for unbounded text, is cut, ending
  with a marker that says how much was cut.
- ``reduced`` is an event with only what any database accepts, for the rare event the
  database rejects even so (the writer isolates it by splitting its batch).
"""

from __future__ import annotations

import dataclasses

from plait.journal import Event, RunCreated, StateChanged
from plait.runs import ArtifactRecord, LogRecord

NUL_MARK = "\u2400"  # ␀
NAME_LIMIT = 255  # flow and task names, run names, loggers, hostnames (String(255) columns)
ENTRYPOINT_LIMIT = 1000
TEXT_LIMIT = 1_000_000  # a state message, a traceback, a log line
MARKER_ROOM = 40  # the longest cut marker, "… [1000000000 more characters cut]", fits


def storable(text: str, limit: int) -> str:
    """``text`` without NUL bytes and at most ``limit`` characters."""
    if "\x00" in text:
        text = text.replace("\x00", NUL_MARK)
    if len(text) > limit:
        kept = limit - MARKER_ROOM
        text = f"{text[:kept]}… [{len(text) - kept} more characters cut]"
    return text


def storable_or_none(text: str | None, limit: int) -> str | None:
    return None if text is None else storable(text, limit)


def reduced(event: Event, reason: str) -> Event:
    """``event`` reduced to what any database accepts: short, clean text, no parameters or
    result reference, and the reason it was reduced in its message."""
    note = storable(f"(not storable as recorded: {reason})", 500)
    if isinstance(event, RunCreated):
        return dataclasses.replace(
            event,
            name=storable(event.name, 100),
            key=storable(event.key, 100),
            tags=(),
            upstream=(),
            parameters={"$not_storable": note},
            entrypoint=None,
            parameters_ref=None,
            on_crashed=(),
        )
    if isinstance(event, StateChanged):
        return dataclasses.replace(event, message=note, detail=None, result=None)
    if isinstance(event, LogRecord):
        return dataclasses.replace(event, logger=storable(event.logger, 100), message=note)
    if isinstance(event, ArtifactRecord):
        data = {"$not_storable": note}
        return dataclasses.replace(event, key=storable(event.key, 100), data=data, description=None)
    return event
