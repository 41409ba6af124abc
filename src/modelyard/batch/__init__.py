"""Batch scoring: a model version over a SQL query or table, into a table or files,
chunk by chunk, exactly once and resumable."""

from modelyard.batch.runner import BatchRunner, split_range
from modelyard.batch.spec import BatchSpec, check_job_id

__all__ = ["BatchRunner", "BatchSpec", "check_job_id", "split_range"]
