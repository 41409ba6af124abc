"""Which format and flavour a file is, from its name (and a peek at pickles' first bytes)."""

from __future__ import annotations

from modelyard.errors import UnsupportedFormat
from modelyard.types import ArtifactFormat, Flavour

BY_SUFFIX: dict[str, tuple[Flavour, ArtifactFormat]] = {
    ".skops": (Flavour.SKLEARN, ArtifactFormat.SKOPS),
    ".joblib": (Flavour.SKLEARN, ArtifactFormat.JOBLIB),
    ".pkl": (Flavour.SKLEARN, ArtifactFormat.PICKLE),
    ".pickle": (Flavour.SKLEARN, ArtifactFormat.PICKLE),
    ".json": (Flavour.XGBOOST, ArtifactFormat.XGBOOST_JSON),
    ".ubj": (Flavour.XGBOOST, ArtifactFormat.XGBOOST_UBJ),
    ".onnx": (Flavour.ONNX, ArtifactFormat.ONNX),
}
PICKLE_FORMATS = frozenset({ArtifactFormat.PICKLE, ArtifactFormat.JOBLIB})


def detect(filename: str) -> tuple[Flavour, ArtifactFormat]:
    """The flavour and format for a model file name, or ``UnsupportedFormat``."""
    lower = filename.lower()
    for suffix, found in BY_SUFFIX.items():
        if lower.endswith(suffix):
            return found
    known = ", ".join(BY_SUFFIX)
    raise UnsupportedFormat(
        f"cannot tell the model format of {filename!r}: expected one of {known}, "
        "or register a folder with --flavour files"
    )


def looks_like_pickle(head: bytes) -> bool:
    """True if the bytes start like a pickle stream (protocol 2 or newer)."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5
