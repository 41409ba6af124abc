"""The registry integrity check behind ``modelyard doctor``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelyard.registry.records import Manifest
from modelyard.storage import schema
from modelyard.storage.artifacts import ArtifactStore
from modelyard.storage.engine import Database
from modelyard.storage.environments import EnvironmentLockStore


@dataclass(frozen=True)
class Finding:
    """One result of the check; ``problem`` findings make the check fail."""

    severity: str  # "problem" or "note"
    subject: str
    message: str


@dataclass(frozen=True)
class DoctorReport:
    """What ``doctor`` found: versions and blobs checked, and the findings."""

    versions_checked: int
    blobs_checked: int
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """True when no finding is a problem."""
        return not any(f.severity == "problem" for f in self.findings)


def check(db: Database, store: ArtifactStore, *, fix: bool = False) -> DoctorReport:
    """Every version's files exist and match their sha256; aliases point at versions.

    Blobs no version references and temporaries of interrupted writes are
    noted, not failed (a crash between writing a blob and recording its
    version leaves them); with ``fix`` the temporaries are removed.
    """

    def read(conn: Connection) -> list[tuple[str, int, Manifest]]:
        rows = conn.execute(
            sa.select(
                schema.models.c.name, schema.model_versions.c.version, schema.model_versions.c.files
            )
            .join(schema.models, schema.models.c.id == schema.model_versions.c.model_id)
            .order_by(schema.models.c.name, schema.model_versions.c.version)
        )
        return [(r.name, int(r.version), Manifest.from_dict(r.files)) for r in rows]

    versions = db.read(read)
    findings = list(_dangling_aliases(db))
    verified: dict[str, str | None] = {}
    blobs = [
        (f"{name}:{number} {entry.name}", entry.sha256)
        for name, number, manifest in versions
        for entry in manifest.files
    ]
    blobs += [  # the wheels of published entry-script environments
        (f"environment {lock.digest[:12]} {wheel.file}", wheel.sha256)
        for lock in EnvironmentLockStore(db).published()
        for wheel in lock.wheels
    ]
    for subject, sha256 in blobs:
        if sha256 not in verified:
            verified[sha256] = store.verify(sha256)
        actual = verified[sha256]
        if actual is None:
            findings.append(Finding("problem", subject, f"blob {sha256} is missing"))
        elif actual != sha256:
            findings.append(
                Finding("problem", subject, f"expected sha256 {sha256}, actual {actual}")
            )
    referenced = set(verified)
    for sha in store.iter_blobs():
        if sha not in referenced:
            findings.append(Finding("note", sha, "blob referenced by no version"))
    stale = store.stale_temporaries()
    if stale:
        removed = store.remove_temporaries() if fix else 0
        action = f"removed {removed}" if fix else "run `modelyard doctor --fix` to remove them"
        findings.append(
            Finding("note", "tmp", f"{len(stale)} temporary files of interrupted writes: {action}")
        )
    return DoctorReport(len(versions), len(verified), tuple(findings))


def _dangling_aliases(db: Database) -> Iterator[Finding]:
    a, mv, mo = schema.aliases, schema.model_versions, schema.models

    def read(conn: Connection) -> list[tuple[str, str, int]]:
        rows = conn.execute(
            sa.select(mo.c.name, a.c.alias, a.c.version)
            .join(mo, mo.c.id == a.c.model_id)
            .outerjoin(mv, sa.and_(mv.c.model_id == a.c.model_id, mv.c.version == a.c.version))
            .where(mv.c.id.is_(None))
        )
        return [(r.name, r.alias, int(r.version)) for r in rows]

    for name, alias, version in db.read(read):
        yield Finding("problem", f"{name}@{alias}", f"points at version {version}, which is absent")
