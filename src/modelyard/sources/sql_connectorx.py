"""The connectorx path (MariaDB/MySQL, SQL Server, PostgreSQL on request): reads into Arrow.

connectorx cannot bind parameters, so ``:name`` values are rendered as escaped literals
by SQLAlchemy's dialect; a SQLAlchemy connection is tried first because connectorx
would retry a failed login for 30 seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from modelyard.sources.sql_drivers import UNREACHABLE, import_driver
from modelyard.sources.sql_target import SqlTarget


class ConnectorxPath(SqlTarget):
    """Reading through ``connectorx.read_sql``."""

    def _read_connectorx(self, sql: str, values: dict[str, Any], table: str | None) -> pa.Table:
        cx = import_driver("connectorx")
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
            if UNREACHABLE.search(str(exc)):
                raise self._unreachable(exc) from None
            raise self._query_error(exc, sql) from None
        return result


def _sqlalchemy_rows(conn: sa.Connection) -> Callable[[str], list[Any]]:
    def rows(sql: str) -> list[Any]:
        try:
            return list(conn.execute(sa.text(sql)).all())
        finally:
            conn.rollback()

    return rows
