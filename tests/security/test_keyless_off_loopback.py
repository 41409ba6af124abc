"""Issue 13 item 1: an endpoint deployed without keys (``--no-auth``, ACI's default) answers
keyless only on connections that arrive on a loopback address. ``modelyard serve --host
0.0.0.0`` asks a key of a caller reaching it on another interface; the decision is taken
from each connection's local socket address, not from a setting."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.security.serving import immo_workspace, serving

SCRIPT = """
import json

def init():
    pass

def run(raw_data):
    return json.dumps({"rows": len(json.loads(raw_data)["data"])})
"""


def _outside_address() -> str | None:
    """A local address of this machine that is not loopback (the interface a route out
    uses), or None if it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("198.51.100.1", 9))  # no packet is sent: this only picks a route
        except OSError:
            return None
        address: str = sock.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_a_keyless_endpoint_asks_a_key_of_callers_off_loopback(tmp_path: Path) -> None:
    outside = _outside_address()
    if outside is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("no non-loopback interface to test from (CI=true)")
        pytest.skip("this machine has no non-loopback interface")
    ws, key = immo_workspace(tmp_path)
    (tmp_path / "open.py").write_text(SCRIPT)
    ws.endpoints.deploy_script(
        "open", entry_script=tmp_path / "open.py", models=["immo:1"], auth_enabled=False
    )
    with serving(tmp_path, key, host="0.0.0.0") as served:  # the point of it
        deadline = time.monotonic() + 90
        while ws.endpoints.get("open").state != "healthy":
            assert time.monotonic() < deadline, ws.endpoints.logs("open")
            time.sleep(0.2)
        port = served.base.rsplit(":", 1)[1]
        body = {"data": [[1], [2]]}
        inside = httpx.post(f"http://127.0.0.1:{port}/endpoints/open/score", json=body)
        assert inside.status_code == 200, inside.text
        assert json.loads(inside.json()) == {"rows": 2}
        far = f"http://{outside}:{port}/endpoints/open/score"
        refused = httpx.post(far, json=body)
        assert refused.status_code == 401, refused.text
        assert refused.json()["code"] == "unauthorized"
        keyed = httpx.post(far, json=body, headers={"Authorization": "Bearer wrong"})
        assert keyed.status_code == 401
        model = httpx.post(
            f"http://{outside}:{port}/endpoints/immo/score",
            json={"dataframe_records": [{"surface": 50.0}]},
        )
        assert model.status_code == 401
    ws.close()
