"""``azureml.core.Workspace``: a modelyard workspace under Azure ML's name."""

from __future__ import annotations

import os
from typing import Any

from modelyard.compat.azureml.core.environment import Environment
from modelyard.compat.azureml.core.model import Model
from modelyard.compat.azureml.core.webservice import Webservice
from modelyard.workspace.root import Workspace as ModelyardWorkspace


class Workspace:
    """The workspace whose ``modelyard.toml`` is found from the current folder up."""

    def __init__(self, workspace: ModelyardWorkspace) -> None:
        self.modelyard = workspace
        self._environments: dict[str, Environment] = {}
        self.keys: dict[str, tuple[str, str]] = {}  # endpoint keys seen in this session

    @staticmethod
    def from_config(
        path: str | os.PathLike[str] | None = None,
        auth: Any = None,
        _logger: Any = None,
        _file_name: str | None = None,
    ) -> Workspace:
        """Azure read ``config.json``; modelyard reads ``modelyard.toml`` (here or above)."""
        return Workspace(ModelyardWorkspace.from_config(path))

    @property
    def name(self) -> str:
        """The workspace folder's name."""
        return self.modelyard.settings.root.name

    @property
    def webservices(self) -> dict[str, Webservice]:
        """Every endpoint of the workspace, by name."""
        return {e.name: Webservice(self, e.name) for e in self.modelyard.endpoints.list()}

    @property
    def models(self) -> dict[str, Model]:
        """The newest version of every model, by name."""
        return {m.name: Model(self, m.name) for m in self.modelyard.models.list()}

    @property
    def environments(self) -> dict[str, Environment]:
        """Environments registered in this session with ``Environment.register``."""
        return dict(self._environments)

    def get_details(self) -> dict[str, Any]:
        """What Azure showed of a workspace, as far as it applies."""
        return {"name": self.name, "location": str(self.modelyard.settings.root)}

    def __repr__(self) -> str:
        return f"Workspace.create(name='{self.name}')"
