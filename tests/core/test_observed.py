"""Watching work Plait does not run itself: ``ObservedTaskRun`` (task runs recorded by the code
that watches a tool, from any thread), the ``Skipped`` state such runs end in, and
``write_artifact`` (a tool's reports kept with the flow run's results).

Runs are read back from the run store through ``plait.client``, on SQLite and on a real
PostgreSQL server (the ``store`` fixture). Threads hand over by ``join``; nothing waits on a
clock.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import pytest
from fixtures.runs import in_flow

from plait import (
    Completed,
    Failed,
    MissingContextError,
    ObservedTaskRun,
    PlaitError,
    Running,
    Skipped,
    StateType,
    flow,
    get_run_context,
    task,
    write_artifact,
)
from plait.blocks import LocalFileSystem
from plait.exceptions import ParameterError, SerializationError
from plait.results import ResultRef

PENDING, RUNNING = StateType.PENDING, StateType.RUNNING
COMPLETED, FAILED, SKIPPED = StateType.COMPLETED, StateType.FAILED, StateType.SKIPPED


def in_thread(body):
    """Run ``body()`` on a new thread, as a tool's callback would, and return its result
    (or raise its exception here). Context variables do not follow into this thread."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = body()
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def results_dir() -> Path:
    return Path(os.environ["PLAIT_HOME"]) / "results"


@task
def extract() -> int:
    return 3


# -- ObservedTaskRun, read back from the run store --------------------------------------------


def test_observed_runs_are_recorded_with_states_edges_and_logs(store):
    @flow
    def dbt_build() -> dict[str, str]:
        context = get_run_context()  # captured where the flow runs, for the tool's threads
        seed = ObservedTaskRun("seed.shop.raw_orders", task_name="dbt-seed", tags=["dbt"])
        seed.start()
        seed.logger.info("INSERT 4 rows")
        seed.finish(Completed(message="INSERT 4"))

        def run_model() -> ObservedTaskRun:
            model = ObservedTaskRun(
                "model.shop.orders", task_name="dbt-model", upstream=[seed], parent=context
            )
            model.start()
            model.logger.warning("relation shop.orders is missing a column")
            model.finish(Failed(RuntimeError("column amount does not exist"), "ERROR"))
            return model

        model = in_thread(run_model)
        report = ObservedTaskRun("model.shop.report", upstream=[model])
        report.finish(Skipped("skipped: upstream model.shop.orders did not succeed"))
        return {"seed": seed.id, "model": model.id, "report": report.id}

    ids = dbt_build()

    [flow_run] = store.client.read_flow_runs()
    assert flow_run.state is COMPLETED, "the watcher decides what the outcome means to the flow"
    runs = {run.name: run for run in store.client.read_task_runs(flow_run.id)}
    assert set(runs) == {"seed.shop.raw_orders", "model.shop.orders", "model.shop.report"}
    seed = runs["seed.shop.raw_orders"]
    model = runs["model.shop.orders"]
    report = runs["model.shop.report"]
    assert [seed.id, model.id, report.id] == [ids["seed"], ids["model"], ids["report"]]
    assert [run.task_name for run in (seed, model, report)] == [
        "dbt-seed",
        "dbt-model",
        "model.shop.report",
    ]
    assert all(run.flow_run_id == flow_run.id for run in runs.values())
    assert seed.tags == ("dbt",)

    assert [s.type for s in seed.states] == [PENDING, RUNNING, COMPLETED]
    assert seed.state_message == "INSERT 4"
    assert [s.type for s in model.states] == [PENDING, RUNNING, FAILED]
    assert model.state_message == "ERROR"
    assert "RuntimeError: column amount does not exist" in model.failure.detail
    assert [s.type for s in report.states] == [PENDING, SKIPPED]
    assert report.state_message == "skipped: upstream model.shop.orders did not succeed"

    assert [run.run_count for run in (seed, model, report)] == [1, 1, 0]
    for run in (seed, model):
        assert run.start_time == run.states[1].timestamp
        assert run.end_time == run.states[-1].timestamp
        assert run.duration >= 0
    assert report.start_time is None, "never started"
    assert report.duration is None

    graph = store.client.read_task_graph(flow_run.id)
    assert set(graph.edges) == {(seed.id, model.id), (model.id, report.id)}
    assert [run.name for run in graph.roots()] == ["seed.shop.raw_orders"]

    lines = [
        (line.task_run_id, line.level, line.message)
        for line in store.client.read_logs(flow_run.id)
        if line.task_run_id is not None
    ]
    assert lines == [
        (seed.id, logging.INFO, "INSERT 4 rows"),
        (model.id, logging.WARNING, "relation shop.orders is missing a column"),
    ]


def test_futures_of_plain_tasks_can_be_upstream(store):
    @flow
    def load() -> None:
        rows = extract.submit()
        copy = ObservedTaskRun("warehouse-copy", upstream=[rows])
        copy.start()
        copy.finish(Completed(message=f"copied {rows.result()} rows"))

    load()

    [flow_run] = store.client.read_flow_runs()
    runs = {run.name: run for run in store.client.read_task_runs(flow_run.id)}
    extracted, copy = runs["extract-0"], runs["warehouse-copy"]
    assert copy.upstream == (extracted.id,)
    assert copy.state_message == "copied 3 rows"
    assert store.client.read_task_graph(flow_run.id).edges == [(extracted.id, copy.id)]


@task
def submit_spark_job() -> str:
    stage = ObservedTaskRun("stage-0")
    stage.start()
    stage.logger.info("120 partitions")
    stage.finish(Completed())
    return stage.id


def test_an_observed_run_created_in_a_task_belongs_to_that_task_run(store, task_runner):
    @flow(task_runner=task_runner)
    def spark() -> str:
        return submit_spark_job.submit().result()

    stage_id = spark()

    [flow_run] = store.client.read_flow_runs()
    submit, stage = store.client.read_task_runs(flow_run.id)
    assert stage.id == stage_id
    assert stage.parent_task_run_id == submit.id
    assert stage.flow_run_id == flow_run.id
    assert stage.state is COMPLETED
    [line] = [line for line in store.client.read_logs(flow_run.id) if line.task_run_id == stage_id]
    assert line.message == "120 partitions"


def test_starting_again_counts_another_attempt(store):
    @flow
    def retried() -> None:
        job = ObservedTaskRun("warehouse-job")
        job.start("attempt 1")
        job.start("attempt 2, after a lost connection")
        job.finish(Completed())

    retried()

    [flow_run] = store.client.read_flow_runs()
    [job] = store.client.read_task_runs(flow_run.id)
    assert job.run_count == 2
    assert [(s.type, s.message) for s in job.states] == [
        (PENDING, None),
        (RUNNING, "attempt 1"),
        (RUNNING, "attempt 2, after a lost connection"),
        (COMPLETED, None),
    ]
    assert job.start_time == job.states[1].timestamp, "the duration counts from the first start"


def test_many_threads_record_their_runs_at_once(store):
    @flow
    def fan_out() -> None:
        context = get_run_context()

        def node(i: int) -> None:
            run = ObservedTaskRun(f"node-{i}", task_name="node", parent=context)
            run.start()
            run.logger.info("node %d done", i)
            run.finish(Completed())

        threads = [threading.Thread(target=node, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    fan_out()

    [flow_run] = store.client.read_flow_runs()
    runs = store.client.read_task_runs(flow_run.id)
    assert sorted(run.name for run in runs) == sorted(f"node-{i}" for i in range(16))
    assert all(run.state is COMPLETED and run.run_count == 1 for run in runs)
    logged = {line.task_run_id: line.message for line in store.client.read_logs(flow_run.id)}
    assert {logged[run.id] for run in runs} == {f"node {i} done" for i in range(16)}


# -- ObservedTaskRun misuse -------------------------------------------------------------------


def test_only_a_final_state_ends_an_observed_run():
    def body() -> ObservedTaskRun:
        run = ObservedTaskRun("job")
        run.start()
        with pytest.raises(PlaitError, match=r"can only finish in a final state .*got Running"):
            run.finish(Running())
        assert run.state.is_running(), "a refused state changes nothing"
        run.finish(Completed())
        return run

    assert in_flow(body).state.is_completed()


@pytest.mark.parametrize("ended", [Completed(), Failed(ValueError("boom")), Skipped()])
def test_an_ended_run_cannot_start_or_finish_again(ended):
    def body() -> ObservedTaskRun:
        run = ObservedTaskRun("job")
        run.finish(ended)
        with pytest.raises(PlaitError, match=f"'job' already ended {ended.name}; it cannot start"):
            run.start()
        with pytest.raises(PlaitError, match=f"already ended {ended.name}; it cannot finish"):
            run.finish(Completed())
        return run

    run = in_flow(body)
    assert run.state is ended, "the first final state stays"


def test_two_threads_racing_to_finish_one_run_end_it_once(recorder):
    winners: list[str] = []

    def body() -> ObservedTaskRun:
        run = ObservedTaskRun("job")
        run.start()
        barrier = threading.Barrier(2)

        def finish(state) -> None:
            barrier.wait()
            try:
                run.finish(state)
                winners.append(state.name)
            except PlaitError:
                pass

        threads = [
            threading.Thread(target=finish, args=(state,)) for state in (Completed(), Failed())
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return run

    run = in_flow(body)
    assert len(winners) == 1
    assert run.state.name == winners[0]
    recorded = recorder.run(run.id)
    assert [s.type for s in recorded.states] == ["Pending", "Running", winners[0]]


def test_outside_any_flow_an_observed_run_needs_a_parent():
    with pytest.raises(MissingContextError, match="pass parent=get_run_context"):
        ObservedTaskRun("model.shop.orders")


def test_a_thread_the_tool_started_needs_the_parent_passed():
    def body() -> None:
        with pytest.raises(MissingContextError, match=r"'model\.shop\.orders' has no flow run"):
            in_thread(lambda: ObservedTaskRun("model.shop.orders"))

    in_flow(body)


# -- Skipped ----------------------------------------------------------------------------------


def test_skipped_is_final_and_unsuccessful_without_a_result():
    state = Skipped("upstream model.shop.orders failed")
    assert state.type is StateType.SKIPPED
    assert state.name == "Skipped"
    assert state.is_skipped()
    assert state.is_final()
    assert state.is_unsuccessful()
    assert not state.is_completed()
    assert not state.is_failed(), "the run's own code did not fail: it never ran"
    assert not Completed().is_skipped()
    assert not Failed().is_skipped()
    assert repr(state) == "Skipped('upstream model.shop.orders failed')"
    with pytest.raises(PlaitError) as raised:
        state.result()
    assert str(raised.value) == "upstream model.shop.orders failed"
    error = state.result(raise_on_failure=False)
    assert isinstance(error, PlaitError)
    assert str(error) == "upstream model.shop.orders failed"


def test_skipped_without_a_message_still_explains_itself():
    with pytest.raises(PlaitError, match="ended in state Skipped"):
        Skipped().result()


# -- write_artifact ---------------------------------------------------------------------------

RUN_RESULTS = {
    "elapsed_time": 1.25,
    "results": [
        {"unique_id": "model.shop.orders", "status": "error", "failures": None},
        {"unique_id": "model.shop.report", "status": "skipped", "failures": None},
    ],
}


def test_an_artifact_is_kept_with_the_flow_runs_results(store):
    @flow
    def dbt_build() -> tuple[str, ResultRef]:
        return get_run_context().flow_run.id, write_artifact("dbt/run_results.json", RUN_RESULTS)

    flow_run_id, ref = dbt_build()

    assert ref.path == f"artifacts/{flow_run_id}/dbt/run_results.json"
    assert ref.serializer == "json"
    assert ref.load() == RUN_RESULTS
    elsewhere = ResultRef.from_json(ref.to_json())  # what another process would be handed
    assert elsewhere.load() == RUN_RESULTS
    stored = results_dir() / "artifacts" / flow_run_id / "dbt" / "run_results.json"
    header, body = stored.read_bytes().split(b"\n", 1)
    assert header == b"plait:json"
    assert json.loads(body) == RUN_RESULTS, "any JSON reader can read it after the header"
    [flow_run] = store.client.read_flow_runs()
    assert flow_run.id == flow_run_id
    assert flow_run.result is None, "the flow's own result was not persisted: only the artifact"


@pytest.mark.parametrize("form", ["file url", "saved block"])
def test_an_artifact_goes_to_the_flows_result_storage(tmp_path, form):
    basepath = tmp_path / "warehouse-results"
    if form == "saved block":
        LocalFileSystem(basepath=str(basepath)).save("results")
        storage = "local-file-system/results"
    else:
        storage = basepath.as_uri()

    @flow(result_storage=storage)
    def dbt_build() -> tuple[str, ResultRef]:
        return get_run_context().flow_run.id, write_artifact("manifest.json", {"nodes": {}})

    flow_run_id, ref = dbt_build()

    assert ref.storage == storage
    assert (basepath / "artifacts" / flow_run_id / "manifest.json").is_file()
    assert not (results_dir() / "artifacts").exists()
    assert ResultRef.from_json(ref.to_json()).load() == {"nodes": {}}


def test_each_flow_run_keeps_its_own_artifacts():
    @flow
    def nightly(day: str) -> ResultRef:
        return write_artifact("summary.json", {"day": day})

    first, second = nightly("2026-11-23"), nightly("2026-11-24")

    assert first.path != second.path
    assert (first.load(), second.load()) == ({"day": "2026-11-23"}, {"day": "2026-11-24"})


@pytest.mark.parametrize("name", ["", "/etc/report.json", "dbt/", "../other-run/report.json", "."])
def test_an_artifact_name_stays_inside_the_flow_runs_folder(name):
    def body() -> ResultRef:
        with pytest.raises(ParameterError, match="give a relative path inside"):
            write_artifact(name, {"rows": 3})
        return write_artifact("report.json", {"rows": 3})

    ref = in_flow(body)

    assert ref.load() == {"rows": 3}, "a refused name leaves the run's artifacts usable"
    artifacts = results_dir() / "artifacts"
    written = {path.relative_to(artifacts).as_posix() for path in artifacts.rglob("*")}
    assert written == {ref.path.split("/")[1], ref.path.removeprefix("artifacts/")}


def test_an_artifact_must_be_json_data():
    with pytest.raises(SerializationError, match="json"):
        in_flow(lambda: write_artifact("connection.json", threading.Lock()))


def test_write_artifact_outside_a_flow_is_a_clear_error():
    with pytest.raises(
        MissingContextError, match=r"write_artifact\('report.json'\).*call it in a flow"
    ):
        write_artifact("report.json", {"rows": 3})
