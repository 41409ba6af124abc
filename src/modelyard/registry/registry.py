"""The model registry: models, immutable versions, aliases and the event log."""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelyard.errors import AliasNotFound, Conflict, VersionNotFound
from modelyard.registry import aliases, lookup, registering
from modelyard.registry.aliases import SWAP_WAIT_S
from modelyard.registry.flavours.loader import SafeLoader
from modelyard.registry.packing import Packed, pack_object, pack_path
from modelyard.registry.records import Event, Model, ModelVersion
from modelyard.registry.registering import VersionInfo
from modelyard.registry.rows import event_from_row, version_from_row
from modelyard.storage import schema
from modelyard.storage.artifacts import ArtifactStore
from modelyard.storage.engine import Database
from modelyard.types import (
    DEFAULT_ALIAS,
    EventKind,
    Flavour,
    ModelRef,
    VersionStatus,
    check_name,
)

__all__ = ["SWAP_WAIT_S", "Registry", "VersionInfo", "current_actor"]

m, v, ev = schema.models, schema.model_versions, schema.events


def current_actor() -> str:
    """The OS user running this process (recorded on every event)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Registry:
    """Models and versions over a :class:`Database` and an :class:`ArtifactStore`."""

    def __init__(
        self,
        db: Database,
        store: ArtifactStore,
        loader: SafeLoader,
        skops_trusted: tuple[str, ...],
        actor: str | None = None,
    ) -> None:
        self.actor = actor
        self.db = db
        self.store = store
        self.loader = loader
        self._trusted = skops_trusted

    def who(self, actor: str | None) -> str:
        """Who an event records: ``actor`` if given, else the workspace's person (the
        holder of ``MODELYARD_TOKEN``), else the OS user."""
        return actor or self.actor or current_actor()

    # -- registering -----------------------------------------------------------------

    def register_path(
        self,
        name: str,
        path: Path,
        info: VersionInfo | None = None,
        *,
        flavour: Flavour | None = None,
        main: str | None = None,
        allow_pickle: bool = False,
        options: dict[str, object] | None = None,
        actor: str | None = None,
    ) -> ModelVersion:
        """Register a model file (``.skops``, ``.json``, ``.onnx``, …) or a folder of files.

        A folder's own name is kept (``basename``), so that an entry-script deployment lays
        it out as Azure ML does: ``azureml-models/<name>/<version>/<folder>/…``.
        """
        check_name(name)
        if path.is_dir():
            options = {**(options or {}), "basename": path.resolve().name, "folder": True}
        packed = pack_path(
            self.store,
            path,
            flavour=flavour,
            main=main,
            allow_pickle=allow_pickle,
            skops_trusted=self._trusted,
            options=options,
        )
        return self._record(name, packed, info or VersionInfo(), allow_pickle, actor)

    def register_object(
        self, name: str, model: object, info: VersionInfo | None = None, *, actor: str | None = None
    ) -> ModelVersion:
        """Register a live estimator, saved in a safe format (skops or XGBoost JSON)."""
        check_name(name)
        packed = pack_object(self.store, model, self._trusted)
        return self._record(name, packed, info or VersionInfo(), False, actor)

    def _record(
        self, name: str, packed: Packed, info: VersionInfo, allow_pickle: bool, actor: str | None
    ) -> ModelVersion:
        who = self.who(actor)
        number = registering.record(self.db, name, packed, info, allow_pickle, who)
        return self.get_version(name, number)

    # -- reading ---------------------------------------------------------------------

    def get_model(self, name: str) -> Model:
        """The model called ``name``; raises ``ModelNotFound``."""

        def read(conn: Connection) -> Model:
            row = conn.execute(sa.select(m).where(m.c.name == name)).mappings().first()
            if row is None:
                lookup.model_id(conn, name)
            assert row is not None
            return lookup.model_from_row(conn, row)

        return self.db.read(read)

    def list_models(self, *, include_archived: bool = False) -> list[Model]:
        """All models by name."""

        def read(conn: Connection) -> list[Model]:
            query = sa.select(m).order_by(m.c.name)
            if not include_archived:
                query = query.where(m.c.archived.is_(False))
            return [lookup.model_from_row(conn, row) for row in conn.execute(query).mappings()]

        return self.db.read(read)

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first."""

        def read(conn: Connection) -> list[ModelVersion]:
            model_id = lookup.model_id(conn, name)
            tags = lookup.aliases_of(conn, model_id)
            rows = conn.execute(
                sa.select(v).where(v.c.model_id == model_id).order_by(v.c.version)
            ).mappings()
            return [version_from_row(r, name, tags.get(int(r["version"]), ())) for r in rows]

        return self.db.read(read)

    def get_version(
        self, name: str, version: int | None = None, *, alias: str | None = None
    ) -> ModelVersion:
        """One version, by number or by alias (default: ``champion``)."""

        def read(conn: Connection) -> ModelVersion:
            model_id = lookup.model_id(conn, name)
            number = version
            if number is None:
                pointer = aliases.current(conn, model_id, alias or DEFAULT_ALIAS)
                if pointer is None:
                    raise AliasNotFound(
                        f"model {name!r} has no {alias or DEFAULT_ALIAS!r} version yet: "
                        f"promote one with `modelyard models promote {name}:VERSION`",
                        model=name,
                        alias=alias or DEFAULT_ALIAS,
                    )
                number = pointer[0]
            row = (
                conn.execute(sa.select(v).where(v.c.model_id == model_id, v.c.version == number))
                .mappings()
                .first()
            )
            if row is None:
                raise VersionNotFound(
                    f"model {name!r} has no version {number}", model=name, version=number
                )
            return version_from_row(row, name, lookup.aliases_of(conn, model_id).get(number, ()))

        return self.db.read(read)

    def resolve(self, ref: ModelRef | str) -> ModelVersion:
        """The version a reference (``immo``, ``immo@champion``, ``immo:3``) points at now."""
        parsed = ModelRef.parse(ref) if isinstance(ref, str) else ref
        return self.get_version(parsed.name, parsed.version, alias=parsed.alias)

    def load(self, ref: ModelRef | str) -> object:
        """Load the live model through the one safe loader."""
        return self.loader.load(self.resolve(ref))

    def download(self, ref: ModelRef | str, target: Path, *, force: bool = False) -> Path:
        """Write the verified files of a version into the folder ``target``. Raises
        ``Conflict`` if ``target`` is a file, or if one of the files would replace one
        already there, unless ``force``."""
        version = self.resolve(ref)
        if target.exists() and not target.is_dir():
            raise Conflict(f"{target} is a file: give a folder to download {version.ref} into")
        there = [f.name for f in version.manifest.files if (target / f.name).exists()]
        if there and not force:
            raise Conflict(
                f"{target} already holds {', '.join(sorted(there)[:5])}: choose another "
                "folder, or add --force to overwrite"
            )
        return self.loader.materialize(version, target)

    # -- aliases ---------------------------------------------------------------------

    def promote(
        self,
        name: str,
        version: int,
        *,
        alias: str = DEFAULT_ALIAS,
        actor: str | None = None,
        reason: str = "",
        force: bool = False,
        expected: Any = aliases.UNSET,
        details: Mapping[str, Any] | None = None,
        wait_s: float = SWAP_WAIT_S,
    ) -> Event | None:
        """Point ``alias`` at ``version`` with a compare-and-swap and one event, in one
        transaction. Returns the event, or None if the alias already pointed there.
        On PostgreSQL the replicas are notified at commit, and the call returns once they
        serve the new version (``wait_s`` at most: a stuck replica only delays it).

        Raises ``SignatureChanged`` if callers of the current version would break
        (a column removed or retyped) unless ``force``; ``AliasMoved`` if
        ``expected`` is given and the alias moved meanwhile.
        """
        check_name(alias, "alias")
        return aliases.promote(
            self.db,
            name,
            version,
            alias=alias,
            actor=self.who(actor),
            reason=reason,
            force=force,
            expected=expected,
            details=details,
            wait_s=wait_s,
        )

    def rollback(
        self,
        name: str,
        *,
        alias: str = DEFAULT_ALIAS,
        actor: str | None = None,
        reason: str = "",
        wait_s: float = SWAP_WAIT_S,
    ) -> Event:
        """Return ``alias`` to the version it held before its current one was promoted
        (replicas notified and waited for as by ``promote``)."""
        return aliases.rollback(
            self.db, name, alias=alias, actor=self.who(actor), reason=reason, wait_s=wait_s
        )

    def mark_pending(self, name: str, version: int) -> None:
        """Hold a version as pending approval (``require_approval`` in a promotion rule)."""
        aliases.mark_pending(self.db, name, version)

    def approve(
        self,
        name: str,
        version: int,
        *,
        actor: str | None = None,
        reason: str = "",
        four_eyes: bool = False,
    ) -> Event | None:
        """Approve a pending version: it becomes ready and is promoted to champion. With
        ``four_eyes``, raises ``Forbidden`` if ``actor`` is the version's author."""
        who = self.who(actor)
        aliases.release_pending(self.db, name, version, actor=who, four_eyes=four_eyes)
        return self.promote(
            name,
            version,
            actor=who,
            reason=reason or f"approved by {who}",
            details={"approved_by": who},
        )

    def reject(
        self,
        name: str,
        version: int,
        *,
        actor: str | None = None,
        reason: str = "",
        four_eyes: bool = False,
    ) -> None:
        """Reject a pending version: it can never be promoted; the event says who and why.
        With ``four_eyes``, raises ``Forbidden`` if ``actor`` is the version's author."""
        who = self.who(actor)
        aliases.release_pending(
            self.db,
            name,
            version,
            actor=who,
            four_eyes=four_eyes,
            rejected=reason or f"rejected by {who}",
        )

    def record_event(
        self,
        name: str,
        kind: EventKind,
        *,
        to_version: int | None = None,
        reason: str = "",
        actor: str | None = None,
    ) -> None:
        """Append an event to a model's log (e.g. a version that failed to load)."""

        def write(conn: Connection) -> None:
            model_id = lookup.model_id(conn, name)
            aliases.log(
                conn,
                model_id,
                kind,
                actor=self.who(actor),
                to_version=to_version,
                reason=reason,
            )

        self.db.write(write)

    def history(self, name: str, *, alias: str | None = None) -> list[Event]:
        """The model's event log, oldest first (only one alias's moves if ``alias``)."""

        def read(conn: Connection) -> list[Event]:
            model_id = lookup.model_id(conn, name)
            query = sa.select(ev).where(ev.c.model_id == model_id).order_by(ev.c.id)
            if alias is not None:
                query = query.where(ev.c.alias == alias)
            return [event_from_row(r, name) for r in conn.execute(query).mappings()]

        return self.db.read(read)

    def archive(self, name: str, version: int | None = None, *, actor: str | None = None) -> None:
        """Archive one version, or the whole model; an aliased version cannot be archived."""
        who = self.who(actor)

        def write(conn: Connection) -> None:
            model_id = lookup.model_id(conn, name)
            pointed = lookup.aliases_of(conn, model_id)
            if version is None:
                if pointed:
                    raise Conflict(
                        f"model {name!r} still has aliases ({lookup.aliases_text(pointed)}): "
                        "endpoints may follow them; archive its versions one by one first"
                    )
                conn.execute(sa.update(m).where(m.c.id == model_id).values(archived=True))
            else:
                lookup.version_row(conn, model_id, name, version)
                if version in pointed:
                    raise Conflict(
                        f"{name}:{version} is {', '.join(pointed[version])}: "
                        "promote another version before archiving it"
                    )
                conn.execute(
                    sa.update(v)
                    .where(v.c.model_id == model_id, v.c.version == version)
                    .values(status=VersionStatus.ARCHIVED.value)
                )
            aliases.log(conn, model_id, EventKind.ARCHIVED, actor=who, to_version=version)

        self.db.write(write)
