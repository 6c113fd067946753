"""Concurrency limits and the leases that hold their slots.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from plait.store.schema import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "concurrency_limits",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_concurrency_limits"),
    )
    op.create_table(
        "concurrency_leases",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("limit_name", sa.String(128), nullable=False),
        sa.Column("occupy", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("expires", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", "limit_name", name="pk_concurrency_leases"),
    )
    op.create_index("ix_concurrency_leases_limit_name", "concurrency_leases", ["limit_name"])


def downgrade() -> None:
    op.drop_index("ix_concurrency_leases_limit_name", table_name="concurrency_leases")
    op.drop_table("concurrency_leases")
    op.drop_table("concurrency_limits")
