"""Spool segments saved into the store, so that a replay cut short is never repeated.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from plait.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spool_segments",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("replayed", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_spool_segments"),
    )


def downgrade() -> None:
    op.drop_table("spool_segments")
