"""Bearer keys: per-endpoint score keys and the workspace admin key, compared in constant time."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.types import Scope

from modelyard.config.secret import Secret
from modelyard.config.serve import is_loopback
from modelyard.errors import Unauthorized
from modelyard.serving.protocols.codec import Head
from modelyard.storage.endpoints import EndpointRecord


def bearer(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>``, if any."""
    return bearer_token(request.headers.get("authorization", ""))


def bearer_token(header: str) -> str | None:
    """The token of an ``Authorization`` header value ``Bearer <token>``, if any."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def opens(record: EndpointRecord, token: str, admin_key: Secret | None) -> bool:
    """True if ``token`` is one of the endpoint's keys or the admin key (constant time,
    both compared whatever the first gave)."""
    return bool(record.accepts(token) | is_admin(token, admin_key))


def is_admin(token: str | None, admin_key: Secret | None) -> bool:
    """True if ``token`` is the admin key (constant-time compare)."""
    return admin_key is not None and admin_key.matches(token)


def check_score_key(
    request: Request, record: EndpointRecord, admin_key: Secret | None, *, required: bool
) -> None:
    """Allow the endpoint's primary or secondary key, or the admin key; else 401."""
    check_token(bearer(request), record, admin_key, required=required)


def check_token(
    token: str | None, record: EndpointRecord, admin_key: Secret | None, *, required: bool
) -> None:
    """:func:`check_score_key` for a bearer token already read from the headers."""
    if not required:
        return
    if token is None:
        raise Unauthorized(
            f"endpoint {record.name} needs 'Authorization: Bearer <key>': "
            f"`modelyard endpoints keys {record.name}` shows how to get one"
        )
    if not opens(record, token, admin_key):
        raise Unauthorized(f"the key is not valid for endpoint {record.name}")


def keys_required(record: EndpointRecord, require_keys: bool, loopback: bool) -> bool:
    """Whether ``record`` needs a key on this connection: always, unless keys are off for
    the server, or the endpoint was created without keys (Azure ACI's default) and the
    connection arrived on a loopback address (``loopback``, from :func:`on_loopback`: a
    server bound to 0.0.0.0 asks keys of every caller reaching another interface)."""
    if not require_keys:
        return False
    return record.auth_enabled or not loopback


def on_loopback(scope: Scope) -> bool:
    """True if the connection of ``scope`` arrived on a loopback address: its local socket
    address (ASGI ``scope["server"]``), never a setting. A Unix socket, which has no
    address, does not count as loopback."""
    return loopback_server(scope.get("server"))


def loopback_server(server: tuple[str, int | None] | None) -> bool:
    """True if ``server`` (a connection's local address) is a loopback address."""
    if not server:
        return False
    host = str(server[0])
    if host.lower().startswith("::ffff:"):  # an IPv4 peer on a dual-stack socket
        host = host[7:]
    return is_loopback(host)


@dataclass(frozen=True)
class ScoreKeys:
    """The data plane's key check (``serving.dataplane.Keys``): the endpoint's keys or the
    admin key, from the ``Authorization`` header alone (before the body is read)."""

    admin_key: Secret | None
    require_keys: bool

    def __call__(self, record: EndpointRecord, head: Head) -> None:
        """Return if ``head`` carries a key that opens ``record``; 401 otherwise."""
        required = keys_required(record, self.require_keys, head.loopback)
        if required:
            token = bearer_token(head.headers.get("authorization", ""))
            check_token(token, record, self.admin_key, required=True)
