"""The ADBC path (PostgreSQL, SQLite): reads straight into Arrow and bulk-ingest writes.

On PostgreSQL a read keeps its connection for the next one (see
:class:`~modelyard.sources.idle.IdleConnections`) and, with ``partition_on``, splits an
integer column's range over parallel connections.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, suppress
from typing import Any

import pyarrow as pa

from modelyard.errors import SourceError
from modelyard.sources.base import IfExists
from modelyard.sources.sql_drivers import import_driver
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
        if self.backend == "postgresql":
            self._idle.give(conn)
        else:
            conn.close()
        return result

    def _adbc_connection(self, module: Any) -> Any:
        """The connection the last read left (PostgreSQL), or a new one."""
        if self.backend == "postgresql":
            kept = self._idle.take()
            if kept is not None:
                return kept
        try:
            if self.backend == "sqlite":
                return module.connect(self._url.database)
            # autocommit: a kept connection holds no transaction, so no lock, between reads
            return module.connect(self._plain_url("postgresql"), autocommit=True)
        except Exception as exc:  # each driver raises its own types
            raise self._unreachable(exc) from None

    def _fetch_adbc(
        self, module: Any, conn: Any, sql: str, statement: str, args: list[Any], table: str | None
    ) -> pa.Table:
        try:
            with conn.cursor() as cursor:
                if table is not None:
                    sql = statement = self._table_select(table, _adbc_rows(conn, cursor)) or sql
                if self.partition_on and self.partitions > 1 and self.backend == "postgresql":
                    bounds = self._bounds(cursor, statement, args)
                    if bounds is not None:
                        return self._read_adbc_partitions(module, statement, args, bounds)
                cursor.execute(statement, args or None)
                result: pa.Table = cursor.fetch_arrow_table()
                return result
        except SourceError:
            raise
        except Exception as exc:
            raise self._query_error(exc, sql) from None

    def _bounds(self, cursor: Any, statement: str, args: list[Any]) -> tuple[int, int] | None:
        """min and max of the partition column over the query (None when not integers)."""
        column = self._dialect().identifier_preparer.quote(str(self.partition_on))
        bounds = f"SELECT min({column}), max({column}) FROM ({statement}) AS s"  # noqa: S608
        cursor.execute(bounds, args or None)
        low, high = cursor.fetchone()
        if not isinstance(low, int) or not isinstance(high, int):
            return None
        return low, high

    def _read_adbc_partitions(
        self, module: Any, statement: str, args: list[Any], bounds: tuple[int, int]
    ) -> pa.Table:
        """Read ``partitions`` ranges of the partition column on parallel connections."""
        low, high = bounds
        column = self._dialect().identifier_preparer.quote(str(self.partition_on))
        step = max(1, (high - low + self.partitions) // self.partitions)
        edges = [low + i * step for i in range(self.partitions)] + [high + 1]
        parts = [
            # the column is quoted by the dialect; the bounds are integers computed here
            f"SELECT * FROM ({statement}) AS s WHERE {column} >= {a} AND {column} < {b}"  # noqa: S608
            for a, b in itertools.pairwise(edges)
            if a < b
        ]

        def fetch(part: str) -> pa.Table:
            with (
                closing(module.connect(self._plain_url("postgresql"))) as conn,
                conn.cursor() as cursor,
            ):
                cursor.execute(part, args or None)
                table: pa.Table = cursor.fetch_arrow_table()
                return table

        with ThreadPoolExecutor(max_workers=len(parts)) as pool:
            tables = list(pool.map(fetch, parts))
        return pa.concat_tables(tables)

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
