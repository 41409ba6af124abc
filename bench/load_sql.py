"""Benchmark: modelyard's SQL readers against pandas.read_sql, on PostgreSQL and MariaDB.

Creates (or reuses, when it already holds the requested number of rows) a table of
mixed columns in each database, then times, as the median of --repeat rounds (after one
untimed round; each round calls every reader in turn, so all see the same machine load),

* modelyard: ``to_frame(SqlSource(...).read(table=...))`` with each fast reader
  (PostgreSQL: adbc as configured by default, which splits a large table over parallel
  connections on one snapshot; adbc on one connection; connectorx. MariaDB: connectorx),
* pandas: ``pandas.read_sql("SELECT * FROM table", engine)`` on a SQLAlchemy engine
  (warm: its pool keeps the connection),

checks each reader's frame against pandas' one (same values, same dtypes), and prints
the seconds and the speed-up. On PostgreSQL it also times each driver alone, on one warm
connection, fetching the statement its one-connection reader sends (no conversion to
pandas): what a read on one connection cannot beat on this machine. It prints figures
and asserts nothing.

    .venv/bin/python bench/load_sql.py [--pg URL] [--maria URL] [--rows-pg N]
        [--rows-maria N] [--repeat N] [--drop]

Give an empty URL (``--maria ''``) to leave a backend out.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import adbc_driver_postgresql.dbapi
import connectorx
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from modelyard.config.secret import SecretURL
from modelyard.sources.arrow import to_frame
from modelyard.sources.sql import SqlSource

TABLE = "modelyard_bench_load"

# ten columns: integers (one with NULLs), floats (one with NULLs), a decimal, two texts,
# a boolean and a timestamp; every value derived from the row number n
PG_DDL = f"""
CREATE TABLE {TABLE} (
    id BIGINT NOT NULL,
    qty INTEGER,
    small SMALLINT NOT NULL,
    price DOUBLE PRECISION NOT NULL,
    score DOUBLE PRECISION,
    amount NUMERIC(12, 2) NOT NULL,
    label VARCHAR(32) NOT NULL,
    category TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
)"""
PG_FILL = f"""
INSERT INTO {TABLE}
SELECT n,
       CASE WHEN n % 10 = 0 THEN NULL ELSE (n * 7) % 1000 END,
       n % 30000,
       n * 0.25,
       CASE WHEN n % 7 = 0 THEN NULL ELSE n / 3.0 END,
       (n % 100000) / 100.0,
       'item-' || n,
       (ARRAY['red', 'green', 'blue', 'grey'])[1 + n % 4],
       n % 3 = 0,
       TIMESTAMP '2024-01-01 00:00:00' + n * INTERVAL '1.5 second'
FROM generate_series(1, :rows) AS g(n)"""

# what each one-connection reader sends for the table: ADBC reads it as it is, connectorx
# with its NUMERIC cast to float8 (see SqlTarget._table_select)
PG_DRIVER_SQL = {
    "adbc": f"SELECT * FROM {TABLE}",
    "connectorx": (
        "SELECT id, qty, small, price, score, CAST(amount AS DOUBLE PRECISION) AS amount, "
        f"label, category, active, created_at FROM {TABLE}"
    ),
}

MARIA_DDL = f"""
CREATE TABLE {TABLE} (
    id BIGINT NOT NULL,
    qty INT,
    small SMALLINT NOT NULL,
    price DOUBLE NOT NULL,
    score DOUBLE,
    amount DECIMAL(12, 2) NOT NULL,
    label VARCHAR(32) NOT NULL,
    category TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at DATETIME(6) NOT NULL
)"""
MARIA_COLUMNS = """
       n,
       CASE WHEN n % 10 = 0 THEN NULL ELSE (n * 7) % 1000 END,
       n % 30000,
       n * 0.25,
       CASE WHEN n % 7 = 0 THEN NULL ELSE n / 3.0 END,
       (n % 100000) / 100.0,
       CONCAT('item-', n),
       ELT(1 + n % 4, 'red', 'green', 'blue', 'grey'),
       n % 3 = 0,
       TIMESTAMP '2024-01-01 00:00:00' + INTERVAL n * 1500000 MICROSECOND"""


@dataclass
class Figure:
    backend: str
    rows: int
    reader: str
    modelyard_s: float
    pandas_s: float


def interleaved_medians(
    actions: dict[str, Callable[[], pd.DataFrame | pa.Table]], repeat: int
) -> dict[str, tuple[float, int]]:
    """Per action, the median wall time of ``repeat`` calls and the row count of its result.

    One untimed round first (every connection opened, the table in the OS cache for all),
    then ``repeat`` rounds calling each action in turn, so that every one is timed under
    the same load of a shared machine, not the first ones while it is quiet.
    """
    times: dict[str, list[float]] = {name: [] for name in actions}
    rows = dict.fromkeys(actions, 0)
    for round_ in range(repeat + 1):
        for name, action in actions.items():
            gc.collect()
            started = time.perf_counter()
            frame = action()
            elapsed = time.perf_counter() - started
            if round_:
                times[name].append(elapsed)
            rows[name] = len(frame)
            del frame
    return {name: (statistics.median(times[name]), rows[name]) for name in actions}


def by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("id", kind="stable").reset_index(drop=True)


def same_frame(frame: pd.DataFrame, reference: pd.DataFrame) -> bool:
    """Whether two frames hold the same values with the same dtypes (rows in id order)."""
    try:
        pd.testing.assert_frame_equal(frame, reference, check_exact=True)
    except AssertionError:
        return False
    return True


def row_count(engine: sa.Engine) -> int | None:
    """Rows in the bench table, or None when there is no such table."""
    if not sa.inspect(engine).has_table(TABLE):
        return None
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {TABLE}")).scalar_one())


def prepare(engine: sa.Engine, rows: int, fill: Callable[[sa.Connection], None], ddl: str) -> None:
    """Create and fill the table, unless it already holds exactly ``rows`` rows."""
    have = row_count(engine)
    if have == rows:
        print(f"  reusing {TABLE}: {rows:,} rows")
        return
    started = time.perf_counter()
    with engine.begin() as conn:
        if have is not None:
            conn.execute(sa.text(f"DROP TABLE {TABLE}"))
        conn.execute(sa.text(ddl))
        fill(conn)
    row_count(engine)  # a first full scan (PostgreSQL sets its hint bits here, not in a timing)
    print(f"  filled {TABLE} with {rows:,} rows in {time.perf_counter() - started:.1f} s")


def fill_postgresql(rows: int) -> Callable[[sa.Connection], None]:
    def fill(conn: sa.Connection) -> None:
        conn.execute(sa.text(PG_FILL), {"rows": rows})
        conn.execute(sa.text(f"ANALYZE {TABLE}"))

    return fill


def fill_mariadb(rows: int) -> Callable[[sa.Connection], None]:
    """One row, then INSERT … SELECT doubling it until there are ``rows``."""

    def fill(conn: sa.Connection) -> None:
        conn.execute(sa.text(f"INSERT INTO {TABLE} SELECT {MARIA_COLUMNS} FROM (SELECT 1 AS n) s"))
        have = 1
        while have < rows:
            conn.execute(
                sa.text(
                    f"INSERT INTO {TABLE} SELECT {MARIA_COLUMNS} "
                    f"FROM (SELECT id + {have} AS n FROM {TABLE}) s WHERE n <= {rows}"
                )
            )
            have = min(rows, have * 2)

    return fill


def drivers_alone(
    url: str,
) -> tuple[dict[str, Callable[[], pa.Table]], Callable[[], None]]:
    """PostgreSQL: each driver's fetch of its PG_DRIVER_SQL (ADBC on a warm connection),
    and a function that closes the ADBC connection."""
    plain = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = adbc_driver_postgresql.dbapi.connect(plain, autocommit=True)

    def adbc_alone() -> pa.Table:
        with conn.cursor() as cursor:
            cursor.execute(PG_DRIVER_SQL["adbc"])
            table: pa.Table = cursor.fetch_arrow_table()
            return table

    def connectorx_alone() -> pa.Table:
        table: pa.Table = connectorx.read_sql(
            plain, PG_DRIVER_SQL["connectorx"], return_type="arrow", protocol="cursor"
        )
        return table

    return {"adbc": adbc_alone, "connectorx": connectorx_alone}, conn.close


def run_backend(
    backend: str,
    url: str,
    rows: int,
    readers: dict[str, tuple[str, int | None]],
    repeat: int,
    drop: bool,
) -> list[Figure]:
    print(f"{backend}: {SecretURL(url)}")
    engine = sa.create_engine(url)
    figures = []
    try:
        if backend == "postgresql":
            prepare(engine, rows, fill_postgresql(rows), PG_DDL)
        else:
            prepare(engine, rows, fill_mariadb(rows), MARIA_DDL)

        def with_pandas() -> pd.DataFrame:
            return pd.read_sql(f"SELECT * FROM {TABLE}", engine)

        actions: dict[str, Callable[[], pd.DataFrame | pa.Table]] = {"pandas": with_pandas}
        sources = {}
        for reader, (name, partitions) in readers.items():
            split = {} if partitions is None else {"partitions": partitions}
            sources[reader] = source = SqlSource("bench", SecretURL(url), reader=name, **split)

            def with_modelyard(source: SqlSource = source) -> pd.DataFrame:
                return to_frame(source.read(table=TABLE))

            actions[reader] = with_modelyard
        drivers, close_drivers = drivers_alone(url) if backend == "postgresql" else ({}, None)
        actions.update({f"{name} alone": fetch for name, fetch in drivers.items()})
        try:
            medians = interleaved_medians(actions, repeat)
            reference = by_id(with_pandas())
            same = {reader: same_frame(by_id(actions[reader]()), reference) for reader in sources}
        finally:
            for source in sources.values():
                source.close()
            if close_drivers is not None:
                close_drivers()
        pandas_s, pandas_rows = medians["pandas"]
        print(f"  pandas.read_sql: {pandas_s:.3f} s ({pandas_rows:,} rows)")
        for reader, source in sources.items():
            seconds, read_rows = medians[reader]
            used = source.last_reader
            note = "" if used == source.reader else f" (fell back to {used})"
            note += "" if same[reader] else " (NOT the same frame as pandas)"
            print(f"  modelyard {reader}: {seconds:.3f} s ({read_rows:,} rows){note}")
            figures.append(Figure(backend, read_rows, reader, seconds, pandas_s))
        for name in drivers:
            seconds, _ = medians[f"{name} alone"]
            print(
                f"  {name} driver alone: {seconds:.3f} s (one connection, no frame; "
                f"pandas / this = {pandas_s / seconds:.1f}x, the most a read on one "
                "connection can show)"
            )
        if drop:
            with engine.begin() as conn:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {TABLE}"))
            print(f"  dropped {TABLE}")
    finally:
        engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--maria", default="mysql+pymysql://root@127.0.0.1:3306/test")
    parser.add_argument("--rows-pg", type=int, default=1_000_000)
    parser.add_argument("--rows-maria", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--drop", action="store_true", help="drop the bench tables at the end")
    args = parser.parse_args()

    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("pandas", "adbc-driver-postgresql", "connectorx", "psycopg", "PyMySQL")
    )
    print(versions)
    figures = []
    if args.pg:
        figures += run_backend(
            "postgresql",
            args.pg,
            args.rows_pg,
            {
                "adbc": ("adbc", None),
                "adbc, 1 conn": ("adbc", 1),
                "connectorx": ("connectorx", None),
            },
            args.repeat,
            args.drop,
        )
    if args.maria:
        figures += run_backend(
            "mariadb",
            args.maria,
            args.rows_maria,
            {"connectorx": ("connectorx", None)},
            args.repeat,
            args.drop,
        )

    print()
    print(f"median of {args.repeat} interleaved rounds, 10 columns")
    header = f"{'backend':<11} {'rows':>10} {'reader':<16} {'modelyard s':>12} {'pandas s':>9}"
    print(f"{header} {'speed-up':>9}")
    for f in figures:
        ratio = f.pandas_s / f.modelyard_s if f.modelyard_s else float("inf")
        print(
            f"{f.backend:<11} {f.rows:>10,} {f.reader:<16} {f.modelyard_s:>12.3f} "
            f"{f.pandas_s:>9.3f} {ratio:>8.1f}x"
        )


if __name__ == "__main__":
    main()
