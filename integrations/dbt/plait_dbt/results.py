"""What a dbt invocation did: each node's outcome, and where its artifacts were kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SUCCEEDED = frozenset({"success", "pass", "warn", "no-op"})
FAILED = frozenset({"error", "fail", "runtime error", "partial success"})
SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class DbtNodeResult:
    """One dbt node's outcome, as dbt reported it.

    ``status`` is dbt's (``success``, ``pass``, ``warn``, ``error``, ``fail``, ``skipped``);
    ``failures`` the number of failing rows of a test; ``rows_affected`` what the adapter
    reported (None when it reports nothing); ``task_run_id`` the node's Plait task run.
    """

    unique_id: str
    resource_type: str
    status: str
    message: str | None
    failures: int | None
    rows_affected: int | None
    execution_time: float
    started_at: datetime | None
    completed_at: datetime | None
    task_run_id: str | None

    @property
    def name(self) -> str:
        """The node's name (``orders`` for ``model.shop.orders``)."""
        return self.unique_id.split(".")[2]

    @property
    def succeeded(self) -> bool:
        return self.status in SUCCEEDED

    @property
    def failed(self) -> bool:
        return self.status in FAILED

    @property
    def skipped(self) -> bool:
        return self.status == SKIPPED

    def describe(self) -> str:
        """``fail: Got 1 result, configured to fail if != 0 (1 failure) in 0.02s``."""
        text = self.status
        if self.message:
            text += f": {self.message}"
        if self.failures:
            text += f" ({self.failures} failure{'s' if self.failures != 1 else ''})"
        elif self.rows_affected is not None:
            text += f" ({self.rows_affected} row{'s' if self.rows_affected != 1 else ''})"
        if not self.skipped:
            text += f" in {self.execution_time:.2f}s"
        return text


@dataclass(frozen=True, slots=True)
class DbtRunResult:
    """A dbt invocation's outcome: every node that ran (or was skipped), in the order they
    finished, and ``artifacts``, where ``run_results.json`` and ``manifest.json`` were kept
    with the flow run's results (``artifacts["run_results.json"].load()`` reads one back)."""

    command: str
    success: bool
    nodes: tuple[DbtNodeResult, ...]
    artifacts: dict[str, Any] = field(default_factory=dict)

    def node(self, unique_id: str) -> DbtNodeResult:
        """The outcome of the node with this ``unique_id``."""
        for node in self.nodes:
            if node.unique_id == unique_id:
                return node
        raise KeyError(f"dbt {self.command} did not run node {unique_id!r}")

    @property
    def failed(self) -> list[DbtNodeResult]:
        return [node for node in self.nodes if node.failed]

    @property
    def skipped(self) -> list[DbtNodeResult]:
        return [node for node in self.nodes if node.skipped]

    def summary(self) -> str:
        """``dbt build: 8 succeeded, 1 failed, 3 skipped``."""
        succeeded = sum(node.succeeded for node in self.nodes)
        return (
            f"dbt {self.command}: {succeeded} succeeded, {len(self.failed)} failed, "
            f"{len(self.skipped)} skipped"
        )
