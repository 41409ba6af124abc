"""``azureml.core.Environment``: the packages an entry script runs with."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.compat.azureml.core.conda_dependencies import CondaDependencies
from modelyard.compat.azureml.exceptions import UserErrorException
from modelyard.deployments.env.requirements import Requirements

if TYPE_CHECKING:
    from modelyard.compat.azureml.core.workspace import Workspace


@dataclass
class PythonSection:
    """``Environment.python``: its conda dependencies, or a user-managed interpreter."""

    conda_dependencies: CondaDependencies | None = None
    user_managed_dependencies: bool = False
    interpreter_path: str | None = None
    requirements_text: str | None = None  # set by ``from_pip_requirements``


@dataclass
class DockerSection:
    """Accepted for compatibility; modelyard runs no containers."""

    base_image: str | None = None
    enabled: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Environment:
    """A named set of packages; built into its own virtualenv when deployed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.version: str | None = None
        self.python = PythonSection()
        self.docker = DockerSection()
        self.environment_variables: dict[str, str] = {}
        self.inferencing_stack_version: str | None = None

    @staticmethod
    def from_conda_specification(name: str, file_path: str | os.PathLike[str]) -> Environment:
        """An environment from a conda YAML file."""
        env = Environment(name)
        env.python.conda_dependencies = CondaDependencies(file_path)
        return env

    @staticmethod
    def from_pip_requirements(name: str, file_path: str | os.PathLike[str]) -> Environment:
        """An environment from a pip requirements file."""
        env = Environment(name)
        env.python.requirements_text = Path(file_path).read_text(encoding="utf-8")
        return env

    @staticmethod
    def get(workspace: Workspace, name: str, version: str | None = None) -> Environment:
        """An environment registered in this session; Azure's curated ones do not exist."""
        found = workspace.environments.get(name)
        if found is None:
            raise UserErrorException(
                f"no environment {name!r} was registered in this workspace session: build it "
                "with Environment.from_conda_specification or CondaDependencies"
            )
        return found

    def register(self, workspace: Workspace) -> Environment:
        """Keep the environment for ``Environment.get`` in this session."""
        workspace._environments[self.name] = self
        return self

    def requirements(self) -> Requirements | None:
        """The pip requirements modelyard builds, or None to run with the server's Python."""
        if self.python.user_managed_dependencies:
            return None
        if self.python.requirements_text is not None:
            return Requirements.from_requirements_text(self.python.requirements_text)
        if self.python.conda_dependencies is not None:
            text = self.python.conda_dependencies.serialize_to_string()
            return Requirements.from_conda_yaml(text)
        return None

    def __repr__(self) -> str:
        return f"Environment(name={self.name!r})"
