"""scikit-learn models: skops (safe, allow-listed types); pickle/joblib only by admin consent."""

from __future__ import annotations

import fnmatch
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

import skops.io as sio

from modelyard.errors import UnsupportedFormat, UntrustedTypes
from modelyard.registry.flavours.base import LoadContext, Serialized
from modelyard.registry.flavours.formats import PICKLE_FORMATS
from modelyard.registry.flavours.pickled import load_pickled
from modelyard.types import ArtifactFormat, Flavour


def untrusted_types(data: bytes, trusted_patterns: Sequence[str]) -> list[str]:
    """The types in a skops file that match none of ``trusted_patterns``."""
    try:
        found = sio.get_untrusted_types(data=data)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UnsupportedFormat(f"not a valid skops file: {exc}") from None
    return sorted(t for t in found if not any(fnmatch.fnmatchcase(t, p) for p in trusted_patterns))


def load_skops(data: bytes, trusted_patterns: Sequence[str], *, where: str = "") -> object:
    """Load skops bytes, refusing any type outside the allow-list (never the file's own list)."""
    refused = untrusted_types(data, trusted_patterns)
    if refused:
        place = f"{where} " if where else ""
        raise UntrustedTypes(
            f"{place}contains types outside the workspace allow-list: {', '.join(refused)}; "
            "add them to security.skops_trusted in modelyard.toml if you trust them",
            types=refused,
        )
    found = sio.get_untrusted_types(data=data)
    return sio.loads(data, trusted=found)


class SklearnFlavour:
    """Any scikit-learn-compatible estimator, stored with skops."""

    flavour = Flavour.SKLEARN

    def can_dump(self, model: object) -> bool:
        """Anything with ``fit`` and ``predict`` or ``transform``."""
        return hasattr(model, "fit") and (hasattr(model, "predict") or hasattr(model, "transform"))

    def dump(self, model: object) -> Serialized:
        """Serialise with skops."""
        return Serialized(sio.dumps(model), ArtifactFormat.SKOPS, "model.skops")

    def load(
        self, data: bytes, fmt: ArtifactFormat, options: Mapping[str, Any], ctx: LoadContext
    ) -> object:
        """Load skops with the allow-list; pickle and joblib only reach here once approved."""
        if fmt is ArtifactFormat.SKOPS:
            return load_skops(data, ctx.skops_trusted, where=str(options.get("file", "")))
        if fmt in PICKLE_FORMATS:
            return load_pickled(data, fmt)
        raise UnsupportedFormat(f"the sklearn flavour cannot load format {fmt.value}")
