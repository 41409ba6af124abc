"""Endpoints: state, URIs, traffic, keys (regenerated and shown once), a Test form built
from the served signature, and sample code for every wire format and language."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from modelyard.errors import InvalidInput, ModelyardError
from modelyard.serving.dispatch import score_now
from modelyard.serving.protocols.common import JSON, jsonable
from modelyard.serving.protocols.tabular import decode_body_columns
from modelyard.serving.runtime import Runtime
from modelyard.storage.endpoints import KEY_SLOTS
from modelyard.types import Action, ColumnSpec
from modelyard.ui.session import PREFIX, Visitor
from modelyard.ui.studio import Seen, Studio, pages_router
from modelyard.web.admin.endpoints import served_version
from modelyard.web.admin.snippets import LANGUAGES, PROTOCOLS, TITLES, example_row, snippets
from modelyard.workspace.root import Workspace

TEST_TIMEOUT_S = 30.0


def form_value(spec: ColumnSpec, text: str | None) -> Any:
    """A Test-form field as the JSON value its column takes (left as typed if it is not
    one, so that the endpoint's own error says what is wrong)."""
    if spec.dtype == "bool":
        return text == "on"
    if text is None or text == "":
        return None
    if spec.dtype in ("int64", "float64"):
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if spec.dtype == "int64" and number.is_integer() else number
    return text


def endpoint_context(ws: Workspace, request: Request, name: str) -> dict[str, Any]:
    """What the endpoint page shows."""
    endpoint = ws.endpoints.get(name)
    base = str(request.base_url).rstrip("/")
    context: dict[str, Any] = {
        "endpoint": endpoint,
        "comparisons": ws.endpoints.comparison(name),
        "scoring_uri": f"{base}/endpoints/{name}/score",
        "swagger_uri": f"{base}/endpoints/{name}/swagger.json",
        "slots": KEY_SLOTS,
        "protocols": PROTOCOLS,
        "languages": LANGUAGES,
        "titles": TITLES,
    }
    try:
        version = served_version(ws, name)
    except ModelyardError as exc:  # an entry script, no signature, nothing promoted yet
        context["no_form"] = exc.message
        return context
    samples = snippets(base, name, version)
    context.update(
        version=version,
        example=example_row(version),
        samples={(s.protocol, s.language): s for s in samples},
    )
    return context


async def test_score(runtime: Runtime, name: str, row: dict[str, Any]) -> dict[str, Any]:
    """Score one row on endpoint ``name`` in this process, through the endpoint's own
    decoding and scorer (no HTTP call, no key: the Studio session stands for it)."""
    _, scorer = await run_in_threadpool(runtime.fetch, name)  # may read and load: off the loop
    body = orjson.dumps({"data": [row]})
    frame = decode_body_columns(body, JSON, scorer.signature)
    scored = await score_now(scorer, frame, TEST_TIMEOUT_S)
    return {
        "version": scored.version.version,
        "prediction": jsonable(scored.predictions)[0],
        "classes": scored.classes,
    }


def router(studio: Studio) -> APIRouter:
    """``/studio/endpoints`` and ``/studio/endpoints/NAME`` with its test and key forms."""
    api = pages_router("/endpoints")
    ws = studio.ws

    @api.get("")
    def endpoints(request: Request, visitor: Seen) -> Response:
        listed = ws.endpoints.list()
        return studio.show(
            request, "endpoints.html", visitor, section="endpoints", endpoints=listed
        )

    @api.get("/{name}")
    def endpoint(request: Request, name: str, visitor: Seen, shown: str | None = None) -> Response:
        context = endpoint_context(ws, request, name)
        new_key = studio.flash.take(visitor, shown)
        if new_key is not None:
            context["notice"] = f"New {new_key['slot']} key for {name}: the old one no longer works"
        return studio.show(
            request, "endpoint.html", visitor, section="endpoints", new_key=new_key, **context
        )

    @api.post("/{name}/test")
    async def test(request: Request, name: str) -> Response:
        async def handle(visitor: Visitor, form: FormData) -> Response:
            version = served_version(ws, name)
            assert version.signature is not None
            row = {
                c.name: form_value(c, _text(form, f"col-{c.name}"))
                for c in version.signature.inputs
            }
            try:
                result = await test_score(request.app.state.runtime, name, row)
            except ModelyardError as exc:
                result = {"error": exc}
            if request.headers.get("hx-request") == "true":
                return studio.show(request, "test_result.html", visitor, result=result)
            context = endpoint_context(ws, request, name)
            context["example"] = row
            return studio.show(
                request,
                "endpoint.html",
                visitor,
                section="endpoints",
                result=result,
                **context,
            )

        return await studio.form(request, Action.TRAIN, f"testing endpoint {name}", handle)

    @api.post("/{name}/keys")
    async def regenerate(request: Request, name: str) -> Response:
        def handle(visitor: Visitor, form: FormData) -> Response:
            slot = _text(form, "slot")
            if slot not in KEY_SLOTS:
                raise InvalidInput("slot must be primary or secondary", code="invalid_form")
            key = ws.endpoints.regenerate_key(name, slot, actor=visitor.person.name)
            shown = studio.flash.put(visitor, {"slot": slot, "key": key})
            return RedirectResponse(f"{PREFIX}/endpoints/{name}?shown={shown}", status_code=303)

        return await studio.form(
            request, Action.ADMIN, f"regenerating a key of endpoint {name}", handle
        )

    return api


def _text(form: FormData, field: str) -> str | None:
    value = form.get(field)
    return value if isinstance(value, str) else None
