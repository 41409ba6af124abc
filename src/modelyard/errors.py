"""The one exception hierarchy of modelyard.

Every error carries a stable ``code`` (what a client or a script matches on)
and a message that says what to fix. The web layer maps codes to HTTP statuses
in one table; the CLI prints ``error[code]: message`` on one line.

    ModelyardError
    ├── ConfigError                 config_invalid, workspace_not_found
    ├── NotFound                    not_found
    │   ├── ModelNotFound           model_not_found
    │   ├── VersionNotFound         version_not_found
    │   ├── AliasNotFound           alias_not_found
    │   ├── RunNotFound             run_not_found
    │   ├── EndpointNotFound        endpoint_not_found
    │   └── JobNotFound             job_not_found
    ├── RunCancelled                run_cancelled
    ├── Conflict                    conflict
    │   ├── AliasMoved              alias_moved
    │   ├── NothingToRollBack       nothing_to_roll_back
    │   └── PackageMismatch         package_mismatch
    ├── InvalidInput                invalid_input, missing_column, bad_value, …
    │   ├── InvalidReference        invalid_reference
    │   ├── UnsupportedMediaType    unsupported_media_type
    │   ├── PayloadTooLarge         payload_too_large
    │   ├── HeadersTooLarge         headers_too_large
    │   ├── BodyTimeout             body_timeout
    │   ├── ModelFailed             model_error
    │   ├── ScriptFailed            script_failed
    │   ├── SignatureChanged        signature_changed
    │   └── EnvironmentBuildFailed  environment_build_failed
    ├── ArtifactError               artifact_error
    │   ├── UnsafePath              unsafe_path
    │   ├── ArtifactMissing         artifact_missing
    │   ├── HashMismatch            hash_mismatch
    │   ├── UntrustedTypes          untrusted_types
    │   ├── PickleNotAllowed        pickle_not_allowed
    │   └── UnsupportedFormat       unsupported_format
    ├── SourceError                 source_error
    │   ├── SourceUnreachable       source_unreachable
    │   └── QueryFailed             query_failed
    ├── StorageError                storage_unavailable
    │   └── ArtifactStoreUnavailable artifact_store_unavailable
    ├── ExecutorUnavailable         executor_unavailable
    ├── DeliveryFailed              delivery_failed
    ├── Unauthorized                unauthorized
    ├── Forbidden                   forbidden
    ├── Overloaded                  overloaded
    ├── ScoringTimeout              timeout
    ├── ModelUnavailable            model_unavailable
    ├── MethodNotAllowed            method_not_allowed
    ├── CorsRefused                 cors_refused
    └── InternalError               internal
"""

from __future__ import annotations

from typing import Any, ClassVar


class ModelyardError(Exception):
    """Base of every error modelyard raises on purpose."""

    code: ClassVar[str] = "modelyard_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form: ``{"code", "message", **details}``."""
        return {"code": self.code, "message": self.message, **self.details}


class ConfigError(ModelyardError):
    """The workspace configuration is missing, unreadable or invalid."""

    code = "config_invalid"


class WorkspaceNotFound(ConfigError):
    """No ``modelyard.toml`` in the folder or any parent."""

    code = "workspace_not_found"


class NotFound(ModelyardError):
    """A named thing does not exist."""

    code = "not_found"


class ModelNotFound(NotFound):
    """No model of that name."""

    code = "model_not_found"


class VersionNotFound(NotFound):
    """The model exists but not that version."""

    code = "version_not_found"


class AliasNotFound(NotFound):
    """The alias points at no version (for example, nothing promoted yet)."""

    code = "alias_not_found"


class RunNotFound(NotFound):
    """No training run with that id."""

    code = "run_not_found"


class EndpointNotFound(NotFound):
    """No endpoint of that name."""

    code = "endpoint_not_found"


class JobNotFound(NotFound):
    """No job with that id."""

    code = "job_not_found"


class RunCancelled(ModelyardError):
    """A run was cancelled while it ran; it stops at its next stage."""

    code = "run_cancelled"


class Conflict(ModelyardError):
    """The request clashes with the current state."""

    code = "conflict"


class AliasMoved(Conflict):
    """A compare-and-swap on an alias lost the race: it moved meanwhile."""

    code = "alias_moved"


class NothingToRollBack(Conflict):
    """The alias has no earlier version to return to."""

    code = "nothing_to_roll_back"


class InvalidInput(ModelyardError):
    """Input that cannot be used as given; ``row`` and ``column`` say where."""

    code = "invalid_input"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        row: int | None = None,
        column: str | None = None,
        **details: Any,
    ) -> None:
        if row is not None:
            details["row"] = row
        if column is not None:
            details["column"] = column
        super().__init__(message, **details)
        if code is not None:
            self.code = code  # type: ignore[misc]  # a per-instance refinement of the class code


class InvalidReference(InvalidInput):
    """A model reference that is not ``name``, ``name@alias`` or ``name:version``."""

    code = "invalid_reference"


class UnsupportedMediaType(InvalidInput):
    """A request body in a format other than JSON, CSV, Parquet/Arrow or V2 binary."""

    code = "unsupported_media_type"


class PayloadTooLarge(InvalidInput):
    """A request body over the server's limit."""

    code = "payload_too_large"


class HeadersTooLarge(InvalidInput):
    """A request line and headers over the server's limit."""

    code = "headers_too_large"


class BodyTimeout(InvalidInput):
    """A request body that did not arrive within the server's read timeout."""

    code = "body_timeout"


class ModelFailed(InvalidInput):
    """The model raised on rows that fit its signature (e.g. a category it refuses)."""

    code = "model_error"


class ScriptFailed(InvalidInput):
    """A user's training script raised; its traceback is in the run's logs."""

    code = "script_failed"


class SignatureChanged(InvalidInput):
    """A promotion would break callers: columns removed or retyped."""

    code = "signature_changed"


class ArtifactError(ModelyardError):
    """An artifact cannot be stored or loaded safely."""

    code = "artifact_error"


class UnsafePath(ArtifactError):
    """A name that would escape the artifact store or its target folder."""

    code = "unsafe_path"


class ArtifactMissing(ArtifactError):
    """The registry names an artifact the store does not hold."""

    code = "artifact_missing"


class HashMismatch(ArtifactError):
    """The bytes read are not the bytes registered."""

    code = "hash_mismatch"


class UntrustedTypes(ArtifactError):
    """A skops file holds types outside the workspace allow-list."""

    code = "untrusted_types"


class PickleNotAllowed(ArtifactError):
    """A pickle or joblib file that was not registered with ``allow_pickle``."""

    code = "pickle_not_allowed"


class UnsupportedFormat(ArtifactError):
    """A file format or flavour modelyard cannot load."""

    code = "unsupported_format"


class SourceError(ModelyardError):
    """A data source could not be read or written."""

    code = "source_error"


class SourceUnreachable(SourceError):
    """The source's database cannot be reached or refused the login."""

    code = "source_unreachable"


class QueryFailed(SourceError):
    """The database refused the query; its own message and the query are given."""

    code = "query_failed"


class StorageError(ModelyardError):
    """The registry database cannot be reached or refused the operation."""

    code = "storage_unavailable"


class ArtifactStoreUnavailable(StorageError):
    """The artifact store (object storage) cannot be reached or refused the operation."""

    code = "artifact_store_unavailable"


class Unauthorized(ModelyardError):
    """No key, or a key that is not the endpoint's (or the admin's)."""

    code = "unauthorized"


class Forbidden(ModelyardError):
    """A valid key that may not call this route (a score key on an admin route)."""

    code = "forbidden"


class Overloaded(ModelyardError):
    """Too many requests in flight: retry after a moment."""

    code = "overloaded"


class ScoringTimeout(ModelyardError):
    """The model took longer than the endpoint's timeout."""

    code = "timeout"


class ModelUnavailable(ModelyardError):
    """The endpoint has no loaded model (nothing promoted yet, or it failed to load)."""

    code = "model_unavailable"


class NotReady(ModelUnavailable):
    """The replica is starting, or an endpoint it serves cannot answer yet (readiness)."""

    code = "not_ready"


class PackageMismatch(Conflict):
    """The serving environment's scikit-learn, xgboost or numpy differs in major or minor
    version from what the model was trained with; ``details["mismatches"]`` lists each."""

    code = "package_mismatch"


class EnvironmentBuildFailed(InvalidInput):
    """An endpoint's declared environment could not be built; the message ends with the
    package manager's own last lines and ``details`` hold the requirements and log path."""

    code = "environment_build_failed"


class ExecutorUnavailable(ModelyardError):
    """The configured executor (a Ray cluster) cannot be reached or lost the work in hand."""

    code = "executor_unavailable"


class DeliveryFailed(ModelyardError):
    """A webhook's receiver did not answer 2xx (its status or the network error is said)."""

    code = "delivery_failed"


class MethodNotAllowed(ModelyardError):
    """The route exists but not for this HTTP method."""

    code = "method_not_allowed"


class CorsRefused(ModelyardError):
    """A CORS preflight from an origin, method or header the server does not allow."""

    code = "cors_refused"


class InternalError(ModelyardError):
    """A bug: the answer names the request id to look for in the server log."""

    code = "internal"
