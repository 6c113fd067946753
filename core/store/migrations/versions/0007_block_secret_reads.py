"""The audit trail of reads of saved blocks' secret values.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from plait.store.schema import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "block_secret_reads",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("block", sa.String(511), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reader", sa.String(64), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("read", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_block_secret_reads"),
    )
    op.create_index("ix_block_secret_reads_document_id", "block_secret_reads", ["document_id"])


def downgrade() -> None:
    op.drop_index("ix_block_secret_reads_document_id", table_name="block_secret_reads")
    op.drop_table("block_secret_reads")
