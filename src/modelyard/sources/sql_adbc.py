"""The ADBC path (PostgreSQL, SQLite): reads straight into Arrow and bulk-ingest writes.

On PostgreSQL a large table, or a query with ``partition_on``, is read over parallel
connections on one snapshot (see :mod:`modelyard.sources.pg_parallel`), and a read keeps
its connection for the next one (see :class:`~modelyard.sources.idle.IdleConnections`)
where the driver survives a connection the server has dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any

import pyarrow as pa

from modelyard.errors import SourceError
from modelyard.sources.base import IfExists
from modelyard.sources.pg_parallel import (
    integer_ranges,
    page_ranges,
    read_on_one_snapshot,
    table_layout,
)
from modelyard.sources.sql_drivers import import_driver, keeps_connections_safely
from modelyard.sources.sql_target import SqlTarget


class AdbcPath(SqlTarget):
    """Reading and writing through ``adbc_driver_<backend>``."""

    def _read_adbc(self, sql: str, values: dict[str, Any], table: str | None) -> pa.Table:
        module = import_driver(f"adbc_driver_{self.backend}.dbapi")
        statement, args = self._bind(sql, values) if values else (sql, [])
        conn = self._adbc_connection(module)
        try:
            result = self._fetch_adbc(module, conn, sql, statement, args, table)
        except BaseException:
            with suppress(Exception):  # the read's own error is the one to report
                conn.close()
            raise
        if self._keeps_connections():
            self._idle.give(conn)
        else:
            conn.close()
        return result

    def _keeps_connections(self) -> bool:
        return self.backend == "postgresql" and keeps_connections_safely()

    def _adbc_connection(self, module: Any) -> Any:
        """The connection the last read left (PostgreSQL), or a new one."""
        if self._keeps_connections():
            kept = self._idle.take()
            if kept is not None:
                return kept
        if self.backend == "sqlite":
            return self._connect(module, self._url.database)
        return self._pg_connect(module)

    def _pg_connect(self, module: Any) -> Any:
        # autocommit: a kept connection holds no transaction, so no lock, between reads
        return self._connect(module, self._plain_url("postgresql"), autocommit=True)

    def _connect(self, module: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return module.connect(*args, **kwargs)
        except Exception as exc:  # each driver raises its own types
            raise self._unreachable(exc) from None

    def _fetch_adbc(
        self, module: Any, conn: Any, sql: str, statement: str, args: list[Any], table: str | None
    ) -> pa.Table:
        try:
            with conn.cursor() as cursor:
                parts = self._parts(conn, cursor, statement, args, table)
                if len(parts) > 1:
                    return read_on_one_snapshot(conn, lambda: self._pg_connect(module), parts, args)
                cursor.execute(parts[0], args or None)
                result: pa.Table = cursor.fetch_arrow_table()
                return result
        except SourceError:
            raise
        except Exception as exc:
            raise self._query_error(exc, sql) from None

    def _parts(
        self, conn: Any, cursor: Any, statement: str, args: list[Any], table: str | None
    ) -> list[str]:
        """The statements a read runs, one per connection: one, unless PostgreSQL splits it.

        A table splits by page ranges when it is large enough (see
        :meth:`~modelyard.sources.pg_parallel.TableLayout.splits`); a query, or a table too
        small to split, by ranges of ``partition_on`` where one is set.
        """
        if self.backend != "postgresql" or self.partitions < 2:
            return [statement]
        if table is not None:
            layout = table_layout(_adbc_rows(conn, cursor), self._quoted_table(table))
            if layout is not None and layout.splits(self.partitions):
                return page_ranges(statement, layout.pages, self.partitions)
        if self.partition_on:
            bounds = self._bounds(cursor, statement, args)
            if bounds is not None:
                column = self._dialect().identifier_preparer.quote(self.partition_on)
                return integer_ranges(statement, column, *bounds, self.partitions)
        return [statement]

    def _bounds(self, cursor: Any, statement: str, args: list[Any]) -> tuple[int, int] | None:
        """min and max of the partition column over the query (None when not integers)."""
        column = self._dialect().identifier_preparer.quote(str(self.partition_on))
        bounds = f"SELECT min({column}), max({column}) FROM ({statement}) AS s"  # noqa: S608
        cursor.execute(bounds, args or None)
        low, high = cursor.fetchone()
        if not isinstance(low, int) or not isinstance(high, int):
            return None
        return low, high

    def _write_adbc(self, data: pa.Table, table: str, if_exists: IfExists) -> int:
        module = import_driver(f"adbc_driver_{self.backend}.dbapi")
        mode = {"append": "create_append", "replace": "replace", "fail": "create"}[if_exists]
        try:
            conn = module.connect(
                self._url.database if self.backend == "sqlite" else self._plain_url("postgresql")
            )
        except Exception as exc:
            raise self._unreachable(exc) from None
        schema, _, bare = table.rpartition(".")
        try:
            with conn.cursor() as cursor:
                where: dict[str, str] = {}
                if self.backend == "sqlite":
                    _create_sqlite_table(cursor, data, schema, bare, if_exists)
                    mode = "append"
                    if schema:
                        where["catalog_name"] = schema  # an attached database, to ADBC
                elif schema:
                    where["db_schema_name"] = schema
                count = cursor.adbc_ingest(bare, data, mode=mode, **where)
            conn.commit()
            return int(count if count is not None and count >= 0 else data.num_rows)
        except Exception as exc:
            raise self._query_error(exc, f"INSERT INTO {table}") from None
        finally:
            conn.close()


def _create_sqlite_table(
    cursor: Any, data: pa.Table, schema: str, bare: str, if_exists: IfExists
) -> None:
    """Create the table for an ADBC ingest with the column types the data has.

    ADBC's own SQLite tables declare booleans INTEGER, dates TEXT and timestamps nothing,
    so they would read back as integers and text; declared as what they are, reading
    gives them back (see :func:`modelyard.sources.arrow.apply_declared_types`).
    """
    name = ".".join(_quote(part) for part in (schema, bare) if part)
    if if_exists == "replace":
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
    columns = ", ".join(f"{_quote(f.name)} {_sqlite_type(f.type)}".rstrip() for f in data.schema)
    guard = "IF NOT EXISTS " if if_exists == "append" else ""
    cursor.execute(f"CREATE TABLE {guard}{name} ({columns})")


def _sqlite_type(kind: pa.DataType) -> str:
    checks: list[tuple[Callable[[pa.DataType], bool], str]] = [
        (pa.types.is_boolean, "BOOLEAN"),
        (pa.types.is_integer, "INTEGER"),
        (pa.types.is_floating, "REAL"),
        (pa.types.is_decimal, "NUMERIC"),
        (pa.types.is_date, "DATE"),
        (pa.types.is_timestamp, "TIMESTAMP"),
        (lambda k: pa.types.is_string(k) or pa.types.is_large_string(k), "TEXT"),
        (lambda k: pa.types.is_binary(k) or pa.types.is_large_binary(k), "BLOB"),
    ]
    return next((name for check, name in checks if check(kind)), "")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _adbc_rows(conn: Any, cursor: Any) -> Callable[[str], list[Any]]:
    def rows(sql: str) -> list[Any]:
        try:
            cursor.execute(sql)
            return list(cursor.fetchall())
        except Exception:
            conn.rollback()  # leave no aborted transaction behind for the real statement
            raise

    return rows
