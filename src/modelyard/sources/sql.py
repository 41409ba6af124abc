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
"""

from __future__ import annotations

import importlib
import itertools
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import mssql, mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine

from modelyard.config import SecretURL, redact
from modelyard.errors import ConfigError, QueryFailed, SourceError, SourceUnreachable
from modelyard.sources.arrow import apply_declared_types, canonical_table, rows_to_table
from modelyard.sources.base import IfExists
from modelyard.sources.idle import IdleConnections

READERS = ("auto", "adbc", "connectorx", "sqlalchemy")
_FAST_READER = {"postgresql": "adbc", "sqlite": "adbc", "mysql": "connectorx",
                "mariadb": "connectorx", "mssql": "connectorx"}  # fmt: skip
_DIALECTS: dict[str, Callable[[], Dialect]] = {
    "postgresql": lambda: postgresql.dialect(paramstyle="numeric_dollar"),  # type: ignore[no-untyped-call]
    "sqlite": lambda: sqlite.dialect(paramstyle="qmark"),
    "mysql": mysql.dialect,
    "mariadb": mysql.dialect,
    "mssql": mssql.dialect,
}
_UNREACHABLE = re.compile(
    r"could not connect|connection refused|connection to server|timed out|timeout expired|"
    r"password authentication failed|access denied|unknown database|does not exist.*database|"
    r"database .* does not exist|no such host|name or service not known|can't connect|"
    r"unable to open database|failed to connect|error connecting|tcp connect",
    re.IGNORECASE,
)
_PG_COLUMNS = (
    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
    "WHERE attrelid = to_regclass('{name}') AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
)
_PG_NUMERIC = re.compile(r"numeric\((?P<precision>\d+),(?P<scale>-?\d+)\)")
_EXACT_FLOAT_DIGITS = 300  # NUMERIC(p, s) with p <= 300 cannot overflow a double
_TABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")


class SqlSource:
    """A database reachable through a SQLAlchemy URL."""

    def __init__(
        self,
        name: str,
        url: SecretURL,
        *,
        reader: str = "auto",
        partition_on: str | None = None,
        partitions: int = 2,
    ) -> None:
        if reader not in READERS:
            raise ConfigError(f"source {name}: reader must be one of {', '.join(READERS)}")
        self.name = name
        self.url = url
        try:
            self._url = sa.make_url(url.reveal())
        except sa.exc.ArgumentError:
            raise ConfigError(f"source {name}: {url} is not a database URL") from None
        self.backend = self._url.get_backend_name()
        fast = _FAST_READER.get(self.backend, "sqlalchemy")
        self.reader = fast if reader == "auto" else reader
        if self.backend == "sqlite" and self._url.database in (None, "", ":memory:"):
            self.reader = "sqlalchemy"  # an in-memory database lives in one connection only
        self.last_reader = self.reader
        if partitions < 1:
            raise ConfigError(f"source {name}: partitions must be at least 1")
        self.partition_on = partition_on
        self.partitions = partitions
        self._engine: Engine | None = None
        self._idle = IdleConnections()

    def describe(self) -> str:
        """The URL with its password masked."""
        return str(self.url)

    # -- reading ---------------------------------------------------------------------

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
        except _DriverMissing:
            result = self._read_sqlalchemy(sql, values, table)
            self.last_reader = "sqlalchemy"
        if self.backend == "sqlite" and self.last_reader != "connectorx":
            declared = self._sqlite_declared_types(sql)
            if declared is not None:
                result = apply_declared_types(result, declared)
        return canonical_table(result)

    def _statement(self, query: str | None, table: str | None) -> str:
        if (query is None) == (table is None):
            raise ConfigError(f"source {self.name}: give either a query or a table, not both")
        if table is not None:
            if not _TABLE_RE.match(table):
                raise ConfigError(f"source {self.name}: {table!r} is not a table name")
            schema_name, _, bare = table.rpartition(".")
            selectable = sa.table(bare, schema=schema_name or None)
            compiled = sa.select(sa.text("*")).select_from(selectable)
            return str(compiled.compile(dialect=self._dialect()))
        assert query is not None
        if not query.strip():
            raise ConfigError(f"source {self.name}: the query is empty")
        return query

    def _dialect(self) -> Dialect:
        factory = _DIALECTS.get(self.backend)
        return factory() if factory is not None else self.engine().dialect

    def _parameter_names(self, sql: str, values: dict[str, Any]) -> list[str]:
        """The ``:name`` parameters of ``sql`` in order; QueryFailed if one has no value."""
        names = list(sa.text(sql).compile(dialect=self._dialect()).positiontup or [])
        missing = sorted({n for n in names if n not in values})
        if missing:
            needed = ", ".join(f":{name}" for name in missing)
            raise QueryFailed(
                f"source {self.name}: the query needs parameters {needed}"
                f" (given: {', '.join(sorted(values)) or 'none'}); query: {sql}",
                source=self.name,
                query=sql.strip(),
            )
        return names

    def _bind(self, sql: str, values: dict[str, Any]) -> tuple[str, list[Any]]:
        """Compile ``:name`` placeholders to the driver's positional style."""
        names = self._parameter_names(sql, values)
        compiled = sa.text(sql).compile(dialect=self._dialect())
        return compiled.string, [values[n] for n in names]

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

    def _read_adbc(self, sql: str, values: dict[str, Any], table: str | None) -> pa.Table:
        module = _import(f"adbc_driver_{self.backend}.dbapi")
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

    def _read_connectorx(self, sql: str, values: dict[str, Any], table: str | None) -> pa.Table:
        cx = _import("connectorx")
        if values:
            clause = sa.text(sql).bindparams(**values)
            sql = str(
                clause.compile(dialect=self._dialect(), compile_kwargs={"literal_binds": True})
            )
        scheme = {"mariadb": "mysql"}.get(self.backend, self.backend)
        with self._probe() as conn:  # connectorx would retry a failed login for 30 s
            if table is not None and conn is not None:
                sql = self._table_select(table, _sqlalchemy_rows(conn)) or sql
        # PostgreSQL: rows fetched 10,000 at a time from a cursor cost connectorx a tenth
        # less than its COPY stream, which it polls once per row; the values are the same
        protocol = {"postgresql": "cursor"}.get(self.backend)
        try:
            result: pa.Table = cx.read_sql(
                self._plain_url(scheme), sql, return_type="arrow", protocol=protocol
            )
        except Exception as exc:
            if _UNREACHABLE.search(str(exc)):
                raise self._unreachable(exc) from None
            raise self._query_error(exc, sql) from None
        return result

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

    # -- writing ---------------------------------------------------------------------

    def write(self, data: pa.Table, table: str, *, if_exists: IfExists = "append") -> int:
        """Write ``data`` into ``table`` (created if missing); ADBC bulk ingest where it exists."""
        self._statement(None, table)
        if self.reader == "adbc":
            try:
                return self._write_adbc(data, table, if_exists)
            except _DriverMissing:
                pass
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

    def _write_adbc(self, data: pa.Table, table: str, if_exists: IfExists) -> int:
        module = _import(f"adbc_driver_{self.backend}.dbapi")
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

    # -- helpers ---------------------------------------------------------------------

    def engine(self) -> Engine:
        """A SQLAlchemy engine on this source (created once)."""
        if self._engine is None:
            try:
                self._engine = sa.create_engine(self.url.reveal(), pool_pre_ping=True)
            except (ImportError, sa.exc.NoSuchModuleError) as exc:
                raise SourceError(
                    f"source {self.name} ({self.url}): driver not installed: {exc}",
                    source=self.name,
                ) from None
        return self._engine

    @contextmanager
    def _probe(self) -> Iterator[sa.Connection | None]:
        """A SQLAlchemy connection, or SourceUnreachable at once; None without the driver."""
        if self.backend == "sqlite":  # nothing to log in to (and connecting creates the file)
            yield None
            return
        try:
            engine = self.engine()
        except SourceError:
            yield None  # no SQLAlchemy driver for this URL
            return
        try:
            conn = engine.connect()
        except sa.exc.DBAPIError as exc:
            raise self._unreachable(exc.orig or exc) from None
        with conn:
            yield conn

    def _table_select(self, table: str, rows: Callable[[str], list[Any]]) -> str | None:
        """PostgreSQL: a ``SELECT`` of the table's columns, NUMERIC(p, s) ones cast to float8.

        The canonical frame holds numerics as float64 anyway, and PostgreSQL's cast rounds
        to the nearest double just as the canonical cast does; but a driver decodes a float8
        several times faster than a numeric (a third of a table read in bench/load_sql.py).
        None where there is nothing to cast, or the catalog cannot say: then ``SELECT *``.
        """
        if self.backend != "postgresql":
            return None
        preparer = self._dialect().identifier_preparer
        schema, _, bare = table.rpartition(".")
        name = preparer.format_table(sa.table(bare, schema=schema or None))
        try:
            columns = rows(_PG_COLUMNS.format(name=name))  # name: [A-Za-z0-9_$."] only
        except Exception:  # the catalog query is an optimisation only
            return None
        selected, casts = [], 0
        for column, type_name in columns:
            quoted = preparer.quote(column)
            numeric = _PG_NUMERIC.fullmatch(type_name)
            if numeric and int(numeric["precision"]) <= _EXACT_FLOAT_DIGITS:
                selected.append(f"CAST({quoted} AS DOUBLE PRECISION) AS {quoted}")
                casts += 1
            else:
                selected.append(quoted)
        if not casts:
            return None
        return f"SELECT {', '.join(selected)} FROM {name}"  # noqa: S608  # quoted identifiers

    def _plain_url(self, scheme: str) -> str:
        """The URL without SQLAlchemy's ``+driver`` suffix, as libpq and connectorx want it."""
        return self._url.set(drivername=scheme).render_as_string(hide_password=False)

    def _unreachable(self, exc: BaseException) -> SourceUnreachable:
        detail = redact(_first_line(exc), self.url)
        return SourceUnreachable(
            f"source {self.name} ({self.url}) is unreachable: {detail}", source=self.name
        )

    def _query_error(self, exc: BaseException, sql: str) -> SourceError:
        detail = redact(_first_line(exc), self.url)
        if _UNREACHABLE.search(detail):
            return self._unreachable(exc)
        return QueryFailed(
            f"source {self.name} ({self.url}) refused the query: {detail}; query: {sql.strip()}",
            source=self.name,
            query=sql.strip(),
        )

    def close(self) -> None:
        """Release pooled connections."""
        self._idle.close()
        if self._engine is not None:
            self._engine.dispose()


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


def _sqlalchemy_rows(conn: sa.Connection) -> Callable[[str], list[Any]]:
    def rows(sql: str) -> list[Any]:
        try:
            return list(conn.execute(sa.text(sql)).all())
        finally:
            conn.rollback()

    return rows


class _DriverMissing(Exception):
    """The fast driver is not installed: fall back to SQLAlchemy."""


def _import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise _DriverMissing(module) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines[:3])
