"""An endpoint's canary split and mirror, stored and checked, and the comparisons
mirrors record, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import pytest

from modelyard import Workspace
from modelyard.errors import InvalidInput, ModelyardError
from modelyard.storage.comparisons import CLASSES, NUMBERS, ComparisonStore, Tally
from modelyard.storage.rollout import parse_mirror, parse_traffic
from tests.helpers.models import register_constants


def _with_challenger(ws: Workspace) -> None:
    register_constants(ws, "k", 1.0, 2.0)
    ws.models.promote("k", 1)
    ws.models.promote("k", 2, alias="challenger")
    ws.endpoints.create("k", model="k@champion")


def test_traffic_and_mirror_are_stored_shown_and_turned_off(workspace: Workspace) -> None:
    _with_challenger(workspace)
    updated = workspace.endpoints.update(
        "k", traffic={"champion": 90, "challenger": 10}, mirror={"challenger": 20}
    )
    assert updated.traffic == {"champion": 90, "challenger": 10}
    assert updated.mirror == {"alias": "challenger", "percent": 20.0}
    again = workspace.endpoints.get("k")
    assert (again.traffic, again.mirror) == (updated.traffic, updated.mirror)
    only_mirror = workspace.endpoints.update("k", mirror={})
    assert only_mirror.mirror is None and only_mirror.traffic == updated.traffic
    off = workspace.endpoints.update("k", traffic={})
    assert off.traffic is None and off.mirror is None and off.target == "k@champion"


def test_weights_must_sum_to_100_and_aliases_must_exist(workspace: Workspace) -> None:
    _with_challenger(workspace)
    with pytest.raises(InvalidInput, match="sum to 100, not 95"):
        workspace.endpoints.update("k", traffic={"champion": 90, "challenger": 5})
    with pytest.raises(InvalidInput, match="whole percentage"):
        workspace.endpoints.update("k", traffic={"champion": 90.5, "challenger": 9.5})
    with pytest.raises(ModelyardError) as missing:
        workspace.endpoints.update("k", traffic={"champion": 50, "staging": 50})
    assert missing.value.code == "alias_not_found"
    with pytest.raises(InvalidInput, match="more than 0 and at most 100"):
        workspace.endpoints.update("k", mirror={"challenger": 120})
    with pytest.raises(InvalidInput, match="give model, traffic or mirror"):
        workspace.endpoints.update("k")
    assert workspace.endpoints.get("k").traffic is None


def test_the_command_line_forms_parse_or_say_what_to_write() -> None:
    assert parse_traffic("champion=90, challenger=10") == {"champion": 90, "challenger": 10}
    assert parse_traffic("off") == {}
    mirror = parse_mirror("challenger=20")
    assert mirror is not None and (mirror.alias, mirror.percent) == ("challenger", 20.0)
    assert parse_mirror("off") is None
    with pytest.raises(InvalidInput, match="alias=percentage"):
        parse_traffic("champion:90")
    with pytest.raises(InvalidInput, match="one alias"):
        parse_mirror("a=10,b=10")


def test_comparisons_are_summed_per_version_pair(workspace: Workspace) -> None:
    _with_challenger(workspace)
    store = ComparisonStore(workspace.db)

    def tally(**counts: float) -> Tally:
        return Tally("k", 1, "challenger", 2, NUMBERS, **counts)  # type: ignore[arg-type]

    store.add(
        [
            tally(
                requests=3,
                rows=4,
                abs_diff_sum=4.0,
                abs_diff_max=1.5,
                answered_ms_sum=3.0,
                answered_ms_max=2.0,
                mirrored_ms_sum=6.0,
                mirrored_ms_max=3.0,
            ),
            Tally("k", 1, "challenger", 2, CLASSES),  # no request: not written
        ]
    )
    store.add([tally(requests=1, failed=1, rows=0)])
    store.add([Tally("other", 1, "challenger", 2, CLASSES, requests=2, rows=2, agreed=1)])
    (found,) = workspace.endpoints.comparison("k")
    assert (found.answered_version, found.mirrored_alias, found.mirrored_version) == (
        1,
        "challenger",
        2,
    )
    assert (found.requests, found.failed, found.rows) == (4, 1, 4)
    assert found.mean_abs_diff == 1.0 and found.max_abs_diff == 1.5 and found.agreement is None
    assert found.answered_ms_mean == 1.0 and found.mirrored_ms_mean == 2.0
    assert found.mirrored_ms_max == 3.0 and found.first_at <= found.last_at
    (other,) = store.summary("other")
    assert other.agreement == 0.5 and other.mean_abs_diff is None
    workspace.endpoints.delete("k")
    assert store.summary("k") == []
