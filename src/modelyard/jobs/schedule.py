"""Schedule expressions: cron (``0 * * * *``) or intervals (``every 10s``, ``5m``, ``1h``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from croniter import croniter

from modelyard.errors import ConfigError

_INTERVAL = re.compile(r"^(?:every\s+)?(?P<n>\d+)\s*(?P<unit>s|sec|m|min|h|d)$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class ScheduleSpec:
    """A parsed schedule: a cron expression or a fixed interval."""

    text: str
    cron: str | None = None
    interval: timedelta | None = None

    def next_after(self, moment: datetime) -> datetime:
        """The first fire strictly after ``moment`` (interval fires align on the epoch)."""
        if self.interval is not None:
            step = self.interval.total_seconds()
            ticks = int(moment.timestamp() // step) + 1
            return datetime.fromtimestamp(ticks * step, tz=moment.tzinfo)
        assert self.cron is not None
        following: datetime = croniter(self.cron, moment).get_next(datetime)
        return following


def parse_schedule(text: str) -> ScheduleSpec:
    """Parse ``schedule = "…"``; a ConfigError shows both accepted forms."""
    cleaned = text.strip()
    match = _INTERVAL.match(cleaned)
    if match:
        seconds = int(match["n"]) * _UNITS[match["unit"].lower()]
        if seconds < 1:
            raise ConfigError(f"schedule {text!r}: the interval must be at least 1 second")
        return ScheduleSpec(cleaned, interval=timedelta(seconds=seconds))
    if croniter.is_valid(cleaned):
        return ScheduleSpec(cleaned, cron=cleaned)
    raise ConfigError(
        f'schedule {text!r} is neither a cron expression ("0 * * * *") nor an interval '
        '("every 10s", "5m", "1h")'
    )


def next_fire(text: str, moment: datetime) -> datetime:
    """The first fire of schedule ``text`` strictly after ``moment``."""
    return parse_schedule(text).next_after(moment)
