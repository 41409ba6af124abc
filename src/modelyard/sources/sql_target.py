"""What every SQL reader and writer shares: the parsed URL and its backend, the dialect
that binds ``:name`` parameters, the SQLAlchemy engine, and the translation of driver
errors into :class:`~modelyard.errors.SourceUnreachable` and
:class:`~modelyard.errors.QueryFailed`.

:class:`SqlTarget` is the base of each reader path (``sql_adbc``, ``sql_connectorx``,
``sql_sqlalchemy``) and so of :class:`modelyard.sources.sql.SqlSource`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect, Engine

from modelyard.config.secret import SecretURL, redact
from modelyard.errors import ConfigError, QueryFailed, SourceError, SourceUnreachable
from modelyard.sources.idle import IdleConnections
from modelyard.sources.sql_drivers import DIALECTS, FAST_READER, READERS, UNREACHABLE, first_line

_PG_COLUMNS = (
    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
    "WHERE attrelid = to_regclass('{name}') AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
)
_PG_NUMERIC = re.compile(r"numeric\((?P<precision>\d+),(?P<scale>-?\d+)\)")
_EXACT_FLOAT_DIGITS = 300  # NUMERIC(p, s) with p <= 300 cannot overflow a double
# connections a PostgreSQL read may split over (a large table, or a query with
# partition_on); on 2 cores 3 or 4 beat 2 by keeping both busy while either side waits
DEFAULT_PARTITIONS = 4
_TABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")


class SqlTarget:
    """A database reachable through a SQLAlchemy URL, and the helpers its readers share."""

    def __init__(
        self,
        name: str,
        url: SecretURL,
        *,
        reader: str = "auto",
        partition_on: str | None = None,
        partitions: int = DEFAULT_PARTITIONS,
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
        fast = FAST_READER.get(self.backend, "sqlalchemy")
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

    # -- statements ------------------------------------------------------------------

    def _statement(self, query: str | None, table: str | None) -> str:
        if (query is None) == (table is None):
            raise ConfigError(f"source {self.name}: give either a query or a table, not both")
        if table is not None:
            if not _TABLE_RE.fullmatch(table):
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
        factory = DIALECTS.get(self.backend)
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

    def _table_select(self, table: str, rows: Callable[[str], list[Any]]) -> str | None:
        """PostgreSQL: a ``SELECT`` of the table's columns, NUMERIC(p, s) ones cast to float8.

        The canonical frame holds numerics as float64 anyway, and PostgreSQL's cast rounds
        to the nearest double just as the canonical cast does; but connectorx decodes a
        float8 several times faster than a numeric, more than the server's cast costs.
        (ADBC decodes numerics about as fast as the server casts them, so it reads the
        table as it is.) None where there is nothing to cast, or the catalog cannot say:
        then ``SELECT *``.
        """
        if self.backend != "postgresql":
            return None
        preparer = self._dialect().identifier_preparer
        name = self._quoted_table(table)
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

    def _quoted_table(self, table: str) -> str:
        """``table`` (already checked against ``_TABLE_RE``) quoted by the dialect."""
        schema, _, bare = table.rpartition(".")
        return str(
            self._dialect().identifier_preparer.format_table(sa.table(bare, schema=schema or None))
        )

    # -- connections -----------------------------------------------------------------

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

    def _plain_url(self, scheme: str) -> str:
        """The URL without SQLAlchemy's ``+driver`` suffix, as libpq and connectorx want it."""
        return self._url.set(drivername=scheme).render_as_string(hide_password=False)

    def close(self) -> None:
        """Release pooled connections."""
        self._idle.close()
        if self._engine is not None:
            self._engine.dispose()

    # -- errors ----------------------------------------------------------------------

    def _unreachable(self, exc: BaseException) -> SourceUnreachable:
        detail = redact(first_line(exc), self.url)
        return SourceUnreachable(
            f"source {self.name} ({self.url}) is unreachable: {detail}", source=self.name
        )

    def _query_error(self, exc: BaseException, sql: str) -> SourceError:
        detail = redact(first_line(exc), self.url)
        if UNREACHABLE.search(detail):
            return self._unreachable(exc)
        return QueryFailed(
            f"source {self.name} ({self.url}) refused the query: {detail}; query: {sql.strip()}",
            source=self.name,
            query=sql.strip(),
        )
