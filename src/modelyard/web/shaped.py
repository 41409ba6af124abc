"""What the protocol routers (MLflow, Open Inference, Studio classic) share: errors in the
protocol's own body, and a model that raises on a request's rows answered with a 400, as
those protocols' reference servers answer it (MLflow's "unexpected error while evaluating
the model", classic's ``ModuleExecutionError``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import pandas as pd
from fastapi import Request, Response
from fastapi.routing import APIRoute

from modelyard.config import Secret, ServeOptions
from modelyard.errors import InvalidInput, ModelyardError
from modelyard.serving import Runtime, Scored
from modelyard.types import Signature
from modelyard.web.errors import ErrorShape, error_response
from modelyard.web.scoring import score_with

log = logging.getLogger("modelyard.web")


def shaped_route(shape: ErrorShape) -> type[APIRoute]:
    """A route class whose modelyard errors answer in ``shape``; statuses still come from
    the one table in :mod:`modelyard.web.errors`."""

    class ShapedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def shaped(request: Request) -> Response:
                try:
                    return await handler(request)
                except ModelyardError as exc:
                    return error_response(exc, shape=shape)

            return shaped

    return ShapedRoute


async def score_or_refuse(
    request: Request,
    runtime: Runtime,
    name: str,
    *,
    admin_key: Secret | None,
    require_keys: bool,
    limits: ServeOptions,
    decode: Callable[[bytes, Signature | None], pd.DataFrame],
) -> Scored:
    """:func:`score_with`, where the model raising on rows that fit the signature (an
    unseen category, say) is ``InvalidInput(code="model_error")``; a failure before the
    frame was built stays a bug."""
    decoded = False

    def tracked(body: bytes, signature: Signature | None) -> pd.DataFrame:
        nonlocal decoded
        frame = decode(body, signature)
        decoded = True
        return frame

    try:
        return await score_with(
            request,
            runtime,
            name,
            admin_key=admin_key,
            require_keys=require_keys,
            limits=limits,
            decode=tracked,
        )
    except ModelyardError:
        raise
    except Exception as exc:
        if not decoded:
            raise
        log.warning("endpoint %s: the model failed on a request", name, exc_info=True)
        detail = f"{type(exc).__name__}: {exc}"[:500]
        raise InvalidInput(f"the model failed on this input: {detail}", code="model_error") from exc
