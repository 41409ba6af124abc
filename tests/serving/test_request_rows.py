"""Rows as JSON objects, the usual request: the shortcut taken for plain dicts (one row,
or several) checks and converts them exactly as the general path does for any mapping."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pytest

from modelyard.errors import InvalidInput
from modelyard.serving.frame import checked_rows
from modelyard.types import ColumnSpec, Signature

SIGNATURE = Signature(
    (ColumnSpec("surface", "int64"), ColumnSpec("ville", "string"), ColumnSpec("prix", "float64"))
)


class Row(Mapping[str, Any]):
    """A mapping that is not a dict: it takes the general path."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert list(a) == list(b)
    for name in a:
        assert a[name].dtype == b[name].dtype and a[name].tolist() == b[name].tolist()


@pytest.mark.parametrize(
    "rows",
    [
        [{"surface": 93, "ville": "Lyon", "prix": 1.5}],
        [{"prix": 2, "ville": "Nice", "surface": 2**53 + 1, "extra": True}],
        [{"surface": 1, "ville": "a", "prix": 0.5}, {"surface": 2.0, "ville": 3, "prix": -1}],
    ],
)
def test_dict_rows_convert_as_any_mapping_does(rows: list[dict[str, Any]]) -> None:
    _same(checked_rows(rows, SIGNATURE), checked_rows([Row(r) for r in rows], SIGNATURE))


@pytest.mark.parametrize("count", [1, 3])
def test_a_missing_column_is_named_with_its_row_either_way(count: int) -> None:
    rows = [{"surface": 1, "ville": "a", "prix": 1.0} for _ in range(count)]
    del rows[-1]["ville"]
    for given in (rows, [Row(r) for r in rows]):
        with pytest.raises(InvalidInput) as raised:
            checked_rows(given, SIGNATURE)
        assert raised.value.code == "missing_column"
        assert raised.value.details["row"] == count - 1
        assert raised.value.details["column"] == "ville"


def test_a_bad_value_in_one_row_is_named() -> None:
    with pytest.raises(InvalidInput) as raised:
        checked_rows([{"surface": "grand", "ville": "a", "prix": 1.0}], SIGNATURE)
    assert raised.value.code == "bad_value"
    assert raised.value.details["column"] == "surface"
    np.testing.assert_array_equal(
        checked_rows([{"surface": 7, "ville": "a", "prix": 1}], SIGNATURE)["prix"], [1.0]
    )


@pytest.mark.parametrize("count", [1, 2])
def test_a_signature_naming_a_column_twice_is_refused_as_before(count: int) -> None:
    twice = Signature(
        (ColumnSpec("a", "int64"), ColumnSpec("a", "int64"), ColumnSpec("b", "float64"))
    )
    with pytest.raises(InvalidInput) as raised:
        checked_rows([{"a": 1, "b": 2.0}] * count, twice)
    assert raised.value.code == "ragged_columns"
