"""The route step: the usual request (no canary split, nothing pinned by URL) is answered
by the endpoint's own scorer without building a routing request, but only while the route
is the default one; a route given or set later is always asked."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from modelyard.serving.dataplane import DataPlane, Exchange, Routing
from modelyard.serving.protocols.codec import Head


def _plane(**kwargs: Any) -> DataPlane:
    runtime = SimpleNamespace(router=SimpleNamespace(answering=_never))
    return DataPlane(runtime, keys=None, errors=None, timeout_s=1.0, **kwargs)  # type: ignore[arg-type]


def _never(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the router was asked for the usual request")


def _record(traffic: dict[str, float] | None = None) -> Any:
    return SimpleNamespace(name="immo", rollout=SimpleNamespace(traffic=traffic or {}))


def _chosen(plane: DataPlane, record: Any, head: Head, alias: str | None = None) -> Any:
    exchange = Exchange("immo", "azureml", "r", 0.0)
    exchange.alias = alias
    return plane._chosen(exchange, record, "own scorer", head), exchange  # type: ignore[arg-type]


def test_the_usual_request_is_answered_by_the_endpoint_s_scorer() -> None:
    chosen, exchange = _chosen(_plane(), _record(), Head({}))
    assert chosen == "own scorer" and not exchange.pinned


def test_a_split_a_version_or_an_alias_asks_the_router() -> None:
    asked: list[tuple[Any, ...]] = []

    def answering(record: Any, scorer: Any, *, version: Any, alias: Any) -> str:
        asked.append((version, alias))
        return "routed"

    plane = _plane()
    plane.runtime.router.answering = answering  # type: ignore[attr-defined]
    assert _chosen(plane, _record({"champion": 90, "challenger": 10}), Head({}))[0] == "routed"
    chosen, exchange = _chosen(plane, _record(), Head({}, params={"version": "3"}))
    assert chosen == "routed" and exchange.pinned
    chosen, exchange = _chosen(plane, _record(), Head({}), alias="challenger")
    assert chosen == "routed" and exchange.pinned
    assert asked == [(None, None), ("3", None), (None, "challenger")]


def test_a_route_given_or_set_later_is_always_asked() -> None:
    seen: list[Routing] = []

    def route(routing: Routing) -> Any:
        seen.append(routing)
        return "custom"

    assert _chosen(_plane(route=route), _record(), Head({}))[0] == "custom"
    later = _plane()
    later.route = route
    assert _chosen(later, _record(), Head({}))[0] == "custom"
    assert len(seen) == 2 and seen[0].record.name == "immo"
