"""Training from SQL: declarations, estimators and scripts, evaluation, metrics, runs."""

from modelyard.training.runner import STAGES, TrainingRunner
from modelyard.training.spec import TrainingSpec

__all__ = ["STAGES", "TrainingRunner", "TrainingSpec"]
