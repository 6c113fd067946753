"""dbt failures as Plait errors: which nodes failed and why, without credentials."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plait.exceptions import PlaitError

if TYPE_CHECKING:
    from plait_dbt.results import DbtRunResult


class DbtError(PlaitError):
    """dbt could not run: a bad project path, a profile dbt rejects, a compilation error."""


class DbtNodeError(DbtError):
    """One dbt node (model, seed, snapshot or test) ended ``error`` or ``fail``: the error of
    its task run. ``unique_id`` names the node, ``status`` is dbt's status."""

    def __init__(self, message: str, unique_id: str, status: str) -> None:
        super().__init__(message)
        self.unique_id = unique_id
        self.status = status

    def __reduce__(self) -> tuple[Any, ...]:  # keeps the fields across processes
        return (type(self), (str(self), self.unique_id, self.status))


class DbtRunError(DbtError):
    """A dbt invocation ended with failed nodes: the ``run_dbt`` flow run's error. The message
    lists each failed node and why, and how many were skipped; ``result`` holds every node's
    outcome and where the run's artifacts were kept."""

    def __init__(self, message: str, result: DbtRunResult | None = None) -> None:
        super().__init__(message)
        self.result = result

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.result))
