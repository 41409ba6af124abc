"""Parallel reads from PostgreSQL: one statement per connection, all on one snapshot.

A read on one connection goes at one backend's pace, and a backend's COPY of a row
costs about as much CPU as the client's decoding of it. Splitting a read over several
connections puts several backends to work at once:

* a whole table splits by page ranges (``ctid``, read by a TID Range Scan since
  PostgreSQL 14, so each backend reads only its own pages), see :func:`page_ranges`;
* a query with ``partition_on`` splits by ranges of that integer column.

Every connection reads the first one's snapshot (``pg_export_snapshot``, as
``pg_dump --jobs`` does), so the parts add up to exactly what one read would have seen
at that moment: a row that a concurrent update moves to another page is read once,
neither twice nor never.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

TID_RANGE_SCAN = 140000  # server_version_num from which ctid ranges are read by page
MIN_SPLIT_PAGES = 2048  # 16 MB of 8 kB pages: below that, opening connections costs more
_LAYOUT = (
    "SELECT c.relkind::text, pg_relation_size(c.oid) / current_setting('block_size')::int, "
    "current_setting('server_version_num')::int FROM pg_class c "
    "WHERE c.oid = to_regclass('{name}')"
)
_SPLITTABLE_KINDS = ("r", "m")  # tables and materialised views have pages of their own
_BEGIN = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"


@dataclass(frozen=True)
class TableLayout:
    """What decides whether a table read splits by pages."""

    kind: str  # pg_class.relkind: r table, m materialised view, v view, p partitioned…
    pages: int
    server_version: int

    def splits(self, partitions: int) -> bool:
        """Whether reading this table in ``partitions`` page ranges is worth it."""
        return (
            partitions > 1
            and self.kind in _SPLITTABLE_KINDS
            and self.pages >= MIN_SPLIT_PAGES
            and self.server_version >= TID_RANGE_SCAN
        )


def table_layout(rows: Callable[[str], list[Any]], quoted_name: str) -> TableLayout | None:
    """The table's kind, page count and the server's version; None where unknown.

    ``quoted_name`` is the table name as the dialect quotes it (``[A-Za-z0-9_$."]`` only).
    """
    try:
        found = rows(_LAYOUT.format(name=quoted_name.replace("'", "''")))
    except Exception:  # the catalog query is an optimisation only
        return None
    if not found:
        return None
    kind, pages, version = found[0]
    return TableLayout(str(kind), int(pages or 0), int(version))


def page_ranges(select: str, pages: int, parts: int) -> list[str]:
    """``select`` (a ``SELECT … FROM table`` with no WHERE) over ``parts`` ctid ranges.

    The ranges are consecutive and cover every page; the last has no upper end, so pages
    the table gained since its size was read are read too.
    """
    edges = [pages * i // parts for i in range(parts)] + [None]
    statements = []
    for low, high in itertools.pairwise(edges):
        where = f"ctid >= '({low},0)'::tid"
        if high is not None:
            where += f" AND ctid < '({high},0)'::tid"
        statements.append(f"{select} WHERE {where}")
    return statements


def integer_ranges(statement: str, column: str, low: int, high: int, parts: int) -> list[str]:
    """``statement`` restricted to ``parts`` ranges of the quoted integer ``column``."""
    step = max(1, (high - low + parts) // parts)
    edges = [low + i * step for i in range(parts)] + [high + 1]
    return [
        # the column is quoted by the dialect; the bounds are integers computed here
        f"SELECT * FROM ({statement}) AS s WHERE {column} >= {a} AND {column} < {b}"  # noqa: S608
        for a, b in itertools.pairwise(edges)
        if a < b
    ]


def read_on_one_snapshot(
    first: Any, connect: Callable[[], Any], statements: Sequence[str], args: Sequence[Any]
) -> pa.Table:
    """Run each statement on its own connection, all reading ``first``'s snapshot.

    ``first`` is an open autocommit DB-API connection (ADBC); it exports the snapshot and
    runs the first statement, and is left open, outside any transaction, for the caller.
    ``connect()`` opens each other connection; they are closed here. The results are
    concatenated in the order of ``statements``.
    """
    with first.cursor() as cursor:
        cursor.execute(_BEGIN)
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = str(cursor.fetchone()[0])
    others: list[Any] = []

    def on_first() -> pa.Table:
        return _fetch(first, statements[0], args)

    def on_another(statement: str) -> pa.Table:
        conn = connect()
        others.append(conn)
        with conn.cursor() as cursor:
            cursor.execute(_BEGIN)
            # the id comes from the server: hex digits and dashes
            cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        return _fetch(conn, statement, args)

    try:
        with ThreadPoolExecutor(max_workers=len(statements)) as pool:
            futures = [pool.submit(on_first)]
            futures += [pool.submit(on_another, statement) for statement in statements[1:]]
            tables = [future.result() for future in futures]
        # the snapshot lives as long as the exporting transaction: end it only now
        with first.cursor() as cursor:
            cursor.execute("COMMIT")
    finally:
        for conn in others:
            with suppress(Exception):  # read-only: closing ends each transaction
                conn.close()
    return pa.concat_tables(tables)


def _fetch(conn: Any, statement: str, args: Sequence[Any]) -> pa.Table:
    with conn.cursor() as cursor:
        cursor.execute(statement, list(args) or None)
        table: pa.Table = cursor.fetch_arrow_table()
        return table
