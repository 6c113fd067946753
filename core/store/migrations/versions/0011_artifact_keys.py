"""Artifacts looked up by key (``plait artifact ls`` / ``inspect``): the latest version of
each key, and every version of one.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_artifacts_key_timestamp", "artifacts", ["key", "timestamp"])


def downgrade() -> None:
    op.drop_index("ix_artifacts_key_timestamp", table_name="artifacts")
