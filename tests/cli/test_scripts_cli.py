"""``modelyard endpoints deploy | show | logs | redeploy`` for entry-script endpoints."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import httpx
import pytest

from modelyard import Workspace
from modelyard.web.app import create_app
from tests.cli.test_cli import cli
from tests.helpers.server import running

SCRIPT = "def init():\n    print('hello from init')\n\ndef run(raw):\n    return raw\n"


def _workspace_with_a_pickle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, list[str], list[str]]:
    """A new workspace and a pickled model file: the root, the ``--workspace`` option and
    the arguments that register the file as ``m`` (``--allow-pickle`` still to add)."""
    root = tmp_path / "ws"
    assert cli(capsys, "init", str(root))[0] == 0
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(1))
    workspace = ["--workspace", str(root)]
    return root, workspace, [*workspace, "models", "register", str(tmp_path / "m.pkl"), "-n", "m"]


def test_deploy_show_logs_and_redeploy_from_the_shell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, workspace, register = _workspace_with_a_pickle(tmp_path, capsys)
    (tmp_path / "score.py").write_text(SCRIPT)
    code, _, err = cli(capsys, *register)
    assert code == 1 and "allow-pickle" in err  # a pickle needs the admin's consent
    assert cli(capsys, *register, "--allow-pickle")[0] == 0
    ws = Workspace.from_config(root)
    with running(create_app(ws, follow_interval=0.2)):
        deploy = [*workspace, "endpoints", "deploy", "echo", "--entry-script"]
        code, out, err = cli(capsys, *deploy, str(tmp_path / "score.py"), "-m", "m:1")
        assert code == 0, err
        assert "primary key:" in out and "hello from init" in out and "echo is healthy" in out
        code, out, _ = cli(capsys, *workspace, "endpoints", "show", "echo")
        assert "entry script with models: m:1" in out and "(healthy)" in out
        code, out, _ = cli(capsys, *workspace, "endpoints", "logs", "echo")
        assert "hello from init" in out and "ready on 127.0.0.1" in out
        assert cli(capsys, *register, "--allow-pickle")[0] == 0
        code, out, err = cli(capsys, *workspace, "endpoints", "redeploy", "echo", "-m", "m:2")
        assert code == 0 and "echo is healthy" in out, err
        assert ws.endpoints.get("echo").models == ("m:2",)
        code, _, err = cli(capsys, *deploy, str(tmp_path / "missing.py"), "-m", "m:1")
        assert code == 1 and "does not exist" in err and "Traceback" not in err
    ws.close()


GREETER = "import os\n\ndef init():\n    pass\n\ndef run(raw):\n    return os.environ['GREETING']\n"


def test_env_sets_the_script_variables_on_deploy_and_redeploy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, workspace, register = _workspace_with_a_pickle(tmp_path, capsys)
    (tmp_path / "greet.py").write_text(GREETER)
    assert cli(capsys, *register, "--allow-pickle")[0] == 0
    ws = Workspace.from_config(root)
    with running(create_app(ws, follow_interval=0.2)) as base:
        deploy = [*workspace, "endpoints", "deploy", "greet", "--entry-script"]
        code, out, err = cli(
            capsys, *deploy, str(tmp_path / "greet.py"), "-m", "m:1", "--env", "GREETING=hi"
        )
        assert code == 0, err
        key = re.search(r"primary key:\s*(\S+)", out)
        assert key is not None, out
        auth = {"Authorization": f"Bearer {key[1]}"}

        def greeting() -> object:
            answer = httpx.post(f"{base}/endpoints/greet/score", json={}, headers=auth)
            assert answer.status_code == 200, answer.text
            return answer.json()

        assert greeting() == "hi"
        redeploy = [*workspace, "endpoints", "redeploy", "greet", "--env", "GREETING=bye"]
        code, out, err = cli(capsys, *redeploy)
        assert code == 0 and "greet is healthy" in out, err
        assert greeting() == "bye"
        code, _, err = cli(capsys, *workspace, "endpoints", "redeploy", "greet", "--env", "NOPE")
        assert code == 1 and "expected NAME=VALUE" in err and "Traceback" not in err
        assert greeting() == "bye"  # a bad option changed nothing
    ws.close()


BROKEN = "import not_a_module_xyz\n\ndef init():\n    pass\n\ndef run(raw):\n    return raw\n"
SLOW = "import time\n\ndef init():\n    time.sleep(4)\n\ndef run(raw):\n    return raw\n"


def test_a_script_that_loads_no_model_deploys_without_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "ws"
    assert cli(capsys, "init", str(root))[0] == 0
    (tmp_path / "score.py").write_text(SCRIPT)
    ws = Workspace.from_config(root)
    with running(create_app(ws, follow_interval=0.2)) as base:
        code, out, err = cli(
            capsys, "--workspace", str(root), "endpoints", "deploy", "echo", "--no-auth",
            "--entry-script", str(tmp_path / "score.py"),
        )  # fmt: skip
        assert code == 0 and "echo is healthy" in out, err
        answer = httpx.post(f"{base}/endpoints/echo/score", json={"data": [1]})
        assert answer.status_code == 200 and answer.json() == '{"data":[1]}', answer.text
        code, out, _ = cli(capsys, "--workspace", str(root), "endpoints", "show", "echo")
        assert "entry script with models: none" in out
    ws.close()


def test_an_import_failure_names_its_cause_and_a_redeploy_labels_the_old_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "ws"
    assert cli(capsys, "init", str(root))[0] == 0
    workspace = ["--workspace", str(root)]
    (tmp_path / "broken.py").write_text(BROKEN)
    (tmp_path / "slow.py").write_text(SLOW)
    cause = "ModuleNotFoundError: No module named 'not_a_module_xyz'"
    ws = Workspace.from_config(root)
    with running(create_app(ws, follow_interval=0.2)):
        deploy = [*workspace, "endpoints", "deploy", "app", "--no-auth", "--entry-script"]
        code, _, err = cli(capsys, *deploy, str(tmp_path / "broken.py"))
        summary = err.strip().splitlines()[-1]
        assert code == 1 and cause in summary, err
        code, out, _ = cli(capsys, *workspace, "endpoints", "show", "app")
        assert "(failed)" in out and cause in out
        assert cause in (ws.endpoints.get("app").state_reason or "")

        redeploy = [*workspace, "endpoints", "redeploy", "app", "--entry-script"]
        code, out, err = cli(capsys, *redeploy, str(tmp_path / "slow.py"))
        assert code == 0 and "app is healthy" in out, err
        lines = out.splitlines()
        old = [line for line in lines if line.startswith("[previous deployment] ")]
        assert any("not_a_module_xyz" in line for line in old), out  # it crashed meanwhile
        assert not [line for line in lines if "not_a_module_xyz" in line and line not in old]
    ws.close()
