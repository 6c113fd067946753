"""Shared fixtures: every test gets its own journal and its own PLAIT_HOME."""

from __future__ import annotations

import pytest

from plait.journal import MemoryRecorder, set_recorder


@pytest.fixture(autouse=True)
def recorder(tmp_path, monkeypatch) -> MemoryRecorder:
    """A fresh in-memory journal, so each test sees only the runs it made."""
    monkeypatch.setenv("PLAIT_HOME", str(tmp_path / "plait-home"))
    fresh = MemoryRecorder()
    previous = set_recorder(fresh)
    yield fresh
    set_recorder(previous)


def _runner_params():
    from plait import ProcessPoolTaskRunner, ThreadPoolTaskRunner

    return [
        pytest.param(lambda: ThreadPoolTaskRunner(max_workers=4), id="threads"),
        pytest.param(lambda: ProcessPoolTaskRunner(max_workers=2), id="processes"),
    ]


@pytest.fixture(params=_runner_params())
def task_runner(request):
    """Each task runner in turn: behaviour tests must hold for every one of them."""
    return request.param()
