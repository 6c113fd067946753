"""Persisted results and caching: result references on runs, what re-running a flow run
needs, cache records and cache locks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from plait.store.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.String(36)


def upgrade() -> None:
    with op.batch_alter_table("flow_runs") as table:
        table.add_column(sa.Column("result", sa.JSON(), nullable=True))
        table.add_column(sa.Column("entrypoint", sa.String(1000), nullable=True))
        table.add_column(sa.Column("parameters_ref", sa.JSON(), nullable=True))
    with op.batch_alter_table("task_runs") as table:
        table.add_column(sa.Column("result", sa.JSON(), nullable=True))
    op.create_table(
        "cache_records",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("task_run_id", ID, nullable=False),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("expires", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_cache_records"),
    )
    op.create_table(
        "cache_locks",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("process_started", sa.BigInteger(), nullable=True),
        sa.Column("acquired", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_cache_locks"),
    )


def downgrade() -> None:
    op.drop_table("cache_locks")
    op.drop_table("cache_records")
    with op.batch_alter_table("task_runs") as table:
        table.drop_column("result")
    with op.batch_alter_table("flow_runs") as table:
        table.drop_column("parameters_ref")
        table.drop_column("entrypoint")
        table.drop_column("result")
