"""The route step on a real registry: a split drawn by weight, versions and aliases by URL
from memory (unknown ones refused without a load), the memory budget of versions asked for
by URL (least recently used out, never the champion), and the mirror's tallies."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pytest

from modelyard import Workspace
from modelyard.errors import AliasNotFound, VersionNotFound
from modelyard.serving.comparing import compare
from modelyard.serving.mirror import Copy, Mirrors
from modelyard.serving.routing import Router
from modelyard.serving.scorer import Scored, Scorer
from modelyard.storage.comparisons import CLASSES, NUMBERS, ComparisonStore
from modelyard.storage.endpoints import EndpointStore
from tests.helpers.models import register_constants

X = {"x": np.array([0.0, 1.0])}


def _served(ws: Workspace) -> tuple[Router, Scorer]:
    register_constants(ws, "k", 1.0, 2.0, 3.0, 4.0)
    ws.models.promote("k", 1)
    ws.models.promote("k", 2, alias="challenger")
    ws.endpoints.create("k", model="k@champion")
    router = Router(ws.registry, budget_bytes=10**9, seed=7)
    champion = Scorer(ws.registry, "k@champion", endpoint="k")
    champion.refresh()
    return router, champion


def test_a_split_answers_by_weight_once_its_alias_is_loaded(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    router, champion = _served(ws)
    ws.endpoints.update("k", traffic={"champion": 70, "challenger": 30})
    record = EndpointStore(ws.db).get("k")
    assert router.answering(record, champion) is champion  # not followed yet: the target
    router.sync([record])  # the follow thread loads challenger
    answers = Counter(
        router.answering(record, champion).score(X).version.version for _ in range(4000)
    )
    assert set(answers) == {1, 2} and 0.27 < answers[2] / 4000 < 0.33


def test_versions_and_aliases_by_url_come_from_memory(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    router, champion = _served(ws)
    record = EndpointStore(ws.db).get("k")
    with pytest.raises(VersionNotFound, match="no version '3'"):
        router.answering(record, champion, version="3")  # not synced yet: unknown
    router.sync([record])
    assert router.answering(record, champion, version="1") is champion
    third = router.answering(record, champion, version="3")
    assert third.current is None  # loaded on first use, by the caller, off the loop
    third.refresh()
    assert float(third.score(X).predictions[0]) == 3.0
    assert router.answering(record, champion, version="3") is third
    by_alias = router.answering(record, champion, alias="challenger")
    by_alias.refresh()
    assert float(by_alias.score(X).predictions[0]) == 2.0
    assert router.answering(record, champion, alias="champion") is champion
    with pytest.raises(VersionNotFound, match=r"versions: 1, 2, 3, 4"):
        router.answering(record, champion, version="9")
    with pytest.raises(AliasNotFound):
        router.answering(record, champion, alias="staging")
    assert router.cache.versions() == [("k", 3), ("k", 2)]


def test_the_budget_unloads_the_least_recently_used_version(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    router, champion = _served(ws)
    record = EndpointStore(ws.db).get("k")
    router.sync([record])
    size = {n: ws.models.resolve(f"k:{n}").size for n in (2, 3, 4)}
    router.cache.budget_bytes = size[2] + size[4] + size[3] // 2  # room for two versions
    for asked in ("2", "3", "2", "4"):
        router.answering(record, champion, version=asked).refresh()
    assert router.cache.versions() == [("k", 2), ("k", 4)]  # 3 was least recently used
    assert router.answering(record, champion, version="1") is champion  # never cached


def test_comparisons_of_numbers_and_classes() -> None:
    def scored(predictions: object, classes: list[object] | None = None) -> Scored:
        return Scored(np.asarray(predictions), None, classes)  # type: ignore[arg-type]

    numbers = compare(scored([1.0, 2.0, 3.0]), scored([1.5, 2.0, 1.0]))
    assert (numbers.kind, numbers.rows, numbers.abs_diff_sum, numbers.abs_diff_max) == (
        NUMBERS,
        3,
        2.5,
        2.0,
    )
    probabilities = compare(
        scored([[0.9, 0.1], [0.4, 0.6]], ["no", "yes"]),
        scored([[0.8, 0.2], [0.7, 0.3]], ["no", "yes"]),
    )
    assert (probabilities.kind, probabilities.rows, probabilities.agreed) == (CLASSES, 2, 1)
    labels = compare(scored(["a", "b"]), scored(["a", "a"]))
    assert (labels.kind, labels.agreed) == (CLASSES, 1)


def test_mirrored_copies_are_scored_compared_and_written(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    router, champion = _served(ws)
    ws.endpoints.update("k", mirror={"challenger": 100})
    record = EndpointStore(ws.db).get("k")
    router.sync([record])
    mirrors = Mirrors(ComparisonStore(ws.db), flush_s=0.05)
    mirrors.start()
    for _ in range(25):
        answered = champion.score(X)
        target = router.mirror(record, champion)
        assert target is not None
        assert mirrors.offer(Copy("k", target[0], target[1], X, answered, 0.5))
    deadline = time.monotonic() + 30
    while sum(c.requests for c in ws.endpoints.comparison("k")) < 25:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    mirrors.stop()
    (found,) = ws.endpoints.comparison("k")
    assert (found.answered_version, found.mirrored_alias, found.mirrored_version) == (
        1,
        "challenger",
        2,
    )
    assert (found.requests, found.failed, found.rows) == (25, 0, 50)
    assert found.mean_abs_diff == 1.0 and found.max_abs_diff == 1.0
    assert found.answered_ms_mean == 0.5 and found.mirrored_ms_mean > 0
    full = Mirrors(ComparisonStore(ws.db), queue_size=1)  # not started: nothing drains it
    answered = champion.score(X)
    assert full.offer(Copy("k", "challenger", champion, X, answered, 0.5))
    assert not full.offer(Copy("k", "challenger", champion, X, answered, 0.5))
