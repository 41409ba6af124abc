"""Entry-script deployments as the SDK makes them: code stored content-addressed, models
fixed to versions, an optional environment, resources; then wait for a replica to run it.

    ep = ws.endpoints.deploy_script(
        "churn", entry_script="score.py", models=["pipeline_processing:1", "modelML2:1"],
        environment="scoring_env.yml", cpu_cores=1, memory_gb=1, auth_enabled=False)
    ws.endpoints.wait("churn", show_output=True).state   # "healthy"
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.deployments.entry.spec import (
    DEFAULT_TIMEOUT_MS,
    Resources,
    ScriptSpec,
    deployment_digest,
    is_deployment_line,
)
from modelyard.deployments.env.requirements import Requirements
from modelyard.errors import InvalidInput, ModelUnavailable
from modelyard.registry.records import FileEntry, ModelVersion
from modelyard.registry.registry import Registry
from modelyard.storage.artifacts import ArtifactStore
from modelyard.storage.endpoints import EndpointRecord, EndpointStore
from modelyard.storage.names import collect_folder, safe_relative_name
from modelyard.types import EndpointState, ModelRef

if TYPE_CHECKING:
    from modelyard.workspace.endpoints import Endpoint

ModelLike = str | ModelRef | ModelVersion
EnvironmentLike = Requirements | str | PathLike[str] | None
SETTLED = (EndpointState.HEALTHY, EndpointState.FAILED)
# A replica beats every second; one starting up (imports, then joining) gets this long
# before a wait says that none serves the workspace.
NO_REPLICA_S = 8.0
OLD_LABEL = "[previous deployment] "  # before the lines of the deployment being replaced


class ScriptDeployments:
    """Create, update and wait for entry-script endpoints."""

    def __init__(
        self,
        store: EndpointStore,
        registry: Registry,
        view: Callable[[EndpointRecord, Mapping[str, str] | None], Endpoint],
        root: Path | None = None,
    ) -> None:
        """``root`` is the workspace folder, named in the hint to start a replica."""
        self._store = store
        self._registry = registry
        self._view = view
        self._root = root

    def deploy(
        self,
        name: str,
        *,
        entry_script: str | PathLike[str],
        models: Sequence[ModelLike],
        source_directory: str | PathLike[str] | None = None,
        environment: EnvironmentLike = None,
        cpu_cores: float = 1.0,
        memory_gb: float = 1.0,
        workers: int | None = None,
        auth_enabled: bool = True,
        collect: bool = False,
        description: str = "",
        check_packages: bool = True,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        environment_variables: Mapping[str, str] | None = None,
    ) -> Endpoint:
        """Create endpoint ``name`` running ``entry_script`` with ``models`` laid out for
        ``Model.get_model_path``; ``environment`` is a conda YAML or requirements file (or
        :class:`Requirements`) built into its own virtualenv, else the server's Python runs
        it. ``environment_variables`` (Azure's ``Environment.environment_variables``, e.g.
        ``AML_CORS_ORIGINS``) are set for the script. ``auth_enabled=False`` serves it
        without keys, on loopback only."""
        resources = Resources(cpu_cores, memory_gb, workers)
        spec = self._spec(
            entry_script,
            models,
            source_directory,
            environment,
            resources,
            check_packages,
            timeout_ms,
            environment_variables or {},
        )
        record, keys = self._store.create(
            name,
            spec.describe(),
            collect=collect,
            description=description,
            options=spec.to_options(auth=auth_enabled),
        )
        return self._view(record, keys)

    def update(
        self,
        name: str,
        *,
        entry_script: str | PathLike[str] | None = None,
        models: Sequence[ModelLike] | None = None,
        source_directory: str | PathLike[str] | None = None,
        environment: EnvironmentLike | bool = True,
        cpu_cores: float | None = None,
        memory_gb: float | None = None,
        workers: int | None = None,
        auth_enabled: bool | None = None,
        check_packages: bool | None = None,
        timeout_ms: int | None = None,
        environment_variables: Mapping[str, str] | None = None,
    ) -> Endpoint:
        """Redeploy ``name`` with what is given (the rest stays as deployed);
        ``environment=True`` keeps the current one, ``None`` drops it;
        ``environment_variables`` replace the deployed ones when given."""
        record = self._store.get(name)
        if record.kind != "script":
            raise InvalidInput(
                f"endpoint {name} serves a model: `modelyard endpoints update` retargets it",
                code="not_a_script_endpoint",
            )
        old = ScriptSpec.from_options(record.options)
        if entry_script is not None:
            code = self._code(entry_script, source_directory)
        else:
            code = (old.entry_script, old.code)
        environ = (
            old.environment
            if environment is True or environment is False
            else self._environment(environment)
        )
        spec = ScriptSpec(
            entry_script=code[0],
            code=code[1],
            models=self._models(models) if models is not None else old.models,
            environment=environ,
            resources=Resources(
                cpu_cores if cpu_cores is not None else old.resources.cpu_cores,
                memory_gb if memory_gb is not None else old.resources.memory_gb,
                workers if workers is not None else old.resources.workers,
            ),
            check_packages=old.check_packages if check_packages is None else check_packages,
            timeout_ms=old.timeout_ms if timeout_ms is None else timeout_ms,
            variables=old.variables
            if environment_variables is None
            else dict(environment_variables),
        )
        auth = record.auth_enabled if auth_enabled is None else auth_enabled
        updated = self._store.set_options(
            name, spec.describe(), spec.to_options(auth=auth), state=EndpointState.CREATING
        )
        return self._view(updated, None)

    def wait(
        self,
        name: str,
        *,
        timeout_s: float,
        show_output: bool,
        echo: Callable[[str], None],
        poll_s: float = 0.5,
        no_replica_s: float = NO_REPLICA_S,
    ) -> Endpoint:
        """Poll until ``name`` is healthy or failed; echo its log lines if asked (those of
        the deployment being replaced, after a redeploy, labelled ``OLD_LABEL``).

        Only a replica (``modelyard serve`` or ``up``) builds and runs a deployment: if
        none serves the workspace ``no_replica_s`` after the wait began, raises
        ``ModelUnavailable`` saying so and how to start one, instead of waiting on."""
        began = time.monotonic()
        deadline = began + timeout_s
        seen = max((line.id for line in self._store.logs(name, tail=1)), default=0)
        checked = False
        while True:
            record = self._store.get(name)
            if show_output:
                digest = deployment_digest(record.options, collect=record.collect)
                for line in self._store.logs(name, tail=1000):
                    if line.id > seen:
                        # the previous deployment serves (or crashes) until this one is up
                        old = "" if is_deployment_line(line.replica, digest) else OLD_LABEL
                        echo(f"{old}{line.stream}: {line.line}")
                        seen = line.id
            if record.state in SETTLED or time.monotonic() >= deadline:
                return self._view(record, None)
            if not checked and time.monotonic() - began >= no_replica_s:
                checked = True
                if self._store.serving_replicas() == 0:
                    raise ModelUnavailable(self._no_replica(name, record.state, no_replica_s))
            time.sleep(poll_s)

    def _no_replica(self, name: str, state: EndpointState, waited_s: float) -> str:
        where = f" in {self._root}" if self._root is not None else ""
        return (
            f"endpoint {name} is still {state.value} after {waited_s:g} s and no modelyard "
            f"replica is serving this workspace: only `modelyard serve` (or `modelyard up`) "
            f"builds and runs deployments; start it{where} in another terminal and wait again"
        )

    # -- building the spec -----------------------------------------------------------

    def _spec(
        self,
        entry_script: str | PathLike[str],
        models: Sequence[ModelLike],
        source_directory: str | PathLike[str] | None,
        environment: EnvironmentLike,
        resources: Resources,
        check_packages: bool,
        timeout_ms: int,
        variables: Mapping[str, str],
    ) -> ScriptSpec:
        entry, code = self._code(entry_script, source_directory)
        return ScriptSpec(
            entry_script=entry,
            code=code,
            models=self._models(models),
            environment=self._environment(environment),
            resources=resources,
            check_packages=check_packages,
            timeout_ms=timeout_ms,
            variables=dict(variables),
        )

    def _code(
        self, entry_script: str | PathLike[str], source_directory: str | PathLike[str] | None
    ) -> tuple[str, tuple[FileEntry, ...]]:
        """Store the entry script (and its source folder); returns its name and files."""
        script = Path(entry_script)
        if source_directory is None:
            if not script.is_file():
                raise InvalidInput(f"entry script {script} does not exist", code="path_not_found")
            listed = [(safe_relative_name(script.name), script)]
            entry = listed[0][0]
        else:
            folder = Path(source_directory)
            if not folder.is_dir():
                raise InvalidInput(
                    f"source directory {folder} does not exist", code="path_not_found"
                )
            listed = collect_folder(folder)
            inside = script.resolve() if script.is_absolute() or script.exists() else None
            if inside is not None and inside.is_relative_to(folder.resolve()):
                entry = safe_relative_name(str(inside.relative_to(folder.resolve())))
            else:
                entry = safe_relative_name(str(script))
            if entry not in dict(listed):
                raise InvalidInput(
                    f"entry script {entry_script} is not in the source directory {folder}",
                    code="path_not_found",
                )
        store = self._registry.store
        files = tuple(FileEntry(n, *_put(store, p)) for n, p in listed)
        return entry, files

    def _models(self, models: Sequence[ModelLike]) -> tuple[str, ...]:
        """Fix each model to the version it names now, like Azure's Model objects."""
        fixed: list[str] = []
        for item in models:
            version = item if isinstance(item, ModelVersion) else self._registry.resolve(item)
            fixed.append(f"{version.name}:{version.version}")
        return tuple(fixed)

    def _environment(self, environment: EnvironmentLike) -> dict[str, Any] | None:
        if environment is None:
            return None
        if isinstance(environment, Requirements):
            return environment.to_dict()
        return Requirements.from_file(Path(environment)).to_dict()


def _put(store: ArtifactStore, path: Path) -> tuple[str, int]:
    info = store.put_file(path)
    return info.sha256, info.size
