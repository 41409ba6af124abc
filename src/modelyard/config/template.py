"""The ``modelyard.toml`` that ``modelyard init`` writes."""

from __future__ import annotations

from modelyard.config.locations import DEFAULT_ARTIFACTS, DEFAULT_DATABASE_URL
from modelyard.config.settings import DEFAULT_SKOPS_TRUSTED


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
# TLS for `modelyard serve` (HTTPS, and gRPC with --grpc-port): PEM files, both or neither.
# tls_cert = "certs/server.pem"
# tls_key = "certs/server.key"

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
