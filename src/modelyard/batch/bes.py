"""Azure ML Studio (classic) Batch Execution Service, as batch jobs: the submit body
becomes a :class:`~modelyard.batch.spec.BatchSpec`, a job becomes BES's status body.

Mapping (PROTOCOLS.md section 1.4):

- ``Inputs.input1.RelativeLocation``: ``table:SOURCE/TABLE`` (a table to score), or
  ``table:SOURCE`` with ``GlobalParameters.Query`` (a query) or ``GlobalParameters.Table``;
- ``Outputs.output1.RelativeLocation``: ``table:SOURCE/TABLE``, ``table:SOURCE`` with
  the output table in ``GlobalParameters.Table`` (classic's Export Data table) when the
  input is a query, or a folder path / fsspec URL for chunk files (``.csv`` or Parquet);
- ``GlobalParameters.Key``: the input's unique column (default ``id``); ``ChunkRows``
  and ``OnError`` as the CLI's options. The singular ``Input``/``Output`` of older
  clients work too.
- ``StatusCode``: ``NotStarted`` (submitted, not started), ``Running`` (started: queued
  or running), ``Finished``, ``Failed`` (``Details`` says why), ``Cancelled``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelyard.batch.spec import DEFAULT_CHUNK_ROWS, BatchSpec
from modelyard.errors import InvalidInput
from modelyard.storage.batch import HELD, BatchRow

STATUS = {
    HELD: "NotStarted",
    "queued": "Running",
    "running": "Running",
    "succeeded": "Finished",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
TABLE = "table:"


def _port(body: Mapping[str, Any], plural: str, singular: str) -> Mapping[str, Any] | None:
    ports = body.get(plural)
    if isinstance(ports, Mapping) and ports:
        first = next(iter(ports.values()))
        return first if isinstance(first, Mapping) else None
    single = body.get(singular)
    return single if isinstance(single, Mapping) else None


def _location(port: Mapping[str, Any] | None, what: str) -> str:
    where = str((port or {}).get("RelativeLocation") or "").strip()
    if not where:
        raise InvalidInput(
            f"{what}: give RelativeLocation as table:SOURCE/TABLE, table:SOURCE (with "
            "GlobalParameters Query or Table) or, for outputs, a folder path or URL",
            code="bes_location",
        )
    return where


def _table_ref(where: str) -> tuple[str, str | None]:
    source, _, table = where[len(TABLE) :].strip("/").partition("/")
    if not source:
        raise InvalidInput(
            f"{where!r} names no source: write table:SOURCE/TABLE", code="bes_location"
        )
    return source, table or None


def spec_from_bes(body: Mapping[str, Any], model: str) -> BatchSpec:
    """The batch job a BES submit body asks for, scoring with ``model``."""
    if not isinstance(body, Mapping):
        raise InvalidInput(
            "the BES body must be a JSON object with Inputs and Outputs", code="bes_body"
        )
    params = body.get("GlobalParameters") or {}
    if not isinstance(params, Mapping):
        raise InvalidInput("GlobalParameters must be an object", code="bes_body")
    source_at = _location(_port(body, "Inputs", "Input"), "Inputs.input1")
    if not source_at.startswith(TABLE):
        raise InvalidInput(
            f"the input {source_at!r} is not a table: reference: batch jobs read SQL sources "
            "(table:SOURCE/TABLE, or table:SOURCE with GlobalParameters.Query)",
            code="bes_location",
        )
    source, table = _table_ref(source_at)
    query = params.get("Query")
    output_at = _location(_port(body, "Outputs", "Output"), "Outputs.output1")
    output_table = output_source = output = None
    if output_at.startswith(TABLE):
        output_source, output_table = _table_ref(output_at)
        if output_table is None and query is not None:
            output_table = params.get("Table")
    else:
        output = output_at
    if table is None and query is None:
        table = params.get("Table")
    return BatchSpec(
        model=model,
        source=source,
        key=str(params.get("Key", "id")),
        query=str(query) if query is not None else None,
        table=str(table) if table is not None else None,
        output_table=str(output_table) if output_table is not None else None,
        output_source=output_source if output_table is not None else None,
        output=output,
        chunk_rows=int(params.get("ChunkRows", DEFAULT_CHUNK_ROWS)),
        on_error=str(params.get("OnError", "fail")),
    )


def bes_status(row: BatchRow, outputs: list[str]) -> dict[str, Any]:
    """BES's status body for a job: ``StatusCode``, ``Results`` per output, ``Details``."""
    spec = row.spec
    if spec.get("output_table"):
        where = f"{TABLE}{spec.get('output_source') or spec.get('source')}/{spec['output_table']}"
    else:
        where = str(spec.get("output") or "")
    finished = row.state == "succeeded"
    result: dict[str, Any] = {
        "ConnectionString": None,
        "RelativeLocation": where,
        "BaseLocation": "",
        "SasBlobToken": "",
        "Files": outputs if not spec.get("output_table") else [],
    }
    return {
        "StatusCode": STATUS.get(row.state, "Running"),
        "Results": {"output1": result} if finished else None,
        "Details": row.error,
        "Progress": {"RowsDone": row.rows_done, "RowsSkipped": row.rows_skipped,
                     "RowsTotal": row.rows_total},
    }  # fmt: skip
