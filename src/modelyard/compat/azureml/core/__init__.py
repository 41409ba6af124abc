"""``azureml.core``: the names seed 003's notebook imports, over modelyard's SDK."""

from modelyard.compat.azureml.core.conda_dependencies import CondaDependencies
from modelyard.compat.azureml.core.environment import Environment
from modelyard.compat.azureml.core.model import InferenceConfig, Model
from modelyard.compat.azureml.core.webservice import (
    AciWebservice,
    AksWebservice,
    LocalWebservice,
    Webservice,
)
from modelyard.compat.azureml.core.workspace import Workspace

__all__ = [
    "AciWebservice",
    "AksWebservice",
    "CondaDependencies",
    "Environment",
    "InferenceConfig",
    "LocalWebservice",
    "Model",
    "Webservice",
    "Workspace",
]
