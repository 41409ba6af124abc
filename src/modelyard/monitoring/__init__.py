"""Monitoring: training-data profiles now; collection, drift and reports build on them."""

from modelyard.monitoring.profile import profile_frame

__all__ = ["profile_frame"]
