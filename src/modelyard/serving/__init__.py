"""The data plane: scorers that follow promotions, codecs for each wire format."""

from modelyard.serving.runtime import Runtime
from modelyard.serving.scorer import Loaded, Scored, Scorer

__all__ = ["Loaded", "Runtime", "Scored", "Scorer"]
