"""PostgreSQL reads split over parallel connections: same rows, one snapshot, clear errors."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

from modelyard.config.secret import SecretURL
from modelyard.errors import QueryFailed
from modelyard.sources import pg_parallel, sql_adbc, sql_drivers
from modelyard.sources.arrow import to_frame
from modelyard.sources.sql import SqlSource

ROWS = 20_000


@pytest.fixture
def table(engine: sa.Engine) -> Iterator[str]:
    name = f"split_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {name} AS SELECT n AS id, 0 AS v, n * 0.25 AS x, "
            "mod(n, 1000)::numeric(8, 2) / 7 AS amount, 'row-' || n AS label "
            f"FROM generate_series(1, {ROWS}) AS g(n)"
        )
    yield name
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP VIEW IF EXISTS {name}_view")
        conn.exec_driver_sql(f"DROP TABLE {name}")


@pytest.fixture
def splits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many statements each parallel read ran (any table splits: no size threshold)."""
    monkeypatch.setattr(pg_parallel, "MIN_SPLIT_PAGES", 1)
    counts: list[int] = []
    real = sql_adbc.read_on_one_snapshot

    def counted(first: Any, connect: Any, statements: Sequence[str], args: Any) -> pa.Table:
        counts.append(len(statements))
        return real(first, connect, statements, args)

    monkeypatch.setattr(sql_adbc, "read_on_one_snapshot", counted)
    return counts


def source(url: str, **options: Any) -> SqlSource:
    return SqlSource("pg", SecretURL(url), reader="adbc", **options)


def by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("id").reset_index(drop=True)


def test_page_ranges_cover_every_page_once_and_leave_the_last_open() -> None:
    statements = pg_parallel.page_ranges("SELECT * FROM t", pages=10, parts=4)
    assert statements == [
        "SELECT * FROM t WHERE ctid >= '(0,0)'::tid AND ctid < '(2,0)'::tid",
        "SELECT * FROM t WHERE ctid >= '(2,0)'::tid AND ctid < '(5,0)'::tid",
        "SELECT * FROM t WHERE ctid >= '(5,0)'::tid AND ctid < '(7,0)'::tid",
        "SELECT * FROM t WHERE ctid >= '(7,0)'::tid",
    ]


def test_a_table_read_in_page_ranges_gives_the_rows_of_a_read_on_one_connection(
    postgresql_url: str, table: str, splits: list[int]
) -> None:
    single = source(postgresql_url, partitions=1)
    whole = to_frame(single.read(table=table))
    assert splits == []
    split = source(postgresql_url, partitions=4)
    parts = to_frame(split.read(table=table))
    assert splits == [4]
    assert len(parts) == ROWS
    pd.testing.assert_frame_equal(by_id(parts), by_id(whole), check_exact=True)
    assert list(parts.dtypes) == list(whole.dtypes)
    single.close()
    split.close()


def test_a_split_read_sees_one_moment_while_a_writer_updates_every_row(
    postgresql_url: str, engine: sa.Engine, table: str, splits: list[int]
) -> None:
    """Each update moves every row to a new page and bumps its v: a read whose parts saw
    different moments would hold two values of v, or miss or repeat rows."""
    stop = threading.Event()
    commits = 0

    def write() -> None:
        nonlocal commits
        with engine.connect() as conn:
            while not stop.is_set():
                conn.exec_driver_sql(f"UPDATE {table} SET v = v + 1")
                conn.commit()
                commits += 1

    writer = threading.Thread(target=write)
    writer.start()
    reader = source(postgresql_url, partitions=3)
    try:
        frames = [to_frame(reader.read(table=table)) for _ in range(8)]
    finally:
        stop.set()
        writer.join()
        reader.close()
    assert splits == [3] * 8
    assert commits >= 8, "the writer should have committed during the reads"
    for frame in frames:
        assert len(frame) == ROWS
        assert frame["id"].is_unique
        assert frame["v"].nunique() == 1, frame["v"].value_counts().to_dict()
    assert frames[-1]["v"].iloc[0] > frames[0]["v"].iloc[0]


def test_a_view_and_a_table_under_the_threshold_are_read_on_one_connection(
    postgresql_url: str,
    engine: sa.Engine,
    table: str,
    splits: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE VIEW {table}_view AS SELECT * FROM {table}")
    reader = source(postgresql_url, partitions=4)
    assert len(to_frame(reader.read(table=f"{table}_view"))) == ROWS  # a view has no pages
    assert splits == []
    assert len(to_frame(reader.read(table=table))) == ROWS
    assert splits == [4]
    monkeypatch.setattr(pg_parallel, "MIN_SPLIT_PAGES", 2048)
    assert len(to_frame(reader.read(table=table))) == ROWS  # 20k rows: under 16 MB
    assert splits == [4]
    reader.close()


def test_a_part_that_fails_fails_the_read_with_the_database_message(
    postgresql_url: str, table: str, splits: list[int]
) -> None:
    reader = source(postgresql_url, partition_on="id", partitions=3)
    query = f"SELECT id, 1 / (id - {ROWS - 10}) AS boom FROM {table}"
    with pytest.raises(QueryFailed, match="division by zero") as failure:
        reader.read(query)
    assert query in str(failure.value)
    assert splits == [3]
    assert len(to_frame(reader.read(f"SELECT id FROM {table}"))) == ROWS  # next one works
    reader.close()


@pytest.mark.parametrize(
    ("version", "keeps"),
    [("1.8.0", False), ("1.10.0", False), ("1.11.0", True), ("1.13.0", True), ("2.0", True)],
)
def test_connections_are_kept_only_with_a_driver_that_survives_a_dropped_one(
    monkeypatch: pytest.MonkeyPatch, version: str, keeps: bool
) -> None:
    monkeypatch.setattr(sql_drivers.importlib.metadata, "version", lambda name: version)
    sql_drivers.keeps_connections_safely.cache_clear()
    try:
        assert sql_drivers.keeps_connections_safely() is keeps
    finally:
        monkeypatch.undo()
        sql_drivers.keeps_connections_safely.cache_clear()
