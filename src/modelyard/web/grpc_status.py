"""gRPC status codes from the one error table: an error gets the HTTP status
:func:`modelyard.web.errors.status_of` gives it, and that status its gRPC code here (the
mapping of gRPC's own HTTP-to-gRPC table, refined where a status has a closer code), with
the error's message unchanged and its stable code in the ``modelyard-code`` trailer."""

from __future__ import annotations

import grpc

from modelyard.errors import ModelyardError
from modelyard.web.errors import status_of

CODE_TRAILER = "modelyard-code"
CODES: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    405: grpc.StatusCode.UNIMPLEMENTED,
    409: grpc.StatusCode.ABORTED,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    500: grpc.StatusCode.INTERNAL,
    502: grpc.StatusCode.UNAVAILABLE,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def code_of_status(status: int) -> grpc.StatusCode:
    """The gRPC code of an HTTP status of the error table (INTERNAL for one not listed)."""
    return CODES.get(status, grpc.StatusCode.INTERNAL)


def code_of(error: ModelyardError) -> grpc.StatusCode:
    """The gRPC code of ``error``."""
    return code_of_status(status_of(error))
