"""modelyard: train scikit-learn and XGBoost models from SQL, version them, gate their
promotion, serve them and watch them.

``import modelyard`` loads no heavy library: ``Workspace`` (and with it SQLAlchemy,
scikit-learn, pandas...) is imported on first use (PEP 562), so the CLI starts at once.
"""

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
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


def __getattr__(name: str) -> object:
    """``modelyard.Workspace``, imported when first asked for."""
    if name == "Workspace":
        from modelyard.workspace.root import Workspace  # the heavy part, on first use

        return Workspace
    raise AttributeError(f"module 'modelyard' has no attribute {name!r}")
