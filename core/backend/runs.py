"""Recorded runs, as the backend answers for them: the queries behind ``plait.client``.

Arguments arrive checked (``Client`` validates them); ids may be given in full or as a
unique prefix. Every read first marks the flow runs of dead processes as Crashed, so what
comes back is never a stale "Running".

Listings page by keyset: each page ends at a row, and its cursor names that row's position
in the listing's order (``created`` and ``id``), so the next page starts right after it
however many rows came before. A cursor is opaque to callers: URL-safe base64 of JSON, with
a checksum that refuses one edited by hand or given to another listing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta

from plait.exceptions import ParameterError
from plait.runs import (
    ArtifactRecord,
    FlowRunRecord,
    LogRecord,
    Page,
    TaskGraphNode,
    TaskRunRecord,
    TaskRunSummary,
)
from plait.state_rules import Ruling
from plait.states import StateType

_CURSOR_KEY = b"plait-cursor-1"
MAX_PAGE = 10_000  # the most rows a page may hold: its ids fit in one query's parameters


@dataclass(frozen=True)
class FlowRunFilter:
    """Which flow runs a listing holds: of one flow, in one state, with every one of
    ``tags``, created at or after ``since`` and before ``until`` (each optional)."""

    flow_name: str | None = None
    state: StateType | None = None
    tags: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    def listing(self) -> str:
        """The filter as a cursor's listing: a cursor only works with the same filter."""
        moments = [None if m is None else m.isoformat() for m in (self.since, self.until)]
        state = self.state and self.state.value
        return json.dumps(["flow_runs", self.flow_name, state, list(self.tags), *moments])


class RunQueries(ABC):
    """Reading and deleting recorded runs, and setting a flow run's state."""

    @abstractmethod
    def describe(self) -> str:
        """Where the runs are, for messages (no password)."""

    @abstractmethod
    def read_flow_runs(
        self, which: FlowRunFilter, limit: int, after: str | None
    ) -> Page[FlowRunRecord]:
        """A page of flow runs, newest first, without their state histories."""

    @abstractmethod
    def read_flow_run(self, flow_run_id: str) -> FlowRunRecord:
        """One flow run (id or unique prefix) with its state history."""

    @abstractmethod
    def read_task_runs(
        self, flow_run_id: str, state: StateType | None, limit: int, after: str | None
    ) -> Page[TaskRunRecord]:
        """A page of a flow run's task runs in creation order, with states and upstream runs."""

    @abstractmethod
    def read_task_run_names(self, task_run_ids: list[str]) -> dict[str, str]:
        """The names of these task runs, by id (unknown ids are left out)."""

    @abstractmethod
    def summarize_task_runs(self, flow_run_id: str, limit: int) -> TaskRunSummary:
        """A flow run's task runs counted by state, and at most ``limit`` of them listed:
        the unsuccessful ones first, then in creation order."""

    @abstractmethod
    def read_task_graph(self, flow_run_id: str) -> list[TaskGraphNode]:
        """A flow run's task graph with each mapped task's runs collapsed into one node,
        in creation order."""

    @abstractmethod
    def read_logs(self, flow_run_id: str, after: int | None) -> list[LogRecord]:
        """A flow run's log lines (its task runs' included) in order, after line ``after``."""

    @abstractmethod
    def read_artifacts(self, flow_run_id: str) -> list[ArtifactRecord]:
        """The artifacts a flow run (its task runs included) kept, in order."""

    @abstractmethod
    def read_keyed_artifacts(self, key: str | None, limit: int) -> list[ArtifactRecord]:
        """With ``key``, the versions of that key's artifact, newest first; without, the
        latest version of each key, by key. At most ``limit``."""

    @abstractmethod
    def delete_flow_runs(
        self, ids: list[str] | None = None, older_than: timedelta | None = None
    ) -> int:
        """Delete finished flow runs (these ids, or created more than ``older_than`` ago)
        with their subflow runs and everything recorded about them; returns how many."""

    @abstractmethod
    def set_flow_run_state(
        self, flow_run_id: str, state: StateType, message: str | None
    ) -> Ruling | None:
        """Put the flow run ``flow_run_id`` (full id) in ``state``, as the state rules allow;
        returns their ruling when they do not (the run stays or goes where it says)."""


def encode_cursor(listing: str, created: datetime, run_id: str) -> str:
    """The cursor of the page after the row (``created``, ``run_id``) of ``listing`` (a
    string naming the listing and its filters; the cursor holds only its checksum)."""
    body = json.dumps([_checksum(listing), created.isoformat(), run_id], separators=(",", ":"))
    payload = base64.urlsafe_b64encode(body.encode()).rstrip(b"=").decode()
    return f"{payload}.{_checksum(payload)}"


def decode_cursor(cursor: str, listing: str) -> tuple[datetime, str]:
    """The row position a cursor of ``listing`` names; a ParameterError for any other."""
    payload, _, checksum = cursor.strip().partition(".")
    fix = (
        "pass the next-page cursor a listing printed, unchanged and with the same filters, "
        "or leave --after (after=) out to start at the first page."
    )
    shown = cursor if len(cursor) <= 40 else f"{cursor[:37]}..."
    if not payload or checksum != _checksum(payload):
        raise ParameterError(
            f"--after: {shown!r} is not a cursor Plait gave (or was edited); {fix}"
        )
    try:
        body = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        cursor_listing, created, run_id = json.loads(body)
        position = datetime.fromisoformat(created), str(run_id)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ParameterError(
            f"--after: {shown!r} is not a readable cursor ({exc}); {fix}"
        ) from None
    if cursor_listing != _checksum(listing):
        raise ParameterError(f"--after: {shown!r} is the cursor of another listing; {fix}")
    return position


def _checksum(payload: str) -> str:
    return hashlib.blake2b(payload.encode(), key=_CURSOR_KEY, digest_size=6).hexdigest()
