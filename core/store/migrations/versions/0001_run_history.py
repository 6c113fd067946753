"""Run history: flows, flow runs, task runs, their states, the task graph, and logs.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from plait.store.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(36)


def upgrade() -> None:
    op.create_table(
        "flows",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_flows"),
    )
    op.create_table(
        "flow_runs",
        sa.Column("id", ID, nullable=False),
        sa.Column("flow_name", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("state_type", sa.String(16), nullable=True),
        sa.Column("state_message", sa.Text(), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("parent_flow_run_id", ID, nullable=True),
        sa.Column("parent_task_run_id", ID, nullable=True),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("start_time", UTCDateTime(), nullable=True),
        sa.Column("end_time", UTCDateTime(), nullable=True),
        sa.Column("run_count", sa.Integer(), nullable=False),
        sa.Column("on_crashed", sa.JSON(), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("process_started", sa.BigInteger(), nullable=True),
        sa.Column("heartbeat", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_flow_runs"),
    )
    op.create_index("ix_flow_runs_flow_name", "flow_runs", ["flow_name"])
    op.create_index("ix_flow_runs_state_type", "flow_runs", ["state_type"])
    op.create_index("ix_flow_runs_parent_flow_run_id", "flow_runs", ["parent_flow_run_id"])
    op.create_index("ix_flow_runs_created", "flow_runs", ["created"])
    op.create_table(
        "task_runs",
        sa.Column("id", ID, nullable=False),
        sa.Column("flow_run_id", ID, nullable=True),
        sa.Column("task_name", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("state_type", sa.String(16), nullable=True),
        sa.Column("state_message", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=True),
        sa.Column("parent_task_run_id", ID, nullable=True),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("start_time", UTCDateTime(), nullable=True),
        sa.Column("end_time", UTCDateTime(), nullable=True),
        sa.Column("run_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_task_runs"),
    )
    op.create_index("ix_task_runs_flow_run_id", "task_runs", ["flow_run_id"])
    op.create_table(
        "run_states",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_run_states"),
    )
    op.create_index("ix_run_states_run_id", "run_states", ["run_id"])
    op.create_table(
        "task_run_upstream",
        sa.Column("task_run_id", ID, nullable=False),
        sa.Column("upstream_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("task_run_id", "upstream_id", name="pk_task_run_upstream"),
    )
    op.create_table(
        "logs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("flow_run_id", ID, nullable=True),
        sa.Column("task_run_id", ID, nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("logger", sa.String(255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_logs"),
    )
    op.create_index("ix_logs_flow_run_id", "logs", ["flow_run_id"])


def downgrade() -> None:
    for table in ("logs", "task_run_upstream", "run_states", "task_runs", "flow_runs", "flows"):
        op.drop_table(table)
