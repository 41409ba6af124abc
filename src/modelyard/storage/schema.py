"""The registry's tables, as SQLAlchemy Core metadata (migrations create them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored as naive UTC (microseconds everywhere) and read back aware."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "mysql":
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

models = sa.Table(
    "models",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("archived", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("flavour", sa.String(32), nullable=False),
    sa.Column("format", sa.String(32), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("files", sa.JSON, nullable=False),
    sa.Column("allow_pickle", sa.Boolean, nullable=False, default=False),
    sa.Column("signature", sa.JSON, nullable=True),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("lineage", sa.JSON, nullable=False),
    sa.Column("profile", sa.JSON, nullable=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("model_id", "version", name="uq_model_versions_model_id_version"),
)

aliases = sa.Table(
    "aliases",
    metadata,
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), primary_key=True),
    sa.Column("alias", sa.String(128), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("alias", sa.String(128), nullable=True),
    sa.Column("from_version", sa.Integer, nullable=True),
    sa.Column("to_version", sa.Integer, nullable=True),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Index("ix_events_model_id_id", "model_id", "id"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
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
    sa.Column("logs", sa.Text().with_variant(mysql.LONGTEXT(), "mysql"), nullable=False),
    sa.Column("error", sa.Text().with_variant(mysql.LONGTEXT(), "mysql"), nullable=True),
    sa.Column("trials", sa.JSON, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),  # why it was started (a policy's breach)
    sa.Index("ix_runs_training_created_at", "training", "created_at"),
)

endpoints = sa.Table(
    "endpoints",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("target", sa.String(300), nullable=False),
    sa.Column("primary_key_hash", sa.String(64), nullable=False),
    sa.Column("secondary_key_hash", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("collect", sa.Boolean, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("options", sa.JSON, nullable=True),
    sa.Column("state_reason", sa.Text, nullable=True),
    sa.Column("traffic", sa.JSON, nullable=True),  # canary weights by alias; None: off
    sa.Column("mirror", sa.JSON, nullable=True),  # {"alias", "percent"}; None: off
)

endpoint_logs = sa.Table(
    "endpoint_logs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("endpoint", sa.String(128), nullable=False),
    sa.Column("replica", sa.String(128), nullable=False),
    sa.Column("stream", sa.String(16), nullable=False),
    sa.Column("line", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Index("ix_endpoint_logs_endpoint_id", "endpoint", "id"),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(128), nullable=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("idempotency_key", sa.String(200), nullable=True, unique=True),
    sa.Column("worker", sa.String(128), nullable=True),
    sa.Column("heartbeat_at", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=True),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Index("ix_jobs_state_created_at", "state", "created_at"),
)

schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("training", sa.String(128), primary_key=True),
    sa.Column("spec", sa.String(128), nullable=False),
    sa.Column("next_fire_at", UTCDateTime(), nullable=False),
    sa.Column("last_fire_at", UTCDateTime(), nullable=True),
    sa.Column("paused", sa.Boolean, nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

schedule_fires = sa.Table(
    "schedule_fires",
    metadata,
    sa.Column("training", sa.String(128), primary_key=True),
    sa.Column("fire_at", UTCDateTime(), primary_key=True),
    sa.Column("job_id", sa.String(32), nullable=True),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

user_tokens = sa.Table(
    "user_tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("user_name", sa.String(128), sa.ForeignKey("users.name"), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("label", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_used_at", UTCDateTime(), nullable=True),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user_name", sa.String(128), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

environment_locks = sa.Table(
    "environment_locks",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("platform", sa.String(128), primary_key=True),
    sa.Column("python", sa.String(32), nullable=False),
    sa.Column("requirements", sa.JSON, nullable=False),
    sa.Column("pins", sa.JSON, nullable=False),
    sa.Column("wheels", sa.JSON, nullable=False),
    sa.Column("published_by", sa.String(128), nullable=False),
    sa.Column("published_at", UTCDateTime(), nullable=False),
)

# One row (id 1): how many alias moves were ever committed. Replicas on databases that
# push nothing (SQLite, MariaDB) read it every few milliseconds (storage/replicas.py).
alias_generation = sa.Table(
    "alias_generation",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("generation", sa.BigInteger, nullable=False),
    sa.Column("moved_at", UTCDateTime(), nullable=False),
)

# The serving processes following that row: the generation each serves, and when it last
# said it is alive. A move waits for the live ones to serve its generation.
replicas = sa.Table(
    "replicas",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("generation", sa.BigInteger, nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("seen_at", UTCDateTime(), nullable=False),
)

# -- monitoring ----------------------------------------------------------------------------

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: a rowid alias

# One row per scored row (or per row an entry script's ModelDataCollector collected);
# in the registry database, or in ``[monitoring] database_url``.
collected_rows = sa.Table(
    "collected_rows",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("endpoint", sa.String(128), nullable=False),
    sa.Column("scored_at", UTCDateTime(), nullable=False),
    sa.Column("request_id", sa.String(128), nullable=False),
    sa.Column("row_index", sa.Integer, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # model, script or collector
    sa.Column("designation", sa.String(64), nullable=False),  # a collector's; "" otherwise
    sa.Column("model", sa.String(128), nullable=True),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("alias", sa.String(128), nullable=True),
    sa.Column("inputs", sa.JSON, nullable=True),
    sa.Column("outputs", sa.JSON, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=True),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("error_code", sa.String(64), nullable=True),
    sa.Index("ix_collected_rows_endpoint_scored_at", "endpoint", "scored_at"),
    sa.Index("ix_collected_rows_endpoint_request_id", "endpoint", "request_id", "row_index"),
)

# The same rows, one compressed Arrow block per written batch: what reports read.
collected_blocks = sa.Table(
    "collected_blocks",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("endpoint", sa.String(128), nullable=False),
    sa.Column("first_at", UTCDateTime(), nullable=False),
    sa.Column("last_at", UTCDateTime(), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql"), nullable=False),
    sa.Index("ix_collected_blocks_endpoint_first_at", "endpoint", "first_at"),
)

# True values of scored rows (feedback API, or a declared label source).
labels = sa.Table(
    "labels",
    metadata,
    sa.Column("endpoint", sa.String(128), primary_key=True),
    sa.Column("request_id", sa.String(128), primary_key=True),
    sa.Column("row_index", sa.Integer, primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("origin", sa.String(16), nullable=False),  # api or source
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# The events feed: registry, run and monitoring events, each once (``origin`` is unique).
feed = sa.Table(
    "feed",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("origin", sa.String(200), nullable=False, unique=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("events", sa.JSON, nullable=False),  # kinds sent; [] = every kind
    sa.Column("salt", sa.String(64), nullable=False),  # the secret is derived, never stored
    sa.Column("cursor", sa.BigInteger, nullable=False),  # the last feed id queued for it
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("webhook_id", sa.String(32), sa.ForeignKey("webhooks.id"), nullable=False),
    sa.Column("event_id", sa.BigInteger, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending, delivered, failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("last_status", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("delivered_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_webhook_event"),
    sa.Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
)

# Where each policy of each endpoint stands: a breach fires once, when it begins.
policy_states = sa.Table(
    "policy_states",
    metadata,
    sa.Column("endpoint", sa.String(128), primary_key=True),
    sa.Column("policy", sa.String(300), primary_key=True),
    sa.Column("breached", sa.Boolean, nullable=False),
    sa.Column("since", UTCDateTime(), nullable=True),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("run_id", sa.String(32), nullable=True),
    sa.Column("checked_at", UTCDateTime(), nullable=False),
)

# What a mirror found: one row per replica flush, per (answering, mirrored) version pair.
endpoint_comparisons = sa.Table(
    "endpoint_comparisons",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("endpoint", sa.String(128), nullable=False),
    sa.Column("answered_version", sa.Integer, nullable=False),
    sa.Column("mirrored_alias", sa.String(128), nullable=False),
    sa.Column("mirrored_version", sa.Integer, nullable=True),
    sa.Column("kind", sa.String(16), nullable=False),  # classes or numbers
    sa.Column("requests", sa.Integer, nullable=False),
    sa.Column("failed", sa.Integer, nullable=False),  # mirrored requests that could not score
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("agreed", sa.Integer, nullable=False),
    sa.Column("abs_diff_sum", sa.Float, nullable=False),
    sa.Column("abs_diff_max", sa.Float, nullable=False),
    sa.Column("answered_ms_sum", sa.Float, nullable=False),
    sa.Column("answered_ms_max", sa.Float, nullable=False),
    sa.Column("mirrored_ms_sum", sa.Float, nullable=False),
    sa.Column("mirrored_ms_max", sa.Float, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Index("ix_endpoint_comparisons_endpoint_created_at", "endpoint", "created_at"),
)

# Batch scoring jobs (their state is the ``jobs`` row of the same id): what they score,
# the version pinned at submit, and their progress.
batch_jobs = sa.Table(
    "batch_jobs",
    metadata,
    sa.Column("job_id", sa.String(32), primary_key=True),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("rows_total", sa.BigInteger, nullable=True),
    sa.Column("rows_done", sa.BigInteger, nullable=False),
    sa.Column("rows_skipped", sa.BigInteger, nullable=False),
    sa.Column("skipped", sa.JSON, nullable=False),  # [{"key", "reason"}], the first 1,000
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# The chunk files a batch job wrote (renamed into place, then recorded here): the
# watermark of each partition of a job that writes files.
batch_chunks = sa.Table(
    "batch_chunks",
    metadata,
    sa.Column("job_id", sa.String(32), primary_key=True),
    sa.Column("part", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("last_key", sa.JSON, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("skipped", sa.BigInteger, nullable=False),
    sa.Column("path", sa.String(2000), nullable=False),
    sa.Column("written_at", UTCDateTime(), nullable=False),
)
