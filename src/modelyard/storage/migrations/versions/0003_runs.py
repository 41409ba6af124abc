"""Training runs: state, trigger, timings, rows, metrics, version, decision, logs, error.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from modelyard.storage.schema import UTCDateTime

LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql")

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the runs table."""
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("training", sa.String(128), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("stages", sa.JSON, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=True),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("decision", sa.JSON, nullable=True),
        sa.Column("logs", LONG_TEXT, nullable=False),
        sa.Column("error", LONG_TEXT, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index("ix_runs_training_created_at", "runs", ["training", "created_at"])


def downgrade() -> None:
    """Drop the runs table."""
    op.drop_index("ix_runs_training_created_at", table_name="runs")
    op.drop_table("runs")
