"""Recorded runs, as the backend answers for them: the queries behind ``plait.client``.

Arguments arrive checked (``Client`` validates them); ids may be given in full or as a
unique prefix. Every read first marks the flow runs of dead processes as Crashed, so what
comes back is never a stale "Running".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import timedelta

from plait.runs import FlowRunRecord, LogRecord, TaskRunRecord
from plait.states import StateType


class RunQueries(ABC):
    """Reading and deleting recorded runs."""

    @abstractmethod
    def describe(self) -> str:
        """Where the runs are, for messages (no password)."""

    @abstractmethod
    def read_flow_runs(
        self, flow_name: str | None, state: StateType | None, limit: int
    ) -> list[FlowRunRecord]:
        """Flow runs, newest first, without their state histories."""

    @abstractmethod
    def read_flow_run(self, flow_run_id: str) -> FlowRunRecord:
        """One flow run (id or unique prefix) with its state history."""

    @abstractmethod
    def read_task_runs(self, flow_run_id: str) -> list[TaskRunRecord]:
        """A flow run's task runs in creation order, with states and upstream runs."""

    @abstractmethod
    def read_logs(self, flow_run_id: str, after: int | None) -> list[LogRecord]:
        """A flow run's log lines (its task runs' included) in order, after line ``after``."""

    @abstractmethod
    def delete_flow_runs(
        self, ids: list[str] | None = None, older_than: timedelta | None = None
    ) -> int:
        """Delete finished flow runs (these ids, or created more than ``older_than`` ago)
        with their subflow runs and everything recorded about them; returns how many."""
