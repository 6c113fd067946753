"""Artifacts: what a run keeps for people to look at, as in Prefect: a markdown report, a
table, a link, a progress bar. Each is recorded with the run (``plait artifact ls``,
``plait flow-run inspect``; the dashboard renders them). Made again under the same ``key``,
an artifact gets a new version and the key shows the latest; a progress artifact is
updated in place. Files kept with the run's results are ``plait.write_artifact``'s.
"""

from __future__ import annotations

import json
import math
import re
import threading
from datetime import UTC, datetime
from typing import Any

from plait import journal
from plait.context import flow_run_var, task_run_var
from plait.exceptions import MissingContextError, ParameterError
from plait.runs import ArtifactRecord, new_id

_KEY = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
KEY_LIMIT = 255

_progress: dict[str, ArtifactRecord] = {}  # this process's progress artifacts, by id
_progress_lock = threading.Lock()


def create_markdown_artifact(
    markdown: str, key: str | None = None, description: str | None = None
) -> str:
    """Keep a markdown report with the run in progress; returns the artifact's id."""
    what = "create_markdown_artifact()"
    _check_text(markdown, what, "markdown")
    return _record(what, "markdown", {"markdown": markdown}, key, description).id


def create_table_artifact(
    table: list[dict[str, Any]] | dict[str, list[Any]] | list[list[Any]],
    key: str | None = None,
    description: str | None = None,
) -> str:
    """Keep a table with the run in progress: a list of rows as dicts, a dict of columns,
    or a list of rows as lists (JSON values; NaN becomes null). Returns the artifact's id."""
    what = "create_table_artifact()"
    rows_as_dicts = isinstance(table, list) and all(isinstance(row, dict) for row in table)
    rows_as_lists = isinstance(table, list) and all(isinstance(row, list) for row in table)
    columns = isinstance(table, dict) and all(isinstance(col, list) for col in table.values())
    if not (rows_as_dicts or rows_as_lists or columns):
        raise ParameterError(
            f"{what}: table must be a list of rows as dicts ([{{'name': 'a', 'n': 1}}]), a dict "
            f"of columns ({{'name': ['a'], 'n': [1]}}) or a list of rows as lists; got "
            f"{type(table).__name__}."
        )
    data = {"table": _json_safe(_without_nan(table), what, "table")}
    return _record(what, "table", data, key, description).id


def create_link_artifact(
    link: str, link_text: str | None = None, key: str | None = None,
    description: str | None = None,
) -> str:  # fmt: skip
    """Keep a link (to a dashboard, a file in a bucket) with the run in progress; returns
    the artifact's id."""
    what = "create_link_artifact()"
    _check_text(link, what, "link")
    if link_text is not None:
        _check_text(link_text, what, "link_text")
    data = {"link": link, "link_text": link_text}
    return _record(what, "link", data, key, description).id


def create_progress_artifact(
    progress: float, key: str | None = None, description: str | None = None
) -> str:
    """Keep a progress bar (0 to 100) with the run in progress; returns the artifact's id,
    for ``update_progress_artifact``."""
    what = "create_progress_artifact()"
    data = {"progress": _check_progress(progress, what)}
    record = _record(what, "progress", data, key, description)
    with _progress_lock:
        _progress[record.id] = record
    return record.id


def update_progress_artifact(
    artifact_id: str, progress: float, description: str | None = None
) -> str:
    """Move a progress artifact made in this process to ``progress`` (0 to 100), in place."""
    what = "update_progress_artifact()"
    with _progress_lock:
        record = _progress.get(artifact_id)
        if record is None:
            raise ParameterError(
                f"{what}: no progress artifact {artifact_id!r} was made in this process; give "
                "the id create_progress_artifact() returned, in the process that called it."
            )
        updated = ArtifactRecord(
            record.id, record.key, record.type, record.flow_run_id, record.task_run_id,
            {"progress": _check_progress(progress, what)}, datetime.now(UTC),
            record.description if description is None else _checked_description(description, what),
        )  # fmt: skip
        _progress[artifact_id] = updated
    journal.record(updated)
    return artifact_id


def _check_key(key: Any, what: str) -> str:
    """An artifact key as Prefect allows them: lowercase letters, digits and dashes."""
    if not isinstance(key, str) or len(key) > KEY_LIMIT or not _KEY.fullmatch(key):
        raise ParameterError(
            f"{what}: key must be lowercase letters, digits and dashes, such as "
            f"'daily-report', at most {KEY_LIMIT} characters; got {key!r}."
        )
    return key


def _record(
    what: str, kind: str, data: dict[str, Any], key: str | None, description: str | None
) -> ArtifactRecord:
    key = "" if key is None else _check_key(key, what)
    if description is not None:
        _checked_description(description, what)
    flow_context, task_context = flow_run_var.get(), task_run_var.get()
    if flow_context is not None:
        flow_run_id = flow_context.flow_run.id
    elif task_context is not None and task_context.task_run.flow_run_id is not None:
        flow_run_id = task_context.task_run.flow_run_id  # a task on a worker process
    else:
        raise MissingContextError(
            f"{what} keeps the artifact with a flow run: call it in a flow, or in a task of one."
        )
    task_run_id = None
    if task_context is not None and task_context.task_run.flow_run_id == flow_run_id:
        task_run_id = task_context.task_run.id
    record = ArtifactRecord(
        new_id(), key, kind, flow_run_id, task_run_id, data, datetime.now(UTC), description
    )
    journal.record(record)
    return record


def _check_text(value: Any, what: str, field: str) -> None:
    if not isinstance(value, str):
        raise ParameterError(f"{what}: {field} must be text; got {type(value).__name__}.")


def _checked_description(description: Any, what: str) -> str:
    _check_text(description, what, "description")
    return description


def _check_progress(progress: Any, what: str) -> float:
    if (
        isinstance(progress, bool)
        or not isinstance(progress, int | float)
        or not 0 <= progress <= 100
    ):
        raise ParameterError(f"{what}: progress must be a number from 0 to 100; got {progress!r}.")
    return float(progress)


def _without_nan(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, list):
        return [_without_nan(item) for item in value]
    if isinstance(value, dict):
        return {key: _without_nan(item) for key, item in value.items()}
    return value


def _json_safe(value: Any, what: str, field: str) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"{what}: {field} must hold JSON values only (text, numbers, booleans, null, "
            f"lists, dicts with text keys): {exc}."
        ) from None
    return value


__all__ = [
    "create_link_artifact",
    "create_markdown_artifact",
    "create_progress_artifact",
    "create_table_artifact",
    "update_progress_artifact",
]
