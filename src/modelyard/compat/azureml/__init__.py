"""The Azure ML SDK v1 names that deployments use, over modelyard's SDK.

A notebook written for ``azureml-core`` runs once its imports read
``from modelyard.compat.azureml.core import Workspace`` (and so on): models are
registered in the workspace's registry, ``Model.deploy`` creates an entry-script
endpoint, and the returned ``Webservice`` is waited on, called and deleted as on
Azure. Nothing of Microsoft's SDK is bundled or needed.
"""

from modelyard.compat.azureml.core import (
    Environment,
    InferenceConfig,
    Model,
    Webservice,
    Workspace,
)
from modelyard.compat.azureml.exceptions import WebserviceException

__all__ = [
    "Environment",
    "InferenceConfig",
    "Model",
    "Webservice",
    "WebserviceException",
    "Workspace",
]
