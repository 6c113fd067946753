"""State names: the name a state was given when it is not its type's
(``Completed(name="NoNewRows")``), on each run's current state and in its history.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_COLUMNS = {"flow_runs": "state_name", "task_runs": "state_name", "run_states": "name"}


def upgrade() -> None:
    for table, column in _COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(column, sa.String(255), nullable=True))


def downgrade() -> None:
    for table, column in _COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
