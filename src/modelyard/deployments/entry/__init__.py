"""Entry-script endpoints: Azure ML SDK v1's ``init()``/``run()`` contract, unchanged.

Each endpoint runs in child processes of its own (``host``), in its own environment
when it declares one, laid out as Azure lays out a container (``layout``), supervised
and restarted with backoff (``deployment``), followed by each replica (``manager``).
The child speaks azureml-inference-server-http's routes; the replica proxies to it
after checking the key.
"""

from modelyard.deployments.entry.deployment import ScriptDeployment
from modelyard.deployments.entry.host import HostProcess, shim_dir
from modelyard.deployments.entry.layout import AppRoot, lay_out
from modelyard.deployments.entry.manager import ScriptEndpoints
from modelyard.deployments.entry.spec import (
    KIND,
    Resources,
    ScriptSpec,
    deployment_digest,
    is_script,
)

__all__ = [
    "KIND",
    "AppRoot",
    "HostProcess",
    "Resources",
    "ScriptDeployment",
    "ScriptEndpoints",
    "ScriptSpec",
    "deployment_digest",
    "is_script",
    "lay_out",
    "shim_dir",
]
