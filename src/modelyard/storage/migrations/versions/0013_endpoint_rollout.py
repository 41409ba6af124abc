"""Endpoint rollout: the canary split and the mirror of each endpoint, and what mirrors
found (endpoint_comparisons).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from modelyard.storage.schema import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Add endpoints.traffic and endpoints.mirror; create endpoint_comparisons."""
    with op.batch_alter_table("endpoints") as batch:
        batch.add_column(sa.Column("traffic", sa.JSON, nullable=True))
        batch.add_column(sa.Column("mirror", sa.JSON, nullable=True))
    op.create_table(
        "endpoint_comparisons",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("endpoint", sa.String(128), nullable=False),
        sa.Column("answered_version", sa.Integer, nullable=False),
        sa.Column("mirrored_alias", sa.String(128), nullable=False),
        sa.Column("mirrored_version", sa.Integer, nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("agreed", sa.Integer, nullable=False),
        sa.Column("abs_diff_sum", sa.Float, nullable=False),
        sa.Column("abs_diff_max", sa.Float, nullable=False),
        sa.Column("answered_ms_sum", sa.Float, nullable=False),
        sa.Column("answered_ms_max", sa.Float, nullable=False),
        sa.Column("mirrored_ms_sum", sa.Float, nullable=False),
        sa.Column("mirrored_ms_max", sa.Float, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_endpoint_comparisons"),
    )
    op.create_index(
        "ix_endpoint_comparisons_endpoint_created_at",
        "endpoint_comparisons",
        ["endpoint", "created_at"],
    )


def downgrade() -> None:
    """Drop endpoint_comparisons, endpoints.mirror and endpoints.traffic."""
    op.drop_index("ix_endpoint_comparisons_endpoint_created_at", table_name="endpoint_comparisons")
    op.drop_table("endpoint_comparisons")
    with op.batch_alter_table("endpoints") as batch:
        batch.drop_column("mirror")
        batch.drop_column("traffic")
