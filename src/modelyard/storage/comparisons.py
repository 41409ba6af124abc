"""What mirrors found, as rows: tallies written by each replica, summed when read.

A replica adds up the comparisons of its mirrored requests in memory and writes one row
per (answering version, mirrored alias and version, kind) every flush; ``summary`` sums
the rows of an endpoint into one ``Comparison`` per such pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelyard.storage import schema
from modelyard.storage.engine import Database
from modelyard.storage.schema import utcnow

c = schema.endpoint_comparisons
CLASSES = "classes"  # agreement of predicted classes
NUMBERS = "numbers"  # absolute differences of predicted numbers


@dataclass
class Tally:
    """Sums over mirrored requests of one (answering version, mirrored version) pair."""

    endpoint: str
    answered_version: int
    mirrored_alias: str
    mirrored_version: int | None
    kind: str
    requests: int = 0
    failed: int = 0
    rows: int = 0
    agreed: int = 0
    abs_diff_sum: float = 0.0
    abs_diff_max: float = 0.0
    answered_ms_sum: float = 0.0
    answered_ms_max: float = 0.0
    mirrored_ms_sum: float = 0.0
    mirrored_ms_max: float = 0.0

    def add(self, other: Tally) -> None:
        """Add ``other`` (same pair) into this one."""
        self.requests += other.requests
        self.failed += other.failed
        self.rows += other.rows
        self.agreed += other.agreed
        self.abs_diff_sum += other.abs_diff_sum
        self.abs_diff_max = max(self.abs_diff_max, other.abs_diff_max)
        self.answered_ms_sum += other.answered_ms_sum
        self.answered_ms_max = max(self.answered_ms_max, other.answered_ms_max)
        self.mirrored_ms_sum += other.mirrored_ms_sum
        self.mirrored_ms_max = max(self.mirrored_ms_max, other.mirrored_ms_max)


@dataclass(frozen=True)
class Comparison:
    """The mirror's findings for one (answering version, mirrored version) pair."""

    answered_version: int
    mirrored_alias: str
    mirrored_version: int | None
    kind: str  # classes or numbers
    requests: int  # mirrored requests
    failed: int  # of which the mirrored alias could not score
    rows: int  # rows compared
    agreement: float | None  # classes: share of rows with the same class
    mean_abs_diff: float | None  # numbers: mean absolute difference
    max_abs_diff: float | None  # numbers: largest absolute difference
    answered_ms_mean: float
    answered_ms_max: float
    mirrored_ms_mean: float
    mirrored_ms_max: float
    first_at: datetime
    last_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (times as ISO 8601)."""
        out = asdict(self)
        out["first_at"] = self.first_at.isoformat()
        out["last_at"] = self.last_at.isoformat()
        return out


class ComparisonStore:
    """Append tallies; read an endpoint's comparisons summed."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, tallies: Sequence[Tally]) -> None:
        """Write one row per tally (those with no request are skipped)."""
        now = utcnow()
        rows = [{**asdict(t), "created_at": now} for t in tallies if t.requests]
        if rows:
            self._db.write(lambda conn: conn.execute(sa.insert(c), rows))

    def summary(self, endpoint: str) -> list[Comparison]:
        """``endpoint``'s comparisons, one per (answering, mirrored) version pair, the
        most recent pair first."""

        def read(conn: Connection) -> list[Comparison]:
            key = (c.c.answered_version, c.c.mirrored_alias, c.c.mirrored_version, c.c.kind)
            sums = [
                sa.func.sum(col).label(col.name)
                for col in (
                    c.c.requests,
                    c.c.failed,
                    c.c.rows,
                    c.c.agreed,
                    c.c.abs_diff_sum,
                    c.c.answered_ms_sum,
                    c.c.mirrored_ms_sum,
                )
            ]
            maxes = [
                sa.func.max(col).label(col.name)
                for col in (c.c.abs_diff_max, c.c.answered_ms_max, c.c.mirrored_ms_max)
            ]
            query = (
                sa.select(
                    *key,
                    *sums,
                    *maxes,
                    sa.func.min(c.c.created_at).label("first_at"),
                    sa.func.max(c.c.created_at).label("last_at"),
                )
                .where(c.c.endpoint == endpoint)
                .group_by(*key)
                .order_by(sa.func.max(c.c.created_at).desc())
            )
            return [_comparison(row) for row in conn.execute(query).mappings()]

        return self._db.read(read)

    def clear(self, endpoint: str) -> int:
        """Forget ``endpoint``'s comparisons (when it is deleted); returns the rows gone."""
        return int(
            self._db.write(
                lambda conn: conn.execute(sa.delete(c).where(c.c.endpoint == endpoint)).rowcount
            )
        )


def _comparison(row: Any) -> Comparison:
    requests = int(row["requests"] or 0)
    scored = max(requests - int(row["failed"] or 0), 0)
    rows = int(row["rows"] or 0)
    classes = row["kind"] == CLASSES
    return Comparison(
        answered_version=int(row["answered_version"]),
        mirrored_alias=str(row["mirrored_alias"]),
        mirrored_version=row["mirrored_version"],
        kind=str(row["kind"]),
        requests=requests,
        failed=int(row["failed"] or 0),
        rows=rows,
        agreement=(int(row["agreed"]) / rows if rows else None) if classes else None,
        mean_abs_diff=None if classes or not rows else float(row["abs_diff_sum"]) / rows,
        max_abs_diff=None if classes or not rows else float(row["abs_diff_max"]),
        answered_ms_mean=float(row["answered_ms_sum"] or 0) / scored if scored else 0.0,
        answered_ms_max=float(row["answered_ms_max"] or 0),
        mirrored_ms_mean=float(row["mirrored_ms_sum"] or 0) / scored if scored else 0.0,
        mirrored_ms_max=float(row["mirrored_ms_max"] or 0),
        first_at=row["first_at"],
        last_at=row["last_at"],
    )
