"""The physical ceiling of bench/serve.py: a bare ASGI callable under the same uvicorn
settings as ``modelyard serve`` (the same HTTP protocol class, with TCP_NODELAY and the
head limit; log level, worker count, worker health-check timeout, a listening socket per
worker: modelyard.cli.listeners), answering every request
with one constant JSON document. It reads the request body (the same body the modelyard
row sends) and does nothing else: no routing, no JSON parsing, no model. Whatever a real
server does costs what it falls short of this.

    python bench/hello_app.py --port 8000 [--workers 2]

GET /v2/health/ready answers 200 like everything else.
"""

from __future__ import annotations

import argparse
import os

from starlette.types import Receive, Scope, Send

from modelyard.cli.listeners import run_server
from modelyard.cli.protocol import http_protocol
from modelyard.cli.serving import WORKER_HEALTHCHECK_S

BODY = b'{"predictions":[1.0]}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Read the body, answer ``BODY``."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False) and message["type"] == "http.request"
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    run_server(
        "hello_app:app",
        host="127.0.0.1",
        port=args.port,
        workers=max(1, args.workers),
        http=http_protocol(),
        log_level=os.environ.get("HELLO_LOG", "warning"),
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
    )


if __name__ == "__main__":
    main()
