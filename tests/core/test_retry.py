"""``plait flow-run retry``: a failed (or crashed) flow run runs again as a new attempt of the
same run, and the tasks that completed with persisted results are not run again.

Flows run as a user runs them: a script (or a module of a package) in a child process, then
the installed ``plait`` command in another. Every scenario runs on SQLite and on PostgreSQL
(the ``store_url`` fixture; child processes inherit it through the environment). Task bodies
append their name to a file, so a test sees which ones ran; nothing waits on a clock.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.files import files_in
from typer.testing import CliRunner

from plait import StateType, flow, task
from plait.blocks import Secret
from plait.cli import app
from plait.client import FlowRunRecord, get_client
from plait.results import ResultRef

PLAIT = Path(sys.executable).parent / "plait"

# Five tasks in a chain; three raises while the "fail" marker exists, and blocks (after saying
# "ready <flow run id>" on stdout) while the "hang" marker exists. start=10 gives 95.
FLOW_MODULE = """
import sys
from pathlib import Path

from plait import flow, get_run_context, journal, task

WORK = Path({work!r})


def ran(name: str) -> None:
    with open(WORK / "ran.txt", "a") as calls:
        calls.write(name + "\\n")


@task(persist_result=True)
def one(x: int) -> int:
    ran("one")
    return x + 1


@task(persist_result=True)
def two(x: int) -> int:
    ran("two")
    return x * 2


@task(persist_result=True)
def three(x: int) -> int:
    ran("three")
    if (WORK / "fail").exists():
        raise RuntimeError("three failed: the marker file is there")
    if (WORK / "hang").exists():
        journal.flush()  # durable before the parent acts on "ready"
        print("ready", get_run_context().task_run.flow_run_id, flush=True)
        sys.stdin.readline()  # until the test kills this process
    return x + 3


@task(persist_result=True)
def four(x: int) -> int:
    ran("four")
    return x * 4


@task(persist_result=True)
def five(x: int) -> int:
    ran("five")
    return x - 5


@flow(persist_result=True)
def pipeline(start: int) -> int:
    return five(four(three(two(one(start)))))


if __name__ == "__main__":
    pipeline(int(sys.argv[1]))
"""

TASKS = ["one", "two", "three", "four", "five"]
ATTEMPT = ["Pending", "Running"]


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PLAIT_LOGGING_LEVEL": "WARNING", **extra}


def _write_script(work: Path) -> Path:
    script = work / "pipeline.py"
    script.write_text(FLOW_MODULE.format(work=str(work)))
    return script


def _ran(work: Path) -> list[str]:
    """The task bodies that ran, in order, and forget them."""
    calls = work / "ran.txt"
    names = calls.read_text().split() if calls.exists() else []
    calls.unlink(missing_ok=True)
    return names


def _run_script(script: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(script), *args],
        env=_env(),
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _retry(flow_run_id: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """``plait flow-run retry ID``, as a user types it."""
    return subprocess.run(
        [str(PLAIT), "flow-run", "retry", flow_run_id],
        env=_env(COLUMNS="220", **env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _only_run(flow_name: str) -> FlowRunRecord:
    [run] = get_client().read_flow_runs(flow_name=flow_name)
    return run


def _states(run: FlowRunRecord) -> list[str]:
    return [state.type.value for state in run.states]


def _task_states(flow_run_id: str) -> list[tuple[str, str]]:
    """(task, state) of a flow run's task runs, in the order they were created."""
    return [(t.task_name, t.state.value) for t in get_client().read_task_runs(flow_run_id)]


def test_a_failed_run_retried_from_the_command_line_reruns_only_what_failed(tmp_path, store_url):
    script = _write_script(tmp_path)
    (tmp_path / "fail").touch()
    first = _run_script(script, "10")
    assert first.returncode == 1
    assert "three failed: the marker file is there" in first.stderr
    assert _ran(tmp_path) == ["one", "two", "three"]
    failed = _only_run("pipeline")
    assert failed.state is StateType.FAILED
    assert failed.entrypoint == f"{script}:pipeline"
    assert failed.parameters == {"start": 10}

    (tmp_path / "fail").unlink()
    retried = _retry(failed.id[:13], cwd=tmp_path)

    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "The new attempt ended Completed." in retried.stdout
    assert _ran(tmp_path) == ["three", "four", "five"]  # one and two were not run again
    run = get_client().read_flow_run(failed.id)
    assert (run.id, run.name) == (failed.id, failed.name)
    assert run.state is StateType.COMPLETED
    assert run.run_count == 2
    assert _states(run) == [*ATTEMPT, "Failed", *ATTEMPT, "Completed"]
    assert get_client().read_result(run) == 95
    assert _task_states(run.id) == [
        ("one", "Completed"), ("two", "Completed"), ("three", "Failed"),  # first attempt
        ("one", "Cached"), ("two", "Cached"),  # second attempt
        ("three", "Completed"), ("four", "Completed"), ("five", "Completed"),
    ]  # fmt: skip
    second = get_client().read_task_runs(run.id)[3:]
    assert [t.run_count for t in second] == [0, 0, 1, 1, 1]
    assert [get_client().read_result(t) for t in second] == [11, 22, 25, 100, 95]
    assert [r.id for r in get_client().read_flow_runs()] == [run.id]  # no new flow run


def _fail_from_package(work: Path) -> FlowRunRecord:
    """Run the flow from package ``nightly`` (on PYTHONPATH only for that process), failing."""
    package = work / "src" / "nightly"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "jobs.py").write_text(FLOW_MODULE.format(work=str(work)))
    (work / "fail").touch()
    first = subprocess.run(
        [sys.executable, "-c", "from nightly.jobs import pipeline; pipeline(10)"],
        env=_env(PYTHONPATH=str(work / "src")),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.returncode == 1
    assert "three failed" in first.stderr
    return _only_run("pipeline")


def test_a_flow_in_an_importable_module_is_recorded_and_retried_by_module_name(tmp_path, store_url):
    failed = _fail_from_package(tmp_path)
    assert failed.entrypoint == "nightly.jobs:pipeline"
    assert _ran(tmp_path) == ["one", "two", "three"]

    (tmp_path / "fail").unlink()
    retried = _retry(failed.id, cwd=tmp_path, PYTHONPATH=str(tmp_path / "src"))

    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert _ran(tmp_path) == ["three", "four", "five"]
    run = get_client().read_flow_run(failed.id)
    assert (run.state, run.run_count) == (StateType.COMPLETED, 2)
    assert get_client().read_result(run) == 95
    assert [state for _, state in _task_states(run.id)][3:5] == ["Cached", "Cached"]


def _failed_run_of(work: Path) -> FlowRunRecord:
    script = _write_script(work)
    (work / "fail").touch()
    assert _run_script(script, "10").returncode == 1
    _ran(work)
    return _only_run("pipeline")


def test_a_run_whose_script_is_gone_gets_a_clear_error(tmp_path, store_url):
    failed = _failed_run_of(tmp_path)
    (tmp_path / "pipeline.py").unlink()

    retried = _retry(failed.id, cwd=tmp_path)

    assert retried.returncode == 1
    assert "Traceback" not in retried.stderr
    assert (
        f"Cannot run the flow: its script {tmp_path / 'pipeline.py'} no longer exists"
        in retried.stderr
    )
    assert get_client().read_flow_run(failed.id).run_count == 1


def test_a_run_whose_module_cannot_be_imported_gets_a_clear_error(tmp_path, store_url):
    failed = _fail_from_package(tmp_path)

    retried = _retry(failed.id, cwd=tmp_path)  # without the PYTHONPATH the flow ran with

    assert retried.returncode == 1
    assert get_client().read_flow_run(failed.id).run_count == 1
    assert "Traceback" not in retried.stderr, retried.stderr
    assert "nightly.jobs:pipeline" in retried.stderr
    assert "No module named 'nightly'" in retried.stderr


def test_a_killed_run_is_retried_once_marked_crashed(tmp_path, store_url):
    script = _write_script(tmp_path)
    (tmp_path / "hang").touch()
    child = subprocess.Popen(
        [sys.executable, str(script), "10"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=tmp_path,
    )
    line = child.stdout.readline()  # task three has started
    assert line.startswith("ready "), line + child.stderr.read()
    flow_run_id = line.split()[1]
    child.kill()
    child.communicate(timeout=60)
    assert _ran(tmp_path) == ["one", "two", "three"]
    crashed = get_client().read_flow_run(flow_run_id)  # marks it Crashed: its process is gone
    assert crashed.state is StateType.CRASHED

    (tmp_path / "hang").unlink()
    retried = _retry(flow_run_id, cwd=tmp_path)

    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert _ran(tmp_path) == ["three", "four", "five"]
    run = get_client().read_flow_run(flow_run_id)
    assert (run.state, run.run_count) == (StateType.COMPLETED, 2)
    assert _states(run) == [*ATTEMPT, "Crashed", *ATTEMPT, "Completed"]
    assert run.pid != child.pid  # the run now names the process that retried it
    assert get_client().read_result(run) == 95
    assert _task_states(flow_run_id) == [
        ("one", "Completed"), ("two", "Completed"), ("three", "Crashed"),
        ("one", "Cached"), ("two", "Cached"),
        ("three", "Completed"), ("four", "Completed"), ("five", "Completed"),
    ]  # fmt: skip
    assert get_client().read_flow_runs(state="Running") == []


def test_a_run_cannot_be_retried_again_while_its_retry_is_running(tmp_path, store_url):
    failed = _failed_run_of(tmp_path)
    (tmp_path / "fail").unlink()
    (tmp_path / "hang").touch()
    first = subprocess.Popen(
        [str(PLAIT), "flow-run", "retry", failed.id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=tmp_path,
    )
    line = first.stdout.readline()  # the new attempt is in task three
    assert line == f"ready {failed.id}\n", line + first.stderr.read()

    second = _retry(failed.id, cwd=tmp_path)

    assert second.returncode == 1
    assert "is Running; only failed, crashed, timed-out or cancelled runs" in second.stderr
    stdout, stderr = first.communicate("go on\n", timeout=120)  # let the first one finish
    assert first.returncode == 0, stdout + stderr
    assert _ran(tmp_path) == ["three", "four", "five"]
    run = get_client().read_flow_run(failed.id)
    assert (run.state, run.run_count) == (StateType.COMPLETED, 2)
    assert _states(run) == [*ATTEMPT, "Failed", *ATTEMPT, "Completed"]


def test_a_retry_that_fails_again_exits_1_and_leaves_the_run_failed(tmp_path, store_url):
    failed = _failed_run_of(tmp_path)

    retried = _retry(failed.id, cwd=tmp_path)  # the marker is still there

    assert retried.returncode == 1
    assert "The new attempt ended Failed" in retried.stdout
    assert "three failed: the marker file is there" in retried.stdout
    assert _ran(tmp_path) == ["three"]
    run = get_client().read_flow_run(failed.id)
    assert (run.state, run.run_count) == (StateType.FAILED, 2)
    assert _states(run) == [*ATTEMPT, "Failed", *ATTEMPT, "Failed"]
    assert [state for _, state in _task_states(run.id)] == [
        "Completed", "Completed", "Failed", "Cached", "Cached", "Failed"
    ]  # fmt: skip


# --- Runs that cannot be retried: a clear message and exit code 1 ------------------------

runner = CliRunner()


def plait(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "220"})


@task
def fails() -> None:
    raise RuntimeError("boom")


@task
def fine() -> int:
    return 1


@flow
def child_flow() -> None:
    fails()


@flow
def parent_flow() -> None:
    child_flow()


@flow
def succeeds() -> int:
    return fine()


@pytest.fixture
def restored_imports(monkeypatch):
    """Undo what importing a flow's script in this process adds to sys.path and sys.modules."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


def test_a_retry_run_in_process_records_through_the_running_writer(
    tmp_path, store, restored_imports
):
    script = _write_script(tmp_path)
    (tmp_path / "fail").touch()
    assert _run_script(script, "7").returncode == 1
    failed = _only_run("pipeline")
    _ran(tmp_path)
    (tmp_path / "fail").unlink()

    result = plait("flow-run", "retry", failed.id[:13])

    assert result.exit_code == 0, result.output
    assert "The new attempt ended Completed." in result.output
    assert _ran(tmp_path) == ["three", "four", "five"]
    run = get_client().read_flow_run(failed.id)
    assert (run.state, run.run_count, run.pid) == (StateType.COMPLETED, 2, os.getpid())
    assert get_client().read_result(run) == ((7 + 1) * 2 + 3) * 4 - 5


def test_a_completed_run_cannot_be_retried(store):
    succeeds()
    run = _only_run("succeeds")

    result = plait("flow-run", "retry", run.id)

    assert result.exit_code == 1
    assert "is Completed; only failed, crashed, timed-out or cancelled runs" in result.output
    assert get_client().read_flow_run(run.id).run_count == 1


def test_a_flow_defined_inside_a_function_cannot_be_retried(store):
    @flow
    def local_flow() -> None:
        fails()

    with pytest.raises(RuntimeError, match="boom"):
        local_flow()
    run = _only_run("local_flow")
    assert run.entrypoint is None

    result = plait("flow-run", "retry", run.id)

    assert result.exit_code == 1
    assert "cannot be retried: flow 'local_flow' was defined inside a function" in result.output
    assert "Define flows at module level." in result.output
    assert get_client().read_flow_run(run.id).run_count == 1


def test_a_subflow_run_cannot_be_retried_but_its_parent_names_itself(store):
    with pytest.raises(RuntimeError, match="boom"):
        parent_flow()
    subflow = _only_run("child_flow")
    parent = _only_run("parent_flow")
    assert subflow.parent_flow_run_id == parent.id
    assert subflow.entrypoint is None

    result = plait("flow-run", "retry", subflow.id)

    assert result.exit_code == 1
    assert f"Flow run {subflow.id} ({subflow.name!r}) is a subflow run" in result.output
    assert "retry its top-level flow run instead" in result.output


def test_an_unknown_id_cannot_be_retried(store):
    result = plait("flow-run", "retry", "0123abcd")

    assert result.exit_code == 1
    assert "No flow run has an id starting with '0123abcd'" in result.output
    assert "plait flow-run ls" in result.output


@flow
def uses_a_secret(token: Secret) -> int:
    return len(token.get())


def test_parameters_kept_for_retries_are_encrypted(store, tmp_path):
    assert uses_a_secret(Secret(value="hunter2-parameter-secret")) == 24
    run = _only_run("uses_a_secret")
    assert run.parameters_ref is not None
    assert run.parameters == {"token": "Secret(value=SecretStr('**********'))"}

    home = Path(os.environ["PLAIT_HOME"])
    assert not [p for p, data in files_in(home).items() if b"hunter2-parameter-secret" in data]
    [stored] = ResultRef.from_json(run.parameters_ref).load().values()
    assert stored.get() == "hunter2-parameter-secret"


SECRET_FLOW = """
import sys
from pathlib import Path

from pydantic import SecretStr

from plait import flow, task

WORK = Path({work!r})


@task(persist_result=True)
def authenticate(token: SecretStr) -> dict:
    with open(WORK / "ran.txt", "a") as calls:
        calls.write("authenticate\\n")
    return {{"token": token}}


@task
def call(session: dict) -> int:
    if (WORK / "fail").exists():
        raise RuntimeError("call failed: the marker file is there")
    return len(session["token"].get_secret_value())


@flow
def guarded(token: SecretStr) -> int:
    return call(authenticate(token))


if __name__ == "__main__":
    guarded(SecretStr(sys.argv[1]))
"""


def test_a_run_with_secret_parameters_and_results_is_retried_and_a_wrong_key_is_named(
    tmp_path, store_url
):
    from cryptography.fernet import Fernet

    from plait.encryption import fingerprint

    token = "retry-t0ken-do-not-leak"
    script = tmp_path / "guarded.py"
    script.write_text(SECRET_FLOW.format(work=str(tmp_path)))
    (tmp_path / "fail").touch()
    assert _run_script(script, token).returncode == 1
    assert _ran(tmp_path) == ["authenticate"]
    failed = _only_run("guarded")
    home = Path(os.environ["PLAIT_HOME"])
    assert not [path for path, data in files_in(home).items() if token.encode() in data]
    (tmp_path / "fail").unlink()

    wrong = _retry(failed.id, cwd=tmp_path, PLAIT_ENCRYPTION_KEY=Fernet.generate_key().decode())
    key = (home / "encryption.key").read_text().split()[0]
    assert wrong.returncode == 1
    assert f"encrypted with key {fingerprint(key.encode())}" in wrong.stdout + wrong.stderr
    assert "Traceback" not in wrong.stdout + wrong.stderr
    assert token not in wrong.stdout + wrong.stderr

    retried = _retry(failed.id, cwd=tmp_path)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "The new attempt ended Completed." in retried.stdout, retried.stdout
    assert _ran(tmp_path) == []  # the persisted, encrypted result was read back
    run = get_client().read_flow_run(failed.id)
    assert (run.state, run.run_count) == (StateType.COMPLETED, 2)
    assert _states(run) == [
        *ATTEMPT,
        "Failed",
        *ATTEMPT,
        "Completed",
    ]
