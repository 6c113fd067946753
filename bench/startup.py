"""Start-up: a script with one flow calling one task, run as ``python script.py`` in a fresh
process on the embedded SQLite store, end to end (every run recorded at exit).

    uv run python bench/startup.py [--rounds N] [--base PYTHON]

Each round runs, in fresh processes and in this order: the bare interpreter
(``python -c pass``), ``python -c "import plait"`` and the script, against a ``PLAIT_HOME``
whose store an earlier run created (so no migration is timed). With ``--base``, the same is
run alternately with another tree's interpreter (e.g. ``/tmp/base/.venv/bin/python``, see
``bench/side_by_side.sh``), so both are measured under the same load. Reports the median and
the best wall time of each.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT = """
from plait import flow, task

@task
def add(x):
    return x + 1

@flow
def one():
    return add(1)

if __name__ == "__main__":
    print(one())
"""
CASES = {
    "bare interpreter": ["-c", "pass"],
    "import plait": ["-c", "import plait"],
    "one-task flow script": None,  # the script
}


def wall(python: str, args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([python, *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--base", help="another tree's python, measured alternately")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="plait-bench-startup-"))
    script = work / "one.py"
    script.write_text(SCRIPT)
    trees = {"this tree": sys.executable, **({"base": options.base} if options.base else {})}
    envs = {}
    for label, python in trees.items():
        home = work / label.replace(" ", "-")
        env = {**os.environ, "PLAIT_HOME": str(home)}
        env.pop("PLAIT_DATABASE_URL", None)
        wall(python, [str(script)], env)  # creates and migrates the store
        envs[label] = env
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(options.rounds):
        for label, python in trees.items():
            for case, args in CASES.items():
                seconds = wall(python, args or [str(script)], envs[label])
                times.setdefault((label, case), []).append(seconds)
    no_bytecode = os.environ.get("PYTHONDONTWRITEBYTECODE", "unset")
    print(f"# {platform.machine()}, CPython {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"{options.rounds} rounds, PYTHONDONTWRITEBYTECODE={no_bytecode}")  # fmt: skip
    print("| tree | case | median | best |")
    print("|---|---|---:|---:|")
    for (label, case), values in times.items():
        print(f"| {label} | {case} | {statistics.median(values):.3f} s | {min(values):.3f} s |")


if __name__ == "__main__":
    main()
