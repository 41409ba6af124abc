"""``[executor]``: where training fits run, and the checks that keep Ray authenticated.

``local`` (the default) fits in the training process; ``ray`` fits on a Ray cluster
reached only as a Ray Client (``ray://HEAD:10001``) and only with a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelyard.config.secret import Secret
from modelyard.errors import ConfigError


@dataclass(frozen=True)
class ExecutorSettings:
    """``[executor]``: where training fits run. ``ray`` always has an address and a token."""

    kind: str = "local"
    address: str | None = None  # ray://head:10001 (Ray Client)
    token: Secret | None = None  # prints as ***


def executor_settings(section: Mapping[str, Any], env: Mapping[str, str]) -> ExecutorSettings:
    """Parse ``[executor]``; ``MODELYARD_EXECUTOR``, ``MODELYARD_RAY_ADDRESS`` and
    ``MODELYARD_RAY_TOKEN`` (or Ray's own ``RAY_AUTH_TOKEN``) override it.

    Raises ConfigError for a Ray address that is not ``ray://host:port`` or that comes
    without a token: modelyard never talks to a Ray cluster without authentication.
    """
    kind = str(env.get("MODELYARD_EXECUTOR") or section.get("kind", "local"))
    if kind not in ("local", "ray"):
        raise ConfigError(f'[executor] kind must be "local" or "ray", not {kind!r}')
    if kind == "local":
        return ExecutorSettings()
    address = str(env.get("MODELYARD_RAY_ADDRESS") or section.get("address") or "")
    if not address:
        raise ConfigError(
            '[executor] kind = "ray" needs the cluster\'s Ray Client address: set '
            'address = "ray://HEAD:10001" in [executor] or MODELYARD_RAY_ADDRESS'
        )
    host_port = address.removeprefix("ray://")
    if not address.startswith("ray://") or ":" not in host_port or "@" in host_port:
        raise ConfigError(
            f"Ray address {address!r} is not a Ray Client address (ray://HEAD:10001): "
            "modelyard reaches a Ray cluster only as a client, so that it never starts or "
            "joins one and never listens beyond loopback itself"
        )
    token = env.get("MODELYARD_RAY_TOKEN") or section.get("token") or env.get("RAY_AUTH_TOKEN")
    if not token:
        raise ConfigError(
            f"the Ray cluster at {address} would be reached without authentication, which "
            "modelyard refuses: run the cluster with RAY_AUTH_MODE=token and give modelyard "
            "its token in MODELYARD_RAY_TOKEN (or RAY_AUTH_TOKEN, or "
            '[executor] token = "${RAY_TOKEN}")'
        )
    return ExecutorSettings(kind="ray", address=address, token=Secret(str(token)))
