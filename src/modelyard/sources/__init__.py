"""Data sources: SQL databases (Arrow fast paths) and CSV/Parquet files, read and written."""
