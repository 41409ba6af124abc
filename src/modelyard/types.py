"""Plain value types shared by every layer: model references, signatures, states."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from modelyard.errors import InvalidReference

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
# Matched with fullmatch: ``$`` would also accept a name ending in a newline.
_NAME_RE = re.compile(_NAME)
_REF_RE = re.compile(rf"(?P<name>{_NAME})(?:@(?P<alias>{_NAME})|:(?P<version>[0-9]+))?")

DEFAULT_ALIAS = "champion"
# The kinds of the events feed (webhooks subscribe to them)
FEED_KINDS = ("version_registered", "alias_moved", "run_finished", "drift_detected", "policy_fired")


def check_name(name: str, what: str = "model name") -> str:
    """Return ``name`` if it is a valid model, alias or endpoint name, else raise."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or name.isdigit():
        raise InvalidReference(
            f"invalid {what} {name!r}: use letters, digits, '_', '.', '-' "
            "(at most 128, starting with a letter or digit, not only digits)"
        )
    return name


@dataclass(frozen=True)
class ModelRef:
    """A reference to one model version: ``name``, ``name@alias`` or ``name:version``.

    A bare ``name`` means ``name@champion``.
    """

    name: str
    version: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        """Parse ``immo``, ``immo@champion`` or ``immo:3``."""
        match = _REF_RE.fullmatch(text.strip(" "))
        if match is None or match["name"].isdigit():
            raise InvalidReference(
                f"invalid model reference {text!r}: write NAME, NAME@ALIAS or NAME:VERSION "
                "(for example immo, immo@champion, immo:3)"
            )
        version = match["version"]
        if version is not None:
            if int(version) < 1:
                raise InvalidReference(
                    f"invalid model reference {text!r}: versions start at 1 "
                    "(write NAME, NAME@ALIAS or NAME:VERSION)"
                )
            return cls(match["name"], version=int(version))
        return cls(match["name"], alias=match["alias"] or DEFAULT_ALIAS)

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}:{self.version}"
        return f"{self.name}@{self.alias or DEFAULT_ALIAS}"


class Flavour(StrEnum):
    """How a version's artifact is loaded."""

    SKLEARN = "sklearn"
    XGBOOST = "xgboost"
    ONNX = "onnx"
    FILES = "files"


def files_refusal(ref: str) -> str:
    """Why a model endpoint cannot serve the ``files``-flavour version ``ref``."""
    return (
        f"{ref} is a files-flavour version (a folder of files, no model object): a model "
        f"endpoint cannot score it; deploy it behind an entry script "
        f"(`modelyard endpoints deploy NAME --entry-script score.py --model {ref}`)"
    )


class ArtifactFormat(StrEnum):
    """The serialisation of a version's main file."""

    SKOPS = "skops"
    XGBOOST_JSON = "xgboost-json"
    XGBOOST_UBJ = "xgboost-ubj"
    ONNX = "onnx"
    PICKLE = "pickle"
    JOBLIB = "joblib"
    FILES = "files"


class OutputKind(StrEnum):
    """What a model's predictions are."""

    REGRESSION = "regression"
    PROBABILITIES = "probabilities"
    CLASS = "class"
    RAW = "raw"


class VersionStatus(StrEnum):
    """Lifecycle of a model version."""

    READY = "ready"
    PENDING_APPROVAL = "pending_approval"
    REJECTED = "rejected"
    ARCHIVED = "archived"


class EventKind(StrEnum):
    """What an entry of the registry's event log records."""

    MODEL_CREATED = "model_created"
    VERSION_REGISTERED = "version_registered"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    ARCHIVED = "archived"
    LOAD_FAILED = "load_failed"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ColumnSpec:
    """One input column: its name, logical dtype, nullability and known categories."""

    name: str
    dtype: str
    nullable: bool = False
    categories: tuple[Any, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        out: dict[str, Any] = {"name": self.name, "dtype": self.dtype, "nullable": self.nullable}
        if self.categories is not None:
            out["categories"] = list(self.categories)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnSpec:
        """Build from :meth:`to_dict`'s output."""
        categories = data.get("categories")
        return cls(
            name=str(data["name"]),
            dtype=str(data["dtype"]),
            nullable=bool(data.get("nullable", False)),
            categories=tuple(categories) if categories is not None else None,
        )


@dataclass(frozen=True)
class SignatureDiff:
    """What changed between two signatures; ``breaking`` when callers would fail."""

    removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    retyped: tuple[tuple[str, str, str], ...] = ()

    @property
    def breaking(self) -> bool:
        """True when a column was removed or its dtype changed."""
        return bool(self.removed or self.retyped)

    def describe(self) -> str:
        """One line for humans, e.g. ``removed: surface; retyped: rooms int64 -> float64``."""
        parts = []
        if self.removed:
            parts.append("removed: " + ", ".join(self.removed))
        if self.retyped:
            parts.append(
                "retyped: " + ", ".join(f"{n} {old} -> {new}" for n, old, new in self.retyped)
            )
        if self.added:
            parts.append("added: " + ", ".join(self.added))
        return "; ".join(parts) or "no change"


@dataclass(frozen=True)
class Signature:
    """The input columns a model version expects, in order, and what it outputs."""

    inputs: tuple[ColumnSpec, ...]
    output_kind: OutputKind = OutputKind.RAW
    outputs: tuple[ColumnSpec, ...] = field(default_factory=tuple)

    @property
    def names(self) -> list[str]:
        """The input column names in order."""
        return [c.name for c in self.inputs]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form stored in the registry."""
        return {
            "inputs": [c.to_dict() for c in self.inputs],
            "output_kind": self.output_kind.value,
            "outputs": [c.to_dict() for c in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        """Build from :meth:`to_dict`'s output."""
        inputs: Sequence[Mapping[str, Any]] = data.get("inputs", ())
        outputs: Sequence[Mapping[str, Any]] = data.get("outputs", ())
        return cls(
            inputs=tuple(ColumnSpec.from_dict(c) for c in inputs),
            output_kind=OutputKind(data.get("output_kind", OutputKind.RAW.value)),
            outputs=tuple(ColumnSpec.from_dict(c) for c in outputs),
        )

    def diff(self, new: Signature) -> SignatureDiff:
        """Compare this (old) signature with ``new``."""
        old_types = {c.name: c.dtype for c in self.inputs}
        new_types = {c.name: c.dtype for c in new.inputs}
        return SignatureDiff(
            removed=tuple(n for n in old_types if n not in new_types),
            added=tuple(n for n in new_types if n not in old_types),
            retyped=tuple(
                (n, old_types[n], new_types[n])
                for n in old_types
                if n in new_types and old_types[n] != new_types[n]
            ),
        )


class RunState(StrEnum):
    """Lifecycle of a training run."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class EndpointState(StrEnum):
    """Lifecycle of a real-time endpoint."""

    CREATING = "creating"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    FAILED = "failed"
    DELETING = "deleting"


class PolicyName(StrEnum):
    """Promotion policies (SPEC §5)."""

    LATEST_PASSING = "latest-passing"
    BEST = "best"
    MANUAL = "manual"


class Outcome(StrEnum):
    """What a promotion decision does with the new version."""

    PROMOTE = "promote"
    KEEP = "keep"
    PENDING = "pending"


@dataclass(frozen=True)
class Decision:
    """A promotion decision and its reason, e.g. ``r2=0.62 < 0.80: version 4 kept``."""

    outcome: Outcome
    reason: str
    metric: str | None = None
    value: float | None = None
    threshold: float | None = None
    champion_value: float | None = None
    policy: str = PolicyName.LATEST_PASSING.value

    @property
    def promote(self) -> bool:
        """True when the version becomes champion now."""
        return self.outcome is Outcome.PROMOTE

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form stored with the run and the event."""
        return {
            "outcome": self.outcome.value,
            "reason": self.reason,
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "champion_value": self.champion_value,
            "policy": self.policy,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """Build from :meth:`to_dict`'s output."""
        return cls(
            outcome=Outcome(data["outcome"]),
            reason=str(data["reason"]),
            metric=data.get("metric"),
            value=data.get("value"),
            threshold=data.get("threshold"),
            champion_value=data.get("champion_value"),
            policy=str(data.get("policy", PolicyName.LATEST_PASSING.value)),
        )


class Role(StrEnum):
    """What a person may do, each role including the ones before it: a ``viewer`` reads; a
    ``scientist`` also trains, previews sources and tests endpoints; an ``approver`` also
    promotes, rolls back, approves and rejects; an ``admin`` also manages endpoints, their
    keys and the users."""

    VIEWER = "viewer"
    SCIENTIST = "scientist"
    APPROVER = "approver"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """0 for viewer up to 3 for admin."""
        return list(Role).index(self)

    def may(self, action: Action) -> bool:
        """True if this role may perform ``action``."""
        return self.rank >= action.role.rank


class Action(StrEnum):
    """Everything a person can ask of the control plane, by the least role that may."""

    READ = "read"
    TRAIN = "train"  # trigger and cancel runs, pause schedules, preview sources, test endpoints
    PROMOTE = "promote"  # promote, roll back, approve, reject
    ADMIN = "admin"  # endpoints, keys, users and their tokens

    @property
    def role(self) -> Role:
        """The least role allowed to perform this action."""
        return _LEAST_ROLE[self]


_LEAST_ROLE = {
    Action.READ: Role.VIEWER,
    Action.TRAIN: Role.SCIENTIST,
    Action.PROMOTE: Role.APPROVER,
    Action.ADMIN: Role.ADMIN,
}
