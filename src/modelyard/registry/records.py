"""What the registry hands out: immutable records of models, versions and events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelyard.types import ArtifactFormat, EventKind, Flavour, Signature, VersionStatus


@dataclass(frozen=True)
class FileEntry:
    """One file of a version's artifact: its safe relative name, sha256 and size."""

    name: str
    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {"name": self.name, "sha256": self.sha256, "size": self.size}


@dataclass(frozen=True)
class Manifest:
    """The files of a version, which one is the model (``main``), and loader options."""

    files: tuple[FileEntry, ...]
    main: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form stored in ``model_versions.files``."""
        return {
            "main": self.main,
            "entries": [f.to_dict() for f in self.files],
            "options": dict(self.options),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """Build from :meth:`to_dict`'s output."""
        return cls(
            files=tuple(FileEntry(e["name"], e["sha256"], int(e["size"])) for e in data["entries"]),
            main=data.get("main"),
            options=dict(data.get("options") or {}),
        )

    def entry(self, name: str) -> FileEntry:
        """The entry called ``name``."""
        for item in self.files:
            if item.name == name:
                return item
        raise KeyError(name)


@dataclass(frozen=True)
class Model:
    """A registered model: a name with versions and aliases."""

    name: str
    description: str
    archived: bool
    created_at: datetime
    latest_version: int | None
    aliases: Mapping[str, int]


@dataclass(frozen=True)
class ModelVersion:
    """One immutable version of a model."""

    name: str
    version: int
    sha256: str
    size: int
    flavour: Flavour
    format: ArtifactFormat
    manifest: Manifest
    status: VersionStatus
    allow_pickle: bool
    signature: Signature | None
    metrics: Mapping[str, float]
    params: Mapping[str, Any]
    tags: Mapping[str, str]
    lineage: Mapping[str, Any]
    profile: Mapping[str, Any] | None
    description: str
    created_by: str
    created_at: datetime
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """``name:version``."""
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class Event:
    """One entry of a model's event log."""

    id: int
    model: str
    kind: EventKind
    alias: str | None
    from_version: int | None
    to_version: int | None
    actor: str
    reason: str
    details: Mapping[str, Any]
    created_at: datetime
