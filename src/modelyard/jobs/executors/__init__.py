"""Executors: where the heavy part of a job runs (the fit of a training run).

``local`` (the default) runs it in the worker's own process; ``ray`` runs it as a task
on an existing Ray cluster reached with token authentication.
"""
