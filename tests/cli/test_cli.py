"""The CLI: tables for lists, one red line and exit 1 for errors, tracebacks only with --debug."""

from __future__ import annotations

from pathlib import Path

import pytest
import skops.io as sio

from modelyard.cli.main import run
from tests.helpers.models import fitted_immo


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    try:
        run(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def ws_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    code, out, _ = cli(capsys, "init", str(tmp_path / "ws"))
    assert code == 0 and "Created workspace" in out
    return tmp_path / "ws"


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    est, _ = fitted_immo()
    path = tmp_path / "model.skops"
    sio.dump(est, path)
    return path


def test_init_writes_the_config_and_state_folder(ws_dir: Path) -> None:
    text = (ws_dir / "modelyard.toml").read_text()
    assert 'database_url = "sqlite:///.modelyard/registry.db"' in text
    assert (ws_dir / ".modelyard" / "registry.db").exists()


def test_register_promote_rollback_history_round_trip(
    capsys: pytest.CaptureFixture[str], ws_dir: Path, model_file: Path
) -> None:
    w = ("--workspace", str(ws_dir))
    code, out, _ = cli(
        capsys,
        *w,
        "models",
        "register",
        str(model_file),
        "--name",
        "immo",
        "--metric",
        "r2=0.91",
        "--tag",
        "team=data",
    )
    assert code == 0 and "Registered immo:1" in out
    assert cli(capsys, *w, "models", "register", str(model_file), "-n", "immo", "--promote")[0] == 0
    code, out, _ = cli(capsys, *w, "models", "promote", "immo:1", "--reason", "better")
    assert code == 0 and "champion of immo: version 2 -> version 1" in out
    code, out, _ = cli(capsys, *w, "models", "list")
    assert code == 0 and "immo" in out and "Models" in out
    code, out, _ = cli(capsys, *w, "models", "show", "immo")
    assert code == 0 and "r2=0.91" in out
    code, out, _ = cli(capsys, *w, "models", "show", "immo@champion")
    assert code == 0 and "immo:1" in out and "team" in out
    code, out, _ = cli(capsys, *w, "models", "rollback", "immo")
    assert code == 0 and "version 1 -> version 2 (rolled back)" in out
    code, out, _ = cli(capsys, *w, "models", "history", "immo")
    assert code == 0 and "rolled_back" in out and "better" in out
    code, out, _ = cli(capsys, *w, "models", "download", "immo:1", "--to", str(ws_dir / "dl"))
    assert code == 0 and (ws_dir / "dl" / "model.skops").read_bytes() == model_file.read_bytes()
    code, out, _ = cli(capsys, *w, "models", "archive", "immo:1")
    assert code == 0 and "archived immo:1" in out
    code, out, _ = cli(capsys, *w, "doctor")
    assert code == 0 and "ok: 2 versions" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("models", "show", "nope"), "error[model_not_found]: no model named 'nope'"),
        (("models", "promote", "immo"), "error[version_required]"),
        (("models", "promote", "bad name:1"), "error[invalid_reference]"),
        (("models", "rollback", "nope"), "error[model_not_found]"),
        (("models", "register", "/does/not/exist", "-n", "x"), "error[path_not_found]"),
        (("models", "register", ".", "-n", "x", "--metric", "r2=high"), "must be a number"),
    ],
)
def test_errors_are_one_red_line_with_exit_code_1(
    capsys: pytest.CaptureFixture[str], ws_dir: Path, args: tuple[str, ...], expected: str
) -> None:
    code, out, err = cli(capsys, "--workspace", str(ws_dir), *args)
    assert code == 1
    assert expected in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err + out


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str], ws_dir: Path) -> None:
    code, _, err = cli(capsys, "--debug", "--workspace", str(ws_dir), "models", "show", "nope")
    assert code == 1 and "Traceback" in err and "error[model_not_found]" in err


def test_outside_a_workspace_says_to_run_init(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MODELYARD_WORKSPACE", raising=False)
    code, _, err = cli(capsys, "models", "list")
    assert code == 1 and "error[workspace_not_found]" in err and "modelyard init" in err


def test_database_password_never_reaches_the_terminal(
    capsys: pytest.CaptureFixture[str], ws_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "MODELYARD_DATABASE_URL",
        "postgresql+psycopg://app:Hunter2Secret@127.0.0.1:1/x?connect_timeout=2",
    )
    code, out, err = cli(capsys, "--workspace", str(ws_dir), "models", "list")
    assert code == 1 and "error[storage_unavailable]" in err
    assert "Hunter2Secret" not in out + err and "app:***@127.0.0.1:1/x" in err
    code, out, err = cli(capsys, "--debug", "--workspace", str(ws_dir), "models", "list")
    assert "Hunter2Secret" not in out + err
