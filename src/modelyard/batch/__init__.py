"""Batch scoring: a model version over a SQL query or table, into a table or files,
chunk by chunk, exactly once and resumable."""
