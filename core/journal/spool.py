"""The spool: events kept on disk, under ``$PLAIT_HOME/spool/``, while they cannot be saved
where they were going, so that nothing recorded is lost to a store that is down or behind.

- **Segments** (``events-*.jsonl``): a writer that cannot keep up (its in-memory queue is
  full) or cannot reach its store appends the journal's events to a segment, one JSON
  object a line after a header line naming the segment, the store it is for and the process
  that wrote it. The writer holds an exclusive ``flock`` on each segment it has open, so
  no other process replays a segment that is still being written; the lock goes with the
  process, so a dead writer's segments can be claimed at once. Segment names sort in the
  order their events were recorded.
- **Rejected events** (``rejected.jsonl``): events a store refused even in their reduced
  form, set aside so they never block the events behind them.

Files are created readable by their owner only: events carry log lines and parameters.
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import json
import logging
import operator
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from plait.journal.events import EVENT_TYPES, Event

if TYPE_CHECKING:
    from pydantic_core import CoreSchema, SchemaSerializer

logger = logging.getLogger("plait.journal")

_lock = threading.Lock()
_TUPLE_FIELDS = ("upstream", "tags", "on_crashed")


def event_fields(event: Event) -> dict[str, Any]:
    """An event as data for JSON: its fields and, under ``event``, its kind."""
    return _encoders()[0].to_python(event, mode="json", by_alias=True, fallback=_plain)


def event_from_fields(fields: dict[str, Any]) -> Event:
    """The event ``event_fields`` made ``fields`` from (after a JSON round trip)."""
    fields = dict(fields)
    cls = EVENT_TYPES[fields.pop("event")]
    fields["timestamp"] = datetime.fromisoformat(fields["timestamp"])
    for name in _TUPLE_FIELDS:
        if name in fields:
            fields[name] = tuple(fields[name])
    return cls(**fields)


def _plain(value: Any) -> str:
    """What JSON cannot hold: timestamps as ISO 8601, anything else as its text."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def dumps(data: Any) -> str:
    """``data``, which may hold events, as compact JSON (``event_fields``' form), by
    pydantic-core: in Rust, and without building dicts first, a batch of thousands of events
    is encoded twice as fast as from ``event_fields`` and six times as fast as by ``json``."""
    return (
        _encoders()[1].to_json(data, by_alias=True, exclude_defaults=True, fallback=_plain).decode()
    )


@functools.cache
def _encoders() -> tuple[SchemaSerializer, SchemaSerializer]:
    """Serializers of one event, and of any data holding events (imported on first use, so
    ``import plait`` stays light)."""
    from pydantic_core import SchemaSerializer
    from pydantic_core import core_schema as cs

    kind_name = cs.plain_serializer_function_ser_schema(operator.attrgetter("__name__"))
    kind = cs.computed_field("__class__", cs.any_schema(serialization=kind_name), alias="event")

    def event_schema(cls: type) -> CoreSchema:
        fields = [
            cs.dataclass_field(field.name, _defaulted(field)) for field in dataclasses.fields(cls)
        ]
        names = [field["name"] for field in fields]
        arguments = cs.dataclass_args_schema(cls.__name__, fields, computed_fields=[kind])
        return cs.dataclass_schema(cls, arguments, names, slots=True)

    event = cs.union_schema([event_schema(cls) for cls in EVENT_TYPES.values()])
    data = cs.definitions_schema(
        cs.definition_reference_schema("data"),
        [cs.union_schema([
            event,
            cs.list_schema(cs.definition_reference_schema("data")),
            cs.dict_schema(cs.any_schema(), cs.definition_reference_schema("data")),
            cs.any_schema(),
        ], ref="data")],
    )  # fmt: skip
    return SchemaSerializer(event), SchemaSerializer(data)


def _defaulted(field: dataclasses.Field) -> CoreSchema:
    """A field's serializer schema, knowing its default (which ``dumps`` leaves out)."""
    from pydantic_core import core_schema as cs

    if field.default is dataclasses.MISSING:
        return cs.any_schema()
    return cs.with_default_schema(cs.any_schema(), default=field.default)


def _line(data: Any) -> str:
    return dumps(data) + "\n"


def _open_private(path: Path, flags: int) -> int:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return os.open(path, flags, 0o600)


@dataclass
class Replayed:
    """What a replay saved from the spool, and how many segments it left there (held by
    running processes, or bound for another store)."""

    segments: int = 0
    events: int = 0
    left: int = 0

    def add(self, events: int) -> None:
        self.events += events


class Segment:
    """One segment file, locked by this process while the object is open."""

    def __init__(self, path: Path, file: IO[str], header: dict[str, Any]) -> None:
        self.path = path
        self.header = header
        self.count = 0  # events appended through this object
        self._file = file

    @property
    def id(self) -> str:
        return self.header["segment"]

    def append(self, events: list[Event]) -> None:
        self._file.write("".join(map(_line, events)))
        self.count += len(events)

    def flush(self) -> None:
        """Hand what was appended to the operating system: it survives this process."""
        self._file.flush()

    def events(self, batch_size: int) -> Iterator[list[Event]]:
        """The segment's events in batches, from the start of the file. A last line cut
        short (the writer was killed mid-line) is skipped with a warning."""
        self.flush()
        with open(self.path, encoding="utf-8") as file:
            file.readline()  # the header
            batch: list[Event] = []
            for line in file:
                if not line.endswith("\n"):
                    logger.warning("Skipped a cut-short last line of %s.", self.path)
                    break
                batch.append(event_from_fields(json.loads(line)))
                if len(batch) == batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch

    def close(self) -> None:
        """Flush and let go of the lock, keeping the file for a later replay."""
        self._file.close()

    def discard(self) -> None:
        """Delete the file (its events are saved), then let go of the lock."""
        self.path.unlink(missing_ok=True)
        self._file.close()


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
            descriptor = _open_private(self.rejected, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            with os.fdopen(descriptor, "a", encoding="utf-8") as file:
                file.write(line + "\n")
        return self.rejected

    def open_segment(
        self,
        store: str,
        process: dict[str, Any],
        episode: int,
        part: int,
        segment_id: str | None = None,
    ) -> Segment:
        """A new, locked segment for events bound for ``store`` (a digest of where they
        go), named ``segment_id`` (default: a new id). Segments of one ``episode`` (a start
        time in ns) sort by ``part``."""
        header = {"segment": segment_id or str(uuid.uuid4()), "store": store, "process": process}
        name = f"events-{episode:020d}-{process['pid']:010d}-{part:06d}.jsonl"
        path = self.directory / name
        descriptor = _open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND)
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        file = os.fdopen(descriptor, "a", encoding="utf-8")
        file.write(_line(header))
        file.flush()
        return Segment(path, file, header)

    def segment_count(self) -> int:
        """How many segments are waiting (being written, or left for a replay)."""
        return len(list(self.directory.glob("events-*.jsonl")))

    def claim_segments(self, store: str) -> Iterator[Segment]:
        """The segments for ``store`` that no live process holds, oldest first, each locked
        while the caller replays it (the caller discards it once saved, else closes it)."""
        for path in sorted(self.directory.glob("events-*.jsonl")):
            segment = _claim(path)
            if segment is None:
                continue
            if segment.header.get("store") != store:
                segment.close()
                continue
            yield segment

    @contextmanager
    def replaying(self) -> Iterator[bool]:
        """Hold the spool's replay lock if no other process does: yields whether it is
        held. One replayer at a time keeps segments of one process in order."""
        if not self.directory.is_dir():
            yield False
            return
        descriptor = _open_private(self.directory / "replay.lock", os.O_WRONLY | os.O_CREAT)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(descriptor)


def _claim(path: Path) -> Segment | None:
    """``path`` as a locked segment, or None if a live process holds it, another replayer
    already deleted it, or its header was never written."""
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_APPEND)
    except FileNotFoundError:
        return None
    file = os.fdopen(descriptor, "a", encoding="utf-8")
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(descriptor).st_ino != os.stat(path).st_ino:
            raise FileNotFoundError(path)
        with open(path, encoding="utf-8") as reader:
            first = reader.readline()
        if not first.endswith("\n"):  # killed before its header was written: no events
            path.unlink()
            raise FileNotFoundError(path)
        header = json.loads(first)
    except (BlockingIOError, FileNotFoundError):
        file.close()
        return None
    return Segment(path, file, header)


def new_episode() -> int:
    """A start time for a run of segments, that sorts after every earlier one."""
    return time.time_ns()
