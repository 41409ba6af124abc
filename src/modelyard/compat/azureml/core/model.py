"""``azureml.core.model``: ``Model`` (register, get_model_path, deploy) and ``InferenceConfig``."""

from __future__ import annotations

import builtins
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.compat.azureml.core.environment import Environment
from modelyard.compat.azureml.core.webservice import (
    AciWebservice,
    AksWebservice,
    DeploymentConfiguration,
    LocalWebservice,
    Webservice,
)
from modelyard.compat.azureml.exceptions import (
    ModelNotFoundException,
    UserErrorException,
    WebserviceException,
)
from modelyard.deployments.entry.layout import MODELS_DIR, entry_name, version_target
from modelyard.errors import Conflict, NotFound, UnsupportedFormat
from modelyard.registry.flavours.formats import detect
from modelyard.registry.records import ModelVersion
from modelyard.training.lineage import package_versions
from modelyard.types import Flavour

if TYPE_CHECKING:
    from modelyard.compat.azureml.core.workspace import Workspace

SERVICES: dict[str, type[Webservice]] = {
    "ACI": AciWebservice,
    "AKS": AksWebservice,
    "Local": LocalWebservice,
}


class InferenceConfig:
    """The entry script, its source folder and its environment (a conda file or an
    ``Environment``)."""

    def __init__(
        self,
        entry_script: str | os.PathLike[str] | None = None,
        runtime: str | None = None,
        conda_file: str | os.PathLike[str] | None = None,
        extra_docker_file_steps: str | None = None,
        source_directory: str | os.PathLike[str] | None = None,
        enable_gpu: bool | None = None,
        description: str | None = None,
        base_image: str | None = None,
        base_image_registry: Any = None,
        cuda_version: str | None = None,
        environment: Environment | None = None,
    ) -> None:
        if entry_script is None:
            raise UserErrorException("InferenceConfig needs an entry_script with init() and run()")
        if runtime is not None and runtime.lower() != "python":
            raise UserErrorException(f"runtime {runtime!r} is not supported: use 'python'")
        if conda_file is not None and environment is not None:
            raise UserErrorException("give conda_file or environment, not both")
        if enable_gpu:
            raise UserErrorException("GPU inference is not offered by modelyard endpoints")
        self.entry_script = entry_script
        self.runtime = runtime or "python"
        self.conda_file = conda_file
        self.source_directory = source_directory
        self.environment = environment
        self.description = description

    def deployment_options(self) -> dict[str, Any]:
        """The ``ws.endpoints.deploy_script`` arguments this configuration gives."""
        if self.environment is not None:
            environment: Any = self.environment.requirements()
        else:
            environment = self.conda_file
        options = {
            "entry_script": self.entry_script,
            "source_directory": self.source_directory,
            "environment": environment,
        }
        if self.environment is not None:  # its variables replace the deployed ones
            options["environment_variables"] = dict(self.environment.environment_variables)
        return options


class Model:
    """A registered model version."""

    def __init__(
        self,
        workspace: Workspace,
        name: str | None = None,
        id: str | None = None,  # Azure's parameter name
        version: int | None = None,
        **ignored: Any,
    ) -> None:
        if id is not None:
            name, _, number = id.partition(":")
            version = int(number) if number else version
        if not name:
            raise UserErrorException("Model needs a name or an id ('name:version')")
        self.workspace = workspace
        try:
            if version is None:
                found = workspace.modelyard.models.versions(name)[-1]
            else:
                found = workspace.modelyard.models.get(name, version=version)
        except (NotFound, IndexError):
            raise ModelNotFoundException(
                f"Model {name}{f':{version}' if version else ''} not found in the workspace"
            ) from None
        self._version = found

    @property
    def name(self) -> str:
        """The model's name."""
        return self._version.name

    @property
    def version(self) -> int:
        """The version number."""
        return self._version.version

    @property
    def id(self) -> str:
        """``name:version``."""
        return f"{self.name}:{self.version}"

    @property
    def description(self) -> str:
        """Free text given at registration."""
        return self._version.description

    @property
    def tags(self) -> dict[str, str]:
        """Tags given at registration."""
        return dict(self._version.tags)

    @property
    def created_time(self) -> Any:
        """When the version was registered."""
        return self._version.created_at

    @staticmethod
    def register(
        workspace: Workspace,
        model_path: str | os.PathLike[str],
        model_name: str,
        tags: dict[str, str] | None = None,
        properties: dict[str, Any] | None = None,
        description: str | None = None,
        model_framework: str | None = None,
        model_framework_version: str | None = None,
        allow_pickle: bool = True,
        **ignored: Any,
    ) -> Model:
        """Register a file or a folder as the next version of ``model_name``.

        Azure ML registered pickles as a matter of course; so does this call, which is the
        admin's consent (``allow_pickle``): the bytes are hashed now and an entry script
        will only ever be handed these exact bytes. The versions of the packages of the
        registering process are recorded for the pre-flight check of deployments.
        """
        path = Path(model_path)
        flavour = None
        if path.is_dir():
            flavour = Flavour.FILES
        else:
            try:
                detect(path.name)
            except UnsupportedFormat:
                flavour = Flavour.FILES
        version = workspace.modelyard.models.register(
            model_name,
            path,
            tags={**(tags or {}), **{str(k): str(v) for k, v in (properties or {}).items()}},
            description=description or "",
            flavour=flavour,
            allow_pickle=allow_pickle,
            lineage={"packages": package_versions(), "registered_with": "azureml compat"},
        )
        print(f"Registering model {model_name}")
        return Model(workspace, version.name, version=version.version)

    @staticmethod
    def list(
        workspace: Workspace, name: str | None = None, latest: bool = False, **filters: Any
    ) -> builtins.list[Model]:
        """Registered versions (of ``name``, or of every model); ``latest`` keeps the newest."""
        names = [name] if name else [m.name for m in workspace.modelyard.models.list()]
        found: builtins.list[Model] = []
        for each in names:
            versions = workspace.modelyard.models.versions(each)
            chosen = versions[-1:] if latest else versions
            found += [Model(workspace, v.name, version=v.version) for v in chosen]
        return found

    def download(self, target_dir: str | os.PathLike[str] = ".", exist_ok: bool = False) -> str:
        """Write the model's file (or folder) into ``target_dir``; returns its path."""
        target = Path(target_dir) / entry_name(self._version)
        if target.exists() and not exist_ok:
            raise WebserviceException(f"{target} exists: pass exist_ok=True to overwrite it")
        _download(self._version, self.workspace, Path(target_dir))
        return str(target)

    @staticmethod
    def get_model_path(
        model_name: str, version: int | None = None, _workspace: Workspace | None = None
    ) -> str:
        """Inside a deployment, where a model lies (Azure's own rules, from ``AML_APP_ROOT``);
        with ``_workspace``, the model is downloaded under ``./azureml-models`` first."""
        if version is not None and not isinstance(version, int):
            raise WebserviceException("version should be an int")
        if _workspace is None:
            return _local_model_path(model_name, version)
        model = Model(_workspace, model_name, version=version)
        folder = Path(MODELS_DIR) / model.name / str(model.version)
        _download(model._version, _workspace, folder)
        return str(folder / entry_name(model._version))

    @staticmethod
    def deploy(
        workspace: Workspace,
        name: str,
        models: builtins.list[Model],
        inference_config: InferenceConfig | None = None,
        deployment_config: DeploymentConfiguration | None = None,
        deployment_target: Any = None,
        overwrite: bool = False,
        show_output: bool = False,
    ) -> Webservice:
        """Create (or with ``overwrite``, redeploy) the entry-script endpoint ``name``;
        then ``wait_for_deployment`` on the returned service."""
        if inference_config is None:
            raise UserErrorException("Model.deploy needs an inference_config with an entry_script")
        config = deployment_config or AciWebservice.deploy_configuration()
        refs = [f"{m.name}:{m.version}" for m in models]
        options = inference_config.deployment_options()
        endpoints = workspace.modelyard.endpoints
        existing = {e.name for e in endpoints.list()}
        if name in existing:
            if not overwrite:
                raise WebserviceException(
                    f"a service named {name} exists: delete it, or pass overwrite=True"
                )
            endpoints.update_script(
                name,
                models=refs,
                cpu_cores=config.cpu_cores,
                memory_gb=config.memory_gb,
                auth_enabled=config.auth_enabled,
                **options,
            )
        else:
            try:
                created = endpoints.deploy_script(
                    name,
                    models=refs,
                    cpu_cores=config.cpu_cores,
                    memory_gb=config.memory_gb,
                    workers=config.workers,
                    auth_enabled=config.auth_enabled,
                    collect=config.collect_model_data,
                    timeout_ms=config.scoring_timeout_ms or 60_000,
                    description=inference_config.description or "",
                    **options,
                )
            except Conflict as exc:
                raise WebserviceException(exc.message) from None
            keys = created.keys or {}
            workspace.keys[name] = (keys.get("primary", ""), keys.get("secondary", ""))
        service = SERVICES.get(config.compute_type, Webservice)(workspace, name)
        if show_output:
            service.wait_for_deployment(show_output=True)
        return service


def _download(version: ModelVersion, workspace: Workspace, folder: Path) -> None:
    """Write ``version``'s file, or its folder under its own name, into ``folder``."""
    workspace.modelyard.registry.loader.materialize(version, version_target(folder, version))


def _local_model_path(name: str, version: int | None) -> str:
    """Azure's local lookup: ``$AML_APP_ROOT/azureml-models/<name>/<version>/<one entry>``,
    else ``<name>`` in the working directory (entry scripts get the same rules from the
    shim in their own process)."""
    models = Path(os.environ.get("AML_APP_ROOT", "")) / MODELS_DIR
    folder = models / name
    if folder.exists():
        chosen = version if version is not None else max(int(v) for v in os.listdir(folder))
        folder = folder / str(chosen)
        if folder.exists():
            entries = os.listdir(folder)
            if len(entries) != 1:
                raise WebserviceException(
                    f"Dir {folder} can contain only 1 file or folder. Found {entries}"
                )
            return str(folder / entries[0])
    if os.path.exists(name):
        return name
    message = (
        f"Model {name} not found in cache at {models} or in current working directory "
        f"{os.getcwd()}."
    )
    raise WebserviceException(message) if version is not None else ModelNotFoundException(message)
