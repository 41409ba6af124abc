"""Flavours: how each kind of model is saved and loaded, behind one safe loader.

Each flavour module imports its own heavy library (skops and scikit-learn,
XGBoost, ONNX Runtime); they are imported on first use so that commands which
never load a model (``modelyard models list``) start quickly.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from functools import cache

from modelyard.registry.flavours.base import FlavourCodec, LoadContext, Serialized
from modelyard.registry.flavours.formats import PICKLE_FORMATS, detect, looks_like_pickle
from modelyard.types import Flavour

_IMPLEMENTATIONS: dict[Flavour, str] = {
    Flavour.SKLEARN: "modelyard.registry.flavours.sklearn:SklearnFlavour",
    Flavour.XGBOOST: "modelyard.registry.flavours.xgboost:XGBoostFlavour",
    Flavour.ONNX: "modelyard.registry.flavours.onnx:OnnxFlavour",
    Flavour.FILES: "modelyard.registry.flavours.files:FilesFlavour",
}


@cache
def codec(flavour: Flavour) -> FlavourCodec:
    """The codec of ``flavour``, its module imported on first use."""
    module, _, cls = _IMPLEMENTATIONS[flavour].partition(":")
    instance: FlavourCodec = getattr(importlib.import_module(module), cls)()
    return instance


def flavour_of(model: object) -> Flavour:
    """The flavour that stores a live ``model``, told by its class without importing others."""
    cls = type(model)
    if cls.__module__.split(".")[0] == "xgboost":
        return Flavour.XGBOOST
    if cls.__name__ == "ModelProto":
        return Flavour.ONNX
    return Flavour.SKLEARN


def skops_untrusted(data: bytes, trusted_patterns: Sequence[str]) -> list[str]:
    """The types in a skops file that match none of the trusted patterns."""
    module = importlib.import_module("modelyard.registry.flavours.sklearn")
    found: list[str] = module.untrusted_types(data, trusted_patterns)
    return found


__all__ = [
    "PICKLE_FORMATS",
    "FlavourCodec",
    "LoadContext",
    "Serialized",
    "codec",
    "detect",
    "flavour_of",
    "looks_like_pickle",
    "skops_untrusted",
]
