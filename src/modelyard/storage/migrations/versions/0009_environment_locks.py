"""Published entry-script environments: the lock of each built one and its wheels' blobs.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from modelyard.storage.schema import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create environment_locks."""
    op.create_table(
        "environment_locks",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(128), nullable=False),
        sa.Column("python", sa.String(32), nullable=False),
        sa.Column("requirements", sa.JSON, nullable=False),
        sa.Column("pins", sa.JSON, nullable=False),
        sa.Column("wheels", sa.JSON, nullable=False),
        sa.Column("published_by", sa.String(128), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("digest", "platform", name="pk_environment_locks"),
    )


def downgrade() -> None:
    """Drop environment_locks."""
    op.drop_table("environment_locks")
