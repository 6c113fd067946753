"""Reading the run store's files from a test without breaking the store's connections."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

_READER = (
    "import pickle, sys; "
    "sys.stdout.buffer.write(pickle.dumps({p: open(p, 'rb').read() for p in sys.argv[1:]}))"
)


def read_apart(paths: list[Path]) -> dict[Path, bytes]:
    """The contents of ``paths``, read by a child process. A process that opens and closes
    an SQLite file drops its POSIX locks on it (they are per process), so reading the run
    store's files here lets another process take this one's connections for gone and delete
    the write-ahead log under them: they then read stale rows (SQLite's "How To Corrupt",
    section 2.2)."""
    read = subprocess.run(
        [sys.executable, "-c", _READER, *map(str, paths)], capture_output=True, check=True
    )
    return {Path(path): data for path, data in pickle.loads(read.stdout).items()}
