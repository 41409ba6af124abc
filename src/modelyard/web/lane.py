"""The scoring lane: a model endpoint's one-shot scoring request answered by the HTTP
protocol itself, with no ASGI cycle around it.

For a request whose answer needs no wait (a small body whole in hand, a compiled model, a
few rows) the ASGI path costs more than the answer: uvicorn's request task, its receive
and send coroutines and message dicts, then five middleware layers each wrapping ``send``.
The lane skips them and asks the same pipeline (``DataPlane.answer_now``) for the answer::

    request head (web.protocol.ServerProtocol) ── POST to a scoring route (web.fast's
    │   table), a model endpoint, Content-Length <= 64 KiB, nothing pending on the
    │   connection, no Expect, HTTP/1.1 ───────────────── else: the ASGI app, as always
    ▼
    body buffered until whole ─────── not whole within the body deadline (--body-timeout):
    │                                  408 from the error table, and the connection closes
    ▼
    Lane.answer ── no free in-flight slot, a CORS origin, or the pipeline needs a wait
    │              (a version to load, a worker thread, micro-batching) ── Later: the app
    │              gets the request, body in hand, and the scorer the route step chose
    │              (a canary split is drawn once); the model has not run
    ▼
    the pipeline's Answer + x-request-id ── written by the protocol in one write
    ▼
    metrics (``TALLY.answered``), then the after hooks (collection, mirror)

A draining replica (SIGTERM) and a client not reading its answers take the app's path too
(Connection: close; the app's cycle waits for the client).

What a client sees is what the ASGI path answers, byte for byte but for ``date``: the
same statuses, bodies and headers, the same request id rule, the same metrics
(tests/web/test_one_pipeline.py and test_fast_path.py compare them). The lane holds no
in-flight slot over time
(it answers before the next byte is read), so it only checks that one is free.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from modelyard.config.serve import ServeOptions
from modelyard.errors import ModelyardError
from modelyard.monitoring.prometheus import UNKNOWN
from modelyard.monitoring.tally import TALLY
from modelyard.serving.dataplane import Answer, DataPlane, Later
from modelyard.serving.offload import INLINE_BYTES
from modelyard.serving.protocols.codec import Head
from modelyard.web.errors import error_answer
from modelyard.web.fast import Found, Routes, model_route, query_params, routes
from modelyard.web.limits import request_id
from modelyard.web.slots import Slots

LANE = "modelyard.lane"  # the lifespan state key the protocol finds the lane under
LATER = Later()  # the app answers it: nothing ran
MAX_BODY_BYTES = INLINE_BYTES  # a larger body is decoded in a worker thread: the ASGI path


@dataclass
class Lane:
    """The lane of one replica: its pipeline, scoring routes and in-flight slots."""

    plane: DataPlane
    routes: Routes
    slots: Slots  # the limits middleware's: a full server answers 429 from the ASGI path
    max_body_bytes: int
    body_timeout_s: float  # a body still coming after this long is refused (408)
    cors: bool  # [serve] cors_origins is set: a request with an Origin takes the ASGI path

    @classmethod
    def of(cls, plane: DataPlane, slots: Slots, limits: ServeOptions, cors: bool) -> Lane:
        """The lane over ``plane`` for a server with these limits."""
        return cls(
            plane,
            routes(limits.max_body_bytes),
            slots,
            min(limits.max_body_bytes, MAX_BODY_BYTES),
            limits.body_timeout_s,
            cors,
        )

    def route(self, path: str) -> Found | None:
        """The path parameters and codec of a model endpoint's scoring route, else None."""
        return model_route(self.routes, self.plane, path)

    def answer(
        self,
        found: Found,
        raw: list[tuple[bytes, bytes]],
        query: bytes | None,
        body: bytes,
        loopback: bool,
    ) -> Answer | Later:
        """The answer to a request of ``found``'s route, headers ``raw`` and whole ``body``,
        with its ``x-request-id``; :class:`Later` when the app must answer it (nothing was
        scored or counted then)."""
        if self.slots.taken >= self.slots.limit:
            return LATER
        headers: dict[str, str] = {}
        given: bytes | None = None
        for key, value in raw:
            if key == b"x-request-id":
                given = value  # the last one, as the limits middleware reads it
            headers.setdefault(key.decode("latin-1"), value.decode("latin-1"))
        if self.cors and "origin" in headers:
            return LATER
        params, codec = found
        name = params["name"]
        rid = request_id(given)
        head = Head(headers, query_params(query), params, loopback)
        started = time.perf_counter()
        answer = self.plane.answer_now(name, codec, head, body, rid)
        if isinstance(answer, Later):
            return answer
        return self._sent(found, name, rid, answer, started, len(body))

    def refused(
        self, found: Found, raw: list[tuple[bytes, bytes]], error: ModelyardError
    ) -> Answer:
        """The answer to a request refused before its body was whole (from the error
        table, as the limits middleware answers it), with its ``x-request-id``."""
        given = None
        for key, value in raw:
            if key == b"x-request-id":
                given = value
        answer = error_answer(error)
        params, _ = found
        return self._sent(found, params["name"], request_id(given), answer, time.perf_counter(), 0)

    def _sent(
        self, found: Found, name: str, rid: str, answer: Answer, started: float, received: int
    ) -> Answer:
        """``answer`` with its request id, counted in the metrics."""
        answer.headers.append((b"x-request-id", rid.encode()))
        codec = found[1]
        version = ""
        for key, value in answer.headers:
            if key == b"x-model-version":
                version = value.decode("latin-1")
        endpoint = name.partition("@")[0]
        TALLY.answered(
            codec.name,
            endpoint if self.plane.runtime.serves(endpoint) else UNKNOWN,
            version,
            answer.status,
            time.perf_counter() - started,
            received,
            len(answer.body),
        )
        return answer
