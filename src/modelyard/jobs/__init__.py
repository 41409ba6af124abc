"""The job system: a durable queue, workers with heartbeats, a leader-elected scheduler.

It knows job kinds only by name: the composition root hands a worker its handlers.
"""

from modelyard.jobs.schedule import next_fire, parse_schedule
from modelyard.jobs.scheduler import Periodic, Scheduler
from modelyard.jobs.worker import JobContext, Worker

__all__ = ["JobContext", "Periodic", "Scheduler", "Worker", "next_fire", "parse_schedule"]
