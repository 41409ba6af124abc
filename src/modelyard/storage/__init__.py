"""Persistence: the registry database (engine, schema, migrations) and the artifact store."""

from modelyard.storage.artifacts import ArtifactStore, BlobInfo, safe_relative_name
from modelyard.storage.engine import Database
from modelyard.storage.migrate import upgrade

__all__ = ["ArtifactStore", "BlobInfo", "Database", "safe_relative_name", "upgrade"]
