"""How the workers of ``modelyard serve --workers N`` listen: each on a socket of its own,
the port shared with ``SO_REUSEPORT``, so that the kernel spreads connections over them;
and the check that refuses a port something already listens on, before anything starts.

uvicorn binds one socket in its supervisor and every worker accepts from it. An event
loop woken by a new connection accepts every connection waiting, so a burst of new
connections (a load balancer opening its pool, a client's keep-alive pool) lands on the
worker that woke first: with 16 connections opened at once and 2 workers, splits of 13:3
and 14:2 were the rule and 16:0 came in two tries of eight, and then one worker serves
every request for as long as the connections live while the others idle (here,
single-row immo requests: 20,000 req/s instead of 34,000 with the same two workers).

Here the supervisor binds a socket to the port that never listens (it takes no
connection), claims the port among modelyard servers for its life (:func:`claim`: an
abstract Unix socket named after it), and hands each worker a :class:`PortShare`, which
becomes a socket of the worker's own, bound to the same port, when uvicorn starts the
worker (it pickles the sockets it is given into each worker:
``tests/web/test_worker_listeners.py`` fails if a uvicorn release stops doing so); the
worker listens on it once its models are loaded, as before. Linux hashes each new
connection to one of the listening sockets: 16 connections split 8:8 on average over two
workers (12:4 or worse about one time in 13), and a connection stays with its worker for
its life.

Where the kernel does not spread ``SO_REUSEPORT`` connections (macOS; FreeBSD does so
only with ``SO_REUSEPORT_LB``, not used here) or lacks it (Windows), and with one worker,
uvicorn's own shared socket is used, as before.

What comes with a socket per worker, all Linux's rules:

- any process of the same user that sets ``SO_REUSEPORT`` could bind into the group and
  take a share of the connections. :func:`check_free` refuses a port that anything
  listens on, in a group or not (its probe sets no ``SO_REUSEPORT``), before a worker
  starts; and while a server's workers are still loading their models (nothing listens
  yet), the port's claim refuses another modelyard server started on it;
- a worker that exits (a crash, uvicorn's SIGHUP restart) drops the connections waiting
  in its own accept queue, where a shared socket would have left them to the other
  workers: a handful under load (Linux 5.14 and later hand them to the other workers
  with ``sysctl net.ipv4.tcp_migrate_req=1``);
- a worker whose event loop is blocked (uvicorn's health check answers from a thread, so
  it is not replaced) still gets its share of new connections, which wait as long as its
  loop does; on a shared socket the other workers would have accepted them;
- with every worker down at once, a new connection is refused instead of waiting for a
  restarted worker (a load balancer retries it elsewhere at once).

A replica stopped with SIGTERM is unaffected: it is marked not ready for
``--drain-seconds`` first, while every worker still serves.
"""

from __future__ import annotations

import errno
import logging
import socket
import sys
from contextlib import AbstractContextManager, closing, nullcontext
from typing import Any, cast

from modelyard.errors import ConfigError

log = logging.getLogger("uvicorn.error")  # where uvicorn's supervisor logs


def balanced() -> bool:
    """Whether this system spreads connections over sockets sharing a port (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def check_free(host: str, port: int, option: str = "--port") -> None:
    """Refuse (:class:`ConfigError`, one line naming ``option``) a port that cannot be
    listened on at ``host``: one something listens on, whatever its socket options, or
    held by a connection; a host that is not this machine's; a number that is no port."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"{option} {port} is not a port: choose one from 1 to 65535")
    try:
        found = socket.getaddrinfo(
            host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        )  # every address a server on ``host`` binds, as asyncio resolves it
        for family, _, _, _, address in found:
            _bound(family, address, share=False).close()
    except OSError as exc:
        raise refusal(host, port, option, exc) from None


def refusal(host: str, port: int, option: str, error: OSError) -> ConfigError:
    """The one-line error for ``host:port`` that could not be bound (``error``)."""
    address = f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
    if error.errno == errno.EADDRINUSE:
        hint = f"the port is in use: stop what holds it or choose another {option}"
    elif error.errno == errno.EACCES:
        hint = f"ports below 1024 need root or CAP_NET_BIND_SERVICE: choose another {option}"
    else:
        hint = "check --host (an address of this machine, or 0.0.0.0)"
    return ConfigError(f"cannot listen on {address}: {error.strerror or error}; {hint}")


def checked_ports(host: str, port: int, grpc_port: int = 0) -> AbstractContextManager[object]:
    """What ``serve`` and ``up`` do before they print anything: refuse (:func:`check_free`)
    an HTTP or gRPC port that cannot be listened on, and claim the gRPC port (its workers
    bind it with ``SO_REUSEPORT`` whatever their count) while the context returned is open."""
    check_free(host, port)
    if not grpc_port:
        return nullcontext()
    check_free(host, grpc_port, "--grpc-port")
    return closing(claim(grpc_port, "--grpc-port")) if balanced() else nullcontext()


def claim(port: int, option: str = "--port") -> socket.socket:
    """This server's claim on ``port`` among modelyard servers (Linux), held until the
    socket returned is closed: for a port its workers bind with ``SO_REUSEPORT`` (HTTP
    with several workers, gRPC), where a second server could join their group while
    nothing listens yet. A port another modelyard server claims is a ConfigError."""
    held = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # abstract: gone with the process, however it ends; one per port, since a server
        # on 0.0.0.0 and one on 127.0.0.1 would share the loopback connections
        held.bind(f"\0modelyard-port-{port}")
    except OSError:
        held.close()
        raise ConfigError(
            f"cannot listen on port {port}: another modelyard server on this machine is "
            f"starting or serving on it; stop it or choose another {option}"
        ) from None
    return held


def run_server(app: str, **options: Any) -> None:
    """``uvicorn.run(app, **options)``; with several workers on Linux, each worker on a
    listening socket of its own (see the module docstring). A busy port is refused with
    a :class:`ConfigError` before any worker starts."""
    import uvicorn  # not at the top: `modelyard --help` starts without it
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(app, **options)  # workers from WEB_CONCURRENCY, as uvicorn reads it
    if config.workers <= 1 or not balanced():
        uvicorn.run(app, **options)
        return
    if config.uds is not None or config.fd is not None or config.should_reload:
        raise ValueError("run_server spreads TCP listeners only: no uds, fd or reload")
    share = PortShare.reserve(config.host, config.port)
    scheme = "https" if config.is_ssl else "http"
    log.info("Uvicorn running on %s://%s:%d (Press CTRL+C to quit)", scheme, *share.address[:2])
    # uvicorn pickles the "socket" into each worker it starts (restarts included)
    supervisor = Multiprocess(config, sockets=cast(list[socket.socket], [share]))
    try:
        supervisor.run()
    except KeyboardInterrupt:  # the supervisor stopped its workers: a normal end
        pass
    finally:
        share.close()
    if any(worker.exitcode == STARTUP_FAILURE for worker in supervisor.processes):
        sys.exit(STARTUP_FAILURE)  # a worker failed to start, so the server stopped


class PortShare:
    """The supervisor's socket bound to the port and its claim on it, which each worker
    it is handed to (by pickling) turns into a socket of its own, bound to the same
    address (:func:`worker_socket`)."""

    def __init__(self, held: socket.socket, claim: socket.socket) -> None:
        self.held = held
        self.claim = claim
        self.address: tuple[Any, ...] = held.getsockname()  # the port bound, even for 0

    @classmethod
    def reserve(cls, host: str, port: int) -> PortShare:
        """Bind ``host:port`` for the workers to share and claim the port, once
        :func:`check_free` finds nothing listening there and no other modelyard server
        claims it; else a :class:`ConfigError`."""
        try:
            held = _bound(_family(host), (host, port), share=True)
        except OSError as exc:
            raise refusal(host, port, "--port", exc) from None
        bound = held.getsockname()[1]
        try:
            claimed = claim(bound, "--port")
        except ConfigError:
            held.close()
            raise
        try:
            check_free(host, bound)
        except ConfigError:
            claimed.close()
            held.close()
            raise
        return cls(held, claimed)

    def __reduce__(self) -> tuple[Any, tuple[int, tuple[Any, ...]]]:
        return worker_socket, (int(self.held.family), self.address)

    def close(self) -> None:
        """Let the port go (the workers' sockets are theirs)."""
        self.held.close()
        self.claim.close()


def worker_socket(family: int, address: tuple[Any, ...]) -> socket.socket:
    """A worker's own socket on the shared ``address`` (its whole ``getsockname()``,
    an IPv6 scope included), for uvicorn to listen on once the worker's app has started.
    Where it cannot be bound, the worker exits as a failed start, which stops the
    supervisor rather than restarting the worker again and again."""
    try:
        return _bound(socket.AddressFamily(family), address, share=True)
    except OSError as exc:
        from uvicorn.config import STARTUP_FAILURE

        log.error("a worker cannot listen on %s port %s: %s", address[0], address[1], exc)
        sys.exit(STARTUP_FAILURE)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET  # uvicorn's own rule


def _bound(family: socket.AddressFamily, address: tuple[Any, ...], share: bool) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if share:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock
