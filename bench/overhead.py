"""Orchestration overhead: plain Python against Plait on the same work, in one run.

    make bench                         # or: uv run python bench/overhead.py [--repeat N]

Workloads (each in a fresh subprocess, so peak memory is the workload's own):

- ``sequential``: 1,000 calls of a no-op task, one after another, inside a flow;
  the plain baseline calls the same function 1,000 times in a loop.
- ``map``: ``.map`` of a no-op task over 10,000 elements, then all results collected;
  the plain baseline is a list comprehension over the same function.

Per-task overhead is (Plait time - plain time) / tasks, best of ``--repeat`` runs after a
warm-up. Peak memory is the subprocess's maximum resident set size after one run of the
workload (the in-memory journal keeps every run's events, so later runs would add up). Import
time is
``python -c "import plait"`` minus ``python -c "pass"``, best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

SIZES = {"sequential": 1_000, "map": 10_000}


def noop(x: int) -> int:
    return x


def run_workload(name: str, engine: str, repeat: int) -> dict:
    """Runs in the subprocess: time one workload, best of ``repeat``."""
    n = SIZES[name]
    if engine == "plain":
        sequential = lambda: [noop(i) for i in range(n)]  # noqa: E731
        mapped = sequential
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

        sequential, mapped = sequential_flow, map_flow
    body = sequential if name == "sequential" else mapped
    body()  # warm-up (imports, thread pool, first-call caches); also the memory measurement
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    best = min(_timed(body) for _ in range(repeat))
    return {"seconds": best, "peak_mib": peak_kib / 1024}


def _timed(body) -> float:
    started = time.perf_counter()
    body()
    return time.perf_counter() - started


def _measure(name: str, engine: str, repeat: int) -> dict:
    command = [sys.executable, __file__, "--child", name, engine, "--repeat", str(repeat)]
    env = {**os.environ, "PLAIT_LOGGING_LEVEL": "WARNING"}
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
    print(f"{'workload':<12}{'tasks':>8}{'plain s':>10}{'plait s':>10}{'overhead/task':>16}"
          f"{'plain MiB':>11}{'plait MiB':>11}")  # fmt: skip
    for name, n in SIZES.items():
        plain = _measure(name, "plain", args.repeat)
        plait = _measure(name, "plait", args.repeat)
        overhead_us = (plait["seconds"] - plain["seconds"]) / n * 1e6
        seconds = f"{plain['seconds']:>10.4f}{plait['seconds']:>10.4f}"
        memory = f"{plain['peak_mib']:>11.1f}{plait['peak_mib']:>11.1f}"
        print(f"{name:<12}{n:>8,}{seconds}{overhead_us:>13.1f} µs{memory}")
    bare = _import_seconds(None, args.repeat)
    with_plait = _import_seconds("plait", args.repeat)
    print(f"import plait: {(with_plait - bare) * 1000:.0f} ms on top of interpreter start-up "
          f"({with_plait * 1000:.0f} ms for `python -c \"import plait\"`)")  # fmt: skip


if __name__ == "__main__":
    main()
