"""The CLI on a big flow run: wall time and peak memory of each command, in a fresh process.

    uv run python bench/cli_large.py [--tasks 100000] [--base-rev a30edce]

Builds, in a temporary PLAIT_HOME (SQLite, the default store), one real flow run: a task
``prep``, then ``work.map`` over ``--tasks`` elements (each waiting on ``prep``, one in
10,000 failing), then ``total`` waiting on every ``work`` run; the store writer records
their states and upstream edges as in any run. Then runs each ``plait`` command in a fresh
process, stdout to a pipe (not a terminal), and reports its wall time and peak RSS
(``os.wait4``); bytecode is compiled by the first process and reused. With ``--base-rev``,
that commit is checked out in a temporary git worktree with its own .venv and its commands
run on the same store, alternating with this tree's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BUILD = """
from plait import flow, task, unmapped

@task
def prep() -> int:
    return 1

@task
def work(x: int, offset: int) -> int:
    if x % 10_000 == 7:
        raise ValueError("element %d is bad" % x)
    return x + offset

@task
def total(values: list[int]) -> int:
    return len(values)

@flow
def large(n: int) -> None:
    offset = prep.submit()
    out = work.map(range(n), offset=unmapped(offset))
    total.submit(out).wait()

state = large({tasks}, return_state=True)
print(state.type.value)
"""


def commands(flow_run: str, cursor: str) -> list[tuple[str, list[str], list[str] | None]]:
    """(label, arguments on this tree, arguments on the base commit or None)."""
    inspect = ["flow-run", "inspect", flow_run]
    task_runs = ["task-run", "ls", "--flow-run", flow_run]
    return [
        ("flow-run ls", ["flow-run", "ls"], ["flow-run", "ls"]),
        ("flow-run inspect ID", inspect, inspect),
        ("flow-run inspect ID --graph", [*inspect, "--graph"], [*inspect, "--graph"]),
        ("flow-run inspect ID --output json", [*inspect, "--output", "json"], None),
        ("task-run ls --flow-run ID", task_runs, task_runs),
        ("task-run ls ... --output json", [*task_runs, "--output", "json"], None),
        ("task-run ls ... --after CURSOR", [*task_runs, "--after", cursor], None),
        ("task-run ls ... --limit 10000", [*task_runs, "--limit", "10000"], None),
    ]


def run(plait: Path, args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB, and stdout of ``plait ARGS`` in a fresh process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen([str(plait), *args], stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise SystemExit(f"plait {' '.join(args)} failed: {err.read().decode()[-2000:]}")
        return wall, usage.ru_maxrss / 1024, out.read().decode()


def base_tree(rev: str) -> Path:
    """A temporary worktree of ``rev`` with its .venv."""
    path = Path(tempfile.mkdtemp(prefix="plait-bench-base-"))
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(path),
                    rev], check=True)  # fmt: skip
    subprocess.run(["python3", "-m", "uv", "sync", "--locked", "--all-packages",
                    "--compile-bytecode", "--quiet"], cwd=path, check=True)  # fmt: skip
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--base-rev", help="also run the commands on this commit")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="plait-bench-cli-"))
    env = {**os.environ, "PLAIT_HOME": str(home), "PLAIT_LOGGING_LEVEL": "WARNING"}
    env["PYTHONPYCACHEPREFIX"] = str(home / "pycache")  # compiled once, as installs are
    for name in ("PLAIT_DATABASE_URL", "COLUMNS", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    script = home / "build.py"
    script.write_text(textwrap.dedent(BUILD.format(tasks=args.tasks)))
    started = time.perf_counter()
    subprocess.run([sys.executable, str(script)], env=env, check=True, capture_output=True)
    print(f"built a flow run of {args.tasks + 2:,} task runs in "
          f"{time.perf_counter() - started:.1f} s; store "
          f"{(home / 'plait.db').stat().st_size / 2**20:.0f} MiB")  # fmt: skip
    here = ROOT / ".venv" / "bin" / "plait"
    _, _, listing = run(here, ["flow-run", "ls", "--output", "json"], env)
    flow_run = json.loads(listing)["flow_runs"][0]["id"]
    _, _, first = run(here, ["task-run", "ls", "--flow-run", flow_run, "--output", "json"], env)
    cursor = json.loads(first)["next_cursor"]
    base: Path | None = None
    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} "
          "CPUs; wall time and peak RSS of each command, one fresh process each")  # fmt: skip
    header = f"{'command':<36} {'this tree':>18}"
    print(header + (f" {'base ' + args.base_rev:>18}" if args.base_rev else ""))
    try:
        base = base_tree(args.base_rev) if args.base_rev else None
        for label, mine, theirs in commands(flow_run, cursor):
            trees = [(here, mine)]
            if base is not None:
                trees.append((base / ".venv" / "bin" / "plait", theirs))
            cells = []
            for plait, arguments in trees:
                if arguments is None:
                    cells.append(f"{'(no such option)':>18}")
                    continue
                wall, rss, _ = run(plait, arguments, env)
                cells.append(f"{wall:>7.2f} s {rss:>6.0f} MiB")
            print(f"{label:<36} " + " ".join(cells), flush=True)
    finally:
        if base is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                           check=False)  # fmt: skip
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
