"""Which scorer answers a request: the endpoint's target, an alias of a traffic split, or
a version or alias asked for in the URL; and which alias a sampled request is mirrored to.

Everything the request path decides on is in memory, kept current by the follow thread
(``sync``): the versions and aliases of each served model, and a scorer following each
alias named by an endpoint's split or mirror (loaded there, never on the request path).
A version asked by URL that no such scorer serves comes from the ``VersionCache``, loaded
on its first use off the event loop. An unknown version or alias is a 404 at once.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping

from modelyard.errors import AliasNotFound, ModelyardError, VersionNotFound
from modelyard.monitoring.prometheus import CANARY
from modelyard.registry.records import ModelVersion
from modelyard.registry.registry import Registry
from modelyard.serving.scorer import Scorer
from modelyard.serving.versions import VersionCache
from modelyard.storage.endpoints import EndpointRecord
from modelyard.types import ModelRef


def steered(record: EndpointRecord, version: str | None, alias: str | None) -> bool:
    """Whether a request to ``record`` is routed by more than the endpoint's target: a
    version or alias asked for in the URL, or a canary split to draw from."""
    return version is not None or alias is not None or bool(record.rollout.traffic)


class Router:
    """The route step of the data plane, and the aliases it follows for it."""

    def __init__(self, registry: Registry, *, budget_bytes: int, seed: int | None = None) -> None:
        self._registry = registry
        self.cache = VersionCache(registry, budget_bytes)
        self._versions: dict[str, dict[int, ModelVersion]] = {}  # model -> number -> version
        self._aliases: dict[str, dict[str, int]] = {}  # model -> alias -> number
        self._followers: dict[tuple[str, str], Scorer] = {}  # (endpoint, alias) -> its scorer
        self._random = random.Random(seed)  # noqa: S311  # traffic shares, not secrets

    def sync(self, records: Iterable[EndpointRecord]) -> None:
        """Follow thread: re-read the versions and aliases of every served model, and
        make, refresh (load) or drop the scorers of the aliases that splits and mirrors
        name. A registry that does not answer leaves everything as it was."""
        models = [r for r in records if r.kind == "model"]
        for model in {ModelRef.parse(r.target).name for r in models}:
            try:
                versions = self._registry.list_versions(model)
            except ModelyardError:
                continue
            self._versions[model] = {v.version: v for v in versions}
            self._aliases[model] = {a: v.version for v in versions for a in v.aliases}
        wanted: dict[tuple[str, str], tuple[str, EndpointRecord]] = {}
        for record in models:
            target = ModelRef.parse(record.target)
            rollout = record.rollout
            named = [*rollout.traffic, *([rollout.mirror.alias] if rollout.mirror else [])]
            for alias in named:
                if alias != target.alias:
                    wanted[(record.name, alias)] = (target.name, record)
        for key in [k for k in self._followers if k not in wanted]:
            del self._followers[key]
        for key, (model, record) in wanted.items():
            scorer = self._followers.get(key)
            if scorer is None:
                scorer = Scorer(
                    self._registry,
                    f"{model}@{key[1]}",
                    check_packages=bool(record.options.get("check_packages", True)),
                    endpoint=record.name,
                )
            scorer.refresh()
            self._followers[key] = scorer

    def answering(
        self,
        record: EndpointRecord,
        scorer: Scorer,
        *,
        version: str | None = None,
        alias: str | None = None,
    ) -> Scorer:
        """The scorer that answers a request to ``record`` (whose own scorer is
        ``scorer``): the version or alias asked for in the URL, else one alias of its
        traffic split drawn by weight, else ``scorer``. The scorer returned may not be
        loaded yet (a version's first use): load it with ``Scorer.refresh`` off the loop.
        Raises ``VersionNotFound`` or ``AliasNotFound`` for what the model does not have."""
        if not steered(record, version, alias):
            return scorer  # the usual request: nothing to parse or draw
        traffic = record.rollout.traffic
        target = ModelRef.parse(record.target)
        if version is not None:
            return self._version(record, scorer, target.name, version)
        if alias is not None:
            return self._alias(record, scorer, target, alias)
        draw = self._random.uniform(0, 100)
        chosen = next(iter(traffic))
        for name, weight in traffic.items():
            chosen = name
            if draw < weight:
                break
            draw -= weight
        follower = scorer if chosen == target.alias else self._followers.get((record.name, chosen))
        if follower is None or follower.current is None:  # not loaded yet: the target answers
            follower, chosen = scorer, target.alias or chosen
        CANARY.labels(record.name, chosen).inc()
        return follower

    def mirror(self, record: EndpointRecord, answered: Scorer) -> tuple[str, Scorer] | None:
        """The alias and scorer a request answered by ``answered`` is copied to, if the
        endpoint mirrors and this request is sampled; None otherwise (or if the mirrored
        alias is the one that answered, or is not loaded yet)."""
        mirror = record.rollout.mirror
        if mirror is None or self._random.uniform(0, 100) >= mirror.percent:
            return None
        follower = self._followers.get((record.name, mirror.alias))
        if follower is None or follower is answered or follower.current is None:
            return None
        return mirror.alias, follower

    def _version(self, record: EndpointRecord, scorer: Scorer, model: str, asked: str) -> Scorer:
        known = self._versions.get(model, {})
        found = known.get(int(asked)) if asked.isdigit() else None
        if found is None:
            numbers = ", ".join(str(n) for n in sorted(known)) or "none yet"
            raise VersionNotFound(
                f"model {model} has no version {asked!r} (versions: {numbers})",
                endpoint=record.name,
                version=asked,
            )
        for candidate in (scorer, *self._following(record.name)):
            current = candidate.current
            if current is not None and current.version.version == found.version:
                return candidate  # the champion or a followed alias: never loaded twice
        return self.cache.get(
            found,
            endpoint=record.name,
            check_packages=bool(record.options.get("check_packages", True)),
        )

    def _alias(
        self, record: EndpointRecord, scorer: Scorer, target: ModelRef, alias: str
    ) -> Scorer:
        if alias == target.alias:
            return scorer
        follower = self._followers.get((record.name, alias))
        if follower is not None and follower.current is not None:
            return follower
        number = self._aliases.get(target.name, {}).get(alias)
        if number is None:
            raise AliasNotFound(
                f"model {target.name} has no alias {alias!r}",
                endpoint=record.name,
                alias=alias,
            )
        return self._version(record, scorer, target.name, str(number))

    def _following(self, endpoint: str) -> list[Scorer]:
        return [s for (e, _), s in self._followers.items() if e == endpoint]

    def followers(self) -> Mapping[tuple[str, str], Scorer]:
        """The scorers following the aliases of splits and mirrors, by (endpoint, alias)."""
        return dict(self._followers)
