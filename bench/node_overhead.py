"""plait-dbt: what recording every dbt node as a task run costs on top of dbt itself.

    uv run python bench/node_overhead.py [--chains 10] [--length 10] [--repeat 3]

A generated dbt project on dbt-duckdb: one seed feeding ``--chains`` chains of ``--length``
view models, each model with a ``not_null`` test, so ``2 * chains * length + 1`` nodes run
with 4 threads. Both sides parse the project and then build it with the parsed manifest,
with dbt's console output off:

- dbt alone: ``dbtRunner().invoke(["parse", ...])`` then ``dbtRunner(manifest=...)
  .invoke(["build", ...])``, as a script calling dbt would.
- ``run_dbt``: the same, plus the flow run, one task run per node with its edges, dbt's log
  lines routed to the node runs, the background writer saving it all to the default SQLite
  store, and run_results.json and manifest.json kept with the run's results.

Each is measured with dbt's console output off and on (for dbt, ``--log-level info`` to
stdout; for Plait, ``PLAIT_LOGGING_LEVEL`` INFO, the default, where every dbt line is
journaled and printed through rich), with the console sent to /dev/null. Best of
``--repeat`` rounds after a warm-up, each timed whole. (This file is not named
``dbt_*``: dbt imports every such top-level module it finds on ``sys.path`` as a plugin.)
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import tempfile
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from timing import best

QUIET = ["--no-use-colors", "--log-level", "none", "--no-send-anonymous-usage-stats"]
CONSOLE = ["--no-use-colors", "--log-level", "info", "--no-send-anonymous-usage-stats"]


def write_project(root: Path, chains: int, length: int) -> Path:
    """The generated project; returns its directory."""
    project = root / "bench_project"
    (project / "models").mkdir(parents=True)
    (project / "seeds").mkdir()
    (project / "dbt_project.yml").write_text(
        "name: bench_project\nprofile: bench\nconfig-version: 2\n"
        "models:\n  bench_project:\n    +materialized: view\n"
    )
    (project / "seeds" / "numbers.csv").write_text("n\n" + "\n".join(map(str, range(100))))
    tests = []
    for chain in range(chains):
        upstream = "ref('numbers')"
        for step in range(length):
            name = f"m_{chain}_{step}"
            (project / "models" / f"{name}.sql").write_text(f"select n from {{{{ {upstream} }}}}")
            tests.append(
                f"  - name: {name}\n    columns:\n      - name: n\n        data_tests: [not_null]"
            )
            upstream = f"ref('{name}')"
    (project / "models" / "schema.yml").write_text("version: 2\nmodels:\n" + "\n".join(tests))
    (root / "profiles.yml").write_text(
        "bench:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {root / 'bench.duckdb'}\n      threads: 4\n"
    )
    return project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=10)
    parser.add_argument("--length", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="plait-bench-dbt-"))
    os.environ["PLAIT_HOME"] = str(root / "plait-home")
    os.environ.pop("PLAIT_DATABASE_URL", None)
    project = write_project(root, args.chains, args.length)
    dirs = ["--project-dir", str(project), "--profiles-dir", str(root)]

    from dbt.cli.main import dbtRunner

    from plait_dbt import DbtProject, run_dbt

    def dbt_alone(flags: list[str]) -> None:
        manifest = dbtRunner().invoke(["parse", *dirs, *QUIET]).result
        assert dbtRunner(manifest=manifest).invoke(["build", *dirs, *flags]).success

    nodes = 2 * args.chains * args.length + 1
    shop = DbtProject(project_dir=project, profiles=root)

    def with_plait(level: str) -> Callable[[], None]:
        def run() -> None:
            logging.getLogger("plait").setLevel(level)
            assert len(run_dbt(shop).nodes) == nodes

        return run

    with open(os.devnull, "w") as devnull, redirect_stdout(devnull), redirect_stderr(devnull):
        times = {
            "dbt alone, console off": best(lambda: dbt_alone(QUIET), args.repeat),
            "dbt alone, its console output on": best(lambda: dbt_alone(CONSOLE), args.repeat),
            "`run_dbt`, PLAIT_LOGGING_LEVEL=WARNING": best(with_plait("WARNING"), args.repeat),
            "`run_dbt`, INFO (the default)": best(with_plait("INFO"), args.repeat),
        }
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    print(f"{machine}, CPython {platform.python_version()}; {nodes} dbt nodes on dbt-duckdb")
    print("| | time | per node | over dbt alone, console off |")
    print("|---|---|---|---|")
    baseline = next(iter(times.values()))
    for label, seconds in times.items():
        extra = seconds - baseline
        print(
            f"| {label} | {seconds:.2f} s | {seconds / nodes * 1e3:.2f} ms | "
            f"{extra / nodes * 1e3:+.2f} ms/node ({extra / baseline:+.0%}) |"
        )


if __name__ == "__main__":
    main()
