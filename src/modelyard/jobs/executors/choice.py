"""The executor a workspace's ``[executor]`` table names."""

from __future__ import annotations

from modelyard.config.executor import ExecutorSettings
from modelyard.errors import ConfigError
from modelyard.jobs.executors.base import Executor
from modelyard.jobs.executors.local import LocalExecutor


def build_executor(settings: ExecutorSettings) -> Executor:
    """The executor ``[executor]`` names; connects to nothing until its first ``submit``.

    Raises ConfigError if ``kind = "ray"`` and Ray is not installed.
    """
    if settings.kind == "local":
        return LocalExecutor()
    if settings.address is None or settings.token is None:  # Settings refuse this already
        raise ConfigError('[executor] kind = "ray" needs an address and a token')
    try:
        # Ray is an optional extra: imported only when a workspace asks for it.
        from modelyard.jobs.executors.ray import RayExecutor
    except ImportError as exc:
        raise ConfigError(
            f'[executor] kind = "ray" but Ray cannot be imported ({exc}): '
            "pip install 'modelyard[ray]'"
        ) from None
    return RayExecutor(settings.address, settings.token)
