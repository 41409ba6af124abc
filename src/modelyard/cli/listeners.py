"""How the workers of ``modelyard serve --workers N`` listen: each on a socket of its own,
the port shared with ``SO_REUSEPORT``, so that the kernel spreads connections over them.

uvicorn binds one socket in its supervisor and every worker accepts from it. An event
loop woken by a new connection accepts every connection waiting, so a burst of new
connections (a load balancer opening its pool, a client's keep-alive pool) lands on the
worker that woke first: with 16 connections opened at once and 2 workers, splits of 13:3
and 14:2 are the rule and 16:0 is common, and then one worker serves every request for
as long as the connections live while the others idle (here, single-row immo requests:
20,000 req/s instead of 34,000 with the same two workers).

Here the supervisor holds a socket bound to the port but never listening (it takes no
connection; it keeps the port this server's and refuses a busy one before any worker
starts) and hands each worker a :class:`PortShare`, which becomes a socket of its own
bound to the same port when the worker starts; the worker listens on it once its models
are loaded, as before. Linux hashes each new connection to one of the listening sockets,
so 16 connections split about 8:8, and a connection stays with its worker for its life.

Where the kernel does not balance ``SO_REUSEPORT`` (macOS, the BSDs) or lacks it
(Windows), and with one worker, uvicorn's own shared socket is used, as before.

Two consequences of a socket per worker, both Linux's rules: only processes of the same
user can bind into the group (a process that could do so could already read this
server's memory); and a worker that exits (a crash, uvicorn's SIGHUP restart) drops
the connections still waiting in its own accept queue, which under load is a handful at
most (Linux 5.14 and later hand them to the other workers with
``sysctl net.ipv4.tcp_migrate_req=1``). A replica stopped with SIGTERM is unaffected: it
is marked not ready for ``--drain-seconds`` first, while every worker still serves.
"""

from __future__ import annotations

import socket
import sys
from typing import Any, cast

from modelyard.errors import ConfigError


def balanced() -> bool:
    """Whether this system spreads connections over sockets sharing a port (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def run_server(app: str, **options: Any) -> None:
    """``uvicorn.run(app, **options)``; with ``workers`` above 1 on Linux, each worker on
    a listening socket of its own (see the module docstring). A busy port is refused
    with a :class:`ConfigError` before any worker starts."""
    import uvicorn  # not at the top: `modelyard --help` starts without it
    from uvicorn.supervisors import Multiprocess

    if (options.get("workers") or 1) <= 1 or not balanced():
        uvicorn.run(app, **options)
        return
    config = uvicorn.Config(app, **options)
    share = PortShare.reserve(config.host, config.port)
    try:
        # uvicorn pickles the "socket" into each worker it starts (restarts included)
        Multiprocess(config, sockets=cast(list[socket.socket], [share])).run()
    except KeyboardInterrupt:  # the supervisor stopped its workers: a normal end
        pass
    finally:
        share.close()


class PortShare:
    """The supervisor's hold on the port, which each worker it is handed to (by pickling)
    turns into a socket of its own, bound to the same port (:func:`worker_socket`)."""

    def __init__(self, held: socket.socket) -> None:
        self.held = held

    @classmethod
    def reserve(cls, host: str, port: int) -> PortShare:
        """Bind ``host:port`` for the workers to share; a busy port is a ConfigError."""
        try:
            return cls(_bound(_family(host), host, port))
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}; stop what holds "
                "the port or choose another --port (or --host)"
            ) from None

    def __reduce__(self) -> tuple[Any, tuple[int, str, int]]:
        host, port = self.held.getsockname()[:2]  # the port bound, even when 0 was asked
        return worker_socket, (int(self.held.family), host, port)

    def close(self) -> None:
        """Let the port go (the workers' sockets are theirs)."""
        self.held.close()


def worker_socket(family: int, host: str, port: int) -> socket.socket:
    """A worker's own socket on the shared port (uvicorn listens on it once the worker's
    app has started)."""
    return _bound(socket.AddressFamily(family), host, port)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET  # uvicorn's own rule


def _bound(family: socket.AddressFamily, host: str, port: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock
