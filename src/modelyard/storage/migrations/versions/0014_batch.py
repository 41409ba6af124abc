"""Batch scoring: the jobs' pinned version and progress, and the chunk files they wrote.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

from modelyard.storage.schema import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create batch_jobs and batch_chunks."""
    op.create_table(
        "batch_jobs",
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("rows_total", sa.BigInteger, nullable=True),
        sa.Column("rows_done", sa.BigInteger, nullable=False),
        sa.Column("rows_skipped", sa.BigInteger, nullable=False),
        sa.Column("skipped", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name="pk_batch_jobs"),
    )
    op.create_table(
        "batch_chunks",
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("part", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("last_key", sa.JSON, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("skipped", sa.BigInteger, nullable=False),
        sa.Column("path", sa.String(2000), nullable=False),
        sa.Column("written_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "part", "seq", name="pk_batch_chunks"),
    )


def downgrade() -> None:
    """Drop batch_chunks and batch_jobs."""
    op.drop_table("batch_chunks")
    op.drop_table("batch_jobs")
