"""Plain files (a folder of anything): materialised after verification, never deserialised."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelyard.errors import UnsupportedFormat
from modelyard.registry.flavours.base import LoadContext, Serialized
from modelyard.types import ArtifactFormat, Flavour


class FilesFlavour:
    """Loading yields the folder the verified files were written to."""

    flavour = Flavour.FILES

    def can_dump(self, model: object) -> bool:
        """Files are registered from disk, never from a live object."""
        return False

    def dump(self, model: object) -> Serialized:
        """Not supported: register a file or folder instead."""
        raise UnsupportedFormat("the files flavour registers paths, not objects")

    def load(
        self, data: bytes, fmt: ArtifactFormat, options: Mapping[str, Any], ctx: LoadContext
    ) -> object:
        """Never called: the loader materialises file versions itself."""
        raise UnsupportedFormat("the files flavour is materialised, not deserialised")
