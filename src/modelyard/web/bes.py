"""Azure ML Studio (classic) Batch Execution Service on each model endpoint:
``POST /endpoints/E/jobs?api-version=2.0`` (answers the job id as a JSON string),
``POST .../jobs/ID/start``, ``GET .../jobs/ID``, ``DELETE .../jobs/ID``. The endpoint's
keys (or the admin key) open them; the job scores with the version the endpoint's model
reference points at when it is submitted. The mapping is :mod:`modelyard.batch.bes`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from modelyard.batch.bes import bes_status, spec_from_bes
from modelyard.batch.spec import check_served_output
from modelyard.config.secret import Secret
from modelyard.errors import InvalidInput, JobNotFound
from modelyard.storage.endpoints import EndpointRecord, EndpointStore
from modelyard.web.auth import check_score_key, keys_required, on_loopback
from modelyard.workspace.root import Workspace


def router(ws: Workspace, admin_key: Secret | None, require_keys: bool) -> APIRouter:
    """The BES routes of every model endpoint."""
    api = APIRouter(tags=["azure ml classic"])
    store = EndpointStore(ws.db)

    def endpoint(name: str, request: Request) -> EndpointRecord:
        record = store.get(name)
        required = keys_required(record, require_keys, on_loopback(request.scope))
        check_score_key(request, record, admin_key, required=required)
        if record.kind != "model":
            raise InvalidInput(
                f"endpoint {name} runs an entry script: batch jobs score model endpoints",
                code="bes_unsupported",
            )
        return record

    def owned(name: str, job_id: str) -> None:
        row = ws.batch.store.get(job_id)
        if row.spec.get("endpoint") != name:
            raise JobNotFound(f"endpoint {name} has no batch job {job_id!r}")

    @api.post("/endpoints/{name}/jobs")
    async def submit(name: str, request: Request) -> JSONResponse:
        record = endpoint(name, request)
        try:
            body: Any = await request.json()
        except ValueError:
            raise InvalidInput("the BES body is not JSON", code="bes_body") from None
        spec = spec_from_bes(body, record.target)
        check_served_output(spec, ws.settings.root)
        job = ws.batch.submit(spec, None, held=True, endpoint=name)
        return JSONResponse(job.id)

    @api.post("/endpoints/{name}/jobs/{job_id}/start")
    def start(name: str, job_id: str, request: Request) -> Response:
        endpoint(name, request)
        owned(name, job_id)
        ws.batch.start(job_id)
        return Response(status_code=200)

    @api.get("/endpoints/{name}/jobs/{job_id}")
    def status(name: str, job_id: str, request: Request) -> JSONResponse:
        endpoint(name, request)
        owned(name, job_id)
        return JSONResponse(bes_status(ws.batch.store.get(job_id), ws.batch.outputs(job_id)))

    @api.delete("/endpoints/{name}/jobs/{job_id}")
    def delete(name: str, job_id: str, request: Request) -> Response:
        endpoint(name, request)
        owned(name, job_id)
        if ws.batch.store.get(job_id).state in ("held", "queued", "running"):
            ws.batch.cancel(job_id)  # an ended job stays as it is: classic deletes it
        return Response(status_code=200)

    return api
