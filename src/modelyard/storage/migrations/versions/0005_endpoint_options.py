"""Endpoint options (micro-batching and future per-endpoint settings).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add endpoints.options, empty for existing endpoints."""
    with op.batch_alter_table("endpoints") as batch:
        batch.add_column(sa.Column("options", sa.JSON, nullable=True))


def downgrade() -> None:
    """Drop endpoints.options."""
    with op.batch_alter_table("endpoints") as batch:
        batch.drop_column("options")
