"""Versions asked for by URL, kept loaded under a memory budget, least recently used first out.

``/endpoints/E/versions/V/score`` (and an alias in the URL that resolves to a version no
scorer of the endpoint serves) is answered by a scorer pinned to that version, loaded on
first use (off the event loop) and kept here. Their sizes are estimated by their artifacts'
(``ModelVersion.size``); past the budget the least recently used are released. The
endpoints' own scorers (the champion and the aliases of a traffic split or mirror) are
never here, so never released. The most recent version always stays, even if it alone is
over the budget: a request for it is answered, and the next one unloads it if need be.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from modelyard.registry.records import ModelVersion
from modelyard.registry.registry import Registry
from modelyard.serving.scorer import Scorer


class VersionCache:
    """Scorers pinned to one version each, by (model, version), within ``budget_bytes``."""

    def __init__(self, registry: Registry, budget_bytes: int) -> None:
        self._registry = registry
        self.budget_bytes = budget_bytes
        self._scorers: OrderedDict[tuple[str, int], Scorer] = OrderedDict()
        self._sizes: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def get(self, version: ModelVersion, *, endpoint: str, check_packages: bool) -> Scorer:
        """The scorer of ``version``, most recently used now; a new one is not loaded yet
        (``Scorer.refresh`` loads it, off the event loop) and counts once it is."""
        key = (version.name, version.version)
        with self._lock:
            scorer = self._scorers.get(key)
            if scorer is None:
                scorer = Scorer(
                    self._registry,
                    version.ref,
                    check_packages=check_packages,
                    endpoint=endpoint,
                )
                self._scorers[key] = scorer
                self._sizes[key] = max(int(version.size), 1)
            self._scorers.move_to_end(key)
            self._evict()
            return scorer

    def _evict(self) -> None:
        # Under self._lock: release the least recently used until within the budget,
        # keeping the most recent one whatever its size.
        while len(self._scorers) > 1 and self.loaded_bytes > self.budget_bytes:
            key, _ = self._scorers.popitem(last=False)
            self._sizes.pop(key, None)

    @property
    def loaded_bytes(self) -> int:
        """The estimated size of the versions kept."""
        return sum(self._sizes.values())

    def versions(self) -> list[tuple[str, int]]:
        """The (model, version) pairs kept, least recently used first."""
        with self._lock:
            return list(self._scorers)
