"""What an entry-script endpoint deploys, as stored in its endpoint row's options.

An entry script (Azure ML SDK v1's ``init()``/``run(raw_data)`` contract), the source
files beside it (content-addressed in the artifact store), the model versions laid out
for ``Model.get_model_path``, an optional environment of its own (and the variables it
sets, such as ``AML_CORS_ORIGINS``), and the resources that bound its processes.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelyard.errors import InvalidInput
from modelyard.registry.records import FileEntry

KIND = "script"
VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEFAULT_TIMEOUT_MS = 60_000  # azmlinfsrv's SCORING_TIMEOUT_MS default is an hour; ours is kinder


@dataclass(frozen=True)
class Resources:
    """Azure's ``cpu_cores`` and ``memory_gb``, and the worker processes they allow."""

    cpu_cores: float = 1.0
    memory_gb: float = 1.0
    workers: int | None = None  # default: one per whole core asked, at least one

    def __post_init__(self) -> None:
        if self.cpu_cores <= 0 or self.memory_gb <= 0:
            raise InvalidInput(
                f"cpu_cores and memory_gb must be positive, not {self.cpu_cores} and "
                f"{self.memory_gb}",
                code="bad_resources",
            )
        if self.workers is not None and self.workers < 1:
            raise InvalidInput(f"workers must be at least 1, not {self.workers}")

    @property
    def worker_count(self) -> int:
        """How many processes serve the endpoint (each calls ``init()`` once)."""
        return self.workers or max(1, math.floor(self.cpu_cores))

    @property
    def threads(self) -> int:
        """BLAS/OpenMP threads per worker: the cores asked, shared among the workers."""
        return max(1, math.floor(self.cpu_cores / self.worker_count))

    @property
    def memory_bytes(self) -> int:
        """The resident memory each worker may use before it is restarted."""
        return int(self.memory_gb * 1024**3)


@dataclass(frozen=True)
class ScriptSpec:
    """An entry-script deployment: code, models, environment, resources."""

    entry_script: str
    code: tuple[FileEntry, ...]
    models: tuple[str, ...]  # "name:version", fixed at deployment like Azure's Model objects
    environment: Mapping[str, Any] | None = None  # ``Requirements.to_dict()``
    resources: Resources = field(default_factory=Resources)
    check_packages: bool = True
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    # Azure's ``Environment.environment_variables``: set for the script (ours win on a clash)
    variables: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, value in self.variables.items():
            if (
                not isinstance(key, str)
                or not VARIABLE.fullmatch(key)
                or not isinstance(value, str)
            ):
                raise InvalidInput(
                    f"environment variable {key!r}={value!r}: names are letters, digits and "
                    "underscores, values are strings",
                    code="bad_environment_variable",
                )

    def to_options(self, *, auth: bool) -> dict[str, Any]:
        """The JSON stored in ``endpoints.options``."""
        return {
            "kind": KIND,
            "auth": auth,
            "script": {"entry": self.entry_script, "files": [f.to_dict() for f in self.code]},
            "models": list(self.models),
            "environment": dict(self.environment) if self.environment is not None else None,
            "resources": {
                "cpu_cores": self.resources.cpu_cores,
                "memory_gb": self.resources.memory_gb,
                "workers": self.resources.workers,
            },
            "check_packages": self.check_packages,
            "timeout_ms": self.timeout_ms,
            # only when set, so that older deployments keep their digest
            **({"variables": dict(self.variables)} if self.variables else {}),
        }

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> ScriptSpec:
        """Read :meth:`to_options`'s output."""
        script = options["script"]
        res = options.get("resources") or {}
        return cls(
            entry_script=str(script["entry"]),
            code=tuple(FileEntry(f["name"], f["sha256"], int(f["size"])) for f in script["files"]),
            models=tuple(str(m) for m in options.get("models") or ()),
            environment=options.get("environment"),
            resources=Resources(
                float(res.get("cpu_cores", 1.0)),
                float(res.get("memory_gb", 1.0)),
                int(res["workers"]) if res.get("workers") else None,
            ),
            check_packages=bool(options.get("check_packages", True)),
            timeout_ms=int(options.get("timeout_ms", DEFAULT_TIMEOUT_MS)),
            variables={str(k): str(v) for k, v in (options.get("variables") or {}).items()},
        )

    def describe(self) -> str:
        """What ``endpoints list`` shows as the target: the script and its models."""
        text = (
            f"{self.entry_script} + {', '.join(self.models)}" if self.models else self.entry_script
        )
        return text[:300]


def deployment_digest(options: Mapping[str, Any], *, collect: bool = False) -> str:
    """A short digest of everything that, changed, needs new processes (collection turned
    on or off too: the workers' ``ModelDataCollector`` is set up when they start)."""
    described = {**options, "collect": True} if collect else dict(options)
    canonical = json.dumps(described, sort_keys=True, default=str).encode()
    return hashlib.sha256(canonical).hexdigest()[:16]


def log_source(replica: str, digest: str) -> str:
    """The ``replica`` column of the log lines a deployment writes: the replica, then
    ``/`` and the deployment's digest (128 characters at most)."""
    return f"{replica[: 127 - len(digest)]}/{digest}"


def is_deployment_line(source: str, digest: str) -> bool:
    """Whether a log line's ``source`` (see :func:`log_source`) is deployment ``digest``'s."""
    return source.endswith(f"/{digest}")


def is_script(options: Mapping[str, Any]) -> bool:
    """True for an entry-script endpoint's options."""
    return options.get("kind") == KIND
