"""The spool: events kept on disk, under ``$PLAIT_HOME/spool/``, when they cannot be saved
where they were going. Today it holds the events a run store rejected even in their reduced
form (``rejected.jsonl``), one JSON object a line, so nothing recorded is silently dropped;
the server issue's shipper queues undeliverable batches here and replays them.

Files are created readable by their owner only: events carry log lines and parameters.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from plait.journal.events import Event

_lock = threading.Lock()


def event_fields(event: Event) -> dict[str, Any]:
    """An event as data for JSON: its type and its fields (write it with ``default=_plain``)."""
    return {"event": type(event).__name__, **dataclasses.asdict(event)}


def _plain(value: Any) -> str:
    """What JSON cannot hold: timestamps as ISO 8601, anything else as its text."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


class Spool:
    """One spool directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def rejected(self) -> Path:
        return self.directory / "rejected.jsonl"

    def set_aside(self, event: Event, reason: str) -> Path:
        """Append ``event`` (with why it was set aside) to ``rejected.jsonl``; returns it."""
        record = {"reason": reason, "record": event_fields(event)}
        line = json.dumps(record, default=_plain, sort_keys=True)
        with _lock:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            descriptor = os.open(self.rejected, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(descriptor, "a", encoding="utf-8") as file:
                file.write(line + "\n")
        return self.rejected
