"""The trials of a training run's hyper-parameter search.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add runs.trials."""
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("trials", sa.JSON, nullable=True))


def downgrade() -> None:
    """Drop runs.trials."""
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("trials")
