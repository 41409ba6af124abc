"""Workspace settings from ``modelyard.toml``, ``MODELYARD_*`` variables and ``${VAR}``.

``Settings`` is built once at the edge (CLI, server, SDK) and passed down; the
environment is injectable so tests never patch ``os.environ``.

``Secret``, ``SecretURL`` and redaction live in ``modelyard.config.secret``, the
``[executor]`` table in ``modelyard.config.executor``; both are re-exported here.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.config.executor import ExecutorSettings as ExecutorSettings
from modelyard.config.executor import executor_settings as executor_settings
from modelyard.config.monitoring import MonitoringSettings as MonitoringSettings
from modelyard.config.monitoring import monitoring_settings as monitoring_settings
from modelyard.config.secret import Secret as Secret
from modelyard.config.secret import SecretURL as SecretURL
from modelyard.config.secret import redact as redact
from modelyard.config.secret import redact_url as redact_url
from modelyard.config.storage import StorageOptions as StorageOptions
from modelyard.errors import ConfigError, WorkspaceNotFound

CONFIG_FILE = "modelyard.toml"
STATE_DIR = ".modelyard"
DEFAULT_DATABASE_URL = f"sqlite:///{STATE_DIR}/registry.db"
DEFAULT_ARTIFACTS = f"{STATE_DIR}/artifacts"
DEFAULT_SKOPS_TRUSTED = ("sklearn.*", "xgboost.*", "numpy.*", "scipy.sparse.*")

_VAR_RE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (where serving without keys is allowed)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def expand_vars(value: str, env: Mapping[str, str], where: str = "") -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}``; an unset variable without default is an error."""

    def replace(match: re.Match[str]) -> str:
        name, default = match["name"], match["default"]
        if name in env:
            return env[name]
        if default is not None:
            return default
        place = f" in {where}" if where else ""
        raise ConfigError(
            f"environment variable {name} is not set{place}: "
            f"export it or write ${{{name}:-default}}"
        )

    return _VAR_RE.sub(replace, value)


def _expand_tree(node: Any, env: Mapping[str, str], where: str) -> Any:
    if isinstance(node, str):
        return expand_vars(node, env, where)
    if isinstance(node, dict):
        return {k: _expand_tree(v, env, f"{where}.{k}" if where else k) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand_tree(v, env, where) for v in node]
    return node


def find_config(start: Path | None = None) -> Path:
    """Return the ``modelyard.toml`` in ``start`` (default: cwd) or its nearest parent."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
    raise WorkspaceNotFound(
        f"no {CONFIG_FILE} in {here} or any parent folder: "
        "run `modelyard init` to create a workspace"
    )


@dataclass(frozen=True)
class Settings:
    """Everything a workspace needs, typed and resolved.

    Relative paths (SQLite files, the artifact folder) are resolved against
    ``root``, the folder that holds ``modelyard.toml``.
    """

    root: Path
    database_url: SecretURL
    artifacts: str
    admin_key: Secret | None = None
    token: Secret | None = None  # MODELYARD_TOKEN: the person the CLI and SDK act as
    skops_trusted: tuple[str, ...] = DEFAULT_SKOPS_TRUSTED
    sqlite_busy_timeout_s: float = 60.0
    serve_url: str = "http://127.0.0.1:8080"
    env_cache: Path | None = None  # built entry-script environments (default .modelyard/envs)
    cors_origins: tuple[str, ...] = ()  # [serve] origins browsers may score from; () = no CORS
    metrics_public: bool = False  # [serve] /metrics without a key from anywhere, not only loopback
    version_cache_mb: float = 1024.0  # [serve] versions asked for by URL kept loaded, per replica
    sources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    trainings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings)
    storage_options: StorageOptions = field(default_factory=StorageOptions)  # fsspec's
    artifact_cache: Path | None = None  # blobs read from object storage (.modelyard/cache/blobs)

    @property
    def blob_cache(self) -> Path | None:
        """Where blobs read from object storage are kept, so replicas on this machine
        download each once; None for an artifact folder (read in place)."""
        if "://" not in self.artifacts:
            return None
        return self.artifact_cache or self.root / STATE_DIR / "cache" / "blobs"

    @property
    def environments(self) -> Path:
        """Where entry-script environments are built and cached."""
        return self.env_cache or self.root / STATE_DIR / "envs"

    @classmethod
    def load(cls, config_path: Path, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``config_path``, expand ``${VAR}``, then apply ``MODELYARD_*`` overrides."""
        env = os.environ if env is None else env
        try:
            raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read {config_path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path} is not valid TOML: {exc}") from None
        return cls.from_mapping(raw, root=config_path.parent, env=env)

    @classmethod
    def from_mapping(
        cls, raw: Mapping[str, Any], root: Path, env: Mapping[str, str] | None = None
    ) -> Settings:
        """Build settings from an already parsed TOML document."""
        env = os.environ if env is None else env
        doc = _expand_tree(dict(raw), env, "")
        registry = _section(doc, "registry")
        security = _section(doc, "security")
        root = root.resolve()

        url = env.get("MODELYARD_DATABASE_URL") or registry.get(
            "database_url", DEFAULT_DATABASE_URL
        )
        artifacts = env.get("MODELYARD_ARTIFACTS") or registry.get("artifacts", DEFAULT_ARTIFACTS)
        admin_key = env.get("MODELYARD_ADMIN_KEY") or security.get("admin_key")
        token = env.get("MODELYARD_TOKEN")
        trusted_env = env.get("MODELYARD_SKOPS_TRUSTED")
        trusted = (
            [t.strip() for t in trusted_env.split(",") if t.strip()]
            if trusted_env
            else security.get("skops_trusted", list(DEFAULT_SKOPS_TRUSTED))
        )
        if not isinstance(trusted, list) or not all(isinstance(t, str) for t in trusted):
            raise ConfigError("security.skops_trusted must be a list of type patterns")
        serve = _section(doc, "serve")
        serve_url = env.get("MODELYARD_URL") or serve.get("url", "http://127.0.0.1:8080")
        env_cache = env.get("MODELYARD_ENV_CACHE") or serve.get("env_cache")
        blob_cache = env.get("MODELYARD_ARTIFACT_CACHE") or registry.get("artifact_cache")
        cors_env = env.get("MODELYARD_CORS_ORIGINS")
        cors = cors_env.split(",") if cors_env is not None else serve.get("cors_origins", [])
        if not isinstance(cors, list) or not all(isinstance(o, str) for o in cors):
            raise ConfigError("serve.cors_origins must be a list of origins")
        metrics_public = serve.get("metrics_public", False)
        if not isinstance(metrics_public, bool):
            raise ConfigError("serve.metrics_public must be true or false")
        cache_mb = serve.get("version_cache_mb", 1024.0)
        if not isinstance(cache_mb, int | float) or isinstance(cache_mb, bool) or cache_mb < 0:
            raise ConfigError("serve.version_cache_mb must be a number of megabytes, 0 or more")
        timeout = registry.get("sqlite_busy_timeout_s", 60.0)
        if not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigError("registry.sqlite_busy_timeout_s must be a positive number of seconds")
        return cls(
            root=root,
            database_url=SecretURL(_resolve_sqlite(str(url), root)),
            artifacts=_resolve_artifacts(str(artifacts), root),
            admin_key=Secret(str(admin_key)) if admin_key else None,
            token=Secret(token) if token else None,
            skops_trusted=tuple(trusted),
            sqlite_busy_timeout_s=float(timeout),
            serve_url=str(serve_url).rstrip("/"),
            env_cache=(root / Path(str(env_cache)).expanduser()) if env_cache else None,
            cors_origins=tuple(o.strip() for o in cors if o.strip()),
            metrics_public=metrics_public,
            version_cache_mb=float(cache_mb),
            sources=_section(doc, "sources"),
            trainings=_section(doc, "trainings"),
            executor=executor_settings(_section(doc, "executor"), env),
            storage_options=StorageOptions.parse(registry.get("storage_options")),
            artifact_cache=(root / Path(str(blob_cache)).expanduser()) if blob_cache else None,
            monitoring=monitoring_settings(
                _section(doc, "monitoring"),
                _section(doc, "endpoints"),
                env,
                resolve=lambda url: _resolve_sqlite(url, root),
            ),
        )


def _section(doc: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] in {CONFIG_FILE} must be a table")
    return value


def _resolve_sqlite(url: str, root: Path) -> str:
    """Make a relative ``sqlite:///path`` absolute against the workspace root."""
    prefix = next((p for p in ("sqlite:///", "sqlite+pysqlite:///") if url.startswith(p)), None)
    if prefix is None:
        return url
    path = url[len(prefix) :]
    if not path or path.startswith(":memory:") or path.startswith("/"):
        return url
    return prefix + str(root / path)


def _resolve_artifacts(location: str, root: Path) -> str:
    """Make a relative folder absolute; leave URIs (``s3://``, ``memory://``) alone."""
    if "://" in location:
        if location.startswith("file://"):
            return location[len("file://") :]
        return location
    path = Path(location).expanduser()
    return str(path if path.is_absolute() else root / path)


def default_config_text() -> str:
    """The ``modelyard.toml`` that ``modelyard init`` writes."""
    return f"""\
# modelyard workspace. Environment variables override these values
# (MODELYARD_DATABASE_URL, MODELYARD_ARTIFACTS, MODELYARD_ADMIN_KEY);
# ${{VAR}} and ${{VAR:-default}} are expanded anywhere in this file.

[registry]
# Any SQLAlchemy URL: postgresql+psycopg://user:${{DB_PASSWORD}}@host/db, mysql+pymysql://...
database_url = "{DEFAULT_DATABASE_URL}"
# A folder, or object storage: s3://bucket/prefix (pip install 'modelyard[s3]'),
# abfs://container/prefix (pip install 'modelyard[azure]'); see docs/production.md
artifacts = "{DEFAULT_ARTIFACTS}"

[security]
# admin_key = "${{MODELYARD_ADMIN_KEY}}"
# Types a .skops file may contain (fnmatch patterns). Never read from the artifact itself.
skops_trusted = {list(DEFAULT_SKOPS_TRUSTED)!r}

[serve]
# Where `modelyard serve` listens; scoring URIs are built from it (MODELYARD_URL overrides).
url = "http://127.0.0.1:8080"
# Virtual environments built for entry-script endpoints, shared by endpoints with the
# same requirements (MODELYARD_ENV_CACHE overrides). Default: .modelyard/envs
# env_cache = "~/.cache/modelyard/envs"
# Origins whose pages may call the scoring routes from a browser (CORS; default: none;
# MODELYARD_CORS_ORIGINS="https://a,https://b" overrides).
# cors_origins = ["https://app.example.com"]
# /metrics (Prometheus) answers loopback without a key, anyone else with the admin key;
# true opens it to every address.
# metrics_public = false
# Versions asked for by URL (/endpoints/E/versions/V/score, /endpoints/E@alias/score) stay
# loaded up to this many MB per replica, least recently used unloaded first.
# version_cache_mb = 1024

# [sources.immo_db]
# url = "sqlite:///data/immo.db"

# [trainings.immo]
# model = "immo"
# source = "immo_db"
# query = "SELECT surface, prix FROM immo"
# target = "prix"
# estimator = "sklearn.linear_model.LinearRegression"
# promotion = {{ metric = "r2", min = 0.8, policy = "latest-passing" }}
"""  # noqa: S608  # TOML text, not SQL


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
            )
        except ValueError as exc:
            raise ConfigError(f"invalid MODELYARD_SERVE_* variable: {exc}") from None
