"""Reading recorded runs: the Python API behind the CLI (and, later, the dashboard).

    from plait.client import get_client

    client = get_client()
    for run in client.read_flow_runs(state="Failed", limit=10):
        print(run.name, run.state_message)

Run ids may be given in full or as a unique prefix. Every read first marks the flow runs of
dead processes as Crashed, so what you read is never a stale "Running". Records are the
``plait.runs`` ones; the queries come from the configured backend (``plait.backend``).

May import: ``plait.backend``, ``plait.runs``, ``plait.results``, the public modules below
them. Imported by ``plait.cli`` and users; never by the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from plait.backend import Backend, get_backend, open_backend
from plait.backend.deployments import ClaimedRun, DeploymentRecord, LateMarking, ScheduledRun
from plait.backend.runs import MAX_PAGE, FlowRunFilter, RunQueries
from plait.exceptions import ParameterError, StateRefusedError
from plait.runs import (
    ArtifactRecord,
    FlowRunRecord,
    LogRecord,
    Page,
    RunRecord,
    StateRecord,
    TaskGraph,
    TaskGraphNode,
    TaskRunRecord,
    TaskRunSummary,
)
from plait.states import FINAL_TYPES, StateType

if TYPE_CHECKING:
    from plait.backend.deployments import Deployments
    from plait.deployments import Deployment
    from plait.journal.process import ProcessIdentity

MAX_AGE = timedelta(days=36_500)  # a century: older cut-offs fall before the year 1
DEFAULT_PAGE = 100


class Client:
    """Reads (and deletes) recorded runs through one backend's queries."""

    def __init__(self, queries: RunQueries, backend: Backend | None = None) -> None:
        self.queries = queries
        self.backend = backend  # for deployments (the configured backend if None)

    def describe(self) -> str:
        """Where the runs are read from (no password)."""
        return self.queries.describe()

    def read_flow_runs(
        self,
        flow_name: str | None = None,
        state: StateType | str | None = None,
        limit: int = 50,
        *,
        tags: Sequence[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[FlowRunRecord]:
        """Flow runs, newest first: optionally of one flow, in one state, with every one of
        ``tags``, created at or after ``since`` and before ``until``."""
        page = self.list_flow_runs(flow_name, state, limit, tags=tags, since=since, until=until)
        return page.items

    def list_flow_runs(
        self,
        flow_name: str | None = None,
        state: StateType | str | None = None,
        limit: int = DEFAULT_PAGE,
        after: str | None = None,
        *,
        tags: Sequence[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page[FlowRunRecord]:
        """A page of flow runs, newest first, filtered as ``read_flow_runs``; ``after`` is
        the ``next_cursor`` of the page before (with the same filters)."""
        which = FlowRunFilter(
            flow_name, _state_or_none(state), _checked_tags(tags),
            _aware(since, "since"), _aware(until, "until"),
        )  # fmt: skip
        return self.queries.read_flow_runs(which, _checked_limit(limit), after)

    def read_flow_run(self, flow_run_id: str) -> FlowRunRecord:
        """One flow run (id or unique prefix) with its state history."""
        return self.queries.read_flow_run(flow_run_id)

    def read_task_runs(self, flow_run_id: str) -> list[TaskRunRecord]:
        """All of a flow run's task runs in creation order, with their states and upstream
        runs (read a page at a time: ``list_task_runs`` for big runs)."""
        found: list[TaskRunRecord] = []
        after: str | None = None
        while True:
            page = self.list_task_runs(flow_run_id, limit=1000, after=after)
            found.extend(page.items)
            if page.next_cursor is None:
                return found
            after = page.next_cursor

    def list_task_runs(
        self,
        flow_run_id: str,
        state: StateType | str | None = None,
        limit: int = DEFAULT_PAGE,
        after: str | None = None,
    ) -> Page[TaskRunRecord]:
        """A page of a flow run's task runs in creation order, optionally in one state."""
        return self.queries.read_task_runs(
            flow_run_id, _state_or_none(state), _checked_limit(limit), after
        )

    def read_task_run_names(self, task_run_ids: list[str]) -> dict[str, str]:
        """The names of these task runs, by id (unknown ids are left out)."""
        return self.queries.read_task_run_names(task_run_ids)

    def summarize_task_runs(self, flow_run_id: str, limit: int = 10) -> TaskRunSummary:
        """A flow run's task runs counted by state, with at most ``limit`` of them listed,
        the unsuccessful ones first: cheap however many task runs there are."""
        return self.queries.summarize_task_runs(flow_run_id, _checked_limit(limit))

    def read_task_graph(self, flow_run_id: str) -> TaskGraph:
        """A flow run's task runs and the dependencies between them."""
        resolved = self.read_flow_run(flow_run_id).id
        return TaskGraph(flow_run_id=resolved, task_runs=self.read_task_runs(resolved))

    def read_collapsed_task_graph(self, flow_run_id: str) -> list[TaskGraphNode]:
        """A flow run's task graph with each mapped task's runs as one node (counted by
        state), in creation order: its size is the flow's shape, not its number of runs."""
        return self.queries.read_task_graph(flow_run_id)

    def read_logs(self, flow_run_id: str, after: int | None = None) -> list[LogRecord]:
        """A flow run's log lines (its task runs' included) in order; with ``after``, only
        lines recorded after the line with that id (to follow a run)."""
        return self.queries.read_logs(flow_run_id, after)

    def read_artifacts(self, flow_run_id: str) -> list[ArtifactRecord]:
        """The artifacts a flow run (its task runs included) kept, in the order they were
        written: each names its key, its type and where its file is."""
        return self.queries.read_artifacts(flow_run_id)

    def read_keyed_artifacts(
        self, key: str | None = None, limit: int = DEFAULT_PAGE
    ) -> list[ArtifactRecord]:
        """With ``key``, every version of that key's artifact, newest first; without, the
        latest version of each key (``plait artifact ls``), by key."""
        return self.queries.read_keyed_artifacts(key, limit)

    def read_artifact(self, artifact: ArtifactRecord) -> Any:
        """What a ``file`` artifact holds, read from the flow run's result storage."""
        from plait.results import ResultRef

        if artifact.type != "file" or "path" not in artifact.data:
            raise ParameterError(
                f"Artifact {artifact.key!r} ({artifact.type}) has no file to read: only "
                "'file' artifacts (write_artifact) are kept in the result storage."
            )
        return ResultRef.from_json(artifact.data).load()

    def read_result(self, run: RunRecord) -> Any:
        """A run's persisted result, read from its result storage."""
        from plait.results import ResultRef

        if run.result is None:
            raise ParameterError(
                f"Run {run.id} ({run.name!r}) has no persisted result: it is "
                f"{run.state.value if run.state else 'unstarted'}, or did not persist its result "
                "(persist_result=True keeps it)."
            )
        return ResultRef.from_json(run.result).load()

    def delete_flow_run(self, flow_run_id: str) -> int:
        """Delete one finished flow run (id or unique prefix) and everything recorded
        about it, its subflow runs included. Returns how many flow runs were deleted."""
        run = self.read_flow_run(flow_run_id)
        if run.state is None or run.state not in FINAL_TYPES:
            state = run.state.value if run.state else "unstarted"
            raise ParameterError(
                f"Flow run {run.id} ({run.name!r}) is {state}; only finished runs can be "
                "deleted. Wait for it to finish."
            )
        return self.queries.delete_flow_runs(ids=[run.id])

    def set_flow_run_state(
        self, flow_run_id: str, state: StateType | str, message: str | None = None
    ) -> FlowRunRecord:
        """Put a flow run (id or unique prefix) in ``state``, as the store's state rules
        allow (``plait.state_rules``): e.g. ``Cancelling`` asks a running flow run to end
        Cancelled. Returns the run as recorded; raises ``StateRefusedError`` naming the rule
        when they refuse."""
        wanted = _state_type(state)
        run = self.read_flow_run(flow_run_id)
        ruling = self.queries.set_flow_run_state(run.id, wanted, message)
        if ruling is not None:
            described = ruling.describe(f"Flow run {run.id} ({run.name!r})")
            raise StateRefusedError(described, run.id, ruling)
        return self.read_flow_run(run.id)

    def delete_flow_runs(self, older_than: timedelta) -> int:
        """Delete finished flow runs created more than ``older_than`` ago, with everything
        recorded about them. Returns how many flow runs were deleted."""
        if older_than < timedelta(0):
            raise ParameterError(f"older_than must not be negative; got {older_than}.")
        if older_than > MAX_AGE:
            raise ParameterError(
                f"older_than must be at most {MAX_AGE.days} days (no run is older); got "
                f"{older_than.days} days."
            )
        return self.queries.delete_flow_runs(older_than=older_than)

    # Deployments.

    def _deployments(self) -> Deployments:
        return (self.backend or get_backend()).deployments()

    def save_deployment(self, deployment: Deployment) -> DeploymentRecord:
        """Save ``deployment`` (``flow.to_deployment(...)``) under its name, replacing one of
        that name; returns the saved record."""
        return self._deployments().save(deployment.to_record())

    def read_deployment(self, name: str) -> DeploymentRecord:
        """The deployment named ``name`` (DeploymentNotFoundError if none)."""
        return self._deployments().read(name)

    def read_deployments(self) -> list[DeploymentRecord]:
        """Every deployment, by name."""
        return self._deployments().list()

    def delete_deployment(self, name: str) -> int:
        """Delete a deployment and its runs that have not started; returns how many runs."""
        return self._deployments().delete(name)

    def pause_deployment(self, name: str) -> int:
        """Stop scheduling a deployment: its schedules' runs that have not started are
        deleted (runs asked for by hand stay); returns how many."""
        return self._deployments().set_paused(name, True)

    def resume_deployment(self, name: str) -> None:
        """Schedule a paused deployment again (the next scheduler pass makes its runs)."""
        self._deployments().set_paused(name, False)

    def scheduled_ahead(self, now: datetime) -> dict[str, tuple[int, datetime]]:
        """For each deployment with Scheduled runs due at or after ``now``: how many, and
        when the last is due."""
        return self._deployments().scheduled_ahead(now)

    def create_scheduled_runs(self, runs: list[ScheduledRun], now: datetime) -> int:
        """Create the Scheduled runs the scheduler wants to exist, each once; returns how
        many were new."""
        return self._deployments().create_runs(runs, now)

    def mark_late_runs(self, now: datetime, grace: timedelta) -> LateMarking:
        """Mark the runs not started ``grace`` after their time Late, or skip them as their
        deployment's catchup says."""
        return self._deployments().mark_late(now, grace)

    def claim_deployment_runs(
        self, deployment_ids: list[str], now: datetime, grace: timedelta, limit: int,
        claimer: ProcessIdentity,
    ) -> list[ClaimedRun]:  # fmt: skip
        """Claim up to ``limit`` due runs of these deployments for ``claimer`` to start
        (each claimed by one process only, within the deployments' concurrency limits)."""
        return self._deployments().claim_runs(deployment_ids, now, grace, limit, claimer)


def _checked_tags(tags: Sequence[str]) -> tuple[str, ...]:
    if isinstance(tags, str) or not all(isinstance(tag, str) and tag for tag in tags):
        raise ParameterError(f"tags must be a list of tag names; got {tags!r}.")
    return tuple(tags)


def _aware(moment: datetime | None, name: str) -> datetime | None:
    if moment is not None and moment.utcoffset() is None:
        raise ParameterError(
            f"{name} needs a time zone, e.g. datetime.now(UTC) - timedelta(days=1); got {moment}."
        )
    return moment


def _checked_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise ParameterError(
            f"limit must be from 1 to {MAX_PAGE:,}; got {limit:,} (read further pages with after=)."
        )
    return limit


def _state_or_none(state: StateType | str | None) -> StateType | None:
    return None if state is None else _state_type(state)


def _state_type(state: StateType | str) -> StateType:
    if isinstance(state, StateType):
        return state
    for member in StateType:
        if state.lower() in (member.value.lower(), member.name.lower()):
            return member
    known = ", ".join(member.value for member in StateType)
    raise ParameterError(f"Unknown state {state!r}; use one of: {known}.")


def get_client(database_url: str | None = None) -> Client:
    """A client for the configured backend (or the run store at ``database_url``)."""
    if database_url is None:
        backend = get_backend()
    else:
        from plait.settings import load_settings

        backend = open_backend(load_settings(), database_url)
    return Client(backend.run_queries(), backend)


__all__ = [
    "ArtifactRecord",
    "Client",
    "DeploymentRecord",
    "FlowRunRecord",
    "LogRecord",
    "Page",
    "StateRecord",
    "TaskGraph",
    "TaskGraphNode",
    "TaskRunRecord",
    "TaskRunSummary",
    "get_client",
]
