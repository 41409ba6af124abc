"""A PostgreSQL source keeps the ADBC connection its last read used, and nothing more,
where the driver survives a connection the server dropped; otherwise it keeps none."""

from __future__ import annotations

import pickle
import time
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from modelyard.config.secret import SecretURL
from modelyard.errors import QueryFailed
from modelyard.sources import sql_adbc
from modelyard.sources.arrow import to_frame
from modelyard.sources.sql import SqlSource
from modelyard.sources.sql_drivers import keeps_connections_safely

PID = "SELECT pg_backend_pid() AS pid"


@pytest.fixture
def keeping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connections are kept, as with a driver that survives dropped ones (1.11 or later).

    The tests using it never drop a connection: with an older driver that would abort.
    """
    monkeypatch.setattr(sql_adbc, "keeps_connections_safely", lambda: True)


@pytest.fixture
def source(postgresql_url: str, keeping: None) -> Iterator[SqlSource]:
    source = SqlSource("pg", SecretURL(postgresql_url), reader="adbc")
    yield source
    source.close()


@pytest.fixture
def as_installed(postgresql_url: str) -> Iterator[SqlSource]:
    source = SqlSource("pg", SecretURL(postgresql_url), reader="adbc")
    yield source
    source.close()


def backend_pid(source: SqlSource) -> int:
    return int(to_frame(source.read(PID))["pid"][0])


def is_connected(engine: sa.Engine, pid: int) -> bool:
    with engine.connect() as conn:
        sql = sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
        return bool(conn.execute(sql, {"pid": pid}).scalar_one())


def test_a_second_read_reuses_the_connection_of_the_first(source: SqlSource) -> None:
    assert backend_pid(source) == backend_pid(source)
    assert source.last_reader == "adbc"


def test_a_kept_connection_holds_no_lock_on_what_it_read(
    source: SqlSource, engine: sa.Engine
) -> None:
    table = f"kept_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {table} AS SELECT 1 AS id")
    assert len(to_frame(source.read(table=table))) == 1
    with engine.begin() as conn:  # waits for no transaction of the source's: none is open
        conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
        conn.exec_driver_sql(f"DROP TABLE {table}")


def test_a_connection_the_server_dropped_is_replaced(
    as_installed: SqlSource, engine: sa.Engine
) -> None:
    """With the installed driver: a driver that aborts here gets no kept connection."""
    first = backend_pid(as_installed)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    second = backend_pid(as_installed)
    assert second != first
    assert (backend_pid(as_installed) == second) is keeps_connections_safely()


def test_without_a_driver_that_survives_dropped_connections_none_is_kept(
    postgresql_url: str, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_adbc, "keeps_connections_safely", lambda: False)
    source = SqlSource("pg", SecretURL(postgresql_url), reader="adbc")
    first = backend_pid(source)
    assert backend_pid(source) != first
    for _ in range(50):  # the server notices the goodbye a moment later
        if not is_connected(engine, first):
            break
        time.sleep(0.02)
    assert not is_connected(engine, first)
    source.close()


def test_a_read_that_fails_leaves_the_next_one_a_working_connection(source: SqlSource) -> None:
    first = backend_pid(source)
    with pytest.raises(QueryFailed):
        source.read("SELECT 1 / 0 AS boom")
    assert backend_pid(source) != first  # the failed read's connection was not kept


def test_close_closes_the_kept_connection(source: SqlSource, engine: sa.Engine) -> None:
    pid = backend_pid(source)
    assert is_connected(engine, pid)
    source.close()
    for _ in range(50):  # the server notices the goodbye a moment later
        if not is_connected(engine, pid):
            break
        time.sleep(0.02)
    assert not is_connected(engine, pid)


def test_a_pickled_source_reads_on_a_connection_of_its_own(source: SqlSource) -> None:
    pid = backend_pid(source)
    copy = pickle.loads(pickle.dumps(source))
    try:
        assert backend_pid(copy) != pid
    finally:
        copy.close()
