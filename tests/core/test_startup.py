"""Start-up: a script with one flow and one task, run in a fresh process on the embedded store,
loads only what that run uses and still records everything (figures in docs/benchmarks.md)."""

from __future__ import annotations

import json
import subprocess
import sys

from plait.client import get_client
from plait.states import StateType

SCRIPT = """
import json, sys
from plait import flow, task

@task
def add(x):
    return x + 1

@flow
def one():
    return add(1)

assert one() == 2
families = {m.split(".")[0] for m in sys.modules}
print(json.dumps(sorted(families & set(sys.argv[1:]))))
"""
NOT_NEEDED = ("sqlalchemy", "alembic", "pydantic", "pydantic_core", "rich", "cryptography",
              "pluggy", "typer", "cloudpickle")  # fmt: skip


def test_a_one_task_flow_loads_no_store_validation_or_console_library(
    tmp_path, child_env, monkeypatch
):
    """The store is the standard library's sqlite3 (SQLAlchemy and Alembic only when the
    schema must be created), settings need no pydantic unless a setting is given, the console
    needs no rich off a terminal, and a flow without parameters keeps none for retries."""
    home = tmp_path / "home"
    env = {**child_env, "PLAIT_HOME": str(home)}
    env.pop("PLAIT_DATABASE_URL", None)
    script = tmp_path / "one.py"
    script.write_text(SCRIPT)
    runs = []
    for _ in range(2):  # the first creates the store's schema
        done = subprocess.run(
            [sys.executable, str(script), *NOT_NEEDED], env=env, capture_output=True, text=True,
            check=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        runs.append(done)
    assert json.loads(runs[1].stdout) == []
    assert "| Finished in state Completed()" in runs[1].stderr  # plain lines, not rich's
    monkeypatch.setenv("PLAIT_HOME", str(home))
    monkeypatch.delenv("PLAIT_DATABASE_URL", raising=False)
    flow_runs = get_client().read_flow_runs(flow_name="one")
    assert [run.state for run in flow_runs] == [StateType.COMPLETED] * 2
    for run in flow_runs:
        assert run.parameters_ref is None
        [task_run] = get_client().read_task_runs(run.id)
        assert task_run.state is StateType.COMPLETED


def test_a_setting_given_in_the_environment_is_still_checked(tmp_path, child_env):
    """Skipping pydantic is only for the defaults: a given value is validated as ever."""
    env = {**child_env, "PLAIT_HOME": str(tmp_path / "home"), "PLAIT_WRITER_BATCH_SIZE": "0"}
    script = tmp_path / "one.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert "writer_batch_size (from env PLAIT_WRITER_BATCH_SIZE)" in done.stderr
