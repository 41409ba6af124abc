"""User training scripts: ``train(df, params)``, or Azure ML Studio (classic)'s
``azureml_main(dataframe1, dataframe2)`` exactly as such scripts were written.

A classic script returns a tuple whose first item is a DataFrame; in seed 000 its
first cell holds ``pickle.dumps(lr)``. That pickle was made a moment ago, in this
run, by the user's own code: it is unpickled once, here, and the estimator is then
stored as skops like any other.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import pickle  # only bytes produced in this very run by the user's script
import sys
import threading
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from modelyard.errors import ConfigError, InvalidInput, ScriptFailed


@dataclass
class ScriptResult:
    """The fitted model a script produced, and what it printed."""

    model: Any
    output: str


def code_hash(path: Path) -> str:
    """sha256 of the script's bytes (recorded in lineage)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_script(path: Path) -> ModuleType:
    """Import a script file under a private module name."""
    if not path.is_file():
        raise ConfigError(f"training script {path} does not exist")
    name = f"modelyard_user_script_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import training script {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise ScriptFailed(
            f"training script {path.name} failed on import: {type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
        ) from None
    return module


class _PerThreadStream(io.TextIOBase):
    """Stands in for sys.stdout/stderr: a thread capturing a script's output writes to its
    buffer, every other thread (a server, a scheduler) to the real stream."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.local = threading.local()

    def write(self, text: str) -> int:
        target = getattr(self.local, "buffer", None) or self.real
        target.write(text)  # some streams (a Ray worker's) answer None, not a count
        return len(text)

    def flush(self) -> None:
        target = getattr(self.local, "buffer", None) or self.real
        target.flush()


_install_lock = threading.Lock()


@contextlib.contextmanager
def captured(buffer: io.StringIO) -> Iterator[None]:
    """Send this thread's stdout and stderr to ``buffer`` while the block runs."""
    with _install_lock:
        for name in ("stdout", "stderr"):
            if not isinstance(getattr(sys, name), _PerThreadStream):
                setattr(sys, name, _PerThreadStream(getattr(sys, name)))
    streams = [s for s in (sys.stdout, sys.stderr) if isinstance(s, _PerThreadStream)]
    for stream in streams:
        stream.local.buffer = buffer
    try:
        yield
    finally:
        for stream in streams:
            stream.local.buffer = None


def run_script(path: Path, frame: pd.DataFrame, params: dict[str, Any]) -> ScriptResult:
    """Run ``train(df, params)`` or ``azureml_main(df, None)``; capture stdout and stderr."""
    buffer = io.StringIO()
    with captured(buffer):
        module = load_script(path)
        train = getattr(module, "train", None)
        classic = getattr(module, "azureml_main", None)
        if train is None and classic is None:
            raise ConfigError(
                f"training script {path.name} defines neither train(df, params) "
                "nor azureml_main(dataframe1, dataframe2)"
            )
        try:
            result = train(frame, params) if train is not None else classic(frame, None)  # type: ignore[misc]
        except Exception as exc:
            output = buffer.getvalue() + traceback.format_exc()
            raise ScriptFailed(
                f"training script {path.name} raised {type(exc).__name__}: {exc} "
                "(traceback in the run's logs)",
                logs=output,
            ) from None
    return ScriptResult(_model_from(result, path.name), buffer.getvalue())


def _model_from(result: Any, script: str) -> Any:
    if isinstance(result, tuple) and result:
        result = result[0]
    if isinstance(result, pd.DataFrame):
        if result.empty:
            raise InvalidInput(
                f"{script} returned an empty DataFrame, not a model", code="not_a_model"
            )
        cell = result.iloc[0, 0]
        if isinstance(cell, bytes | bytearray):
            try:
                result = pickle.loads(cell)  # noqa: S301  # produced by this run's own script
            except Exception as exc:
                raise InvalidInput(
                    f"{script} returned bytes in its first cell that are not a pickled model: "
                    f"{exc}",
                    code="not_a_model",
                ) from None
    if not hasattr(result, "predict"):
        raise InvalidInput(
            f"{script} returned {type(result).__name__}, not a model: return a fitted estimator "
            "(or, for azureml_main, a DataFrame whose first cell holds pickle.dumps(model))",
            code="not_a_model",
        )
    return result
