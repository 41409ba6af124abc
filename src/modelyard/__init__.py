"""modelyard: train scikit-learn and XGBoost models from SQL, version them, gate their
promotion, serve them and watch them."""

from modelyard.config.secret import Secret, SecretURL
from modelyard.config.settings import Settings
from modelyard.errors import (
    AliasMoved,
    AliasNotFound,
    ArtifactError,
    ConfigError,
    Conflict,
    HashMismatch,
    InvalidInput,
    ModelNotFound,
    ModelyardError,
    NotFound,
    PickleNotAllowed,
    SignatureChanged,
    StorageError,
    UnsafePath,
    UntrustedTypes,
    VersionNotFound,
    WorkspaceNotFound,
)
from modelyard.registry.records import Event, Model, ModelVersion
from modelyard.types import ColumnSpec, ModelRef, Signature
from modelyard.workspace.root import Workspace

__version__ = "0.1.0"

__all__ = [
    "AliasMoved",
    "AliasNotFound",
    "ArtifactError",
    "ColumnSpec",
    "ConfigError",
    "Conflict",
    "Event",
    "HashMismatch",
    "InvalidInput",
    "Model",
    "ModelNotFound",
    "ModelRef",
    "ModelVersion",
    "ModelyardError",
    "NotFound",
    "PickleNotAllowed",
    "Secret",
    "SecretURL",
    "Settings",
    "Signature",
    "SignatureChanged",
    "StorageError",
    "UnsafePath",
    "UntrustedTypes",
    "VersionNotFound",
    "Workspace",
    "WorkspaceNotFound",
    "__version__",
]
