"""Webhooks to a real HTTP receiver, sent by the real leading scheduler: each event
arrives once with a valid signature, also when the receiver fails twice first."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard import Workspace
from modelyard.monitoring.webhooks import verify
from tests.conftest import make_settings
from tests.helpers.models import fitted_immo
from tests.helpers.monitoring import until
from tests.helpers.webhooks import leading_scheduler, receiving

ADMIN_KEY = "webhook-tests-admin-key"


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace(
        make_settings(tmp_path, f"sqlite:///{tmp_path / 'r.db'}", security={"admin_key": ADMIN_KEY})
    )
    yield workspace
    workspace.close()


def test_each_event_arrives_once_signed(ws: Workspace) -> None:
    with receiving() as receiver:
        hook, secret = ws.monitoring.webhooks.add(receiver.url)
        model, frame = fitted_immo()
        with leading_scheduler(ws):
            ws.models.register("immo", model, input_example=frame)
            ws.models.promote("immo", 1, reason="first")
            until(lambda: len(receiver.accepted) >= 2)
            time.sleep(1.5)  # a few more ticks: nothing is sent twice
    kinds = [r["json"]["event"]["kind"] for r in receiver.accepted]
    assert kinds == ["version_registered", "alias_moved"]
    for received in receiver.accepted:
        headers = received["headers"]
        assert verify(
            secret,
            headers["X-Modelyard-Timestamp"],
            received["body"],
            headers["X-Modelyard-Signature"],
        )
        assert headers["X-Modelyard-Event"] == received["json"]["event"]["kind"]
    moved = receiver.accepted[1]["json"]["event"]["data"]
    assert (moved["alias"], moved["to_version"], moved["reason"]) == ("champion", 1, "first")
    # a forged body does not verify
    first = receiver.accepted[0]
    forged = first["body"].replace(b"immo", b"evil")
    stamp, signature = (
        first["headers"]["X-Modelyard-Timestamp"],
        first["headers"]["X-Modelyard-Signature"],
    )
    assert not verify(secret, stamp, forged, signature)
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + first["body"], hashlib.sha256)
    assert signature == "sha256=" + expected.hexdigest()
    log = ws.monitoring.webhooks.deliveries(hook.id)
    assert [(d.state, d.attempts) for d in log] == [("delivered", 1)] * 2


def test_a_receiver_failing_twice_still_gets_the_event_once(ws: Workspace) -> None:
    with receiving(failures=2) as receiver:
        hook, _ = ws.monitoring.webhooks.add(receiver.url, ["version_registered"])
        model, frame = fitted_immo()
        with leading_scheduler(ws):
            ws.models.register("immo", model, input_example=frame)
            ws.models.promote("immo", 1)  # an alias move: not a kind this webhook wants
            until(lambda: len(receiver.accepted) >= 1)
            time.sleep(1.5)
    assert receiver.refused == 2
    assert [r["json"]["event"]["kind"] for r in receiver.accepted] == ["version_registered"]
    (delivery,) = ws.monitoring.webhooks.deliveries(hook.id)
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 3, 204)
    deliveries = {r["headers"]["X-Modelyard-Delivery"] for r in receiver.accepted}
    assert deliveries == {delivery.id}


def test_webhooks_need_the_admin_key_to_sign(tmp_path: Path) -> None:
    bare = Workspace(make_settings(tmp_path, f"sqlite:///{tmp_path / 'r.db'}"))
    try:
        with pytest.raises(Exception, match="derived from the admin key"):
            bare.monitoring.webhooks.add("http://127.0.0.1:9/hook")
        assert bare.monitoring.webhooks.list() == []
    finally:
        bare.close()
