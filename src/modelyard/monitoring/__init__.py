"""Monitoring: training profiles, collection of scored rows, drift, measured and estimated
performance, reports, policies, webhooks and the events feed."""

from modelyard.monitoring.collector import Collector, CollectorStats, collection_counters
from modelyard.monitoring.observation import Observation, sampled
from modelyard.monitoring.profile import output_profile, profile_frame

__all__ = [
    "Collector",
    "CollectorStats",
    "Observation",
    "collection_counters",
    "output_profile",
    "profile_frame",
    "sampled",
]
