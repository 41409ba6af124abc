"""A supervised entry-script deployment: environment, pre-flight, layout, workers.

State moves ``creating -> healthy | failed``; a worker that dies or outgrows
``memory_gb`` is restarted with exponential backoff (``unhealthy`` meanwhile), and
the state and its reason are written to the endpoint row for the CLI, SDK and API.
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from modelyard.deployments.entry.host import HostProcess, child_environment
from modelyard.deployments.entry.layout import AppRoot, lay_out
from modelyard.deployments.entry.logs import LogSink
from modelyard.deployments.entry.spec import ScriptSpec, deployment_digest, log_source
from modelyard.deployments.env.builder import EnvironmentCache
from modelyard.deployments.env.packages import (
    installed_packages,
    package_mismatches,
    trained_packages,
)
from modelyard.deployments.env.requirements import Requirements
from modelyard.errors import ModelUnavailable, ModelyardError, PackageMismatch
from modelyard.registry.registry import Registry
from modelyard.storage.endpoints import EndpointRecord, EndpointStore
from modelyard.types import EndpointState

INIT_TIMEOUT_S = 300.0  # azmlinfsrv's WORKER_TIMEOUT
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
STABLE_S = 60.0  # a worker up this long resets its backoff
TICK_S = 0.25


@dataclass
class _Slot:
    """One worker position: its process, and when it may be (re)started."""

    index: int
    process: HostProcess | None = None
    ready: bool = False
    failures: int = 0
    start_at: float = 0.0


class ScriptDeployment:
    """Runs one endpoint's entry script in ``workers`` child processes and keeps them up."""

    def __init__(
        self,
        record: EndpointRecord,
        *,
        registry: Registry,
        store: EndpointStore,
        environments: EnvironmentCache,
        workdir: Path,
        replica: str,
        collect_address: Callable[[str], str] | None = None,
    ) -> None:
        self.name = record.name
        self.record = record
        self.spec = ScriptSpec.from_options(record.options)
        self.digest = deployment_digest(record.options, collect=record.collect)
        self._registry = registry
        self._store = store
        self._environments = environments
        self._collect_address = collect_address
        self._root = workdir / record.name / self.digest
        # each line names its deployment: a redeploy's wait tells the new one's output
        # from the old one's (which serves, or crashes, until the new one is ready)
        self.log = LogSink(store, record.name, log_source(replica, self.digest))
        self.state = EndpointState.CREATING
        self.reason: str | None = None
        self._slots = [_Slot(i) for i in range(self.spec.resources.worker_count)]
        self._turn = itertools.count()
        self._stop = threading.Event()
        self._ever_healthy = False
        self._thread = threading.Thread(target=self._run, name=f"entry-{self.name}", daemon=True)

    # -- the data plane's side -------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True while at least one worker answers."""
        return any(s.ready for s in self._slots)

    def pick(self) -> int:
        """The port of a ready worker (round robin); ``ModelUnavailable`` if none is."""
        ready = [s for s in self._slots if s.ready and s.process and s.process.port]
        if not ready:
            why = f": {self.reason}" if self.reason else ""
            raise ModelUnavailable(f"endpoint {self.name} is {self.state.value}{why}")
        slot = ready[next(self._turn) % len(ready)]
        assert slot.process is not None and slot.process.port is not None
        return slot.process.port

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Prepare and start the workers in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the workers and the supervisor."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)
        for slot in self._slots:
            self._kill(slot)
        self.log("event", f"deployment {self.digest} stopped")
        self.log.close()

    def _run(self) -> None:
        self._set_state(EndpointState.CREATING, "preparing the deployment")
        try:
            python = self._prepare_environment()
            app = lay_out(self._root, self.spec, self._registry)
            self.log("event", f"app root {app.path}: models {', '.join(self.spec.models)}")
        except ModelyardError as exc:
            self._fail(exc.message)
            return
        except Exception as exc:  # a bug or the disk: the endpoint says so, the server lives
            self._fail(f"{type(exc).__name__}: {exc}")
            return
        while not self._stop.is_set():
            for slot in self._slots:
                self._tend(slot, python, app)
            self._update_state()
            self._stop.wait(TICK_S)

    def _prepare_environment(self) -> Path:
        """The interpreter to run; refuses a package mismatch unless overridden."""
        if self.spec.environment is None:
            python = Path(sys.executable)
            self.log("event", f"no environment declared: serving with {python}")
            packages = installed_packages(python)
        else:
            requirements = Requirements.from_dict(self.spec.environment)
            self._set_state(EndpointState.CREATING, "building the environment")
            self.log("event", f"environment {requirements.digest[:12]}: {requirements.lines}")
            built = self._environments.ensure(
                requirements, log=lambda line: self.log("build", line)
            )
            self.log("event", "reused the cached environment" if built.reused else "built")
            python, packages = built.python, built.packages
        differences: list[str] = []
        for ref in self.spec.models:
            trained = trained_packages(self._registry.resolve(ref))
            if not trained:
                self.log("event", f"{ref}: no training packages recorded; package check skipped")
            differences += [f"{ref}: {d}" for d in package_mismatches(trained, packages)]
        if differences and self.spec.check_packages:
            raise PackageMismatch(
                "the serving environment differs from the one the models were trained with: "
                + "; ".join(differences)
                + " (pin these versions in the environment, or deploy with check_packages=False)",
                differences=differences,
            )
        for line in differences:
            self.log("event", f"package difference allowed by the deployment: {line}")
        return python

    def _tend(self, slot: _Slot, python: Path, app: AppRoot) -> None:
        process = slot.process
        now = time.monotonic()
        if process is not None and process.returncode is not None:
            self.log("event", f"worker {slot.index} exited with code {process.returncode}")
            self._kill(slot)
            self._backoff(slot, now)
            return
        if process is not None and process.rss_bytes() > self.spec.resources.memory_bytes:
            limit = self.spec.resources.memory_gb
            self.log("event", f"worker {slot.index} exceeded memory_gb={limit:g}: restarting it")
            self._kill(slot)
            self._backoff(slot, now)
            return
        if process is not None and slot.ready and now - process.started_at > STABLE_S:
            slot.failures = 0
        if process is None and now >= slot.start_at:
            self._start(slot, python, app)

    def _start(self, slot: _Slot, python: Path, app: AppRoot) -> None:
        collecting = {}
        if self.record.collect and self._collect_address is not None:
            # the script's ModelDataCollector sends to the replica, which writes to the store
            collecting["MODELYARD_COLLECT_SOCKET"] = self._collect_address(self.name)
        env = child_environment(
            {
                **self.spec.variables,
                **collecting,
                "AML_APP_ROOT": str(app.path),
                "AZUREML_MODEL_DIR": str(app.model_dir),
                "AZUREML_ENTRY_SCRIPT": str(app.entry_script),
                "SERVICE_NAME": self.name,
                "SCORING_TIMEOUT_MS": str(self.spec.timeout_ms),
                "WORKSPACE_NAME": "modelyard",
                "AML_MODEL_DC_STORAGE_ENABLED": "true" if self.record.collect else "false",
            },
            self.spec.resources.threads,
        )
        process = HostProcess(
            python, app.path, app.entry_script, env, self.log, label=f"w{slot.index}"
        )
        slot.process = process
        self.log("event", f"starting worker {slot.index} with {python}")
        process.start()
        try:
            process.wait_ready(INIT_TIMEOUT_S, self._stop)
        except ModelUnavailable as exc:
            self.reason = exc.message
            self.log("event", exc.message)
            self._kill(slot)
            self._backoff(slot, time.monotonic())
            return
        slot.ready = True
        self.log("event", f"worker {slot.index} ready on 127.0.0.1:{process.port}")

    def _backoff(self, slot: _Slot, now: float) -> None:
        delay = BACKOFF_S[min(slot.failures, len(BACKOFF_S) - 1)]
        slot.failures += 1
        slot.start_at = now + delay
        self.log("event", f"worker {slot.index} restarts in {delay:g} s")

    def _kill(self, slot: _Slot) -> None:
        slot.ready = False
        if slot.process is not None:
            slot.process.stop()
            slot.process = None

    def _update_state(self) -> None:
        ready = sum(s.ready for s in self._slots)
        if ready == len(self._slots):
            self._ever_healthy = True
            self._set_state(EndpointState.HEALTHY, None)
        elif self._ever_healthy:
            self._set_state(EndpointState.UNHEALTHY, f"{ready} of {len(self._slots)} workers up")
        elif any(s.failures for s in self._slots):
            self._set_state(EndpointState.FAILED, self.reason or "the entry script failed to start")

    def _fail(self, reason: str) -> None:
        self.log("event", f"deployment failed: {reason}")
        self._set_state(EndpointState.FAILED, reason)

    def _set_state(self, state: EndpointState, reason: str | None) -> None:
        if (state, reason) == (self.state, self.reason) and state is not EndpointState.CREATING:
            return
        self.state, self.reason = state, reason
        self.log.flush()  # whoever sees the new state finds the lines that led to it
        with contextlib.suppress(ModelyardError):  # the registry blinked: the next tick retries
            self._store.set_state(self.name, state, reason)
