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
from pathlib import Path

from plait.journal.events import Event

_lock = threading.Lock()


def event_to_json(event: Event) -> str:
    """One event as a JSON line: its type and its fields (timestamps as ISO 8601)."""
    fields = dataclasses.asdict(event)
    return json.dumps({"event": type(event).__name__, **fields}, default=str, sort_keys=True)


class Spool:
    """One spool directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def rejected(self) -> Path:
        return self.directory / "rejected.jsonl"

    def set_aside(self, event: Event, reason: str) -> Path:
        """Append ``event`` (with why it was set aside) to ``rejected.jsonl``; returns it."""
        line = json.dumps({"reason": reason, "record": json.loads(event_to_json(event))})
        with _lock:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            descriptor = os.open(self.rejected, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(descriptor, "a", encoding="utf-8") as file:
                file.write(line + "\n")
        return self.rejected
