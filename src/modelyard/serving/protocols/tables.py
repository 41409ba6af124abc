"""Table bodies: CSV, Parquet and Arrow stream, read by pyarrow into checked columns."""

from __future__ import annotations

import io
from collections.abc import Callable

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from modelyard.errors import InvalidInput
from modelyard.serving.frame import columns_of
from modelyard.serving.protocols.codec import Columns
from modelyard.serving.protocols.common import ARROW, CSV, PARQUET
from modelyard.types import Signature

READERS: dict[str, tuple[str, Callable[[io.BytesIO], pa.Table]]] = {
    CSV: ("CSV", pcsv.read_csv),
    PARQUET: ("Parquet", pq.read_table),
    ARROW: ("Arrow", lambda data: pa.ipc.open_stream(data).read_all()),
}


def read_table(body: bytes, kind: str, signature: Signature | None) -> Columns:
    """The checked columns of a body of media type ``kind`` (one of ``READERS``)."""
    what, reader = READERS[kind]
    try:
        table = reader(io.BytesIO(body))
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"the body is not valid {what}: {exc}", code="invalid_body") from None
    seen: set[str] = set()
    for name in table.column_names:
        if name in seen:
            # pyarrow keeps duplicated names, and table.column(name) then raises KeyError
            raise InvalidInput(
                f"column {name!r} appears more than once: send each column once",
                code="bad_shape",
                column=name,
            )
        seen.add(name)
    return columns_of(
        {name: table.column(name).to_pylist() for name in table.column_names}, signature
    )
