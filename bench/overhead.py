"""Orchestration overhead: plain Python against Plait on the same work, in one run.

    make bench                         # or: uv run python bench/overhead.py [--repeat N]

Workloads (each in a fresh subprocess, so peak memory is the workload's own):

- ``sequential``: 1,000 calls of a no-op task, one after another, inside a flow;
  the plain baseline calls the same function 1,000 times in a loop.
- ``map``: ``.map`` of a no-op task over 10,000 elements, then all results collected;
  the plain baseline is a list comprehension over the same function.
- ``flows``: 200 top-level flow runs, one after another, each calling one no-op task: what
  a flow run costs on its own, including (on SQLite) its start and its end being made
  durable; the plain baseline calls the function 200 times.

Each Plait workload runs in two modes: ``memory`` (``PLAIT_PERSIST_RUNS=false``: the journal
stays in memory) and ``sqlite`` (the default run store, a fresh ``$PLAIT_HOME/plait.db``: every
run and its full state history is written by the background writer, and the flow's end waits
for the last batch to be durable, so the time includes all of it).

Per-task overhead is (Plait time - plain time) / tasks, best of ``--repeat`` runs after a
warm-up. Peak memory is the subprocess's maximum resident set size after one run of the
workload (the in-memory journal keeps every run's events, so later runs would add up). Bytes
per task run is the SQLite file's size (WAL checkpointed) over the task runs it holds. Import
time is ``python -c "import plait"`` minus ``python -c "pass"``, best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

SIZES = {"sequential": 1_000, "map": 10_000, "flows": 200}
ENGINES = ("plain", "memory", "sqlite")


def noop(x: int) -> int:
    return x


def run_workload(name: str, engine: str, repeat: int) -> dict:
    """Runs in the subprocess: time one workload, best of ``repeat``."""
    n = SIZES[name]
    if engine == "plain":
        plain = lambda: [noop(i) for i in range(n)]  # noqa: E731
        bodies = {"sequential": plain, "map": plain, "flows": plain}
    else:
        from plait import flow, task

        noop_task = task(noop)

        @flow
        def sequential_flow() -> None:
            for i in range(n):
                noop_task(i)

        @flow
        def map_flow() -> list[int]:
            return noop_task.map(range(n)).result()

        @flow
        def one_task_flow() -> int:
            return noop_task(0)

        def flow_runs() -> None:
            for _ in range(n):
                one_task_flow()

        bodies = {"sequential": sequential_flow, "map": map_flow, "flows": flow_runs}
    body = bodies[name]
    body()  # warm-up (imports, thread pool, first-call caches); also the memory measurement
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    best = min(_timed(body) for _ in range(repeat))
    result = {"seconds": best, "peak_mib": peak_kib / 1024}
    if engine == "sqlite":
        result["bytes_per_task_run"] = _bytes_per_task_run()
    return result


def _bytes_per_task_run() -> float:
    import sqlalchemy as sa

    from plait.settings import load_settings
    from plait.store.database import open_database

    settings = load_settings()
    database = open_database()
    with database.writing() as connection:
        task_runs = connection.execute(sa.text("SELECT count(*) FROM task_runs")).scalar()
    with database.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return settings.database_path.stat().st_size / task_runs


def _timed(body) -> float:
    started = time.perf_counter()
    body()
    return time.perf_counter() - started


def _measure(name: str, engine: str, repeat: int) -> dict:
    command = [sys.executable, __file__, "--child", name, engine, "--repeat", str(repeat)]
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "PLAIT_LOGGING_LEVEL": "WARNING", "PLAIT_HOME": home}
        env.pop("PLAIT_DATABASE_URL", None)
        env["PLAIT_PERSIST_RUNS"] = "true" if engine == "sqlite" else "false"
        output = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(output.stdout)


def _import_seconds(module: str | None, repeat: int) -> float:
    code = f"import {module}" if module else "pass"
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat", type=int, default=5, help="timed runs per workload (best is kept)"
    )
    parser.add_argument("--child", nargs=2, metavar=("WORKLOAD", "ENGINE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_workload(*args.child, repeat=args.repeat)))
        return

    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{'workload':<12}{'tasks':>8}{'mode':>8}{'seconds':>10}{'overhead/task':>16}"
          f"{'vs memory':>11}{'peak MiB':>10}{'bytes/task run':>16}")  # fmt: skip
    for name, n in SIZES.items():
        results = {engine: _measure(name, engine, args.repeat) for engine in ENGINES}
        plain = results["plain"]["seconds"]
        memory_overhead = (results["memory"]["seconds"] - plain) / n
        for engine, result in results.items():
            overhead = (result["seconds"] - plain) / n
            ratio = f"{overhead / memory_overhead:>10.2f}x" if engine == "sqlite" else " " * 11
            size = result.get("bytes_per_task_run")
            print(f"{name:<12}{n:>8,}{engine:>8}{result['seconds']:>10.4f}"
                  f"{overhead * 1e6:>13.1f} µs{ratio}{result['peak_mib']:>10.1f}"
                  f"{'' if size is None else f'{size:,.0f}':>16}")  # fmt: skip
    bare = _import_seconds(None, args.repeat)
    with_plait = _import_seconds("plait", args.repeat)
    print(f"import plait: {(with_plait - bare) * 1000:.0f} ms on top of interpreter start-up "
          f"({with_plait * 1000:.0f} ms for `python -c \"import plait\"`)")  # fmt: skip


if __name__ == "__main__":
    main()
