"""``modelyard endpoints …`` and ``modelyard serve``."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.table import Table

from modelyard.cli.context import console, state
from modelyard.cli.listeners import checked_ports, run_server
from modelyard.cli.protocol import http_protocol
from modelyard.cli.render import print_created, rollout_lines, when
from modelyard.config.serve import ServeOptions, is_loopback
from modelyard.errors import ConfigError

WORKER_HEALTHCHECK_S = 60

endpoints_app = typer.Typer(help="Create and manage real-time endpoints.", no_args_is_help=True)


@endpoints_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Endpoint name (part of its URL).")],
    model: Annotated[str, typer.Option(help="immo, immo@champion or immo:3.")],
    collect: Annotated[bool, typer.Option("--collect", help="Collect scored rows.")] = False,
    sampling_rate: Annotated[
        float, typer.Option(help="With --collect: the share of requests collected, 0 to 1.")
    ] = 1.0,
    description: Annotated[str, typer.Option(help="Free text.")] = "",
    batch_max_rows: Annotated[
        int, typer.Option(help="Micro-batch concurrent requests up to this many rows (0: off).")
    ] = 0,
    batch_max_wait_ms: Annotated[
        float, typer.Option(help="Longest a request waits for its batch to fill.")
    ] = 2.0,
    skip_package_check: Annotated[
        bool,
        typer.Option(
            "--skip-package-check",
            help="Serve versions trained with another scikit-learn/xgboost/numpy minor.",
        ),
    ] = False,
    output_names: Annotated[
        str,
        typer.Option(
            help="Name the outputs, comma-separated (e.g. result): classic's label column, "
            "V2's output, records in Azure ML and MLflow answers."
        ),
    ] = "",
) -> None:
    """Create an endpoint; prints its keys this once."""
    with state.open() as ws:
        endpoint = ws.endpoints.create(
            name,
            model=model,
            collect=collect,
            sampling_rate=sampling_rate,
            description=description,
            batch_max_rows=batch_max_rows,
            batch_max_wait_ms=batch_max_wait_ms,
            check_packages=not skip_package_check,
            output_names=split_names(output_names),
        )
    print_created(endpoint, "serving")


def split_names(text: str) -> list[str]:
    """``"a, b"`` -> ``["a", "b"]``; ``""`` -> ``[]``."""
    return [part.strip() for part in text.split(",")] if text.strip() else []


@endpoints_app.command("list")
def list_endpoints() -> None:
    """List endpoints with their target and state."""
    with state.open() as ws:
        endpoints = ws.endpoints.list()
    if not endpoints:
        console.print("No endpoints yet: `modelyard endpoints create NAME --model MODEL`.")
        return
    table = Table(title="Endpoints")
    for column in ("name", "target", "state", "scoring URI"):
        table.add_column(column)
    for item in endpoints:
        table.add_row(item.name, item.target, item.state, item.scoring_uri)
    console.print(table)


@endpoints_app.command("show")
def show(name: Annotated[str, typer.Argument(help="Endpoint name.")]) -> None:
    """Show one endpoint."""
    with state.open() as ws:
        item = ws.endpoints.get(name)
    console.print(f"[bold]{item.name}[/]: {item.target} ({item.state})")
    if item.state_reason:
        console.print(f"  why: {item.state_reason}", markup=False, soft_wrap=True)
    if item.kind == "script":
        console.print(f"  entry script with models: {', '.join(item.models) or 'none'}")
        console.print(f"  keys: {'required' if item.auth_enabled else 'none (loopback only)'}")
    else:
        for line in rollout_lines(item):
            console.print(line, markup=False)
    console.print(f"  scoring URI: {item.scoring_uri}")
    console.print(f"  swagger URI: {item.swagger_uri}")
    console.print(f"  created {when(item.created_at)} UTC, updated {when(item.updated_at)} UTC")


@endpoints_app.command("delete")
def delete(name: Annotated[str, typer.Argument(help="Endpoint name.")]) -> None:
    """Delete an endpoint."""
    with state.open() as ws:
        ws.endpoints.delete(name)
    console.print(f"deleted endpoint {name}")


@endpoints_app.command("keys")
def keys(
    name: Annotated[str, typer.Argument(help="Endpoint name.")],
    regenerate: Annotated[
        str | None, typer.Option(help="primary or secondary: issue a new key for that slot.")
    ] = None,
) -> None:
    """Keys are shown once; regenerate one to get a new value."""
    with state.open() as ws:
        if regenerate is None:
            ws.endpoints.get(name)  # an endpoint that does not exist is an error, not a hint
            console.print(
                f"Keys of {name} are stored hashed and cannot be shown again: "
                f"`modelyard endpoints keys {name} --regenerate primary` issues a new one."
            )
            return
        key = ws.endpoints.regenerate_key(name, regenerate)
    console.print(f"new {regenerate} key of {name}: {key}")


def body_bytes(max_body_mb: float) -> int:
    """``--max-body-mb`` in bytes; ``ConfigError`` unless it is a finite number above 0."""
    if not math.isfinite(max_body_mb) or max_body_mb <= 0:
        raise ConfigError(f"--max-body-mb must be a number above 0, not {max_body_mb:g}")
    return max(1, int(max_body_mb * 1024 * 1024))


def serve(
    endpoint: Annotated[
        list[str] | None, typer.Option("--endpoint", "-e", help="Serve only these (repeatable).")
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8080,
    grpc_port: Annotated[
        int,
        typer.Option(
            help="Also serve the Open Inference Protocol over gRPC on this port "
            "(tritonclient.grpc; 0: off)."
        ),
    ] = 0,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    no_keys: Annotated[
        bool, typer.Option("--no-keys", help="Serve without keys (loopback only).")
    ] = False,
    max_body_mb: Annotated[float, typer.Option(help="Largest request body.")] = 16.0,
    max_in_flight: Annotated[int, typer.Option(help="Requests in flight before 429.")] = 64,
    timeout: Annotated[float, typer.Option(help="Seconds before a request gets 504.")] = 30.0,
    body_timeout: Annotated[
        float, typer.Option(help="Seconds a request's body may take to arrive before 408.")
    ] = 10.0,
    drain_seconds: Annotated[
        float,
        typer.Option(
            help="On SIGTERM: seconds to report not-ready while still serving, "
            "before closing the listener and finishing requests in flight."
        ),
    ] = 5.0,
    mlflow_compat: Annotated[
        bool,
        typer.Option(
            "--mlflow-compat",
            help="Serve MLflow's /invocations, /ping, /health and /version at the root for "
            "the one --endpoint (for MLflow's ScoringServerClient; add --no-keys for it).",
        ),
    ] = False,
) -> None:
    """Serve the workspace's endpoints over HTTP, following every promotion."""
    if no_keys and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve without keys on {host}: bind 127.0.0.1, or drop --no-keys"
        )
    if workers < 1 or not 0 < port < 65536:
        raise ConfigError(
            f"--workers must be at least 1 and --port 1 to 65535, not {workers}, {port}"
        )
    if mlflow_compat and len(endpoint or ()) != 1:
        raise ConfigError(
            "--mlflow-compat serves one endpoint at the root: name it with --endpoint E"
        )
    # Each worker scores on one core's worth of BLAS/OpenMP threads; many workers share few.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    with state.open() as ws:  # fail here, once, if the workspace cannot be opened
        root = str(ws.settings.root)
        tls = (ws.settings.tls_cert, ws.settings.tls_key)
        scheme = "https" if tls[0] else "http"
        listening = f"{scheme}://{_reachable(host)}:{port}"
        base = ws.settings.serve_url if ws.settings.serve_url_explicit else listening
        served = [e.name for e in ws.endpoints.list() if not endpoint or e.name in endpoint]
    if grpc_port and mlflow_compat:
        raise ConfigError("--grpc-port serves the Open Inference Protocol: drop --mlflow-compat")
    if grpc_port == port:
        raise ConfigError(f"--grpc-port {grpc_port} is the HTTP --port: choose another")
    if not ws.settings.serve_url_explicit:  # URIs this server's processes give name its port
        os.environ["MODELYARD_URL"] = listening
    options = ServeOptions(
        root=root,
        endpoints=tuple(endpoint or ()),
        require_keys=not no_keys,
        max_body_bytes=body_bytes(max_body_mb),
        max_in_flight=max_in_flight,
        timeout_s=timeout,
        body_timeout_s=body_timeout,
        drain_s=drain_seconds,
        mlflow_compat=mlflow_compat,
        host=host,
        grpc_port=grpc_port,
        supervisor=os.getpid() if workers > 1 else 0,  # each worker stops once it is gone
    )
    grpc_claim = checked_ports(host, port, grpc_port)  # one line now, not a worker's traceback
    os.environ.update(options.to_env())
    console.print(f"modelyard serving on {scheme}://{host}:{port} (Ctrl+C stops)")
    if grpc_port:
        secure = "TLS" if tls[0] else "plaintext"
        console.print(f"  gRPC (Open Inference Protocol, {secure}) on {host}:{grpc_port}")
    where = " (from [serve] url / MODELYARD_URL)" if ws.settings.serve_url_explicit else ""
    for name in served:
        console.print(f"  {name}: {base}/endpoints/{name}/score{where}", soft_wrap=True)
    # SIGTERM: not-ready for drain_s while still serving, then uvicorn's graceful shutdown
    # finishes what is in flight (up to the request timeout and a margin) and exits.
    with grpc_claim, metrics_folder(workers):
        run_server(
            "modelyard.web.lifecycle:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            http=http_protocol(),
            log_level="warning",
            timeout_graceful_shutdown=math.ceil(timeout) + 5,
            # a worker loading its models on a busy machine answers the supervisor's ping
            # late: uvicorn's 5 s default killed and restarted it, again and again
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
            ssl_certfile=str(tls[0]) if tls[0] else None,
            ssl_keyfile=str(tls[1]) if tls[1] else None,
        )


@contextmanager
def metrics_folder(workers: int) -> Iterator[None]:
    """With several workers, a fresh ``PROMETHEUS_MULTIPROC_DIR`` for them to write their
    metrics to (``/metrics`` sums it), removed when serving ends; one worker keeps its
    metrics in memory."""
    if workers <= 1:
        yield
        return
    from modelyard.monitoring.prometheus import MULTIPROC_ENV  # only when serving: no import cost

    folder = tempfile.mkdtemp(prefix="modelyard-metrics-")
    os.environ[MULTIPROC_ENV] = folder
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


def _reachable(host: str) -> str:
    """The address a client on this machine reaches a server bound to ``host`` at."""
    if host in ("0.0.0.0", ""):  # noqa: S104  # every interface: loopback is one of them
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
