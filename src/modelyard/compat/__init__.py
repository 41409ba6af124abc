"""Compatibility layers: code written for other platforms, running on modelyard unchanged
but for its imports."""
