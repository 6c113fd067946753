"""Deployments and their Scheduled runs in the run store (``plait.backend.deployments``).

Scheduled runs are inserted with ``ON CONFLICT DO NOTHING`` on their idempotency key (a
unique index), so of two schedulers inserting the same run at once one inserts it and the
other skips it, in the database, without a lock of Plait's own; only the runs actually
inserted get their Scheduled state in the history.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from plait.backend.deployments import DeploymentRecord, Deployments, ScheduledRun
from plait.exceptions import DeploymentNotFoundError
from plait.runs import new_id
from plait.store import retention
from plait.store.database import Database
from plait.store.schema import DeploymentRow, FlowRow, FlowRunRow, RunStateRow

deployments = DeploymentRow.__table__
flow_runs = FlowRunRow.__table__
flows = FlowRow.__table__
run_states = RunStateRow.__table__


class SqlDeployments(Deployments):
    def __init__(self, database: Database) -> None:
        self.database = database

    def _insert(self, table: sa.Table) -> Any:
        """An INSERT that can skip rows whose unique key exists (the dialect's own)."""
        if self.database.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        return insert(table)

    def save(self, record: DeploymentRecord) -> DeploymentRecord:
        values = _row(record)
        with self.database.writing() as connection:
            found = connection.execute(
                sa.select(deployments.c.id, deployments.c.created, deployments.c.paused)
                .where(deployments.c.name == record.name).with_for_update()
            ).first()  # fmt: skip
            if found is None:
                connection.execute(deployments.insert().values(values))
            else:
                values |= {"id": found.id, "created": found.created, "paused": found.paused}
                connection.execute(
                    deployments.update().where(deployments.c.id == found.id).values(values)
                )
        return _record(values)

    def read(self, name: str) -> DeploymentRecord:
        with self.database.reading() as connection:
            row = connection.execute(
                sa.select(deployments).where(deployments.c.name == name)
            ).mappings().first()  # fmt: skip
        if row is None:
            raise DeploymentNotFoundError(
                f"No deployment is named {name!r} in {self.database.describe()}; list them "
                "with: plait deployment ls"
            )
        return _record(row)

    def list(self) -> builtins.list[DeploymentRecord]:
        with self.database.reading() as connection:
            rows = connection.execute(sa.select(deployments).order_by(deployments.c.name))
            return [_record(row) for row in rows.mappings()]

    def delete(self, name: str) -> int:
        deployment = self.read(name)
        with self.database.writing() as connection:
            unstarted = connection.execute(
                sa.select(flow_runs.c.id).where(
                    flow_runs.c.deployment_id == deployment.id,
                    flow_runs.c.state_type == "Scheduled",
                )
            ).scalars().all()  # fmt: skip
            connection.execute(deployments.delete().where(deployments.c.id == deployment.id))
        return retention.delete_flow_runs(self.database, ids=unstarted)

    def create_runs(self, runs: builtins.list[ScheduledRun], now: datetime) -> int:
        if not runs:
            return 0
        entrypoints = {record.id: record.entrypoint for record in self.list()}
        rows = [_run_row(run, entrypoints.get(run.deployment_id), now) for run in runs]
        new_runs = (
            self._insert(flow_runs)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(flow_runs.c.id, flow_runs.c.scheduled_time)
        )
        with self.database.writing() as connection:
            names = sorted({run.flow_name for run in runs})
            connection.execute(
                self._insert(flows).on_conflict_do_nothing(),
                [{"name": name, "created": now} for name in names],
            )
            created = connection.execute(new_runs, rows).all()
            if created:
                connection.execute(
                    run_states.insert(),
                    [{"run_id": run_id, "type": "Scheduled", "message": _due(due),
                      "detail": None, "timestamp": now} for run_id, due in created],
                )  # fmt: skip
        return len(created)


def _due(moment: datetime) -> str:
    return f"Scheduled for {moment.isoformat(timespec='seconds')}"


def _run_row(run: ScheduledRun, entrypoint: str | None, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id(), "name": run.name, "flow_name": run.flow_name,
        "state_type": "Scheduled", "state_message": _due(run.scheduled_time),
        "parameters": run.parameters, "tags": list(run.tags), "parent_flow_run_id": None,
        "parent_task_run_id": None, "created": now, "start_time": None, "end_time": None,
        "run_count": 0, "on_crashed": [], "hostname": None, "pid": None,
        "process_started": None, "heartbeat": None, "result": None, "entrypoint": entrypoint,
        "parameters_ref": None, "deployment_id": run.deployment_id,
        "scheduled_time": run.scheduled_time, "idempotency_key": run.key,
    }  # fmt: skip


def _row(record: DeploymentRecord) -> dict[str, Any]:
    return {
        "id": record.id, "name": record.name, "flow_name": record.flow_name,
        "entrypoint": record.entrypoint, "parameters": record.parameters,
        "parameter_schema": record.parameter_schema, "schedules": list(record.schedules),
        "tags": list(record.tags), "description": record.description,
        "version": record.version, "concurrency_limit": record.concurrency_limit,
        "collision": record.collision, "catchup": record.catchup, "paused": record.paused,
        "created": record.created, "updated": record.updated,
    }  # fmt: skip


def _record(row: Any) -> DeploymentRecord:
    fields = dict(row)
    fields["schedules"] = tuple(fields["schedules"])
    fields["tags"] = tuple(fields["tags"])
    return DeploymentRecord(**fields)
