"""``plait_test_harness()``: runs in a test go to a run store of their own, as Prefect's
``prefect_test_harness``."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from plait import journal
from plait.backend import close_backends, get_backend

_CLEARED = ("PLAIT_DATABASE_URL", "PLAIT_API_URL", "PLAIT_API_KEY", "PLAIT_ENCRYPTION_KEY")


@contextmanager
def plait_test_harness() -> Iterator[Path]:
    """For the block, a temporary ``PLAIT_HOME`` with its own embedded run store (server,
    PostgreSQL and key settings set aside): flows run, cache, save blocks and read back as
    usual, without touching the real store. Yields the home; on leaving, what was recorded
    is written, the store closed and deleted, and the settings put back. Wrap a pytest
    session in it from a fixture (docs/concepts.md, "Testing flows")."""
    saved = {name: os.environ.get(name) for name in ("PLAIT_HOME", *_CLEARED)}
    with tempfile.TemporaryDirectory(prefix="plait-test-") as home:
        os.environ["PLAIT_HOME"] = home
        for name in _CLEARED:
            os.environ.pop(name, None)
        recorder = get_backend().open_recorder()
        previous = journal.set_recorder(recorder)
        try:
            yield Path(home)
        finally:
            journal.set_recorder(previous)
            recorder.close()
            close_backends()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
