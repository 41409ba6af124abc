"""SQL sources on real SQLite, PostgreSQL and MariaDB: every reader gives the same frame.

Each backend gets a table with every column type modelyard supports, one column of
each type without NULLs and one with some, read by table name and by query through
every reader available for that backend; the frames must be identical, dtypes included.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa
from pandas.testing import assert_frame_equal

from modelyard.config.secret import SecretURL
from modelyard.errors import ConfigError, QueryFailed, SourceUnreachable
from modelyard.sources.arrow import to_frame
from modelyard.sources.declared import open_source
from modelyard.sources.sql import SqlSource

# connectorx can read SQLite files too, but not a NUMERIC/DECIMAL column that holds a
# non-integer ("Invalid column type Real"), so it is not one of SQLite's readers here.
READERS = {
    "sqlite": ("adbc", "sqlalchemy"),
    "postgresql": ("adbc", "connectorx", "sqlalchemy"),
    "mariadb": ("connectorx", "sqlalchemy"),
}

# kind -> SQL type per backend (None: the backend has no such type)
KINDS: dict[str, dict[str, str | None]] = {
    "i8": {"sqlite": "TINYINT", "postgresql": None, "mariadb": "TINYINT"},
    "i16": {"sqlite": "SMALLINT", "postgresql": "SMALLINT", "mariadb": "SMALLINT"},
    "i32": {"sqlite": "INTEGER", "postgresql": "INTEGER", "mariadb": "INT"},
    "i64": {"sqlite": "BIGINT", "postgresql": "BIGINT", "mariadb": "BIGINT"},
    "f32": {"sqlite": "REAL", "postgresql": "REAL", "mariadb": "FLOAT"},
    "f64": {"sqlite": "DOUBLE PRECISION", "postgresql": "DOUBLE PRECISION", "mariadb": "DOUBLE"},
    "num": {
        "sqlite": "NUMERIC(12, 4)",
        "postgresql": "NUMERIC(12, 4)",
        "mariadb": "DECIMAL(12, 4)",
    },
    "flag": {"sqlite": "BOOLEAN", "postgresql": "BOOLEAN", "mariadb": "BOOLEAN"},
    "txt": {"sqlite": "TEXT", "postgresql": "TEXT", "mariadb": "TEXT"},
    "vc": {"sqlite": "VARCHAR(40)", "postgresql": "VARCHAR(40)", "mariadb": "VARCHAR(40)"},
    "day": {"sqlite": "DATE", "postgresql": "DATE", "mariadb": "DATE"},
    "ts": {"sqlite": "TIMESTAMP", "postgresql": "TIMESTAMP", "mariadb": "DATETIME(6)"},
    "tstz": {"sqlite": None, "postgresql": "TIMESTAMPTZ", "mariadb": None},
}
PLUS2 = timezone(timedelta(hours=2))
# three rows of values per kind; the "_n" column of a kind holds the same values with
# the middle row NULL
VALUES: dict[str, list[Any]] = {
    "i8": [7, -8, 127],
    "i16": [-300, 0, 32000],
    "i32": [70000, -70000, 1],
    "i64": [9_000_000_000, -1, 0],
    "f32": [1.5, -0.25, 1024.0],
    "f64": [0.1, -2.5e300, 3.0],
    "num": [Decimal("2"), Decimal("3.1250"), Decimal("-12345678.1234")],
    "flag": [True, False, True],
    "txt": ["héllo 'q' \\ \"x\"", "", "z" * 300],
    "vc": ["x", "y y", "ünï"],
    "day": [date(2024, 1, 2), date(1999, 12, 31), date(2030, 6, 15)],
    "ts": [
        datetime(2024, 1, 2, 3, 4, 5, 123456),
        datetime(1999, 12, 31, 23, 59, 59, 500000),
        datetime(2030, 6, 15),
    ],
    "tstz": [
        datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=PLUS2),
        datetime(1999, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
        datetime(2030, 6, 15, tzinfo=PLUS2),
    ],
}
INTEGERS = {"i8", "i16", "i32", "i64"}
# MariaDB's BOOLEAN is TINYINT(1): the server sends 0 and 1, with no boolean type to go by
FLAG_DTYPE = {"sqlite": "bool", "postgresql": "bool", "mariadb": "int64"}


@dataclass
class Backend:
    """One database to create tables in, and the readers that can read it."""

    name: str
    url: str
    readers: tuple[str, ...]
    engine: sa.Engine = field(init=False)
    opened: list[SqlSource] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.engine = sa.create_engine(self.url)

    def close(self) -> None:
        for source in self.opened:
            source.close()
        self.engine.dispose()

    def kinds(self) -> list[str]:
        return [kind for kind, types in KINDS.items() if types[self.name] is not None]

    def source(self, reader: str) -> SqlSource:
        source = SqlSource(f"{self.name}_src", SecretURL(self.url), reader=reader)
        self.opened.append(source)
        return source

    def execute(self, sql: str, rows: list[dict[str, Any]] | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(sql), rows or {})

    def scalar(self, sql: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar()

    def has_table(self, table: str) -> bool:
        return sa.inspect(self.engine).has_table(table)


@pytest.fixture(params=list(READERS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """SQLite (a file in tmp_path), PostgreSQL and MariaDB (the session databases)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'source.db'}"
    else:
        url = request.getfixturevalue(f"{request.param}_url")
    db = Backend(request.param, url, READERS[request.param])
    yield db
    db.close()


def unique(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def read_with(db: Backend, reader: str, query: str | None = None, **kwargs: Any) -> pd.DataFrame:
    """Read through one reader, checking it did not silently fall back to another."""
    source = db.source(reader)
    frame = to_frame(source.read(query, **kwargs))
    assert source.last_reader == reader
    return frame


def by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("id", kind="stable").reset_index(drop=True)


# -- every type, every reader ------------------------------------------------------------


def create_typed_table(db: Backend) -> str:
    """A table with one column per kind without NULLs and one (``_n``) with a NULL row."""
    table = unique()
    columns = ["id INTEGER NOT NULL PRIMARY KEY"]
    for kind in db.kinds():
        sql_type = KINDS[kind][db.name]
        columns += [f"{kind} {sql_type} NOT NULL", f"{kind}_n {sql_type}"]
    db.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
    rows = []
    for i in range(3):
        row: dict[str, Any] = {"id": i + 1}
        for kind in db.kinds():
            value = VALUES[kind][i]
            if db.name == "sqlite" and isinstance(value, datetime | date):
                value = str(value)  # SQLite keeps dates and times as ISO text
            elif db.name == "sqlite" and isinstance(value, Decimal):
                value = float(value)  # sqlite3 binds no Decimal
            row[kind] = value
            row[f"{kind}_n"] = None if i == 1 else value
        rows.append(row)
    names = list(rows[0])
    db.execute(
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})",
        rows,
    )
    return table


def expected_frame(db: Backend) -> pd.DataFrame:
    """The canonical frame of the typed table, built by hand from VALUES."""
    data: dict[str, pd.Series] = {"id": pd.Series([1, 2, 3], dtype="int64")}
    for kind in db.kinds():
        full = VALUES[kind]
        some = [None if i == 1 else v for i, v in enumerate(full)]
        for name, values in ((kind, full), (f"{kind}_n", some)):
            nulls = None in values
            if kind in INTEGERS:
                dtype = "float64" if nulls else "int64"
                ints = [float("nan") if v is None else v for v in values]
                data[name] = pd.Series(ints, dtype=dtype)
            elif kind in ("f32", "f64", "num"):
                floats = [float("nan") if v is None else float(v) for v in values]
                data[name] = pd.Series(floats, dtype="float64")
            elif kind == "flag":
                if nulls:
                    floats = [float("nan") if v is None else float(v) for v in values]
                    data[name] = pd.Series(floats, dtype="float64")
                else:
                    data[name] = pd.Series(values, dtype=FLAG_DTYPE[db.name])
            elif kind in ("txt", "vc"):
                data[name] = pd.Series(values, dtype="str")
            elif kind == "day":
                stamps = [None if v is None else datetime(v.year, v.month, v.day) for v in values]
                data[name] = pd.Series(stamps, dtype="datetime64[us]")
            elif kind == "ts":
                data[name] = pd.Series(values, dtype="datetime64[us]")
            elif kind == "tstz":
                utc = [None if v is None else v.astimezone(UTC) for v in values]
                data[name] = pd.Series(utc, dtype="datetime64[us, UTC]")
    return pd.DataFrame(data)


def assert_canonical_dtypes(frame: pd.DataFrame, db: Backend) -> None:
    for kind in db.kinds():
        full, some = frame[kind].dtype, frame[f"{kind}_n"].dtype
        if kind in INTEGERS:
            assert (full, some) == ("int64", "float64"), kind
        elif kind in ("f32", "f64", "num"):
            assert (full, some) == ("float64", "float64"), kind
        elif kind == "flag":
            assert (full, some) == (FLAG_DTYPE[db.name], "float64"), kind
        elif kind in ("txt", "vc"):
            assert isinstance(full, pd.StringDtype) and isinstance(some, pd.StringDtype), kind
        elif kind in ("day", "ts"):
            assert (full, some) == ("datetime64[us]", "datetime64[us]"), kind
        elif kind == "tstz":
            assert full == some == pd.DatetimeTZDtype("us", "UTC"), kind


def test_every_reader_reads_every_column_type_to_the_same_frame(backend: Backend) -> None:
    db = backend
    table = create_typed_table(db)
    frames = {}
    for reader in db.readers:
        frames[f"{reader} table"] = by_id(read_with(db, reader, table=table))
        frames[f"{reader} query"] = read_with(db, reader, f"SELECT * FROM {table} ORDER BY id")
    reference_name, reference = next(iter(frames.items()))
    for name, frame in frames.items():
        assert_frame_equal(frame, reference, check_exact=True, obj=f"{name} vs {reference_name}")
    assert_canonical_dtypes(reference, db)
    assert_frame_equal(reference, expected_frame(db), check_exact=True)


def test_a_query_with_no_rows_keeps_its_column_types(backend: Backend) -> None:
    table = create_typed_table(backend)
    query = f"SELECT id, i32, txt, day, num, flag FROM {table} WHERE id < 0"
    frames = {reader: read_with(backend, reader, query) for reader in backend.readers}
    for frame in frames.values():
        assert len(frame) == 0
        assert list(frame.columns) == ["id", "i32", "txt", "day", "num", "flag"]
    # The SQLAlchemy reader infers types from the rows it gets, so on a server database an
    # empty result has none to give (every column float64); the others, and SQLite's
    # declared types, keep them.
    typed = {r: f for r, f in frames.items() if r != "sqlalchemy" or backend.name == "sqlite"}
    for reader, frame in typed.items():
        dtypes = frame.dtypes.astype(str).to_dict()
        assert dtypes == {
            "id": "int64",
            "i32": "int64",
            "txt": "str",
            "day": "datetime64[us]",
            "num": "float64",
            "flag": FLAG_DTYPE[backend.name],
        }, reader


def test_decimals_read_as_their_nearest_float_on_every_reader(backend: Backend) -> None:
    table = unique("d")
    backend.execute(
        f"CREATE TABLE {table} (id INTEGER NOT NULL, amount {KINDS['num'][backend.name]})"
    )
    rng = random.Random(7)
    amounts = [Decimal(rng.randint(-(10**12), 10**12)).scaleb(-4) for _ in range(2000)]
    rows = [
        {"id": i, "amount": float(a) if backend.name == "sqlite" else a}
        for i, a in enumerate(amounts)
    ]
    backend.execute(f"INSERT INTO {table} VALUES (:id, :amount)", rows)
    expected = pd.DataFrame({"id": range(len(amounts)), "amount": [float(a) for a in amounts]})
    for reader in backend.readers:
        frame = read_with(backend, reader, f"SELECT id, amount FROM {table} ORDER BY id")
        assert_frame_equal(frame, expected, check_exact=True, obj=f"{reader} query")
        frame = by_id(read_with(backend, reader, table=table))
        assert_frame_equal(frame, expected, check_exact=True, obj=f"{reader} table")


def test_a_table_with_names_that_need_quoting_reads_alike(backend: Backend) -> None:
    table = "Mixed" + unique()
    q = backend.engine.dialect.identifier_preparer.quote
    columns = ["id", "order", "Amount", "Big", "select"]
    types = ["INTEGER NOT NULL", "INTEGER", KINDS["num"][backend.name], "NUMERIC", "VARCHAR(10)"]
    ddl = ", ".join(f"{q(c)} {t}" for c, t in zip(columns, types, strict=True))
    backend.execute(f"CREATE TABLE {q(table)} ({ddl})")
    insert = ", ".join(q(c) for c in columns)
    backend.execute(
        f"INSERT INTO {q(table)} ({insert}) VALUES (:a, :b, :c, :d, :e)",
        [
            {"a": 1, "b": 2, "c": 0.5, "d": 10, "e": "x"},
            {"a": 2, "b": 3, "c": 1.25, "d": 1, "e": None},
        ],
    )
    expected = pd.DataFrame(
        {
            "id": [1, 2],
            "order": [2, 3],
            "Amount": [0.5, 1.25],
            "Big": [10.0, 1.0],
            "select": pd.Series(["x", None], dtype="str"),
        }
    )
    for reader in backend.readers:
        frame = by_id(read_with(backend, reader, table=table))
        assert_frame_equal(frame, expected, check_exact=True, obj=reader)


# -- bound parameters --------------------------------------------------------------------

TRICKY = "O'Reilly \\ back\\\\slash \" '; DROP TABLE {table}; --"


def create_param_table(db: Backend) -> str:
    table = unique("p")
    double = KINDS["f64"][db.name]
    db.execute(
        f"CREATE TABLE {table} (id INTEGER NOT NULL, amount {double}, name VARCHAR(200), day DATE)"
    )
    rows = [
        {"id": 1, "amount": 2.5, "name": "alice", "day": date(2024, 1, 2)},
        {"id": 2, "amount": 2.5, "name": "bob", "day": date(2024, 1, 2)},
        {"id": 3, "amount": 7.0, "name": TRICKY.format(table=table), "day": date(2024, 1, 3)},
        {"id": 4, "amount": 7.0, "name": "O'Reilly", "day": date(2024, 1, 3)},
    ]
    if db.name == "sqlite":
        rows = [{**r, "day": r["day"].isoformat()} for r in rows]
    db.execute(f"INSERT INTO {table} VALUES (:id, :amount, :name, :day)", rows)
    return table


def test_int_float_str_and_date_parameters_are_bound_on_every_reader(backend: Backend) -> None:
    table = create_param_table(backend)
    query = (
        f"SELECT id FROM {table} WHERE id >= :low AND amount = :amount AND name = :name "
        "AND day = :day ORDER BY id"
    )
    params = {"low": 1, "amount": 2.5, "name": "bob", "day": date(2024, 1, 2)}
    for reader in backend.readers:
        frame = read_with(backend, reader, query, params=params)
        assert frame["id"].tolist() == [2], reader


def test_a_string_parameter_with_quotes_and_sql_is_matched_literally(backend: Backend) -> None:
    table = create_param_table(backend)
    tricky = TRICKY.format(table=table)
    for reader in backend.readers:
        frame = read_with(
            backend,
            reader,
            f"SELECT id, name FROM {table} WHERE name = :name",
            params={"name": tricky},
        )
        assert frame["id"].tolist() == [3], reader
        assert frame["name"].tolist() == [tricky], reader
        assert backend.has_table(table), reader
    assert backend.scalar(f"SELECT COUNT(*) FROM {table}") == 4


def test_a_parameter_used_twice_is_bound_twice(backend: Backend) -> None:
    table = create_param_table(backend)
    query = f"SELECT id FROM {table} WHERE amount = :a OR id = :a ORDER BY id"
    for reader in backend.readers:
        frame = read_with(backend, reader, query, params={"a": 7})
        assert frame["id"].tolist() == [3, 4], reader


@pytest.mark.parametrize("given", [{"low": 1}, {}], ids=["one-given", "none-given"])
def test_a_missing_parameter_is_a_query_failure_naming_it(
    backend: Backend, given: dict[str, Any]
) -> None:
    table = create_param_table(backend)
    query = f"SELECT id FROM {table} WHERE id >= :low AND name = :who"
    for reader in backend.readers:
        with pytest.raises(QueryFailed) as info:
            backend.source(reader).read(query, params=given)
        message = str(info.value)
        assert ":who" in message.split("; query:")[0], (reader, message)
        assert f"{backend.name}_src" in message


# -- errors ------------------------------------------------------------------------------

UNREACHABLE_URLS = {
    "postgresql": "postgresql+psycopg://modelyard:Sup3rSecretPw@127.0.0.1:1/nowhere",
    "mariadb": "mysql+pymysql://modelyard:Sup3rSecretPw@127.0.0.1:1/nowhere",
}


@pytest.mark.parametrize(
    ("backend_name", "reader"),
    [(name, reader) for name in UNREACHABLE_URLS for reader in READERS[name]],
)
def test_an_unreachable_server_names_the_source_and_masks_the_password(
    backend_name: str, reader: str
) -> None:
    source = SqlSource("warehouse", SecretURL(UNREACHABLE_URLS[backend_name]), reader=reader)
    with pytest.raises(SourceUnreachable) as info:
        source.read(table="anything")
    message = str(info.value)
    assert "warehouse" in message
    assert "modelyard:***@127.0.0.1:1/nowhere" in message
    assert "Sup3rSecretPw" not in message
    assert "Sup3rSecretPw" not in repr(info.value.to_dict())


@pytest.mark.parametrize("reader", READERS["mariadb"])
def test_a_refused_login_is_unreachable_at_once(reader: str, mariadb_url: str) -> None:
    url = sa.make_url(mariadb_url).set(password="not-the-Password")
    source = SqlSource("mart", SecretURL(url.render_as_string(hide_password=False)), reader=reader)
    started = time.monotonic()
    with pytest.raises(SourceUnreachable) as info:
        source.read("SELECT 1 AS one")
    assert time.monotonic() - started < 10  # connectorx alone retries for 30 s
    assert "Access denied" in str(info.value)
    assert "not-the-Password" not in str(info.value)


@pytest.mark.parametrize("reader", READERS["sqlite"])
def test_a_sqlite_file_in_a_missing_folder_is_unreachable(reader: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'folder' / 'x.db'}"
    source = SqlSource("local", SecretURL(url), reader=reader)
    with pytest.raises(SourceUnreachable, match="local"):
        source.read("SELECT 1 AS one")


SYNTAX_MESSAGES = {
    "sqlite": 'near "SELEC": syntax error',
    "postgresql": 'syntax error at or near "SELEC"',
    "mariadb": "You have an error in your SQL syntax",
}


def test_a_syntax_error_gives_the_databases_message_and_the_query(backend: Backend) -> None:
    query = "SELEC id FROM wherever"
    for reader in backend.readers:
        with pytest.raises(QueryFailed) as info:
            backend.source(reader).read(query)
        message = str(info.value)
        assert SYNTAX_MESSAGES[backend.name] in message, (reader, message)
        assert query in message, reader
        assert info.value.details["query"] == query


def test_a_missing_table_gives_the_databases_message_and_the_query(backend: Backend) -> None:
    missing = unique("missing")
    expected = {
        "sqlite": f"no such table: {missing}",
        "postgresql": f'relation "{missing}" does not exist',
        "mariadb": f".{missing}' doesn't exist",
    }[backend.name]
    for reader in backend.readers:
        for kwargs in ({"table": missing}, {"query": f"SELECT * FROM {missing}"}):
            with pytest.raises(QueryFailed) as info:
                backend.source(reader).read(**kwargs)
            message = str(info.value)
            assert expected in message, (reader, message)
            assert f"FROM {missing}" in message, (reader, message)


def test_a_table_name_that_is_not_an_identifier_is_refused(backend: Backend) -> None:
    with pytest.raises(ConfigError):
        backend.source(backend.readers[0]).read(table="x; DROP TABLE y")


# -- writers -----------------------------------------------------------------------------

WRITERS = {
    "sqlite": ("adbc", "sqlalchemy"),
    "postgresql": ("adbc", "sqlalchemy"),
    "mariadb": ("connectorx",),  # no ADBC driver: pandas.to_sql through SQLAlchemy
}


def mixed_data() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "qty": pa.array([10, None, -3], pa.int64()),
            "small": pa.array([1, 2, 3], pa.int32()),
            "price": pa.array([1.5, None, -0.125], pa.float64()),
            "label": pa.array(["a'b", None, "ünï"], pa.string()),
            "flag": pa.array([True, False, True], pa.bool_()),
            "flag_n": pa.array([True, None, False], pa.bool_()),
            "at": pa.array(
                [datetime(2024, 1, 2, 3, 4, 5, 123456), None, datetime(1999, 12, 31)],
                pa.timestamp("us"),
            ),
            "day": pa.array([date(2024, 1, 2), date(2000, 2, 29), None], pa.date32()),
        }
    )


def written(db: Backend, data: pa.Table) -> pd.DataFrame:
    """The canonical frame ``data`` reads back as from ``db``."""
    frame = to_frame(data)
    if db.name == "mariadb":  # BOOLEAN is TINYINT(1) there: a bool column reads back as 0/1
        flags = frame.select_dtypes("bool").columns
        frame[flags] = frame[flags].astype("int64")
    return frame


@pytest.fixture(params=[(b, w) for b in READERS for w in WRITERS[b]], ids=lambda p: "-".join(p))
def writer(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Backend, str]]:
    name, reader = request.param
    if name == "sqlite":
        url = f"sqlite:///{tmp_path / 'source.db'}"
    else:
        url = request.getfixturevalue(f"{name}_url")
    db = Backend(name, url, READERS[name])
    yield db, reader
    db.close()


def test_append_creates_the_table_and_reads_back_the_same_values(
    writer: tuple[Backend, str],
) -> None:
    db, reader = writer
    table = unique("w")
    source = db.source(reader)
    assert source.write(mixed_data(), table) == 3
    expected = written(db, mixed_data())
    for read_reader in db.readers:
        assert_frame_equal(
            by_id(read_with(db, read_reader, table=table)), expected, check_exact=True
        )


def test_append_twice_doubles_the_rows(writer: tuple[Backend, str]) -> None:
    db, reader = writer
    table = unique("w")
    source = db.source(reader)
    source.write(mixed_data(), table)
    source.write(mixed_data(), table, if_exists="append")
    frame = read_with(db, db.readers[0], table=table)
    assert len(frame) == 6
    assert sorted(frame["id"].tolist()) == [1, 1, 2, 2, 3, 3]


def test_replace_replaces_the_rows(writer: tuple[Backend, str]) -> None:
    db, reader = writer
    table = unique("w")
    source = db.source(reader)
    source.write(mixed_data(), table)
    source.write(mixed_data(), table)
    newer = mixed_data().slice(0, 1)
    assert source.write(newer, table, if_exists="replace") == 1
    frame = read_with(db, db.readers[0], table=table)
    assert_frame_equal(frame, written(db, newer), check_exact=True)


def test_a_schema_qualified_table_is_written_to_and_read_from_that_schema(
    writer: tuple[Backend, str],
) -> None:
    db, reader = writer
    if db.name == "postgresql":
        schema = unique("s")
        db.execute(f"CREATE SCHEMA {schema}")
    elif db.name == "mariadb":
        schema = str(sa.make_url(db.url).database)  # a MariaDB schema is a database
    else:
        schema = "main"
    bare = unique("w")
    db.source(reader).write(mixed_data(), f"{schema}.{bare}")
    assert sa.inspect(db.engine).has_table(bare, schema=schema)
    for read_reader in db.readers:
        frame = by_id(read_with(db, read_reader, table=f"{schema}.{bare}"))
        assert_frame_equal(frame, written(db, mixed_data()), check_exact=True)


def test_open_source_reads_a_relative_sqlite_path_under_the_workspace(tmp_path: Path) -> None:
    source = open_source("local", {"url": "sqlite:///data/x.db"}, tmp_path)
    assert isinstance(source, SqlSource)
    (tmp_path / "data").mkdir()
    source.write(mixed_data(), "things")
    assert (tmp_path / "data" / "x.db").exists()
    assert len(to_frame(source.read(table="things"))) == 3


def test_partitioned_postgresql_read_returns_the_same_rows(postgresql_url: str) -> None:
    table = f"parts_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(postgresql_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {table} AS SELECT n AS id, n * 0.5 AS x, 'r' || n AS label "
            "FROM generate_series(1, 1001) AS g(n)"
        )
    engine.dispose()
    whole = to_frame(SqlSource("pg", SecretURL(postgresql_url)).read(table=table))
    split = SqlSource("pg", SecretURL(postgresql_url), partition_on="id", partitions=3)
    parts = to_frame(split.read(f"SELECT * FROM {table} WHERE id > :low", params={"low": 0}))
    assert len(parts) == 1001
    pd.testing.assert_frame_equal(
        parts.sort_values("id").reset_index(drop=True),
        whole.sort_values("id").reset_index(drop=True),
    )
