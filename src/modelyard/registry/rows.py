"""Turning database rows into registry records."""

from __future__ import annotations

from sqlalchemy import RowMapping

from modelyard.registry.records import Event, Manifest, ModelVersion
from modelyard.types import ArtifactFormat, EventKind, Flavour, Signature, VersionStatus


def version_from_row(row: RowMapping, name: str, aliases: tuple[str, ...]) -> ModelVersion:
    """Build a :class:`ModelVersion` from a ``model_versions`` row."""
    signature = row["signature"]
    return ModelVersion(
        name=name,
        version=int(row["version"]),
        sha256=row["sha256"],
        size=int(row["size"]),
        flavour=Flavour(row["flavour"]),
        format=ArtifactFormat(row["format"]),
        manifest=Manifest.from_dict(row["files"]),
        status=VersionStatus(row["status"]),
        allow_pickle=bool(row["allow_pickle"]),
        signature=Signature.from_dict(signature) if signature else None,
        metrics=dict(row["metrics"] or {}),
        params=dict(row["params"] or {}),
        tags=dict(row["tags"] or {}),
        lineage=dict(row["lineage"] or {}),
        profile=row["profile"],
        description=row["description"] or "",
        created_by=row["created_by"],
        created_at=row["created_at"],
        aliases=aliases,
    )


def event_from_row(row: RowMapping, name: str) -> Event:
    """Build an :class:`Event` from an ``events`` row."""
    return Event(
        id=int(row["id"]),
        model=name,
        kind=EventKind(row["kind"]),
        alias=row["alias"],
        from_version=row["from_version"],
        to_version=row["to_version"],
        actor=row["actor"],
        reason=row["reason"] or "",
        details=dict(row["details"] or {}),
        created_at=row["created_at"],
    )
