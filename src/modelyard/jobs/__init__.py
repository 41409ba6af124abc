"""The job system: a durable queue, workers with heartbeats, a leader-elected scheduler.

It knows job kinds only by name: the composition root hands a worker its handlers.
"""
