"""Pickle and joblib bytes, loaded only once an admin approved them and their sha256 matched.

Any flavour may be stored pickled (the class inside tells which, see
``formats.pickled_flavour``); each loads those bytes here, the one place that unpickles.
"""

from __future__ import annotations

import io
import pickle  # only reached for admin-approved, hash-checked bytes

from modelyard.errors import UnsupportedFormat
from modelyard.types import ArtifactFormat


def load_pickled(data: bytes, fmt: ArtifactFormat) -> object:
    """Unpickle approved, verified ``data`` (``fmt`` pickle or joblib)."""
    if fmt is ArtifactFormat.JOBLIB:
        import joblib  # the joblib reader only where a joblib file is loaded

        return joblib.load(io.BytesIO(data))
    if fmt is ArtifactFormat.PICKLE:
        return pickle.loads(data)  # noqa: S301  # admin-approved and sha256-checked
    raise UnsupportedFormat(f"{fmt.value} is not a pickle format")
