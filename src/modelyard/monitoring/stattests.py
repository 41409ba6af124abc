"""Drift statistics of current values against a feature's stored reference profile.

Each method returns the value it compares with its threshold and whether it drifted,
computed as Evidently computes it, so that the verdicts agree where the methods do:

- ``ks``: two-sample Kolmogorov-Smirnov p-value, drift when p <= threshold (0.05). Exact
  against the reference's stored values (kept up to 1,000 rows); against a larger
  reference, from its quantile function (the asymptotic p-value).
- ``wasserstein``: the first Wasserstein distance divided by the reference's standard
  deviation (at least 0.001), drift when >= threshold (0.1); from the quantile functions.
- ``chisquare``: Pearson's chi-squared p-value of the current counts against the
  reference proportions, drift when p < threshold (0.05).
- ``jensenshannon``: the Jensen-Shannon distance (natural log) between the proportions of
  each category (or, for many distinct numbers, of Sturges bins over both ranges), drift
  when >= threshold (0.1).
- ``psi``: the population stability index over the reference's ten quantile bins (or its
  categories), empty bins counted as 0.0001; drift when >= threshold (0.2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from scipy.spatial import distance

from modelyard.monitoring.current import Current
from modelyard.monitoring.profile import QUANTILES

THRESHOLDS = {"ks": 0.05, "chisquare": 0.05, "wasserstein": 0.1, "jensenshannon": 0.1, "psi": 0.2}
P_VALUES = ("ks", "chisquare")  # a small value means drift
SMALL_REFERENCE = 1_000  # Evidently's switch from tests to distances
FEW_VALUES = 5  # numbers with at most this many distinct values are compared as categories
OTHER = "\x00other"  # the reference's categories beyond its top ones, lumped
_EMPTY = 0.0001
_GRID = 4096

Array = np.ndarray[Any, Any]
Entry = Mapping[str, Any]


@dataclass(frozen=True)
class Outcome:
    """A method's verdict: the value compared with the threshold, and whether it drifted."""

    method: str
    statistic: float
    threshold: float
    drifted: bool

    @property
    def rule(self) -> str:
        """The comparison made, e.g. ``p < 0.05`` or ``>= 0.1``."""
        sign = "<=" if self.method == "ks" else "<" if self.method == "chisquare" else ">="
        return f"{'p ' if self.method in P_VALUES else ''}{sign} {self.threshold:g}"


def reference_rows(entry: Entry) -> int:
    """The reference's non-null values."""
    return int(entry.get("count", 0)) - int(entry.get("nulls", 0))


def default_method(entry: Entry, current: Current) -> str:
    """Evidently's choice: tests up to 1,000 reference rows, distances beyond; numbers with
    at most five distinct values (reference and current together) as categories."""
    small = reference_rows(entry) <= SMALL_REFERENCE
    if entry.get("kind") == "numeric" and _distinct(entry, current) > FEW_VALUES:
        return "ks" if small else "wasserstein"
    return "chisquare" if small else "jensenshannon"


def _distinct(entry: Entry, current: Current) -> int:
    frequencies = entry.get("frequencies")
    if frequencies is None:
        return int(entry.get("distinct", 0))
    return len(set(frequencies) | set(current.counts))


def quantiles(ordered: Array, u: Array) -> Array:
    """numpy's default (linear) quantiles of already sorted values, without partitioning
    again for each of many ``u``."""
    position = u * (ordered.size - 1)
    below = np.floor(position).astype("int64")
    above = np.minimum(below + 1, ordered.size - 1)
    weight = position - below
    result: Array = ordered[below] * (1.0 - weight) + ordered[above] * weight
    return result


def run(method: str, entry: Entry, current: Current, threshold: float | None = None) -> Outcome:
    """The verdict of ``method`` (default threshold unless given)."""
    limit = THRESHOLDS[method] if threshold is None else threshold
    if current.size == 0 or reference_rows(entry) == 0:
        return Outcome(method, math.nan, limit, False)
    value = _STATISTICS[method](entry, current)
    if method == "ks":
        drifted = value <= limit
    elif method == "chisquare":
        drifted = value < limit
    else:
        drifted = value >= limit
    return Outcome(method, float(value), limit, bool(drifted))


# -- categories ----------------------------------------------------------------------------


def counts(entry: Entry, current: Current) -> tuple[list[str], Array, Array]:
    """Categories of both sides (keys), the reference's counts and the current counts.

    Current values the reference never showed go to their own keys, unless the reference
    lumped categories beyond its top ones: then they may be among those, and are counted
    with them."""
    frequencies: Mapping[str, int] = entry.get("frequencies") or {}
    other = int(entry.get("other", 0))
    current_counts = dict(current.counts)
    if other:
        lumped = sum(n for k, n in current_counts.items() if k not in frequencies)
        current_counts = {k: n for k, n in current_counts.items() if k in frequencies}
        current_counts[OTHER] = lumped
        reference = {**frequencies, OTHER: other}
    else:
        reference = dict(frequencies)
    keys = list(dict.fromkeys([*reference, *current_counts]))
    ref = np.array([reference.get(k, 0) for k in keys], dtype="float64")
    cur = np.array([current_counts.get(k, 0) for k in keys], dtype="float64")
    return keys, ref, cur


def _chisquare(entry: Entry, current: Current) -> float:
    _, ref, cur = counts(entry, current)
    expected = ref * (current.size / reference_rows(entry))
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(stats.chisquare(cur, expected * cur.sum() / expected.sum())[1])


def _filled(percents: Array) -> Array:
    """Evidently's fill of empty bins (so that logarithms stay finite)."""
    nonzero = percents[percents != 0]
    if nonzero.size == 0:
        return np.full_like(percents, _EMPTY)
    smallest = float(nonzero.min())
    return np.where(percents == 0, smallest / 10**6 if smallest <= _EMPTY else _EMPTY, percents)


# -- numbers -------------------------------------------------------------------------------


def _reference_cdf(entry: Entry, x: Array) -> Array:
    """The reference's distribution function at ``x`` (exact with stored values)."""
    values = entry.get("values")
    if values is not None:
        found: Array = np.searchsorted(np.asarray(values), x, side="right") / len(values)
        return found
    stored = np.asarray(entry["quantiles"], dtype="float64")
    result: Array = np.interp(x, stored, np.linspace(0, 1, stored.size), left=0.0, right=1.0)
    return result


def _reference_quantiles(entry: Entry, u: Array) -> Array:
    values = entry.get("values")
    if values is not None:
        return quantiles(np.asarray(values, dtype="float64"), u)
    stored = np.asarray(entry["quantiles"], dtype="float64")
    result: Array = np.interp(u, np.linspace(0, 1, QUANTILES + 1), stored)
    return result


def _ks(entry: Entry, current: Current) -> float:
    values = entry.get("values")
    if values is not None:
        return float(stats.ks_2samp(np.asarray(values), current.numbers)[1])
    ordered = np.sort(current.numbers)
    m, n = ordered.size, reference_rows(entry)
    cdf = _reference_cdf(entry, ordered)
    above = np.arange(1, m + 1) / m - cdf
    below = cdf - np.arange(0, m) / m
    d = float(max(above.max(), below.max()))
    return float(stats.distributions.kstwo.sf(d, round(m * n / (m + n))))


def _wasserstein(entry: Entry, current: Current) -> float:
    norm = max(float(entry.get("std", 0.0)), 0.001)
    values = entry.get("values")
    if values is not None:
        return float(stats.wasserstein_distance(np.asarray(values), current.numbers)) / norm
    u = (np.arange(_GRID) + 0.5) / _GRID
    gap = np.abs(_reference_quantiles(entry, u) - quantiles(np.sort(current.numbers), u))
    return float(gap.mean()) / norm


def _sturges(entry: Entry, current: Current) -> tuple[Array, Array]:
    """Evidently's bins for many distinct numbers: Sturges' rule over both ranges."""
    n = reference_rows(entry) + current.size
    low = min(float(entry["min"]), float(current.numbers.min()))
    high = max(float(entry["max"]), float(current.numbers.max()))
    bins = math.ceil(math.log2(n) + 1)
    edges = np.linspace(low, high, bins + 1) if high > low else np.array([low - 0.5, low + 0.5])
    cdf = _reference_cdf(entry, edges)
    cdf[-1] = 1.0
    cdf[0] = 0.0 if float(entry["min"]) >= edges[0] else cdf[0]
    ref = np.diff(cdf)
    cur = np.histogram(current.numbers, edges)[0] / current.size
    return ref, cur


def _proportions(entry: Entry, current: Current) -> tuple[Array, Array]:
    if entry.get("kind") == "numeric" and entry.get("frequencies") is None:
        return _sturges(entry, current)
    _, ref, cur = counts(entry, current)
    return ref / reference_rows(entry), cur / current.size


def _jensenshannon(entry: Entry, current: Current) -> float:
    ref, cur = _proportions(entry, current)
    return float(distance.jensenshannon(ref, cur))


def _psi_bins(entry: Entry, current: Current) -> tuple[Array, Array]:
    if entry.get("kind") == "numeric" and entry.get("frequencies") is None:
        edges = np.asarray(entry["edges"])
        ref = np.asarray(entry["counts"], dtype="float64")
        index = np.clip(np.searchsorted(edges, current.numbers, side="right") - 1, 0, ref.size - 1)
        cur = np.bincount(index, minlength=ref.size).astype("float64")
        return ref / ref.sum(), cur / current.size
    _, ref, cur = counts(entry, current)
    return ref / reference_rows(entry), cur / current.size


def psi(entry: Entry, current: Current) -> float:
    """The population stability index of ``current`` against the reference."""
    ref, cur = _psi_bins(entry, current)
    ref, cur = _filled(ref), _filled(cur)
    return float(np.sum((ref - cur) * np.log(ref / cur)))


_STATISTICS = {
    "ks": _ks,
    "wasserstein": _wasserstein,
    "chisquare": _chisquare,
    "jensenshannon": _jensenshannon,
    "psi": psi,
}
