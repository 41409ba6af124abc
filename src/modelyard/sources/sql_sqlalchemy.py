"""The SQLAlchemy path: any backend with a SQLAlchemy driver, and the fallback of the others.

Reads type their columns from the rows they get (see
:func:`modelyard.sources.arrow.rows_to_table`); writes go through pandas ``to_sql``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from modelyard.errors import SourceError
from modelyard.sources.arrow import rows_to_table
from modelyard.sources.base import IfExists
from modelyard.sources.sql_target import SqlTarget


class SqlalchemyPath(SqlTarget):
    """Reading and writing through the source's SQLAlchemy engine."""

    def _read_sqlalchemy(self, sql: str, values: dict[str, Any], table: str | None) -> pa.Table:
        engine = self.engine()
        try:
            conn = engine.connect()
        except sa.exc.DBAPIError as exc:
            raise self._unreachable(exc.orig or exc) from None
        try:
            result = conn.execute(sa.text(sql), values)
            names = list(result.keys())
            return rows_to_table(names, [tuple(row) for row in result])
        except sa.exc.DBAPIError as exc:
            raise self._query_error(exc.orig or exc, sql) from None
        finally:
            conn.close()

    def _write_sqlalchemy(self, data: pa.Table, table: str, if_exists: IfExists) -> int:
        schema, _, bare = table.rpartition(".")
        frame = data.to_pandas()
        types: dict[str, Any] = {}
        if self.backend in ("mysql", "mariadb"):  # DATETIME alone would drop the microseconds
            types = {
                f.name: mysql.DATETIME(fsp=6) for f in data.schema if pa.types.is_timestamp(f.type)
            }
        try:
            frame.to_sql(
                bare,
                self.engine(),
                schema=schema or None,
                if_exists=if_exists,
                index=False,
                chunksize=10_000,
                dtype=types or None,
            )
        except sa.exc.DBAPIError as exc:
            raise self._query_error(exc.orig or exc, f"INSERT INTO {table}") from None
        except ValueError as exc:  # pandas: table exists with if_exists="fail"
            raise SourceError(f"source {self.name}: {exc}", source=self.name) from None
        return int(data.num_rows)
