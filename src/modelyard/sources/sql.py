"""SQL sources: a named SQLAlchemy URL read straight into Arrow.

Readers by backend (``reader = "auto"``): ADBC for PostgreSQL and SQLite,
connectorx for MariaDB/MySQL and SQL Server, SQLAlchemy for anything else or
when the fast driver is not installed. Every reader's result goes through
:func:`modelyard.sources.arrow.canonical_table`, so the frame is the same
whichever read it. Queries take ``:name`` parameters, bound by the driver
(connectorx, which cannot bind, gets them rendered as escaped literals by
SQLAlchemy's dialect).

SQLite keeps no types beyond its storage classes, so its results take the types their
columns were declared with (DATE, BOOLEAN, NUMERIC…). Known driver limits: connectorx
reads decimals with at most 10 fractional digits, and cannot read a SQLite NUMERIC
column holding non-integers; the SQLAlchemy reader types its columns from the rows it
gets, so a query with no rows comes back with float64 columns on a server database.

Each reader path lives in its own module (``sql_adbc``, ``sql_connectorx``,
``sql_sqlalchemy``) over the shared :class:`~modelyard.sources.sql_target.SqlTarget`;
this one picks the path and falls back.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from modelyard.sources.arrow import apply_declared_types, canonical_table
from modelyard.sources.base import IfExists
from modelyard.sources.sql_adbc import AdbcPath
from modelyard.sources.sql_connectorx import ConnectorxPath
from modelyard.sources.sql_drivers import DriverMissing
from modelyard.sources.sql_sqlalchemy import SqlalchemyPath


class SqlSource(AdbcPath, ConnectorxPath, SqlalchemyPath):
    """A database reachable through a SQLAlchemy URL."""

    def read(
        self,
        query: str | None = None,
        *,
        table: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> pa.Table:
        """Read a query's result (``:name`` parameters) or a whole table into canonical Arrow."""
        sql = self._statement(query, table)
        values = dict(params or {})
        readers: dict[str, Callable[[str, dict[str, Any], str | None], pa.Table]] = {
            "adbc": self._read_adbc,
            "connectorx": self._read_connectorx,
            "sqlalchemy": self._read_sqlalchemy,
        }
        self._parameter_names(sql, values)  # a missing one fails alike on every reader
        try:
            result = readers[self.reader](sql, values, table)
            self.last_reader = self.reader
        except DriverMissing:
            result = self._read_sqlalchemy(sql, values, table)
            self.last_reader = "sqlalchemy"
        if self.backend == "sqlite" and self.last_reader != "connectorx":
            declared = self._sqlite_declared_types(sql)
            if declared is not None:
                result = apply_declared_types(result, declared)
        return canonical_table(result)

    def write(self, data: pa.Table, table: str, *, if_exists: IfExists = "append") -> int:
        """Write ``data`` into ``table`` (created if missing); ADBC bulk ingest where it exists."""
        self._statement(None, table)
        if self.reader == "adbc":
            try:
                return self._write_adbc(data, table, if_exists)
            except DriverMissing:
                pass
        return self._write_sqlalchemy(data, table, if_exists)

    def _sqlite_declared_types(self, sql: str) -> list[str] | None:
        """The declared type of each result column of ``sql``, or None where unknown.

        SQLite reports them for a view's columns, so the query becomes a temporary view
        (parameters as NULL, which leaves the types alone) in a read-only connection.
        """
        database = self._url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        view = f"modelyard_types_{uuid.uuid4().hex}"
        try:
            clause = sa.text(sql.strip().rstrip(";"))
            names = clause.compile(dialect=self._dialect()).positiontup or []
            body = clause.bindparams(**dict.fromkeys(names))
            rendered = body.compile(dialect=self._dialect(), compile_kwargs={"literal_binds": True})
            uri = Path(database).resolve().as_uri() + "?mode=ro"
            with closing(sqlite3.connect(uri, uri=True)) as conn:
                conn.execute(f"CREATE TEMP VIEW {view} AS {rendered}")
                rows = conn.execute(f"PRAGMA temp.table_info({view})").fetchall()
        except (sqlite3.Error, ValueError, sa.exc.SQLAlchemyError):
            return None
        return [str(row[2] or "") for row in rows]
