"""Where a version came from: source, query, rows, data fingerprint, code, packages."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata

import pandas as pd

PACKAGES = ("modelyard", "scikit-learn", "xgboost", "numpy", "pandas", "scipy", "skops", "pyarrow")


def package_versions() -> dict[str, str]:
    """Versions of the packages a model's behaviour depends on."""
    found: dict[str, str] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of the data's values, column names and dtypes (order-sensitive)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
