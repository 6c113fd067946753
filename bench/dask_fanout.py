"""plait-dask: a 1,000-task fan-out on ``DaskTaskRunner`` against the same work on plain
``distributed``.

    uv run python bench/dask_fanout.py [--tasks 1000] [--repeat 3]

One ``LocalCluster`` (2 worker processes, 1 thread each, on 127.0.0.1) serves both sides:

- ``distributed`` alone: ``client.gather(client.map(square, range(N), pure=False))``.
- Plait: a flow on ``DaskTaskRunner(address=...)`` running ``square.map(range(N))`` and
  collecting the results. Each task run is created and recorded in the flow's process, runs
  its lifecycle on a worker, and ships its states back; the background writer saves it all to
  the default SQLite store (``PLAIT_LOGGING_LEVEL=WARNING``, a fresh ``PLAIT_HOME``).

Best of ``--repeat`` rounds after a warm-up, each timed whole (the flow includes connecting
its client and the final flush of the run store). The issue's target: Plait's overhead on top
of Dask under 50%.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile

from timing import best

from plait import flow, task


def square(x: int) -> int:
    return x * x


square_task = task(square, name="square")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ["PLAIT_HOME"] = tempfile.mkdtemp(prefix="plait-bench-dask-")
    os.environ["PLAIT_LOGGING_LEVEL"] = "WARNING"
    os.environ.pop("PLAIT_DATABASE_URL", None)

    from distributed import Client, LocalCluster

    from plait_dask import DaskTaskRunner

    n = args.tasks
    expected = [square(i) for i in range(n)]
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
    ) as cluster, Client(cluster) as client:  # fmt: skip

        def dask_alone() -> None:
            assert client.gather(client.map(square, range(n), pure=False)) == expected

        @flow(task_runner=DaskTaskRunner(address=cluster.scheduler_address))
        def fan_out() -> list[int]:
            return square_task.map(range(n)).result()

        def with_plait() -> None:
            assert fan_out() == expected

        alone = best(dask_alone, args.repeat)
        plait = best(with_plait, args.repeat)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    print(f"{machine}, CPython {platform.python_version()}; {n} tasks, 2 Dask worker processes")
    print("| | time | per task |")
    print("|---|---|---|")
    print(f"| `distributed` alone (`client.map`) | {alone:.2f} s | {alone / n * 1e3:.2f} ms |")
    print(f"| Plait on `DaskTaskRunner` | {plait:.2f} s | {plait / n * 1e3:.2f} ms |")
    extra = plait - alone
    print(
        f"| Plait's overhead | {extra:+.2f} s ({extra / alone:+.0%}) | {extra / n * 1e3:+.2f} ms |"
    )


if __name__ == "__main__":
    main()
