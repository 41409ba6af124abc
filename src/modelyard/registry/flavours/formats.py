"""Which format and flavour a file is, from its name (and a peek at pickles' first bytes)."""

from __future__ import annotations

import io
import pickletools

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


def pickled_class(data: bytes) -> str | None:
    """``module.Class`` of the object a pickle (or an uncompressed joblib file) holds,
    read from its opcodes without unpickling anything (None if it cannot be told)."""
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(io.BytesIO(data)):
            if opcode.name in ("GLOBAL", "INST"):  # "module name" in one argument
                module, _, name = str(arg).partition(" ")
                return f"{module}.{name}"
            if opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                return f"{strings[-2]}.{strings[-1]}"
            if isinstance(arg, str):
                strings.append(arg)
    except Exception:  # not a pickle stream, or joblib's raw array bytes: nothing to tell
        return None
    return None


def pickled_flavour(data: bytes) -> Flavour:
    """The flavour of a pickled model, told by its top-level class (no code runs):
    ``xgboost`` for XGBoost's Booster and scikit-learn wrappers, else ``sklearn``."""
    found = pickled_class(data)
    if found is not None and found.split(".")[0] == "xgboost":
        return Flavour.XGBOOST
    return Flavour.SKLEARN
