"""File sources: CSV and Parquet read to the same canonical frame as a database does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

from modelyard.config.secret import SecretURL
from modelyard.errors import ConfigError, SourceError, SourceUnreachable
from modelyard.sources.arrow import to_frame
from modelyard.sources.declared import open_source
from modelyard.sources.files import FileSource
from modelyard.sources.sql import SqlSource

FORMATS = ("csv", "parquet")

CSV_TEXT = """\
id,qty,price,label,flag,flag_n,at,day
1,10,1.5,a'b,true,true,2024-01-02 03:04:05.123456,2024-01-02
2,,,,false,,,2000-02-29
3,-3,-0.125,ünï,true,false,1999-12-31 00:00:00,
"""


def sample() -> pa.Table:
    """The rows of CSV_TEXT, typed."""
    return pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "qty": pa.array([10, None, -3], pa.int64()),
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


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlSource]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'same.db'}"
    else:
        url = request.getfixturevalue("postgresql_url")
    source = SqlSource("db", SecretURL(url))
    yield source
    source.close()


def sql_frame(source: SqlSource, data: pa.Table) -> pd.DataFrame:
    table = f"same_{uuid.uuid4().hex[:10]}"
    source.write(data, table)
    return to_frame(source.read(f"SELECT * FROM {table} ORDER BY id"))


def test_a_csv_file_reads_to_the_same_frame_as_the_database(
    sql_source: SqlSource, tmp_path: Path
) -> None:
    path = tmp_path / "sample.csv"
    path.write_text(CSV_TEXT, encoding="utf-8")
    from_file = to_frame(FileSource("file", path).read())
    assert_frame_equal(from_file, sql_frame(sql_source, sample()), check_exact=True)
    assert_frame_equal(from_file, to_frame(sample()), check_exact=True)


def test_a_parquet_file_reads_to_the_same_frame_as_the_database(
    sql_source: SqlSource, tmp_path: Path
) -> None:
    path = tmp_path / "sample.parquet"
    pq.write_table(sample(), path)
    from_file = to_frame(FileSource("file", path).read())
    assert_frame_equal(from_file, sql_frame(sql_source, sample()), check_exact=True)


def test_the_canonical_dtypes_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "sample.csv"
    path.write_text(CSV_TEXT, encoding="utf-8")
    dtypes = to_frame(FileSource("file", path).read()).dtypes.astype(str).to_dict()
    assert dtypes == {
        "id": "int64",
        "qty": "float64",
        "price": "float64",
        "label": "str",
        "flag": "bool",
        "flag_n": "float64",
        "at": "datetime64[us]",
        "day": "datetime64[us]",
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_what_is_written_reads_back_the_same(fmt: str, tmp_path: Path) -> None:
    source = FileSource("files", tmp_path / f"data.{fmt}")
    assert source.write(sample(), "scores") == 3
    assert (tmp_path / f"scores.{fmt}").exists()
    frame = to_frame(source.read(table="scores"))
    assert_frame_equal(frame, to_frame(sample()), check_exact=True)


@pytest.mark.parametrize("fmt", FORMATS)
def test_append_twice_doubles_the_rows_and_replace_replaces_them(fmt: str, tmp_path: Path) -> None:
    source = FileSource("files", tmp_path / f"data.{fmt}")
    source.write(sample(), "scores")
    source.write(sample(), "scores", if_exists="append")
    doubled = to_frame(source.read(table="scores"))
    assert_frame_equal(doubled, to_frame(pa.concat_tables([sample(), sample()])), check_exact=True)
    source.write(sample().slice(0, 1), "scores", if_exists="replace")
    assert to_frame(source.read(table="scores"))["id"].tolist() == [1]
    with pytest.raises(SourceError, match="exists"):
        source.write(sample(), "scores", if_exists="fail")


@pytest.mark.parametrize("fmt", FORMATS)
def test_appending_rows_with_nulls_to_rows_without(fmt: str, tmp_path: Path) -> None:
    source = FileSource("files", tmp_path / f"data.{fmt}")
    source.write(sample().slice(0, 1), "scores")  # no NULLs: qty is int64 here
    source.write(sample().slice(1, 2), "scores")  # qty NULL in row 2
    frame = to_frame(source.read(table="scores"))
    assert_frame_equal(frame, to_frame(sample()), check_exact=True)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_query_on_a_file_source_is_a_config_error(fmt: str, tmp_path: Path) -> None:
    path = tmp_path / f"sample.{fmt}"
    pq.write_table(sample(), path) if fmt == "parquet" else path.write_text(CSV_TEXT)
    with pytest.raises(ConfigError, match="drop the query"):
        FileSource("file", path).read("SELECT * FROM sample")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_missing_file_is_unreachable(fmt: str, tmp_path: Path) -> None:
    missing = tmp_path / f"nothing.{fmt}"
    with pytest.raises(SourceUnreachable) as info:
        FileSource("gone", missing).read()
    assert "gone" in str(info.value)
    assert str(missing) in str(info.value)


def test_a_table_name_with_a_path_in_it_is_refused(tmp_path: Path) -> None:
    source = FileSource("files", tmp_path / "data.parquet")
    with pytest.raises(ConfigError):
        source.write(sample(), "../escape")


def test_open_source_finds_a_relative_path_under_the_workspace(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sample.csv").write_text(CSV_TEXT, encoding="utf-8")
    source = open_source("train", {"path": "data/sample.csv"}, tmp_path)
    assert isinstance(source, FileSource)
    assert_frame_equal(to_frame(source.read()), to_frame(sample()), check_exact=True)


def test_a_source_with_both_url_and_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not both"):
        open_source("x", {"url": "sqlite:///a.db", "path": "a.csv"}, tmp_path)
