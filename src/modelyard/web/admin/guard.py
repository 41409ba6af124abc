"""Who may call the admin API: the admin key or a person's token, sent by a Host name this
server answers to, from no other web origin than its own, for what that person's role allows.

Every admin route runs :class:`AdminGuard` first (a dependency of the ``/api/v1`` router,
so no route can forget it); each refusal is a JSON error from the one error table:

- Host: the name in the ``Host`` header must be ``127.0.0.1``, ``localhost``, ``::1``, the
  bound host or one allowed explicitly. A page on ``evil.example`` whose name was made to
  resolve to 127.0.0.1 (DNS rebinding) is refused with 403.
- Origin: a browser names the page that makes a request; when it does, it must be this
  server's own ``scheme://host:port``. A page elsewhere cannot drive the API (CSRF): 403.
- The key: ``Authorization: Bearer <admin key or personal token>``; 401 without a key, 403
  with any other (an endpoint's score key never opens an admin route).
- The role: reads (GET) need ``viewer``; every other method needs ``admin`` unless its route
  declares less with :func:`requires` (deny by default). 403 names the role needed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from modelyard.errors import Forbidden, Unauthorized
from modelyard.types import Action
from modelyard.web.auth import bearer
from modelyard.workspace.people import People, Person

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Declared for the OpenAPI document (the "Authorize" button of /docs); the guard reads the
# header itself so that a missing or malformed one is answered by the error table.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="admin key",
    description="The workspace's admin key, or a person's token (`modelyard users token`).",
)
REQUIRES = "x-modelyard-requires"  # the OpenAPI extension naming a route's least role
_READS = frozenset({"GET", "HEAD"})


def requires(action: Action) -> dict[str, Any]:
    """The ``openapi_extra`` of a route that ``action``'s role may call (shown in /docs)."""
    return {REQUIRES: action.value}


def required_action(request: Request) -> Action:
    """What the matched route needs: its :func:`requires`, else read for GET and admin for
    anything else."""
    route = request.scope.get("route")
    declared = (getattr(route, "openapi_extra", None) or {}).get(REQUIRES)
    if declared is not None:
        return Action(declared)
    return Action.READ if request.method in _READS else Action.ADMIN


def person_of(request: Request) -> Person:
    """The person the guard let through (the route runs after it)."""
    person: Person = request.state.person
    return person


def split_authority(authority: str) -> tuple[str, int | None] | None:
    """``host[:port]`` (``[v6]:port`` too) as (lower-case host, port); None if malformed."""
    try:
        parts = urlsplit(f"//{authority}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.path:
        return None
    return parts.hostname.lower(), port


def same_origin(origin: str, scheme: str, authority: str) -> bool:
    """True if ``origin`` is ``scheme://authority`` (default ports made explicit)."""
    own = split_authority(authority)
    try:
        theirs = urlsplit(origin)
        their_port = theirs.port
    except ValueError:
        return False
    if own is None or theirs.hostname is None or theirs.scheme != scheme:
        return False
    default = _DEFAULT_PORTS.get(scheme)
    return (theirs.hostname.lower(), their_port or default) == (own[0], own[1] or default)


class AdminGuard:
    """The checks every admin request passes before its route runs."""

    def __init__(self, people: People, hosts: Iterable[str] = ()) -> None:
        self.people = people
        names = (*LOOPBACK_NAMES, *hosts)
        self.hosts = frozenset(n.strip().strip("[]").lower() for n in names if n.strip())

    def check(self, request: Request) -> Person:
        """The person calling; raises ``Forbidden`` for a Host or Origin not this server's
        own, ``Unauthorized`` without a key, ``Forbidden`` with a key that is neither the
        admin key nor an active personal token. (Headers only: what the route needs is
        checked by :meth:`dependency`, once the route is known.)"""
        self.check_host(request)
        self.check_origin(request)
        return self.authenticate(request)

    def check_host(self, request: Request) -> None:
        """Raise ``Forbidden`` unless the Host header names this server (DNS rebinding)."""
        authority = request.headers.get("host", "")
        parsed = split_authority(authority)
        if parsed is None or parsed[0] not in self.hosts:
            raise Forbidden(
                f"this server does not answer to Host {authority[:100]!r}: call it as "
                "127.0.0.1 or localhost, or allow that name (`modelyard up --allow-host NAME`)"
            )

    def check_origin(self, request: Request) -> None:
        """Raise ``Forbidden`` if a browser says the request comes from another site (CSRF)."""
        authority = request.headers.get("host", "")
        origin = request.headers.get("origin")
        if origin is not None and not same_origin(origin, request.url.scheme, authority):
            raise Forbidden(
                f"this server refuses calls from origin {origin[:100]!r}: "
                f"only pages of {request.url.scheme}://{authority} may call it"
            )

    def authenticate(self, request: Request) -> Person:
        """The person whose admin key or personal token the request bears."""
        token = bearer(request)
        if token is None:
            raise Unauthorized(
                "this route needs the admin key or a personal token: 'Authorization: Bearer <key>'"
            )
        person = self.people.authenticate(token)
        if person is None:
            raise Forbidden(
                "this route needs the admin key or an active personal token; "
                "an endpoint's score key cannot call it"
            )
        return person

    def dependency(
        self,
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    ) -> None:
        """The router-level dependency: runs :meth:`check`, then refuses a role below what
        the matched route needs (:func:`required_action`)."""
        person = self.check(request)
        person.require(required_action(request), f"{request.method} {request.url.path}")
        request.state.person = person
