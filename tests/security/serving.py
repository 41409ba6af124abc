"""A workspace with one model endpoint, served by a real ``modelyard serve`` process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from modelyard import Workspace
from tests.helpers.models import fitted_immo
from tests.helpers.processes import Process, started
from tests.helpers.server import free_port

ROW = {"surface": 50.0, "rooms": 2.0}


@dataclass(frozen=True)
class Served:
    """A running server: its base URL, process, and the key of endpoint ``immo``."""

    base: str
    process: Process
    key: str

    @property
    def auth(self) -> dict[str, str]:
        """The Authorization header of endpoint ``immo``'s key."""
        return {"Authorization": f"Bearer {self.key}"}


def immo_workspace(root: Path) -> tuple[Workspace, str]:
    """A workspace at ``root`` with ``immo:1`` champion behind endpoint ``immo``; returns
    it and the endpoint's primary key."""
    ws = Workspace.init(root)
    model, frame = fitted_immo()
    ws.models.register("immo", model, input_example=frame.head(3))
    ws.models.promote("immo", 1)
    endpoint = ws.endpoints.create("immo", model="immo")
    return ws, (endpoint.keys or {})["primary"]


@contextmanager
def serving(
    root: Path, key: str, *args: str, host: str = "127.0.0.1", ready: bool = True
) -> Iterator[Served]:
    """``modelyard serve --host HOST --port <free> ARGS`` on the workspace at ``root``
    until the block ends; waits for readiness unless ``ready`` is False."""
    port = free_port()
    with started(root, "serve", "--host", host, "--port", str(port), *args) as process:
        base = f"http://127.0.0.1:{port}"
        if ready:
            process.wait_ready(base)
        else:
            process.wait_for(lambda: _listening(port), 60, "the listener")
        yield Served(base, process, key)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
