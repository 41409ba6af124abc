"""The data plane: the one pipeline every scoring request goes through, whatever its route
(the protocol's scoring lane, the plain-ASGI fast route, FastAPI's, gRPC) and whatever its
wire format. Two drivers run the same steps: :meth:`DataPlane.handle` (async: it may read
the body, load a version, score in a worker thread or the micro-batcher) and
:meth:`DataPlane.answer_now` (the lane's: a whole body in hand, nothing to wait for, else
``Later`` before the model runs).

    request
      │  size ........... Content-Length over the limit: 413 (web.limits, before any route)
      ▼
    resolve ............. the in-memory endpoint table the follow thread keeps current
      │                   (Runtime.lookup): no database read, no model load, no compile;
      │                   an unknown name is a 404 at once, a new one is known within the
      │                   follow period
    key ................. before anything that costs (web.auth): 401 even for an endpoint
      │                   whose model is still loading, which is not loaded for it
    media type .......... codec.media(head): 415, before the body is read
    body ................ read under the size limit (413 while reading)
    decode + validate ... codec.decode(body, head, signature) -> (columns, context), against
      │                   the signature of the version that answers:
      │                   checked numpy columns; a DataFrame only for a model without a
      │                   compiled scorer (built by the scorer when it needs one)
    route ............... ``DataPlane.route`` picks the scorer that answers (serving.routing):
      │                   a version or alias asked for by URL (``/versions/V/``, ``E@alias``),
      │                   else one alias of a canary split drawn by weight, else the target;
      │                   a version's first use loads it here, in a worker thread
    score ............... inline (compiled, few rows), worker thread, or micro-batcher
    encode .............. codec.encode(context, result) -> body, media type, headers
      ▼
    answer .............. one header builder (:func:`answer_headers`) for every status
      │                   and every route; errors from the one table (web.errors)
    after ............... ``DataPlane.after`` hooks, once the answer is sent: collection
                          (monitoring) today; metrics and mirrored traffic plug in here

An unexpected exception anywhere is logged with the request id and answered 500 from the
same table, once: nothing is ever replayed, so a model runs at most once per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd
from starlette.concurrency import run_in_threadpool

from modelyard.errors import InternalError, ModelUnavailable, ModelyardError
from modelyard.serving.dispatch import dispatch, rows, scores_inline
from modelyard.serving.offload import (
    ENCODE_INLINE_ROWS,
    Deadline,
    check_cells,
    decodes_inline,
)
from modelyard.serving.protocols.codec import Codec, Columns, Head, Result
from modelyard.serving.routing import Router, steered
from modelyard.serving.runtime import Runtime
from modelyard.serving.scorer import Scored, Scorer
from modelyard.storage.endpoints import EndpointRecord
from modelyard.types import Signature

log = logging.getLogger("modelyard.serving")

RawHeaders = list[tuple[bytes, bytes]]


def answer_headers(
    content_type: str,
    length: int,
    *,
    version: int | None = None,
    model: str | None = None,
    extra: Iterable[tuple[str, str]] = (),
) -> RawHeaders:
    """The headers of every answer the data plane sends: content type and length, the
    version that answered (``x-model-version``, ``x-model-name``) and any of the format's
    own. ``x-request-id`` is added by the limits middleware, or the scoring lane
    (``web.lane``), on every answer."""
    headers = [(b"content-type", content_type.encode()), (b"content-length", b"%d" % length)]
    if version is not None:
        headers.append((b"x-model-version", b"%d" % version))
    if model is not None:
        headers.append((b"x-model-name", model.encode()))
    headers.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra)
    return headers


@dataclass(slots=True)
class Exchange:
    """One request as the after hooks see it, answered or refused."""

    endpoint: str
    codec: str
    request_id: str
    started: float  # time.perf_counter() when the request reached the pipeline
    record: EndpointRecord | None = None
    scorer: Scorer | None = None
    columns: Columns | None = None  # the decoded rows, once decoded
    scored: Scored | None = None
    error: ModelyardError | None = None
    status: int = 200
    decoding: bool = False  # the request got as far as its body being decoded
    source: str = "model"  # "model", or "script" for an entry script's answer
    pinned: bool = False  # a version or alias was asked for by URL (never mirrored)
    alias: str | None = None  # of ``/endpoints/E@alias/score``
    score_ms: float = 0.0  # how long scoring took
    answered: float = 0.0  # time.perf_counter() once the answer was sent (collected ones)


Hook = Callable[[Exchange], None]
"""Runs after the answer is sent; must not block (hand work to a thread or a queue)."""


@dataclass(slots=True)
class Answer:
    """What a route sends: status, headers, body; then ``done()`` runs the after hooks."""

    status: int
    headers: RawHeaders
    body: bytes
    hooks: Sequence[Hook] = ()
    exchange: Exchange | None = None

    def done(self) -> None:
        """Run the after hooks (call it once the answer is sent); a failing hook is
        logged, never the client's problem."""
        exchange = self.exchange
        if exchange is None:
            return
        for hook in self.hooks:
            try:
                hook(exchange)
            except Exception:
                log.exception("after hook %r failed on request %s", hook, exchange.request_id)


@dataclass(frozen=True, slots=True)
class Later:
    """What :meth:`DataPlane.answer_now` returns for a request that needs a wait: nothing
    was scored; ``chosen`` is the scorer its route step picked, if it ran, for
    :meth:`DataPlane.handle` to keep (a canary split is drawn once per request)."""

    chosen: Scorer | None = None


class Keys(Protocol):
    """The key check of a scoring route (``web.auth.ScoreKeys``)."""

    def __call__(self, record: EndpointRecord, head: Head) -> None:
        """Return if ``head`` may call ``record``; raise ``Unauthorized`` otherwise."""
        ...


class ErrorTable(Protocol):
    """The one table from error to status and body (``web.errors.TABLE``)."""

    def answer(self, error: ModelyardError, codec: Codec | None) -> Answer:
        """The answer to ``error``, in ``codec``'s error document if it has one."""
        ...


@dataclass(slots=True)
class Routing:
    """What the route step decides on: the endpoint, its scorer and the request head."""

    record: EndpointRecord
    scorer: Scorer
    head: Head
    alias: str | None = None  # of ``/endpoints/E@alias/score``


Route = Callable[[Routing], Scorer]
"""Picks the scorer that answers a request; raises a ``ModelyardError`` to refuse it. The
scorer may not be loaded yet (a version's first use): the pipeline loads it off the loop."""


def routed(routing: Routing, router: Router) -> Scorer:
    """The scorer ``router`` picks: the version (``params["version"]``) or alias asked for
    by URL, else one alias of the endpoint's canary split, else its target."""
    return router.answering(
        routing.record,
        routing.scorer,
        version=routing.head.params.get("version"),
        alias=routing.alias,
    )


@dataclass
class DataPlane:
    """The pipeline of one serving process; ``route`` and ``after`` are its extension
    points (see the module docstring)."""

    runtime: Runtime
    keys: Keys
    errors: ErrorTable
    timeout_s: float
    route: Route | None = None  # None: :func:`routed` by the runtime's router
    after: list[Hook] = field(default_factory=list)
    _routed: Route | None = field(default=None, init=False, repr=False)  # the default route

    def __post_init__(self) -> None:
        if self.route is None:
            router = self.runtime.router
            self.route = self._routed = lambda routing: routed(routing, router)

    async def handle(
        self,
        name: str,
        codec: Codec,
        head: Head,
        read: Callable[[], Awaitable[bytes]],
        request_id: str,
        chosen: Scorer | None = None,
    ) -> Answer:
        """Answer one scoring request for endpoint ``name`` in ``codec``'s format; ``read``
        reads the body (under the size limit); ``chosen``: the scorer :meth:`answer_now`
        routed it to before it found it needs a wait. Never raises."""
        exchange = Exchange(name, codec.name, request_id, time.perf_counter())
        try:
            answer = await self._answer(exchange, codec, head, read, chosen)
        except Exception as error:  # answered from the error table
            answer = self._failed(exchange, error, codec)
        answer.hooks, answer.exchange = self.after, exchange
        return answer

    def answer_now(
        self, name: str, codec: Codec, head: Head, body: bytes, request_id: str
    ) -> Answer | Later:
        """:meth:`handle` for a request whose whole body is in hand, done without waiting:
        the answer, or :class:`Later` when it needs a wait (a version to load, a worker
        thread, the micro-batcher, a body too large to decode on the loop). That is decided
        before the model runs, so the caller hands the request to :meth:`handle` (with
        ``Later.chosen``), which answers it once. Never raises."""
        exchange = Exchange(name, codec.name, request_id, time.perf_counter())
        try:
            record, scorer = self._admitted(exchange, codec, head)
            chosen = self._chosen(exchange, record, scorer, head)
            if (
                not scores_inline(chosen, 1)  # not loaded yet, or not compiled
                or not decodes_inline(body, head.header("content-encoding"))
                or (chosen is scorer and self.runtime.batcher(record.name) is not None)
            ):
                return Later(chosen)
            columns, context = self._decoded(exchange, codec, body, head, chosen)
            if not scores_inline(chosen, rows(columns)):
                return Later(chosen)  # a worker thread scores it: handle() decodes it again
            began = time.perf_counter()
            scored = chosen.score(columns)
            answer = self._encoded(exchange, codec, context, scored, began)
        except Exception as error:  # answered from the error table
            answer = self._failed(exchange, error, codec)
        answer.hooks, answer.exchange = self.after, exchange
        return answer

    async def _answer(
        self,
        exchange: Exchange,
        codec: Codec,
        head: Head,
        read: Callable[[], Awaitable[bytes]],
        given: Scorer | None,
    ) -> Answer:
        record, scorer = self._admitted(exchange, codec, head)
        body = await read()
        chosen = self._chosen(exchange, record, scorer, head, given)
        if chosen.current is None:  # a version asked for by URL, used for the first time
            await run_in_threadpool(chosen.refresh)
            if chosen.current is None:
                raise ModelUnavailable(
                    f"{chosen.target} cannot score"
                    + (f": {chosen.last_error}" if chosen.last_error else "")
                )
        deadline = Deadline(self.timeout_s)  # decode, score and encode share one timeout
        inline = decodes_inline(body, head.header("content-encoding"))
        if inline:
            columns, context = self._decoded(exchange, codec, body, head, chosen)
        else:
            columns, context = await deadline.run(
                False, self._decoded, exchange, codec, body, head, chosen
            )
        batcher = self.runtime.batcher(record.name) if chosen is scorer else None
        began = time.perf_counter()
        scored = await dispatch(chosen, batcher, columns, deadline.left())
        if rows(columns) <= ENCODE_INLINE_ROWS:
            return self._encoded(exchange, codec, context, scored, began)
        return await deadline.run(False, self._encoded, exchange, codec, context, scored, began)

    # The steps of the pipeline, in order (both drivers above call them).

    def _admitted(
        self, exchange: Exchange, codec: Codec, head: Head
    ) -> tuple[EndpointRecord, Scorer | None]:
        """Resolve the endpoint from memory, check the key, then the media type."""
        name = exchange.endpoint
        if "@" in name:  # /endpoints/E@challenger/score
            name, _, alias = name.partition("@")
            exchange.endpoint = name
            exchange.alias = alias or None
        record, scorer = self.runtime.lookup(name)
        exchange.record = record
        if head.admitted != record.name:  # admission checked this very key already
            self.keys(record, head)
        codec.media(head)
        return record, scorer

    def _chosen(
        self,
        exchange: Exchange,
        record: EndpointRecord,
        scorer: Scorer | None,
        head: Head,
        given: Scorer | None = None,
    ) -> Scorer:
        """The scorer that answers (maybe not loaded yet: a version's first use): ``given``,
        when an earlier look at this request routed it already, else the route step's."""
        if scorer is None:
            raise ModelUnavailable(f"endpoint {record.name} is loading its model: retry shortly")
        route = self.route
        assert route is not None
        if given is not None:
            chosen = given
        elif route is self._routed and not steered(
            record, head.params.get("version"), exchange.alias
        ):
            chosen = scorer  # what the default route answers, without a Routing to ask it
        else:
            chosen = route(Routing(record, scorer, head, exchange.alias))
        exchange.pinned = exchange.alias is not None or "version" in head.params
        return chosen

    def _decoded(
        self, exchange: Exchange, codec: Codec, body: bytes, head: Head, chosen: Scorer
    ) -> tuple[Columns, Any]:
        """Decode and check ``body`` against the signature of the version that answers."""
        exchange.scorer = chosen
        exchange.decoding = True
        columns, context = codec.decode(body, head, chosen.signature)
        check_cells(
            rows(columns), len(columns.columns if isinstance(columns, pd.DataFrame) else columns)
        )
        exchange.columns = columns
        return columns, context

    def _encoded(
        self, exchange: Exchange, codec: Codec, context: Any, scored: Scored, began: float
    ) -> Answer:
        """The answer to scored rows: the format's body and the one header builder's."""
        now = time.perf_counter()
        exchange.score_ms = (now - began) * 1000
        exchange.scored = scored
        record, version = exchange.record, scored.version
        assert record is not None
        signature = version.signature  # of the version that scored
        result = Result(
            record.name,
            scored.predictions,
            version.version,
            version.name,
            scored.classes,
            signature,
            output_names(record, signature),
            round((now - exchange.started) * 1000),
        )
        encoded = codec.encode(context, result)
        headers = answer_headers(
            encoded.content_type,
            len(encoded.body),
            version=version.version,
            model=version.name,
            extra=encoded.headers,
        )
        return Answer(200, headers, encoded.body)

    def _failed(self, exchange: Exchange, error: Exception, codec: Codec) -> Answer:
        """The answer to a request refused (a ``ModelyardError``) or met by a bug (logged
        with its request id, answered 500): both from the one error table."""
        if not isinstance(error, ModelyardError):
            log.error(
                "unhandled error on request %s to endpoint %s",
                exchange.request_id,
                exchange.endpoint,
                exc_info=error,
            )
            error = InternalError(f"internal error; request id {exchange.request_id}")
        answer = self.errors.answer(error, codec)
        exchange.error, exchange.status = error, answer.status
        return answer

    def finish_script(self, exchange: Exchange) -> None:
        """Run the after hooks for an entry script's answered request (the proxy's)."""
        Answer(exchange.status, [], b"", self.after, exchange).done()


def output_names(record: EndpointRecord, signature: Signature | None) -> list[str] | None:
    """The names the endpoint gives its outputs (``--output-names``), else those of the
    version's signature outputs, else None (each wire format's own names)."""
    names: Any = record.options.get("output_names")
    if names:
        return [str(n) for n in names]
    if signature is not None and signature.outputs:
        return [c.name for c in signature.outputs]
    return None
