"""Model references and signatures."""

from __future__ import annotations

import pytest

from modelyard.errors import InvalidReference
from modelyard.types import ColumnSpec, ModelRef, Signature


@pytest.mark.parametrize(
    ("text", "name", "version", "alias"),
    [
        ("immo", "immo", None, "champion"),
        ("immo@champion", "immo", None, "champion"),
        ("immo@challenger", "immo", None, "challenger"),
        ("immo:3", "immo", 3, None),
        ("churn-v2.model_x:12", "churn-v2.model_x", 12, None),
    ],
)
def test_references_parse(text: str, name: str, version: int | None, alias: str | None) -> None:
    ref = ModelRef.parse(text)
    assert (ref.name, ref.version, ref.alias) == (name, version, alias)


@pytest.mark.parametrize("text", ["", "immo:", "immo:0", "immo@", "im mo", "../x", "immo:a", "12"])
def test_bad_references_say_what_to_write(text: str) -> None:
    with pytest.raises(InvalidReference, match="NAME@ALIAS or NAME:VERSION"):
        ModelRef.parse(text)


def test_signature_diff_tells_breaking_changes() -> None:
    old = Signature((ColumnSpec("surface", "float64"), ColumnSpec("rooms", "int64")))
    same_plus = Signature((*old.inputs, ColumnSpec("floor", "int64")))
    retyped = Signature((ColumnSpec("surface", "float64"), ColumnSpec("rooms", "string")))
    removed = Signature((ColumnSpec("surface", "float64"),))
    assert not old.diff(same_plus).breaking
    assert old.diff(retyped).describe() == "retyped: rooms int64 -> string"
    assert old.diff(removed).breaking and "removed: rooms" in old.diff(removed).describe()
    assert Signature.from_dict(old.to_dict()) == old
