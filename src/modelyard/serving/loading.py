"""Loading one version for a scorer: check packages, load, warm up, compile.

``load_version`` returns a ``Loaded`` ready to score, or the reason it cannot score;
the reason is also recorded as a ``load_failed`` registry event, so a version that
fails is never swapped in and the one serving keeps serving.

After warm-up the version is compiled where it can be (``serving.compile``): checked
against the original on rows drawn from its training profile, kept only if it matches
within 1e-6. ``Loaded.path`` says which runs: ``original`` or the compiled path.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelyard.deployments.env.packages import (
    package_mismatches,
    serving_packages,
    trained_packages,
)
from modelyard.errors import ModelyardError
from modelyard.registry.records import ModelVersion
from modelyard.registry.registry import Registry
from modelyard.serving import threads
from modelyard.serving.compile.base import Compiled, Fallback
from modelyard.serving.compile.compiler import method_for, try_compile
from modelyard.serving.frame import example_frame
from modelyard.serving.samples import sample_frame
from modelyard.types import EventKind, Flavour, OutputKind, Signature, files_refusal


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


def load_version(
    registry: Registry,
    wanted: ModelVersion,
    *,
    use_compiled: bool = True,
    pin_threads: bool = True,
    check_packages: bool = True,
) -> Loaded | str:
    """The version loaded, warmed up and compiled, or why it cannot score (recorded)."""
    if wanted.flavour is Flavour.FILES:
        message = files_refusal(wanted.ref)
        _record_failure(registry, wanted, message)
        return message
    differences = package_mismatches(trained_packages(wanted), serving_packages())
    if differences and check_packages:
        message = (
            f"{wanted.ref} was trained with other packages than this server has: "
            + "; ".join(differences)
            + " (serve it from an environment with those versions, or create the "
            "endpoint with --skip-package-check)"
        )
        _record_failure(registry, wanted, message)
        return message
    try:
        model = registry.loader.load(wanted)
        _warm_up(wanted, model)
    except Exception as exc:  # never swap in what cannot score
        message = f"{wanted.ref} failed to load: {type(exc).__name__}: {exc}"
        _record_failure(registry, wanted, message)
        return message
    off = Fallback("compiling is turned off")
    outcome = _compiled(wanted, model) if use_compiled else off
    if pin_threads:
        threads.prepare()
    return Loaded(
        wanted,
        model,
        time.time(),
        compiled=outcome if isinstance(outcome, Compiled) else None,
        fallback_reason=outcome.reason if isinstance(outcome, Fallback) else None,
        classes=_classes(model),
    )


def _warm_up(version: ModelVersion, model: Any) -> None:
    if version.signature is None:
        return
    frame = example_frame(version.signature, version.profile)
    predict(model, frame, version.signature.output_kind)


def _compiled(version: ModelVersion, model: Any) -> Compiled | Fallback:
    """A compiled scorer checked on ~200 profile rows, or why the original runs."""
    signature = version.signature
    if signature is None:
        return Fallback("the version has no signature")
    try:
        sample = sample_frame(signature, version.profile)
        try:
            predict(model, sample, signature.output_kind)
        except Exception:  # e.g. an encoder that rejects unseen categories
            sample = sample_frame(signature, version.profile, unseen=False)
        return try_compile(model, signature, sample)
    except Exception as exc:  # the original serves regardless
        return Fallback(f"no sample to verify on: {type(exc).__name__}: {exc}")


def _record_failure(registry: Registry, version: ModelVersion, message: str) -> None:
    # If the registry is down too, the endpoint keeps serving regardless.
    with contextlib.suppress(ModelyardError):
        registry.record_event(
            version.name, EventKind.LOAD_FAILED, to_version=version.version, reason=message
        )


def predict(model: Any, frame: pd.DataFrame, kind: OutputKind) -> np.ndarray[Any, Any]:
    """The original model's predictions for ``kind`` (``predict_proba`` for probabilities…)."""
    return shaped(getattr(model, method_for(model, kind))(frame))


def _classes(model: Any) -> list[Any] | None:
    classes = getattr(model, "classes_", None)
    if classes is None:
        return None
    return [c.item() if hasattr(c, "item") else c for c in classes]


def shaped(predictions: Any) -> np.ndarray[Any, Any]:
    """``predictions`` as an array, a single column flattened to one dimension."""
    out = np.asarray(predictions)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out.ravel()
    return out
