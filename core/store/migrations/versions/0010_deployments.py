"""Deployments, and the flow runs made from them: which deployment, when they are due, and
the key that makes the scheduler create each one once.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from plait.store.schema import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("flow_name", sa.String(255), nullable=False),
        sa.Column("entrypoint", sa.String(1000), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("parameter_schema", sa.JSON(), nullable=False),
        sa.Column("schedules", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("version", sa.String(255), nullable=True),
        sa.Column("concurrency_limit", sa.Integer(), nullable=True),
        sa.Column("collision", sa.String(16), nullable=False),
        sa.Column("catchup", sa.String(16), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("updated", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deployments"),
        sa.UniqueConstraint("name", name="uq_deployments_name"),
    )
    with op.batch_alter_table("flow_runs") as batch:
        batch.add_column(sa.Column("deployment_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("scheduled_time", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("idempotency_key", sa.String(128), nullable=True))
        batch.create_index("ix_flow_runs_deployment_id", ["deployment_id"])
        batch.create_index("ix_flow_runs_idempotency_key", ["idempotency_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.drop_index("ix_flow_runs_idempotency_key")
        batch.drop_index("ix_flow_runs_deployment_id")
        batch.drop_column("idempotency_key")
        batch.drop_column("scheduled_time")
        batch.drop_column("deployment_id")
    op.drop_table("deployments")
