"""Monitoring: training profiles, collection of scored rows, drift, measured and estimated
performance, reports, policies, webhooks and the events feed."""
