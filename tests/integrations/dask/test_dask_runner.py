"""What is particular to DaskTaskRunner, against real LocalClusters with worker processes on
127.0.0.1: a temporary cluster per flow run or an existing scheduler, workers that die, worker
resources, the cluster from inside a task, and records reaching the run store. The behaviour
every runner shares runs over Dask too (the ``task_runner`` fixture in tests/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fixtures.runs import DASK_CLUSTER, dies_once

from plait import InvalidOptionError, MissingContextError, flow, get_run_context, task
from plait.client import get_client
from plait.context import current_context
from plait_dask import DaskTaskRunner, dask_resources, get_dask_client


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    """An existing cluster for ``address``: two single-threaded worker processes with a GPU
    each (as far as Dask knows)."""
    from distributed import LocalCluster

    with LocalCluster(**DASK_CLUSTER, resources={"GPU": 1}) as running:
        yield running


def temporary() -> DaskTaskRunner:
    return DaskTaskRunner(cluster_kwargs=DASK_CLUSTER)


@task
def where(x: int) -> tuple[int, str]:
    from distributed import get_worker

    return x * x, get_worker().address


@task
def resources_asked() -> dict:
    from distributed import get_worker

    worker = get_worker()
    return dict(worker.state.tasks[worker.get_current_task()].resource_restrictions or {})


@task
def die() -> None:
    os._exit(1)


@task(persist_result=True)
def logged_square(x: int) -> int:
    from plait import get_run_logger

    get_run_logger().info("squaring %d on a Dask worker", x)
    return x * x


@task
def array_total(n: int) -> int:
    import dask.array as da

    with get_dask_client() as client:
        return int(client.compute(da.arange(n, chunks=10).sum()).result())


def test_an_existing_scheduler_runs_the_tasks_and_is_left_running(cluster):
    @flow(task_runner=DaskTaskRunner(address=cluster.scheduler_address))
    def pipeline() -> list:
        return where.map(range(6)).result()

    results = pipeline()

    assert [square for square, _ in results] == [0, 1, 4, 9, 16, 25]
    assert {worker for _, worker in results} <= set(cluster.scheduler_info["workers"])
    assert cluster.status.name == "running"
    assert len(cluster.scheduler_info["workers"]) == 2


def test_a_temporary_cluster_lives_for_one_flow_run():
    clusters = []

    @flow(task_runner=temporary())
    def pipeline() -> int:
        clusters.append(get_run_context().task_runner.cluster)
        return where.submit(3).result()[0]

    assert pipeline() == 9
    assert pipeline() == 9
    first, second = clusters
    assert first is not second
    assert first.status.name == second.status.name == "closed"


def test_a_worker_that_dies_mid_task_crashes_only_its_task_run(recorder):
    @flow(task_runner=temporary())
    def pipeline() -> tuple:
        dead = die.submit()
        dead.wait()
        return dead.state.name, dead.state.message, where.submit(4).result()[0]

    state, message, after = pipeline()

    assert state == "Crashed"
    assert "crashed: its worker failed with KilledWorker" in message
    assert after == 16
    assert [run.state for run in recorder.task_runs()] == ["Crashed", "Completed"]


def test_retries_apply_to_a_run_whose_worker_died(recorder, tmp_path):
    @flow(task_runner=temporary())
    def pipeline() -> str:
        return dies_once.submit(str(tmp_path / "died")).result()

    assert pipeline() == "second attempt"
    [run] = recorder.task_runs()
    assert [state.type for state in run.states] == ["Pending", "Retrying", "Running", "Completed"]
    assert "KilledWorker" in run.states[1].message


def test_tasks_ask_for_worker_resources_in_a_block_or_by_name(cluster):
    runner = DaskTaskRunner(
        address=cluster.scheduler_address, task_resources={"resources_asked": {"GPU": 1}}
    )
    plain = DaskTaskRunner(address=cluster.scheduler_address)

    @flow(task_runner=plain)
    def in_a_block() -> tuple:
        with dask_resources(GPU=0.5):
            inside = resources_asked.submit()
        return inside.result(), resources_asked.submit().result()

    @flow(task_runner=runner)
    def by_name() -> dict:
        return resources_asked.submit().result()

    assert in_a_block() == ({"GPU": 0.5}, {})
    assert by_name() == {"GPU": 1}


def test_dask_resources_must_be_positive_numbers():
    with (
        pytest.raises(InvalidOptionError, match="GPU must be a positive number"),
        dask_resources(GPU=0),
    ):
        pass


def test_a_task_computes_dask_collections_on_the_cluster(cluster):
    @flow(task_runner=DaskTaskRunner(address=cluster.scheduler_address))
    def pipeline() -> int:
        return array_total.submit(1000).result()

    assert pipeline() == sum(range(1000))


def test_get_dask_client_outside_a_dask_worker_says_where_it_works():
    with pytest.raises(MissingContextError, match="only inside a task running on a Dask worker"):
        array_total.fn(10)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_states_logs_and_results_from_workers_reach_the_run_store(store, cluster):
    @flow(task_runner=DaskTaskRunner(address=cluster.scheduler_address))
    def pipeline() -> list[int]:
        return logged_square.map([2, 3]).result()

    assert pipeline() == [4, 9]

    client = get_client()
    [flow_run] = client.read_flow_runs(flow_name="pipeline")
    runs = client.read_task_runs(flow_run.id)
    assert [run.state.value for run in runs] == ["Completed", "Completed"]
    assert sorted(client.read_result(run) for run in runs) == [4, 9]
    lines = [log for log in client.read_logs(flow_run.id) if "on a Dask worker" in log.message]
    assert sorted(log.message for log in lines) == [
        "squaring 2 on a Dask worker",
        "squaring 3 on a Dask worker",
    ]
    assert {log.task_run_id for log in lines} == {run.id for run in runs}


def test_the_runner_is_found_by_name_through_the_plugin():
    @flow(task_runner="dask")
    def pipeline() -> None: ...

    assert isinstance(pipeline.task_runner, DaskTaskRunner)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"address": 8786}, "address must be a scheduler address"),
        ({"address": "tcp://x:1", "cluster_kwargs": {"n_workers": 1}}, "not both"),
        ({"cluster_kwargs": ["n_workers", 2]}, "cluster_kwargs must be a dict"),
        ({"task_resources": {"train": 1}}, r"task_resources\['train'\] must be a dict"),
        ({"task_resources": {"train": {"GPU": -1}}}, r"\['train'\]: GPU must be a positive"),
        ({"cluster_class": 42}, "cluster_class must be a cluster class or its import path"),
    ],
)
def test_bad_options_are_refused_naming_the_option(options, message):
    with pytest.raises(InvalidOptionError, match=message):
        DaskTaskRunner(**options)


def test_a_cluster_class_that_cannot_be_imported_fails_the_flow_run_clearly(recorder):
    @flow(task_runner=DaskTaskRunner(cluster_class="dask_nowhere.MissingCluster"))
    def pipeline() -> None: ...

    with pytest.raises(
        InvalidOptionError, match=r"'dask_nowhere\.MissingCluster' cannot be imported"
    ):
        pipeline()

    [run] = recorder.flow_runs()
    assert run.state == "Failed"
    assert run.state_message.startswith(
        "Could not start the task runner DaskTaskRunner(cluster_class="
    )
    assert current_context() is None  # the failed start left no flow run in progress


@task(cache_policy="inputs")
def counted_square(x: int, calls: str) -> int:
    with open(calls, "a") as file:
        file.write(f"{x}\n")
    return x * x


def test_cached_tasks_are_looked_up_by_the_flow_s_process_not_the_workers(tmp_path, closed_port):
    """Workers whose run store is unreachable still run cached tasks: the flow's process looks
    the key up and records it; workers only write the result file."""
    from distributed import LocalCluster

    calls = tmp_path / "calls.txt"
    unreachable = f"postgresql+psycopg://nobody@127.0.0.1:{closed_port}/none"
    env = {"PLAIT_HOME": os.environ["PLAIT_HOME"], "PLAIT_DATABASE_URL": unreachable}
    with LocalCluster(**DASK_CLUSTER, env=env) as no_store:

        @flow(task_runner=DaskTaskRunner(address=no_store.scheduler_address))
        def pipeline() -> list[int]:
            return counted_square.map([2, 3, 2], calls=str(calls)).result()

        assert pipeline() == [4, 9, 4]
        assert pipeline() == [4, 9, 4]

    assert sorted(calls.read_text().split()) == ["2", "3"]  # each input computed once


@task
def wait_for_the_test(port: int) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.recv(1)  # until the test closes the connection (or the worker goes)


def test_a_task_dask_drops_on_a_restart_ends_crashed(recorder, cluster):
    import socket
    import threading

    from distributed import Client

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        @flow(task_runner=DaskTaskRunner(address=cluster.scheduler_address))
        def pipeline() -> None:
            wait_for_the_test.submit(listener.getsockname()[1]).wait()

        running = threading.Thread(target=pipeline)
        running.start()
        connection, _ = listener.accept()  # the task is running on a worker
        with Client(cluster.scheduler_address) as client:
            client.restart()
        running.join(timeout=60)
        connection.close()

    [run] = recorder.task_runs()
    assert run.state == "Crashed"
    assert "crashed: its worker failed with LostByDask: Dask cancelled" in run.state_message
