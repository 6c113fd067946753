"""plait.testing.plait_test_harness(): runs inside it go to a temporary store of their own,
and the settings around it are put back."""

from __future__ import annotations

import os

from plait import flow, task
from plait.client import get_client
from plait.testing import plait_test_harness


@task(persist_result=True)
def shout(word: str) -> str:
    return word.upper()


@flow
def hello(word: str) -> str:
    return shout(word)


def test_runs_in_the_harness_go_to_a_store_of_its_own(tmp_path, monkeypatch):
    real_home = tmp_path / "real-home"
    monkeypatch.setenv("PLAIT_HOME", str(real_home))
    monkeypatch.setenv("PLAIT_API_URL", "http://127.0.0.1:9/api")  # set aside inside

    with plait_test_harness() as home:
        assert os.environ["PLAIT_HOME"] == str(home)
        assert "PLAIT_API_URL" not in os.environ
        assert hello("hi") == "HI"
        [run] = get_client().read_flow_runs()
        assert (run.flow_name, run.state) == ("hello", "Completed")
        [task_run] = get_client().read_task_runs(run.id)
        assert get_client().read_result(task_run) == "HI"

    assert not home.exists(), "the temporary store is deleted"
    assert os.environ["PLAIT_HOME"] == str(real_home)
    assert os.environ["PLAIT_API_URL"] == "http://127.0.0.1:9/api"
    assert not real_home.exists(), "nothing was written to the real store"
