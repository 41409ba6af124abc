"""What the protocol routers (MLflow, Open Inference, Studio classic) share: errors in the
protocol's own body, and a model that raises on a request's rows answered with a 400, as
those protocols' reference servers answer it (MLflow's "unexpected error while evaluating
the model", classic's ``ModuleExecutionError``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from modelyard.errors import ModelyardError
from modelyard.web.errors import ErrorShape, error_response

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
