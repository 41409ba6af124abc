"""``modelyard endpoints update --traffic/--mirror``, ``modelyard endpoints compare`` and
``PATCH /api/v1/endpoints/E`` with ``GET /api/v1/endpoints/E/comparison``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from modelyard import Workspace
from modelyard.storage.comparisons import NUMBERS, ComparisonStore, Tally
from tests.cli.test_cli import cli
from tests.helpers.control import ADMIN, control_workspace, serving_control
from tests.helpers.models import register_constants
from tests.helpers.monitoring import ADMIN_KEY

API = "/api/v1"


def _with_challenger(ws: Workspace) -> None:
    register_constants(ws, "k", 1.0, 2.0)
    ws.models.promote("k", 1)
    ws.models.promote("k", 2, alias="challenger")
    ws.endpoints.create("k", model="k@champion")


@pytest.fixture
def root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert cli(capsys, "init", str(tmp_path))[0] == 0
    config = tmp_path / "modelyard.toml"
    text = config.read_text().replace("[security]\n", f'[security]\nadmin_key = "{ADMIN_KEY}"\n')
    config.write_text(text)
    with Workspace.from_config(tmp_path, env={}) as ws:
        _with_challenger(ws)
    return tmp_path


def test_update_sets_traffic_and_mirror_and_compare_shows_the_findings(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = ("--workspace", str(root))
    code, out, err = cli(
        capsys, *ws, "endpoints", "update", "k", "--traffic", "champion=90,challenger=10"
    )
    assert code == 0, err
    assert "traffic: champion=90, challenger=10" in out and "mirror: off" in out
    code, out, _ = cli(capsys, *ws, "endpoints", "update", "k", "--mirror", "challenger=20")
    assert code == 0 and "mirror: challenger=20" in out and "champion=90" in out
    code, out, _ = cli(capsys, *ws, "endpoints", "show", "k")
    assert code == 0 and "traffic: champion=90, challenger=10" in out
    assert "mirror: challenger=20" in out
    code, _, err = cli(capsys, *ws, "endpoints", "update", "k", "--traffic", "champion=90")
    assert code == 1 and "error[bad_traffic]" in err and "sum to 100, not 90" in err
    code, _, err = cli(capsys, *ws, "endpoints", "update", "k", "--mirror", "nope=10")
    assert code == 1 and "error[alias_not_found]" in err
    code, out, _ = cli(capsys, *ws, "endpoints", "compare", "k")
    assert code == 0 and "No comparisons for k yet" in out
    with Workspace.from_config(root, env={}) as workspace:
        ComparisonStore(workspace.db).add(
            [
                Tally(
                    "k",
                    1,
                    "challenger",
                    2,
                    NUMBERS,
                    requests=2,
                    rows=2,
                    abs_diff_sum=2.0,
                    abs_diff_max=1.0,
                )
            ]
        )
    code, out, _ = cli(capsys, *ws, "endpoints", "compare", "k")
    assert code == 0 and "challenger (v2)" in out and "v1" in out
    code, out, _ = cli(capsys, *ws, "endpoints", "compare", "k", "--json")
    assert code == 0 and '"mean_abs_diff": 1.0' in out
    code, out, _ = cli(
        capsys, *ws, "endpoints", "update", "k", "--traffic", "off", "--mirror", "off"
    )
    assert code == 0 and "traffic: the target alone" in out and "mirror: off" in out


def test_patch_sets_the_split_and_the_comparison_is_served(tmp_path: Path) -> None:
    ws = control_workspace(tmp_path, f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        _with_challenger(ws)
        with serving_control(ws) as base:
            url = f"{base}{API}/endpoints/k"
            patched = httpx.patch(
                url,
                json={"traffic": {"champion": 90, "challenger": 10}, "mirror": {"challenger": 5}},
                headers=ADMIN,
            )
            assert patched.status_code == 200, patched.text
            body = patched.json()
            assert body["traffic"] == {"champion": 90, "challenger": 10}
            assert body["mirror"] == {"alias": "challenger", "percent": 5.0}
            bad = httpx.patch(url, json={"traffic": {"champion": 80}}, headers=ADMIN)
            assert bad.status_code == 400 and bad.json()["code"] == "bad_traffic"
            assert "sum to 100" in bad.json()["message"]
            ComparisonStore(ws.db).add(
                [
                    Tally(
                        "k",
                        1,
                        "challenger",
                        2,
                        NUMBERS,
                        requests=3,
                        rows=3,
                        abs_diff_sum=3.0,
                        abs_diff_max=1.0,
                        answered_ms_sum=3.0,
                        mirrored_ms_sum=6.0,
                    )
                ]
            )
            shown = httpx.get(body["comparison_url"], headers=ADMIN)
            assert shown.status_code == 200, shown.text
            (found,) = shown.json()["comparisons"]
            assert found["requests"] == 3 and found["mean_abs_diff"] == 1.0
            assert found["mirrored_ms_mean"] == 2.0 and shown.json()["mirror"]["percent"] == 5.0
            off = httpx.patch(url, json={"traffic": {}, "mirror": {}}, headers=ADMIN).json()
            assert off["traffic"] is None and off["mirror"] is None
            keyless = httpx.get(body["comparison_url"])
            assert keyless.status_code == 401
    finally:
        ws.close()
