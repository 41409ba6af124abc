"""``azureml.core.conda_dependencies.CondaDependencies``: the conda file of an environment.

Kept as plain lists and written as the YAML Azure ML wrote, which modelyard's
environment builder reads back (conda lines become pip requirements; the
``azureml-defaults`` line is dropped, since modelyard supplies those names itself).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from modelyard.deployments.env.conda import parse_conda_yaml

DEFAULT_CHANNELS = ("anaconda", "conda-forge")
SDK_PIP_PACKAGE = "azureml-defaults"


def _name_of(spec: str) -> str:
    for separator in ("==", ">=", "<=", "!=", "~=", "=", ">", "<", " ", "["):
        spec = spec.split(separator, 1)[0]
    return spec.strip().lower()


class CondaDependencies:
    """Conda and pip packages, channels and the python version of an environment."""

    def __init__(self, conda_dependencies_file_path: str | os.PathLike[str] | None = None) -> None:
        self.name = "project_environment"
        self._python = f"python={platform.python_version()}"
        self._conda: list[str] = []
        self._pip: list[str] = [SDK_PIP_PACKAGE]
        self._channels: list[str] = list(DEFAULT_CHANNELS)
        if conda_dependencies_file_path is not None:
            self._load(Path(conda_dependencies_file_path).read_text(encoding="utf-8"))

    def _load(self, text: str) -> None:
        document = parse_conda_yaml(text)
        self.name = document.name or self.name
        self._channels = list(document.channels)
        self._pip = list(document.pip)
        self._conda = []
        for item in document.dependencies:
            if _name_of(item) == "python":
                self._python = item
            elif _name_of(item) != "pip":
                self._conda.append(item)

    @staticmethod
    def create(
        pip_packages: list[str] | None = None,
        conda_packages: list[str] | None = None,
        python_version: str | None = None,
        pin_sdk_version: bool = True,
    ) -> CondaDependencies:
        """A new specification with these packages."""
        made = CondaDependencies()
        if python_version:
            made.set_python_version(python_version)
        for package in conda_packages or ():
            made.add_conda_package(package)
        for package in pip_packages or ():
            made.add_pip_package(package)
        return made

    @property
    def conda_packages(self) -> list[str]:
        """The conda packages, python excluded."""
        return list(self._conda)

    @property
    def pip_packages(self) -> list[str]:
        """The pip packages."""
        return list(self._pip)

    @property
    def conda_channels(self) -> list[str]:
        """The channels (modelyard installs from the server's pip indexes regardless)."""
        return list(self._channels)

    def set_python_version(self, version: str) -> None:
        """Ask for a python version (informational: the server's interpreter builds it)."""
        self._python = f"python={version}"

    def get_python_version(self) -> str:
        """The python version asked for."""
        return self._python.split("=", 1)[1]

    def add_conda_package(self, conda_package: str) -> None:
        """Add (or replace, by name) a conda package such as ``scikit-learn=1.5.2``."""
        self._conda = [p for p in self._conda if _name_of(p) != _name_of(conda_package)]
        self._conda.append(conda_package)

    def add_pip_package(self, pip_package: str) -> None:
        """Add (or replace, by name) a pip requirement such as ``xgboost==2.1.1``."""
        self._pip = [p for p in self._pip if _name_of(p) != _name_of(pip_package)]
        self._pip.append(pip_package)

    def remove_conda_package(self, conda_package: str) -> None:
        """Remove a conda package by name."""
        self._conda = [p for p in self._conda if _name_of(p) != _name_of(conda_package)]

    def remove_pip_package(self, pip_package: str) -> None:
        """Remove a pip package by name."""
        self._pip = [p for p in self._pip if _name_of(p) != _name_of(pip_package)]

    def add_channel(self, channel: str) -> None:
        """Add a conda channel."""
        if channel not in self._channels:
            self._channels.append(channel)

    def serialize_to_string(self) -> str:
        """The conda YAML, as Azure ML wrote it."""
        lines = [
            "# Conda environment specification. The dependencies defined in this file will",
            "# be automatically provisioned for runs with userManagedDependencies=False.",
            "",
            f"name: {self.name}",
            "dependencies:",
            "  # The python interpreter version.",
            f"- {self._python}",
            "",
        ]
        if self._pip:
            lines += ["- pip:"] + [f"  - {package}" for package in self._pip]
        lines += [f"- {package}" for package in self._conda]
        if self._channels:
            lines += ["channels:"] + [f"- {channel}" for channel in self._channels]
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write the YAML to ``path``; returns it."""
        Path(path).write_text(self.serialize_to_string(), encoding="utf-8")
        return str(path)

    def save_to_file(
        self, base_directory: str | os.PathLike[str], conda_file_path: str | None = None
    ) -> str:
        """Write the YAML under ``base_directory`` (as ``conda_dependencies.yml``)."""
        return self.save(Path(base_directory) / (conda_file_path or "conda_dependencies.yml"))
