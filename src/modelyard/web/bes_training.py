"""Azure ML Studio (classic) retraining: BES on a training, and the ``PATCH`` that points
a scoring endpoint at the version it made.

- ``POST /trainings/NAME/jobs?api-version=2.0`` queues a run of training ``NAME`` (the
  admin key or a personal token allowed to train) and answers its id as a JSON string;
  ``.../start`` is accepted (the run is queued already), ``GET .../jobs/ID`` answers
  ``StatusCode`` and, once finished, ``Results.output1.RelativeLocation`` = the new
  version's reference (``churn:5``); ``DELETE`` cancels the run.
- ``PATCH /endpoints/E`` with classic's ``{"Resources": [{"Name": ..., "Location":
  {"RelativeLocation": "churn:5"}}]}`` (or ``"Location": "churn:5"``), with the admin key
  or the token of someone allowed to promote (an endpoint's scoring key only scores: it
  must not move what the endpoint serves): the endpoint's alias moves to that version
  through the same promotion as the CLI's, an event whose reason is the body's
  ``Reason`` (default: the resource's name). Replicas follow the move without dropping a
  request.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from modelyard.errors import Forbidden, InvalidInput, Unauthorized
from modelyard.storage.endpoints import EndpointStore
from modelyard.types import Action, ModelRef, RunState
from modelyard.web.admin.guard import same_origin
from modelyard.web.auth import bearer
from modelyard.workspace.people import Person
from modelyard.workspace.root import Workspace

STATUS = {
    RunState.QUEUED: "NotStarted",
    RunState.RUNNING: "Running",
    RunState.SUCCEEDED: "Finished",
    RunState.FAILED: "Failed",
    RunState.CANCELLED: "Cancelled",
}


def router(ws: Workspace) -> APIRouter:
    """BES on trainings, and classic's PATCH of an endpoint's trained model."""
    api = APIRouter(tags=["azure ml classic"])
    store = EndpointStore(ws.db)

    def allowed(request: Request, action: Action, what: str) -> Person:
        # as the admin API: a browser page of another site may not drive these calls
        origin = request.headers.get("origin")
        if origin is not None and not same_origin(
            origin, request.url.scheme, request.headers.get("host", "")
        ):
            raise Forbidden(f"{what} refuses calls from origin {origin[:100]!r}")
        token = bearer(request)
        if token is None:
            raise Unauthorized(f"{what} needs 'Authorization: Bearer <admin key or token>'")
        person = ws.people.authenticate(token)
        if person is None or not person.may(action):
            raise Forbidden(f"{what} needs the admin key or a token allowed to {action.value}")
        return person

    def trainer(request: Request) -> Person:
        return allowed(request, Action.TRAIN, "BES on a training")

    @api.post("/trainings/{name}/jobs")
    def submit(name: str, request: Request) -> JSONResponse:
        person = trainer(request)
        run, _ = ws.queue.trigger(name, trigger="bes", actor=person.name)
        return JSONResponse(run.id)

    @api.post("/trainings/{name}/jobs/{run_id}/start")
    def start(name: str, run_id: str, request: Request) -> Response:
        trainer(request)
        ws.runs.get(run_id)
        return Response(status_code=200)

    @api.get("/trainings/{name}/jobs/{run_id}")
    def status(name: str, run_id: str, request: Request) -> JSONResponse:
        trainer(request)
        run = ws.runs.get(run_id)
        done = run.state is RunState.SUCCEEDED and run.version is not None
        result = {"RelativeLocation": f"{run.model}:{run.version}", "BaseLocation": "",
                  "SasBlobToken": "", "ConnectionString": None}  # fmt: skip
        body: dict[str, Any] = {
            "StatusCode": STATUS[run.state],
            "Results": {"output1": result} if done else None,
            "Details": run.error,
        }
        return JSONResponse(body)

    @api.delete("/trainings/{name}/jobs/{run_id}")
    def delete(name: str, run_id: str, request: Request) -> Response:
        trainer(request)
        if ws.runs.get(run_id).state in (RunState.QUEUED, RunState.RUNNING):
            ws.runs.cancel(run_id)
        return Response(status_code=200)

    @api.patch("/endpoints/{name}")
    async def point(name: str, request: Request) -> JSONResponse:
        person = allowed(request, Action.PROMOTE, "pointing an endpoint at a version")
        record = store.get(name)
        try:
            body: Any = await request.json()
        except ValueError:
            raise InvalidInput("the body is not JSON", code="bes_body") from None
        resources = body.get("Resources") if isinstance(body, dict) else None
        if not isinstance(resources, list) or not resources or not isinstance(resources[0], dict):
            raise InvalidInput(
                'give {"Resources": [{"Name": ..., "Location": {"RelativeLocation": '
                '"MODEL:VERSION"}}]}',
                code="bes_body",
            )
        resource = resources[0]
        location = resource.get("Location")
        where = location.get("RelativeLocation") if isinstance(location, dict) else location
        wanted = ModelRef.parse(str(where or ""))
        target = ModelRef.parse(record.target)
        if wanted.version is None or wanted.name != target.name or target.alias is None:
            raise InvalidInput(
                f"endpoint {name} serves {record.target}: Location must name a version of "
                f"{target.name} (for example {target.name}:3), and the endpoint an alias",
                code="bes_location",
            )
        reason = str(body.get("Reason") or f"classic PATCH of {resource.get('Name', name)}")
        ws.models.promote(target.name, wanted.version, alias=target.alias, reason=reason,
                          actor=person.name)  # fmt: skip
        return JSONResponse({"Name": resource.get("Name"), "Location": str(wanted)})

    return api
