"""``modelyard quickstart``: seed 000 end to end on an embedded workspace, in one command.

A new folder gets an SQLite workspace, an ``immo`` table of demo flats, the ``immo``
training (surface -> prix, LinearRegression, promoted when r2 >= 0.8); the champion is
served on 127.0.0.1 and asked, over HTTP, the price of 25 m². Then it keeps serving until
Ctrl+C, or stops at once with ``--no-serve`` (or ``QUICKSTART_NO_SERVE=1``).

The server is the one ``modelyard serve`` runs, started by its import string: the CLI
layer never imports ``modelyard.web``.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from modelyard.cli.background import sleep_while_alive
from modelyard.cli.context import console
from modelyard.config.locations import CONFIG_FILE
from modelyard.config.serve import ServeOptions
from modelyard.config.template import default_config_text
from modelyard.errors import ConfigError, ModelyardError
from modelyard.types import RunState

if TYPE_CHECKING:
    import uvicorn

    from modelyard.workspace.endpoints import Endpoint
    from modelyard.workspace.root import Workspace

DEFAULT_PORT = 8080
SURFACE = 25.0
ROWS = 1000
APP = "modelyard.web.app:app_from_environment"

WORKSPACE_SECTIONS = """
[sources.immo_db]
url = "sqlite:///immo.db"

[trainings.immo]
model = "immo"
source = "immo_db"
query = "SELECT surface, prix FROM immo"
target = "prix"
estimator = "sklearn.linear_model.LinearRegression"
promotion = { metric = "r2", min = 0.8, policy = "latest-passing" }
"""


class QuickstartFailed(ModelyardError):
    """A step of the quickstart did not do what it should."""

    code = "quickstart_failed"


def quickstart(
    folder: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="A new (or empty) folder for the workspace; default: a temp one."
        ),
    ] = None,
    no_serve: Annotated[
        bool,
        typer.Option(
            "--no-serve", help="Stop the server and exit after printing (QUICKSTART_NO_SERVE=1)."
        ),
    ] = False,
    port: Annotated[
        int | None,
        typer.Option(help=f"Port on 127.0.0.1 (default {DEFAULT_PORT}, or a free one if taken)."),
    ] = None,
) -> None:
    """Seed 000 end to end: workspace, demo data, training, endpoint, a prediction over HTTP."""
    # imported here, not at the top: `modelyard --help` starts without it
    import uvicorn

    began = time.monotonic()
    no_serve = no_serve or os.environ.get("QUICKSTART_NO_SERVE", "").lower() in (
        "1",
        "true",
        "yes",
    )
    root = _new_folder(folder)
    chosen = _pick_port(port)
    base = f"http://127.0.0.1:{chosen}"
    os.environ["MODELYARD_URL"] = base  # scoring URIs name the port actually used

    with _workspace(root, chosen) as ws:
        console.print(f"[bold]1/5[/] workspace in {root}")
        rows = ws.sources.demo_data("immo", "immo_db", ROWS, replace=True)
        console.print(f"[bold]2/5[/] {rows} demo flats written to table immo (immo.db)")
        run = ws.trainings.run("immo", trigger="quickstart")
        if run.state is RunState.FAILED:
            raise QuickstartFailed(f"the immo training failed: {run.error}")
        r2 = run.metrics.get("r2", float("nan"))
        reason = run.decision.reason if run.decision is not None else ""
        console.print(
            f"[bold]3/5[/] trained immo:{run.version}, r2={r2:.3f}: {reason}", soft_wrap=True
        )
        champion = ws.models.get("immo")  # raises NotFound if the gate refused it
        endpoint = ws.endpoints.create("immo", model="immo@champion")
        console.print(
            f"[bold]4/5[/] endpoint immo serves immo@champion (now immo:{champion.version})"
        )

    os.environ.update(ServeOptions(root=str(root)).to_env())
    server = uvicorn.Server(
        uvicorn.Config(APP, factory=True, host="127.0.0.1", port=chosen, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="modelyard-quickstart", daemon=True)
    thread.start()
    try:
        _wait_until_ready(server, thread, base)
        console.print(f"[bold]5/5[/] serving on {base}")
        price = float(endpoint.predict([[SURFACE]])[0])
        _print_result(endpoint, base, root, price, chosen, time.monotonic() - began, no_serve)
        if not no_serve:
            _serve_until_interrupted(thread)
    finally:
        server.should_exit = True
        thread.join(timeout=40)
    if not no_serve:
        console.print("stopped.")


@contextlib.contextmanager
def _workspace(root: Path, port: int) -> Iterator[Workspace]:
    # imported here, not at the top: `modelyard --help` starts without it
    from modelyard.workspace.root import Workspace

    text = default_config_text().replace(
        f'url = "http://127.0.0.1:{DEFAULT_PORT}"', f'url = "http://127.0.0.1:{port}"'
    )
    (root / CONFIG_FILE).write_text(text + WORKSPACE_SECTIONS, encoding="utf-8")
    with Workspace.init(root) as ws:
        yield ws


def _new_folder(folder: Path | None) -> Path:
    if folder is None:
        return Path(tempfile.mkdtemp(prefix="modelyard-quickstart-")).resolve()
    folder = folder.expanduser().resolve()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConfigError(
            f"{folder} is not empty: the quickstart needs a new or empty folder "
            "(leave out --dir to use a temporary one)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _pick_port(port: int | None) -> int:
    if port is not None:
        if not _free(port):
            raise ConfigError(f"port {port} on 127.0.0.1 is taken: choose another with --port")
        return port
    if _free(DEFAULT_PORT):
        return DEFAULT_PORT
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free: int = sock.getsockname()[1]
        return free


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _wait_until_ready(server: uvicorn.Server, thread: threading.Thread, base: str) -> None:
    # imported here, not at the top: `modelyard --help` starts without it
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise QuickstartFailed(f"the server could not start on {base} (see above)")
        if server.started:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/v2/health/ready", timeout=5).status_code == 200:
                    return
        time.sleep(0.05)
    raise QuickstartFailed(f"the server on {base} was not ready after 60 s")


def _print_result(
    endpoint: Endpoint,
    base: str,
    root: Path,
    price: float,
    port: int,
    elapsed: float,
    no_serve: bool,
) -> None:
    key = (endpoint.keys or {}).get("primary", "")
    body = '{"data": [[25]]}'
    curl = " ".join(
        [
            "curl -s -X POST",
            endpoint.scoring_uri,
            "-H",
            shlex.quote(f"Authorization: Bearer {key}"),
            "-H",
            shlex.quote("Content-Type: application/json"),
            "-d",
            shlex.quote(body),
        ]
    )
    say = console.print
    say()
    say(f"[bold green]Predicted price for {SURFACE:g} m²: {price:,.0f} EUR[/]  ({elapsed:.1f} s)")
    say()
    say(f"scoring URI:  {endpoint.scoring_uri}", soft_wrap=True)
    say(f"swagger:      {endpoint.swagger_uri}", soft_wrap=True)
    say(f"API docs:     {base}/docs", soft_wrap=True)
    say(f"primary key:  {key}  (stored hashed: shown this once)", soft_wrap=True)
    say("try it:", soft_wrap=True)
    say(f"  {curl}", soft_wrap=True, markup=False)
    say()
    say(f"workspace:    {root}", soft_wrap=True)
    again = f"cd {shlex.quote(str(root))} && {_modelyard()} serve --port {port}"
    if no_serve:
        say("The server is stopped (--no-serve). To serve again:", soft_wrap=True)
    else:
        say("Serving until Ctrl+C. To serve again later:", soft_wrap=True)
    say(f"  {again}", soft_wrap=True, markup=False)


def _modelyard() -> str:
    """How to call ``modelyard`` from a shell: the name if it is on PATH, else its path."""
    if shutil.which("modelyard"):
        return "modelyard"
    beside = Path(sys.executable).parent / "modelyard"
    return shlex.quote(str(beside)) if beside.exists() else "python -m modelyard"


def _serve_until_interrupted(thread: threading.Thread) -> None:
    def stop(_sig: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        sleep_while_alive(thread, 0.5)  # a join interrupted by Ctrl+C: a segfault in ten
    except KeyboardInterrupt:
        console.print("\nstopping…")
    finally:
        signal.signal(signal.SIGTERM, previous)
