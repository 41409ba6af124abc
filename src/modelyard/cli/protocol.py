"""The HTTP protocol class the CLI hands to uvicorn, named by import string: the CLI never
imports the web layer (see :mod:`modelyard.web.protocol`)."""

from __future__ import annotations

from typing import Any

from uvicorn.importer import import_from_string

PROTOCOL = "modelyard.web.protocol:ServerProtocol"


def http_protocol() -> Any:
    """The protocol class of every server worker (TCP_NODELAY, request-head limit)."""
    return import_from_string(PROTOCOL)
