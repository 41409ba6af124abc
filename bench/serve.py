"""Benchmark: real-time scoring with `modelyard serve` against the servers users would pick
instead, `mlflow models serve` and MLServer (mlserver-sklearn), on the same model files,
over loopback, in one run. It prints figures and asserts nothing.

    .venv/bin/python bench/serve.py [--duration 10] [--connections 16] [--skip-peers]
        [--skip-bare] [--baseline REF] [--only immo|churn] [--workers 1,2] [--rows 100]
        [--warmup 2] [--loadgen auto|wrk|python] [--rounds 1]
    .venv/bin/python bench/serve.py --grpc [--workers 1,2] [--connections 16] ...

``--grpc`` measures the Open Inference Protocol over gRPC instead: churn, one row per
``ModelInfer`` call, ``modelyard serve --grpc-port`` against MLServer's gRPC server (the
same joblib file; MLServer both with ``parallel_workers`` = N and inline, 0, and the
better one compared), loaded by bench/grpc_loadgen.py with the same serialized request
(MLServer's pandas convention: one input per column in typed contents, strings as BYTES);
it prints calls/s, latency, CPU per call and the ratio (target >= 5x).

The issue-14 figures (single row, 2 workers, against the ceiling and the commit before;
three rounds interleaved, since a shared 2-core machine moves all three servers' figures
by 20 % from one minute to the next):

    .venv/bin/python bench/serve.py --skip-peers --skip-bare --workers 2 --rows 1 \
        --baseline eab97eb --rounds 3

What it does:

1. fits the two seed models in this venv: ``immo`` (LinearRegression, surface -> prix, on
   ``demo_data.immo``) and ``churn`` (seed 003's pipeline: one-hot + scaler + XGBClassifier,
   on ``demo_data.churn``), and writes each as a joblib file;
2. modelyard: a workspace in a temp folder, both estimators registered (with an input
   example) and promoted, one endpoint each, served by ``modelyard serve --workers N``;
   requests are ``POST /endpoints/NAME/score`` with ``{"data": [{...}]}`` and a key;
3. MLflow: ``mlflow.sklearn.save_model`` of the same joblib files (with a signature;
   churn's pyfunc calls ``predict_proba``), saved and served by ``mlflow models serve
   --env-manager local --workers N`` from bench/.venvs/mlflow (bench/requirements-mlflow.txt);
   requests are ``{"dataframe_split": ...}`` on ``/invocations``;
4. MLServer 1.7.1 + mlserver-sklearn from bench/.venvs/mlserver
   (bench/requirements-mlserver.txt), the same joblib files in a model repository
   (``mlserver_sklearn.SKLearnModel``; churn's ``predict_fn`` is ``predict_proba``), in its
   best configuration: ``parallel_workers`` = N in settings.json (the model-level field is
   deprecated in 1.7), OMP_NUM_THREADS=1, debug (access logs) and the metrics server off;
   requests are Open Inference Protocol V2 with the pandas codec;
5. bench/bare_app.py, a bare Starlette app that parses JSON, builds a DataFrame and calls
   predict in the event loop (uvicorn --workers N);
6. the ceiling of the HTTP stack: bench/hello_app.py, a bare ASGI callable under the same
   uvicorn settings as ``modelyard serve`` (a listening socket per worker included),
   sent the same requests as modelyard and answering a constant JSON; single-row figures
   are quoted as a share of it;
7. with ``--baseline REF``: modelyard at commit REF (a git worktree, the same venv, a
   workspace of its own), so that CPU per request is compared within one run (REF listens
   as it did then: eab97eb on uvicorn's one shared socket, so its requests/s move with how
   its connections split over its workers; so do bare_app's, on the same shared socket).

Every server binds 127.0.0.1 and gets OMP/OpenBLAS/MKL_NUM_THREADS=1. Each one's answer is
first compared with ``predict``/``predict_proba`` run here on the same rows. Then each
cell (model x rows per request x server x workers) is loaded by a closed-loop generator
in its own process: wrk with bench/post.lua when installed (``apt-get install wrk``), else
bench/loadgen.py (asyncio streams), with --connections keep-alive connections, for
--warmup seconds unmeasured and then --duration seconds measured. All servers of one worker
count run at once (idle but for the one loaded), and each cell loads them one after the
other, so that the figures compared are taken close together. Server CPU is utime + stime
of the server's whole process tree (workers included, reaped children too) from /proc,
read before and after the measured window. The load generator shares the machine; the
"others" column is the CPU (in cores) that everything else used meanwhile, from
/proc/stat: when it differs between the servers of a cell, so do the conditions, and the
CPU per request is the steadier comparison.

The peer venvs are created (and reinstalled when their requirements file changes) on the
first run; that takes a few minutes and needs PyPI. They are never modelyard dependencies.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import joblib  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402

from modelyard.training.demo_data import churn, churn_training, immo  # noqa: E402
from modelyard.training.estimators import build_estimator  # noqa: E402
from modelyard.training.spec import TrainingSpec  # noqa: E402
from modelyard.types import OutputKind  # noqa: E402

BENCH = Path(__file__).resolve().parent
VENVS = BENCH / ".venvs"
BIN = Path(sys.executable).parent
ONE_THREAD = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
CLK_TCK = os.sysconf("SC_CLK_TCK")
START_TIMEOUT_S = 180.0

MODELYARD, BARE, MLFLOW, MLSERVER = "modelyard", "bare starlette", "mlflow", "mlserver"
HELLO, BASELINE = "hello (ceiling)", "modelyard@base"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- models


@dataclass
class Model:
    name: str
    estimator: Any
    method: str  # predict or predict_proba
    requests: pd.DataFrame  # rows the requests carry (the first N of them)

    def reference(self, rows: int) -> np.ndarray:
        return np.asarray(getattr(self.estimator, self.method)(self.requests.head(rows)))


def fit_models(names: list[str]) -> dict[str, Model]:
    models: dict[str, Model] = {}
    if "immo" in names:
        data = immo(1000, seed=0)
        estimator = LinearRegression().fit(data[["surface"]], data["prix"])
        models["immo"] = Model("immo", estimator, "predict", immo(100, seed=7)[["surface"]])
    if "churn" in names:
        spec = TrainingSpec.parse("churn", churn_training("bank", "churn"), BENCH)
        data = churn(10_000, seed=0)
        x, y = data.drop(columns=["Exited"]), data["Exited"]
        estimator = build_estimator(spec, {**spec.params, "n_jobs": 1}).fit(x, y)
        rows = churn(100, seed=7).drop(columns=["Exited"])
        models["churn"] = Model("churn", estimator, "predict_proba", rows)
    return models


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain JSON values, in column order."""
    out: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))
    return out


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (index 0 is the state)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def process_tree(root: int) -> list[int]:
    """``root`` and every live descendant."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (all cores; not idle, not iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / CLK_TCK


def children_cpu_s() -> float:
    """CPU seconds of this process's reaped children (the load generator runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) of the tree, reaped children included."""
    ticks = 0
    for pid in process_tree(root):
        fields = _stat(pid)
        if fields is not None:
            ticks += sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return ticks / CLK_TCK


@dataclass
class Server:
    label: str
    workers: int
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    grpc_port: int = 0  # its gRPC listener, when it has one (bench/serve.py --grpc)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """SIGTERM to the server; then SIGKILL, by PID, to whatever of its tree is left."""
        if self.process.poll() is not None:
            return
        started = {}  # pid -> start time, so that a reused pid is never signalled
        for pid in process_tree(self.process.pid):
            fields = _stat(pid)
            if fields is not None:
                started[pid] = fields[19]
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        for pid, start in started.items():
            while time.monotonic() < deadline:
                fields = _stat(pid)
                if fields is None or fields[19] != start or fields[0] == "Z":
                    break
                time.sleep(0.1)
            else:
                fields = _stat(pid)
                if fields is not None and fields[19] == start:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)


def launch(
    label: str,
    workers: int,
    command: list[str],
    port: int,
    ready_path: str,
    folder: Path,
    env: dict[str, str] | None = None,
) -> Server:
    log = folder / f"{label.replace(' ', '_')}-w{workers}-{port}.log"
    environment = {**os.environ, **ONE_THREAD, **(env or {})}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, env=environment, cwd=folder
        )
    server = Server(label, workers, port, process, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{label} exited with {process.returncode} before ready:\n{tail}")
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(server.base + ready_path, timeout=5) as answer,
        ):
            if answer.status == 200:
                return server
        time.sleep(0.25)
    server.stop()
    raise RuntimeError(f"{label} was not ready after {START_TIMEOUT_S:g} s (see {log})")


# --------------------------------------------------------------------------- load


@dataclass
class Request:
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Cell:
    model: str
    rows: int
    server: str
    workers: int
    result: dict[str, Any]
    cpu_s: float
    note: str = ""
    others_cores: float = 0.0  # CPU used meanwhile by everything but server and generator
    round: int = 0  # with --rounds N, which of the interleaved rounds (0 to N-1)

    @property
    def ok(self) -> int:
        return int(self.result["requests"]) - int(self.result["status"])

    @property
    def rps(self) -> float:
        return self.ok / (self.result["duration_us"] / 1e6)

    @property
    def rows_s(self) -> float:
        return self.rps * self.rows

    @property
    def p50_ms(self) -> float:
        return float(self.result["p50_us"]) / 1000

    @property
    def p99_ms(self) -> float:
        return float(self.result["p99_us"]) / 1000

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_s / max(1, int(self.result["requests"]))

    @property
    def errors(self) -> int:
        e = self.result
        return sum(int(e[k]) for k in ("connect", "read", "write", "status", "timeout"))


def load(
    loadgen: str, url: str, request: Request, body_file: Path, connections: int, seconds: int
) -> dict[str, Any]:
    body_file.write_bytes(request.body)
    headers = [f"{k}: {v}" for k, v in request.headers.items()]
    if loadgen == "wrk":
        command = [
            "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
            "-s", str(BENCH / "post.lua"), url, "--", str(body_file), *headers,
        ]  # fmt: skip
    else:
        command = [
            sys.executable, str(BENCH / "loadgen.py"), url, str(body_file),
            "--connections", str(connections), "--duration", str(seconds),
            *[part for h in headers for part in ("-H", h)],
        ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"load generator failed: {out.stdout[-2000:]} {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def check(
    server: Server, request: Request, parse: Callable[[Any], np.ndarray], want: np.ndarray
) -> str:
    """One request: the answer's difference to the local prediction, or what went wrong."""
    call = urllib.request.Request(
        server.base + request.path,
        data=request.body,
        headers={"Content-Type": "application/json", **request.headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(call, timeout=60) as answer:
            got = parse(json.loads(answer.read()))
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}: {exc.read()[:300]!r}"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    if got.shape != want.shape and got.size == want.size:
        got = got.reshape(want.shape)  # MLServer answers a regression as (n, 1)
    if got.shape != want.shape:
        return f"shape {got.shape} != {want.shape}"
    diff = float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))))
    return "" if diff <= 1e-5 else f"differs from local predict by {diff:.2g}"


# --------------------------------------------------------------------------- the servers


class Target:
    """One kind of server: how to start it with N workers, and what to send it."""

    label: str
    verified = True  # its answers are predictions, compared with the local ones

    def servers(self, workers: int) -> list[tuple[list[str], Callable[[], Server]]]:
        """(the models it serves, how to start it) for N workers."""
        raise NotImplementedError

    def request(self, model: Model, rows: int) -> Request:
        raise NotImplementedError

    def parse(self, model: Model, document: Any) -> np.ndarray:
        return np.asarray(document["predictions"], dtype=float)


BASELINE_SETUP = """
import json, sys
import joblib, pandas as pd
from modelyard import Workspace
from modelyard.types import OutputKind
root, plan = sys.argv[1], json.loads(sys.argv[2])
keys = {}
with Workspace.init(root) as ws:
    for name, (path, example, kind) in plan.items():
        version = ws.models.register(
            name, joblib.load(path), input_example=pd.DataFrame(example),
            output_kind=OutputKind(kind),
        )
        ws.models.promote(name, version.version, reason="bench")
        keys[name] = ws.endpoints.create(name, model=name + "@champion").keys["primary"]
print(json.dumps(keys))
"""


# The baseline commit predates `serve`'s 60 s worker health check: on a loaded machine its
# workers, slower than uvicorn's 5 s default to answer the supervisor's first ping, were
# killed and restarted endlessly. It is served with the same settings as this checkout.
SERVE_WITH_HEALTHCHECK = """
import sys, uvicorn
run = uvicorn.run
def patient(*args, **kwargs):
    kwargs.setdefault("timeout_worker_healthcheck", 60)
    return run(*args, **kwargs)
uvicorn.run = patient
from modelyard.cli.main import run as cli
sys.argv[0] = "modelyard"
cli()
"""


class Modelyard(Target):
    """``modelyard serve`` from this checkout, or (``source``, a checkout's ``src`` folder)
    from another commit, with its own workspace, in the same venv."""

    label = MODELYARD

    def __init__(self, models: dict[str, Model], folder: Path, source: Path | None = None) -> None:
        self.source = source
        if source is not None:
            self.label = BASELINE
        self.root = folder / ("baseline" if source else "workspace")
        self.keys: dict[str, str] = {}
        plan = {}
        for model in models.values():
            kind = (
                OutputKind.PROBABILITIES
                if model.method == "predict_proba"
                else OutputKind.REGRESSION
            )
            plan[model.name] = (
                str(folder / "joblib" / f"{model.name}.joblib"),
                model.requests.head(20).to_dict(orient="list"),
                kind.value,
            )
        setup = subprocess.run(
            [sys.executable, "-c", BASELINE_SETUP, str(self.root), json.dumps(plan)],
            capture_output=True,
            text=True,
            env={**os.environ, **self.env()},
            check=False,
        )
        if setup.returncode != 0:
            raise RuntimeError(f"{self.label}: setting up the workspace failed: {setup.stderr}")
        self.keys = json.loads(setup.stdout.strip().splitlines()[-1])
        self.models = list(models)
        self.folder = folder
        self.grpc = False  # serve --grpc-port too (this checkout only)

    def env(self) -> dict[str, str]:
        """PYTHONPATH naming the other commit's sources first, when there is one."""
        return {"PYTHONPATH": str(self.source)} if self.source is not None else {}

    def servers(self, workers: int) -> list[tuple[list[str], Callable[[], Server]]]:
        def start() -> Server:
            port = free_port()
            entry = ["-m", "modelyard"] if self.source is None else ["-c", SERVE_WITH_HEALTHCHECK]
            command = [
                sys.executable, *entry, "--workspace", str(self.root), "serve",
                "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                "--drain-seconds", "0",
            ]  # fmt: skip
            grpc_port = free_port() if self.grpc else 0
            if grpc_port:
                command += ["--grpc-port", str(grpc_port)]
            server = launch(
                self.label, workers, command, port, "/v2/health/ready", self.folder, self.env()
            )
            server.grpc_port = grpc_port
            for name in self.models:  # which path scores: compiled or the original model
                with contextlib.suppress(Exception):
                    call = urllib.request.Request(
                        f"{server.base}/endpoints/{name}/",
                        headers={"Authorization": f"Bearer {self.keys[name]}"},
                    )
                    with urllib.request.urlopen(call, timeout=10) as answer:
                        self.paths[name] = json.loads(answer.read()).get("path", "?")
            return server

        self.paths: dict[str, str] = {}
        return [(self.models, start)]

    def request(self, model: Model, rows: int) -> Request:
        body = json.dumps({"data": records(model.requests.head(rows))}).encode()
        headers = {"Authorization": f"Bearer {self.keys[model.name]}"}
        return Request(f"/endpoints/{model.name}/score", body, headers)


class Hello(Target):
    """bench/hello_app.py: a bare ASGI callable answering a constant JSON, the ceiling."""

    label = HELLO
    verified = False

    def __init__(self, modelyard: Modelyard) -> None:
        self.modelyard = modelyard  # the same requests, byte for byte

    def servers(self, workers: int) -> list[tuple[list[str], Callable[[], Server]]]:
        def start() -> Server:
            port = free_port()
            command = [
                sys.executable, str(BENCH / "hello_app.py"), "--port", str(port),
                "--workers", str(workers),
            ]  # fmt: skip
            env = {"PYTHONPATH": str(BENCH)}
            return launch(self.label, workers, command, port, "/", self.modelyard.folder, env)

        return [(self.modelyard.models, start)]

    def request(self, model: Model, rows: int) -> Request:
        return self.modelyard.request(model, rows)


class Bare(Target):
    label = BARE

    def __init__(self, models: dict[str, Model], folder: Path) -> None:
        self.models_dir = folder / "joblib"
        self.models = list(models)
        self.folder = folder

    def servers(self, workers: int) -> list[tuple[list[str], Callable[[], Server]]]:
        def start() -> Server:
            port = free_port()
            command = [
                sys.executable, str(BENCH / "bare_app.py"), "--models", str(self.models_dir),
                "--port", str(port), "--workers", str(workers),
            ]  # fmt: skip
            return launch(self.label, workers, command, port, "/health", self.folder)

        return [(self.models, start)]

    def request(self, model: Model, rows: int) -> Request:
        body = json.dumps({"data": records(model.requests.head(rows))}).encode()
        return Request(f"/predict/{model.name}", body)


SAVE_MLFLOW = """
import json, sys
import joblib, pandas as pd, mlflow.sklearn
from mlflow.models import infer_signature
source, example, target, method = sys.argv[1:5]
model = joblib.load(source)
frame = pd.DataFrame(json.loads(open(example).read()))
signature = infer_signature(frame, getattr(model, method)(frame))
mlflow.sklearn.save_model(model, target, signature=signature, pyfunc_predict_fn=method,
                          serialization_format="cloudpickle")
"""


class MLflow(Target):
    label = MLFLOW

    def __init__(self, models: dict[str, Model], folder: Path, venv: Path) -> None:
        self.venv = venv
        self.folder = folder
        self.dirs: dict[str, Path] = {}
        for model in models.values():
            example = folder / f"{model.name}.example.json"
            example.write_text(json.dumps(records(model.requests.head(20))))
            target = folder / "mlflow" / model.name
            source = folder / "joblib" / f"{model.name}.joblib"
            python = str(venv / "bin" / "python")
            saved = subprocess.run(
                [python, "-c", SAVE_MLFLOW, str(source), str(example), str(target), model.method],
                cwd=folder,
                capture_output=True,
                text=True,
                env={**os.environ, "MLFLOW_TRACKING_URI": (folder / "mlruns").as_uri()},
            )
            if saved.returncode != 0:
                raise RuntimeError(f"mlflow save_model of {model.name} failed:\n{saved.stderr}")
            self.dirs[model.name] = target

    def servers(self, workers: int) -> list[tuple[list[str], Callable[[], Server]]]:
        def starter(name: str) -> Callable[[], Server]:
            def start() -> Server:
                port = free_port()
                command = [
                    str(self.venv / "bin" / "mlflow"), "models", "serve",
                    "-m", str(self.dirs[name]), "-h", "127.0.0.1", "-p", str(port),
                    "-w", str(workers), "--env-manager", "local",
                ]  # fmt: skip
                env = {"PATH": f"{self.venv / 'bin'}:{os.environ.get('PATH', '')}"}
                return launch(self.label, workers, command, port, "/ping", self.folder, env)

            return start

        return [([name], starter(name)) for name in self.dirs]

    def request(self, model: Model, rows: int) -> Request:
        frame = model.requests.head(rows)
        split = json.loads(frame.to_json(orient="split", index=False))
        return Request("/invocations", json.dumps({"dataframe_split": split}).encode())


class MLServer(Target):
    label = MLSERVER

    def __init__(
        self,
        models: dict[str, Model],
        folder: Path,
        venv: Path,
        parallel: int | None = None,
        label: str = MLSERVER,
    ) -> None:
        self.venv = venv
        self.folder = folder
        self.parallel = parallel  # parallel_workers; None: as many as the worker count
        self.label = label
        self.repository = folder / label.replace(" ", "_")
        self.models = list(models)
        for model in models.values():
            place = self.repository / model.name
            place.mkdir(parents=True)
            shutil.copy(folder / "joblib" / f"{model.name}.joblib", place / "model.joblib")
            settings = {
                "name": model.name,
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {
                    "uri": "./model.joblib",
                    "version": "v1",
                    "extra": {"predict_fn": model.method},
                },
            }
            (place / "model-settings.json").write_text(json.dumps(settings, indent=2))

    def servers(self, workers: int) -> list[tuple[list[str], Callable[[], Server]]]:
        def start() -> Server:
            port = free_port()
            settings = {
                "host": "127.0.0.1",
                "http_port": port,
                "grpc_port": free_port(),
                "metrics_port": free_port(),
                "metrics_endpoint": None,
                "parallel_workers": workers if self.parallel is None else self.parallel,
                "debug": False,
            }
            (self.repository / "settings.json").write_text(json.dumps(settings, indent=2))
            command = [str(self.venv / "bin" / "mlserver"), "start", str(self.repository)]
            env = {"PATH": f"{self.venv / 'bin'}:{os.environ.get('PATH', '')}"}
            server = launch(
                self.label, workers, command, port, "/v2/health/ready", self.folder, env
            )
            for name in self.models:  # every model loaded, not only the server up
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    with contextlib.suppress(OSError, urllib.error.URLError):
                        url = f"{server.base}/v2/models/{name}/ready"
                        with urllib.request.urlopen(url, timeout=5) as answer:
                            if answer.status == 200:
                                break
                    time.sleep(0.25)
            server.grpc_port = int(settings["grpc_port"])
            return server

        return [(self.models, start)]

    def request(self, model: Model, rows: int) -> Request:
        frame = model.requests.head(rows)
        inputs = []
        for column in frame.columns:
            values = frame[column]
            if pd.api.types.is_integer_dtype(values):
                datatype, data = "INT64", [int(v) for v in values]
            elif pd.api.types.is_float_dtype(values):
                datatype, data = "FP64", [float(v) for v in values]
            else:
                datatype, data = "BYTES", [str(v) for v in values]
            tensor: dict[str, Any] = {
                "name": column,
                "datatype": datatype,
                "shape": [len(data)],
                "data": data,
            }
            if datatype == "BYTES":
                tensor["parameters"] = {"content_type": "str"}
            inputs.append(tensor)
        document = {"parameters": {"content_type": "pd"}, "inputs": inputs}
        return Request(f"/v2/models/{model.name}/infer", json.dumps(document).encode())

    def parse(self, model: Model, document: Any) -> np.ndarray:
        output = document["outputs"][0]
        return np.asarray(output["data"], dtype=float).reshape(output["shape"])


@dataclass
class Plan:
    loadgen: str
    connections: int
    duration: int
    warmup: int
    body_file: Path


def measure(plan: Plan, target: Target, server: Server, model: Model, rows: int) -> Cell:
    """Check one answer, warm up, then load for ``plan.duration`` s, reading CPU around it."""
    request = target.request(model, rows)
    url = server.base + request.path
    problem = ""
    if target.verified:
        parse = lambda d: target.parse(model, d)  # noqa: E731
        problem = check(server, request, parse, model.reference(rows))
    if problem:
        say(f"  {model.name} x{rows}: wrong answer: {problem}")
    shots = (plan.loadgen, url, request, plan.body_file, plan.connections)
    if plan.warmup > 0:
        load(*shots, plan.warmup)
    cpu, busy, generator = tree_cpu_s(server.process.pid), machine_busy_s(), children_cpu_s()
    result = load(*shots, plan.duration)
    cpu = tree_cpu_s(server.process.pid) - cpu
    others = machine_busy_s() - busy - cpu - (children_cpu_s() - generator)
    cell = Cell(model.name, rows, target.label, server.workers, result, cpu, problem[:40])
    cell.others_cores = max(0.0, others) / (result["duration_us"] / 1e6)
    say(
        f"  {model.name} x{rows} {target.label} w{server.workers}: {cell.rps:.0f} req/s, "
        f"p50 {cell.p50_ms:.2f} ms, p99 {cell.p99_ms:.2f} ms, CPU {cell.cpu_ms:.2f} ms/req, "
        f"others {cell.others_cores:.2f} cores"
    )
    return cell


# --------------------------------------------------------------------------- venvs


def peer_venv(name: str, requirements: Path) -> Path:
    """bench/.venvs/NAME with ``requirements`` installed (again when the file changed)."""
    venv = VENVS / name
    marker = venv / ".bench-requirements.sha256"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if marker.exists() and marker.read_text().strip() == digest:
        return venv
    say(f"installing {requirements.name} into {venv} (first run: a few minutes)…")
    if not (venv / "bin" / "python").exists():
        base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
        subprocess.run([str(base), "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--upgrade", "pip"],
            check=True,
        )
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(requirements)],
        check=True,
    )
    marker.write_text(digest + "\n")
    return venv


# --------------------------------------------------------------------------- report


def table(cells: list[Cell]) -> str:
    head = (
        f"{'model':<6} {'rows':>4}  {'server':<15} {'wk':>2} {'req/s':>8} {'rows/s':>9} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'CPU ms/req':>10} {'others':>6}  note"
    )
    lines = [head, "-" * len(head)]
    last: tuple[str, int] | None = None
    for c in cells:
        if last is not None and (c.model, c.rows) != last:
            lines.append("")
        last = (c.model, c.rows)
        note = c.note or (f"{c.errors} errors" if c.errors else "")
        lines.append(
            f"{c.model:<6} {c.rows:>4}  {c.server:<15} {c.workers:>2} {c.rps:>8.0f} "
            f"{c.rows_s:>9.0f} {c.p50_ms:>7.2f} {c.p99_ms:>7.2f} {c.cpu_ms:>10.2f} "
            f"{c.others_cores:>6.2f}  {note}"
        )
    return "\n".join(lines)


CEILING_TARGETS = {"immo": 0.50, "churn": 0.25}  # single-row requests/s, share of hello's


def medians(cells: list[Cell]) -> list[Cell]:
    """Per model, rows, server and worker count, the cell of the median round by req/s
    (the lower middle one of an even count)."""
    groups: dict[tuple[str, int, str, int], list[Cell]] = {}
    for c in cells:
        groups.setdefault((c.model, c.rows, c.server, c.workers), []).append(c)
    out = []
    for group in groups.values():
        ranked = sorted(group, key=lambda c: c.rps)
        out.append(ranked[(len(ranked) - 1) // 2])
    return out


def ceiling(cells: list[Cell], workers: list[int]) -> str:
    """Single-row requests/s as a share of the hello row (the ceiling of the HTTP stack),
    and CPU per request against the baseline commit, per worker count. With several
    rounds, each round's share is its modelyard cell over its hello cell (measured seconds
    apart); the verdict is on the median share, and every round's is shown."""
    lines = ["", "Against the ceiling (bench/hello_app.py, same uvicorn settings, same body):"]
    for model, goal in CEILING_TARGETS.items():
        for n in workers:
            rounds: dict[int, dict[str, Cell]] = {}
            for c in cells:
                if (c.model, c.rows, c.workers) == (model, 1, n):
                    rounds.setdefault(c.round, {})[c.server] = c
            paired = [r for r in rounds.values() if HELLO in r and MODELYARD in r]
            paired = [r for r in paired if r[HELLO].rps > 0]
            if not paired:
                continue
            shares = [r[MODELYARD].rps / r[HELLO].rps for r in paired]
            share = statistics.median(shares)
            verdict = "met" if share >= goal else "MISSED"
            parts = [f"modelyard {share:.1%} of hello ({verdict}, >= {goal:.0%})"]
            if len(shares) > 1:
                parts[0] += (
                    f" [median of {len(shares)} rounds: "
                    + ", ".join(f"{s:.1%}" for s in shares)
                    + "]"
                )
            based = [r for r in paired if BASELINE in r]
            if based:
                parts.append(
                    "baseline "
                    f"{statistics.median(r[BASELINE].rps / r[HELLO].rps for r in based):.0%}"
                )
                costs = [
                    (r[MODELYARD].cpu_ms, r[BASELINE].cpu_ms) for r in based if r[BASELINE].cpu_ms
                ]
                if costs:
                    cpu = statistics.median(ours / base for ours, base in costs)
                    ours_ms = statistics.median(ours for ours, _ in costs)
                    base_ms = statistics.median(base for _, base in costs)
                    paired_ratio = " median of the rounds' ratios," if len(costs) > 1 else ""
                    parts.append(
                        f"CPU ms/req {ours_ms:.2f} vs baseline {base_ms:.2f} "
                        f"({cpu:.2f}x,{paired_ratio} {'met' if cpu <= 1.0 else 'MISSED'}, <= 1x)"
                    )
            lines.append(
                f"  {model:<6} 1 row, {n} worker{'s' if n != 1 else ''}: " + "; ".join(parts)
            )
    return "\n".join(lines)


def baseline_sources(ref: str, folder: Path) -> Path:
    """A detached git worktree of ``ref`` in ``folder``; its ``src``."""
    tree = folder / "baseline-src"
    subprocess.run(
        ["git", "-C", str(BENCH.parent), "worktree", "add", "--detach", str(tree), ref],
        check=True,
        capture_output=True,
    )
    return tree / "src"


def ratios(cells: list[Cell], workers: list[int]) -> str:
    def find(model: str, rows: int, server: str, n: int | None) -> Cell | None:
        found = [c for c in cells if (c.model, c.rows, c.server) == (model, rows, server)]
        if n is None:  # the best of its worker counts
            return max(found, key=lambda c: c.rps, default=None)
        return next((c for c in found if c.workers == n), None)

    def ratio(a: Cell | None, b: Cell | None, rows: bool) -> str:
        if a is None or b is None or (b.rows_s if rows else b.rps) == 0:
            return "n/a"
        return f"{(a.rows_s / b.rows_s) if rows else (a.rps / b.rps):.1f}x"

    def verdict(text: str, goal: float) -> str:
        if text == "n/a":
            return "n/a"
        return f"{text} ({'met' if float(text[:-1]) >= goal else 'MISSED'}, >= {goal:g}x)"

    targets = [
        ("churn", 1, False, 10.0, 5.0),
        ("immo", 1, False, 5.0, 2.0),
        ("churn", 100, True, 5.0, 2.0),
    ]
    lines = ["", "Targets (modelyard against each peer, same run):"]
    for model, rows, by_rows, vs_mlflow, vs_mlserver in targets:
        what = "rows/s" if by_rows else "requests/s"
        lines.append(f"  {model}, {rows} row{'s' if rows > 1 else ''} per request, {what}:")
        for n in [*workers, None]:
            where = f"{n} worker{'s' if n != 1 else ''}" if n else "best vs best"
            ours = find(model, rows, MODELYARD, n)
            if ours is None:
                continue
            mlflow = ratio(ours, find(model, rows, MLFLOW, n), by_rows)
            mlserver = ratio(ours, find(model, rows, MLSERVER, n), by_rows)
            parts = [
                f"vs MLflow {verdict(mlflow, vs_mlflow)}",
                f"vs MLServer {verdict(mlserver, vs_mlserver)}",
            ]
            bare = find(model, rows, BARE, n)
            if bare is not None:
                parts.append(f"vs bare starlette {ratio(ours, bare, by_rows)}")
            cost = {p: find(model, rows, p, n) for p in (MLFLOW, MLSERVER)}
            shown = [
                f"{p} {c.cpu_ms / ours.cpu_ms:.1f}x" for p, c in cost.items() if c and ours.cpu_ms
            ]
            if shown:
                parts.append("CPU per request vs modelyard's: " + ", ".join(shown))
            if model == "churn" and rows == 1:
                peers = [find(model, rows, p, n) for p in (MLFLOW, MLSERVER)]
                p50s = [p.p50_ms for p in peers if p is not None]
                if p50s:
                    ok = ours.p99_ms < min(p50s)
                    parts.append(
                        f"p99 {ours.p99_ms:.2f} ms vs peers' lowest p50 {min(p50s):.2f} ms "
                        f"({'met' if ok else 'MISSED'})"
                    )
            compared = [ours, *[find(model, rows, p, n) for p in (MLFLOW, MLSERVER)]]
            noise = [c.others_cores for c in compared if c is not None]
            if max(noise) - min(noise) > 0.3:
                parts.append(
                    "others (cores) differed: "
                    + ", ".join(f"{c.server} {c.others_cores:.2f}" for c in compared if c)
                )
            lines.append(f"    {where:<13} " + "; ".join(parts[:2]))
            lines.append(f"    {'':<13} " + "; ".join(parts[2:]))
    return "\n".join(lines)


# --------------------------------------------------------------------------- gRPC


def grpc_request(model: Model, rows: int) -> bytes:
    """A serialized ``ModelInferRequest`` in MLServer's pandas convention (one input per
    column in typed contents, strings as BYTES with content_type str), sent to both."""
    from modelyard.serving.protocols.oip import open_inference_grpc_pb2 as pb

    frame = model.requests.head(rows)
    request = pb.ModelInferRequest(model_name=model.name)
    request.parameters["content_type"].string_param = "pd"
    for column in frame.columns:
        values = frame[column]
        tensor = request.inputs.add(name=column, shape=[len(values)])
        if pd.api.types.is_integer_dtype(values):
            tensor.datatype = "INT64"
            tensor.contents.int64_contents.extend(int(v) for v in values)
        elif pd.api.types.is_float_dtype(values):
            tensor.datatype = "FP64"
            tensor.contents.fp64_contents.extend(float(v) for v in values)
        else:
            tensor.datatype = "BYTES"
            tensor.parameters["content_type"].string_param = "str"
            tensor.contents.bytes_contents.extend(str(v).encode() for v in values)
    return request.SerializeToString()


def grpc_check(address: str, body: bytes, metadata: list[tuple[str, str]], want: np.ndarray) -> str:
    """One call: the answer's difference to the local prediction, or what went wrong."""
    import grpc

    from modelyard.serving.protocols.oip import open_inference_grpc_pb2 as pb

    try:
        with grpc.insecure_channel(address) as channel:
            call = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")
            answer = pb.ModelInferResponse.FromString(call(body, metadata=metadata, timeout=60))
    except grpc.RpcError as exc:
        return f"{exc.code()}: {exc.details()}"  # type: ignore[attr-defined]
    output = answer.outputs[0]
    if answer.raw_output_contents:
        got = np.frombuffer(answer.raw_output_contents[0], dtype="<f8")
    else:
        got = np.asarray(output.contents.fp64_contents or output.contents.fp32_contents)
    got = got.reshape(want.shape) if got.size == want.size else got
    if got.shape != want.shape:
        return f"shape {got.shape} != {want.shape}"
    diff = float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))))
    return "" if diff <= 1e-5 else f"differs from local predict by {diff:.2g}"


def grpc_measure(
    plan: Plan, label: str, server: Server, model: Model, metadata: list[tuple[str, str]]
) -> Cell:
    """Check one call, then load the server's gRPC port for ``plan.duration`` s (after
    ``plan.warmup`` s unmeasured, in the same generator run), reading CPU around it."""
    body = grpc_request(model, 1)
    address = f"127.0.0.1:{server.grpc_port}"
    problem = grpc_check(address, body, metadata, model.reference(1))
    if problem:
        say(f"  {model.name} x1 {label}: wrong answer: {problem}")
    plan.body_file.write_bytes(body)
    command = [
        sys.executable, str(BENCH / "grpc_loadgen.py"), address, str(plan.body_file),
        "--concurrency", str(plan.connections), "--duration", str(plan.duration),
        "--warmup", str(plan.warmup),
        *[part for k, v in metadata for part in ("-H", f"{k}: {v}")],
    ]  # fmt: skip
    cpu, busy, generator = tree_cpu_s(server.process.pid), machine_busy_s(), children_cpu_s()
    out = subprocess.run(command, capture_output=True, text=True, timeout=plan.duration + 300)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"grpc load generator failed: {out.stdout[-2000:]} {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    # the warm-up is inside the generator's run: count CPU over the measured share only
    share = result["duration_us"] / 1e6 / (plan.duration + plan.warmup)
    cpu = (tree_cpu_s(server.process.pid) - cpu) * share
    others = (machine_busy_s() - busy) * share - cpu - (children_cpu_s() - generator) * share
    cell = Cell(model.name, 1, label, server.workers, result, cpu, problem[:40])
    cell.others_cores = max(0.0, others) / (result["duration_us"] / 1e6)
    say(
        f"  {model.name} x1 {label} w{server.workers}: {cell.rps:.0f} calls/s, "
        f"p50 {cell.p50_ms:.2f} ms, p99 {cell.p99_ms:.2f} ms, CPU {cell.cpu_ms:.2f} ms/call, "
        f"others {cell.others_cores:.2f} cores"
    )
    return cell


def grpc_main(args: argparse.Namespace) -> None:
    """bench/serve.py --grpc: churn, one row per call, modelyard vs MLServer over gRPC."""
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    venv = None if args.skip_peers else peer_venv("mlserver", BENCH / "requirements-mlserver.txt")
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-grpc-") as scratch:
        folder = Path(scratch)
        say("fitting churn…")
        models = fit_models(["churn"])
        model = models["churn"]
        (folder / "joblib").mkdir()
        joblib.dump(model.estimator, folder / "joblib" / "churn.joblib")
        ours = Modelyard(models, folder)
        ours.grpc = True
        targets: list[tuple[Target, list[tuple[str, str]]]] = [
            (ours, [("authorization", f"Bearer {ours.keys['churn']}")])
        ]
        if venv is not None:
            targets.append((MLServer(models, folder, venv), []))
            inline = MLServer(models, folder, venv, parallel=0, label=f"{MLSERVER} inline")
            targets.append((inline, []))
        plan = Plan("grpc", args.connections, args.duration, args.warmup, folder / "body.bin")
        cells: list[Cell] = []
        began = time.monotonic()
        for n in workers:
            for target, metadata in targets:
                for _, start in target.servers(n):
                    say(f"{target.label}, {n} worker(s): starting")
                    try:
                        server = start()
                    except RuntimeError as exc:
                        say(f"  could not start: {exc}")
                        continue
                    try:
                        cells.append(grpc_measure(plan, target.label, server, model, metadata))
                    finally:
                        server.stop()
        elapsed = time.monotonic() - began
    print()
    print(
        f"serve bench, gRPC: loopback, bench/grpc_loadgen.py ({args.connections} calls in "
        f"flight), {args.duration} s per cell after {args.warmup} s warm-up, "
        f"{os.cpu_count()} CPUs, {elapsed / 60:.1f} min; churn, 1 row per ModelInfer call"
    )
    print()
    print(table(cells).replace("req/s", "calls/s").replace("CPU ms/req", "CPU ms/call"))
    print()
    print("Target: modelyard gRPC >= 5x MLServer gRPC calls/s (the better MLServer setting):")
    for n in [*workers, None]:
        mine = [c for c in cells if c.server == MODELYARD and (n is None or c.workers == n)]
        theirs = [c for c in cells if c.server != MODELYARD and (n is None or c.workers == n)]
        if not mine or not theirs:
            continue
        best_mine = max(mine, key=lambda c: c.rps)
        best_theirs = max(theirs, key=lambda c: c.rps)
        ratio = best_mine.rps / best_theirs.rps if best_theirs.rps else float("inf")
        where = f"{n} worker{'s' if n != 1 else ''}" if n else "best vs best"
        cpu = best_theirs.cpu_ms / best_mine.cpu_ms if best_mine.cpu_ms else float("nan")
        print(
            f"  {where:<13} {ratio:.1f}x ({'met' if ratio >= 5 else 'MISSED'}, >= 5x): "
            f"{best_mine.rps:.0f} vs {best_theirs.rps:.0f} calls/s ({best_theirs.server}, "
            f"w{best_theirs.workers}); CPU per call: {best_theirs.server} {cpu:.1f}x modelyard's"
        )


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="measured seconds per cell")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured seconds per cell")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--rows", type=int, default=100, help="rows of the batch requests")
    parser.add_argument("--skip-peers", action="store_true", help="no MLflow, no MLServer")
    parser.add_argument("--skip-bare", action="store_true", help="no bare starlette row")
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="also serve modelyard at this commit (a git worktree, same venv): CPU per request "
        "is compared with it",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure every cell this many times, interleaved; the table shows each server's "
        "median round, the ceiling lines every round's share",
    )
    parser.add_argument("--only", choices=("immo", "churn"), help="one model only")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument(
        "--grpc", action="store_true", help="churn single-row over gRPC vs MLServer's gRPC"
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be 1 or more")
    if args.grpc and args.rounds != 1:
        parser.error("--rounds applies to the HTTP cells; --grpc measures each server once")
    if args.grpc:
        grpc_main(args)
        return
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    loadgen = args.loadgen
    if loadgen == "auto":
        loadgen = "wrk" if shutil.which("wrk") else "python"
    names = [args.only] if args.only else ["immo", "churn"]
    sizes = sorted({1, args.rows})

    peers: dict[str, Path] = {}
    if not args.skip_peers:
        peers[MLFLOW] = peer_venv("mlflow", BENCH / "requirements-mlflow.txt")
        peers[MLSERVER] = peer_venv("mlserver", BENCH / "requirements-mlserver.txt")

    with tempfile.TemporaryDirectory(prefix="modelyard-bench-serve-") as scratch:
        folder = Path(scratch)
        say("fitting the models…")
        models = fit_models(names)
        (folder / "joblib").mkdir()
        for model in models.values():
            joblib.dump(model.estimator, folder / "joblib" / f"{model.name}.joblib")
        say("preparing modelyard, bare, peers…")
        ours = Modelyard(models, folder)
        targets: list[Target] = [ours, Hello(ours)]
        if args.baseline:
            targets.append(Modelyard(models, folder, baseline_sources(args.baseline, folder)))
        if not args.skip_bare:
            targets.append(Bare(models, folder))
        if MLFLOW in peers:
            targets.append(MLflow(models, folder, peers[MLFLOW]))
        if MLSERVER in peers:
            targets.append(MLServer(models, folder, peers[MLSERVER]))

        cells: list[Cell] = []
        plan = Plan(loadgen, args.connections, args.duration, args.warmup, folder / "body.json")
        began = time.monotonic()
        for n in workers:
            # Every server of this worker count runs at once, idle but for the one under
            # load, so that the servers compared in a cell are measured minutes apart at most.
            serving: dict[tuple[str, str], Server] = {}
            try:
                for target in targets:
                    for served, start in target.servers(n):
                        say(f"{target.label}, {n} worker(s): starting ({', '.join(served)})")
                        try:
                            server = start()
                        except RuntimeError as exc:
                            say(f"  could not start: {exc}")
                            continue
                        for name in served:
                            serving[(target.label, name)] = server
                for name in names:
                    for rows in sizes:
                        for turn in range(args.rounds):  # rounds interleaved: A B C, A B C
                            for target in targets:
                                server = serving.get((target.label, name))
                                if server is not None:
                                    cell = measure(plan, target, server, models[name], rows)
                                    cell.round = turn
                                    cells.append(cell)
            finally:
                for server in {id(s): s for s in serving.values()}.values():
                    server.stop()
        elapsed = time.monotonic() - began

        order = {MODELYARD: 0, BASELINE: 1, HELLO: 2, BARE: 3, MLFLOW: 4, MLSERVER: 5}
        cells.sort(key=lambda c: (names.index(c.model), c.rows, order[c.server], c.workers))
        print()
        print(
            f"serve bench: loopback, {loadgen} ({args.connections} connections), "
            f"{args.duration} s per cell after {args.warmup} s warm-up, {os.cpu_count()} CPUs, "
            f"{elapsed / 60:.1f} min"
        )
        modelyard = next((t for t in targets if isinstance(t, Modelyard)), None)
        if modelyard is not None and getattr(modelyard, "paths", None):
            print(
                "modelyard scoring path: "
                + ", ".join(f"{k} {v}" for k, v in modelyard.paths.items())
            )
        print(
            "CPU ms/req: CPU time of the server's process tree (all workers) / requests answered; "
            "others: cores busy meanwhile outside server and load generator (noise)"
        )
        if args.rounds > 1:
            print(
                f"{args.rounds} rounds: each row below is that server's median round by req/s "
                "(rounds of different servers may differ); the ceiling lines pair each round's "
                "servers and give the median of the rounds' ratios"
            )
        print()
        print(table(medians(cells)))
        print(ceiling(cells, workers))
        if not args.skip_peers:
            print(ratios(medians(cells), workers))
    subprocess.run(["git", "-C", str(BENCH.parent), "worktree", "prune"], check=False)


if __name__ == "__main__":
    main()
