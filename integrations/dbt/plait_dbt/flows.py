"""``run_dbt``: a dbt invocation as a Plait flow, each node a task run."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from functools import partial
from typing import Any, Literal

from plait import flow, get_run_context, get_run_logger, write_artifact
from plait_dbt.errors import DbtError, DbtRunError
from plait_dbt.node_runs import NodeRuns, log_event
from plait_dbt.project import DbtProject
from plait_dbt.results import DbtRunResult

Command = Literal["build", "run", "test", "seed", "snapshot"]
Selection = str | list[str] | None

ARTIFACTS = ("run_results.json", "manifest.json")
QUIET = ["--no-use-colors", "--log-level", "none", "--no-send-anonymous-usage-stats"]
"""dbt's own console output is off: its events reach the run's logs instead. Anonymous usage
statistics are off: they would call out to the internet from the user's flow."""
SHOWN = 20  # failed nodes named in a run's error message

_dbt = threading.Lock()
"""dbt keeps global state (flags, adapters, the event manager): one invocation at a time per
process, so concurrent ``run_dbt`` calls queue here."""


def _run_name(parameters: dict[str, Any]) -> str:
    """``dbt-build``, ``dbt-retry``: what the flow run does."""
    return "dbt-retry" if parameters["retry_failed"] else f"dbt-{parameters['command']}"


@flow(flow_run_name=_run_name)
def run_dbt(
    project: DbtProject,
    command: Command = "build",
    select: Selection = None,
    exclude: Selection = None,
    vars: dict[str, Any] | None = None,
    full_refresh: bool = False,
    retry_failed: bool = False,
) -> DbtRunResult:
    """Run ``dbt <command>`` on ``project``; each model, seed, snapshot and test that runs is
    a task run, with the manifest's dependencies as edges and dbt's log lines in its logs.

    ``select`` and ``exclude`` take dbt's selection syntax (a string or a list), ``vars`` the
    project variables. ``retry_failed=True`` runs ``dbt retry``: only the nodes that failed or
    were skipped in the project's last invocation, with its command, selection and vars.
    ``run_results.json`` and ``manifest.json`` are kept with the flow run's results
    (``DbtRunResult.artifacts``). Raises ``DbtRunError`` naming each failed node when any node
    fails.
    """
    if retry_failed and (select or exclude or vars or full_refresh):
        raise DbtError(
            "run_dbt: retry_failed=True reruns what failed in the last invocation, with that "
            "invocation's command, selection, vars and flags; leave select, exclude, vars and "
            "full_refresh unset."
        )
    logger = get_run_logger()
    context = get_run_context()  # the node runs belong to this flow run
    with _dbt, project.cli_args() as project_args:
        if retry_failed:
            args = ["retry"]
            vars = _previous_run(project)["args"].get("vars")  # what dbt retry will use
        else:
            args = [command, *_selection(select, exclude), *(["--full-refresh"] * full_refresh)]
        dbt_args = [*project_args, *(["--vars", json.dumps(vars)] if vars else []), *QUIET]
        manifest = _parse(dbt_args, logger)
        nodes = NodeRuns(manifest, context, logger)
        from dbt.cli.main import dbtRunner

        try:
            outcome = dbtRunner(manifest=manifest, callbacks=[nodes]).invoke([*args, *dbt_args])
        finally:
            _release_connections()
        node_results = nodes.close()
    artifacts = _keep_artifacts(project, nodes.invocation_id)
    result = DbtRunResult(args[0], outcome.success, node_results, artifacts)
    if outcome.exception is not None:
        raise DbtRunError(f"dbt {args[0]} could not run: {outcome.exception}", result)
    if not outcome.success:
        raise DbtRunError(_failure_message(result), result)
    logger.info(result.summary())
    return result


def _release_connections() -> None:
    """Close what dbt's adapters keep open after an invocation: dbt-duckdb would otherwise
    hold its database file, and DuckDB's lock on it, until the process exits."""
    from dbt.adapters.factory import FACTORY

    for adapter in list(FACTORY.adapters.values()):
        adapter.cleanup_connections()
        close_all = getattr(type(adapter.connections), "close_all_connections", None)
        if close_all is not None:
            close_all()


def _selection(select: Selection, exclude: Selection) -> list[str]:
    args: list[str] = []
    for flag, value in (("--select", select), ("--exclude", exclude)):
        if value:
            args += [flag, *([value] if isinstance(value, str) else value)]
    return args


def _parse(args: Sequence[str], logger: logging.LoggerAdapter[Any]) -> Any:
    """The project's manifest (dbt's ``parse``), for the dependencies between nodes. Its
    warnings (deprecations, unused configuration) go to the flow run's logs."""
    from dbt.cli.main import dbtRunner

    warnings = partial(log_event, logger, minimum=logging.WARNING)
    outcome = dbtRunner(callbacks=[warnings]).invoke(["parse", *args])
    if not outcome.success:
        raise DbtError(f"dbt could not parse the project: {outcome.exception}")
    return outcome.result


def _previous_run(project: DbtProject) -> dict[str, Any]:
    """The last invocation's ``run_results.json``, which ``dbt retry`` reruns."""
    path = project.target_path() / "run_results.json"
    if not path.is_file():
        raise DbtError(
            f"run_dbt: retry_failed=True, but {path.parent} holds no run_results.json, so "
            "there is nothing to retry; run it without retry_failed first."
        )
    return json.loads(path.read_bytes())


def _keep_artifacts(project: DbtProject, invocation_id: str | None) -> dict[str, Any]:
    """``run_results.json`` and ``manifest.json``, kept with the flow run's results; a
    ``run_results.json`` left by an earlier invocation (this one stopped before writing its
    own) is not kept."""
    kept = {}
    target = project.target_path()
    for name in ARTIFACTS:
        path = target / name
        if not path.is_file():
            continue
        try:
            artifact = json.loads(path.read_bytes())
            written_by = artifact.get("metadata", {}).get("invocation_id")
            if name == "run_results.json" and written_by != invocation_id:
                continue
            kept[name] = write_artifact(f"dbt/{name}", artifact)
        except Exception as exc:
            get_run_logger().warning("dbt's %s was not kept: %s", name, exc)
    return kept


def _failure_message(result: DbtRunResult) -> str:
    failed, skipped = result.failed, result.skipped
    lines = [f"{result.summary()}."]
    lines += [f"- {node.unique_id}: {node.describe()}" for node in failed[:SHOWN]]
    if len(failed) > SHOWN:
        lines.append(f"- and {len(failed) - SHOWN} more (see run_results.json)")
    if skipped:
        names = ", ".join(node.unique_id for node in skipped[:SHOWN])
        more = f" and {len(skipped) - SHOWN} more" if len(skipped) > SHOWN else ""
        lines.append(f"Skipped because of them: {names}{more}.")
    return "\n".join(lines)
