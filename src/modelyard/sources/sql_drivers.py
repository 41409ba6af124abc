"""SQL drivers: which reader each backend gets, its dialect, and how its errors read.

The fast readers (ADBC, connectorx) are optional imports: :func:`import_driver` raises
:class:`DriverMissing` when one is not installed, and the caller falls back to SQLAlchemy.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import re
from collections.abc import Callable
from typing import Any

from packaging.version import Version
from sqlalchemy.dialects import mssql, mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect

READERS = ("auto", "adbc", "connectorx", "sqlalchemy")
FAST_READER = {"postgresql": "adbc", "sqlite": "adbc", "mysql": "connectorx",
               "mariadb": "connectorx", "mssql": "connectorx"}  # fmt: skip
DIALECTS: dict[str, Callable[[], Dialect]] = {
    "postgresql": lambda: postgresql.dialect(paramstyle="numeric_dollar"),  # type: ignore[no-untyped-call]
    "sqlite": lambda: sqlite.dialect(paramstyle="qmark"),
    "mysql": mysql.dialect,
    "mariadb": mysql.dialect,
    "mssql": mssql.dialect,
}
UNREACHABLE = re.compile(
    r"could not connect|connection refused|connection to server|timed out|timeout expired|"
    r"password authentication failed|access denied|unknown database|does not exist.*database|"
    r"database .* does not exist|no such host|name or service not known|can't connect|"
    r"unable to open database|failed to connect|error connecting|tcp connect",
    re.IGNORECASE,
)


# the first adbc-driver-postgresql that raises, instead of aborting the process, when a
# statement runs on a connection the server has closed (apache/arrow-adbc#3878)
_SURVIVES_DROPPED_CONNECTIONS = (1, 11)


class DriverMissing(Exception):
    """The fast driver is not installed: fall back to SQLAlchemy."""


def import_driver(module: str) -> Any:
    """Import a fast driver's module; DriverMissing if it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DriverMissing(module) from None


def first_line(exc: BaseException) -> str:
    """The first few non-blank lines of a driver's error, joined into one."""
    text = str(exc).strip() or type(exc).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines[:3])


@functools.cache
def keeps_connections_safely() -> bool:
    """Whether the installed ADBC PostgreSQL driver may be handed a connection to reuse.

    Reusing one means running a statement on a connection the server may have dropped
    meanwhile (a restart, an idle timeout): drivers before 1.11 abort the whole process
    there, so with them every read opens its own connection.
    """
    try:
        version = importlib.metadata.version("adbc-driver-postgresql")
    except importlib.metadata.PackageNotFoundError:
        return False
    release = Version(version).release
    return tuple(release[:2]) >= _SURVIVES_DROPPED_CONNECTIONS
