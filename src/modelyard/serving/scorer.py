"""The framework-free scorer of one endpoint: load, warm up, compile, serve, swap on promotion.

A new version is loaded and warmed up beside the one serving; only then is one
reference swapped. A request reads that reference once, so it finishes on the version
it started with. A version that fails to load or to warm up is never swapped in: the
failure is recorded as a registry event and the old version keeps serving.

After warm-up the version is compiled where it can be (``serving.compile``): checked
against the original on rows drawn from its training profile, kept only if it matches
within 1e-6. ``Loaded.path`` says which runs: ``original`` or the compiled path.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelyard.errors import ModelFailed, ModelUnavailable, ModelyardError
from modelyard.registry import ModelVersion, Registry
from modelyard.serving import threads
from modelyard.serving.compile import Compiled, Fallback, NeedsOriginal, method_for, try_compile
from modelyard.serving.frame import example_frame
from modelyard.serving.samples import sample_frame
from modelyard.types import EventKind, ModelRef, OutputKind, Signature

Columns = Mapping[str, np.ndarray[Any, Any]]


@dataclass(frozen=True)
class Loaded:
    """A version ready to score, with its compiled scorer if it has one."""

    version: ModelVersion
    model: Any
    loaded_at: float
    compiled: Compiled | None = None
    fallback_reason: str | None = None  # why the original runs, when it does
    classes: list[Any] | None = None  # the classifier's classes_, as plain values

    @property
    def signature(self) -> Signature | None:
        """The input signature the version was registered with."""
        return self.version.signature

    @property
    def path(self) -> str:
        """What scores: ``original``, or the compiled path (``numpy+onnxruntime``, …)."""
        return self.compiled.path if self.compiled is not None else "original"


@dataclass(frozen=True)
class Scored:
    """Predictions and the version that made them."""

    predictions: np.ndarray[Any, Any]
    version: ModelVersion
    classes: list[Any] | None = None


class Scorer:
    """Serves the version a model reference points at, following it as it moves."""

    def __init__(
        self,
        registry: Registry,
        target: str,
        *,
        use_compiled: bool = True,
        pin_threads: bool = True,
    ) -> None:
        """Follow ``target``; ``use_compiled=False`` always runs the original model, and
        ``pin_threads=False`` leaves BLAS/OpenMP thread counts as they are."""
        self.target = ModelRef.parse(target)
        self._registry = registry
        self._current: Loaded | None = None
        self._lock = threading.Lock()  # one load at a time; scoring never takes it
        self._use_compiled = use_compiled
        self._pin_threads = pin_threads
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
            off = Fallback("compiling is turned off")
            outcome = self._compiled(wanted, model) if self._use_compiled else off
            if self._pin_threads:
                threads.prepare()
            self._current = Loaded(
                wanted,
                model,
                time.time(),
                compiled=outcome if isinstance(outcome, Compiled) else None,
                fallback_reason=outcome.reason if isinstance(outcome, Fallback) else None,
                classes=_classes(model),
            )
            self.last_error = None
            return True

    def _warm_up(self, version: ModelVersion, model: Any) -> None:
        if version.signature is None:
            return
        frame = example_frame(version.signature, version.profile)
        _predict(model, frame, version.signature.output_kind)

    def _compiled(self, version: ModelVersion, model: Any) -> Compiled | Fallback:
        """A compiled scorer checked on ~200 profile rows, or why the original runs."""
        signature = version.signature
        if signature is None:
            return Fallback("the version has no signature")
        try:
            sample = sample_frame(signature, version.profile)
            try:
                _predict(model, sample, signature.output_kind)
            except Exception:  # e.g. an encoder that rejects unseen categories
                sample = sample_frame(signature, version.profile, unseen=False)
            return try_compile(model, signature, sample)
        except Exception as exc:  # the original serves regardless
            return Fallback(f"no sample to verify on: {type(exc).__name__}: {exc}")

    def _record_failure(self, version: ModelVersion, message: str) -> None:
        # If the registry is down too, the endpoint keeps serving regardless.
        with contextlib.suppress(ModelyardError):
            self._registry.record_event(
                version.name, EventKind.LOAD_FAILED, to_version=version.version, reason=message
            )

    def score(self, frame: pd.DataFrame | Columns) -> Scored:
        """Predict with the version serving now: its compiled scorer if it has one.

        ``frame`` is a checked DataFrame, or checked columns as numpy arrays by name (a
        DataFrame is then built only if the original model has to run).
        """
        current = self._current
        if current is None:
            raise ModelUnavailable(
                f"no version of {self.target} is loaded"
                + (f": {self.last_error}" if self.last_error else "")
            )
        if self._pin_threads:
            threads.pin_this_thread()
        kind = current.signature.output_kind if current.signature else OutputKind.RAW
        predictions: np.ndarray[Any, Any] | None = None
        if current.compiled is not None:
            with contextlib.suppress(NeedsOriginal):
                predictions = _shaped(current.compiled(frame))
        if predictions is None:
            rows = _as_frame(frame, current.signature)
            try:
                predictions = _predict(current.model, rows, kind)
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                # Rows that fit the signature but not the model (an unseen category under
                # handle_unknown="error", say): the caller's input, answered with a 4xx.
                detail = f"{type(exc).__name__}: {exc}"[:500]
                raise ModelFailed(f"{current.version.ref} failed on this input: {detail}") from None
        return Scored(
            predictions,
            current.version,
            current.classes if kind is OutputKind.PROBABILITIES else None,
        )


def _predict(model: Any, frame: pd.DataFrame, kind: OutputKind) -> np.ndarray[Any, Any]:
    return _shaped(getattr(model, method_for(model, kind))(frame))


def _classes(model: Any) -> list[Any] | None:
    classes = getattr(model, "classes_", None)
    if classes is None:
        return None
    return [c.item() if hasattr(c, "item") else c for c in classes]


def _shaped(predictions: Any) -> np.ndarray[Any, Any]:
    out = np.asarray(predictions)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out.ravel()
    return out


def _as_frame(data: pd.DataFrame | Columns, signature: Signature | None) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    names = signature.names if signature is not None else list(data)
    return pd.DataFrame({name: data[name] for name in names}, columns=names)
