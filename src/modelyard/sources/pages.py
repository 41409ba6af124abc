"""Keyset paging over a query or a table of a SQL source: each page is a stable key range.

A page is ``SELECT * FROM (query) WHERE key > :after [AND key <= :upto] ORDER BY key
LIMIT n``: reading it again after a crash gives the same rows, whatever was read before,
so a batch job resumes exactly after the last key it committed.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from modelyard.errors import InvalidInput
from modelyard.sources.sql import SqlSource

_ALIAS = "modelyard_page"


class KeyPages:
    """Pages of ``query`` (or ``table``) of ``source`` in the order of column ``key``."""

    def __init__(
        self, source: SqlSource, key: str, *, query: str | None = None, table: str | None = None
    ) -> None:
        self.source = source
        self.key = key
        self._base = source._statement(query, table)
        self._quoted = source._dialect().identifier_preparer.quote(key)

    def page(self, limit: int, *, after: Any = None, upto: Any = None) -> pa.Table:
        """Up to ``limit`` rows with ``after < key <= upto`` (either bound optional)."""
        where, params = self._range(after, upto)
        sql = (
            f"SELECT * FROM ({self._base}) AS {_ALIAS}{where} "  # noqa: S608  # quoted key
            f"ORDER BY {self._quoted} LIMIT {int(limit)}"
        )
        return self.source.read(sql, params=params)

    def count(self, *, after: Any = None, upto: Any = None) -> int:
        """How many rows have ``after < key <= upto``."""
        where, params = self._range(after, upto)
        sql = f"SELECT count(*) AS n FROM ({self._base}) AS {_ALIAS}{where}"  # noqa: S608
        return int(self.source.read(sql, params=params).column(0)[0].as_py())

    def bounds(self) -> tuple[Any, Any]:
        """The smallest and the largest key (None, None without rows)."""
        sql = (
            f"SELECT min({self._quoted}) AS low, max({self._quoted}) AS high "  # noqa: S608
            f"FROM ({self._base}) AS {_ALIAS}"
        )
        row = self.source.read(sql).to_pylist()[0]
        return row["low"], row["high"]

    def schema(self) -> pa.Schema:
        """The columns of the query's result and their types (from one row); raises
        InvalidInput if the key column is not among them."""
        sql = f"SELECT * FROM ({self._base}) AS {_ALIAS} LIMIT 1"  # noqa: S608
        result = self.source.read(sql)
        names = list(result.column_names)
        if self.key not in names:
            raise InvalidInput(
                f"the key column {self.key} is not in the input (columns: {', '.join(names)}): "
                "give --key one of them, unique per row",
                code="missing_column",
                column=self.key,
            )
        return result.schema

    def _range(self, after: Any, upto: Any) -> tuple[str, dict[str, Any]]:
        clauses, params = [], {}
        if after is not None:
            clauses.append(f"{self._quoted} > :modelyard_after")
            params["modelyard_after"] = after
        if upto is not None:
            clauses.append(f"{self._quoted} <= :modelyard_upto")
            params["modelyard_upto"] = upto
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
