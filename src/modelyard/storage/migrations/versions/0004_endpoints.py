"""Real-time endpoints: target model reference, hashed keys, state, data collection flag.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from modelyard.storage.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the endpoints table."""
    op.create_table(
        "endpoints",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("primary_key_hash", sa.String(64), nullable=False),
        sa.Column("secondary_key_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("collect", sa.Boolean, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_endpoints"),
    )


def downgrade() -> None:
    """Drop the endpoints table."""
    op.drop_table("endpoints")
