"""The artifacts runs keep (``write_artifact``), so that every reader can list them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from plait.store.schema import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("flow_run_id", sa.String(36), nullable=False),
        sa.Column("task_run_id", sa.String(36), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_artifacts"),
    )
    op.create_index("ix_artifacts_flow_run_id", "artifacts", ["flow_run_id"])


def downgrade() -> None:
    op.drop_index("ix_artifacts_flow_run_id", table_name="artifacts")
    op.drop_table("artifacts")
