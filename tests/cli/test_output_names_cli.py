"""``modelyard endpoints create/update --output-names`` and ``output_names`` in the admin
API's POST and PATCH of an endpoint."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from modelyard import Workspace
from tests.cli.test_cli import cli
from tests.helpers.control import ADMIN, control_workspace, serving_control
from tests.helpers.models import register_constants
from tests.helpers.monitoring import ADMIN_KEY


@pytest.fixture
def root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert cli(capsys, "init", str(tmp_path))[0] == 0
    config = tmp_path / "modelyard.toml"
    text = config.read_text().replace("[security]\n", f'[security]\nadmin_key = "{ADMIN_KEY}"\n')
    config.write_text(text)
    with Workspace.from_config(tmp_path, env={}) as ws:
        register_constants(ws, "k", 1.0)
        ws.models.promote("k", 1)
    return tmp_path


def test_cli_names_and_renames_the_outputs(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = ("--workspace", str(root))
    code, _, err = cli(capsys, *ws, "endpoints", "create", "k", "--model", "k@champion",
                       "--output-names", "result")  # fmt: skip
    assert code == 0, err
    with Workspace.from_config(root, env={}) as workspace:
        assert workspace.endpoints.get("k").output_names == ("result",)
    code, out, err = cli(capsys, *ws, "endpoints", "update", "k", "--output-names", "price, low")
    assert code == 0 and "outputs: price, low" in out, err
    code, out, _ = cli(capsys, *ws, "endpoints", "update", "k", "--output-names", "off")
    assert code == 0 and "outputs: defaults" in out
    code, _, err = cli(capsys, *ws, "endpoints", "update", "k", "--output-names", "a,a")
    assert code == 1 and "error[bad_output_names]" in err


def test_the_admin_api_sets_output_names(tmp_path: Path) -> None:
    ws = control_workspace(tmp_path, f"sqlite:///{tmp_path / 'registry.db'}")
    register_constants(ws, "k", 1.0)
    ws.models.promote("k", 1)
    with serving_control(ws) as base:
        url = f"{base}/api/v1/endpoints"
        created = httpx.post(
            url, json={"name": "k2", "model": "k@champion", "output_names": ["result"]},
            headers=ADMIN,
        )  # fmt: skip
        assert created.status_code == 201 and created.json()["output_names"] == ["result"]
        patched = httpx.patch(f"{url}/k2", json={"output_names": ["y"]}, headers=ADMIN)
        assert patched.status_code == 200 and patched.json()["output_names"] == ["y"]
        cleared = httpx.patch(f"{url}/k2", json={"output_names": []}, headers=ADMIN)
        assert cleared.json()["output_names"] == []
    ws.close()
