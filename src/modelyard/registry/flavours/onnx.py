"""ONNX models, run by ONNX Runtime (the ``onnx`` extra)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelyard.errors import UnsupportedFormat
from modelyard.registry.flavours.base import LoadContext, Serialized
from modelyard.types import ArtifactFormat, Flavour


class OnnxFlavour:
    """An ONNX graph loaded into an ``onnxruntime.InferenceSession``."""

    flavour = Flavour.ONNX

    def can_dump(self, model: object) -> bool:
        """True for an ``onnx.ModelProto``."""
        return type(model).__name__ == "ModelProto" and hasattr(model, "SerializeToString")

    def dump(self, model: object) -> Serialized:
        """Serialise the graph as is."""
        return Serialized(model.SerializeToString(), ArtifactFormat.ONNX, "model.onnx")  # type: ignore[attr-defined]

    def load(
        self, data: bytes, fmt: ArtifactFormat, options: Mapping[str, Any], ctx: LoadContext
    ) -> object:
        """Open an inference session on one intra-op thread (replicas share few cores)."""
        try:
            import onnxruntime as ort  # optional extra
        except ImportError:
            raise UnsupportedFormat(
                "ONNX models need onnxruntime: pip install 'modelyard[onnx]'"
            ) from None
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(options.get("threads", 1))
        return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
