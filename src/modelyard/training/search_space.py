"""``[trainings.NAME.search]``: the parameters a training tries, and how it picks them.

```toml
[trainings.churn.search]
method = "random"        # or "grid": every combination of the lists
trials = 8               # random: how many; grid: at most this many (the grid must fit)
metric = "roc_auc"       # what picks the best trial (default: the promotion metric)
seed = 0                 # random draws are the same on every run
[trainings.churn.search.space]
max_depth = [2, 3, 4, 6]                          # a list: one of these
learning_rate = { low = 0.01, high = 0.3, log = true }  # random only: a range
n_estimators = { low = 50, high = 300 }           # integers when both bounds are
```
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelyard.errors import ConfigError

METHODS = ("grid", "random")
_KNOWN = {"method", "trials", "metric", "seed", "space"}


@dataclass(frozen=True)
class Dimension:
    """One searched parameter: a list of ``choices``, or a range ``low``..``high``."""

    name: str
    choices: tuple[Any, ...] = ()
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    integer: bool = False

    def draw(self, rng: np.random.Generator) -> Any:
        """One value, uniform over the choices or the range (its logarithm if ``log``)."""
        if self.choices:
            return self.choices[int(rng.integers(len(self.choices)))]
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
            return round(value) if self.integer else float(value)
        if self.integer:
            return int(rng.integers(int(self.low), int(self.high) + 1))
        return float(rng.uniform(self.low, self.high))


@dataclass(frozen=True)
class SearchSpec:
    """How a training searches its parameters; see the module docstring."""

    method: str
    trials: int
    space: tuple[Dimension, ...]
    metric: str | None = None
    seed: int = 0

    @classmethod
    def parse(cls, data: Any, where: str) -> SearchSpec:
        """Validate ``[trainings.NAME.search]``; every problem is a ``ConfigError``."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where} must be a table: method, trials, metric, space")
        unknown = sorted(set(data) - _KNOWN)
        if unknown:
            raise ConfigError(f"{where}: unknown keys {', '.join(unknown)}")
        method = str(data.get("method", "random"))
        if method not in METHODS:
            raise ConfigError(f'{where}.method must be "grid" or "random", not {method!r}')
        space = data.get("space")
        if not isinstance(space, Mapping) or not space:
            raise ConfigError(
                f"{where}.space must name at least one parameter, e.g. alpha = [0.1, 1]"
            )
        dimensions = tuple(_dimension(str(k), v, f"{where}.space.{k}") for k, v in space.items())
        trials = data.get("trials")
        if trials is not None and (not isinstance(trials, int) or isinstance(trials, bool)):
            raise ConfigError(f"{where}.trials must be a whole number, e.g. 8")
        if method == "grid":
            ranged = [d.name for d in dimensions if not d.choices]
            if ranged:
                raise ConfigError(
                    f"{where}: a grid needs lists; {', '.join(ranged)} is a range "
                    '(give a list of values, or method = "random")'
                )
            size = math.prod(len(d.choices) for d in dimensions)
            if trials is not None and trials < size:
                raise ConfigError(
                    f"{where}: the grid has {size} combinations but trials = {trials}: "
                    f'raise trials to {size}, shorten the lists, or use method = "random"'
                )
            trials = size
        elif trials is None:
            raise ConfigError(f"{where}: a random search needs trials = N (how many to draw)")
        if trials < 1:
            raise ConfigError(f"{where}.trials must be at least 1")
        seed = data.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ConfigError(f"{where}.seed must be a whole number")
        metric = data.get("metric")
        return cls(method, trials, dimensions, str(metric) if metric else None, seed)

    def candidates(self) -> list[dict[str, Any]]:
        """The parameter sets to try: every grid combination in order, or ``trials``
        seeded random draws."""
        if self.method == "grid":
            names = [d.name for d in self.space]
            combos = itertools.product(*(d.choices for d in self.space))
            return [dict(zip(names, combo, strict=True)) for combo in combos]
        rng = np.random.default_rng(self.seed)
        return [{d.name: d.draw(rng) for d in self.space} for _ in range(self.trials)]


def _dimension(name: str, value: Any, where: str) -> Dimension:
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"{where} is an empty list: give at least one value")
        return Dimension(name, choices=tuple(value))
    if isinstance(value, Mapping):
        extra = sorted(set(value) - {"low", "high", "log"})
        if extra or "low" not in value or "high" not in value:
            raise ConfigError(f"{where} must be {{ low = …, high = …, log = true|false }}")
        low, high, log = value["low"], value["high"], bool(value.get("log", False))
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high))
        if not numbers or not low < high:
            raise ConfigError(f"{where}: low and high must be numbers with low < high")
        if log and low <= 0:
            raise ConfigError(f"{where}: a log range needs low > 0")
        integer = isinstance(low, int) and isinstance(high, int)
        return Dimension(name, low=float(low), high=float(high), log=log, integer=integer)
    raise ConfigError(f"{where} must be a list of values or {{ low = …, high = … }}")
