"""The HTTP protocol class the CLI hands to uvicorn, named by import string: the CLI never
imports the web layer (see :mod:`modelyard.web.protocol`)."""

from __future__ import annotations

from typing import Any

PROTOCOL = "modelyard.web.protocol:ServerProtocol"


def http_protocol() -> Any:
    """The protocol class of every server worker (TCP_NODELAY, request-head limit)."""
    from uvicorn.importer import import_from_string  # not at the top: --help starts at once

    return import_from_string(PROTOCOL)
