"""Training from SQL: declarations, estimators and scripts, evaluation, metrics, runs."""
