"""Flavours: how each kind of model is saved and loaded, behind one safe loader."""

from modelyard.registry.flavours.base import FlavourCodec, LoadContext, Serialized
from modelyard.registry.flavours.files import FilesFlavour
from modelyard.registry.flavours.formats import PICKLE_FORMATS, detect, looks_like_pickle
from modelyard.registry.flavours.onnx import OnnxFlavour
from modelyard.registry.flavours.sklearn import SklearnFlavour, load_skops, untrusted_types
from modelyard.registry.flavours.xgboost import XGBoostFlavour
from modelyard.types import Flavour

CODECS: dict[Flavour, FlavourCodec] = {
    Flavour.XGBOOST: XGBoostFlavour(),
    Flavour.SKLEARN: SklearnFlavour(),
    Flavour.ONNX: OnnxFlavour(),
    Flavour.FILES: FilesFlavour(),
}

__all__ = [
    "CODECS",
    "PICKLE_FORMATS",
    "FlavourCodec",
    "LoadContext",
    "Serialized",
    "detect",
    "load_skops",
    "looks_like_pickle",
    "untrusted_types",
]
