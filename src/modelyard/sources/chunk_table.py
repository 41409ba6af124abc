"""An output table written a chunk at a time, each chunk with its watermark in ONE transaction.

Beside the output table the database holds ``modelyard_batch_watermarks``: per (job,
partition) the last key written and the chunk count. A chunk's rows and the move of its
watermark commit together, so after a crash the watermark names exactly the rows that
are in the table, and a job run again resumes after it. The move is fenced by the
chunk number (``seq``): two runners of one partition cannot both commit chunk n.

PostgreSQL ingests through ADBC (``COPY``) inside the transaction; SQLite and MariaDB
through SQLAlchemy's ``executemany``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from modelyard.errors import Conflict, InvalidInput, SourceError
from modelyard.sources.sql import SqlSource
from modelyard.sources.sql_drivers import DriverMissing, import_driver
from modelyard.sources.sql_target import _TABLE_RE

WATERMARKS = "modelyard_batch_watermarks"


@dataclass(frozen=True)
class Watermark:
    """Where one partition of a job stands: chunks committed, the last key, rows."""

    seq: int
    last_key: Any
    rows: int
    skipped: int


def _sa_type(kind: pa.DataType) -> sa.types.TypeEngine[Any]:
    if pa.types.is_boolean(kind):
        return sa.Boolean()
    if pa.types.is_integer(kind):
        return sa.BigInteger()
    if pa.types.is_floating(kind):
        return sa.Double()
    if pa.types.is_timestamp(kind):
        return sa.DateTime(timezone=kind.tz is not None)
    return sa.Text()


class ChunkTable:
    """Output table ``table`` of ``source``, written chunk by chunk with watermarks."""

    def __init__(self, source: SqlSource, table: str) -> None:
        if not _TABLE_RE.match(table):
            raise InvalidInput(f"{table!r} is not a table name", code="bad_output_table")
        self.source = source
        self.table = table
        schema_name, _, bare = table.rpartition(".")
        self._schema = schema_name or None
        self._bare = bare
        self._meta = sa.MetaData(schema=self._schema)
        self._marks = sa.Table(
            WATERMARKS,
            self._meta,
            sa.Column("job_id", sa.String(64), primary_key=True),
            sa.Column("part", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("seq", sa.Integer, nullable=False),
            sa.Column("last_key", sa.Text, nullable=False),
            sa.Column("rows_done", sa.BigInteger, nullable=False),
            sa.Column("rows_skipped", sa.BigInteger, nullable=False),
        )
        self._out: sa.Table | None = None

    def describe(self) -> str:
        """``table`` on the source's URL (password masked)."""
        return f"table {self.table} on {self.source.describe()}"

    def prepare(self, schema: pa.Schema) -> None:
        """Create the output table (columns of ``schema``) and the watermark table if
        missing. Raises InvalidInput if the output table exists with other columns."""
        engine = self.source.engine()
        try:
            with engine.begin() as conn:
                found = sa.inspect(conn).has_table(self._bare, schema=self._schema)
                if found:
                    existing = [
                        c["name"]
                        for c in sa.inspect(conn).get_columns(self._bare, schema=self._schema)
                    ]
                    if sorted(n.lower() for n in existing) != sorted(
                        n.lower() for n in schema.names
                    ):
                        raise InvalidInput(
                            f"output table {self.table} exists with other columns "
                            f"({', '.join(existing)}); this job writes "
                            f"{', '.join(schema.names)}: name a new table or drop that one",
                            code="output_schema",
                            expected=schema.names,
                            got=existing,
                        )
                columns = [sa.Column(f.name, _sa_type(f.type)) for f in schema]
                self._out = sa.Table(self._bare, self._meta, *columns, extend_existing=True)
                if not found:
                    self._out.create(conn)
                self._marks.create(conn, checkfirst=True)
        except sa.exc.DBAPIError as exc:
            raise self.source._query_error(exc.orig or exc, f"CREATE TABLE {self.table}") from None

    def watermark(self, job_id: str, part: int) -> Watermark | None:
        """The partition's watermark, or None before its first chunk."""
        m = self._marks
        try:
            with self.source.engine().connect() as conn:
                row = conn.execute(
                    sa.select(m.c.seq, m.c.last_key, m.c.rows_done, m.c.rows_skipped).where(
                        m.c.job_id == job_id, m.c.part == part
                    )
                ).first()
        except sa.exc.DBAPIError as exc:
            raise self.source._query_error(exc.orig or exc, f"SELECT FROM {WATERMARKS}") from None
        if row is None:
            return None
        return Watermark(
            int(row.seq), json.loads(row.last_key), int(row.rows_done), int(row.rows_skipped)
        )

    def commit(self, job_id: str, part: int, data: pa.Table, mark: Watermark) -> None:
        """Insert ``data`` and move the partition's watermark to ``mark`` in one
        transaction. Raises Conflict if the watermark is not at ``mark.seq - 1``
        (another runner committed this chunk): then nothing is written."""
        if self.source.backend == "postgresql":
            try:
                self._commit_adbc(job_id, part, data, mark)
                return
            except DriverMissing:
                pass
        self._commit_sqlalchemy(job_id, part, data, mark)

    def _mark_values(self, job_id: str, part: int, mark: Watermark) -> dict[str, Any]:
        return {
            "job_id": job_id,
            "part": part,
            "seq": mark.seq,
            "last_key": json.dumps(mark.last_key),
            "rows_done": mark.rows,
            "rows_skipped": mark.skipped,
        }

    def _commit_sqlalchemy(self, job_id: str, part: int, data: pa.Table, mark: Watermark) -> None:
        assert self._out is not None, "prepare() first"
        m = self._marks
        rows = _naive_utc(data).to_pylist()
        try:
            with self.source.engine().begin() as conn:
                if rows:
                    conn.execute(self._out.insert(), rows)
                values = self._mark_values(job_id, part, mark)
                if mark.seq == 1:
                    conn.execute(sa.insert(m).values(**values))
                else:
                    moved = conn.execute(
                        sa.update(m)
                        .where(m.c.job_id == job_id, m.c.part == part, m.c.seq == mark.seq - 1)
                        .values(**values)
                    ).rowcount
                    if moved != 1:
                        raise _overtaken(job_id, part, mark.seq)
        except sa.exc.IntegrityError:
            raise _overtaken(job_id, part, mark.seq) from None
        except sa.exc.DBAPIError as exc:
            raise self.source._query_error(exc.orig or exc, f"INSERT INTO {self.table}") from None

    def _commit_adbc(self, job_id: str, part: int, data: pa.Table, mark: Watermark) -> None:
        module = import_driver("adbc_driver_postgresql.dbapi")
        conn = self.source._connect(module, self.source._plain_url("postgresql"))
        values = self._mark_values(job_id, part, mark)
        marks = self.source._quoted_table(
            f"{self._schema}.{WATERMARKS}" if self._schema else WATERMARKS
        )
        if mark.seq == 1:
            sql = (
                f"INSERT INTO {marks} (job_id, part, seq, last_key, rows_done, rows_skipped) "  # noqa: S608
                "VALUES (:job_id, :part, :seq, :last_key, :rows_done, :rows_skipped) RETURNING seq"
            )
        else:
            values["prev"] = mark.seq - 1
            sql = (
                f"UPDATE {marks} SET seq = :seq, last_key = :last_key, "  # noqa: S608
                "rows_done = :rows_done, rows_skipped = :rows_skipped "
                "WHERE job_id = :job_id AND part = :part AND seq = :prev RETURNING seq"
            )
        statement, args = self.source._bind(sql, values)
        try:
            with conn.cursor() as cursor:
                if data.num_rows:
                    where = {"db_schema_name": self._schema} if self._schema else {}
                    cursor.adbc_ingest(self._bare, data, mode="append", **where)
                try:
                    cursor.execute(statement, args)
                    moved = cursor.fetchall()
                except Exception as exc:
                    if "duplicate key" in str(exc) or "unique" in str(exc).lower():
                        raise _overtaken(job_id, part, mark.seq) from None
                    raise
                if len(moved) != 1:
                    raise _overtaken(job_id, part, mark.seq)
            conn.commit()
        except SourceError:
            raise
        except Conflict:
            conn.rollback()
            raise
        except Exception as exc:
            raise self.source._query_error(exc, f"INSERT INTO {self.table}") from None
        finally:
            conn.close()


def _overtaken(job_id: str, part: int, seq: int) -> Conflict:
    return Conflict(
        f"batch job {job_id} partition {part}: chunk {seq} was committed by another runner; "
        "this one stops without writing it"
    )


def _naive_utc(data: pa.Table) -> pa.Table:
    """Zoned timestamps as naive UTC (SQLite and MariaDB store no zone)."""
    columns = []
    for column in data.columns:
        if pa.types.is_timestamp(column.type) and column.type.tz is not None:
            column = pc.cast(column, pa.timestamp(column.type.unit))
        columns.append(column)
    return pa.table(columns, names=data.column_names)
