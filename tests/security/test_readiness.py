"""Issue 13 items 10 and 8 through a real ``modelyard serve`` process: readiness is 503
until every endpoint has something loaded, saying which and why; a ``files``-flavour
version is refused for a model endpoint (at creation, on retargeting, and by the replica
when an alias moves to one), with a clear error instead of a 500 on every request."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from modelyard.errors import InvalidInput
from tests.helpers.control import ADMIN, control_workspace, serving_control
from tests.helpers.models import fitted_immo, register_constants
from tests.security.serving import immo_workspace, serving

ROWS = {"dataframe_records": [{"surface": 50.0}]}


def _files_version(ws_models: object, root: Path, name: str) -> int:
    folder = root / f"{name}-files"
    folder.mkdir()
    (folder / "weights.txt").write_text("1.5\n")
    version: int = ws_models.register(name, folder, flavour="files").version  # type: ignore[attr-defined]
    return version


def test_readiness_is_503_until_every_endpoint_is_loaded(tmp_path: Path) -> None:
    ws, key = immo_workspace(tmp_path)
    model, frame = fitted_immo()
    ws.models.register("later", model, input_example=frame.head(3))  # no champion yet
    ws.endpoints.create("later", model="later@champion")
    with serving(tmp_path, key, "--endpoint", "immo", "--endpoint", "later", ready=False) as s:
        time.sleep(2)
        answer = httpx.get(f"{s.base}/v2/health/ready")
        assert answer.status_code == 503, answer.text
        assert answer.json()["ready"] is False
        assert answer.json()["code"] == "not_ready" and "later" in answer.json()["message"]
        assert answer.headers["retry-after"] == "1"  # from the one error table
        assert "later" in answer.json()["unloaded"], answer.json()
        assert "immo" not in answer.json()["unloaded"]
        scored = httpx.post(f"{s.base}/endpoints/immo/score", json=ROWS, headers=s.auth)
        assert scored.status_code == 200  # what is loaded answers meanwhile
        ws.models.promote("later", 1)
        s.process.wait_ready(s.base, timeout=30)
    ws.close()


def test_a_files_version_is_refused_for_a_model_endpoint(tmp_path: Path) -> None:
    ws, key = immo_workspace(tmp_path)
    files = _files_version(ws.models, tmp_path, "bundle")
    with pytest.raises(InvalidInput) as refused:
        ws.endpoints.create("bundle", model=f"bundle:{files}")
    assert refused.value.code == "files_flavour" and "entry script" in refused.value.message
    on_immo = _files_version(ws.models, tmp_path, "immo")  # immo:2, a folder of files
    with pytest.raises(InvalidInput):
        ws.endpoints.update("immo", model=f"immo:{on_immo}")
    ws.models.promote("immo", on_immo)  # the alias the endpoint follows moves to it
    with serving(tmp_path, key, ready=False) as s:
        time.sleep(3)
        ready = httpx.get(f"{s.base}/v2/health/ready")
        assert ready.status_code == 503, ready.text
        assert "files-flavour" in ready.json()["unloaded"]["immo"]
        scored = httpx.post(f"{s.base}/endpoints/immo/score", json=ROWS, headers=s.auth)
        assert scored.status_code == 503, scored.text
        assert scored.json()["code"] == "model_unavailable"
    ws.close()


def test_the_admin_api_refuses_a_files_version_for_a_model_endpoint(tmp_path: Path) -> None:
    ws = control_workspace(tmp_path, f"sqlite:///{tmp_path / 'registry.db'}")
    register_constants(ws, "immo", 1.0)
    files = _files_version(ws.models, tmp_path, "bundle")
    with serving_control(ws) as base:
        answer = httpx.post(
            f"{base}/api/v1/endpoints",
            headers=ADMIN,
            json={"name": "bundle", "model": f"bundle:{files}"},
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["code"] == "files_flavour"
        assert "entry script" in answer.json()["message"]
    ws.close()
