"""Start-up: a script with one flow calling one task, run as ``python script.py`` in a fresh
process on the embedded SQLite store, against the bare interpreter (``python -c pass``).

    make bench                         # or: uv run python bench/startup.py [--rounds N]
    .venv/bin/python bench/startup.py --base /tmp/base   # side by side with another checkout

Each round runs the bare interpreter, then the script once per tree, each in a new
subprocess; every tree has its own ``PLAIT_HOME``, created and migrated by one untimed run
first, so the figures are a warm store's (every run recorded at exit). Output goes to
``/dev/null``, so stderr is not a terminal (as under cron or CI). ``--base DIR`` adds a
checkout of another commit (its ``core/`` is imported as ``plait`` through ``PYTHONPATH``,
with this environment's packages), so both trees meet the same noise. Wall times are median
and min over the rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT = """\
from plait import flow, task
@task
def add(x): return x + 1
@flow
def one(): return add(1)
if __name__ == "__main__": print(one())
"""


def wall(command: list[str], env: dict[str, str]) -> float:
    """Seconds from starting ``command`` to its exit (it must succeed)."""
    start = time.perf_counter()
    subprocess.run(
        command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def tree_env(work: Path, label: str, base: Path | None) -> dict[str, str]:
    """The environment of one tree's runs: its own PLAIT_HOME, and for a base checkout a
    ``plait`` link to its ``core/`` first on the path."""
    env = {**os.environ, "PLAIT_HOME": str(work / label / "home")}
    env.pop("PLAIT_DATABASE_URL", None)
    if base is not None:
        (work / label / "path").mkdir(parents=True)
        (work / label / "path" / "plait").symlink_to(base.resolve() / "core")
        env["PYTHONPATH"] = str(work / label / "path")
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--base", type=Path, help="a checkout to run side by side")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        script = work / "one_task.py"
        script.write_text(SCRIPT)
        trees = {"this tree": tree_env(work, "this", None)}
        if args.base is not None:
            trees = {f"base {args.base}": tree_env(work, "base", args.base), **trees}
        command = [sys.executable, str(script)]
        for env in trees.values():
            wall(command, env)  # creates and migrates the store
        times: dict[str, list[float]] = {"python -c pass": [], **{label: [] for label in trees}}
        for _ in range(args.rounds):
            times["python -c pass"].append(wall([sys.executable, "-c", "pass"], dict(os.environ)))
            for label, env in trees.items():
                times[label].append(wall(command, env))
    bare = statistics.median(times["python -c pass"])
    print(f"start-up, one flow + one task, {args.rounds} rounds (wall seconds)")
    for label, seconds in times.items():
        median = statistics.median(seconds)
        print(
            f"  {label:<40} median {median:6.3f}  min {min(seconds):6.3f}"
            f"  bare interpreter {bare / median:4.0%}"
        )


if __name__ == "__main__":
    main()
