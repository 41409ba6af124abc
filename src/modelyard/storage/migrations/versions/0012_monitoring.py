"""Monitoring: collected rows, labels, the events feed, webhooks and their deliveries,
policy states, and the reason a run was started.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from modelyard.storage.schema import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def collection_tables() -> None:
    """collected_rows, collected_blocks and labels."""
    op.create_table(
        "collected_rows",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("endpoint", sa.String(128), nullable=False),
        sa.Column("scored_at", UTCDateTime(), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("row_index", sa.Integer, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("designation", sa.String(64), nullable=False),
        sa.Column("model", sa.String(128), nullable=True),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("alias", sa.String(128), nullable=True),
        sa.Column("inputs", sa.JSON, nullable=True),
        sa.Column("outputs", sa.JSON, nullable=True),
        sa.Column("latency_ms", sa.Float, nullable=True),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_collected_rows"),
    )
    op.create_index(
        "ix_collected_rows_endpoint_scored_at", "collected_rows", ["endpoint", "scored_at"]
    )
    op.create_index(
        "ix_collected_rows_endpoint_request_id",
        "collected_rows",
        ["endpoint", "request_id", "row_index"],
    )
    op.create_table(
        "collected_blocks",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("endpoint", sa.String(128), nullable=False),
        sa.Column("first_at", UTCDateTime(), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_collected_blocks"),
    )
    op.create_index(
        "ix_collected_blocks_endpoint_first_at", "collected_blocks", ["endpoint", "first_at"]
    )
    op.create_table(
        "labels",
        sa.Column("endpoint", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("row_index", sa.Integer, nullable=False),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("endpoint", "request_id", "row_index", name="pk_labels"),
    )


def upgrade() -> None:
    """Create the monitoring tables; add runs.reason."""
    collection_tables()
    op.create_table(
        "feed",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("origin", sa.String(200), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feed"),
        sa.UniqueConstraint("origin", name="uq_feed_origin"),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("events", sa.JSON, nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("cursor", sa.BigInteger, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhooks"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("webhook_id", sa.String(32), nullable=False),
        sa.Column("event_id", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhooks.id"], name="fk_webhook_deliveries_webhook_id_webhooks"
        ),
        sa.UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_webhook_event"),
    )
    op.create_index(
        "ix_webhook_deliveries_state_next_attempt_at",
        "webhook_deliveries",
        ["state", "next_attempt_at"],
    )
    op.create_table(
        "policy_states",
        sa.Column("endpoint", sa.String(128), nullable=False),
        sa.Column("policy", sa.String(300), nullable=False),
        sa.Column("breached", sa.Boolean, nullable=False),
        sa.Column("since", UTCDateTime(), nullable=True),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("endpoint", "policy", name="pk_policy_states"),
    )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("reason", sa.Text, nullable=True))


def downgrade() -> None:
    """Drop the monitoring tables and runs.reason."""
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("reason")
    op.drop_table("policy_states")
    op.drop_index("ix_webhook_deliveries_state_next_attempt_at", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
    op.drop_table("feed")
    op.drop_table("labels")
    op.drop_index("ix_collected_blocks_endpoint_first_at", table_name="collected_blocks")
    op.drop_table("collected_blocks")
    op.drop_index("ix_collected_rows_endpoint_request_id", table_name="collected_rows")
    op.drop_index("ix_collected_rows_endpoint_scored_at", table_name="collected_rows")
    op.drop_table("collected_rows")
