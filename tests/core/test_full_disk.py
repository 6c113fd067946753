"""A store on a disk that fills up, for real: a small tmpfs holding the SQLite file.

Reading still works (crash marking is skipped with one warning), a flow still runs and
returns its result, the error at exit names the database's reason and how many events were
not saved, those events wait in the spool (``PLAIT_HOME`` is on another disk), and
``plait db replay`` saves them once there is room again.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plait import StateType
from plait.cli import app
from plait.client import get_client
from plait.store.database import close_databases

SCRIPT = """
import sys
from plait import flow, task

@task
def step(i: int) -> int:
    return i

@flow
def on_a_full_disk() -> int:
    return sum(step(i) for i in range(5))

print(on_a_full_disk())
"""


class SmallDisk:
    """A 16 MB tmpfs: ``fill()`` it to the last byte, ``free()`` it again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / "filler"

    def fill(self) -> None:
        descriptor = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for size in (1 << 20, 4096, 1):  # down to the last byte
                try:
                    while os.write(descriptor, b"\0" * size):
                        pass
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
        finally:
            os.close(descriptor)

    def free(self) -> None:
        self.filler.unlink()


@pytest.fixture
def small_disk(tmp_path, recorder, monkeypatch) -> Iterator[SmallDisk]:
    """The run store as a SQLite file on a small disk of its own."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    monkeypatch.setenv("PLAIT_DATABASE_URL", f"sqlite:///{mount_point}/plait.db")
    try:
        yield SmallDisk(mount_point)
    finally:
        close_databases()
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def _run_flow(tmp_path: Path) -> subprocess.CompletedProcess:
    script = tmp_path / "full.py"
    script.write_text(SCRIPT)
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=os.environ, timeout=120
    )


def test_a_full_disk_keeps_reads_working_and_loses_no_run(small_disk, tmp_path):
    assert _run_flow(tmp_path).returncode == 0
    small_disk.fill()

    listing = CliRunner().invoke(app, ["flow-run", "ls"], env={"COLUMNS": "220"})
    assert listing.exit_code == 0, listing.output
    assert "on_a_full_disk" in listing.output

    child = _run_flow(tmp_path)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "10"
    assert re.search(r"\b[1-9]\d* recorded events could not be saved", child.stderr)
    assert "database or disk is full" in child.stderr
    assert "plait db replay" in child.stderr
    assert "Traceback" not in child.stderr

    small_disk.free()
    replay = CliRunner().invoke(app, ["db", "replay"])
    assert replay.exit_code == 0, replay.output
    runs = get_client().read_flow_runs()
    assert [r.state for r in runs] == [StateType.COMPLETED, StateType.COMPLETED]
    assert [len(get_client().read_task_runs(r.id)) for r in runs] == [5, 5]
