"""A run's journal: stage timings and log lines, and the stage callback.

``TrainingRunner`` opens one per run; each stage begins (calling ``on_stage``), is timed
until the next begins, and its log lines end up in the run's recorded logs. ``save`` is
called as each stage begins, so that the logs so far can be read while the run goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OnStage = Callable[[str, str], None]
"""Called with (stage, detail) as each stage starts ("load", "fit", …) and with ("done", …)."""

STAGES = ("load", "search", "fit", "evaluate", "register", "gate")


@dataclass
class Journal:
    """Stage timings and log lines of one run."""

    on_stage: OnStage | None
    save: Callable[[Journal], None] | None = None
    stages: list[dict[str, Any]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    rows: int | None = None
    trials: list[dict[str, Any]] = field(default_factory=list)  # a search's, in order
    _started: float = 0.0
    _current: str | None = None

    def begin(self, name: str, detail: str = "") -> None:
        self.end()
        self._current, self._started = name, time.perf_counter()
        self.log(f"{name}: {detail}" if detail else name)
        if self.save is not None:
            self.save(self)
        if self.on_stage is not None:
            self.on_stage(name, detail)

    def end(self, detail: str = "") -> None:
        if self._current is not None:
            seconds = round(time.perf_counter() - self._started, 4)
            self.stages.append({"name": self._current, "seconds": seconds, "detail": detail})
            self._current = None

    def log(self, line: str) -> None:
        self.lines.append(line)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"
