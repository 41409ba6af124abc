"""An ASGI app whose startup fails: a worker serving it exits as a failed start."""

from __future__ import annotations

from starlette.types import Receive, Scope, Send


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Refuse to start (lifespan); answer nothing else."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "this app never starts"})
