"""Which requests take an in-flight slot, decided from the request line and headers alone,
before any byte of a body is read.

- Health and readiness (``/v2/health/live``, ``/v2/health/ready``, MLflow's ``/ping`` and
  ``/health``) never take a slot: a full server still says it is alive.
- A request with a body is authorised first. The admin API checks Host, Origin and the
  admin key or a personal token (its :class:`~modelyard.web.admin.guard.AdminGuard`): a
  refusal is answered at once from the error table, its body never read. A scoring route
  checks the endpoint's key (the data plane's own :class:`~modelyard.web.auth.ScoreKeys`):
  a request it refuses takes no slot and goes on to the data plane, which refuses it from
  the same headers before reading any body, in its protocol's error shape.
- A CORS preflight and the Studio's forms (whose login is keyless) take no slot either;
  their bodies are still read under the deadline of :mod:`modelyard.web.body`.
- Anything else takes a slot: it is answered without waiting for a client.

The scoring lane (``web.lane``) answers a scoring request whose body came with its head
without a slot (it is answered before the next byte is read); one whose body is still
coming is admitted with :meth:`Admission.opens` and a slot, as here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import Scope

from modelyard.errors import ModelyardError
from modelyard.serving.protocols.codec import Head
from modelyard.serving.runtime import Runtime
from modelyard.web.auth import ScoreKeys, on_loopback

FREE_PATHS = frozenset({"/v2/health/live", "/v2/health/ready", "/ping", "/health"})
SCORE_PATHS = (
    # /endpoints/E[@alias][/versions/V]/score: the key is E's whatever version answers
    re.compile(
        r"^/endpoints/(?P<name>[^/@]+)(?:@[^/]+)?(?:/versions/[^/]+)?/(?:score|invocations|execute)?$"
    ),
    re.compile(r"^/v2/models/(?P<name>[^/]+)(?:/versions/[^/]+)?/infer$"),
)
ROOT_SCORE_PATH = re.compile(r"^/invocations$")  # --mlflow-compat: the one endpoint
HEADERS = "modelyard.headers"  # scope key: the headers as text (:func:`request_headers`)
ADMITTED = "modelyard.admitted"  # scope key: the endpoint whose key admission checked


def has_body(scope: Scope) -> bool:
    """True if the request announces a body (a length above 0, or chunked)."""
    for key, value in scope.get("headers") or ():
        if key == b"content-length":
            return value.strip() not in (b"", b"0")
        if key == b"transfer-encoding":
            return True
    return False


@dataclass
class Admission:
    """The rules of one app; the control app adds the admin API's (:meth:`admin`)."""

    runtime: Runtime
    keys: ScoreKeys
    endpoint: str | None = None  # the one endpoint of an --mlflow-compat server
    admin_checks: list[tuple[str, Callable[[Request], object]]] = field(default_factory=list)
    open_prefixes: list[str] = field(default_factory=list)

    def admin(self, prefix: str, check: Callable[[Request], object]) -> None:
        """Authorise requests under ``prefix`` with ``check`` (headers only; it raises)."""
        self.admin_checks.append((prefix, check))

    def open(self, prefix: str) -> None:
        """Requests under ``prefix`` (the Studio's forms) take no slot."""
        self.open_prefixes.append(prefix)

    async def counts(self, scope: Scope) -> bool:
        """Whether the request takes a slot; raises the ``ModelyardError`` of a refusal
        (a missing or wrong key, a foreign Host or Origin, an unknown endpoint)."""
        path: str = scope["path"]
        if path in FREE_PATHS:
            return False
        if scope["method"] == "OPTIONS":
            return False
        if not has_body(scope):
            return True
        for prefix, check in self.admin_checks:
            if path.startswith(prefix):
                await run_in_threadpool(check, Request(scope))  # a token is a database read
                return True
        if any(path.startswith(prefix) for prefix in self.open_prefixes):
            return False
        name = self._endpoint(path)
        if name is not None:
            # A refused scoring request takes no slot but goes on: the data plane refuses
            # it from its headers too, before reading the body, in its protocol's own shape.
            head = Head(request_headers(scope), loopback=on_loopback(scope))
            if not self.opens(name, head):
                return False
            scope[ADMITTED] = name  # the data plane need not check the same key again
        return True

    def opens(self, name: str, head: Head) -> bool:
        """Whether ``head`` carries a key that opens endpoint ``name`` (E of E@alias)."""
        try:
            self.keys(self.runtime.record(name), head)
        except ModelyardError:
            return False
        return True

    def _endpoint(self, path: str) -> str | None:
        if self.endpoint is not None and ROOT_SCORE_PATH.match(path):
            return self.endpoint
        for pattern in SCORE_PATHS:
            match = pattern.match(path)
            if match is not None:
                return str(match["name"]).partition("@")[0]  # E@alias: endpoint E's keys
        return None


def request_headers(scope: Scope) -> dict[str, str]:
    """The request's headers as text (the first of a repeated name), decoded once per
    request and kept in the scope for whoever asks next."""
    headers: dict[str, str] | None = scope.get(HEADERS)
    if headers is None:
        headers = scope[HEADERS] = decoded_headers(scope.get("headers") or ())
    return headers


def decoded_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Raw headers as text (the first of a repeated name)."""
    headers: dict[str, str] = {}
    for key, value in raw:
        headers.setdefault(key.decode("latin-1"), value.decode("latin-1"))
    return headers
