"""The spool: what an event costs when the store is down or behind, and how fast it is saved.

    uv run python bench/spool.py [--tasks N]

Records the journal of one real flow run (``.map`` of a no-op task over ``--tasks``
elements, ~4 events a task run) and hands the same events to three writers, each with a
fresh ``$PLAIT_HOME``, in one run:

- ``queue``: the normal path, into a writable SQLite store (the events only queue in memory;
  the time is ``record`` plus the final flush);
- ``spool``: a writer whose store cannot be opened (a PostgreSQL URL on a port nothing
  listens on), so every event goes to a spool segment on disk (``record`` plus ``close``);
- ``replay``: ``plait db replay``'s path, saving those spooled events into another, fresh
  SQLite store.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plait.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    tasks = parser.parse_args().tasks
    home = Path(tempfile.mkdtemp(prefix="plait-bench-spool-"))
    os.environ["PLAIT_HOME"] = str(home)

    from plait import flow, task
    from plait.journal import MemoryRecorder, set_recorder
    from plait.settings import load_settings
    from plait.store.writer import StoreRecorder

    @task
    def noop(x: int) -> int:
        return x

    @flow
    def fan_out() -> None:
        noop.map(range(tasks)).result()

    memory = MemoryRecorder()
    previous = set_recorder(memory)
    fan_out()
    set_recorder(previous)
    events = memory.events
    settings = load_settings()
    sqlite = settings.resolved_database_url()
    down = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/plait"

    def timed(writer: StoreRecorder, finish: str) -> float:
        start = time.perf_counter()
        for event in events:
            writer.record(event)
        getattr(writer, finish)()
        return time.perf_counter() - start

    queue = timed(StoreRecorder(sqlite, settings), "flush")
    logging.getLogger("plait.store").setLevel(logging.CRITICAL)  # the expected warnings
    spool = timed(StoreRecorder(down, settings), "close")
    spooled = sum(path.stat().st_size for path in (home / "spool").glob("events-*.jsonl"))

    start = time.perf_counter()
    saved = _replay_into_sqlite(home, down, f"sqlite:///{home / 'replayed.db'}", settings)
    replay = time.perf_counter() - start

    n = len(events)
    print(f"# {platform.machine()}, CPython {platform.python_version()}, {os.cpu_count()} CPUs")
    print(f"# {tasks:,} task runs, {n:,} events; spool segment {spooled / n:.0f} bytes/event")
    print("| path | seconds | per event | events/s |")
    print("|---|---:|---:|---:|")
    for name, seconds in (("queue (store up)", queue), ("spool (store down)", spool)):
        print(f"| {name} | {seconds:.3f} | {seconds / n * 1e6:.1f} µs | {n / seconds:,.0f} |")
    print(f"| replay into SQLite | {replay:.3f} | {replay / saved * 1e6:.1f} µs | "
          f"{saved / replay:,.0f} |")  # fmt: skip


def _replay_into_sqlite(home: Path, down: str, sqlite: str, settings: Settings) -> int:
    """Save the segments recorded for ``down`` into a fresh SQLite store: the segments name their
    store, so they are relabelled first (a benchmark's shortcut, not something users do)."""
    from plait.store.database import store_identity
    from plait.store.writer import StoreRecorder

    for path in (home / "spool").glob("events-*.jsonl"):
        header, rest = path.read_text().split("\n", 1)
        fields = json.loads(header)
        assert fields["store"] == store_identity(down)
        fields["store"] = store_identity(sqlite)
        path.write_text(json.dumps(fields) + "\n" + rest)
    writer = StoreRecorder(sqlite, settings)
    saved = writer.replay_spool().events
    writer.close()
    return saved


if __name__ == "__main__":
    sys.exit(main())
