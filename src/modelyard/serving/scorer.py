"""The framework-free scorer of one endpoint: load, warm up, serve, and swap on promotion.

A new version is loaded and warmed up beside the one serving; only then is one
reference swapped. A request reads that reference once, so it finishes on the version
it started with. A version that fails to load or to warm up is never swapped in: the
failure is recorded as a registry event and the old version keeps serving.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelyard.errors import ModelUnavailable, ModelyardError
from modelyard.registry import ModelVersion, Registry
from modelyard.serving.frame import example_frame
from modelyard.types import EventKind, ModelRef, OutputKind, Signature


@dataclass(frozen=True)
class Loaded:
    """A version ready to score."""

    version: ModelVersion
    model: Any
    loaded_at: float

    @property
    def signature(self) -> Signature | None:
        """The input signature the version was registered with."""
        return self.version.signature


@dataclass(frozen=True)
class Scored:
    """Predictions and the version that made them."""

    predictions: np.ndarray[Any, Any]
    version: ModelVersion
    classes: list[Any] | None = None


class Scorer:
    """Serves the version a model reference points at, following it as it moves."""

    def __init__(self, registry: Registry, target: str) -> None:
        self.target = ModelRef.parse(target)
        self._registry = registry
        self._current: Loaded | None = None
        self._lock = threading.Lock()  # one load at a time; scoring never takes it
        self.last_error: str | None = None

    @property
    def current(self) -> Loaded | None:
        """The version serving now, if any."""
        return self._current

    @property
    def signature(self) -> Signature | None:
        """The signature of the version serving now."""
        current = self._current
        return current.signature if current else None

    def refresh(self) -> bool:
        """Load the version the target points at if it changed; returns True on a swap."""
        with self._lock:
            try:
                wanted = self._registry.resolve(self.target)
            except ModelyardError as exc:
                self.last_error = exc.message
                return False
            current = self._current
            if current is not None and current.version.version == wanted.version:
                return False
            try:
                model = self._registry.loader.load(wanted)
                self._warm_up(wanted, model)
            except Exception as exc:  # never swap in what cannot score
                self.last_error = f"{wanted.ref} failed to load: {type(exc).__name__}: {exc}"
                self._record_failure(wanted, self.last_error)
                return False
            self._current = Loaded(wanted, model, time.time())
            self.last_error = None
            return True

    def _warm_up(self, version: ModelVersion, model: Any) -> None:
        if version.signature is None:
            return
        frame = example_frame(version.signature, version.profile)
        _predict(model, frame, version.signature.output_kind)

    def _record_failure(self, version: ModelVersion, message: str) -> None:
        # If the registry is down too, the endpoint keeps serving regardless.
        with contextlib.suppress(ModelyardError):
            self._registry.record_event(
                version.name, EventKind.LOAD_FAILED, to_version=version.version, reason=message
            )

    def score(self, frame: pd.DataFrame) -> Scored:
        """Predict with the version serving now."""
        current = self._current
        if current is None:
            raise ModelUnavailable(
                f"no version of {self.target} is loaded"
                + (f": {self.last_error}" if self.last_error else "")
            )
        kind = current.signature.output_kind if current.signature else OutputKind.RAW
        predictions = _predict(current.model, frame, kind)
        classes = getattr(current.model, "classes_", None)
        return Scored(
            predictions,
            current.version,
            [c.item() if hasattr(c, "item") else c for c in classes]
            if kind is OutputKind.PROBABILITIES and classes is not None
            else None,
        )


def _predict(model: Any, frame: pd.DataFrame, kind: OutputKind) -> np.ndarray[Any, Any]:
    if kind is OutputKind.PROBABILITIES and hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(frame))
    out = np.asarray(model.predict(frame))
    if out.ndim == 2 and out.shape[1] == 1:
        out = out.ravel()
    return out
