"""``/api/v1/batch``: submit a batch scoring job for a worker, follow it, cancel it, list
what it wrote.

``POST /api/v1/batch`` stores the job (its model version pinned at once) and answers 202
with its id and ``status_url`` (also in ``Location``); a worker (``modelyard up``,
``modelyard worker``) runs it. The same ``job_id`` with the same spec answers the job it
stored the first time; with another spec, 409.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field

from modelyard.batch.spec import DEFAULT_CHUNK_ROWS, BatchSpec, check_served_output
from modelyard.storage.batch import BatchRow
from modelyard.types import Action
from modelyard.web.admin.guard import requires
from modelyard.web.admin.views import API, url
from modelyard.workspace.root import Workspace


class BatchBody(BaseModel):
    """A batch job: as ``modelyard batch score`` takes it."""

    model: str = Field(description="NAME, NAME@ALIAS or NAME:VERSION; pinned at submit.")
    source: str = Field(description="The [sources.NAME] to read.")
    key: str = Field(description="The input's unique column; chunks page on it.")
    query: str | None = Field(None, description="The rows to score (SQL), or table.")
    table: str | None = Field(None, description="A whole table to score, or query.")
    output_table: str | None = Field(None, description="The table to write, or output.")
    output_source: str | None = Field(None, description="Where output_table is.")
    output: str | None = Field(None, description="A folder of chunk files (.parquet, .csv, URL).")
    chunk_rows: int = Field(DEFAULT_CHUNK_ROWS, description="Rows per committed chunk.")
    on_error: str = Field("fail", description="A malformed row: skip or fail.")
    partitions: int = Field(1, description="Key ranges scored at once on the executor.")
    job_id: str | None = Field(None, description="The job's id (the same id resumes it).")


def batch_view(request: Request, row: BatchRow, outputs: list[str]) -> dict[str, Any]:
    """A batch job: state, pinned version, progress, outputs, skipped rows, error."""
    spec = {k: v for k, v in row.spec.items() if k not in ("ranges", "runners")}
    return {
        "id": row.id,
        "state": row.state,
        "model": row.model,
        "version": row.version,
        "spec": spec,
        "progress": {
            "rows_done": row.rows_done,
            "rows_skipped": row.rows_skipped,
            "rows_total": row.rows_total,
        },
        "skipped": row.skipped,
        "outputs": outputs,
        "error": row.error,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "status_url": url(request, f"{API}/batch/{row.id}"),
    }


def router(ws: Workspace) -> APIRouter:
    """Submit, list, show, cancel, outputs."""
    api = APIRouter(prefix="/batch", tags=["batch"])

    def view(request: Request, job_id: str) -> dict[str, Any]:
        return batch_view(request, ws.batch.store.get(job_id), ws.batch.outputs(job_id))

    @api.post("", status_code=status.HTTP_202_ACCEPTED, openapi_extra=requires(Action.TRAIN))
    def submit(body: BatchBody, request: Request, response: Response) -> dict[str, Any]:
        """Store a batch job for a worker; follow ``status_url`` until its state is final."""
        fields = body.model_dump(exclude={"job_id"})
        spec = BatchSpec(**fields)
        check_served_output(spec, ws.settings.root)
        job = ws.batch.submit(spec, body.job_id)
        shown = view(request, job.id)
        response.headers["Location"] = shown["status_url"]
        return shown

    @api.get("")
    def list_jobs(
        request: Request, limit: Annotated[int, Query(ge=1)] = 50
    ) -> list[dict[str, Any]]:
        """The newest batch jobs first (at most 500)."""
        return [batch_view(request, row, []) for row in ws.batch.list(limit=min(limit, 500))]

    @api.get("/{job_id}")
    def show(job_id: str, request: Request) -> dict[str, Any]:
        """One batch job: state, progress, outputs."""
        return view(request, job_id)

    @api.get("/{job_id}/outputs")
    def outputs(job_id: str) -> dict[str, Any]:
        """What the job wrote: ``table:NAME`` or its chunk files."""
        return {"id": job_id, "outputs": ws.batch.outputs(job_id)}

    @api.post("/{job_id}/cancel", openapi_extra=requires(Action.TRAIN))
    def cancel(job_id: str, request: Request) -> dict[str, Any]:
        """Cancel a queued job, or a running one before its next chunk (409 if it ended)."""
        ws.batch.cancel(job_id)
        return view(request, job_id)

    return api
