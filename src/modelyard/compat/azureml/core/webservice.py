"""``azureml.core.webservice``: a deployed entry-script endpoint, and how to configure one.

``Webservice`` reads the endpoint's row each time (``state`` is always current);
``wait_for_deployment`` follows the replica that builds and starts it. Keys are stored
hashed, so ``get_keys`` knows only keys issued in this session (at deployment or by
``regen_key``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from modelyard.compat.azureml.exceptions import WebserviceException
from modelyard.errors import EndpointNotFound, ModelUnavailable
from modelyard.workspace.endpoints import Endpoint

if TYPE_CHECKING:
    from modelyard.compat.azureml.core.workspace import Workspace

STATES = {
    "creating": "Transitioning",
    "healthy": "Healthy",
    "unhealthy": "Unhealthy",
    "failed": "Failed",
    "deleting": "Deleting",
}
DEFAULT_WAIT_S = 900.0


@dataclass
class DeploymentConfiguration:
    """What ``deploy_configuration`` returns: resources, keys and monitoring switches."""

    compute_type: str
    cpu_cores: float
    memory_gb: float
    auth_enabled: bool
    collect_model_data: bool = False
    scoring_timeout_ms: int | None = None
    workers: int | None = None
    ignored: dict[str, Any] = field(default_factory=dict)


class Webservice:
    """A deployed endpoint as Azure ML SDK v1 code sees it."""

    compute_type = "ACI"

    def __init__(self, workspace: Workspace, name: str) -> None:
        self.workspace = workspace
        self.name = name
        self._endpoint()  # fail now if there is no such endpoint

    def _endpoint(self) -> Endpoint:
        try:
            return self.workspace.modelyard.endpoints.get(self.name)
        except EndpointNotFound:
            raise WebserviceException(
                f"WebserviceNotFound: Webservice with name {self.name} not found in provided "
                "workspace"
            ) from None

    @property
    def state(self) -> str:
        """``Transitioning``, ``Healthy``, ``Unhealthy``, ``Failed`` or ``Deleting``."""
        return STATES.get(self._endpoint().state, self._endpoint().state)

    @property
    def error(self) -> str | None:
        """Why the deployment failed, if it did."""
        return self._endpoint().state_reason

    @property
    def scoring_uri(self) -> str:
        """Where to POST requests."""
        return self._endpoint().scoring_uri

    @property
    def swagger_uri(self) -> str:
        """The generated Swagger document."""
        return self._endpoint().swagger_uri

    @property
    def auth_enabled(self) -> bool:
        """Whether calls need a key."""
        return self._endpoint().auth_enabled

    @property
    def models(self) -> list[str]:
        """The ids (``name:version``) of the models deployed."""
        return list(self._endpoint().models)

    @property
    def created_time(self) -> Any:
        """When the endpoint was created."""
        return self._endpoint().created_at

    def update_deployment_state(self) -> None:
        """Nothing to do: ``state`` is read afresh on each access."""

    def wait_for_deployment(
        self, show_output: bool = False, timeout_sec: float | None = None
    ) -> None:
        """Wait until the endpoint is healthy; raise ``WebserviceException`` if it failed,
        or within 10 s if no modelyard replica serves the workspace to run it (saying how
        to start one)."""
        echo = print if show_output else _quiet
        try:
            done = self.workspace.modelyard.endpoints.wait(
                self.name,
                timeout_s=timeout_sec or DEFAULT_WAIT_S,
                show_output=show_output,
                echo=echo,
            )
        except ModelUnavailable as exc:  # no replica serves the workspace: say so, now
            raise WebserviceException(exc.message) from None
        state = STATES.get(done.state, done.state)
        if done.state == "healthy":
            if show_output:
                print(f"{self.compute_type} service creation operation finished, operation "
                      '"Succeeded"')  # fmt: skip
            return
        if done.state == "failed":
            raise WebserviceException(
                "Service deployment polling reached non-successful terminal state, current "
                f"service state: Failed\nError: {done.state_reason}\nMore information can be "
                "found using '.get_logs()'"
            )
        raise WebserviceException(
            f"the deployment is still {state} after {timeout_sec or DEFAULT_WAIT_S:g} s: a "
            "modelyard replica must run it; is `modelyard serve` or `modelyard up` running for "
            "this workspace?"
        )

    def run(self, input_data: Any) -> Any:
        """POST ``input_data`` (a JSON string, or anything ``json.dumps`` takes) to the
        scoring URI and return the decoded JSON answer, as ``AciWebservice.run`` did."""
        body = input_data if isinstance(input_data, str | bytes) else json.dumps(input_data)
        headers = {"Content-Type": "application/json"}
        if self.auth_enabled:
            headers["Authorization"] = f"Bearer {self.get_keys()[0]}"
        response = httpx.post(self.scoring_uri, content=body, headers=headers, timeout=300)
        if response.status_code == 200:
            return response.json()
        raise WebserviceException(
            "Received bad response from service. More information can be found by calling "
            f"`.get_logs()` on the webservice object.\nResponse Code: {response.status_code}\n"
            f"Headers: {dict(response.headers)}\nContent: {response.content!r}"
        )

    def get_logs(self, num_lines: int = 5000, init: bool = False) -> str:
        """The endpoint's log: environment build, ``init()`` and ``run()`` output, restarts."""
        return self.workspace.modelyard.endpoints.logs(self.name, tail=num_lines)

    def get_keys(self) -> tuple[str, str]:
        """The primary and secondary keys issued in this session."""
        known = self.workspace.keys.get(self.name)
        if known is None:
            raise WebserviceException(
                f"the keys of {self.name} are stored hashed and were not issued in this session: "
                "call regen_key('Primary') (and 'Secondary') to get new ones"
            )
        return known

    def regen_key(self, key: str, set_key: str | None = None) -> None:
        """Issue a new ``Primary`` or ``Secondary`` key (the old one stops working)."""
        slot = key.lower()
        if slot not in ("primary", "secondary") or set_key is not None:
            raise WebserviceException(
                "regen_key takes 'Primary' or 'Secondary' (set_key unsupported)"
            )
        new = self.workspace.modelyard.endpoints.regenerate_key(self.name, slot)
        primary, secondary = self.workspace.keys.get(self.name, ("", ""))
        self.workspace.keys[self.name] = (new, secondary) if slot == "primary" else (primary, new)

    def get_token(self) -> tuple[str, float]:
        """AKS token auth is not offered: keys are."""
        raise WebserviceException("token authentication is not available: use keys (get_keys)")

    def update(
        self,
        models: list[Any] | None = None,
        inference_config: Any = None,
        auth_enabled: bool | None = None,
        **ignored: Any,
    ) -> None:
        """Redeploy with new models, entry script or environment; the old deployment serves
        until the new one is ready (then ``wait_for_deployment`` again)."""
        changes: dict[str, Any] = {}
        if models is not None:
            changes["models"] = [f"{m.name}:{m.version}" for m in models]
        if inference_config is not None:
            changes.update(inference_config.deployment_options())
        if auth_enabled is not None:
            changes["auth_enabled"] = auth_enabled
        self.workspace.modelyard.endpoints.update_script(self.name, **changes)

    def delete(self) -> None:
        """Delete the endpoint: its URI stops answering within a second."""
        self.workspace.modelyard.endpoints.delete(self.name)
        self.workspace.keys.pop(self.name, None)

    def serialize(self) -> dict[str, Any]:
        """A dictionary of what the service is."""
        endpoint = self._endpoint()
        return {
            "name": self.name,
            "computeType": self.compute_type,
            "state": STATES.get(endpoint.state, endpoint.state),
            "scoringUri": endpoint.scoring_uri,
            "swaggerUri": endpoint.swagger_uri,
            "authEnabled": endpoint.auth_enabled,
            "models": list(endpoint.models),
            "error": endpoint.state_reason,
        }

    @staticmethod
    def list(workspace: Workspace, **filters: Any) -> list[Webservice]:
        """Every endpoint of the workspace."""
        return list(workspace.webservices.values())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workspace={self.workspace.name!r}, name={self.name!r})"


class AciWebservice(Webservice):
    """Azure Container Instances: key auth off by default, 0.1 core and 0.5 GB."""

    compute_type = "ACI"

    @staticmethod
    def deploy_configuration(
        cpu_cores: float | None = None,
        memory_gb: float | None = None,
        tags: Any = None,
        properties: Any = None,
        description: str | None = None,
        location: str | None = None,
        auth_enabled: bool | None = None,
        collect_model_data: bool | None = None,
        **ignored: Any,
    ) -> DeploymentConfiguration:
        """Resources and auth of an ACI-like deployment (network and TLS options ignored)."""
        return DeploymentConfiguration(
            "ACI",
            cpu_cores if cpu_cores is not None else 0.1,
            memory_gb if memory_gb is not None else 0.5,
            bool(auth_enabled) if auth_enabled is not None else False,
            collect_model_data=bool(collect_model_data),
            ignored=dict(ignored),
        )


class AksWebservice(Webservice):
    """Azure Kubernetes Service: key auth on by default, 0.1 core and 0.5 GB per replica."""

    compute_type = "AKS"

    @staticmethod
    def deploy_configuration(
        autoscale_enabled: bool | None = None,
        cpu_cores: float | None = None,
        memory_gb: float | None = None,
        auth_enabled: bool | None = None,
        scoring_timeout_ms: int | None = None,
        replica_max_concurrent_requests: int | None = None,
        num_replicas: int | None = None,
        collect_model_data: bool | None = None,
        **ignored: Any,
    ) -> DeploymentConfiguration:
        """Resources, auth and timeout of an AKS-like deployment (autoscale options ignored:
        run more ``modelyard serve`` replicas instead)."""
        return DeploymentConfiguration(
            "AKS",
            cpu_cores if cpu_cores is not None else 0.1,
            memory_gb if memory_gb is not None else 0.5,
            bool(auth_enabled) if auth_enabled is not None else True,
            collect_model_data=bool(collect_model_data),
            scoring_timeout_ms=scoring_timeout_ms,
            ignored={
                "autoscale_enabled": autoscale_enabled,
                "replica_max_concurrent_requests": replica_max_concurrent_requests,
                "num_replicas": num_replicas,
                **ignored,
            },
        )


class LocalWebservice(Webservice):
    """A local deployment: no keys, served by this machine's modelyard replica."""

    compute_type = "Local"

    @staticmethod
    def deploy_configuration(port: int | None = None, **ignored: Any) -> DeploymentConfiguration:
        """No keys, one core; the port is the replica's (``[serve] url``), not the service's."""
        return DeploymentConfiguration("Local", 1.0, 1.0, False, ignored={"port": port, **ignored})


def _quiet(line: str) -> None:
    """Drop a log line."""
