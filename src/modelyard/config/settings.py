"""``Settings``: everything a workspace needs, typed and resolved, built once at the edge
(CLI, server, SDK) from ``modelyard.toml``, ``MODELYARD_*`` variables and ``${VAR}``, and
passed down. The environment is injectable so tests never patch ``os.environ``."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.config.executor import ExecutorSettings, executor_settings
from modelyard.config.locations import (
    CONFIG_FILE,
    DEFAULT_ARTIFACTS,
    DEFAULT_DATABASE_URL,
    STATE_DIR,
    resolve_artifacts,
    resolve_sqlite,
)
from modelyard.config.monitoring import MonitoringSettings, monitoring_settings
from modelyard.config.secret import Secret, SecretURL
from modelyard.config.storage import StorageOptions
from modelyard.config.variables import expand_tree
from modelyard.errors import ConfigError

DEFAULT_SKOPS_TRUSTED = ("sklearn.*", "xgboost.*", "numpy.*", "scipy.sparse.*")


# What `modelyard init` writes as [serve] url: `serve --port` overrides it in scoring URIs.
DEFAULT_SERVE_URL = "http://127.0.0.1:8080"


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
    serve_url: str = DEFAULT_SERVE_URL
    # MODELYARD_URL, or a [serve] url other than the default: scoring URIs name it (a proxy,
    # a load balancer) even where `serve --port` listens elsewhere
    serve_url_explicit: bool = False
    env_cache: Path | None = None  # built entry-script environments (default .modelyard/envs)
    cors_origins: tuple[str, ...] = ()  # [serve] origins browsers may score from; () = no CORS
    metrics_public: bool = False  # [serve] /metrics without a key from anywhere, not only loopback
    version_cache_mb: float = 1024.0  # [serve] versions asked for by URL kept loaded, per replica
    tls_cert: Path | None = None  # [serve] PEM certificate chain: HTTPS and gRPC over TLS
    tls_key: Path | None = None  # [serve] its PEM private key
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
        doc = expand_tree(dict(raw), env, "")
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
        serve_url = env.get("MODELYARD_URL") or serve.get("url", DEFAULT_SERVE_URL)
        explicit = bool(env.get("MODELYARD_URL")) or serve.get("url", DEFAULT_SERVE_URL) not in (
            DEFAULT_SERVE_URL,
            DEFAULT_SERVE_URL + "/",
        )
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
        tls_cert, tls_key = serve.get("tls_cert"), serve.get("tls_key")
        if bool(tls_cert) != bool(tls_key):
            raise ConfigError("serve.tls_cert and serve.tls_key go together: set both or neither")
        timeout = registry.get("sqlite_busy_timeout_s", 60.0)
        if not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigError("registry.sqlite_busy_timeout_s must be a positive number of seconds")
        return cls(
            root=root,
            database_url=SecretURL(resolve_sqlite(str(url), root)),
            artifacts=resolve_artifacts(str(artifacts), root),
            admin_key=Secret(str(admin_key)) if admin_key else None,
            token=Secret(token) if token else None,
            skops_trusted=tuple(trusted),
            sqlite_busy_timeout_s=float(timeout),
            serve_url=str(serve_url).rstrip("/"),
            serve_url_explicit=explicit,
            env_cache=(root / Path(str(env_cache)).expanduser()) if env_cache else None,
            cors_origins=tuple(o.strip() for o in cors if o.strip()),
            metrics_public=metrics_public,
            version_cache_mb=float(cache_mb),
            tls_cert=(root / Path(str(tls_cert)).expanduser()) if tls_cert else None,
            tls_key=(root / Path(str(tls_key)).expanduser()) if tls_key else None,
            sources=_section(doc, "sources"),
            trainings=_section(doc, "trainings"),
            executor=executor_settings(_section(doc, "executor"), env),
            storage_options=StorageOptions.parse(registry.get("storage_options")),
            artifact_cache=(root / Path(str(blob_cache)).expanduser()) if blob_cache else None,
            monitoring=monitoring_settings(
                _section(doc, "monitoring"),
                _section(doc, "endpoints"),
                env,
                resolve=lambda url: resolve_sqlite(url, root),
            ),
        )


def _section(doc: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] in {CONFIG_FILE} must be a table")
    return value
