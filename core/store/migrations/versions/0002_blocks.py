"""Saved blocks: block types, schemas, documents, their versions and references.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from plait.store.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.String(36)


def upgrade() -> None:
    op.create_table(
        "block_types",
        sa.Column("slug", sa.String(255), nullable=False),
        sa.Column("class_path", sa.String(500), nullable=False),
        sa.Column("package", sa.String(255), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("documentation_url", sa.String(500), nullable=True),
        sa.Column("code_example", sa.Text(), nullable=True),
        sa.Column("updated", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("slug", name="pk_block_types"),
    )
    op.create_table(
        "block_schemas",
        sa.Column("checksum", sa.String(80), nullable=False),
        sa.Column("block_type_slug", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("checksum", name="pk_block_schemas"),
    )
    op.create_index("ix_block_schemas_block_type_slug", "block_schemas", ["block_type_slug"])
    op.create_table(
        "block_documents",
        sa.Column("id", ID, nullable=False),
        sa.Column("block_type_slug", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("is_anonymous", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("updated", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_block_documents"),
        sa.UniqueConstraint(
            "block_type_slug", "name", name="uq_block_documents_block_type_slug_name"
        ),
    )
    op.create_table(
        "block_document_versions",
        sa.Column("document_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("schema_checksum", sa.String(80), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("secrets", sa.Text(), nullable=True),
        sa.Column("key_fingerprint", sa.String(16), nullable=True),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("document_id", "version", name="pk_block_document_versions"),
    )
    op.create_table(
        "block_references",
        sa.Column("document_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(255), nullable=False),
        sa.Column("referenced_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("document_id", "version", "path", name="pk_block_references"),
    )
    op.create_index("ix_block_references_referenced_id", "block_references", ["referenced_id"])


def downgrade() -> None:
    for table in (
        "block_references",
        "block_document_versions",
        "block_documents",
        "block_schemas",
        "block_types",
    ):
        op.drop_table(table)
