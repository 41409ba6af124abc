"""The framework-free scorer of one endpoint: load, warm up, compile, serve, swap on promotion.

A new version is loaded and warmed up beside the one serving; only then is one
reference swapped. A request reads that reference once, so it finishes on the version
it started with. A version that fails to load or to warm up is never swapped in: the
failure is recorded as a registry event and the old version keeps serving.

An alias target also preloads the versions it is likely to move to next (``preload``),
so that when the move is noticed (``noticed``, pushed on PostgreSQL; ``refresh``,
polled) the swap is that one assignment, with no load in between.

After warm-up the version is compiled where it can be (``serving.compile``): checked
against the original on rows drawn from its training profile, kept only if it matches
within 1e-6. ``Loaded.path`` says which runs: ``original`` or the compiled path.
Loading a version (package check, load, warm-up, compile) is ``serving.loading``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelyard.errors import InvalidInput, ModelFailed, ModelUnavailable, ModelyardError
from modelyard.monitoring.prometheus import LOAD_FAILURES, SWAPS, VERSION_IN_USE
from modelyard.registry.records import ModelVersion
from modelyard.registry.registry import Registry
from modelyard.serving import threads
from modelyard.serving.compile.base import NeedsOriginal
from modelyard.serving.loading import Loaded, load_version, predict, shaped
from modelyard.serving.offload import FEW_VALUES
from modelyard.storage.notifications import AliasMove, upcoming
from modelyard.types import ModelRef, OutputKind, Signature

Columns = Mapping[str, np.ndarray[Any, Any]]
PRELOAD = 2  # versions kept loaded beside the serving one, at most


@dataclass(frozen=True)
class Swap:
    """One swap: the version now serving, when (wall time) and what noticed the move."""

    version: int
    at: float
    via: str  # "notice" (PostgreSQL push) or "poll"
    notice_s: float | None = None  # from the move's write (database clock) to this swap


@dataclass(slots=True)  # not frozen (built on every request; see protocols.codec.Head)
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
        check_packages: bool = True,
        endpoint: str | None = None,
    ) -> None:
        """Follow ``target``; ``use_compiled=False`` always runs the original model,
        ``pin_threads=False`` leaves BLAS/OpenMP thread counts as they are, and
        ``check_packages=False`` serves a version trained with another major or minor
        scikit-learn, xgboost or numpy than this process has. Given ``endpoint``, its
        swaps, load failures and version in use are exported to Prometheus."""
        self.target = ModelRef.parse(target)
        self._registry = registry
        self._current: Loaded | None = None
        self._ready: dict[int, Loaded] = {}  # preloaded: loaded, warmed up, compiled
        self._failed: dict[int, str] = {}  # preloads that failed, not tried again
        self._lock = threading.Lock()  # one load at a time; scoring never takes it
        self._state = threading.Lock()  # held for a few assignments, never during a load
        self._noticed: tuple[float, int] | None = None  # (monotonic time, version) of a notice
        self._use_compiled = use_compiled
        self._pin_threads = pin_threads
        self._check_packages = check_packages
        self.last_error: str | None = None
        self.swaps: deque[Swap] = deque(maxlen=64)
        self._endpoint = endpoint

    @property
    def current(self) -> Loaded | None:
        """The version serving now, if any."""
        return self._current

    @property
    def signature(self) -> Signature | None:
        """The signature of the version serving now."""
        current = self._current
        return current.signature if current else None

    @property
    def preloaded(self) -> list[int]:
        """The versions loaded beside the serving one, ready to swap in."""
        return sorted(self._ready)

    def refresh(self) -> bool:
        """Swap in the version the target points at if it changed; returns True on a swap.

        The version is taken from the preloaded ones, or loaded, warmed up and compiled
        first. A result that a notice (``noticed``) may have overtaken is dropped.
        """
        with self._lock:
            began = time.monotonic()
            try:
                wanted = self._registry.resolve(self.target)
            except ModelyardError as exc:
                self.last_error = exc.message
                return False
            current = self._current
            if self._overtaken(began, wanted.version) or (
                current is not None and current.version.version == wanted.version
            ):
                return False
            with self._state:
                preloaded = self._ready.get(wanted.version)
            loaded = preloaded if preloaded is not None else self._load(wanted)
            if isinstance(loaded, str):
                self.last_error = loaded
                return False
            return self._swap(loaded, "poll", began)

    def noticed(self, move: AliasMove) -> bool:
        """The target's alias now points at ``move.version`` (a committed move): swap to it
        at once if it is preloaded. False when a ``refresh`` must load it; never blocks."""
        with self._state:
            self._noticed = (time.monotonic(), move.version)
            current = self._current
            if current is not None and current.version.version == move.version:
                return True
            loaded = self._ready.get(move.version)
            if loaded is None:
                return False
            self._install(loaded, "notice", move.sent_at)
            return True

    def preload(self, *, limit: int = PRELOAD) -> bool:
        """Load one more of the versions an alias target may move to next: the one after
        the version serving (promotions mostly go one step forward) and the newest (what
        a training run just registered), ``limit`` at most; release the others. Returns
        True if it loaded one. A version that fails is recorded and never swapped in."""
        if self.target.alias is None or limit < 1:
            return False
        with self._lock:
            current = self._current
            if current is None:
                return False
            serving = current.version.version
            try:
                numbers = upcoming(self._registry.db, self.target.name, serving)
            except ModelyardError:
                return False
            wanted = list(dict.fromkeys([*numbers[:1], *numbers[-1:]]))[:limit]
            with self._state:
                for number in [n for n in self._ready if n not in wanted]:
                    del self._ready[number]
                todo = [n for n in wanted if n not in self._ready and n not in self._failed]
            self._failed = {n: why for n, why in self._failed.items() if n > serving}
            if not todo:
                return False
            try:
                version = self._registry.get_version(self.target.name, todo[0])
            except ModelyardError:
                return False
            loaded = self._load(version)
            if isinstance(loaded, str):
                self._failed[todo[0]] = loaded
                return False
            with self._state:
                if self._current is not None and self._current.version.version < todo[0]:
                    self._ready[todo[0]] = loaded
            return True

    def _overtaken(self, began: float, version: int) -> bool:
        """A notice of another version came after ``began``: the registry read may be older."""
        noticed = self._noticed
        return noticed is not None and noticed[0] > began and noticed[1] != version

    def _swap(self, loaded: Loaded, via: str, began: float) -> bool:
        with self._state:
            if self._overtaken(began, loaded.version.version):
                self._ready[loaded.version.version] = loaded  # the notice decides
                return False
            self._install(loaded, via)
            return True

    def _install(self, loaded: Loaded, via: str, sent_at: float | None = None) -> None:
        # Under self._state. Requests that read the old reference finish on it; the old
        # version is released with its last reference.
        self._ready.pop(loaded.version.version, None)
        self._current = loaded
        self.last_error = None
        now = time.time()
        notice_s = now - sent_at if sent_at is not None else None
        self.swaps.append(Swap(loaded.version.version, now, via, notice_s))
        if self._endpoint is not None:
            SWAPS.labels(self._endpoint).inc()
            label = self.target.alias or f"v{self.target.version}"
            VERSION_IN_USE.labels(self._endpoint, label).set(loaded.version.version)

    def _load(self, wanted: ModelVersion) -> Loaded | str:
        """The version loaded, warmed up and compiled, or why it cannot score (recorded)."""
        loaded = load_version(
            self._registry,
            wanted,
            use_compiled=self._use_compiled,
            pin_threads=self._pin_threads,
            check_packages=self._check_packages,
        )
        if isinstance(loaded, str) and self._endpoint is not None:
            LOAD_FAILURES.labels(self._endpoint).inc()
        return loaded

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
        signature = current.version.signature
        kind = signature.output_kind if signature is not None else OutputKind.RAW
        predictions: np.ndarray[Any, Any] | None = None
        if current.compiled is not None:
            try:
                predictions = shaped(current.compiled(frame))
            except NeedsOriginal:  # cheaper than contextlib.suppress on every request
                predictions = None  # the original model scores it, below
        if predictions is None:
            rows = _as_frame(frame, signature)
            try:
                predictions = predict(current.model, rows, kind)
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                # Rows that fit the signature but not the model (an unseen category under
                # handle_unknown="error", say): the caller's input, answered with a 4xx.
                detail = f"{type(exc).__name__}: {exc}"[:500]
                raise ModelFailed(f"{current.version.ref} failed on this input: {detail}") from None
        check_finite(predictions, current.version)
        return Scored(
            predictions,
            current.version,
            current.classes if kind is OutputKind.PROBABILITIES else None,
        )


def check_finite(predictions: np.ndarray[Any, Any], version: ModelVersion | str) -> None:
    """Raise ``InvalidInput`` (``prediction_not_finite``, a 422 naming the first row) if a
    numeric prediction is infinite or NaN: finite inputs such as ``1e308`` can overflow
    the model's arithmetic, and no wire format carries the result faithfully (JSON has
    no infinity: it would read ``null`` or ``"inf"`` depending on the route). ``version``
    (or its ``name:version``) names the model in the message."""
    kind = predictions.dtype.kind
    if kind not in "fc":
        return
    few = kind == "f" and predictions.size <= FEW_VALUES  # numpy's reductions cost more
    if few and all(map(math.isfinite, predictions.ravel().tolist())):
        return
    bad = ~np.isfinite(predictions)
    if not bad.any():
        return
    row = int(np.argwhere(bad)[0][0])
    ref = version if isinstance(version, str) else version.ref
    raise InvalidInput(
        f"{ref} predicts a value that is not a finite number for row {row}: its inputs are "
        "too large for the model's arithmetic; send values within the range it was trained on",
        code="prediction_not_finite",
        row=row,
    )


def _as_frame(data: pd.DataFrame | Columns, signature: Signature | None) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    names = signature.names if signature is not None else list(data)
    return pd.DataFrame({name: data[name] for name in names}, columns=names)
