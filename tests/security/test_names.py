"""Issue 13 item 6: a name ending in a newline (or holding any control character) is refused
wherever a name enters, through the admin API of a real server and the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import skops.io as sio

from modelyard import Workspace
from modelyard.cli.main import run
from modelyard.errors import InvalidReference
from modelyard.types import ModelRef, check_name
from tests.helpers.control import ADMIN, control_workspace, serving_control
from tests.helpers.models import fitted_immo, register_constants

BAD = ("immo\n", "immo\r", "im\tmo", "immo\x00", "\nimmo")


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = control_workspace(tmp_path, f"sqlite:///{tmp_path / 'registry.db'}")
    yield workspace
    workspace.close()


def test_an_endpoint_named_with_a_newline_is_refused_by_the_admin_api(ws: Workspace) -> None:
    register_constants(ws, "immo", 1.0)
    ws.models.promote("immo", 1)
    with serving_control(ws) as base:
        for name in BAD:
            answer = httpx.post(
                f"{base}/api/v1/endpoints", headers=ADMIN, json={"name": name, "model": "immo"}
            )
            assert answer.status_code == 400, (name, answer.text)
            assert answer.json()["code"] == "invalid_reference"
        listed = httpx.get(f"{base}/api/v1/endpoints", headers=ADMIN).json()
        assert listed == []
        ok = httpx.post(
            f"{base}/api/v1/endpoints", headers=ADMIN, json={"name": "immo", "model": "immo"}
        )
        assert ok.status_code == 201 and ok.headers["location"].endswith("/endpoints/immo")


def test_a_model_named_with_a_newline_is_refused_by_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "ws"
    run(["init", str(root)])
    model_file = tmp_path / "model.skops"
    sio.dump(fitted_immo()[0], model_file)
    with pytest.raises(SystemExit) as exited:
        run(["--workspace", str(root), "models", "register", str(model_file), "-n", "nlmodel\n"])
    assert exited.value.code != 0
    assert "invalid model name" in capsys.readouterr().err


@pytest.mark.parametrize("name", BAD)
def test_names_and_references_match_in_full(name: str) -> None:
    with pytest.raises(InvalidReference):
        check_name(name)
    with pytest.raises(InvalidReference):
        ModelRef.parse(name)
    with pytest.raises(InvalidReference):
        ModelRef.parse(f"immo@{name}")
