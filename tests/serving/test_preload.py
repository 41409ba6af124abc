"""A scorer following ``name@alias`` preloads what the alias may move to next, so that a
noticed move is one assignment; what fails to preload is recorded and never swapped in."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pandas as pd
from sklearn.dummy import DummyRegressor

from modelyard import Workspace
from modelyard.registry.records import ModelVersion
from modelyard.registry.registry import Registry
from modelyard.serving.scorer import Scorer
from modelyard.storage.notifications import AliasMove
from modelyard.types import ModelRef

FRAME = pd.DataFrame({"x": [0.0, 1.0, 2.0]})


def _register(ws: Workspace, name: str, *constants: float) -> None:
    for k in constants:
        model = DummyRegressor(strategy="constant", constant=k).fit(FRAME, [0.0, 0.0, 0.0])
        ws.models.register(name, model, input_example=FRAME)


def _served(scorer: Scorer) -> int:
    assert scorer.current is not None
    return scorer.current.version.version


def test_a_noticed_move_to_a_preloaded_version_swaps_without_loading(
    sqlite_workspace: Workspace,
) -> None:
    ws = sqlite_workspace
    _register(ws, "m", 1.0, 2.0, 3.0)
    ws.models.promote("m", 1)
    scorer = Scorer(ws.registry, "m@champion")
    assert scorer.refresh() and _served(scorer) == 1
    assert scorer.preload() and scorer.preloaded == [2]  # the next one first
    assert scorer.preload() and scorer.preloaded == [2, 3]  # then the newest
    assert not scorer.preload()  # nothing more to load: the window is full

    ws.models.promote("m", 2)
    assert scorer.noticed(AliasMove("m", "champion", 2))
    assert _served(scorer) == 2 and scorer.swaps[-1].via == "notice"
    assert float(scorer.score(FRAME).predictions[0]) == 2.0
    assert scorer.preloaded == [3]
    assert not scorer.refresh()  # the poll agrees: nothing to do


def test_a_move_to_a_version_not_preloaded_is_left_to_the_poll(
    sqlite_workspace: Workspace,
) -> None:
    ws = sqlite_workspace
    _register(ws, "m", 1.0, 2.0, 3.0)
    ws.models.promote("m", 1)
    scorer = Scorer(ws.registry, "m@champion")
    scorer.refresh()
    ws.models.promote("m", 3)
    assert not scorer.noticed(AliasMove("m", "champion", 3))  # nothing loaded: no swap yet
    assert _served(scorer) == 1
    assert scorer.refresh() and _served(scorer) == 3 and scorer.swaps[-1].via == "poll"


def test_versions_left_behind_are_released(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    _register(ws, "m", 1.0, 2.0, 3.0, 4.0)
    ws.models.promote("m", 1)
    scorer = Scorer(ws.registry, "m@champion")
    scorer.refresh()
    while scorer.preload():
        pass
    assert scorer.preloaded == [2, 4]
    assert scorer.current is not None
    one = weakref.ref(scorer.current.model)
    two = weakref.ref(scorer._ready[2].model)  # what must be released after the moves
    ws.models.promote("m", 3)
    assert scorer.refresh() and _served(scorer) == 3
    assert not scorer.preload()
    assert scorer.preloaded == [4]  # version 2 was passed over, version 1 swapped out
    gc.collect()
    assert two() is None and one() is None


def test_a_version_that_fails_to_preload_is_recorded_and_never_swapped_in(
    sqlite_workspace: Workspace,
) -> None:
    ws = sqlite_workspace
    _register(ws, "m", 1.0, 2.0)
    ws.models.promote("m", 1)
    broken = Path(ws.store.blob_path(ws.registry.get_version("m", 2).sha256))
    broken.chmod(0o644)
    broken.write_bytes(b"corrupted")
    scorer = Scorer(ws.registry, "m@champion")
    scorer.refresh()
    assert not scorer.preload() and scorer.preloaded == []
    assert not scorer.preload()  # recorded once, not tried again
    failures = [e for e in ws.models.history("m") if e.kind.value == "load_failed"]
    assert len(failures) == 1 and failures[0].to_version == 2
    assert "HashMismatch" in failures[0].reason

    ws.models.promote("m", 2)
    assert not scorer.noticed(AliasMove("m", "champion", 2))
    assert not scorer.refresh()  # the poll tries the load itself, and it fails again
    assert _served(scorer) == 1 and "HashMismatch" in (scorer.last_error or "")


class _Overtaken(Registry):
    """A registry whose reads come back just after a newer move was noticed."""

    scorer: Scorer | None = None

    def resolve(self, ref: ModelRef | str) -> ModelVersion:
        found = super().resolve(ref)  # version 2: read before the move below
        if self.scorer is not None:
            scorer, self.scorer = self.scorer, None
            super().promote("m", 3)
            assert scorer.noticed(AliasMove("m", "champion", 3))
        return found


def test_a_poll_overtaken_by_a_notice_never_swaps_back(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    _register(ws, "m", 1.0, 2.0, 3.0)
    ws.models.promote("m", 1)
    r = ws.registry
    registry = _Overtaken(r.db, r.store, r.loader, ())
    scorer = Scorer(registry, "m@champion")
    scorer.refresh()
    while scorer.preload():
        pass
    ws.models.promote("m", 2)
    registry.scorer = scorer
    assert not scorer.refresh()  # it read version 2, but version 3 was noticed meanwhile
    assert _served(scorer) == 3
    assert [s.version for s in scorer.swaps] == [1, 3]
