"""Exact fast scorers: a fitted pipeline reproduced in numpy, its trees in ONNX Runtime or XGBoost.

``try_compile(model, signature, sample)`` returns a :class:`Compiled` scorer that
matches the original on ``sample`` within 1e-6, or a :class:`Fallback` that says why
the original keeps running. A compiled scorer raises :class:`NeedsOriginal` for an
input it does not reproduce; the caller then scores that input with the original.
"""
