"""The source contract: read a query or a table into Arrow, write a table back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

import pyarrow as pa

IfExists = Literal["append", "replace", "fail"]


class Source(Protocol):
    """A named place data comes from and goes to."""

    name: str

    def describe(self) -> str:
        """Where it points, passwords masked (for logs, errors and lineage)."""

    def read(
        self,
        query: str | None = None,
        *,
        table: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> pa.Table:
        """Read the result of ``query`` (bound ``params``) or a whole ``table`` as Arrow."""

    def write(self, data: pa.Table, table: str, *, if_exists: IfExists = "append") -> int:
        """Write rows into ``table``; returns how many were written."""
