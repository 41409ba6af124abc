"""The model registry: models, immutable versions, aliases and the event log."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping
from sqlalchemy.engine import Connection

from modelyard.errors import (
    AliasNotFound,
    Conflict,
    ModelNotFound,
    SignatureChanged,
    VersionNotFound,
)
from modelyard.registry import aliases, follow
from modelyard.registry.flavours.loader import SafeLoader
from modelyard.registry.packing import Packed, pack_object, pack_path
from modelyard.registry.records import Event, Model, ModelVersion
from modelyard.registry.rows import event_from_row, version_from_row
from modelyard.storage import schema
from modelyard.storage.artifacts import ArtifactStore
from modelyard.storage.engine import Database
from modelyard.storage.schema import utcnow
from modelyard.types import (
    DEFAULT_ALIAS,
    EventKind,
    Flavour,
    ModelRef,
    Signature,
    SignatureDiff,
    VersionStatus,
    check_name,
)

m, v, al, ev = schema.models, schema.model_versions, schema.aliases, schema.events
SWAP_WAIT_S = 5.0  # how long a move waits for the replicas to serve it (PostgreSQL)


def current_actor() -> str:
    """The OS user running this process (recorded on every event)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class VersionInfo:
    """What is recorded beside a version's artifact."""

    signature: Signature | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    lineage: Mapping[str, Any] = field(default_factory=dict)
    profile: Mapping[str, Any] | None = None
    description: str = ""
    status: VersionStatus = VersionStatus.READY


class Registry:
    """Models and versions over a :class:`Database` and an :class:`ArtifactStore`."""

    def __init__(
        self, db: Database, store: ArtifactStore, loader: SafeLoader, skops_trusted: tuple[str, ...]
    ) -> None:
        self.db = db
        self.store = store
        self.loader = loader
        self._trusted = skops_trusted

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
        who = actor or current_actor()
        model_id = self._ensure_model(name, who)

        def insert(conn: Connection) -> int:
            # Lock the model row so concurrent registrations number versions one by one.
            conn.execute(sa.select(m.c.id).where(m.c.id == model_id).with_for_update()).one()
            top = conn.execute(
                sa.select(sa.func.max(v.c.version)).where(v.c.model_id == model_id)
            ).scalar()
            number = int(top or 0) + 1
            conn.execute(
                sa.insert(v).values(
                    model_id=model_id,
                    version=number,
                    status=info.status.value,
                    flavour=packed.flavour.value,
                    format=packed.format.value,
                    sha256=packed.sha256,
                    size=packed.size,
                    files=packed.manifest.to_dict(),
                    allow_pickle=allow_pickle,
                    signature=info.signature.to_dict() if info.signature else None,
                    metrics=dict(info.metrics),
                    params=dict(info.params),
                    tags=dict(info.tags),
                    lineage=dict(info.lineage),
                    profile=dict(info.profile) if info.profile is not None else None,
                    description=info.description,
                    created_by=who[:128],
                    created_at=utcnow(),
                )
            )
            aliases.log(
                conn,
                model_id,
                EventKind.VERSION_REGISTERED,
                actor=who,
                to_version=number,
                details={"sha256": packed.sha256, "allow_pickle": allow_pickle},
            )
            return number

        number = self.db.write(insert, retry_conflicts=True)
        return self.get_version(name, number)

    def _ensure_model(self, name: str, actor: str) -> int:
        def get_or_create(conn: Connection) -> int:
            found = conn.execute(sa.select(m.c.id, m.c.archived).where(m.c.name == name)).first()
            if found is not None:
                if found.archived:
                    raise Conflict(f"model {name!r} is archived: restore it or pick another name")
                return int(found.id)
            key = conn.execute(
                sa.insert(m).values(name=name, description="", archived=False, created_at=utcnow())
            ).inserted_primary_key
            assert key is not None
            aliases.log(conn, int(key[0]), EventKind.MODEL_CREATED, actor=actor)
            return int(key[0])

        return self.db.write(get_or_create, retry_conflicts=True)

    # -- reading ---------------------------------------------------------------------

    def _model_id(self, conn: Connection, name: str) -> int:
        found = conn.execute(sa.select(m.c.id).where(m.c.name == name)).scalar()
        if found is None:
            raise ModelNotFound(
                f"no model named {name!r}: `modelyard models list` shows the models", model=name
            )
        return int(found)

    def _aliases_of(self, conn: Connection, model_id: int) -> dict[int, tuple[str, ...]]:
        out: dict[int, list[str]] = {}
        for row in conn.execute(
            sa.select(al.c.alias, al.c.version)
            .where(al.c.model_id == model_id)
            .order_by(al.c.alias)
        ):
            out.setdefault(int(row.version), []).append(row.alias)
        return {k: tuple(names) for k, names in out.items()}

    def get_model(self, name: str) -> Model:
        """The model called ``name``; raises ``ModelNotFound``."""

        def read(conn: Connection) -> Model:
            row = conn.execute(sa.select(m).where(m.c.name == name)).mappings().first()
            if row is None:
                self._model_id(conn, name)
            assert row is not None
            return self._model(conn, row)

        return self.db.read(read)

    def _model(self, conn: Connection, row: RowMapping) -> Model:
        latest = conn.execute(
            sa.select(sa.func.max(v.c.version)).where(v.c.model_id == row["id"])
        ).scalar()
        pointers = conn.execute(
            sa.select(al.c.alias, al.c.version).where(al.c.model_id == row["id"])
        ).all()
        return Model(
            name=row["name"],
            description=row["description"] or "",
            archived=bool(row["archived"]),
            created_at=row["created_at"],
            latest_version=int(latest) if latest is not None else None,
            aliases={p.alias: int(p.version) for p in pointers},
        )

    def list_models(self, *, include_archived: bool = False) -> list[Model]:
        """All models by name."""

        def read(conn: Connection) -> list[Model]:
            query = sa.select(m).order_by(m.c.name)
            if not include_archived:
                query = query.where(m.c.archived.is_(False))
            return [self._model(conn, row) for row in conn.execute(query).mappings()]

        return self.db.read(read)

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first."""

        def read(conn: Connection) -> list[ModelVersion]:
            model_id = self._model_id(conn, name)
            tags = self._aliases_of(conn, model_id)
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
            model_id = self._model_id(conn, name)
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
            return version_from_row(row, name, self._aliases_of(conn, model_id).get(number, ()))

        return self.db.read(read)

    def resolve(self, ref: ModelRef | str) -> ModelVersion:
        """The version a reference (``immo``, ``immo@champion``, ``immo:3``) points at now."""
        parsed = ModelRef.parse(ref) if isinstance(ref, str) else ref
        return self.get_version(parsed.name, parsed.version, alias=parsed.alias)

    def load(self, ref: ModelRef | str) -> object:
        """Load the live model through the one safe loader."""
        return self.loader.load(self.resolve(ref))

    def download(self, ref: ModelRef | str, target: Path) -> Path:
        """Write the verified files of a version into ``target``."""
        return self.loader.materialize(self.resolve(ref), target)

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
        who = actor or current_actor()

        def move(conn: Connection) -> tuple[int, int] | None:
            model_id = self._model_id(conn, name)
            target = self._version_row(conn, model_id, name, version)
            if target["status"] == VersionStatus.ARCHIVED.value:
                raise Conflict(f"{name}:{version} is archived: it cannot be promoted")
            if target["status"] == VersionStatus.PENDING_APPROVAL.value:
                raise Conflict(
                    f"{name}:{version} awaits approval: "
                    f"`modelyard models approve {name}:{version}` promotes it"
                )
            pointer = aliases.current(conn, model_id, alias, lock=True)
            if pointer is not None and pointer[0] == version and expected is aliases.UNSET:
                return None
            extra = dict(details or {})
            if pointer is not None:
                diff = self._signature_diff(conn, model_id, pointer[0], target)
                if diff is not None and diff.breaking:
                    if not force:
                        raise SignatureChanged(
                            f"promoting {name}:{version} to {alias!r} would break callers of "
                            f"version {pointer[0]}: {diff.describe()}; "
                            "use --force to promote anyway",
                            diff=diff.describe(),
                        )
                    extra["forced_signature_change"] = diff.describe()
            _, event_id = aliases.move(
                conn,
                model_id,
                alias,
                version,
                kind=EventKind.PROMOTED,
                actor=who,
                reason=reason,
                details=extra,
                expected=expected,
            )
            return event_id, follow.publish(conn, model_id, alias, version, event_id)

        event_id = self._move(move, wait_s)
        return None if event_id is None else self._event(name, event_id)

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
        who = actor or current_actor()

        def move(conn: Connection) -> tuple[int, int]:
            model_id = self._model_id(conn, name)
            pointer = aliases.current(conn, model_id, alias, lock=True)
            if pointer is None:
                raise AliasNotFound(f"model {name!r} has no {alias!r} version to roll back")
            target = aliases.previous(conn, model_id, alias, pointer[0])
            _, event_id = aliases.move(
                conn,
                model_id,
                alias,
                target,
                kind=EventKind.ROLLED_BACK,
                actor=who,
                reason=reason or f"rollback of version {pointer[0]}",
                details={},
                expected=pointer[0],
            )
            return event_id, follow.publish(conn, model_id, alias, target, event_id)

        event_id = self._move(move, wait_s)
        assert event_id is not None
        return self._event(name, event_id)

    def _move(
        self, move: Callable[[Connection], tuple[int, int] | None], wait_s: float
    ) -> int | None:
        """Run an alias move (returning its event id and the replicas it notified), then
        wait for those replicas to serve it; returns the event id, None for no move."""
        with follow.Acks(self.db) as acks:
            moved = self.db.write(move, retry_conflicts=True)
            if moved is not None and moved[1]:
                acks.wait(moved[0], moved[1], wait_s)
        return None if moved is None else moved[0]

    def mark_pending(self, name: str, version: int) -> None:
        """Hold a version as pending approval (``require_approval`` in a promotion rule)."""

        def write(conn: Connection) -> None:
            model_id = self._model_id(conn, name)
            self._version_row(conn, model_id, name, version)
            conn.execute(
                sa.update(v)
                .where(v.c.model_id == model_id, v.c.version == version)
                .values(status=VersionStatus.PENDING_APPROVAL.value)
            )

        self.db.write(write)

    def approve(
        self, name: str, version: int, *, actor: str | None = None, reason: str = ""
    ) -> Event | None:
        """Approve a pending version: it becomes ready and is promoted to champion."""
        who = actor or current_actor()

        def write(conn: Connection) -> None:
            model_id = self._model_id(conn, name)
            row = self._version_row(conn, model_id, name, version)
            if row["status"] != VersionStatus.PENDING_APPROVAL.value:
                raise Conflict(f"{name}:{version} is {row['status']}, not pending approval")
            conn.execute(
                sa.update(v)
                .where(v.c.model_id == model_id, v.c.version == version)
                .values(status=VersionStatus.READY.value)
            )

        self.db.write(write)
        return self.promote(name, version, actor=who, reason=reason or f"approved by {who}")

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
            model_id = self._model_id(conn, name)
            aliases.log(
                conn,
                model_id,
                kind,
                actor=actor or current_actor(),
                to_version=to_version,
                reason=reason,
            )

        self.db.write(write)

    def history(self, name: str, *, alias: str | None = None) -> list[Event]:
        """The model's event log, oldest first (only one alias's moves if ``alias``)."""

        def read(conn: Connection) -> list[Event]:
            model_id = self._model_id(conn, name)
            query = sa.select(ev).where(ev.c.model_id == model_id).order_by(ev.c.id)
            if alias is not None:
                query = query.where(ev.c.alias == alias)
            return [event_from_row(r, name) for r in conn.execute(query).mappings()]

        return self.db.read(read)

    def archive(self, name: str, version: int | None = None, *, actor: str | None = None) -> None:
        """Archive one version, or the whole model; an aliased version cannot be archived."""
        who = actor or current_actor()

        def write(conn: Connection) -> None:
            model_id = self._model_id(conn, name)
            pointed = self._aliases_of(conn, model_id)
            if version is None:
                if pointed:
                    raise Conflict(
                        f"model {name!r} still has aliases ({_aliases_text(pointed)}): "
                        "endpoints may follow them; archive its versions one by one first"
                    )
                conn.execute(sa.update(m).where(m.c.id == model_id).values(archived=True))
            else:
                self._version_row(conn, model_id, name, version)
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

    # -- helpers ---------------------------------------------------------------------

    def _version_row(self, conn: Connection, model_id: int, name: str, version: int) -> RowMapping:
        row = (
            conn.execute(sa.select(v).where(v.c.model_id == model_id, v.c.version == version))
            .mappings()
            .first()
        )
        if row is None:
            raise VersionNotFound(f"model {name!r} has no version {version}", version=version)
        return row

    def _signature_diff(
        self, conn: Connection, model_id: int, old_version: int, new_row: RowMapping
    ) -> SignatureDiff | None:
        old = conn.execute(
            sa.select(v.c.signature).where(v.c.model_id == model_id, v.c.version == old_version)
        ).scalar()
        if not old or not new_row["signature"]:
            return None
        return Signature.from_dict(old).diff(Signature.from_dict(new_row["signature"]))

    def _event(self, name: str, event_id: int) -> Event:
        def read(conn: Connection) -> Event:
            row = conn.execute(sa.select(ev).where(ev.c.id == event_id)).mappings().one()
            return event_from_row(row, name)

        return self.db.read(read)


def _aliases_text(pointed: Mapping[int, tuple[str, ...]]) -> str:
    return ", ".join(f"{a}={n}" for n, names in pointed.items() for a in names)
