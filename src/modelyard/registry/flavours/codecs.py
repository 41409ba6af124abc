"""The codec of each flavour, its module (and heavy library) imported on first use."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from functools import cache

from modelyard.registry.flavours.base import FlavourCodec
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
