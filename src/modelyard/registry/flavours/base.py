"""The flavour contract: how a kind of model becomes bytes and comes back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from modelyard.types import ArtifactFormat, Flavour


@dataclass(frozen=True)
class Serialized:
    """A model turned into one file: bytes, its format, a file name and loader options."""

    data: bytes
    format: ArtifactFormat
    filename: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadContext:
    """What a flavour may use while loading: the trusted skops types and a scratch folder."""

    skops_trusted: tuple[str, ...]
    scratch: Path


class FlavourCodec(Protocol):
    """Two methods: ``can_dump``/``dump`` a live object, ``load`` verified bytes."""

    flavour: Flavour

    def can_dump(self, model: object) -> bool:
        """True if this flavour knows how to serialise ``model`` safely."""

    def dump(self, model: object) -> Serialized:
        """Serialise ``model`` into a safe format."""

    def load(
        self, data: bytes, fmt: ArtifactFormat, options: Mapping[str, Any], ctx: LoadContext
    ) -> object:
        """Deserialise bytes whose sha256 the loader has already checked."""
