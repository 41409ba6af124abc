"""How ``modelyard serve`` runs: its options, carried to each server worker through the
environment, and the loopback test that decides whether keys may be skipped."""

from __future__ import annotations

import functools
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass

from modelyard.errors import ConfigError


@functools.lru_cache(maxsize=256)
@functools.lru_cache(maxsize=256)
def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (where serving without keys is allowed).
    Cached: it is asked of each request's local address, a handful of distinct values."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeOptions:
    """How ``modelyard serve`` runs; handed to each server worker through the environment."""

    root: str = ""
    endpoints: tuple[str, ...] = ()
    require_keys: bool = True
    max_body_bytes: int = 16 * 1024 * 1024
    max_in_flight: int = 64
    timeout_s: float = 30.0
    drain_s: float = 5.0  # after SIGTERM: seconds not-ready but serving, before the listener closes
    mlflow_compat: bool = False  # MLflow's routes at the root, for the one endpoint served
    host: str = "127.0.0.1"  # the interface bound: the admin API answers to it as a Host name
    allowed_hosts: tuple[str, ...] = ()  # more Host names the admin API answers to (a proxy's)
    grpc_port: int = 0  # the Open Inference Protocol over gRPC on this port too (0: off)
    body_timeout_s: float = 10.0  # an admitted request's body must arrive whole within it
    supervisor: int = 0  # the pid of the ``serve`` process of several workers (0: one)

    def __post_init__(self) -> None:
        """Refuse values that would lock every request out or never time out."""
        mib = self.max_body_bytes / 1048576
        checks = (
            (self.max_body_bytes >= 1, f"--max-body-mb must be above 0, not {mib:g}"),
            (
                self.max_in_flight >= 1,
                f"--max-in-flight must be at least 1, not {self.max_in_flight}",
            ),
            (
                0 < self.timeout_s < 86400,
                f"--timeout must be above 0 s and below a day, not {self.timeout_s:g}",
            ),
            (
                0 < self.body_timeout_s <= 3600,
                f"--body-timeout must be above 0 and at most 3600 s, not {self.body_timeout_s:g}",
            ),
            (0 <= self.drain_s <= 3600, f"--drain-seconds must be 0 to 3600, not {self.drain_s:g}"),
        )
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    def to_env(self) -> dict[str, str]:
        """The ``MODELYARD_*`` variables that carry these options to worker processes."""
        return {
            "MODELYARD_WORKSPACE": self.root,
            "MODELYARD_SERVE_ENDPOINTS": ",".join(self.endpoints),
            "MODELYARD_SERVE_KEYS": "1" if self.require_keys else "0",
            "MODELYARD_SERVE_MAX_BODY": str(self.max_body_bytes),
            "MODELYARD_SERVE_MAX_IN_FLIGHT": str(self.max_in_flight),
            "MODELYARD_SERVE_TIMEOUT": str(self.timeout_s),
            "MODELYARD_SERVE_DRAIN": str(self.drain_s),
            "MODELYARD_SERVE_MLFLOW": "1" if self.mlflow_compat else "0",
            "MODELYARD_SERVE_HOST": self.host,
            "MODELYARD_SERVE_ALLOWED_HOSTS": ",".join(self.allowed_hosts),
            "MODELYARD_SERVE_GRPC_PORT": str(self.grpc_port),
            "MODELYARD_SERVE_BODY_TIMEOUT": str(self.body_timeout_s),
            "MODELYARD_SERVE_SUPERVISOR": str(self.supervisor),
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServeOptions:
        """Read the options :meth:`to_env` wrote (defaults where absent)."""
        env = os.environ if env is None else env
        default = cls()
        try:
            return cls(
                root=env.get("MODELYARD_WORKSPACE", ""),
                endpoints=tuple(
                    n for n in env.get("MODELYARD_SERVE_ENDPOINTS", "").split(",") if n
                ),
                require_keys=env.get("MODELYARD_SERVE_KEYS", "1") != "0",
                max_body_bytes=int(env.get("MODELYARD_SERVE_MAX_BODY", default.max_body_bytes)),
                max_in_flight=int(env.get("MODELYARD_SERVE_MAX_IN_FLIGHT", default.max_in_flight)),
                timeout_s=float(env.get("MODELYARD_SERVE_TIMEOUT", default.timeout_s)),
                drain_s=float(env.get("MODELYARD_SERVE_DRAIN", default.drain_s)),
                mlflow_compat=env.get("MODELYARD_SERVE_MLFLOW", "0") == "1",
                host=env.get("MODELYARD_SERVE_HOST", default.host),
                allowed_hosts=tuple(
                    h for h in env.get("MODELYARD_SERVE_ALLOWED_HOSTS", "").split(",") if h
                ),
                grpc_port=int(env.get("MODELYARD_SERVE_GRPC_PORT", default.grpc_port)),
                body_timeout_s=float(
                    env.get("MODELYARD_SERVE_BODY_TIMEOUT", default.body_timeout_s)
                ),
                supervisor=int(env.get("MODELYARD_SERVE_SUPERVISOR", default.supervisor)),
            )
        except ValueError as exc:
            raise ConfigError(f"invalid MODELYARD_SERVE_* variable: {exc}") from None
