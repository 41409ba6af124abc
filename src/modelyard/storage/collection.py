"""Collected rows, their columnar blocks and their labels, as plain SQL tables.

The collector's background thread writes each batch in one transaction: one row per
scored row in ``collected_rows`` (inputs and outputs as JSON, for plain SQL) and the same
batch as one compressed columnar block in ``collected_blocks`` (what reports read). The
tables live in the registry database or in ``[monitoring] database_url``; in a separate
database :meth:`CollectionStore.ensure_tables` creates them.

    SELECT scored_at, inputs, outputs FROM collected_rows WHERE endpoint = 'churn'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelyard.storage import schema
from modelyard.storage.engine import Database
from modelyard.storage.schema import utcnow

c = schema.collected_rows
b = schema.collected_blocks
lab = schema.labels
# Inserts bind the JSON columns as text already serialised (``sa.JSON`` would encode again).
_RAW_LABELS = sa.table(
    "labels",
    *[sa.column(col.name, sa.Text if isinstance(col.type, sa.JSON) else col.type) for col in lab.c],
)
COLUMNS = tuple(col.name for col in c.c if col.name != "id")


def _raw_insert(conn: Connection) -> str:
    """``INSERT INTO collected_rows (…) VALUES (…)`` in the driver's own parameter style."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    json = "::json" if conn.dialect.name == "postgresql" else ""
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(n) for n in COLUMNS)
    marks = ", ".join(mark + (json if n in ("inputs", "outputs") else "") for n in COLUMNS)
    return f"INSERT INTO {quote(c.name)} ({names}) VALUES ({marks})"  # noqa: S608  # our names


def _bound(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> Sequence[tuple[Any, ...]]:
    """The rows as the driver binds them raw: their naive UTC times as they are (SQLite:
    as the text SQLAlchemy writes, ``YYYY-MM-DD HH:MM:SS.ffffff``)."""
    if conn.dialect.name != "sqlite":
        return rows
    return [(r[0], r[1].isoformat(" ", "microseconds"), *r[2:]) for r in rows]


def _insert(raw: sa.TableClause, names: tuple[str, ...], conn: Connection) -> sa.Insert:
    """An insert binding the JSON columns ``names`` as text: PostgreSQL is told to read it
    as JSON; SQLite and MariaDB store JSON as text already."""
    statement = sa.insert(raw)
    if conn.dialect.name == "postgresql":
        statement = statement.values(
            {n: sa.cast(sa.bindparam(n, type_=sa.Text), sa.JSON) for n in names}
        )
    return statement


_CONTROL = {code: " " for code in range(32)}


def clean(text: str) -> str:
    """``text`` without tabs, newlines and other control characters."""
    return text if text.isprintable() else text.translate(_CONTROL)


def _times(values: Sequence[Any]) -> np.ndarray[Any, Any]:
    """Stored times (naive UTC: text on SQLite, datetimes elsewhere) as numpy UTC times,
    converted in bulk rather than one by one."""
    if not values:
        return np.array([], dtype="datetime64[us]")
    parsed = pd.to_datetime(pd.Series(values), utc=True, format="ISO8601")
    return parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")


@dataclass(frozen=True)
class BlockRow:
    """A batch's columnar block: its time range, its rows and its bytes."""

    first_at: datetime
    last_at: datetime
    rows: int
    data: bytes


@dataclass(frozen=True)
class Labelled:
    """Rows that have a true value: their time (numpy UTC), model output (JSON text) and
    label (JSON text)."""

    scored_at: np.ndarray[Any, Any]
    outputs: list[str | None]
    labels: list[str]


class CollectionStore:
    """Insert collected rows and read them back; store labels; purge old rows."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def ensure_tables(self) -> None:
        """Create the collection tables if missing (a separate monitoring database)."""
        self.db.write(
            lambda conn: schema.metadata.create_all(conn, tables=[c, b, lab], checkfirst=True)
        )

    def insert(
        self, endpoint_rows: Sequence[tuple[str, Sequence[tuple[Any, ...]], BlockRow]]
    ) -> None:
        """Insert, in one transaction, each endpoint's rows (tuples of the ``COLUMNS``,
        times naive UTC, inputs and outputs as JSON text) with their block. The rows go to
        the driver's ``executemany`` as they are: a collector writes thousands a second."""

        def write(conn: Connection) -> None:
            statement = _raw_insert(conn)
            for endpoint, rows, block in endpoint_rows:
                if rows:
                    conn.exec_driver_sql(statement, _bound(conn, rows))
                conn.execute(
                    sa.insert(b).values(
                        endpoint=endpoint,
                        first_at=block.first_at,
                        last_at=block.last_at,
                        rows=block.rows,
                        data=block.data,
                    )
                )

        if endpoint_rows:
            self.db.write(write)

    def blocks(self, endpoint: str, since: datetime, until: datetime) -> list[bytes]:
        """The blocks of ``endpoint`` holding rows scored in ``[since, until)`` (they may
        hold rows outside it too: filter by time)."""
        query = (
            sa.select(b.c.data)
            .where(b.c.endpoint == endpoint, b.c.first_at < until, b.c.last_at >= since)
            .order_by(b.c.first_at, b.c.id)
        )
        return self.db.read(lambda conn: [bytes(r[0]) for r in conn.execute(query)])

    def put_labels(
        self, endpoint: str, labels: Sequence[tuple[str, int, str]], *, origin: str
    ) -> int:
        """Store ``(request_id, row_index, value as JSON text)`` triples; a later value of
        the same row replaces the earlier one. Returns how many were stored."""
        if not labels:
            return 0
        now = utcnow()
        latest = {(rid, row): value for rid, row, value in labels}
        rows = [
            {
                "endpoint": endpoint,
                "request_id": rid,
                "row_index": row,
                "value": value,
                "origin": origin,
                "created_at": now,
            }
            for (rid, row), value in latest.items()
        ]

        def write(conn: Connection) -> int:
            for start in range(0, len(rows), 500):
                chunk = rows[start : start + 500]
                keys = [(r["request_id"], r["row_index"]) for r in chunk]
                conn.execute(
                    sa.delete(lab).where(
                        lab.c.endpoint == endpoint,
                        sa.tuple_(lab.c.request_id, lab.c.row_index).in_(keys),
                    )
                )
                conn.execute(_insert(_RAW_LABELS, ("value",), conn), chunk)
            return len(rows)

        return self.db.write(write)

    def matched(self, endpoint: str, request_ids: Sequence[str]) -> int:
        """How many collected rows of ``endpoint`` belong to ``request_ids``."""

        def count(conn: Connection) -> int:
            total = 0
            for start in range(0, len(request_ids), 500):
                chunk = list(request_ids[start : start + 500])
                total += int(
                    conn.execute(
                        sa.select(sa.func.count())
                        .select_from(c)
                        .where(c.c.endpoint == endpoint, c.c.request_id.in_(chunk))
                    ).scalar_one()
                )
            return total

        return self.db.read(count) if request_ids else 0

    def labelled(self, endpoint: str, since: datetime, until: datetime) -> Labelled:
        """The rows of ``endpoint`` scored in ``[since, until)`` that have a label."""
        query = (
            sa.select(
                sa.type_coerce(c.c.scored_at, sa.String),  # converted in bulk below
                sa.cast(c.c.outputs, sa.Text),
                sa.cast(lab.c.value, sa.Text),
            )
            .select_from(
                c.join(
                    lab,
                    sa.and_(
                        lab.c.endpoint == c.c.endpoint,
                        lab.c.request_id == c.c.request_id,
                        lab.c.row_index == c.c.row_index,
                    ),
                )
            )
            .where(
                c.c.endpoint == endpoint,
                c.c.scored_at >= since,
                c.c.scored_at < until,
                c.c.source == "model",
            )
        )
        rows = self.db.read(lambda conn: conn.execute(query).all())
        return Labelled(_times([r[0] for r in rows]), [r[1] for r in rows], [r[2] for r in rows])

    def purge(self, before: datetime) -> int:
        """Delete rows scored, and labels given, before ``before``; returns the rows deleted."""

        def delete(conn: Connection) -> int:
            deleted = conn.execute(sa.delete(c).where(c.c.scored_at < before)).rowcount
            conn.execute(sa.delete(b).where(b.c.last_at < before))
            conn.execute(sa.delete(lab).where(lab.c.created_at < before))
            return int(deleted or 0)

        return self.db.write(delete)
