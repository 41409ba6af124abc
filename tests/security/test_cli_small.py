"""Issue 13 item 11, the CLI's small ones: ``models download --to`` refuses to overwrite
without ``--force`` (and says so for a file), and the ``up`` banner shows
``[trainings.NAME]`` as written instead of losing it to Rich markup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelyard.cli.main import run
from tests.helpers.processes import started
from tests.helpers.server import free_port
from tests.security.serving import immo_workspace


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        run(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_download_refuses_an_existing_file_or_files_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "ws"
    immo_workspace(root)[0].close()
    w = ("--workspace", str(root))
    a_file = tmp_path / "taken.txt"
    a_file.write_text("mine")
    code, _, err = _cli(capsys, *w, "models", "download", "immo:1", "--to", str(a_file))
    assert code == 1 and "error[conflict]" in err and "is a file" in err, err
    assert a_file.read_text() == "mine"

    folder = tmp_path / "out"
    code, out, _ = _cli(capsys, *w, "models", "download", "immo:1", "--to", str(folder))
    assert code == 0, out
    written = sorted(p.name for p in folder.iterdir())
    (folder / written[0]).write_text("edited by hand")
    code, _, err = _cli(capsys, *w, "models", "download", "immo:1", "--to", str(folder))
    assert code == 1 and "--force" in err and written[0] in err, err
    assert (folder / written[0]).read_text() == "edited by hand"
    code, _, _ = _cli(capsys, *w, "models", "download", "immo:1", "--to", str(folder), "--force")
    assert code == 0 and (folder / written[0]).read_bytes() != b"edited by hand"


def test_the_up_banner_shows_toml_table_names_as_written(tmp_path: Path) -> None:
    immo_workspace(tmp_path)[0].close()
    port = free_port()
    env = {"MODELYARD_ADMIN_KEY": "an-admin-key-for-the-banner-test", **os.environ}
    with started(tmp_path, "up", "--port", str(port), env=env) as process:
        process.wait_for(lambda: "No schedules" in process.output(), 60, "the banner")
        assert "[trainings.NAME]" in process.output(), process.output()
