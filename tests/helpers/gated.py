"""Models for the data-plane tests, pickled and loaded in the test process: one whose
loading waits for a gate (an endpoint caught while its model loads), one that raises an
unexpected exception on a marked row (how many times did it run?)."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pandas as pd

GATE = threading.Event()
COUNTS = {"loads": 0, "explosions": 0}
MARK = 666.0  # the surface that makes Exploding raise


class Gated:
    """Doubles ``surface``; unpickling it waits (up to 60 s) until ``GATE`` is set."""

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        COUNTS["loads"] += 1
        GATE.wait(60)

    def predict(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        """Twice the surface."""
        return np.asarray(frame["surface"], dtype="float64") * 2


class Exploding:
    """Doubles ``surface``, and raises ``RuntimeError`` (a bug, not bad input) on ``MARK``."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        """Twice the surface, or a RuntimeError on the marked row."""
        surface = np.asarray(frame["surface"], dtype="float64")
        if (surface == MARK).any():
            COUNTS["explosions"] += 1
            raise RuntimeError("boom")
        return surface * 2
