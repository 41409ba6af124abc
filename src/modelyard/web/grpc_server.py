"""The gRPC listener of a scoring replica, beside its HTTP one, in the same process.

``serve --grpc-port N`` wraps each worker's app in :class:`GrpcListener`: once the app
has started (its runtime loaded and following the registry), a ``grpc.aio`` server
starts on the same event loop and serves :mod:`modelyard.web.grpc_service` over the same
data plane, so both listeners share the loaded models, keys, hooks and every hot swap. With
``--workers N`` each worker binds the port with ``SO_REUSEPORT`` (gRPC's default on
Linux) and the kernel spreads connections over them, as it does for HTTP. On shutdown
the gRPC server stops first, finishing calls in flight within the request timeout.

Limits are the HTTP ones: messages over ``max_body_bytes`` and calls over
``max_in_flight`` are refused with ``RESOURCE_EXHAUSTED`` by gRPC itself. TLS comes from
``[serve] tls_cert`` and ``tls_key``, the files uvicorn is given for HTTPS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.config.serve import ServeOptions
from modelyard.errors import ConfigError
from modelyard.serving.dataplane import DataPlane
from modelyard.web.grpc_service import InferenceService, handler


@dataclass(frozen=True)
class Tls:
    """A certificate chain and its private key, PEM files."""

    cert: Path
    key: Path

    def credentials(self) -> Any:
        """gRPC server credentials from the two files."""
        try:
            chain, key = self.cert.read_bytes(), self.key.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the TLS file {exc.filename}: {exc.strerror} "
                "(set [serve] tls_cert and tls_key to PEM files)"
            ) from None
        return grpc.ssl_server_credentials([(key, chain)])


def grpc_server(plane: DataPlane, limits: ServeOptions, tls: Tls | None = None) -> tuple[Any, int]:
    """A ``grpc.aio`` server (not started) bound to ``limits.host:limits.grpc_port``;
    returns it and the port bound (the one asked, or a free one for port 0)."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", limits.max_body_bytes),
            ("grpc.so_reuseport", 1),
        ],
        maximum_concurrent_rpcs=limits.max_in_flight,
    )
    server.add_generic_rpc_handlers((handler(InferenceService(plane)),))
    address = f"{limits.host}:{limits.grpc_port}"
    try:
        if tls is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, tls.credentials())
    except RuntimeError as exc:
        raise ConfigError(f"cannot listen for gRPC on {address}: {exc}") from None
    return server, port


class GrpcListener:
    """ASGI wrapper running a gRPC server for the app's lifespan: started after the app's
    startup, stopped before its shutdown."""

    def __init__(self, app: ASGIApp, make_server: Any, grace_s: float) -> None:
        self.app = app
        self.make_server = make_server  # () -> (server, port), called at startup
        self.grace_s = grace_s
        self.server: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                try:
                    self.server, _ = self.make_server()
                    await self.server.start()
                except ConfigError as error:
                    message = {"type": "lifespan.startup.failed", "message": error.message}
            await send(message)

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown" and self.server is not None:
                await self.server.stop(self.grace_s)
                self.server = None
            return message

        await self.app(scope, receiving, sending)
