"""Strict hot swap without a push channel: the alias generation row and the replicas.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from modelyard.storage.schema import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create alias_generation and replicas."""
    op.create_table(
        "alias_generation",
        sa.Column("id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger, nullable=False),
        sa.Column("moved_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alias_generation"),
    )
    op.create_table(
        "replicas",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("generation", sa.BigInteger, nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_replicas"),
    )


def downgrade() -> None:
    """Drop alias_generation and replicas."""
    op.drop_table("replicas")
    op.drop_table("alias_generation")
