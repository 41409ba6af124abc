"""The scoring lane: a model endpoint's one-shot scoring request answered by the HTTP
protocol itself, with no ASGI cycle around it.

For a request whose answer needs no wait (a small body whole in hand, a compiled model, a
few rows) the ASGI path costs more than the answer: uvicorn's request task, its receive
and send coroutines and message dicts, then five middleware layers each wrapping ``send``.
The lane skips them and asks the same pipeline (``DataPlane.answer_now``) for the answer::

    request head (web.protocol.ServerProtocol) ── POST to a scoring route (web.fast's
    │   table), a model endpoint, Content-Length <= 64 KiB, nothing pending on the
    │   connection, no Expect, HTTP/1.1, no Origin when CORS is on ── else: the ASGI app
    ▼
    body buffered until whole ── not in the read that ended the head: admitted as the app
    │   admits a body (Lane.admits: a key that opens the endpoint, then an in-flight slot,
    │   held until the body is whole; else the app answers from the head: 401, 429...);
    │   not whole within --body-timeout: 408 from the error table, the rest dropped
    ▼
    Lane.answer ── no free in-flight slot, or the pipeline needs a wait
    │              (a version to load, a worker thread, micro-batching) ── Later: the app
    │              gets the request, body in hand, and the scorer the route step chose
    │              (a canary split is drawn once); the model has not run
    ▼
    the pipeline's Answer + x-request-id ── written by the protocol in one write
    ▼
    metrics (``TALLY.end``, never shown in flight), then the after hooks (collection, mirror)

A draining replica (SIGTERM) and a client not reading its answers take the app's path too
(Connection: close; the app's cycle waits for the client).

What a client sees is what the ASGI path answers, byte for byte but for ``date``: the
same statuses, bodies and headers, the same request id rule, the same metrics (the
protocol label is the codec's name, which is the metrics middleware's label of the same
route; tests/web/test_one_pipeline.py and test_fast_path.py compare the answers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from modelyard.config.serve import ServeOptions
from modelyard.errors import ModelyardError
from modelyard.monitoring.prometheus import UNKNOWN
from modelyard.monitoring.tally import TALLY
from modelyard.serving.dataplane import Answer, DataPlane, Later
from modelyard.serving.offload import INLINE_BYTES
from modelyard.serving.protocols.codec import Head
from modelyard.web.admission import Admission, decoded_headers
from modelyard.web.errors import error_answer
from modelyard.web.fast import Found, Routes, model_route, query_params, routes
from modelyard.web.limits import given_request_id, request_id
from modelyard.web.slots import Slots

LANE = "modelyard.lane"  # the lifespan state key the protocol finds the lane under
LATER = Later()  # the app answers it: nothing ran
MAX_BODY_BYTES = INLINE_BYTES  # a larger body is decoded in a worker thread: the ASGI path


@dataclass
class Lane:
    """The lane of one replica: its pipeline, scoring routes and in-flight slots."""

    plane: DataPlane
    admission: Admission  # the app's: the key check of a body still coming
    routes: Routes
    slots: Slots  # the limits middleware's: a full server answers 429 from the ASGI path
    max_body_bytes: int
    body_timeout_s: float  # a body still coming after this long is refused (408)
    cors: bool  # [serve] cors_origins is set: a request with an Origin is the app's

    @classmethod
    def of(
        cls,
        plane: DataPlane,
        admission: Admission,
        slots: Slots,
        limits: ServeOptions,
        cors: bool,
    ) -> Lane:
        """The lane over ``plane`` for a server with these limits."""
        return cls(
            plane,
            admission,
            routes(limits.max_body_bytes),
            slots,
            min(limits.max_body_bytes, MAX_BODY_BYTES),
            limits.body_timeout_s,
            cors,
        )

    def route(self, path: str) -> Found | None:
        """The path parameters and codec of a model endpoint's scoring route, else None."""
        return model_route(self.routes, self.plane, path)

    def admits(self, pending: Pending, raw: list[tuple[bytes, bytes]], loopback: bool) -> bool:
        """Whether a request whose body is still coming may wait for it here, as the app
        admits one: its key opens the endpoint and an in-flight slot is free (then taken,
        and the request shown in flight, until :meth:`released`). Else the app answers it
        (401, 404, 429...)."""
        head = Head(decoded_headers(raw), loopback=loopback)
        params, codec = pending.found
        if not self.slots.free or not self.admission.opens(params["name"].partition("@")[0], head):
            return False
        self.slots.take()
        TALLY.begin(codec.name)
        return True

    def released(self, pending: Pending) -> None:
        """The wait of an admitted request is over: its slot back, no longer in flight
        (its answer is counted apart, by the lane or by the app)."""
        self.slots.give()
        TALLY.abandon(pending.found[1].name)

    def answer(
        self, pending: Pending, raw: list[tuple[bytes, bytes]], body: bytes, loopback: bool
    ) -> Answer | Later:
        """The answer to ``pending`` (headers ``raw``, its whole ``body``), with its
        ``x-request-id``; :class:`Later` when the app must answer it (nothing was scored
        or counted then)."""
        if not self.slots.free:
            return LATER
        headers = decoded_headers(raw)
        params, codec = pending.found
        rid = request_id(given_request_id(raw))
        head = Head(headers, query_params(pending.query), params, loopback)
        answer = self.plane.answer_now(params["name"], codec, head, body, rid)
        if isinstance(answer, Later):
            return answer
        return self._sent(pending, rid, answer)

    def refused(
        self, pending: Pending, raw: list[tuple[bytes, bytes]], error: ModelyardError
    ) -> Answer:
        """The answer to ``pending`` refused before its body was whole (from the error
        table, as the limits middleware answers it), with its ``x-request-id``."""
        return self._sent(pending, request_id(given_request_id(raw)), error_answer(error))

    def _sent(self, pending: Pending, rid: str, answer: Answer) -> Answer:
        """``answer`` with its request id, counted in the metrics as the metrics
        middleware counts the app's (the body's declared length, the time from its head)."""
        answer.headers.append((b"x-request-id", rid.encode()))
        params, codec = pending.found
        version = ""
        for key, value in answer.headers:
            if key == b"x-model-version":
                version = value.decode("latin-1")
        endpoint = params["name"].partition("@")[0]
        TALLY.end(
            codec.name,
            endpoint if self.plane.runtime.serves(endpoint) else UNKNOWN,
            version,
            answer.status,
            time.perf_counter() - pending.since,
            pending.length,
            len(answer.body),
            begun=False,  # not in flight now (a waiting body's wait ended in ``released``)
        )
        return answer


class Pending(Protocol):
    """A request the lane took (``web.protocol`` reads its body)."""

    found: Found
    query: bytes | None
    length: int  # its Content-Length
    since: float  # time.perf_counter() when its head was whole
