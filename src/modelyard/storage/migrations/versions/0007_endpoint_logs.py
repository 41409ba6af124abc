"""Endpoint logs (environment builds, entry-script output) and the reason of a state.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from modelyard.storage.schema import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create endpoint_logs and add endpoints.state_reason."""
    op.create_table(
        "endpoint_logs",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("endpoint", sa.String(128), nullable=False),
        sa.Column("replica", sa.String(128), nullable=False),
        sa.Column("stream", sa.String(16), nullable=False),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_endpoint_logs"),
    )
    op.create_index("ix_endpoint_logs_endpoint_id", "endpoint_logs", ["endpoint", "id"])
    with op.batch_alter_table("endpoints") as batch:
        batch.add_column(sa.Column("state_reason", sa.Text, nullable=True))


def downgrade() -> None:
    """Drop endpoint_logs and endpoints.state_reason."""
    with op.batch_alter_table("endpoints") as batch:
        batch.drop_column("state_reason")
    op.drop_index("ix_endpoint_logs_endpoint_id", table_name="endpoint_logs")
    op.drop_table("endpoint_logs")
