"""``modelyard up``: the control plane in one command.

One process serves the Studio (``/studio``) and the admin API (``/api/v1``) beside every
endpoint's scoring routes, runs one worker thread for queued trainings and the scheduler
thread. The web app is built by uvicorn from an import string (the CLI never imports
``modelyard.web`` nor ``modelyard.ui``); the threads live here, around ``uvicorn.run``:
on Ctrl+C or SIGTERM the server drains and stops first, then the worker finishes the job
in hand and the scheduler gives up its lease.
"""

from __future__ import annotations

import math
import os
from typing import Annotated

import typer

from modelyard.cli.background import in_threads, show_job_logs, stop_on_signal
from modelyard.cli.context import console, state
from modelyard.cli.jobs import STOPPING, print_schedules
from modelyard.cli.listeners import checked_ports
from modelyard.cli.protocol import http_protocol
from modelyard.cli.serving import body_bytes
from modelyard.config.serve import ServeOptions
from modelyard.errors import ConfigError

APP = "modelyard.ui.app:control_app_from_environment"
NO_ADMIN_KEY = (
    "modelyard up needs an admin key for its admin API: export MODELYARD_ADMIN_KEY="
    "\"$(python -c 'import secrets; print(secrets.token_urlsafe(32))')\" "
    "or set admin_key under [security] in modelyard.toml"
)


def up(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8080,
    grpc_port: Annotated[
        int,
        typer.Option(
            help="Also serve the Open Inference Protocol over gRPC on this port "
            "(tritonclient.grpc; 0: off)."
        ),
    ] = 0,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(help="Another Host name the admin API answers to (repeatable)."),
    ] = None,
    heartbeat: Annotated[
        float, typer.Option(help="Worker heartbeat in seconds; 3 missed ones fail its job.")
    ] = 2.0,
    max_body_mb: Annotated[float, typer.Option(help="Largest request body.")] = 16.0,
    max_in_flight: Annotated[int, typer.Option(help="Requests in flight before 429.")] = 64,
    timeout: Annotated[float, typer.Option(help="Seconds before a request gets 504.")] = 30.0,
    body_timeout: Annotated[
        float, typer.Option(help="Seconds a request's body may take to arrive before 408.")
    ] = 10.0,
    drain_seconds: Annotated[
        float, typer.Option(help="On SIGTERM: seconds to report not-ready while still serving.")
    ] = 5.0,
) -> None:
    """Serve the admin API and every endpoint, with a worker and the scheduler."""
    # imported here, not at the top: `modelyard --help` starts without it
    import uvicorn

    show_job_logs()
    with state.open() as ws:
        if not ws.settings.admin_key:
            raise ConfigError(NO_ADMIN_KEY)
        if grpc_port == port:
            raise ConfigError(f"--grpc-port {grpc_port} is the HTTP --port: choose another")
        tls = (ws.settings.tls_cert, ws.settings.tls_key)
        options = ServeOptions(
            root=str(ws.settings.root),
            max_body_bytes=body_bytes(max_body_mb),
            max_in_flight=max_in_flight,
            timeout_s=timeout,
            body_timeout_s=body_timeout,
            drain_s=drain_seconds,
            host=host,
            allowed_hosts=tuple(allow_host or ()),
            grpc_port=grpc_port,
        )
        grpc_claim = checked_ports(host, port, grpc_port)  # one line, not uvicorn's error
        schedules = ws.queue.sync_schedules()
        worker = ws.queue.worker(heartbeat_s=heartbeat)
        scheduler = ws.queue.scheduler()
        os.environ.update(options.to_env())
        base = f"{'https' if tls[0] else 'http'}://{host}:{port}"
        console.print(f"modelyard control plane on {base} (Ctrl+C stops)")
        if grpc_port:
            secure = "TLS" if tls[0] else "plaintext"
            console.print(f"  gRPC:      {host}:{grpc_port} (Open Inference Protocol, {secure})")
        console.print(f"  Studio:    {base}/studio (log in with the admin key or a token)")
        console.print(f"  admin API: {base}/api/v1 (Authorization: Bearer <admin key>)")
        console.print(f"  API docs:  {base}/docs")
        console.print(f"  worker:    {worker.name}")
        print_schedules(schedules)
        runners = {"worker": worker.run, "scheduler": scheduler.run}
        with grpc_claim, stop_on_signal(STOPPING) as stop, in_threads(stop, runners):
            # uvicorn takes the signals over while it serves and hands them back when it
            # has stopped: the first then sets ``stop``, and the threads finish their work.
            uvicorn.run(
                APP,
                factory=True,
                host=host,
                port=port,
                http=http_protocol(),
                log_level="warning",
                timeout_graceful_shutdown=math.ceil(timeout) + 5,
                ssl_certfile=str(tls[0]) if tls[0] else None,
                ssl_keyfile=str(tls[1]) if tls[1] else None,
            )
    console.print("modelyard control plane stopped")
