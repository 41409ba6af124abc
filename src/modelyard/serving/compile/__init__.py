"""Exact fast scorers: a fitted pipeline reproduced in numpy, its trees in ONNX Runtime or XGBoost.

``try_compile(model, signature, sample)`` returns a :class:`Compiled` scorer that
matches the original on ``sample`` within 1e-6, or a :class:`Fallback` that says why
the original keeps running. A compiled scorer raises :class:`NeedsOriginal` for an
input it does not reproduce; the caller then scores that input with the original.
"""

from modelyard.serving.compile.base import TOLERANCE, Columns, Compiled, Fallback, NeedsOriginal
from modelyard.serving.compile.compiler import compile_model, method_for, try_compile

__all__ = [
    "TOLERANCE",
    "Columns",
    "Compiled",
    "Fallback",
    "NeedsOriginal",
    "compile_model",
    "method_for",
    "try_compile",
]
