"""``modelyard endpoints collect``, ``modelyard webhooks add|list|test|remove`` and
``modelyard monitor`` from the command line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from modelyard import Workspace
from tests.cli.test_cli import cli
from tests.helpers.models import fitted_immo
from tests.helpers.monitoring import ADMIN_KEY
from tests.helpers.webhooks import receiving


@pytest.fixture
def root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert cli(capsys, "init", str(tmp_path))[0] == 0
    config = tmp_path / "modelyard.toml"
    text = config.read_text().replace("[security]\n", f'[security]\nadmin_key = "{ADMIN_KEY}"\n')
    config.write_text(text + "\n[monitoring]\nflush_s = 0.05\n")
    with Workspace.from_config(tmp_path, env={}) as ws:
        model, frame = fitted_immo()
        ws.models.register("immo", model, input_example=frame)
        ws.models.promote("immo", 1)
        ws.endpoints.create("immo", model="immo@champion")
    return tmp_path


def test_collection_is_turned_on_with_a_sampling_rate_and_off(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = ("--workspace", str(root))
    code, out, _ = cli(capsys, *ws, "endpoints", "collect", "immo", "--sampling-rate", "0.25")
    assert code == 0 and "immo collects 25% of its requests" in out
    with Workspace.from_config(root, env={}) as workspace:
        endpoint = workspace.endpoints.get("immo")
        assert (endpoint.collect, endpoint.sampling_rate) == (True, 0.25)
    code, out, _ = cli(capsys, *ws, "endpoints", "collect", "immo", "--off")
    assert code == 0 and "immo collects nothing" in out
    code, _, err = cli(capsys, *ws, "endpoints", "collect", "immo", "--sampling-rate", "2")
    assert code == 1 and "error[bad_sampling_rate]" in err and "from 0 to 1" in err


def test_webhooks_add_list_test_and_remove(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = ("--workspace", str(root))
    with receiving(failures=1) as receiver:
        code, out, _ = cli(
            capsys, *ws, "webhooks", "add", receiver.url, "--event", "drift_detected"
        )
        assert code == 0, out
        hook = re.search(r"webhook (\w+) ->", out)
        secret = re.search(r"signing secret \(shown once\): (\S+)", out)
        assert hook is not None and secret is not None and secret.group(1).startswith("whsec_")
        code, out, _ = cli(capsys, *ws, "webhooks", "list")
        assert code == 0 and hook.group(1) in out and "drift_detected" in out
        assert secret.group(1) not in out  # shown once, never listed
        code, _, err = cli(capsys, *ws, "webhooks", "test", hook.group(1))
        assert code == 1 and "error[delivery_failed]" in err and "answered 500" in err
        code, out, _ = cli(capsys, *ws, "webhooks", "test", hook.group(1)[:6])
        assert code == 0 and "ping delivered: 204" in out
    assert receiver.accepted[0]["json"]["event"]["kind"] == "ping"
    code, out, _ = cli(capsys, *ws, "webhooks", "remove", hook.group(1))
    assert code == 0 and "No webhooks yet" in cli(capsys, *ws, "webhooks", "list")[1]
    code, _, err = cli(capsys, *ws, "webhooks", "add", "ftp://example.com/x")
    assert code == 1 and "must start with http:// or https://" in err


def test_monitor_says_what_is_missing_on_an_endpoint_without_rows(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "--workspace", str(root), "monitor", "immo", "--window", "2h")
    assert code == 0, out
    assert "immo: 0 rows, 0 requests" in out and "no labels yet" in out
    code, _, err = cli(capsys, "--workspace", str(root), "monitor", "immo", "--window", "soon")
    assert code == 1 and "write a positive duration such as 30s, 15m, 1h, 1d" in err
